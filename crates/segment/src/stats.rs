//! Per-label statistics: volume (mL) and intensity summary of an image inside each label.

use hounsfield_core::{LabelVolume, Scalar, Volume};

use crate::error::SegmentError;

/// Statistics of one label.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LabelStatistics {
    /// The label value.
    pub label: u16,
    /// Voxel count.
    pub voxels: u64,
    /// Volume in mL (voxel count × voxel volume).
    pub volume_ml: f64,
    /// Mean intensity (NaN voxels skipped; HU on CT).
    pub mean: f64,
    /// Standard deviation (population).
    pub sd: f64,
    /// Minimum intensity.
    pub min: f64,
    /// Maximum intensity.
    pub max: f64,
}

/// Volume and intensity statistics of `image` inside each non-zero label of `labels`
/// (same grid), ascending by label. Without an image, the intensity fields are NaN.
pub fn label_statistics<T: Scalar>(
    labels: &LabelVolume,
    image: Option<&Volume<T>>,
) -> Result<Vec<LabelStatistics>, SegmentError> {
    if let Some(img) = image {
        img.require_same_grid(labels.as_volume())?;
    }
    #[derive(Clone, Copy)]
    struct Acc {
        voxels: u64,
        n: u64,
        sum: f64,
        sum2: f64,
        min: f64,
        max: f64,
    }
    let empty = Acc { voxels: 0, n: 0, sum: 0.0, sum2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY };
    let mut acc = vec![empty; 1 << 16];
    for (o, &l) in labels.data().iter().enumerate() {
        if l == 0 {
            continue;
        }
        let a = &mut acc[l as usize];
        a.voxels += 1;
        if let Some(img) = image {
            let v = img.data()[o].to_f64();
            if !v.is_nan() {
                a.n += 1;
                a.sum += v;
                a.sum2 += v * v;
                a.min = a.min.min(v);
                a.max = a.max.max(v);
            }
        }
    }
    let ml = labels.geometry().voxel_volume() / 1000.0;
    Ok(acc
        .iter()
        .enumerate()
        .filter(|(_, a)| a.voxels > 0)
        .map(|(l, a)| {
            let (mean, sd, min, max) = if a.n > 0 {
                let mean = a.sum / a.n as f64;
                (mean, (a.sum2 / a.n as f64 - mean * mean).max(0.0).sqrt(), a.min, a.max)
            } else {
                (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
            };
            LabelStatistics {
                label: l as u16,
                voxels: a.voxels,
                volume_ml: a.voxels as f64 * ml,
                mean,
                sd,
                min,
                max,
            }
        })
        .collect())
}
