//! Resampling onto a new grid through a [`Transform`], ITK's convention: the transform maps
//! each **output** grid point (world, mm) to the **input** image's world frame, where the
//! input is interpolated (ITK `ResampleImageFilter`, SimpleITK `Resample`).
//!
//! When `transform.as_affine()` is `Some`, output index → world → transform → input index is
//! composed into one [`Affine3`] and stepped along each output row (one multiply-add per
//! coordinate per voxel); other transforms are evaluated voxel by voxel. Rows run in parallel.

use crate::interpolate::{
    inside, BSplineInterpolator, Interpolation, Interpolator, LinearInterpolator, NearestInterpolator,
};
use crate::ImgprocError;
use hounsfield_core::{checked_voxels, Affine3, Geometry, LabelVolume, Scalar, Transform, Volume};
use rayon::prelude::*;

/// Resamples `vol` onto the grid `dims` × `geometry`: the output voxel at world point `p`
/// takes the input's interpolated value at `transform.transform_point(p)`, or
/// `default_value` where that point is outside the input (beyond the half-voxel border, see
/// [`crate::interpolate`]).
///
/// The output has the input's voxel type: interpolated values are rounded to nearest and
/// saturated for integer types ([`Scalar::from_f64`]). For label maps use
/// [`resample_labels`], which only ever takes nearest-neighbour values.
pub fn resample<T: Scalar>(
    vol: &Volume<T>,
    dims: [usize; 3],
    geometry: &Geometry,
    transform: &dyn Transform,
    interpolation: Interpolation,
    default_value: T,
) -> Result<Volume<T>, ImgprocError> {
    let n = checked_voxels(dims, std::mem::size_of::<T>())?;
    let grid = Grid::new(vol.geometry(), dims, geometry, transform)?;
    let mut out = vec![default_value; n];
    match interpolation {
        Interpolation::Nearest => {
            let s = NearestInterpolator::new(vol);
            grid.fill(&mut out, default_value, |idx| s.voxel(idx));
        }
        Interpolation::Linear => {
            let s = LinearInterpolator::new(vol);
            let d = vol.dims();
            let sample = |idx| inside(d, idx).then(|| T::from_f64(s.value_unchecked_bounds(idx)));
            match grid.fast {
                // Affine: a dedicated row kernel without clamps in the interior.
                Some(m) => grid.fill_segments(&mut out, |j, k, i0, seg| {
                    linear_affine_segment(vol.data(), d, &m, [i0, j, k], seg, default_value, &sample)
                }),
                None => grid.fill(&mut out, default_value, sample),
            }
        }
        Interpolation::BSpline3 => {
            let s = BSplineInterpolator::new(vol)?;
            grid.fill(&mut out, default_value, |idx| s.value(idx).map(T::from_f64));
        }
    }
    Ok(Volume::from_vec(dims, *geometry, out)?)
}

/// Resamples through any [`Interpolator`] of an image on the grid `input` (f32 output): for
/// callers that sample one image many times, e.g. registration reusing one
/// [`BSplineInterpolator`] (whose prefilter is the costly part) for every transform it tries.
/// Same conventions as [`resample`]; points outside get `default_value`.
pub fn resample_with<I: Interpolator + ?Sized>(
    interpolator: &I,
    input: &Geometry,
    dims: [usize; 3],
    geometry: &Geometry,
    transform: &dyn Transform,
    default_value: f32,
) -> Result<Volume<f32>, ImgprocError> {
    let n = checked_voxels(dims, 4)?;
    let grid = Grid::new(input, dims, geometry, transform)?;
    let mut out = vec![default_value; n];
    grid.fill(&mut out, default_value, |idx| interpolator.value(idx).map(|v| v as f32));
    Ok(Volume::from_vec(dims, *geometry, out)?)
}

/// Resamples a label map (nearest neighbour only, so no label is ever invented); voxels that
/// fall outside the input get `default_label`.
pub fn resample_labels(
    labels: &LabelVolume,
    dims: [usize; 3],
    geometry: &Geometry,
    transform: &dyn Transform,
    default_label: u16,
) -> Result<LabelVolume, ImgprocError> {
    let v = resample(labels.as_volume(), dims, geometry, transform, Interpolation::Nearest, default_label)?;
    Ok(LabelVolume::new(v))
}

