//! Random smooth diffeomorphic deformations: a stationary velocity field exponentiated by
//! scaling and squaring, its exact inverse by exponentiating the negated velocity, the
//! Jacobian determinant, and warping of images (linear) and label maps (nearest) through
//! imgproc's resampler.
//!
//! # Conventions
//!
//! Fields are [`DisplacementField`]s: `φ(x) = x + u(x)` in world coordinates (LPS, mm). As
//! for every [`Transform`] used for resampling, warping an image by `φ` gives
//! `out(x) = in(φ(x))`. [`Deformation::forward`] is `exp(v)` and [`Deformation::inverse`] is
//! `exp(−v)`; they compose to the identity (Arsigny et al., "A Log-Euclidean framework for
//! statistics on diffeomorphisms", MICCAI 2006, §2: the flow of a stationary field satisfies
//! `exp(−v) = exp(v)⁻¹`).
//!
//! # The random velocity
//!
//! Independent standard-normal vectors on a lattice of control points spaced
//! `control_spacing_mm` apart along the grid axes, interpolated by cubic B-splines (C²
//! smooth; Rueckert et al., IEEE TMI 18:712–721, 1999) and scaled so that the largest
//! velocity on the grid is `magnitude_mm`. The lattice is anchored at the grid's corner and
//! depends only on the grid's physical extent, so grids of the same field of view get the
//! same velocity function at any resolution.

use hounsfield_core::linalg::{self, Vec3};
use hounsfield_core::{DisplacementField, LabelVolume, Transform, Volume};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::{resample, resample_labels};
use rayon::prelude::*;

use crate::error::{invalid, PhantomError};
use crate::rng::{normal, rng, tag};
use crate::scene::Grid;

/// Options of [`random_velocity`] and [`random_deformation`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct DeformationOptions {
    /// Largest velocity magnitude on the grid, mm (default 5). The displacement of the
    /// exponentiated field is of the same order.
    pub magnitude_mm: f64,
    /// Distance between random control points, mm (default 40): larger is smoother.
    pub control_spacing_mm: f64,
}

impl Default for DeformationOptions {
    fn default() -> Self {
        Self { magnitude_mm: 5.0, control_spacing_mm: 40.0 }
    }
}

/// A random diffeomorphism and its inverse on one grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Deformation {
    /// The stationary velocity field `v` (mm).
    pub velocity: DisplacementField,
    /// `exp(v)`: displacement of the forward map.
    pub forward: DisplacementField,
    /// `exp(−v)`: displacement of the inverse map.
    pub inverse: DisplacementField,
}

