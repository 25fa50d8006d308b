//! Intensity thresholds: fixed ranges with CT presets, Otsu's threshold and multi-level Otsu,
//! as scikit-image computes them.

use hounsfield_core::{LabelVolume, Scalar, Volume};
use hounsfield_imgproc::intensity::histogram;
use rayon::prelude::*;

use crate::error::{invalid, SegmentError};

/// Hounsfield-unit ranges of tissue classes on CT (inclusive bounds).
///
/// | preset | HU range | why |
/// |---|---|---|
/// | `Air` | < −950 | below aerated lung; −950 is the usual emphysema cut-off (Gevenois 1996) |
/// | `Lung` | −950 … −500 | aerated parenchyma (−900…−800 at inspiration) without vessels and consolidation |
/// | `Fat` | −190 … −30 | adipose tissue, the body-composition standard (Mitsiopoulos et al., J Appl Physiol 1998) |
/// | `SoftTissue` | −29 … 150 | skeletal muscle and parenchymal organs (same protocol) |
/// | `Bone` | ≥ 200 | cancellous (+300…+400) and cortical bone, above contrast-free soft tissue |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CtPreset {
    /// Air (outside the body, airways, bowel gas).
    Air,
    /// Aerated lung (the default).
    #[default]
    Lung,
    /// Adipose tissue.
    Fat,
    /// Muscle and parenchymal organs.
    SoftTissue,
    /// Bone.
    Bone,
}

impl CtPreset {
    /// Every preset.
    pub const ALL: [CtPreset; 5] =
        [CtPreset::Air, CtPreset::Lung, CtPreset::Fat, CtPreset::SoftTissue, CtPreset::Bone];

    /// The inclusive HU range (`±∞` for open ends).
    pub const fn range_hu(self) -> (f64, f64) {
        match self {
            // Half-open below −950 (HU are integers in DICOM; −950.5 keeps −950 in `Lung`).
            CtPreset::Air => (f64::NEG_INFINITY, -950.5),
            CtPreset::Lung => (-950.0, -500.0),
            CtPreset::Fat => (-190.0, -30.0),
            CtPreset::SoftTissue => (-29.0, 150.0),
            CtPreset::Bone => (200.0, f64::INFINITY),
        }
    }

    /// Lower-case name (`"soft-tissue"`).
    pub const fn name(self) -> &'static str {
        match self {
            CtPreset::Air => "air",
            CtPreset::Lung => "lung",
            CtPreset::Fat => "fat",
            CtPreset::SoftTissue => "soft-tissue",
            CtPreset::Bone => "bone",
        }
    }
}

/// A 0/1 mask of the voxels with `lower ≤ v ≤ upper` (NaN is never inside).
pub fn threshold<T: Scalar>(vol: &Volume<T>, lower: f64, upper: f64) -> Result<Volume<u8>, SegmentError> {
    if lower.is_nan() || upper.is_nan() || lower > upper {
        return Err(invalid("threshold", format!("range [{lower}, {upper}] is empty")));
    }
    let data: Vec<u8> = vol
        .data()
        .par_iter()
        .map(|v| {
            let v = v.to_f64();
            u8::from(v >= lower && v <= upper)
        })
        .collect();
    Ok(vol.with_data(data)?)
}

/// Labels every voxel with the 1-based index of the first preset whose range holds it
/// (0 when none does): `classify_presets(ct, &[Lung, Fat, SoftTissue, Bone])` labels lung 1,
/// fat 2, soft tissue 3 and bone 4.
pub fn classify_presets<T: Scalar>(
    vol: &Volume<T>,
    presets: &[CtPreset],
) -> Result<LabelVolume, SegmentError> {
    if presets.is_empty() {
        return Err(invalid("presets", "at least one preset"));
    }
    let ranges: Vec<(f64, f64)> = presets.iter().map(|p| p.range_hu()).collect();
    let data: Vec<u16> = vol
        .data()
        .par_iter()
        .map(|v| {
            let v = v.to_f64();
            ranges.iter().position(|&(lo, hi)| v >= lo && v <= hi).map_or(0, |i| i as u16 + 1)
        })
        .collect();
    Ok(LabelVolume::new(vol.with_data(data)?))
}

