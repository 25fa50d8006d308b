//! Sampling a volume between voxel centres: the [`Interpolator`] trait and its nearest,
//! linear and cubic B-spline implementations.
//!
//! Interpolators work in continuous **index** space (voxel `(i, j, k)` sits at `[i, j, k]`);
//! callers map world points to indices with the image's [`Geometry`]. A point is inside when
//! every coordinate lies in `[-0.5, n - 0.5)`, the half-voxel convention of ITK's
//! `ImageFunction::IsInsideBuffer`, so resampling an image onto its own grid keeps every
//! voxel, and the half voxel beyond the outermost centres takes the border value.

use crate::ImgprocError;
use hounsfield_core::{checked_voxels, linalg, Geometry, Scalar, Volume};

/// How to interpolate intensities between voxel centres.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interpolation {
    /// The value of the nearest voxel centre (ties round up, as ITK). Keeps the set of values.
    Nearest,
    /// Trilinear interpolation of the 8 surrounding voxels (the default: no overshoot, cheap).
    #[default]
    Linear,
    /// Cubic B-spline interpolation of prefiltered coefficients (Unser 1999), smooth (C²) and
    /// exact for cubic polynomials away from the border; can overshoot at edges.
    BSpline3,
}

/// A volume that can be sampled at any continuous index.
pub trait Interpolator: Send + Sync {
    /// Dimensions of the sampled grid.
    fn dims(&self) -> [usize; 3];

    /// The interpolated value at continuous index `idx`, or `None` outside the grid (see the
    /// module docs for the half-voxel border).
    fn value(&self, idx: [f64; 3]) -> Option<f64>;

    /// The value and its gradient with respect to the continuous index (`∂/∂i, ∂/∂j, ∂/∂k`,
    /// intensity per voxel), or `None` outside. Convert to a world gradient (per mm, LPS) with
    /// [`index_gradient_to_world`].
    fn value_and_gradient(&self, idx: [f64; 3]) -> Option<(f64, [f64; 3])>;
}

/// Converts a gradient with respect to the continuous index into the world gradient (per
/// mm, LPS): `∇_world = M⁻ᵀ · ∇_index` with `M = direction · diag(spacing)`.
pub fn index_gradient_to_world(geometry: &Geometry, g: [f64; 3]) -> Result<[f64; 3], ImgprocError> {
    let w2i = geometry.world_to_index_affine()?;
    Ok(linalg::mat_vec(&linalg::transpose(&w2i.m), g))
}

/// True when `idx` lies in `[-0.5, n - 0.5)` on every axis (NaN is outside).
#[inline(always)]
pub(crate) fn inside(dims: [usize; 3], idx: [f64; 3]) -> bool {
    (idx[0] >= -0.5 && idx[0] < dims[0] as f64 - 0.5)
        && (idx[1] >= -0.5 && idx[1] < dims[1] as f64 - 0.5)
        && (idx[2] >= -0.5 && idx[2] < dims[2] as f64 - 0.5)
}

/// `⌊x⌋` for `x ≥ −1` without a libm call (`floor` is not an instruction on baseline
/// x86-64): truncation of the positive `x + 1`.
#[inline(always)]
pub(crate) fn floor_from_minus_one(x: f64) -> isize {
    (x + 1.0) as isize - 1
}

/// Nearest-neighbour sampling of a borrowed volume.
#[derive(Clone, Copy, Debug)]
pub struct NearestInterpolator<'a, T> {
    data: &'a [T],
    dims: [usize; 3],
}

impl<'a, T: Scalar> NearestInterpolator<'a, T> {
    /// Samples `vol` (no copy).
    pub fn new(vol: &'a Volume<T>) -> Self {
        Self { data: vol.data(), dims: vol.dims() }
    }

    /// The nearest voxel's value itself (no conversion), or `None` outside.
    #[inline(always)]
    pub fn voxel(&self, idx: [f64; 3]) -> Option<T> {
        if !inside(self.dims, idx) {
            return None;
        }
        // ITK rounds half up (Math::RoundHalfIntegerUp); inside() keeps x + 0.5 ≥ 0.
        let i = ((idx[0] + 0.5) as usize).min(self.dims[0] - 1);
        let j = ((idx[1] + 0.5) as usize).min(self.dims[1] - 1);
        let k = ((idx[2] + 0.5) as usize).min(self.dims[2] - 1);
        Some(self.data[i + self.dims[0] * (j + self.dims[1] * k)])
    }
}

