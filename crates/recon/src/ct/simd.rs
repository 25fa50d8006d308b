//! Run-time dispatched AVX2 + FMA kernels for the hot loops of 2-D parallel-beam FBP, with
//! the portable scalar code they replace next to them.
//!
//! The release build targets baseline x86-64 (SSE2), where the per-pixel lookup into a
//! filtered projection does not vectorise. On a CPU with AVX2 (checked once per call with
//! `is_x86_feature_detected!`, which caches its answer) the kernels here take eight pixels at
//! a time. This is the one module of the crate allowed `unsafe` (the workspace denies it):
//! `#[target_feature]` functions may only be called once the feature is known to be present,
//! and the intrinsics read through raw pointers. Every `unsafe` block states why it is sound;
//! the safe wrappers check every bound the kernels rely on before entering them, and any
//! input they cannot prove in bounds goes to the scalar code instead.
//!
//! **Why a permute, not a gather.** In a parallel-beam view the detector column is linear in
//! the pixel index with slope `|dc| ≤ 1` whenever the pixel is no larger than a detector
//! element (the default grid). Eight consecutive pixels then read at most eight consecutive
//! detector entries, so one unaligned 8-wide load and one in-register permute
//! (`vpermps`) fetch them all. On the Zen 4 machine of `docs/benchmarks.md` that is about six
//! times the throughput of `vgatherdps`.
#![allow(unsafe_code)]

/// One view's filtered projection seen from a run of pixels: the detector column of pixel
/// `i` of the run is `(c + i·dc) / 2¹⁶` (16.16 fixed point), and its value by linear
/// interpolation `vals[k] + (c_i mod 2¹⁶)·slopes[k]` with `k = c_i >> 16` and `slopes`
/// already divided by 2¹⁶ (so the fractional part needs no scaling).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    pub vals: &'a [f32],
    pub slopes: &'a [f32],
    pub c: i64,
    pub dc: i64,
}

/// True when the AVX2 + FMA kernels can run on this CPU.
#[inline]
pub(crate) fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Adds the interpolated values of four views to every pixel of `out`; every column the run
/// reaches must lie in `0..vals.len()` (the caller's per-view ranges guarantee it; reads
/// outside give 0, as off the detector). Uses AVX2 when `simd` and the run qualifies.
#[inline]
pub(crate) fn add_lines4(out: &mut [f32], lines: &[Line<'_>; 4], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd && out.len() >= 8 && lines.iter().all(|l| permute_ok(l, out.len())) {
        // SAFETY: `simd` is only true when `avx2_available()` said so (callers pass its
        // result), and `permute_ok` checked that every 8-wide load the kernel makes lies
        // inside its line's slices and every column fits an i32.
        unsafe { avx2::add_lines4(out, lines) };
        return;
    }
    let _ = simd;
    add_lines4_scalar(out, lines);
}

/// The portable version of [`add_lines4`] (also the reference in the tests).
pub(crate) fn add_lines4_scalar(out: &mut [f32], lines: &[Line<'_>; 4]) {
    let one = |l: &Line<'_>, c: i64| {
        let fr = (c & 0xFFFF) as f32;
        // No clamp: a column rounded just off the detector (or negative, which wraps to a
        // huge index) reads 0 through `get`.
        let k = (c >> 16) as usize;
        match (l.vals.get(k), l.slopes.get(k)) {
            (Some(&v), Some(&s)) => v + fr * s,
            _ => 0.0,
        }
    };
    let [l0, l1, l2, l3] = lines;
    // Running coordinates: one integer add per view and pixel.
    let (mut c0, mut c1, mut c2, mut c3) = (l0.c, l1.c, l2.c, l3.c);
    for o in out.iter_mut() {
        *o += (one(l0, c0) + one(l1, c1)) + (one(l2, c2) + one(l3, c3));
        c0 += l0.dc;
        c1 += l1.dc;
        c2 += l2.dc;
        c3 += l3.dc;
    }
}

