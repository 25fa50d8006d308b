//! Images as registration sees them: the multi-resolution pyramid (Gaussian smoothing in mm,
//! then resampling to a coarser grid), the moving image with its gradient for fast sampling,
//! and masks.

use hounsfield_core::linalg::Vec3;
use hounsfield_core::{Affine3, Volume};
use hounsfield_imgproc::filter::{self, Smoothing};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::interpolate::{bspline_dweights, bspline_weights, mirror};
use hounsfield_imgproc::resample::{grid_for_spacing, resample};

use crate::error::{invalid, RegisterError};

/// The multi-resolution schedule: how many levels, how much each is shrunk and smoothed.
#[derive(Clone, Debug, PartialEq)]
pub struct Pyramid {
    /// Number of levels (default 3). Level 0 is the coarsest.
    pub levels: usize,
    /// Shrink factor per level, coarsest first (default `2^(levels−1−l)`: …, 4, 2, 1). An axis
    /// keeps at least 8 voxels: its factor is capped there.
    pub shrink_factors: Option<Vec<usize>>,
    /// Gaussian sigma per level in mm, coarsest first (default: half the shrunk voxel size
    /// along each axis, `0.5·shrink·spacing`, and none at full resolution; ITK's and elastix's
    /// pyramid rule expressed in mm).
    pub smoothing_mm: Option<Vec<f64>>,
}

impl Default for Pyramid {
    fn default() -> Self {
        Self { levels: 3, shrink_factors: None, smoothing_mm: None }
    }
}

impl Pyramid {
    /// A default schedule with `levels` levels.
    pub fn with_levels(levels: usize) -> Self {
        Self { levels, ..Self::default() }
    }

    /// Checks the schedule.
    pub fn validate(&self) -> Result<(), RegisterError> {
        if !(1..=8).contains(&self.levels) {
            return Err(invalid("levels", format!("{} is outside 1..=8", self.levels)));
        }
        if let Some(s) = &self.shrink_factors {
            if s.len() != self.levels || s.iter().any(|&f| !(1..=64).contains(&f)) {
                return Err(invalid("shrink_factors", format!("{s:?}: one factor in 1..=64 per level")));
            }
        }
        if let Some(s) = &self.smoothing_mm {
            if s.len() != self.levels || s.iter().any(|&v| !(v.is_finite() && v >= 0.0)) {
                return Err(invalid("smoothing_mm", format!("{s:?}: one finite sigma ≥ 0 per level")));
            }
        }
        Ok(())
    }

    /// Shrink factor of level `l` along each axis of a grid of `dims`.
    pub fn shrink(&self, l: usize, dims: [usize; 3]) -> [usize; 3] {
        let f = match &self.shrink_factors {
            Some(s) => s[l],
            None => 1usize << (self.levels - 1 - l).min(16),
        };
        dims.map(|n| f.min((n / 8).max(1)))
    }

    /// Gaussian sigma (mm) of level `l` along each axis of a grid with `spacing`.
    pub fn sigma_mm(&self, l: usize, dims: [usize; 3], spacing: Vec3) -> Vec3 {
        let s = self.shrink(l, dims);
        match &self.smoothing_mm {
            Some(v) => std::array::from_fn(|a| if dims[a] > 1 { v[l] } else { 0.0 }),
            None => std::array::from_fn(|a| if s[a] > 1 { 0.5 * s[a] as f64 * spacing[a] } else { 0.0 }),
        }
    }
}

/// The image of pyramid level `l`: smoothed, then resampled to the shrunk grid (same centre
/// and extent).
pub(crate) fn level_image(
    img: &Volume<f32>,
    pyramid: &Pyramid,
    l: usize,
) -> Result<Volume<f32>, RegisterError> {
    let dims = img.dims();
    let g = img.geometry();
    let sigma = pyramid.sigma_mm(l, dims, g.spacing);
    let smooth = if sigma.iter().any(|&s| s > 0.0) { filter::gaussian(img, sigma)? } else { img.clone() };
    let shrink = pyramid.shrink(l, dims);
    if shrink == [1, 1, 1] {
        return Ok(smooth);
    }
    let spacing = std::array::from_fn(|a| g.spacing[a] * shrink[a] as f64);
    let (d, lg) = grid_for_spacing(dims, g, spacing)?;
    Ok(resample(&smooth, d, &lg, &hounsfield_core::IdentityTransform, Interpolation::Linear, 0.0)?)
}

/// A mask resampled (nearest) onto a grid.
pub(crate) fn mask_on(mask: &Volume<u8>, like: &Volume<f32>) -> Result<Volume<u8>, RegisterError> {
    if mask.same_grid(like, 1e-6) {
        return Ok(mask.clone());
    }
    Ok(resample(
        mask,
        like.dims(),
        like.geometry(),
        &hounsfield_core::IdentityTransform,
        Interpolation::Nearest,
        0,
    )?)
}