impl<T: Scalar> Interpolator for NearestInterpolator<'_, T> {
    fn dims(&self) -> [usize; 3] {
        self.dims
    }

    #[inline(always)]
    fn value(&self, idx: [f64; 3]) -> Option<f64> {
        self.voxel(idx).map(Scalar::to_f64)
    }

    /// The gradient of a piecewise-constant function is zero wherever it exists.
    fn value_and_gradient(&self, idx: [f64; 3]) -> Option<(f64, [f64; 3])> {
        self.value(idx).map(|v| (v, [0.0; 3]))
    }
}

/// Trilinear sampling of a borrowed volume. Within the half voxel beyond the outermost
/// centres the border value is repeated (ITK `LinearInterpolateImageFunction`).
#[derive(Clone, Copy, Debug)]
pub struct LinearInterpolator<'a, T> {
    data: &'a [T],
    dims: [usize; 3],
}

/// Corner offsets and fractional weights of one trilinear sample.
struct Cell {
    /// Offsets of the two x neighbours (already clamped).
    x: [usize; 2],
    /// Offsets (times the row stride) of the two y neighbours.
    y: [usize; 2],
    /// Offsets (times the slice stride) of the two z neighbours.
    z: [usize; 2],
    /// Fractional position in the cell.
    t: [f64; 3],
}

impl<'a, T: Scalar> LinearInterpolator<'a, T> {
    /// Samples `vol` (no copy).
    pub fn new(vol: &'a Volume<T>) -> Self {
        Self { data: vol.data(), dims: vol.dims() }
    }

    #[inline(always)]
    fn cell(&self, idx: [f64; 3]) -> Cell {
        let [nx, ny, nz] = self.dims;
        let axis = |x: f64, n: usize| {
            let f = floor_from_minus_one(x);
            let lo = f.max(0) as usize;
            let hi = ((f + 1) as usize).min(n - 1);
            ([lo, hi], x - f as f64)
        };
        let (x, tx) = axis(idx[0], nx);
        let (y, ty) = axis(idx[1], ny);
        let (z, tz) = axis(idx[2], nz);
        Cell { x, y: [y[0] * nx, y[1] * nx], z: [z[0] * nx * ny, z[1] * nx * ny], t: [tx, ty, tz] }
    }

    #[inline(always)]
    fn at(&self, o: usize) -> f64 {
        self.data[o].to_f64()
    }

    /// The trilinear value at `idx`, which must be inside (callers check with [`inside`]).
    #[inline(always)]
    pub(crate) fn value_unchecked_bounds(&self, idx: [f64; 3]) -> f64 {
        let c = self.cell(idx);
        let [tx, ty, tz] = c.t;
        let row = |yz: usize| {
            let a = self.at(c.x[0] + yz);
            a + (self.at(c.x[1] + yz) - a) * tx
        };
        let plane = |z: usize| {
            let a = row(c.y[0] + z);
            a + (row(c.y[1] + z) - a) * ty
        };
        let a = plane(c.z[0]);
        a + (plane(c.z[1]) - a) * tz
    }
}

impl<T: Scalar> Interpolator for LinearInterpolator<'_, T> {
    fn dims(&self) -> [usize; 3] {
        self.dims
    }

    #[inline(always)]
    fn value(&self, idx: [f64; 3]) -> Option<f64> {
        inside(self.dims, idx).then(|| self.value_unchecked_bounds(idx))
    }

    fn value_and_gradient(&self, idx: [f64; 3]) -> Option<(f64, [f64; 3])> {
        if !inside(self.dims, idx) {
            return None;
        }
        let c = self.cell(idx);
        let [tx, ty, tz] = c.t;
        let mut v = [[[0.0; 2]; 2]; 2];
        for (a, z) in c.z.iter().enumerate() {
            for (b, y) in c.y.iter().enumerate() {
                for (d, x) in c.x.iter().enumerate() {
                    v[a][b][d] = self.at(x + y + z);
                }
            }
        }
        let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
        // Edges along x, interpolated in y and z; and likewise for the other axes.
        let ex = |a: usize, b: usize| v[a][b][1] - v[a][b][0];
        let gx = lerp(lerp(ex(0, 0), ex(0, 1), ty), lerp(ex(1, 0), ex(1, 1), ty), tz);
        let fy = |a: usize| lerp(v[a][1][0], v[a][1][1], tx) - lerp(v[a][0][0], v[a][0][1], tx);
        let gy = lerp(fy(0), fy(1), tz);
        let fz = |b: usize| lerp(v[1][b][0], v[1][b][1], tx) - lerp(v[0][b][0], v[0][b][1], tx);
        let gz = lerp(fz(0), fz(1), ty);
        // A clamped axis (both neighbours the same voxel) has zero slope there automatically.
        let val = self.value_unchecked_bounds(idx);
        Some((val, [gx, gy, gz]))
    }
}