/// Whether the AVX2 kernel may take `line` over a run of `n ≥ 8` pixels: the slope is at
/// most one column per pixel (eight pixels read at most eight consecutive entries), every
/// column lies in `0..len − 7` (each 8-wide load from the smallest column of a chunk stays
/// inside both slices), and every coordinate fits an i32.
fn permute_ok(l: &Line<'_>, n: usize) -> bool {
    let len = l.vals.len().min(l.slopes.len()) as i64;
    let last = l.c + (n as i64 - 1) * l.dc;
    let (lo, hi) = (l.c.min(last), l.c.max(last));
    l.dc.abs() <= 1 << 16 && lo >= 0 && (hi >> 16) + 8 <= len && hi < i32::MAX as i64 / 2
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::Line;

    /// AVX2 body of [`super::add_lines4`]: eight pixels per step, the four views' values
    /// fetched by one load and one permute each for values and slopes.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, `out.len() ≥ 8`, and [`super::permute_ok`] must
    /// hold for every line over `out.len()` pixels.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add_lines4(out: &mut [f32], lines: &[Line<'_>; 4]) {
        let n = out.len();
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let frac = _mm256_set1_epi32(0xFFFF);
        // Per view, relative to the chunk's smallest coordinate `cmin` (lane 0's for dc ≥ 0,
        // lane 7's otherwise): lane `l` sits at `cmin + off[l]` with `off = l·dc − min(0, 7·dc)`
        // in 0..8·2¹⁶, so its entry is `(cmin >> 16) + ((cmin & 0xFFFF) + off) >> 16` and its
        // fraction `((cmin & 0xFFFF) + off) & 0xFFFF`: one broadcast, no per-lane coordinate.
        let mut off = [_mm256_setzero_si256(); 4];
        let mut cmin = [0i32; 4];
        let mut dc8 = [0i32; 4];
        for v in 0..4 {
            // permute_ok: |c|, |dc| and every coordinate of the run fit an i32.
            let (c, dc) = (lines[v].c as i32, lines[v].dc as i32);
            let back = (7 * dc).min(0);
            off[v] =
                _mm256_sub_epi32(_mm256_mullo_epi32(lane, _mm256_set1_epi32(dc)), _mm256_set1_epi32(back));
            cmin[v] = c + back;
            dc8[v] = 8 * dc;
        }
        let ptr = lines.map(|l| (l.vals.as_ptr(), l.slopes.as_ptr()));
        let mut i = 0;
        while i + 8 <= n {
            let mut t = [_mm256_setzero_ps(); 4];
            for v in 0..4 {
                let base = (cmin[v] >> 16) as usize;
                let rel = _mm256_add_epi32(_mm256_set1_epi32(cmin[v] & 0xFFFF), off[v]);
                let idx = _mm256_srli_epi32::<16>(rel);
                let fr = _mm256_cvtepi32_ps(_mm256_and_si256(rel, frac));
                let (pv, ps) = ptr[v];
                // SAFETY: permute_ok guarantees every column of the run is ≥ 0 and that the
                // largest one plus 8 is at most the length of both slices; base is the
                // chunk's smallest column, so base..base + 8 is in bounds of vals and slopes.
                let (vals, slopes) =
                    unsafe { (_mm256_loadu_ps(pv.add(base)), _mm256_loadu_ps(ps.add(base))) };
                let val = _mm256_permutevar8x32_ps(vals, idx);
                let slope = _mm256_permutevar8x32_ps(slopes, idx);
                t[v] = _mm256_fmadd_ps(fr, slope, val);
                cmin[v] += dc8[v];
            }
            // SAFETY: i + 8 ≤ n = out.len(): eight floats inside `out`.
            let o = unsafe { out.as_mut_ptr().add(i) };
            // A tree, not a chain of four dependent adds.
            let sum = _mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3]));
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), sum)) };
            i += 8;
        }
        if i < n {
            // The last < 8 pixels: the scalar code from where the vectors stopped.
            let rest = lines.map(|l| Line { c: l.c + i as i64 * l.dc, ..l });
            super::add_lines4_scalar(&mut out[i..], &rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avx2_and_scalar_backprojection_agree() {
        if !avx2_available() {
            eprintln!("no AVX2 on this CPU: only the scalar path runs");
            return;
        }
        let nc = 97;
        let stride = nc + 8;
        let vals: Vec<f32> =
            (0..4 * stride).map(|i| if i % stride < nc { (i as f32 * 0.37).sin() } else { 0.0 }).collect();
        let slopes: Vec<f32> = vals.iter().map(|v| v * 0.3 / 65536.0).collect();
        // Slopes from −1 to +1 column per pixel, including the extremes and zero.
        for (t, dcs) in [[65536i64, -65536, 0, 12345], [-40000, 30000, 65535, -1], [1, -65535, 50000, -50000]]
            .iter()
            .enumerate()
        {
            for n in [8usize, 9, 31, 64] {
                let lines: [Line<'_>; 4] = std::array::from_fn(|v| {
                    let dc = dcs[v];
                    // Start so that the run stays inside 0..nc − 1.
                    let c = if dc >= 0 { 3 << 16 | 0x1234 } else { (3 << 16) - dc * (n as i64 - 1) + 0x777 };
                    Line {
                        vals: &vals[v * stride..][..stride],
                        slopes: &slopes[v * stride..][..stride],
                        c,
                        dc,
                    }
                });
                let init: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
                let mut a = init.clone();
                let mut b = init.clone();
                add_lines4(&mut a, &lines, true);
                add_lines4_scalar(&mut b, &lines);
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    // 1e-6: fused vs separate multiply-add and another summation order, on
                    // values of magnitude ≤ 4.
                    assert!((x - y).abs() < 1e-6, "case {t}, n {n}, pixel {i}: {x} vs {y}");
                }
            }
        }
    }
}
