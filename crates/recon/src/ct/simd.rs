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
//!
//! The same idea gives the adjoint of Joseph's projector for a 2-D parallel-beam view pixel
//! by pixel ([`joseph_adjoint_run`]): a pixel receives from the (at most two) rays within
//! one pixel of it, found in a table of the view's rays sorted by position, so the
//! back-projection reads instead of scattering.
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

/// One pixel in 16.16 fixed point.
const ONE: i64 = 1 << 16;

/// Table entries before the first ray and after the last one ([`RayTable`]).
pub(crate) const TABLE_PAD_BEFORE: usize = 8;
pub(crate) const TABLE_PAD_AFTER: usize = 24;
/// Position of the padding entries: far from every pixel, so their weight is 0.
pub(crate) const FAR: i32 = 1 << 30;

/// The rays of one parallel-beam view in a plane of voxel centres, sorted by position:
/// ray `m` crosses the pixel line of every slab `s` at `(pos[m] + s·g) / 2¹⁶` (16.16 fixed
/// point, in pixels along the line) and carries `val[m]`. `TABLE_PAD_BEFORE` and
/// `TABLE_PAD_AFTER` entries at `∓FAR` with value 0 pad both ends. The positions of real rays
/// are at least one pixel (2¹⁶) apart, so at most two rays lie within one pixel of any
/// point, and `|pos| < 2²⁹`.
pub(crate) struct RayTable<'a> {
    pub pos: &'a [i32],
    pub val: &'a [f32],
    /// Position of the first real ray (`pos[TABLE_PAD_BEFORE]`) and the inverse of the mean
    /// spacing, which place a pixel in the table to within a fraction of a ray.
    pub first: f64,
    pub inv_spacing: f64,
}

impl RayTable<'_> {
    /// The first of the four table entries that hold every ray within one pixel of `q`: the
    /// mean-spacing estimate lowered by a quarter ray (every real position is within a few
    /// 2⁻¹⁶ of it, and two rays span at most 2 + 2⁻¹⁴ rays' worth of that window), clamped
    /// to the table.
    #[inline(always)]
    fn start(&self, q: i64) -> f64 {
        ((q - ONE - 2) as f64 - self.first) * self.inv_spacing - 0.25 + TABLE_PAD_BEFORE as f64
    }
}

/// Joseph's adjoint for one view over a run of pixels: pixel `p` of the run sits at
/// `q0 + p·dq` on the view's ray axis (16.16 fixed point, `|dq| ≤ 2¹⁶`), and receives
/// `Σ_m tri(pos[m] − q)·val[m]` into `aty[p]` and, with `SUMS`, `step·Σ_m tri(pos[m] − q)`
/// into `at1[p]`, where `tri(d) = max(0, 1 − |d|/2¹⁶)` is exactly the interpolation weight
/// the forward projection gives that pixel for that ray. Uses AVX2 when `simd`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn joseph_adjoint_run<const SUMS: bool>(
    aty: &mut [f32],
    at1: &mut [f32],
    t: &RayTable<'_>,
    q0: i64,
    dq: i64,
    step: f32,
    simd: bool,
) {
    let n = aty.len();
    let q_end = q0 + (n as i64 - 1) * dq;
    #[cfg(target_arch = "x86_64")]
    if simd
        && n >= 8
        && (!SUMS || at1.len() >= n)
        && t.pos.len() == t.val.len()
        && t.pos.len() >= 16
        && dq.abs() <= ONE
        && q0.abs().max(q_end.abs()) < 1 << 29
    {
        // SAFETY: `simd` is only true when `avx2_available()` said so; the kernel's loads
        // are clamped to `pos.len() − 16..` (checked ≥ 16, equal lengths), its stores stay
        // in `aty[..n]` and `at1[..n]` (checked), and the coordinates fit an i32 (checked).
        unsafe { avx2::joseph_adjoint_run::<SUMS>(aty, at1, t, q0, dq, step) };
        return;
    }
    let _ = simd;
    joseph_adjoint_scalar::<SUMS>(aty, at1, t, q0, dq, step);
}

