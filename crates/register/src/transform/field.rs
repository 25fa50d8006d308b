//! Dense transforms: displacement-field operations (composition, sampling a transform on a
//! grid) and the stationary velocity field, whose exponential is computed by scaling and
//! squaring and whose inverse is exactly the exponential of the negated velocity (Arsigny et
//! al., "A Log-Euclidean framework for statistics on diffeomorphisms", MICCAI 2006;
//! Vercauteren et al., "Symmetric log-domain diffeomorphic registration: a demons-based
//! approach", MICCAI 2008).

use hounsfield_core::linalg::{self, Vec3};
use hounsfield_core::{checked_voxels, DisplacementField, Geometry, Transform};
use rayon::prelude::*;

use crate::error::RegisterError;

/// The displacement of `outer ∘ inner` on `inner`'s grid (see
/// [`hounsfield_imgproc::field::compose`]).
pub fn compose(
    outer: &DisplacementField,
    inner: &DisplacementField,
) -> Result<DisplacementField, RegisterError> {
    Ok(hounsfield_imgproc::field::compose(outer, inner)?)
}

/// The displacement `T(x) − x` of any transform at every voxel of a grid (how composites,
/// B-splines and affines become one field for export or Jacobian maps).
pub fn sample_transform(
    t: &dyn Transform,
    dims: [usize; 3],
    geometry: &Geometry,
) -> Result<DisplacementField, RegisterError> {
    let n = checked_voxels(dims, 12)?;
    geometry.validate_with(false)?;
    let i2w = geometry.index_to_world_affine();
    let plane = dims[0] * dims[1];
    let mut out = vec![[0f32; 3]; n];
    out.par_chunks_mut(plane).enumerate().for_each(|(k, sl)| {
        for (o, val) in sl.iter_mut().enumerate() {
            let p = i2w.apply([(o % dims[0]) as f64, (o / dims[0]) as f64, k as f64]);
            let q = t.transform_point(p);
            *val = [(q[0] - p[0]) as f32, (q[1] - p[1]) as f32, (q[2] - p[2]) as f32];
        }
    });
    Ok(DisplacementField::from_vec(dims, *geometry, out)?)
}

/// Number of squarings for `exp(scale·v)`: the smallest `n` with `max |scale·v| / 2ⁿ` at
/// most half a voxel, so the first-order start `id + v/2ⁿ` is a diffeomorphism for the smooth
/// fields registration produces.
pub fn squaring_steps(velocity: &DisplacementField, scale: f64) -> u32 {
    let Ok(w2i) = velocity.geometry().world_to_index_affine() else { return 0 };
    let max_vox = velocity
        .data()
        .par_iter()
        .map(|v| linalg::norm(w2i.apply_vector([v[0] as f64, v[1] as f64, v[2] as f64])))
        .reduce(|| 0.0, f64::max)
        * scale.abs();
    let mut n = 0;
    while max_vox / f64::powi(2.0, n) > 0.5 && n < 30 {
        n += 1;
    }
    n as u32
}

/// `exp(scale·v)` by scaling and squaring (Arsigny et al. 2006, Algorithm 2): start from
/// `u = scale·v / 2ⁿ` and compose `u ← u ∘ u` `n` times ([`squaring_steps`]).
pub fn exponential(velocity: &DisplacementField, scale: f64) -> Result<DisplacementField, RegisterError> {
    let n = squaring_steps(velocity, scale);
    let s = (scale / f64::powi(2.0, n as i32)) as f32;
    let mut u = velocity.clone();
    u.data_mut().par_iter_mut().for_each(|v| *v = v.map(|c| c * s));
    for _ in 0..n {
        u = compose(&u, &u)?;
    }
    Ok(u)
}

/// A stationary velocity field `v` and the diffeomorphism `exp(v)` it generates (the
/// transform), with its exact inverse `exp(−v)` (computed once, on construction).
#[derive(Clone, Debug, PartialEq)]
pub struct StationaryVelocityField {
    velocity: DisplacementField,
    forward: DisplacementField,
    backward: DisplacementField,
}

