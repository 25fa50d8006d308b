//! Operations on displacement fields shared by the phantom deformations and registration.

use hounsfield_core::DisplacementField;
use rayon::prelude::*;

use crate::error::ImgprocError;

/// The displacement of `outer ∘ inner` on `inner`'s grid:
/// `x ↦ u_inner(x) + u_outer(x + u_inner(x))` (first `inner`'s map, then `outer`'s), `outer`
/// sampled trilinearly (constant beyond its grid). The step of scaling and squaring.
pub fn compose(
    outer: &DisplacementField,
    inner: &DisplacementField,
) -> Result<DisplacementField, ImgprocError> {
    let dims = inner.dims();
    let i2w = inner.geometry().index_to_world_affine();
    let plane = dims[0] * dims[1];
    let src = inner.data();
    let mut out = vec![[0f32; 3]; src.len()];
    out.par_chunks_mut(plane.max(1)).enumerate().for_each(|(k, sl)| {
        for (o, val) in sl.iter_mut().enumerate() {
            let (i, j) = (o % dims[0], o / dims[0]);
            let p = i2w.apply([i as f64, j as f64, k as f64]);
            let a = src[k * plane + o];
            let q = [p[0] + a[0] as f64, p[1] + a[1] as f64, p[2] + a[2] as f64];
            let b = outer.displacement_at(q);
            *val = [(a[0] as f64 + b[0]) as f32, (a[1] as f64 + b[1]) as f32, (a[2] as f64 + b[2]) as f32];
        }
    });
    Ok(DisplacementField::from_vec(dims, *inner.geometry(), out)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    #[test]
    fn translations_compose_to_their_sum() {
        let g = Geometry::with_spacing([1.0, 2.0, 0.5]);
        let f = |t: [f32; 3]| DisplacementField::from_vec([4, 3, 2], g, vec![t; 24]).unwrap();
        let c = compose(&f([1.0, -2.0, 0.25]), &f([0.5, 0.5, 0.5])).unwrap();
        // Constant fields sample exactly: the sum, to f32 rounding.
        assert!(c
            .data()
            .iter()
            .all(|v| (v[0] - 1.5).abs() < 1e-6 && (v[1] + 1.5).abs() < 1e-6 && (v[2] - 0.75).abs() < 1e-6));
        assert_eq!(c.geometry(), &g);
    }
}