/// The portable version of [`joseph_adjoint_run`] (also the reference in the tests).
pub(crate) fn joseph_adjoint_scalar<const SUMS: bool>(
    aty: &mut [f32],
    at1: &mut [f32],
    t: &RayTable<'_>,
    q0: i64,
    dq: i64,
    step: f32,
) {
    let len = t.pos.len().min(t.val.len());
    for (p, a) in aty.iter_mut().enumerate() {
        let q = q0 + p as i64 * dq;
        let m0 = (t.start(q).floor().max(0.0) as usize).min(len.saturating_sub(4));
        let (mut acc, mut ws) = (0.0f32, 0.0f32);
        for m in m0..(m0 + 4).min(len) {
            let w = (ONE - (t.pos[m] as i64 - q).abs()).max(0) as f32;
            acc += w * t.val[m];
            ws += w;
        }
        *a += acc * (1.0 / 65536.0);
        if SUMS {
            if let Some(s) = at1.get_mut(p) {
                *s += ws * (step * (1.0 / 65536.0));
            }
        }
    }
}

/// Eight parallel rays in a plane of voxel centres for [`joseph_forward8`]: ray `r` crosses
/// slab `s` at `(c[r] + s·g) / 2¹⁶` (16.16 fixed point) along the interpolation axis and sums
/// only slabs `s0[r]..=s1[r]` (none when `s0[r] > s1[r]`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RayGroup {
    pub c: [i64; 8],
    pub g: i64,
    pub s0: [usize; 8],
    pub s1: [usize; 8],
}