/// How the moving image is interpolated during optimization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MovingInterpolation {
    /// Trilinear values with trilinearly interpolated central-difference gradients (ITK's
    /// default; fastest, but the gradient is only approximately the cost's derivative).
    Linear,
    /// Cubic B-spline values and their exact derivatives (Unser 1999): a smooth cost whose
    /// gradient is exact, so optimizers converge to sub-voxel precision (the default).
    #[default]
    BSpline,
}

#[derive(Clone, Debug)]
enum Samplers {
    /// Value and world gradient interleaved, one cache line per corner.
    Linear(Vec<[f32; 4]>),
    /// Cubic B-spline coefficients and `M⁻ᵀ` (index → world gradient).
    BSpline(Vec<f32>, [[f64; 3]; 3]),
}

/// The moving image prepared for fast sampling of values and world gradients at world points
/// (ITK's half-voxel border). For a 2-D image the world z coordinate is ignored (samples come
/// from its only plane).
#[derive(Clone, Debug)]
pub(crate) struct MovingImage {
    samplers: Samplers,
    dims: [usize; 3],
    w2i: Affine3,
    /// Index → world linear part.
    i2w: hounsfield_core::linalg::Mat3,
    planar: bool,
}

impl MovingImage {
    pub(crate) fn new(vol: &Volume<f32>, interpolation: MovingInterpolation) -> Result<Self, RegisterError> {
        let w2i = vol.geometry().world_to_index_affine()?;
        let samplers = match interpolation {
            MovingInterpolation::Linear => {
                let [gx, gy, gz] = filter::gradient(vol, Smoothing::None)?;
                Samplers::Linear(
                    (0..vol.len())
                        .map(|i| [vol.data()[i], gx.data()[i], gy.data()[i], gz.data()[i]])
                        .collect(),
                )
            }
            MovingInterpolation::BSpline => {
                let b = hounsfield_imgproc::interpolate::BSplineInterpolator::new(vol)?;
                Samplers::BSpline(b.coefficients().to_vec(), hounsfield_core::linalg::transpose(&w2i.m))
            }
        };
        Ok(Self {
            samplers,
            dims: vol.dims(),
            w2i,
            i2w: vol.geometry().index_to_world_affine().m,
            planar: vol.is_2d(),
        })
    }

    /// True when `p` maps inside the image (ITK's half-voxel border).
    #[inline]
    pub(crate) fn contains(&self, p: Vec3) -> bool {
        let idx = self.w2i.apply(p);
        let inside = |x: f64, n: usize| x >= -0.5 && x < n as f64 - 0.5;
        inside(idx[0], self.dims[0])
            && inside(idx[1], self.dims[1])
            && (self.planar || inside(idx[2], self.dims[2]))
    }

    /// Value and world gradient at `p`, or `None` outside the image; with `extend`, points
    /// outside take the value of the nearest border point (zero gradient across the border),
    /// so the cost stays continuous as samples leave the image.
    #[inline]
    pub(crate) fn sample(&self, p: Vec3, extend: bool) -> Option<(f32, [f32; 3])> {
        let mut idx = self.w2i.apply(p);
        if self.planar {
            idx[2] = 0.0;
        }
        let [nx, ny, nz] = self.dims;
        let inside = |x: f64, n: usize| x >= -0.5 && x < n as f64 - 0.5;
        let mut clamped = [false; 3];
        if extend {
            for a in 0..3 {
                let hi = self.dims[a] as f64 - 1.0;
                if idx[a].is_nan() || idx[a] < 0.0 || idx[a] > hi {
                    if idx[a].is_nan() {
                        return None;
                    }
                    idx[a] = idx[a].clamp(0.0, hi);
                    clamped[a] = true;
                }
            }
        } else if !(inside(idx[0], nx) && inside(idx[1], ny) && inside(idx[2], nz)) {
            return None;
        }
        let r = self.sample_index(idx);
        if clamped.iter().any(|&c| c) {
            // Zero the gradient's component along each clamped index axis: index gradient
            // `Mᵀ g` (M = index → world), then back to world with `M⁻ᵀ`.
            use hounsfield_core::linalg::{mat_vec, transpose};
            let (v, g) = r?;
            let gi = mat_vec(&transpose(&self.i2w), g.map(|x| x as f64));
            let gi: [f64; 3] = std::array::from_fn(|a| if clamped[a] { 0.0 } else { gi[a] });
            let gw = mat_vec(&transpose(&self.w2i.m), gi);
            return Some((v, gw.map(|x| x as f32)));
        }
        r
    }