/// Cubic B-spline weights for the four nodes `floor(s) − 1 ..= floor(s) + 2`.
#[inline]
fn bspline_weights(t: f64) -> [f64; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    let u = 1.0 - t;
    [
        u * u * u / 6.0,
        (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
        (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
        t3 / 6.0,
    ]
}

/// A random smooth velocity field on `grid` (see the [module docs](self)).
pub fn random_velocity(
    grid: &Grid,
    opts: &DeformationOptions,
    seed: u64,
) -> Result<DisplacementField, PhantomError> {
    if !(opts.magnitude_mm.is_finite() && opts.magnitude_mm >= 0.0) {
        return Err(invalid(
            "magnitude_mm",
            format!("must be a finite number ≥ 0, got {}", opts.magnitude_mm),
        ));
    }
    let h = opts.control_spacing_mm;
    if !(h.is_finite() && h > 0.0) {
        return Err(invalid("control_spacing_mm", format!("must be positive, got {h}")));
    }
    let nvox = grid.check(12)?;
    let dims = grid.dims;
    let sp = grid.geometry.spacing;
    // Lattice: node m sits (m − 1)·h from the grid's corner; 3 extra nodes cover the
    // B-spline support at both ends.
    let nodes: [usize; 3] = std::array::from_fn(|a| {
        let extent = dims[a] as f64 * sp[a];
        ((extent / h).ceil() as usize).max(1) + 3
    });
    let n_nodes = hounsfield_core::check_alloc(nodes.iter().map(|&n| n as u128).product(), 24)?;
    let mut r = rng(seed, tag::VELOCITY);
    let coef: Vec<[f64; 3]> =
        (0..n_nodes).map(|_| [normal(&mut r), normal(&mut r), normal(&mut r)]).collect();
    // Per-axis (base node, weights) of every voxel index.
    let weights: [Vec<(usize, [f64; 4])>; 3] = std::array::from_fn(|a| {
        (0..dims[a])
            .map(|i| {
                let s = (i as f64 + 0.5) * sp[a] / h + 1.0;
                let f = s.floor();
                ((f as usize).saturating_sub(1).min(nodes[a] - 4), bspline_weights(s - f))
            })
            .collect()
    });
    let [nx, ny, _] = dims;
    let [mx, my, mz] = nodes;
    let lerp = |out: &mut [f64; 3], w: f64, c: &[f64; 3]| {
        out[0] += w * c[0];
        out[1] += w * c[1];
        out[2] += w * c[2];
    };
    // Separable evaluation: x, then y, then z.
    let mut ax = vec![[0.0; 3]; mz * my * nx];
    for m in 0..mz * my {
        for (i, (b, w)) in weights[0].iter().enumerate() {
            let mut acc = [0.0; 3];
            for t in 0..4 {
                lerp(&mut acc, w[t], &coef[m * mx + b + t]);
            }
            ax[m * nx + i] = acc;
        }
    }
    let mut ay = vec![[0.0; 3]; mz * ny * nx];
    for kz in 0..mz {
        for (j, (b, w)) in weights[1].iter().enumerate() {
            for i in 0..nx {
                let mut acc = [0.0; 3];
                for t in 0..4 {
                    lerp(&mut acc, w[t], &ax[(kz * my + b + t) * nx + i]);
                }
                ay[(kz * ny + j) * nx + i] = acc;
            }
        }
    }
    let plane = nx * ny;
    let mut v = vec![[0f64; 3]; nvox];
    v.par_chunks_mut(plane).enumerate().for_each(|(k, sl)| {
        let (b, w) = weights[2][k];
        for (o, val) in sl.iter_mut().enumerate() {
            let mut acc = [0.0; 3];
            for t in 0..4 {
                lerp(&mut acc, w[t], &ay[(b + t) * plane + o]);
            }
            *val = acc;
        }
    });
    let max = v.iter().map(|x| linalg::norm(*x)).fold(0.0, f64::max);
    let scale = if max > 0.0 { opts.magnitude_mm / max } else { 0.0 };
    let data = v.iter().map(|x| x.map(|c| (c * scale) as f32)).collect();
    Ok(DisplacementField::from_vec(dims, grid.geometry, data)?)
}

/// The displacement of `outer ∘ inner` on `inner`'s grid (see
/// [`hounsfield_imgproc::field::compose`]).
pub fn compose(
    outer: &DisplacementField,
    inner: &DisplacementField,
) -> Result<DisplacementField, PhantomError> {
    Ok(hounsfield_imgproc::field::compose(outer, inner)?)
}

/// Number of squarings [`exponentiate`] uses for `velocity`: the smallest `n` with
/// `max |v| / 2ⁿ ≤ ¼ voxel`, so every composition step moves less than a quarter voxel and
/// the first-order start `exp(v/2ⁿ) ≈ id + v/2ⁿ` is accurate.
pub fn squaring_steps(velocity: &DisplacementField) -> u32 {
    let Ok(w2i) = velocity.geometry().world_to_index_affine() else { return 0 };
    let max_vox = velocity
        .data()
        .iter()
        .map(|v| linalg::norm(w2i.apply_vector([v[0] as f64, v[1] as f64, v[2] as f64])))
        .fold(0.0, f64::max);
    let mut n = 0;
    while max_vox / f64::powi(2.0, n) > 0.25 && n < 30 {
        n += 1;
    }
    n as u32
}

/// `exp(v)` by scaling and squaring (Arsigny et al. 2006, Algorithm 2): start from
/// `u = v / 2ⁿ` and compose `u ← u ∘ u` `n` times ([`squaring_steps`]).
pub fn exponentiate(velocity: &DisplacementField) -> Result<DisplacementField, PhantomError> {
    velocity.geometry().validate()?;
    let n = squaring_steps(velocity);
    let s = 1.0 / f64::powi(2.0, n as i32);
    let mut u = velocity.clone();
    u.data_mut().iter_mut().for_each(|v| *v = v.map(|c| (c as f64 * s) as f32));
    for _ in 0..n {
        u = compose(&u, &u)?;
    }
    Ok(u)
}

/// The velocity field negated.
fn negated(v: &DisplacementField) -> DisplacementField {
    let mut n = v.clone();
    n.data_mut().iter_mut().for_each(|x| *x = x.map(|c| -c));
    n
}

/// A random diffeomorphism on `grid` and its inverse (see the [module docs](self)).
pub fn random_deformation(
    grid: &Grid,
    opts: &DeformationOptions,
    seed: u64,
) -> Result<Deformation, PhantomError> {
    let velocity = random_velocity(grid, opts, seed)?;
    let forward = exponentiate(&velocity)?;
    let inverse = exponentiate(&negated(&velocity))?;
    Ok(Deformation { velocity, forward, inverse })
}

/// The Jacobian determinant of `x ↦ x + u(x)` at every voxel (central differences,
/// one-sided at the border). Positive everywhere for a diffeomorphism; below 1 where the map
/// compresses.
pub fn jacobian_determinant(field: &DisplacementField) -> Result<Volume<f32>, PhantomError> {
    let dims = field.dims();
    let w2i = field.geometry().world_to_index_affine()?;
    let m = w2i.m; // ∂index/∂world
    let data = field.data();
    let plane = dims[0] * dims[1];
    let mut out = vec![0f32; data.len()];
    out.par_chunks_mut(plane).enumerate().for_each(|(k, sl)| {
        let idx = [0, 0, k];
        for (o, val) in sl.iter_mut().enumerate() {
            let at = [o % dims[0], o / dims[0], idx[2]];
            // d[c][a] = ∂u_c / ∂index_a.
            let mut d = [[0.0f64; 3]; 3];
            for a in 0..3 {
                if dims[a] < 2 {
                    continue;
                }
                let (lo, hi) = (at[a].saturating_sub(1), (at[a] + 1).min(dims[a] - 1));
                let mut pl = at;
                pl[a] = lo;
                let mut ph = at;
                ph[a] = hi;
                let off = |p: [usize; 3]| p[0] + dims[0] * (p[1] + dims[1] * p[2]);
                let (ul, uh) = (data[off(pl)], data[off(ph)]);
                let step = (hi - lo) as f64;
                for c in 0..3 {
                    d[c][a] = (uh[c] - ul[c]) as f64 / step;
                }
            }
            // J = I + d · M.
            let mut j = linalg::mat_mul(&d, &m);
            for (c, row) in j.iter_mut().enumerate() {
                row[c] += 1.0;
            }
            *val = linalg::det(&j) as f32;
        }
    });
    Ok(Volume::from_vec(dims, *field.geometry(), out)?)
}

/// The point `p` with `p + u(p) = q`: where the map `x ↦ x + u(x)` comes from when it lands
/// on `q`. Fixed-point iteration `p ← q − u(p)`, which converges because a diffeomorphic
/// field's displacement has a Jacobian of norm below 1.
pub fn invert_point(field: &DisplacementField, q: Vec3) -> Vec3 {
    let mut p = q;
    for _ in 0..100 {
        let u = field.displacement_at(p);
        let next = [q[0] - u[0], q[1] - u[1], q[2] - u[2]];
        let step = (0..3).map(|a| (next[a] - p[a]).abs()).fold(0.0, f64::max);
        p = next;
        // 1e-7 mm: far below any voxel size; the iteration contracts geometrically.
        if step < 1e-7 {
            break;
        }
    }
    p
}

/// `out(x) = image(t(x))` on the image's own grid, trilinear (imgproc's resampler with the
/// transform, e.g. a [`DisplacementField`]); points outside the image take `outside`.
pub fn warp_image(image: &Volume<f32>, t: &dyn Transform, outside: f32) -> Result<Volume<f32>, PhantomError> {
    Ok(resample(image, image.dims(), image.geometry(), t, Interpolation::Linear, outside)?)
}

/// `out(x) = labels(t(x))` on the label map's own grid, nearest neighbour; points outside
/// take `outside`.
pub fn warp_labels(
    labels: &LabelVolume,
    t: &dyn Transform,
    outside: u16,
) -> Result<LabelVolume, PhantomError> {
    Ok(resample_labels(labels, labels.dims(), labels.geometry(), t, outside)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::AffineTransform;

    #[test]
    fn constant_velocity_exponentiates_to_a_translation() {
        let grid = Grid::cube(8, 16.0).unwrap();
        let mut v = DisplacementField::zeros(grid.dims, grid.geometry).unwrap();
        v.data_mut().iter_mut().for_each(|x| *x = [3.0, -1.0, 0.5]);
        assert!(squaring_steps(&v) > 0);
        let u = exponentiate(&v).unwrap();
        for x in u.data() {
            // 1e-5 mm: f32 halvings and sums of a constant are exact up to rounding.
            assert!((x[0] - 3.0).abs() < 1e-5 && (x[1] + 1.0).abs() < 1e-5 && (x[2] - 0.5).abs() < 1e-5);
        }
        let j = jacobian_determinant(&u).unwrap();
        // 1e-5: the determinant of the identity plus f32 rounding.
        assert!(j.data().iter().all(|&d| (d - 1.0).abs() < 1e-5));
    }

    #[test]
    fn random_velocity_is_scaled_and_reproducible() {
        let grid = Grid::cube(12, 60.0).unwrap();
        let o = DeformationOptions { magnitude_mm: 3.0, control_spacing_mm: 20.0 };
        let a = random_velocity(&grid, &o, 5).unwrap();
        let b = random_velocity(&grid, &o, 5).unwrap();
        assert_eq!(a, b);
        let max = a.data().iter().map(|v| linalg::norm(v.map(|c| c as f64))).fold(0.0, f64::max);
        // 1e-5: the scaled maximum stored in f32.
        assert!((max - 3.0).abs() < 1e-5, "{max}");
        assert_ne!(a, random_velocity(&grid, &o, 6).unwrap());
        assert!(random_velocity(&grid, &DeformationOptions { control_spacing_mm: 0.0, ..o }, 1).is_err());
    }

    #[test]
    fn warping_by_a_translation_shifts_voxels() {
        let g = hounsfield_core::Geometry::with_spacing([2.0, 2.0, 2.0]);
        let img = Volume::from_vec([4, 1, 1], g, vec![0.0f32, 10.0, 20.0, 30.0]).unwrap();
        // out(x) = in(x + 1 mm): half a voxel to the right.
        let t = AffineTransform::translation([1.0, 0.0, 0.0]);
        let w = warp_image(&img, &t, -1.0).unwrap();
        // The last voxel's sample (index 3.5) lies beyond the half-voxel border.
        assert_eq!(w.data(), &[5.0, 15.0, 25.0, -1.0]);
        let labels = LabelVolume::new(Volume::from_vec([4, 1, 1], g, vec![0u16, 1, 2, 3]).unwrap());
        let t = AffineTransform::translation([2.2, 0.0, 0.0]);
        assert_eq!(warp_labels(&labels, &t, 9).unwrap().data(), &[1, 2, 3, 9]);
    }
}