/// Otsu's threshold (Otsu 1979) of the finite voxels (inside `mask` when given), computed as
/// scikit-image's `threshold_otsu(image, nbins)`: a `bins`-bin histogram over min..max, the
/// between-class variance for every split, and the centre of the bin that maximises it (first
/// maximum). Foreground is `v > threshold`. A constant image returns its value.
pub fn otsu<T: Scalar>(vol: &Volume<T>, bins: usize, mask: Option<&Volume<u8>>) -> Result<f64, SegmentError> {
    let (counts, centers) = hist(vol, bins, mask)?;
    if centers.len() < 2 || counts.iter().filter(|&&c| c > 0.0).count() < 2 {
        return Ok(constant_value(&counts, &centers));
    }
    let n = counts.len();
    let mut w1 = vec![0.0; n];
    let mut m1 = vec![0.0; n];
    let (mut s0, mut s1) = (0.0, 0.0);
    for i in 0..n {
        s0 += counts[i];
        s1 += counts[i] * centers[i];
        w1[i] = s0;
        m1[i] = if s0 > 0.0 { s1 / s0 } else { f64::NAN };
    }
    let mut w2 = vec![0.0; n];
    let mut m2 = vec![0.0; n];
    let (mut s0, mut s1) = (0.0, 0.0);
    for i in (0..n).rev() {
        s0 += counts[i];
        s1 += counts[i] * centers[i];
        w2[i] = s0;
        m2[i] = if s0 > 0.0 { s1 / s0 } else { f64::NAN };
    }
    // variance12[i] = w1[i] · w2[i+1] · (m1[i] − m2[i+1])², split after bin i; NaN (an empty
    // side) never wins, as in numpy's argmax over the finite values that matter here.
    let mut best = (0, f64::NEG_INFINITY);
    for i in 0..n - 1 {
        let v = w1[i] * w2[i + 1] * (m1[i] - m2[i + 1]).powi(2);
        if v > best.1 {
            best = (i, v);
        }
    }
    Ok(centers[best.0])
}

/// Otsu's threshold and the mask of `v > threshold` (the foreground, 1).
pub fn otsu_mask<T: Scalar>(
    vol: &Volume<T>,
    bins: usize,
    mask: Option<&Volume<u8>>,
) -> Result<(f64, Volume<u8>), SegmentError> {
    let t = otsu(vol, bins, mask)?;
    let data: Vec<u8> = vol.data().par_iter().map(|v| u8::from(v.to_f64() > t)).collect();
    Ok((t, vol.with_data(data)?))
}

/// Multi-level Otsu thresholds (Liao, Chen & Chung 2001) splitting the voxels into `classes`
/// classes (2..=10), as scikit-image's `threshold_multiotsu(image, classes, nbins)`: the
/// `classes − 1` bin centres that maximise the between-class variance of a `bins`-bin
/// histogram, found exactly by dynamic programming over the bins (O(classes · bins²)).
/// Voxels are classified with [`classify`].
pub fn multi_otsu<T: Scalar>(
    vol: &Volume<T>,
    classes: usize,
    bins: usize,
    mask: Option<&Volume<u8>>,
) -> Result<Vec<f64>, SegmentError> {
    if !(2..=10).contains(&classes) {
        return Err(invalid("classes", format!("{classes} is outside 2..=10")));
    }
    let (counts, centers) = hist(vol, bins, mask)?;
    let occupied = counts.iter().filter(|&&c| c > 0.0).count();
    if occupied < classes {
        return Err(SegmentError::Empty(format!(
            "{occupied} distinct intensity bins cannot be split into {classes} classes"
        )));
    }
    let n = counts.len();
    // Cumulative zeroth and first moments: class (a..=b) has S0 = c0[b+1] − c0[a].
    let mut c0 = vec![0.0; n + 1];
    let mut c1 = vec![0.0; n + 1];
    for i in 0..n {
        c0[i + 1] = c0[i] + counts[i];
        c1[i + 1] = c1[i] + counts[i] * centers[i];
    }
    let cost = |a: usize, b: usize| {
        let s0 = c0[b + 1] - c0[a];
        let s1 = c1[b + 1] - c1[a];
        if s0 > 0.0 {
            s1 * s1 / s0
        } else {
            0.0
        }
    };
    // best[k][j]: the best sum over k+1 classes covering bins 0..=j; arg[k][j]: where the
    // last class starts minus one.
    let mut best = vec![vec![f64::NEG_INFINITY; n]; classes];
    let mut arg = vec![vec![0usize; n]; classes];
    for (j, b) in best[0].iter_mut().enumerate() {
        *b = cost(0, j);
    }
    for k in 1..classes {
        for j in k..n {
            for i in (k - 1)..j {
                let v = best[k - 1][i] + cost(i + 1, j);
                if v > best[k][j] {
                    best[k][j] = v;
                    arg[k][j] = i;
                }
            }
        }
    }
    let mut idx = vec![0usize; classes - 1];
    let mut j = n - 1;
    for k in (1..classes).rev() {
        j = arg[k][j];
        idx[k - 1] = j;
    }
    Ok(idx.into_iter().map(|i| centers[i]).collect())
}