/// The pole of the cubic B-spline prefilter, `√3 − 2` (Unser 1999, Box 2).
const POLE: f64 = -0.267_949_192_431_122_7;

/// Turns samples into cubic B-spline coefficients in place, with mirror (whole-sample
/// symmetric) boundaries: one causal and one anti-causal first-order recursion (Unser 1999,
/// Box 2; the same initialisation and 1e-10 horizon as ITK `BSplineDecompositionImageFilter`).
pub fn bspline_prefilter_line(c: &mut [f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    c.iter_mut().for_each(|v| *v *= gain);
    // Initial causal coefficient for mirror boundaries.
    let horizon = ((1e-10f64).ln() / z.abs().ln()).ceil() as usize;
    c[0] = if horizon < n {
        let (mut sum, mut zn) = (c[0], z);
        for v in &c[1..horizon] {
            sum += zn * v;
            zn *= z;
        }
        sum
    } else {
        let iz = 1.0 / z;
        let mut zn = z;
        let mut z2n = z.powi(n as i32 - 1);
        let mut sum = c[0] + z2n * c[n - 1];
        z2n = z2n * z2n * iz;
        for v in &c[1..n - 1] {
            sum += (zn + z2n) * v;
            zn *= z;
            z2n *= iz;
        }
        sum / (1.0 - zn * zn)
    };
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    c[n - 1] = (z / (z * z - 1.0)) * (z * c[n - 2] + c[n - 1]);
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
}

/// Cubic B-spline weights of the 4 coefficients at `⌊x⌋ − 1 … ⌊x⌋ + 2` for fraction `t`.
#[inline(always)]
pub fn bspline_weights(t: f64) -> [f64; 4] {
    let s = 1.0 - t;
    let t2 = t * t;
    [
        s * s * s / 6.0,
        (3.0 * t2 * t - 6.0 * t2 + 4.0) / 6.0,
        (-3.0 * t2 * t + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
        t2 * t / 6.0,
    ]
}

/// Derivatives of [`bspline_weights`] with respect to `t`.
#[inline(always)]
pub fn bspline_dweights(t: f64) -> [f64; 4] {
    let s = 1.0 - t;
    [-0.5 * s * s, 1.5 * t * t - 2.0 * t, -1.5 * t * t + t + 0.5, 0.5 * t * t]
}

/// Mirror index (whole-sample symmetric, as ITK `ApplyMirrorBoundaryConditions`) of `i` in
/// `0..n`: `-1 → 1`, `n → n − 2`.
#[inline(always)]
pub fn mirror(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let last = n as isize - 1;
    let m = if i < 0 {
        -i
    } else if i > last {
        2 * last - i
    } else {
        i
    };
    m.clamp(0, last) as usize
}

/// Cubic B-spline sampling (Unser 1999; ITK `BSplineInterpolateImageFunction` of order 3):
/// owns the prefiltered coefficients (f32, computed in f64 line by line).
#[derive(Clone, Debug)]
pub struct BSplineInterpolator {
    coef: Vec<f32>,
    dims: [usize; 3],
}

impl BSplineInterpolator {
    /// Prefilters `vol` into B-spline coefficients (one f32 per voxel, checked against the
    /// memory cap).
    pub fn new<T: Scalar>(vol: &Volume<T>) -> Result<Self, ImgprocError> {
        let dims = vol.dims();
        checked_voxels(dims, 4)?;
        let mut coef: Vec<f32> = vol.data().iter().map(|v| v.to_f64() as f32).collect();
        for axis in 0..3 {
            if dims[axis] < 2 {
                continue;
            }
            crate::lines::for_each_line(
                &mut coef,
                dims,
                axis,
                || vec![0.0f64; dims[axis]],
                |buf, line| {
                    buf.iter_mut().zip(line.iter()).for_each(|(b, v)| *b = *v as f64);
                    bspline_prefilter_line(buf);
                    line.iter_mut().zip(buf.iter()).for_each(|(v, b)| *v = *b as f32);
                },
            );
        }
        Ok(Self { coef, dims })
    }

    /// The coefficients, x-fastest.
    pub fn coefficients(&self) -> &[f32] {
        &self.coef
    }

    /// Coefficient offsets and weights (and derivative weights) along one axis.
    #[inline(always)]
    fn axis(x: f64, n: usize, stride: usize) -> ([usize; 4], f64) {
        let f = floor_from_minus_one(x);
        let o = [
            mirror(f - 1, n) * stride,
            mirror(f, n) * stride,
            mirror(f + 1, n) * stride,
            mirror(f + 2, n) * stride,
        ];
        (o, x - f as f64)
    }

    #[inline(always)]
    fn eval(&self, idx: [f64; 3], d: [bool; 3]) -> f64 {
        let [nx, ny, nz] = self.dims;
        let (ox, tx) = Self::axis(idx[0], nx, 1);
        let (oy, ty) = Self::axis(idx[1], ny, nx);
        let (oz, tz) = Self::axis(idx[2], nz, nx * ny);
        let w = |t: f64, deriv: bool| if deriv { bspline_dweights(t) } else { bspline_weights(t) };
        let (wx, wy, wz) = (w(tx, d[0]), w(ty, d[1]), w(tz, d[2]));
        let mut sum = 0.0;
        for (c, &z) in oz.iter().enumerate() {
            let mut sy = 0.0;
            for (b, &y) in oy.iter().enumerate() {
                let base = z + y;
                let sx = (0..4).map(|a| wx[a] * self.coef[base + ox[a]] as f64).sum::<f64>();
                sy += wy[b] * sx;
            }
            sum += wz[c] * sy;
        }
        sum
    }
}

impl Interpolator for BSplineInterpolator {
    fn dims(&self) -> [usize; 3] {
        self.dims
    }

    #[inline(always)]
    fn value(&self, idx: [f64; 3]) -> Option<f64> {
        inside(self.dims, idx).then(|| self.eval(idx, [false; 3]))
    }

    fn value_and_gradient(&self, idx: [f64; 3]) -> Option<(f64, [f64; 3])> {
        if !inside(self.dims, idx) {
            return None;
        }
        let v = self.eval(idx, [false; 3]);
        // An axis of extent 1 is constant: its derivative is zero.
        let g = |a: usize| {
            if self.dims[a] < 2 {
                0.0
            } else {
                let mut d = [false; 3];
                d[a] = true;
                self.eval(idx, d)
            }
        };
        Some((v, [g(0), g(1), g(2)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol_from(dims: [usize; 3], f: impl Fn(f64, f64, f64) -> f64) -> Volume<f64> {
        let mut v = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    v.push(f(i as f64, j as f64, k as f64));
                }
            }
        }
        Volume::from_vec(dims, Geometry::default(), v).unwrap()
    }

    #[test]
    fn nearest_rounds_half_up_and_respects_half_voxel_border() {
        let v = vol_from([3, 2, 1], |i, j, _| i + 10.0 * j);
        let n = NearestInterpolator::new(&v);
        assert_eq!(n.value([0.5, 0.0, 0.0]), Some(1.0));
        assert_eq!(n.value([1.49, 0.51, 0.0]), Some(11.0));
        assert_eq!(n.value([-0.5, 0.0, 0.0]), Some(0.0));
        assert_eq!(n.value([-0.51, 0.0, 0.0]), None);
        assert_eq!(n.value([2.49, 0.0, 0.2]), Some(2.0));
        assert_eq!(n.value([2.5, 0.0, 0.0]), None);
        assert_eq!(n.value([f64::NAN, 0.0, 0.0]), None);
    }

    #[test]
    fn linear_reproduces_trilinear_functions_and_their_gradient() {
        let f = |x: f64, y: f64, z: f64| 1.0 + 2.0 * x - 3.0 * y + 0.5 * z + 0.25 * x * y * z;
        let v = vol_from([5, 4, 3], f);
        let li = LinearInterpolator::new(&v);
        for p in [[0.3, 0.7, 1.2], [3.9, 2.5, 1.99], [1.0, 1.0, 1.0]] {
            let (val, g) = li.value_and_gradient(p).unwrap();
            // 1e-12: a handful of f64 operations on values of order 10.
            assert!((val - f(p[0], p[1], p[2])).abs() < 1e-12);
            let want = [2.0 + 0.25 * p[1] * p[2], -3.0 + 0.25 * p[0] * p[2], 0.5 + 0.25 * p[0] * p[1]];
            for a in 0..3 {
                assert!((g[a] - want[a]).abs() < 1e-12, "{p:?} axis {a}: {g:?} vs {want:?}");
            }
        }
        // Half a voxel beyond the last centre: border value, zero slope across.
        let (val, g) = li.value_and_gradient([4.3, 0.0, 0.0]).unwrap();
        assert!((val - f(4.0, 0.0, 0.0)).abs() < 1e-12);
        assert_eq!(g[0], 0.0);
        assert!(li.value([4.5, 0.0, 0.0]).is_none());
    }

    #[test]
    fn bspline_interpolates_samples_and_reproduces_cubics_inside() {
        // Interpolating: at voxel centres the spline equals the samples everywhere.
        let f = |x: f64, y: f64, z: f64| {
            0.01 * x * x * x - 0.2 * x * y + 0.003 * y * y * z + 0.5 * z - 0.02 * z * z * z + 1.0
        };
        let dims = [44, 40, 38];
        let v = vol_from(dims, f);
        let b = BSplineInterpolator::new(&v).unwrap();
        for p in [[0.0, 0.0, 0.0], [43.0, 39.0, 37.0], [5.0, 17.0, 30.0]] {
            let want = f(p[0], p[1], p[2]);
            // 1e-5 relative: the coefficients are stored in f32 (7 significant digits).
            assert!((b.value(p).unwrap() - want).abs() < 1e-5 * want.abs().max(1.0));
        }
        // Exact for cubics (and their gradients) far from the border: the mirror boundary's
        // error decays as |z|^d = 0.268^d with the distance d in voxels, < 1e-13 at d ≥ 18.
        for p in [[20.3, 19.71, 18.5], [22.0, 20.5, 19.25], [21.9, 18.1, 19.9]] {
            let (val, g) = b.value_and_gradient(p).unwrap();
            let want = f(p[0], p[1], p[2]);
            let (x, y, z) = (p[0], p[1], p[2]);
            let gw = [0.03 * x * x - 0.2 * y, -0.2 * x + 0.006 * y * z, 0.003 * y * y + 0.5 - 0.06 * z * z];
            // 1e-5 relative: the coefficients are stored in f32 (7 significant digits).
            assert!((val - want).abs() < 1e-5 * want.abs().max(1.0), "{p:?}: {val} vs {want}");
            for a in 0..3 {
                assert!((g[a] - gw[a]).abs() < 1e-4, "{p:?} axis {a}: {g:?} vs {gw:?}");
            }
        }
    }

    #[test]
    fn prefilter_of_constant_is_constant_and_mirror_indices() {
        let mut c = vec![3.0; 7];
        bspline_prefilter_line(&mut c);
        // The B-spline of a constant has constant coefficients equal to it (partition of unity).
        assert!(c.iter().all(|v| (v - 3.0).abs() < 1e-12), "{c:?}");
        let mut long = vec![3.0; 40];
        bspline_prefilter_line(&mut long);
        assert!(long.iter().all(|v| (v - 3.0).abs() < 1e-9));
        assert_eq!(mirror(-1, 5), 1);
        assert_eq!(mirror(-2, 5), 2);
        assert_eq!(mirror(5, 5), 3);
        assert_eq!(mirror(6, 5), 2);
        assert_eq!(mirror(3, 1), 0);
    }

    #[test]
    fn world_gradient_of_a_world_ramp() {
        // f(world) = a·p: its index gradient is Mᵀa, and converting back gives a.
        let (c, s) = (0.4f64.cos(), 0.4f64.sin());
        let g = Geometry {
            origin: [1.0, 2.0, 3.0],
            spacing: [0.5, 2.0, 1.5],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        };
        let a = [0.3, -1.2, 2.0];
        let m = g.index_to_world_affine().m;
        let gi = linalg::mat_vec(&linalg::transpose(&m), a);
        let gw = index_gradient_to_world(&g, gi).unwrap();
        for k in 0..3 {
            // 1e-12: two 3×3 products in f64.
            assert!((gw[k] - a[k]).abs() < 1e-12);
        }
    }
}