    #[inline]
    fn sample_index(&self, idx: Vec3) -> Option<(f32, [f32; 3])> {
        let [nx, ny, nz] = self.dims;
        match &self.samplers {
            Samplers::Linear(data) => {
                let axis = |x: f64, n: usize| {
                    let f = (x + 1.0) as isize - 1; // floor for x ≥ −1
                    let lo = f.max(0) as usize;
                    let hi = ((f + 1) as usize).min(n - 1);
                    (lo, hi, (x - f as f64) as f32)
                };
                let (x0, x1, tx) = axis(idx[0], nx);
                let (y0, y1, ty) = axis(idx[1], ny);
                let (z0, z1, tz) = axis(idx[2], nz);
                let at = |x: usize, y: usize, z: usize| data[x + nx * (y + ny * z)];
                let lerp = |a: [f32; 4], b: [f32; 4], t: f32| -> [f32; 4] {
                    std::array::from_fn(|k| a[k] + (b[k] - a[k]) * t)
                };
                let r00 = lerp(at(x0, y0, z0), at(x1, y0, z0), tx);
                let r10 = lerp(at(x0, y1, z0), at(x1, y1, z0), tx);
                let r01 = lerp(at(x0, y0, z1), at(x1, y0, z1), tx);
                let r11 = lerp(at(x0, y1, z1), at(x1, y1, z1), tx);
                let v = lerp(lerp(r00, r10, ty), lerp(r01, r11, ty), tz);
                Some((v[0], [v[1], v[2], v[3]]))
            }
            Samplers::BSpline(coef, mit) => {
                let axis = |x: f64, n: usize, stride: usize| {
                    let f = (x + 1.0) as isize - 1;
                    let (w, d) = (bspline_weights(x - f as f64), bspline_dweights(x - f as f64));
                    let o = [0, 1, 2, 3].map(|k| mirror(f - 1 + k, n) * stride);
                    (o, w, d)
                };
                let (ox, wx, dx) = axis(idx[0], nx, 1);
                let (oy, wy, dy) = axis(idx[1], ny, nx);
                let (oz, wz, dz) = if nz == 1 {
                    ([0; 4], [1.0, 0.0, 0.0, 0.0], [0.0; 4])
                } else {
                    axis(idx[2], nz, nx * ny)
                };
                let kz = if nz == 1 { 1 } else { 4 };
                let (mut v, mut gx, mut gy, mut gz) = (0.0, 0.0, 0.0, 0.0);
                for c in 0..kz {
                    let (mut sv, mut sx, mut sy) = (0.0, 0.0, 0.0);
                    for b in 0..4 {
                        let base = oz[c] + oy[b];
                        let (mut rv, mut rd) = (0.0, 0.0);
                        for a in 0..4 {
                            let cf = coef[base + ox[a]] as f64;
                            rv += wx[a] * cf;
                            rd += dx[a] * cf;
                        }
                        sv += wy[b] * rv;
                        sx += wy[b] * rd;
                        sy += dy[b] * rv;
                    }
                    v += wz[c] * sv;
                    gx += wz[c] * sx;
                    gy += wz[c] * sy;
                    gz += dz[c] * sv;
                }
                let g = hounsfield_core::linalg::mat_vec(mit, [gx, gy, gz]);
                Some((v as f32, [g[0] as f32, g[1] as f32, g[2] as f32]))
            }
        }
    }
}

/// Nearest-neighbour lookup of a mask at world points (outside = not in the mask).
#[derive(Clone, Debug)]
pub(crate) struct MaskImage {
    data: Vec<u8>,
    dims: [usize; 3],
    w2i: Affine3,
    planar: bool,
}

impl MaskImage {
    pub(crate) fn new(mask: &Volume<u8>) -> Result<Self, RegisterError> {
        Ok(Self {
            data: mask.data().to_vec(),
            dims: mask.dims(),
            w2i: mask.geometry().world_to_index_affine()?,
            planar: mask.is_2d(),
        })
    }

    #[inline]
    #[allow(clippy::needless_range_loop)] // index, dims and stride advance together
    pub(crate) fn contains(&self, p: Vec3) -> bool {
        let mut idx = self.w2i.apply(p);
        if self.planar {
            idx[2] = 0.0;
        }
        let mut o = 0usize;
        let mut stride = 1usize;
        for a in 0..3 {
            let x = idx[a] + 0.5;
            if !(x >= 0.0 && x < self.dims[a] as f64) {
                return false;
            }
            o += (x as usize).min(self.dims[a] - 1) * stride;
            stride *= self.dims[a];
        }
        self.data[o] != 0
    }
}