/// Labels each voxel with the number of thresholds `t ≤ v` (ascending thresholds; NaN → 0),
/// as `numpy.digitize(image, thresholds)`: labels 0..=thresholds.len(), 0 being the darkest
/// class.
pub fn classify<T: Scalar>(vol: &Volume<T>, thresholds: &[f64]) -> Result<LabelVolume, SegmentError> {
    if thresholds.windows(2).any(|w| w[0] > w[1]) || thresholds.iter().any(|t| t.is_nan()) {
        return Err(invalid("thresholds", "must be ascending numbers"));
    }
    let data: Vec<u16> = vol
        .data()
        .par_iter()
        .map(|v| {
            let v = v.to_f64();
            if v.is_nan() {
                0
            } else {
                thresholds.partition_point(|&t| t <= v) as u16
            }
        })
        .collect();
    Ok(LabelVolume::new(vol.with_data(data)?))
}

/// Counts (as f64) and bin centres of the histogram over the finite min..max.
fn hist<T: Scalar>(
    vol: &Volume<T>,
    bins: usize,
    mask: Option<&Volume<u8>>,
) -> Result<(Vec<f64>, Vec<f64>), SegmentError> {
    if !(2..=1 << 16).contains(&bins) {
        return Err(invalid("bins", format!("{bins} is outside 2..=65536")));
    }
    let h = histogram(vol, bins, None, mask)?;
    let total: u64 = h.counts.iter().sum();
    if total == 0 {
        return Err(SegmentError::Empty("no finite voxel (inside the mask)".into()));
    }
    let centers = h.edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
    Ok((h.counts.iter().map(|&c| c as f64).collect(), centers))
}

fn constant_value(counts: &[f64], centers: &[f64]) -> f64 {
    counts.iter().zip(centers).find(|(c, _)| **c > 0.0).map_or(0.0, |(_, &x)| x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn vol(v: Vec<f32>) -> Volume<f32> {
        Volume::from_vec([v.len(), 1, 1], Geometry::default(), v).unwrap()
    }

    #[test]
    fn presets_do_not_overlap() {
        for (i, a) in CtPreset::ALL.iter().enumerate() {
            for b in &CtPreset::ALL[i + 1..] {
                let (a0, a1) = a.range_hu();
                let (b0, b1) = b.range_hu();
                assert!(a1 < b0 || b1 < a0, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn otsu_splits_two_modes() {
        let mut v = vec![10.0f32; 100];
        v.extend(vec![200.0f32; 50]);
        let t = otsu(&vol(v), 256, None).unwrap();
        assert!(t > 10.0 && t < 200.0, "{t}");
    }

    #[test]
    fn multi_otsu_splits_three_modes() {
        let mut v = vec![0.0f32; 100];
        v.extend(vec![100.0f32; 100]);
        v.extend(vec![300.0f32; 100]);
        let t = multi_otsu(&vol(v.clone()), 3, 256, None).unwrap();
        assert!(t[0] >= 0.0 && t[0] < 100.0 && t[1] >= 100.0 && t[1] < 300.0, "{t:?}");
        let c = classify(&vol(v), &t).unwrap();
        assert_eq!(c.labels(), vec![1, 2]);
    }
}