/// The grid with spacing `new_spacing` (mm) covering the same physical extent around the same
/// centre: `n' = round(n · s / s')` (at least 1) voxels per axis, same direction, and the
/// centre of the grid unchanged (the usual "resample to isotropic" step).
pub fn grid_for_spacing(
    dims: [usize; 3],
    geometry: &Geometry,
    new_spacing: [f64; 3],
) -> Result<([usize; 3], Geometry), ImgprocError> {
    if new_spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(ImgprocError::Resample {
            reason: format!("spacing must be positive and finite, got {new_spacing:?}"),
        });
    }
    let mut nd = [0usize; 3];
    for a in 0..3 {
        let n = (dims[a] as f64 * geometry.spacing[a] / new_spacing[a]).round().max(1.0);
        if n > (1u64 << 40) as f64 {
            return Err(ImgprocError::Resample {
                reason: format!("spacing {new_spacing:?} gives more than 2^40 voxels along axis {a}"),
            });
        }
        nd[a] = n as usize;
    }
    let centre = geometry.index_to_world([
        (dims[0] as f64 - 1.0) / 2.0,
        (dims[1] as f64 - 1.0) / 2.0,
        (dims[2] as f64 - 1.0) / 2.0,
    ]);
    let mut g = Geometry { spacing: new_spacing, ..*geometry };
    let half = g.index_to_world_affine().apply_vector([
        (nd[0] as f64 - 1.0) / 2.0,
        (nd[1] as f64 - 1.0) / 2.0,
        (nd[2] as f64 - 1.0) / 2.0,
    ]);
    g.origin = [centre[0] - half[0], centre[1] - half[1], centre[2] - half[2]];
    Ok((nd, g))
}

/// Resamples `vol` to `new_spacing` (mm) over the same physical extent and centre (see
/// [`grid_for_spacing`]); voxels outside the input (at most half a new voxel at the edges)
/// get `T::default()` (0).
pub fn resample_to_spacing<T: Scalar>(
    vol: &Volume<T>,
    new_spacing: [f64; 3],
    interpolation: Interpolation,
) -> Result<Volume<T>, ImgprocError> {
    let (dims, g) = grid_for_spacing(vol.dims(), vol.geometry(), new_spacing)?;
    resample(vol, dims, &g, &hounsfield_core::IdentityTransform, interpolation, T::default())
}

/// [`resample_to_spacing`] for label maps (nearest neighbour; background outside).
pub fn resample_labels_to_spacing(
    labels: &LabelVolume,
    new_spacing: [f64; 3],
) -> Result<LabelVolume, ImgprocError> {
    let (dims, g) = grid_for_spacing(labels.dims(), labels.geometry(), new_spacing)?;
    resample_labels(labels, dims, &g, &hounsfield_core::IdentityTransform, 0)
}

/// The output grid and the map from output index to input index.
struct Grid<'a> {
    dims: [usize; 3],
    out_i2w: Affine3,
    in_w2i: Affine3,
    transform: &'a dyn Transform,
    /// Output index → input index when the transform is affine.
    fast: Option<Affine3>,
}

impl<'a> Grid<'a> {
    fn new(
        input: &Geometry,
        dims: [usize; 3],
        geometry: &Geometry,
        transform: &'a dyn Transform,
    ) -> Result<Self, ImgprocError> {
        geometry
            .validate_with(false)
            .map_err(|e| ImgprocError::Resample { reason: format!("output grid: {e}") })?;
        let in_w2i = input
            .world_to_index_affine()
            .map_err(|e| ImgprocError::Resample { reason: format!("input grid: {e}") })?;
        let out_i2w = geometry.index_to_world_affine();
        let fast = transform.as_affine().map(|a| in_w2i.compose(&a.compose(&out_i2w)));
        Ok(Self { dims, out_i2w, in_w2i, transform, fast })
    }