/// Checks that two images can be registered together: valid (non-singular, finite)
/// geometries, and for 2-D images (depth 1) an image plane that is the world x–y plane, as 2-D
/// transforms act there.
pub(crate) fn check_pair(fixed: &Volume<f32>, moving: &Volume<f32>) -> Result<bool, RegisterError> {
    for (which, v) in [("fixed image", fixed), ("moving image", moving)] {
        v.geometry()
            .validate_with(false)
            .map_err(|e| RegisterError::Geometry { which, reason: e.to_string() })?;
    }
    let two_d = fixed.is_2d();
    if two_d != moving.is_2d() {
        return Err(RegisterError::Geometry {
            which: "moving image",
            reason: format!(
                "a {}-D image cannot be registered to a {}-D one",
                if moving.is_2d() { 2 } else { 3 },
                if two_d { 2 } else { 3 }
            ),
        });
    }
    if two_d {
        for (which, v) in [("fixed image", fixed), ("moving image", moving)] {
            let d = v.geometry().direction;
            let planar =
                d[2][0].abs() < 1e-6 && d[2][1].abs() < 1e-6 && d[0][2].abs() < 1e-6 && d[1][2].abs() < 1e-6;
            if !planar {
                return Err(RegisterError::Geometry {
                    which,
                    reason: "a 2-D image must lie in the world x–y plane (its direction mixes z into x or y)"
                        .into(),
                });
            }
        }
    }
    for (which, v) in [("fixed image", fixed), ("moving image", moving)] {
        if v.data().iter().any(|x| !x.is_finite()) {
            return Err(RegisterError::Geometry {
                which,
                reason: "the image holds NaN or infinite values".into(),
            });
        }
    }
    Ok(two_d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    #[test]
    fn moving_sampler_reproduces_a_ramp_and_its_gradient() {
        let g = Geometry { origin: [1.0, 2.0, 3.0], spacing: [0.5, 1.0, 2.0], ..Geometry::default() };
        let dims = [10, 9, 8];
        let mut v = Volume::<f32>::zeros(dims, g).unwrap();
        for k in 0..8 {
            for j in 0..9 {
                for i in 0..10 {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    *v.get_mut(i, j, k).unwrap() = (2.0 * p[0] - p[1] + 0.5 * p[2]) as f32;
                }
            }
        }
        let m = MovingImage::new(&v, MovingInterpolation::Linear).unwrap();
        let p = g.index_to_world([4.3, 3.7, 2.2]);
        let (val, grad) = m.sample(p, false).unwrap();
        // 1e-4: f32 storage of values ~10.
        assert!((val as f64 - (2.0 * p[0] - p[1] + 0.5 * p[2])).abs() < 1e-4);
        assert!((grad[0] - 2.0).abs() < 1e-4 && (grad[1] + 1.0).abs() < 1e-4 && (grad[2] - 0.5).abs() < 1e-4);
        assert!(m.sample(g.index_to_world([-0.6, 0.0, 0.0]), false).is_none());
        let (e, eg) = m.sample(g.index_to_world([-3.0, 4.0, 2.0]), true).unwrap();
        let (b0, bg) = m.sample(g.index_to_world([0.0, 4.0, 2.0]), false).unwrap();
        // Extended: the border value, no slope across the border.
        assert_eq!(e, b0);
        assert!(eg[0] == 0.0 && (eg[1] - bg[1]).abs() < 1e-6);
        // The cubic spline reproduces a ramp only away from the border: the mirror boundary
        // puts a kink there whose error decays as 0.268^d with the distance d in voxels, so
        // sample on a larger grid, ≥ 9 voxels from every face (error < 1e-5 per unit slope).
        let dims = [24, 24, 24];
        let mut v = Volume::<f32>::zeros(dims, g).unwrap();
        for k in 0..24 {
            for j in 0..24 {
                for i in 0..24 {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    *v.get_mut(i, j, k).unwrap() = (2.0 * p[0] - p[1] + 0.5 * p[2]) as f32;
                }
            }
        }
        let b = MovingImage::new(&v, MovingInterpolation::BSpline).unwrap();
        let p = g.index_to_world([11.3, 12.7, 9.2]);
        let (val, grad) = b.sample(p, false).unwrap();
        // 1e-3: f32 coefficients of values up to ~40.
        assert!((val as f64 - (2.0 * p[0] - p[1] + 0.5 * p[2])).abs() < 1e-3);
        assert!((grad[0] - 2.0).abs() < 1e-3 && (grad[1] + 1.0).abs() < 1e-3 && (grad[2] - 0.5).abs() < 1e-3);
    }

    #[test]
    fn pyramid_levels_shrink_and_cap() {
        let p = Pyramid::default();
        assert_eq!(p.shrink(0, [64, 64, 1]), [4, 4, 1]);
        assert_eq!(p.shrink(0, [64, 64, 20]), [4, 4, 2]);
        assert_eq!(p.shrink(2, [64, 64, 20]), [1, 1, 1]);
        let s = p.sigma_mm(0, [64, 64, 1], [1.0, 2.0, 1.0]);
        assert_eq!(s, [2.0, 4.0, 0.0]);
        assert!(Pyramid::with_levels(0).validate().is_err());
    }
}