impl StationaryVelocityField {
    /// Exponentiates `velocity` (mm, world LPS, on its grid) forwards and backwards.
    pub fn new(velocity: DisplacementField) -> Result<Self, RegisterError> {
        velocity.geometry().validate_with(false)?;
        let forward = exponential(&velocity, 1.0)?;
        let backward = exponential(&velocity, -1.0)?;
        Ok(Self { velocity, forward, backward })
    }

    /// The velocity field.
    pub fn velocity(&self) -> &DisplacementField {
        &self.velocity
    }

    /// `exp(v)` as a displacement field: the transform itself.
    pub fn forward(&self) -> &DisplacementField {
        &self.forward
    }

    /// `exp(−v)`: the inverse transform.
    pub fn backward(&self) -> &DisplacementField {
        &self.backward
    }

    /// The inverse diffeomorphism (velocity negated; no recomputation).
    pub fn inverse(&self) -> Self {
        let mut velocity = self.velocity.clone();
        velocity.data_mut().iter_mut().for_each(|v| *v = v.map(|c| -c));
        Self { velocity, forward: self.backward.clone(), backward: self.forward.clone() }
    }
}

impl Transform for StationaryVelocityField {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        self.forward.transform_point(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smooth_velocity(dims: [usize; 3], g: Geometry, amp: f64) -> DisplacementField {
        let mut v = DisplacementField::zeros(dims, g).unwrap();
        let i2w = g.index_to_world_affine();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = i2w.apply([i as f64, j as f64, k as f64]);
                    let a = (p[0] * 0.1).sin() * (p[1] * 0.07).cos();
                    let b = (p[2] * 0.09).cos() * (p[0] * 0.05).sin();
                    v.data_mut()[i + dims[0] * (j + dims[1] * k)] =
                        [(amp * a) as f32, (amp * b) as f32, (0.5 * amp * a * b) as f32];
                }
            }
        }
        v
    }

    #[test]
    fn exp_of_v_composed_with_exp_of_minus_v_is_the_identity() {
        let g = Geometry { origin: [-20.0, -20.0, -20.0], spacing: [2.0, 2.0, 2.0], ..Geometry::default() };
        let dims = [21, 21, 21];
        let svf = StationaryVelocityField::new(smooth_velocity(dims, g, 4.0)).unwrap();
        let id = compose(svf.backward(), svf.forward()).unwrap();
        // Away from the border (where constant extrapolation breaks the group law).
        let mut worst: f64 = 0.0;
        for k in 5..16 {
            for j in 5..16 {
                for i in 5..16 {
                    let u = id.data()[i + 21 * (j + 21 * k)];
                    worst = worst.max(linalg::norm(u.map(|c| c as f64)));
                }
            }
        }
        // 0.15 mm (7 % of a voxel): trilinear interpolation errs by h²/8·|u''| ≈ 0.02 mm per
        // composition here, and the two exponentials take about six.
        assert!(worst < 0.15, "{worst}");
        let inv = svf.inverse();
        assert_eq!(inv.forward(), svf.backward());
    }

    #[test]
    fn constant_velocity_is_a_translation() {
        let g = Geometry::with_spacing([1.5, 1.5, 1.5]);
        let mut v = DisplacementField::zeros([6, 6, 6], g).unwrap();
        v.data_mut().iter_mut().for_each(|x| *x = [3.0, -1.0, 0.5]);
        let e = exponential(&v, 1.0).unwrap();
        for x in e.data() {
            // 1e-5 mm: f32 halvings and sums of a constant.
            assert!((x[0] - 3.0).abs() < 1e-5 && (x[1] + 1.0).abs() < 1e-5 && (x[2] - 0.5).abs() < 1e-5);
        }
    }
}
