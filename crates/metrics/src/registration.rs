//! Registration quality: target registration error on landmarks and the Jacobian determinant
//! of a displacement field (with the fraction of folding voxels).

use hounsfield_core::{linalg, DisplacementField, Transform, Volume};
use rayon::prelude::*;

use crate::MetricsError;

/// Summary of target registration errors (mm).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TreSummary {
    /// Per-landmark error (mm).
    pub errors: Vec<f64>,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub sd: f64,
    /// Median.
    pub median: f64,
    /// Maximum.
    pub max: f64,
}

/// Target registration error: for each fixed landmark `f` and its corresponding moving landmark
/// `m` (world mm, LPS), the distance between `transform(f)` and `m` (the transform maps fixed
/// to moving points, as resampling transforms do).
pub fn tre(
    fixed: &[[f64; 3]],
    moving: &[[f64; 3]],
    transform: &dyn Transform,
) -> Result<TreSummary, MetricsError> {
    if fixed.len() != moving.len() {
        return Err(MetricsError::InvalidParameter {
            name: "landmarks",
            reason: format!("{} fixed vs {} moving landmarks", fixed.len(), moving.len()),
        });
    }
    if fixed.is_empty() {
        return Err(MetricsError::Empty("no landmarks"));
    }
    let errors: Vec<f64> = fixed
        .iter()
        .zip(moving)
        .map(|(f, m)| linalg::norm(linalg::sub(transform.transform_point(*f), *m)))
        .collect();
    Ok(summarize(errors))
}

fn summarize(errors: Vec<f64>) -> TreSummary {
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut s = errors.clone();
    s.sort_by(f64::total_cmp);
    let median = if s.len() % 2 == 1 { s[s.len() / 2] } else { 0.5 * (s[s.len() / 2 - 1] + s[s.len() / 2]) };
    let max = s.last().copied().unwrap_or(0.0);
    TreSummary { errors, mean, sd, median, max }
}

/// Jacobian statistics of a displacement field.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct JacobianStats {
    /// Minimum determinant.
    pub min: f64,
    /// Maximum determinant.
    pub max: f64,
    /// Mean determinant.
    pub mean: f64,
    /// Fraction of voxels with determinant ≤ 0 (folding), 0..=1.
    pub folding_fraction: f64,
}

/// Determinant of the Jacobian of `x ↦ x + u(x)` at every voxel, with `u` differentiated in
/// world coordinates (spacing and direction accounted for): central differences inside,
/// one-sided differences on the border (as ITK's `DisplacementFieldJacobianDeterminantFilter`
/// and ANTs `CreateJacobianDeterminantImage` do in the interior). An axis of extent 1 has
/// zero derivative along it.
pub fn jacobian_determinant(field: &DisplacementField) -> Result<Volume<f32>, MetricsError> {
    let dims = field.dims();
    let g = *field.geometry();
    let m = g.index_to_world_affine().m;
    let minv = linalg::inverse(&m).ok_or(MetricsError::InvalidParameter {
        name: "field geometry",
        reason: "degenerate direction or spacing".into(),
    })?;
    let u = field.data();
    let [nx, ny, _] = dims;
    let idx = |i: usize, j: usize, k: usize| i + nx * (j + ny * k);
    let det: Vec<f32> = (0..u.len())
        .into_par_iter()
        .map(|o| {
            let c = [o % nx, (o / nx) % ny, o / (nx * ny)];
            // du/d(index axis a), a 3-vector per axis.
            let mut d = [[0.0f64; 3]; 3];
            for (a, da) in d.iter_mut().enumerate() {
                let n = dims[a];
                if n == 1 {
                    continue;
                }
                let (lo, hi) = (c[a].saturating_sub(1), (c[a] + 1).min(n - 1));
                let mut p = c;
                p[a] = lo;
                let ul = u[idx(p[0], p[1], p[2])];
                p[a] = hi;
                let uh = u[idx(p[0], p[1], p[2])];
                let h = (hi - lo) as f64;
                for comp in 0..3 {
                    da[comp] = (uh[comp] as f64 - ul[comp] as f64) / h;
                }
            }
            // G[comp][a] = du_comp/didx_a; world gradient = G · M⁻¹.
            let mut gidx = [[0.0; 3]; 3];
            for comp in 0..3 {
                for a in 0..3 {
                    gidx[comp][a] = d[a][comp];
                }
            }
            let mut j = linalg::mat_mul(&gidx, &minv);
            for (r, row) in j.iter_mut().enumerate() {
                row[r] += 1.0;
            }
            linalg::det(&j) as f32
        })
        .collect();
    Ok(Volume::from_vec(dims, g, det)?)
}

/// Summary statistics of [`jacobian_determinant`].
pub fn jacobian_stats(field: &DisplacementField) -> Result<JacobianStats, MetricsError> {
    let j = jacobian_determinant(field)?;
    let n = j.len() as f64;
    let (mut min, mut max, mut sum, mut fold) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for &v in j.data() {
        let v = v as f64;
        min = min.min(v);
        max = max.max(v);
        sum += v;
        fold += usize::from(v <= 0.0);
    }
    Ok(JacobianStats { min, max, mean: sum / n, folding_fraction: fold as f64 / n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::{AffineTransform, Geometry, IdentityTransform};

    #[test]
    fn tre_of_known_translation() {
        let f = [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]];
        let m = [[1.0, 0.0, 0.0], [11.0, 0.0, 3.0]];
        let s = tre(&f, &m, &AffineTransform::translation([1.0, 0.0, 0.0])).unwrap();
        assert_eq!(s.errors, vec![0.0, 3.0]);
        assert_eq!(s.mean, 1.5);
        assert_eq!(s.max, 3.0);
        assert!(tre(&f, &m[..1], &IdentityTransform).is_err());
    }

    #[test]
    fn jacobian_of_a_linear_field_is_its_determinant() {
        // u(x) = A x in world coordinates ⇒ J = I + A everywhere, on an oblique anisotropic grid.
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let g = Geometry {
            origin: [5.0, -3.0, 2.0],
            spacing: [1.5, 0.7, 2.0],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        };
        let a = [[0.1, 0.02, 0.0], [-0.05, 0.2, 0.01], [0.0, 0.03, -0.1]];
        let dims = [6, 5, 4];
        let mut f = DisplacementField::zeros(dims, g).unwrap();
        for k in 0..4 {
            for j in 0..5 {
                for i in 0..6 {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    let v = linalg::mat_vec(&a, p);
                    f.data_mut()[i + 6 * (j + 5 * k)] = [v[0] as f32, v[1] as f32, v[2] as f32];
                }
            }
        }
        let mut ia = a;
        for (r, row) in ia.iter_mut().enumerate() {
            row[r] += 1.0;
        }
        let expected = linalg::det(&ia);
        let st = jacobian_stats(&f).unwrap();
        // 1e-4: displacements stored as f32 (~1e-7 relative) differenced over ~1 mm.
        assert!((st.min - expected).abs() < 1e-4 && (st.max - expected).abs() < 1e-4, "{st:?} vs {expected}");
        assert_eq!(st.folding_fraction, 0.0);
    }
}