/// The planar Joseph forward sums of eight parallel rays over `x`, whose sample at slab `s`
/// and index `i` along the interpolation axis is `x[s·sm + i·st]` (`0 ≤ i < span`, else 0):
/// per ray `Σ_s a + w·(b − a)` with `a`, `b` the samples at `i = (c + s·g) >> 16` and `i + 1`,
/// `w` the fraction, summed in the same order as the scalar `planar_sum` of the projector
/// (two partial sums, even and odd slabs from the ray's first), so the results are equal.
/// AVX2 gathers (one per sample of each pair) take the eight rays at once; `None` when
/// `simd` is false or the group does not qualify (the caller then runs the scalar code).
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn joseph_forward8(
    x: &[f32],
    grp: &RayGroup,
    sm: usize,
    st: usize,
    span: usize,
    slabs: usize,
    simd: bool,
) -> Option<[f32; 8]> {
    #[cfg(target_arch = "x86_64")]
    if simd {
        let live = || (0..8).filter(|&r| grp.s0[r] <= grp.s1[r]);
        let Some(s_lo) = live().map(|r| grp.s0[r]).min() else { return Some([0.0; 8]) };
        let s_hi = live().map(|r| grp.s1[r]).max().unwrap_or(0);
        // Every enabled lane's offset s·sm + i·st (s < slabs, i < span) is below x.len(),
        // which fits an i32, and so do the strides; every coordinate c + s·g fits an i32.
        let last =
            (slabs.checked_sub(1)?).checked_mul(sm)?.checked_add(span.checked_sub(1)?.checked_mul(st)?)?;
        let fits = last < x.len()
            && x.len() <= i32::MAX as usize
            && sm <= i32::MAX as usize
            && st <= i32::MAX as usize
            && span <= i32::MAX as usize
            && slabs <= 1 << 12
            && s_hi < slabs
            && grp.g.abs() <= 1 << 17
            && grp.c.iter().all(|c| c.abs() < 1 << 29);
        if !fits {
            return None;
        }
        // SAFETY: `simd` is only true when `avx2_available()` said so (callers pass its
        // result); `fits` checked the bounds and ranges listed in the kernel's contract.
        return Some(unsafe { avx2::joseph_forward8(x, grp, sm, st, span, s_lo, s_hi) });
    }
    let _ = (x, grp, sm, st, span, slabs, simd);
    None
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

    /// AVX2 body of [`super::joseph_forward8`] over slabs `s_lo..=s_hi`: per slab, the two
    /// samples of each ray by masked gathers (a lane outside its ray's slabs or off the grid
    /// loads nothing and reads 0), the lerp as separate subtract, multiply and add (as the
    /// scalar code rounds), alternately into two partial sums.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `s_hi < slabs` with `(slabs − 1)·sm + (span − 1)·st <
    /// x.len() ≤ i32::MAX`, `sm`, `st` and `span` at most `i32::MAX`, `slabs ≤ 2¹²`,
    /// `|g| ≤ 2¹⁷` and `|c[r]| < 2²⁹` (so every coordinate fits an i32), `s_lo ≤ s_hi`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn joseph_forward8(
        x: &[f32],
        grp: &super::RayGroup,
        sm: usize,
        st: usize,
        span: usize,
        s_lo: usize,
        s_hi: usize,
    ) -> [f32; 8] {
        if sm == 1 && st != 1 {
            // SAFETY: the caller's contract, with sm = 1.
            return std::array::from_fn(|r| unsafe {
                forward_tile(x, grp.c[r], grp.g, grp.s0[r], grp.s1[r], st, span)
            });
        }
        let c: [i32; 8] = grp.c.map(|c| (c + s_lo as i64 * grp.g) as i32);
        let empty = |r: usize| grp.s0[r] > grp.s1[r];
        // Slab bounds as i32 (s ≤ 2¹²); an empty ray gets an empty interval.
        let s0: [i32; 8] = std::array::from_fn(|r| if empty(r) { i32::MAX } else { grp.s0[r] as i32 });
        let s1: [i32; 8] = std::array::from_fn(|r| if empty(r) { -1 } else { grp.s1[r] as i32 });
        // SAFETY: unaligned loads of three local [i32; 8] arrays.
        let (mut cf, s0, s1) = unsafe {
            (
                _mm256_loadu_si256(c.as_ptr().cast()),
                _mm256_loadu_si256(s0.as_ptr().cast()),
                _mm256_loadu_si256(s1.as_ptr().cast()),
            )
        };
        let g = _mm256_set1_epi32(grp.g as i32);
        let spanv = _mm256_set1_epi32(span as i32);
        let stv = _mm256_set1_epi32(st as i32);
        let minus1 = _mm256_set1_epi32(-1);
        let frac = _mm256_set1_epi32(0xFFFF);
        let scale = _mm256_set1_ps(1.0 / 65536.0);
        let zero = _mm256_setzero_ps();
        let p = x.as_ptr();
        let mut acc = [zero; 2];
        // Contiguous samples (st = 1) with the rays in order: lanes 0 and 7 hold the smallest
        // and largest index, and where all eight rays are inside their slabs and the grid,
        // two 8-wide loads from the smallest index and permutes fetch every sample.
        let ordered =
            st == 1 && (grp.c.windows(2).all(|w| w[0] <= w[1]) || grp.c.windows(2).all(|w| w[0] >= w[1]));
        let all_in = (grp.s0.iter().max().copied().unwrap_or(0), grp.s1.iter().min().copied().unwrap_or(0));
        let (mut e0, mut e7) = (c[0] as i64, c[7] as i64);
        let one = _mm256_set1_epi32(1);
        for s in s_lo..=s_hi {
            let (i0, i7) = ((e0.min(e7) >> 16) as usize, (e0.max(e7) >> 16) as usize);
            let row = s * sm;
            if ordered
                && s >= all_in.0
                && s <= all_in.1
                && e0.min(e7) >= 0
                && i7 + 1 < span
                && i7 - i0 <= 14
                && row + i0 + 16 <= x.len()
            {
                // i0 ≥ 0, every lane's i and i + 1 lie in i0..i0 + 16.
                let id = _mm256_sub_epi32(_mm256_srai_epi32::<16>(cf), _mm256_set1_epi32(i0 as i32));
                // SAFETY: row + i0 + 16 ≤ x.len() (checked just above).
                let (lo, hi) =
                    unsafe { (_mm256_loadu_ps(p.add(row + i0)), _mm256_loadu_ps(p.add(row + i0 + 8))) };
                let a = pick(lo, hi, id);
                let b = pick(lo, hi, _mm256_add_epi32(id, one));
                let w = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(cf, frac)), scale);
                let v = _mm256_add_ps(a, _mm256_mul_ps(w, _mm256_sub_ps(b, a)));
                let k = (s - s_lo) & 1;
                acc[k] = _mm256_add_ps(acc[k], v);
                cf = _mm256_add_epi32(cf, g);
                e0 += grp.g;
                e7 += grp.g;
                continue;
            }
            e0 += grp.g;
            e7 += grp.g;
            let sv = _mm256_set1_epi32(s as i32);
            // In the ray's slabs: not s0 > s and not s > s1.
            let out = _mm256_or_si256(_mm256_cmpgt_epi32(s0, sv), _mm256_cmpgt_epi32(sv, s1));
            let i = _mm256_srai_epi32::<16>(cf);
            let j = _mm256_add_epi32(i, _mm256_set1_epi32(1));
            let ok_i = _mm256_and_si256(_mm256_cmpgt_epi32(i, minus1), _mm256_cmpgt_epi32(spanv, i));
            let ok_j = _mm256_and_si256(_mm256_cmpgt_epi32(j, minus1), _mm256_cmpgt_epi32(spanv, j));
            let ok_i = _mm256_andnot_si256(out, ok_i);
            let ok_j = _mm256_andnot_si256(out, ok_j);
            let off = _mm256_add_epi32(_mm256_set1_epi32((s * sm) as i32), _mm256_mullo_epi32(i, stv));
            let off_j = _mm256_add_epi32(off, stv);
            // SAFETY: only lanes with s ≤ s_hi < slabs and 0 ≤ i < span (resp. i + 1) are
            // enabled; their offsets s·sm + i·st ≤ (slabs − 1)·sm + (span − 1)·st < x.len()
            // fit an i32, so those lanes read inside `x`; disabled lanes read nothing.
            let (a, b) = unsafe {
                (
                    _mm256_mask_i32gather_ps::<4>(zero, p, off, _mm256_castsi256_ps(ok_i)),
                    _mm256_mask_i32gather_ps::<4>(zero, p, off_j, _mm256_castsi256_ps(ok_j)),
                )
            };
            let w = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(cf, frac)), scale);
            let v = _mm256_add_ps(a, _mm256_mul_ps(w, _mm256_sub_ps(b, a)));
            let k = (s - s_lo) & 1;
            acc[k] = _mm256_add_ps(acc[k], v);
            cf = _mm256_add_epi32(cf, g);
        }
        let mut a0 = [0.0f32; 8];
        let mut a1 = [0.0f32; 8];
        // SAFETY: unaligned stores into two local [f32; 8] arrays.
        unsafe {
            _mm256_storeu_ps(a0.as_mut_ptr(), acc[0]);
            _mm256_storeu_ps(a1.as_mut_ptr(), acc[1]);
        }
        // A ray whose first slab is odd relative to s_lo has its partial sums swapped; the
        // sum of two is the same either way.
        std::array::from_fn(|r| a0[r] + a1[r])
    }

    /// One ray of [`joseph_forward8`] when slabs are adjacent in memory (`sm = 1`) and the
    /// interpolation axis is strided (`st` apart): eight consecutive slabs at once, whose
    /// samples lie in the same eight columns of the few rows the ray crosses there, loaded
    /// row by row and picked by a compare and blend (no gathers); the last slabs of the ray
    /// one by one. Sums in another order than the scalar code.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `s1 < slabs` with `(slabs − 1) + (span − 1)·st <
    /// x.len() ≤ i32::MAX` and `|c|`, `|g|`, `slabs` as in [`joseph_forward8`].
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_tile(x: &[f32], c: i64, g: i64, s0: usize, s1: usize, st: usize, span: usize) -> f32 {
        if s0 > s1 {
            return 0.0;
        }
        let lane_g =
            _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(g as i32));
        let frac = _mm256_set1_epi32(0xFFFF);
        let scale = _mm256_set1_ps(1.0 / 65536.0);
        let one = _mm256_set1_epi32(1);
        let p = x.as_ptr();
        let mut acc = _mm256_setzero_ps();
        let mut sb = s0;
        while sb + 8 <= s1 + 1 {
            let (f0, f7) = (c + sb as i64 * g, c + (sb as i64 + 7) * g);
            let cf = _mm256_add_epi32(_mm256_set1_epi32(f0 as i32), lane_g);
            let i = _mm256_srai_epi32::<16>(cf);
            let j = _mm256_add_epi32(i, one);
            // Rows the eight samples and their neighbours reach, within the grid.
            let r0 = (f0.min(f7) >> 16).max(0);
            let r1 = ((f0.max(f7) >> 16) + 1).min(span as i64 - 1);
            let (mut a, mut b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut rr = r0;
            while rr <= r1 {
                // SAFETY: 0 ≤ rr < span and sb + 8 ≤ s1 + 1 ≤ slabs, so the eight floats
                // from rr·st + sb end at most at (span − 1)·st + slabs ≤ x.len().
                let v = unsafe { _mm256_loadu_ps(p.add(rr as usize * st + sb)) };
                let rv = _mm256_set1_epi32(rr as i32);
                a = _mm256_blendv_ps(a, v, _mm256_castsi256_ps(_mm256_cmpeq_epi32(i, rv)));
                b = _mm256_blendv_ps(b, v, _mm256_castsi256_ps(_mm256_cmpeq_epi32(j, rv)));
                rr += 1;
            }
            let w = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(cf, frac)), scale);
            acc = _mm256_add_ps(acc, _mm256_add_ps(a, _mm256_mul_ps(w, _mm256_sub_ps(b, a))));
            sb += 8;
        }
        let mut lanes = [0.0f32; 8];
        // SAFETY: an unaligned store into a local [f32; 8].
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut sum =
            ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        let sample = |i: i64, s: usize| -> f32 {
            if i >= 0 && i < span as i64 {
                x.get(i as usize * st + s).copied().unwrap_or(0.0)
            } else {
                0.0
            }
        };
        for s in sb..=s1 {
            let cf = c + s as i64 * g;
            let (i, w) = (cf >> 16, (cf & 0xFFFF) as f32 * (1.0 / 65536.0));
            let (a, b) = (sample(i, s), sample(i + 1, s));
            sum += a + w * (b - a);
        }
        sum
    }

    /// Entry `id` (0..16) of the 16 table entries held in `lo` and `hi`.
    #[inline(always)]
    unsafe fn pick(lo: __m256, hi: __m256, id: __m256i) -> __m256 {
        // blendv takes the sign bit: bit 3 of the index moved there selects `hi`.
        let sel = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(id));
        _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, id), _mm256_permutevar8x32_ps(hi, id), sel)
    }

    /// AVX2 body of [`super::joseph_adjoint_run`]: eight pixels per step, their candidate
    /// rays fetched from 16 consecutive table entries by permutes.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `aty.len() ≥ 8`, `at1.len() ≥ aty.len()` when
    /// `SUMS`; `t.pos` and `t.val` of equal length ≥ 16; `|dq| ≤ 2¹⁶` and every `q` of the
    /// run below 2²⁹ in magnitude.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn joseph_adjoint_run<const SUMS: bool>(
        aty: &mut [f32],
        at1: &mut [f32],
        t: &super::RayTable<'_>,
        q0: i64,
        dq: i64,
        step: f32,
    ) {
        let n = aty.len();
        let len = t.pos.len();
        let lanef = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
        let lanei = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let dy = dq as f64 * t.inv_spacing;
        let lane_dy = _mm256_mul_ps(lanef, _mm256_set1_ps(dy as f32));
        let lane_dq = _mm256_mullo_epi32(lanei, _mm256_set1_epi32(dq as i32));
        let one = _mm256_set1_epi32(super::ONE as i32);
        let zero = _mm256_setzero_si256();
        let twelve = _mm256_set1_epi32(12);
        let scale = _mm256_set1_ps(1.0 / 65536.0);
        let wscale = _mm256_set1_ps(step * (1.0 / 65536.0));
        let mut p = 0;
        while p + 8 <= n {
            let qc = q0 + p as i64 * dq;
            let y = t.start(qc);
            // The chunk's smallest start (the estimate is linear in the pixel), clamped so
            // that the 16 entries loaded lie in the table.
            let base = y.min(y + 7.0 * dy).floor().clamp(0.0, (len - 16) as f64) as usize;
            let yv = _mm256_add_ps(_mm256_set1_ps((y - base as f64) as f32), lane_dy);
            let m = _mm256_cvttps_epi32(_mm256_floor_ps(yv));
            // Lanes clamped here start outside the real rays, where every entry is padding.
            let idx = _mm256_min_epi32(_mm256_max_epi32(m, zero), twelve);
            let q = _mm256_add_epi32(_mm256_set1_epi32(qc as i32), lane_dq);
            // SAFETY: base ≤ len − 16, so entries base..base + 16 of both tables exist.
            let (plo, phi, vlo, vhi) = unsafe {
                let pp = t.pos.as_ptr().add(base) as *const __m256i;
                let vp = t.val.as_ptr().add(base);
                (
                    _mm256_castsi256_ps(_mm256_loadu_si256(pp)),
                    _mm256_castsi256_ps(_mm256_loadu_si256(pp.add(1))),
                    _mm256_loadu_ps(vp),
                    _mm256_loadu_ps(vp.add(8)),
                )
            };
            let mut acc = _mm256_setzero_ps();
            let mut ws = _mm256_setzero_ps();
            for c in 0..4 {
                let id = _mm256_add_epi32(idx, _mm256_set1_epi32(c));
                // SAFETY: register-only permutes and blends (AVX2 is enabled here).
                let (pos, val) = unsafe { (_mm256_castps_si256(pick(plo, phi, id)), pick(vlo, vhi, id)) };
                let d = _mm256_abs_epi32(_mm256_sub_epi32(pos, q));
                let w = _mm256_cvtepi32_ps(_mm256_max_epi32(_mm256_sub_epi32(one, d), zero));
                acc = _mm256_fmadd_ps(w, val, acc);
                if SUMS {
                    ws = _mm256_add_ps(ws, w);
                }
            }
            // SAFETY: p + 8 ≤ n ≤ aty.len() (and ≤ at1.len() with SUMS).
            unsafe {
                let a = aty.as_mut_ptr().add(p);
                _mm256_storeu_ps(a, _mm256_fmadd_ps(acc, scale, _mm256_loadu_ps(a)));
                if SUMS {
                    let s = at1.as_mut_ptr().add(p);
                    _mm256_storeu_ps(s, _mm256_fmadd_ps(ws, wscale, _mm256_loadu_ps(s)));
                }
            }
            p += 8;
        }
        if p < n {
            let at1 = if SUMS { &mut at1[p..] } else { at1 };
            super::joseph_adjoint_scalar::<SUMS>(&mut aty[p..], at1, t, q0 + p as i64 * dq, dq, step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avx2_and_scalar_joseph_adjoints_agree() {
        if !avx2_available() {
            eprintln!("no AVX2 on this CPU: only the scalar path runs");
            return;
        }
        // Rays 1.0 to 1.41 pixels apart (Joseph's main axis keeps the spacing there), both
        // orders, over runs that start before the first ray and end after the last.
        for (case, &(spacing, dq)) in
            [(1.0f64, 65536i64), (1.2, -30000), (1.41, 65536), (1.05, -65536), (1.3, 0)].iter().enumerate()
        {
            let n_rays = 40;
            let mut pos = vec![-FAR; TABLE_PAD_BEFORE];
            let mut val = vec![0.0f32; TABLE_PAD_BEFORE];
            for m in 0..n_rays {
                pos.push(((3.3 + m as f64 * spacing) * 65536.0).round() as i32);
                val.push(((m * 7 % 11) as f32 - 5.0) * 0.1);
            }
            pos.extend([FAR; TABLE_PAD_AFTER]);
            val.extend([0.0; TABLE_PAD_AFTER]);
            let first = pos[TABLE_PAD_BEFORE] as f64;
            let t = RayTable { pos: &pos, val: &val, first, inv_spacing: 1.0 / (spacing * 65536.0) };
            for (n, q0) in [(8usize, 0i64), (61, -5 * 65536 + 123), (64, 70 * 65536), (13, 20 * 65536 + 7)] {
                let mut a = vec![0.5f32; n];
                let mut b = a.clone();
                let (mut sa, mut sb) = (vec![0.0f32; n], vec![0.0f32; n]);
                joseph_adjoint_run::<true>(&mut a, &mut sa, &t, q0, dq, 1.3, true);
                joseph_adjoint_scalar::<true>(&mut b, &mut sb, &t, q0, dq, 1.3);
                for p in 0..n {
                    // The four candidates hold every ray within a pixel: against all rays.
                    let q = q0 + p as i64 * dq;
                    let w = |m: usize| (65536 - (pos[m] as i64 - q).abs()).max(0) as f32;
                    let brute: f32 = 0.5 + (0..pos.len()).map(|m| w(m) * val[m]).sum::<f32>() / 65536.0;
                    let brute_sum: f32 = 1.3 * (0..pos.len()).map(w).sum::<f32>() / 65536.0;
                    assert!(
                        (b[p] - brute).abs() < 1e-6,
                        "case {case} n {n} pixel {p}: {} vs all rays {brute}",
                        b[p]
                    );
                    assert!((sb[p] - brute_sum).abs() < 1e-6, "case {case} n {n} pixel {p} sums vs all rays");
                    // 1e-6: fused vs separate multiply-add on values of magnitude ≤ 2.
                    assert!((a[p] - b[p]).abs() < 1e-6, "case {case} n {n} pixel {p}: {} vs {}", a[p], b[p]);
                    assert!((sa[p] - sb[p]).abs() < 1e-6, "case {case} n {n} pixel {p} sums");
                }
            }
        }
    }

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
