//! Registration quality: Dice overlap of label maps (a small helper until `metrics` gains
//! full overlap metrics), the Jacobian determinant map and folding of any transform on a
//! grid, and target registration error on landmarks, gathered in one [`QualityReport`].

use hounsfield_core::linalg::Vec3;
use hounsfield_core::{Geometry, LabelVolume, Transform, Volume};
use hounsfield_metrics::registration::{
    jacobian_determinant, jacobian_stats, tre, JacobianStats, TreSummary,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::RegisterError;
use crate::transform::field::sample_transform;

/// Dice overlap `2|A ∩ B| / (|A| + |B|)` of one label in two label maps on the same grid (1
/// when the label is absent from both).
pub fn dice(a: &LabelVolume, b: &LabelVolume, label: u16) -> Result<f64, RegisterError> {
    a.require_same_grid(b.as_volume())?;
    let (inter, na, nb) = a
        .data()
        .par_iter()
        .zip(b.data().par_iter())
        .map(|(&x, &y)| {
            (usize::from(x == label && y == label), usize::from(x == label), usize::from(y == label))
        })
        .reduce(|| (0, 0, 0), |p, q| (p.0 + q.0, p.1 + q.1, p.2 + q.2));
    Ok(if na + nb == 0 { 1.0 } else { 2.0 * inter as f64 / (na + nb) as f64 })
}

/// Dice of one label.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelDice {
    /// The label.
    pub label: u16,
    /// Its Dice overlap.
    pub dice: f64,
}

/// Dice of every non-zero label present in either map, ascending by label.
pub fn dice_per_label(a: &LabelVolume, b: &LabelVolume) -> Result<Vec<LabelDice>, RegisterError> {
    a.require_same_grid(b.as_volume())?;
    let mut seen = vec![false; 65536];
    for &v in a.data().iter().chain(b.data()) {
        seen[v as usize] = true;
    }
    let labels: Vec<u16> = (1..=u16::MAX).filter(|&l| seen[l as usize]).collect();
    // One pass: counts per label of a, of b and of both.
    let counts = a
        .data()
        .par_iter()
        .zip(b.data().par_iter())
        .fold(std::collections::HashMap::<u16, [usize; 3]>::new, |mut m, (&x, &y)| {
            if x != 0 {
                m.entry(x).or_default()[0] += 1;
            }
            if y != 0 {
                m.entry(y).or_default()[1] += 1;
            }
            if x != 0 && x == y {
                m.entry(x).or_default()[2] += 1;
            }
            m
        })
        .reduce(std::collections::HashMap::new, |mut a, b| {
            for (k, v) in b {
                let e = a.entry(k).or_default();
                for i in 0..3 {
                    e[i] += v[i];
                }
            }
            a
        });
    Ok(labels
        .into_iter()
        .map(|l| {
            let c = counts.get(&l).copied().unwrap_or([0; 3]);
            let d = if c[0] + c[1] == 0 { 1.0 } else { 2.0 * c[2] as f64 / (c[0] + c[1]) as f64 };
            LabelDice { label: l, dice: d }
        })
        .collect())
}

/// The Jacobian determinant of `transform` at every voxel of a grid (the transform is sampled
/// as a displacement field there, then differentiated as [`jacobian_determinant`] does).
pub fn jacobian_map(
    transform: &dyn Transform,
    dims: [usize; 3],
    geometry: &Geometry,
) -> Result<Volume<f32>, RegisterError> {
    let f = sample_transform(transform, dims, geometry)?;
    Ok(jacobian_determinant(&f)?)
}

/// Jacobian statistics of `transform` on a grid, optionally only inside `mask`.
pub fn jacobian_summary(
    transform: &dyn Transform,
    dims: [usize; 3],
    geometry: &Geometry,
    mask: Option<&Volume<u8>>,
) -> Result<JacobianStats, RegisterError> {
    let f = sample_transform(transform, dims, geometry)?;
    let Some(mask) = mask else { return Ok(jacobian_stats(&f)?) };
    let j = jacobian_determinant(&f)?;
    j.require_same_grid(mask)?;
    let vals: Vec<f64> =
        j.data().iter().zip(mask.data()).filter(|(_, &m)| m != 0).map(|(&v, _)| v as f64).collect();
    if vals.is_empty() {
        return Err(RegisterError::EmptyMask { which: "evaluation", detail: String::new() });
    }
    let n = vals.len() as f64;
    Ok(JacobianStats {
        min: vals.iter().copied().fold(f64::INFINITY, f64::min),
        max: vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: vals.iter().sum::<f64>() / n,
        folding_fraction: vals.iter().filter(|&&v| v <= 0.0).count() as f64 / n,
    })
}

/// Everything known about a registration's quality.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QualityReport {
    /// Target registration error on landmarks (mm), when landmarks were given.
    pub tre: Option<TreSummary>,
    /// Dice per label of the warped moving labels against the fixed labels, when given.
    pub dice: Vec<LabelDice>,
    /// Mean Dice over the labels (NaN without labels).
    pub mean_dice: f64,
    /// Jacobian determinant statistics of the transform on the fixed grid.
    pub jacobian: JacobianStats,
    /// Folding voxels (determinant ≤ 0), percent of the fixed grid.
    pub folding_percent: f64,
}

/// Measures a registration: TRE of `(fixed, moving)` landmark pairs (mm), Dice of the moving
/// labels warped onto the fixed grid (nearest neighbour) against the fixed labels, and the
/// Jacobian of the transform on the fixed grid.
pub fn assess(
    transform: &dyn Transform,
    dims: [usize; 3],
    geometry: &Geometry,
    landmarks: Option<(&[Vec3], &[Vec3])>,
    labels: Option<(&LabelVolume, &LabelVolume)>,
) -> Result<QualityReport, RegisterError> {
    let tre = match landmarks {
        Some((f, m)) => Some(tre(f, m, transform)?),
        None => None,
    };
    let dice = match labels {
        Some((fl, ml)) => {
            let warped = crate::apply::warp_labels(ml, transform, fl.dims(), fl.geometry())?;
            dice_per_label(fl, &warped)?
        }
        None => Vec::new(),
    };
    let mean_dice =
        if dice.is_empty() { f64::NAN } else { dice.iter().map(|d| d.dice).sum::<f64>() / dice.len() as f64 };
    let jacobian = jacobian_summary(transform, dims, geometry, None)?;
    let folding_percent = 100.0 * jacobian.folding_fraction;
    Ok(QualityReport { tre, dice, mean_dice, jacobian, folding_percent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_counts_overlap() {
        let g = Geometry::default();
        let a = LabelVolume::new(Volume::from_vec([6, 1, 1], g, vec![1u16, 1, 1, 2, 2, 0]).unwrap());
        let b = LabelVolume::new(Volume::from_vec([6, 1, 1], g, vec![1u16, 1, 0, 2, 3, 3]).unwrap());
        // Label 1: |A| = 3, |B| = 2, both 2 → 0.8.
        assert!((dice(&a, &b, 1).unwrap() - 0.8).abs() < 1e-12);
        let all = dice_per_label(&a, &b).unwrap();
        assert_eq!(all.iter().map(|d| d.label).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!((all[1].dice - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(all[2].dice, 0.0);
        assert_eq!(dice(&a, &b, 9).unwrap(), 1.0);
    }
}