    /// Calls `f(j, k, i0, segment)` for every output row segment (voxels `i0..i0 + len` of
    /// row `(j, k)`), in parallel. Segments are visited brick by brick (64 × 32 × 16 output
    /// voxels) so that the input region a brick reads (about 0.5 MB for a rotation) stays in
    /// the L2 cache while the brick is filled: stepping whole rows of a slab would sweep
    /// several MB of input between reuses.
    fn fill_segments<T: Scalar>(&self, out: &mut [T], f: impl Fn(usize, usize, usize, &mut [T]) + Sync) {
        const BX: usize = 64;
        const BY: usize = 32;
        let [nx, ny, nz] = self.dims;
        let bz = if nz >= 4 * rayon::current_num_threads() { 16.min(nz) } else { 1 };
        let by = if bz == 1 { 4 } else { BY };
        if bz > 1 {
            out.par_chunks_mut(nx * ny * bz).enumerate().for_each(|(s, slab)| {
                let slices = slab.len() / (nx * ny);
                for y0 in (0..ny).step_by(by) {
                    let y1 = (y0 + by).min(ny);
                    for x0 in (0..nx).step_by(BX) {
                        let x1 = (x0 + BX).min(nx);
                        for kz in 0..slices {
                            for j in y0..y1 {
                                let o = (kz * ny + j) * nx;
                                f(j, s * bz + kz, x0, &mut slab[o + x0..o + x1]);
                            }
                        }
                    }
                }
            });
        } else {
            // Few slices (a 2-D image): blocks of rows in parallel.
            out.par_chunks_mut(nx * by).enumerate().for_each(|(b, chunk)| {
                for x0 in (0..nx).step_by(BX) {
                    let x1 = (x0 + BX).min(nx);
                    for (r, row) in chunk.chunks_mut(nx).enumerate() {
                        let g = b * by + r; // global row index
                        f(g % ny, g / ny, x0, &mut row[x0..x1]);
                    }
                }
            });
        }
    }

    /// Fills `out` in parallel with `sample(input index)` or `default`.
    fn fill<T: Scalar>(&self, out: &mut [T], default: T, sample: impl Fn([f64; 3]) -> Option<T> + Sync) {
        self.fill_segments(out, |j, k, i0, seg| {
            let (jf, kf) = (j as f64, k as f64);
            match &self.fast {
                Some(m) => {
                    let base = m.apply([i0 as f64, jf, kf]);
                    let step = [m.m[0][0], m.m[1][0], m.m[2][0]];
                    for (i, o) in seg.iter_mut().enumerate() {
                        let fi = i as f64;
                        let idx = [base[0] + fi * step[0], base[1] + fi * step[1], base[2] + fi * step[2]];
                        *o = sample(idx).unwrap_or(default);
                    }
                }
                None => {
                    for (i, o) in seg.iter_mut().enumerate() {
                        let p = self.out_i2w.apply([(i0 + i) as f64, jf, kf]);
                        let idx = self.in_w2i.apply(self.transform.transform_point(p));
                        *o = sample(idx).unwrap_or(default);
                    }
                }
            }
        });
    }
}

/// The range of `i` in `0..n` (a convex set, since `idx` is affine in `i`) where `ok(i)`
/// holds, found from the approximate solution `[lo, hi)` of the linear inequalities and made
/// exact by testing its ends with `ok` itself, so the fast and slow paths agree voxel for voxel.
fn exact_range(n: usize, approx: (f64, f64), ok: impl Fn(usize) -> bool) -> (usize, usize) {
    let clampi = |v: f64| if v.is_nan() { 0 } else { v.clamp(0.0, n as f64) as usize };
    let (mut lo, mut hi) = (clampi(approx.0.ceil()), clampi(approx.1.ceil()));
    if lo >= hi {
        // Empty, or at most a voxel wide: look only around the approximate ends (the whole
        // row when they are not finite, e.g. a NaN transform).
        let (a, b) = (approx.0.min(approx.1), approx.0.max(approx.1));
        let (s0, s1) = if a.is_finite() && b.is_finite() {
            (clampi(a.floor() - 2.0), clampi(b.ceil() + 2.0))
        } else {
            (0, n)
        };
        return match (s0..s1).find(|&i| ok(i)) {
            None => (0, 0),
            Some(s) => (s, (s..n).find(|&i| !ok(i)).unwrap_or(n)),
        };
    }
    while lo > 0 && ok(lo - 1) {
        lo -= 1;
    }
    while lo < hi && !ok(lo) {
        lo += 1;
    }
    while hi < n && ok(hi) {
        hi += 1;
    }
    while hi > lo && !ok(hi - 1) {
        hi -= 1;
    }
    (lo, hi)
}

/// The float type trilinear blends are computed in.
trait Real:
    Copy + Default + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self>
{
    fn of(v: f64) -> Self;
    fn to(self) -> f64;
    /// `f / 2^32` for a 32-bit fixed-point fraction `f` (0 ≤ f < 2^32).
    fn frac32(f: i64) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn frac32(f: i64) -> Self {
        // 24 significant bits are all an f32 holds: i32 → f32 is one instruction.
        (f >> 8) as i32 as f32 * (1.0 / 16_777_216.0)
    }
    #[inline(always)]
    fn to(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn frac32(f: i64) -> Self {
        f as f64 * (1.0 / 4_294_967_296.0)
    }
    #[inline(always)]
    fn to(self) -> f64 {
        self
    }
}

/// Trilinear blend of voxels `first..first + out.len()` of a row whose input positions
/// `at(i)` all lie in the interior (see `linear_affine_segment`). Positions advance by `step`
/// in 32.32 fixed point, re-anchored from `at` every 64 voxels: the integer part is the
/// cell, the fraction the weight, with no float→int conversion per voxel (error < 1e-7 voxel).
fn blend_interior<T: Scalar, F: Real>(
    data: &[T],
    d: [usize; 3],
    at: &impl Fn(usize) -> [f64; 3],
    step: [f64; 3],
    out: &mut [T],
    first: usize,
) {
    const ONE: f64 = 4_294_967_296.0; // 2^32
    const LOW: i64 = 0xFFFF_FFFF;
    let (sx, sxy) = (d[0], d[0] * d[1]);
    let s = step.map(|v| (v * ONE).round() as i64);
    let lerp = |a: F, b: F, t: F| a + (b - a) * t;
    let v = |x: T| F::of(x.to_f64());
    // The 2×2 rows of one z plane: one range check, after which the four reads at 0, 1, sx,
    // sx + 1 are provably in bounds (the interior guarantees the range itself).
    let plane = |o: usize, tx: F, ty: F| match data.get(o..o + sx + 2) {
        Some(r) => lerp(lerp(v(r[0]), v(r[1]), tx), lerp(v(r[sx]), v(r[sx + 1]), tx), ty),
        None => F::default(),
    };
    for (batch, chunk) in out.chunks_mut(64).enumerate() {
        let mut p = at(first + batch * 64).map(|v| (v * ONE) as i64);
        for o in chunk.iter_mut() {
            let b = (p[0] >> 32) as usize + sx * (p[1] >> 32) as usize + sxy * (p[2] >> 32) as usize;
            let (tx, ty, tz) = (F::frac32(p[0] & LOW), F::frac32(p[1] & LOW), F::frac32(p[2] & LOW));
            *o = T::from_f64(lerp(plane(b, tx, ty), plane(b + sxy, tx, ty), tz).to());
            p = [p[0] + s[0], p[1] + s[1], p[2] + s[2]];
        }
    }
}

/// Approximate `[lo, hi)` of `i` with `a ≤ b + i·s < c` on every axis.
fn solve_range(base: [f64; 3], step: [f64; 3], lo: [f64; 3], hi: [f64; 3]) -> (f64, f64) {
    let (mut a, mut b) = (f64::NEG_INFINITY, f64::INFINITY);
    for ax in 0..3 {
        if step[ax] == 0.0 {
            if !(base[ax] >= lo[ax] && base[ax] < hi[ax]) {
                return (0.0, 0.0);
            }
        } else {
            let (t0, t1) = ((lo[ax] - base[ax]) / step[ax], (hi[ax] - base[ax]) / step[ax]);
            a = a.max(t0.min(t1));
            b = b.min(t0.max(t1));
        }
    }
    (a, b)
}

/// Voxels `start[0]..` of output row `(start[1], start[2])` (the segment `row`) by linear
/// resampling under an affine output-index → input-index map `m`.
/// Voxels whose 2×2×2 neighbourhood is inside the grid take a clamp-free trilinear blend;
/// the half-voxel border band goes through `sample` (which clamps), outside gets `default`.
#[allow(clippy::too_many_arguments)]
fn linear_affine_segment<T: Scalar>(
    data: &[T],
    d: [usize; 3],
    m: &Affine3,
    start: [usize; 3],
    row: &mut [T],
    default: T,
    sample: &(impl Fn([f64; 3]) -> Option<T> + Sync),
) {
    let n = row.len();
    let base = m.apply(start.map(|v| v as f64));
    let step = [m.m[0][0], m.m[1][0], m.m[2][0]];
    let at = |i: usize| {
        let fi = i as f64;
        [base[0] + fi * step[0], base[1] + fi * step[1], base[2] + fi * step[2]]
    };
    let dm = d.map(|v| v as f64);
    let (in_lo, in_hi) =
        exact_range(n, solve_range(base, step, [-0.5; 3], dm.map(|v| v - 0.5)), |i| inside(d, at(i)));
    // Interior: MARGIN ≤ idx < n − 1 − MARGIN on every axis, so ⌊idx⌋ + 1 is a valid index
    // even after the fixed-point stepping of `blend_interior` (error < 1e-7 voxel).
    const MARGIN: f64 = 1e-6;
    let interior = |i: usize| {
        let p = at(i);
        (0..3).all(|a| p[a] >= MARGIN && p[a] < dm[a] - 1.0 - MARGIN)
    };
    let (c_lo, c_hi) = {
        let (a, b) =
            exact_range(n, solve_range(base, step, [MARGIN; 3], dm.map(|v| v - 1.0 - MARGIN)), interior);
        // Fixed-point positions hold at most 2^31 voxels per axis.
        if a >= b || d.iter().any(|&v| v >= 1 << 30) {
            (in_lo, in_lo)
        } else {
            (a.max(in_lo), b.min(in_hi))
        }
    };
    row[..in_lo].fill(default);
    row[in_hi..].fill(default);
    for i in (in_lo..c_lo).chain(c_hi..in_hi) {
        row[i] = sample(at(i)).unwrap_or(default);
    }
    // Integer and f32 voxels blend exactly enough in f32 (SIMD lanes twice as wide); wider
    // types blend in f64.
    if std::mem::size_of::<T>() <= 2 || T::NAME == "float32" {
        blend_interior::<T, f32>(data, d, &at, step, &mut row[c_lo..c_hi], c_lo);
    } else {
        blend_interior::<T, f64>(data, d, &at, step, &mut row[c_lo..c_hi], c_lo);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::{AffineTransform, IdentityTransform};

    fn ramp(dims: [usize; 3], g: Geometry, a: [f64; 3], c: f64) -> Volume<f64> {
        let mut v = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    v.push(c + a[0] * p[0] + a[1] * p[1] + a[2] * p[2]);
                }
            }
        }
        Volume::from_vec(dims, g, v).unwrap()
    }

    /// A transform that is affine but does not say so: exercises the per-voxel path.
    #[derive(Debug)]
    struct Opaque(AffineTransform);
    impl Transform for Opaque {
        fn transform_point(&self, p: [f64; 3]) -> [f64; 3] {
            self.0.transform_point(p)
        }
    }

    #[test]
    fn shifted_linear_ramp_is_reproduced_exactly() {
        let (c, s) = (0.2f64.cos(), 0.2f64.sin());
        let g = Geometry {
            origin: [-10.0, 5.0, 2.0],
            spacing: [0.8, 1.1, 2.0],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        };
        let a = [0.5, -0.25, 1.5];
        let input = ramp([30, 28, 12], g, a, 7.0);
        let shift = [1.3, -0.7, 0.9];
        let t = AffineTransform::translation(shift);
        let out_g = Geometry { origin: [-8.0, 7.0, 4.0], spacing: [1.0, 1.0, 1.5], ..Geometry::default() };
        let dims = [12, 10, 8];
        for tr in [&t as &dyn Transform, &Opaque(t)] {
            for interp in [Interpolation::Linear, Interpolation::BSpline3] {
                let r = resample(&input, dims, &out_g, tr, interp, f64::NAN).unwrap();
                let w2i = g.world_to_index_affine().unwrap();
                let mut checked = 0;
                for k in 0..dims[2] {
                    for j in 0..dims[1] {
                        for i in 0..dims[0] {
                            let p = out_g.index_to_world([i as f64, j as f64, k as f64]);
                            let q = [p[0] + shift[0], p[1] + shift[1], p[2] + shift[2]];
                            let idx = w2i.apply(q);
                            let v = *r.get(i, j, k).unwrap();
                            // Inside the outermost voxel centres the trilinear interpolant of
                            // a linear ramp is the ramp itself.
                            let d = input.dims();
                            let deep = (0..3).all(|x| idx[x] >= 0.0 && idx[x] <= d[x] as f64 - 1.0);
                            if interp == Interpolation::Linear && deep {
                                let want = 7.0 + a[0] * q[0] + a[1] * q[1] + a[2] * q[2];
                                // 1e-9: a few f64 affine maps and one trilinear blend.
                                assert!((v - want).abs() < 1e-9, "{i} {j} {k}: {v} vs {want}");
                                checked += 1;
                            }
                            if !inside(d, idx) {
                                assert!(v.is_nan());
                            }
                        }
                    }
                }
                if interp == Interpolation::Linear {
                    assert!(checked > 300, "only {checked} voxels checked");
                }
            }
        }
    }

    #[test]
    fn affine_fast_path_equals_voxel_by_voxel_path() {
        // Pseudo-random voxels (an LCG), a rotation with shear: every output voxel of the
        // row kernel (interior, border band, outside) must match the generic per-voxel path.
        let dims = [23, 19, 11];
        let mut x = 12345u64;
        let data: Vec<f64> = (0..dims.iter().product::<usize>())
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0
            })
            .collect();
        let g = Geometry { origin: [1.0, -2.0, 3.0], spacing: [0.9, 1.1, 2.0], ..Geometry::default() };
        let v = Volume::from_vec(dims, g, data).unwrap();
        let mut t = AffineTransform::rigid_euler([0.2, -0.1, 0.4], [1.5, -0.5, 0.7], [10.0, 8.0, 12.0]);
        t.matrix[0][2] += 0.05;
        let og = Geometry { origin: [-3.0, -4.0, 0.0], spacing: [0.7, 0.8, 1.3], ..Geometry::default() };
        let od = [40, 37, 21];
        let fast = resample(&v, od, &og, &t, Interpolation::Linear, -999.0).unwrap();
        let slow = resample(&v, od, &og, &Opaque(t), Interpolation::Linear, -999.0).unwrap();
        let outside = fast.data().iter().filter(|&&x| x == -999.0).count();
        assert!(outside > 1000 && outside < fast.len() - 1000, "{outside} outside");
        for (a, b) in fast.data().iter().zip(slow.data()) {
            // 1e-5: the row kernel steps positions in 32.32 fixed point (error < 2e-8 voxel)
            // and neighbouring voxels differ by at most 200.
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // f32 voxels blend in f32: within f32 rounding of values up to 100.
        let v32 = v.cast::<f32>();
        let fast = resample(&v32, od, &og, &t, Interpolation::Linear, -999.0).unwrap();
        let slow = resample(&v32, od, &og, &Opaque(t), Interpolation::Linear, -999.0).unwrap();
        for (a, b) in fast.data().iter().zip(slow.data()) {
            // 1e-4: a few f32 roundings of values up to 100.
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // i16 voxels: identical after rounding except where the exact value is a half
        // integer (no such voxel in practice).
        let vi = v.cast::<i16>();
        let fast = resample(&vi, od, &og, &t, Interpolation::Linear, -999).unwrap();
        let slow = resample(&vi, od, &og, &Opaque(t), Interpolation::Linear, -999).unwrap();
        let differ = fast.data().iter().zip(slow.data()).filter(|(a, b)| a != b).count();
        assert!(differ <= 2, "{differ} i16 voxels differ");
    }

    #[test]
    fn identity_onto_own_grid_is_a_copy_for_every_interpolator() {
        let g = Geometry { origin: [1.0, 2.0, 3.0], spacing: [0.5, 0.7, 1.3], ..Geometry::default() };
        let data: Vec<i16> = (0..7 * 6 * 5).map(|i| ((i * 37) % 101) as i16 - 50).collect();
        let v = Volume::from_vec([7, 6, 5], g, data).unwrap();
        for interp in [Interpolation::Nearest, Interpolation::Linear, Interpolation::BSpline3] {
            let r = resample(&v, v.dims(), &g, &IdentityTransform, interp, 0).unwrap();
            assert_eq!(r, v, "{interp:?}");
        }
    }

    #[test]
    fn integer_outputs_round_and_saturate() {
        let v = Volume::from_vec([2, 1, 1], Geometry::default(), vec![0u8, 255]).unwrap();
        let g = Geometry { spacing: [0.25, 1.0, 1.0], ..Geometry::default() };
        let r = resample(&v, [5, 1, 1], &g, &IdentityTransform, Interpolation::Linear, 7).unwrap();
        // 0.25 · 255 = 63.75 → 64; 0.5 · 255 = 127.5 → 128 (round half away from zero).
        assert_eq!(r.data(), &[0, 64, 128, 191, 255]);
        let b = resample(&v, [5, 1, 1], &g, &IdentityTransform, Interpolation::BSpline3, 7).unwrap();
        // Interpolating spline: exact at the two samples.
        assert_eq!((b.data()[0], b.data()[4]), (0, 255));
    }

    #[test]
    fn resample_with_a_prebuilt_interpolator_equals_resample() {
        let g = Geometry { spacing: [0.8, 1.0, 1.2], ..Geometry::default() };
        let data: Vec<f32> = (0..9 * 8 * 7).map(|i| ((i * 31) % 17) as f32).collect();
        let v = Volume::from_vec([9, 8, 7], g, data).unwrap();
        let t = AffineTransform::rigid_euler([0.1, 0.0, -0.2], [0.3, 0.2, 0.0], [3.0, 3.0, 4.0]);
        let b = BSplineInterpolator::new(&v).unwrap();
        let r1 = resample_with(&b, v.geometry(), [9, 8, 7], &g, &t, -1.0).unwrap();
        let r2 = resample(&v, [9, 8, 7], &g, &t, Interpolation::BSpline3, -1.0).unwrap();
        assert_eq!(r1, r2);
    }

    #[test]
    fn labels_keep_their_values() {
        let g = Geometry::default();
        let l = LabelVolume::new(Volume::from_vec([4, 1, 1], g, vec![0u16, 3, 3, 9]).unwrap());
        let og = Geometry { origin: [-1.0, 0.0, 0.0], spacing: [0.5, 1.0, 1.0], ..g };
        let r = resample_labels(&l, [10, 1, 1], &og, &IdentityTransform, 65535).unwrap();
        assert_eq!(r.as_volume().data(), &[65535, 0, 0, 3, 3, 3, 3, 9, 9, 65535]);
    }

    #[test]
    fn resample_to_spacing_keeps_centre_and_extent() {
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let g = Geometry {
            origin: [5.0, -3.0, 10.0],
            spacing: [0.6, 0.6, 3.0],
            direction: [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        };
        let v = ramp([50, 40, 10], g, [0.1, 0.2, -0.3], 1.0).cast::<f32>();
        let r = resample_to_spacing(&v, [1.5, 1.5, 1.5], Interpolation::Linear).unwrap();
        assert_eq!(r.dims(), [20, 16, 20]);
        let c0 = v.index_to_world(24.5, 19.5, 4.5);
        let c1 = r.index_to_world(9.5, 7.5, 9.5);
        for a in 0..3 {
            // 1e-9 mm: affine maps in f64.
            assert!((c0[a] - c1[a]).abs() < 1e-9);
        }
        assert_eq!(r.geometry().direction, g.direction);
        assert!(resample_to_spacing(&v, [0.0, 1.0, 1.0], Interpolation::Linear).is_err());
        let l = LabelVolume::new(v.map(|&x| (x > 5.0) as u16));
        let rl = resample_labels_to_spacing(&l, [1.5, 1.5, 1.5]).unwrap();
        assert_eq!(rl.labels(), vec![1]);
    }

    #[test]
    fn oversized_output_is_refused() {
        let v = Volume::from_vec([1, 1, 1], Geometry::default(), vec![1.0f32]).unwrap();
        let r = resample(
            &v,
            [1 << 20, 1 << 20, 1 << 20],
            &Geometry::default(),
            &IdentityTransform,
            Interpolation::Linear,
            0.0,
        );
        assert!(matches!(r, Err(ImgprocError::Core(_))));
    }
}
