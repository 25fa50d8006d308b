//! Segmentation quality per label, in millimetres: Dice, IoU, precision, recall, Hausdorff
//! distance and its 95th percentile, average symmetric surface distance, normalized surface
//! Dice at a tolerance, and volumes.
//!
//! # Definitions (identical to MONAI's)
//!
//! For each label `l`, `P` and `R` are the voxels labelled `l` in the prediction and the
//! reference.
//!
//! - **Dice** `2|P∩R| / (|P|+|R|)` and **IoU** `|P∩R| / |P∪R|`, as MONAI's `DiceMetric` and
//!   `MeanIoU` with their default `ignore_empty=True`: NaN when the reference is empty.
//! - **Precision** `|P∩R|/|P|` and **recall** `|P∩R|/|R|`: NaN when the denominator is 0
//!   (MONAI's `ConfusionMatrixMetric`).
//! - **Surfaces.** A surface voxel of a mask is a mask voxel with at least one of its 6 face
//!   neighbours outside the mask or outside the image (MONAI's `get_mask_edges`: scipy's
//!   `binary_erosion` with the cross structure and a zero border, XOR the mask). An axis of
//!   extent 1 is ignored, so a 2-D image uses 4 neighbours.
//! - **Surface distances** from each surface voxel of one mask to the nearest surface voxel of
//!   the other, in mm along the grid axes (spacing applied; direction cosines do not change
//!   distances). `d(P→R)` and `d(R→P)` are the two directed sets.
//! - **HD** `max(max d(P→R), max d(R→P))`; **HD95** `max(q95 d(P→R), q95 d(R→P))` with the
//!   linearly interpolated quantile (`torch.quantile`), as `HausdorffDistanceMetric(percentile=95)`.
//! - **ASSD** the mean of `d(P→R) ∪ d(R→P)` taken together, as
//!   `SurfaceDistanceMetric(symmetric=True)`.
//! - **NSD** at tolerance τ mm: `(#{d(P→R) ≤ τ} + #{d(R→P) ≤ τ}) / (|∂P| + |∂R|)`, as
//!   `SurfaceDiceMetric` with `use_subvoxels=False`.
//! - **Empty masks** (MONAI): both empty → HD, HD95, ASSD and NSD are NaN; exactly one empty →
//!   HD, HD95 and ASSD are +∞ and NSD is 0. In JSON, NaN and ∞ are written as `null`.
//!
//! Surface distances use a k-d tree over the other surface's voxels (exact nearest neighbour),
//! not a distance transform of the whole grid: the work grows with the surface area, not the
//! volume.

use std::collections::BTreeMap;

use hounsfield_core::{LabelVolume, Volume};
use rayon::prelude::*;

use crate::MetricsError;

/// Options of [`evaluate`].
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentationOptions {
    /// Labels to evaluate. `None` (default): every non-zero label of the reference; a label
    /// found only in the prediction is then an error (name it explicitly to evaluate it).
    pub labels: Option<Vec<u16>>,
    /// Tolerance of the normalized surface Dice, mm (default 1.0).
    pub nsd_tolerance_mm: f64,
    /// Percentile of the robust Hausdorff distance, 0..=100 (default 95).
    pub percentile: f64,
}

impl Default for SegmentationOptions {
    fn default() -> Self {
        Self { labels: None, nsd_tolerance_mm: 1.0, percentile: 95.0 }
    }
}

/// The metrics of one label. Distances in mm, volumes in mL; NaN and ∞ follow the module's
/// empty-mask conventions.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LabelMetrics {
    /// Dice coefficient.
    pub dice: f64,
    /// Intersection over union (Jaccard).
    pub iou: f64,
    /// Positive predictive value.
    pub precision: f64,
    /// Sensitivity.
    pub recall: f64,
    /// Hausdorff distance (mm).
    pub hd: f64,
    /// Hausdorff distance at the chosen percentile, 95 by default (mm).
    pub hd95: f64,
    /// Average symmetric surface distance (mm).
    pub assd: f64,
    /// Normalized surface Dice at the tolerance.
    pub nsd: f64,
    /// Predicted volume (mL).
    pub volume_pred_ml: f64,
    /// Reference volume (mL).
    pub volume_ref_ml: f64,
    /// Predicted minus reference volume (mL).
    pub volume_difference_ml: f64,
}

/// Metrics for every evaluated label.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SegmentationReport {
    /// Per label, keyed by the label value.
    pub labels: BTreeMap<u16, LabelMetrics>,
    /// The NSD tolerance used (mm).
    pub nsd_tolerance_mm: f64,
    /// The Hausdorff percentile used.
    pub percentile: f64,
}

/// Evaluates a predicted label map against a reference on the same grid (same dimensions,
/// origin, spacing and direction within 1e-4 mm; resample first if they differ).
pub fn evaluate(
    pred: &LabelVolume,
    reference: &LabelVolume,
    options: &SegmentationOptions,
) -> Result<SegmentationReport, MetricsError> {
    pred.require_same_grid(reference)?;
    if !(options.nsd_tolerance_mm.is_finite() && options.nsd_tolerance_mm >= 0.0) {
        return Err(MetricsError::InvalidParameter {
            name: "nsd_tolerance_mm",
            reason: format!("{} is not a finite distance ≥ 0", options.nsd_tolerance_mm),
        });
    }
    if !(0.0..=100.0).contains(&options.percentile) {
        return Err(MetricsError::InvalidParameter {
            name: "percentile",
            reason: format!("{} is outside 0..=100", options.percentile),
        });
    }
    let counts = Counts::of(pred.data(), reference.data());
    let labels = choose_labels(&counts, options.labels.as_deref())?;
    Ok(evaluate_labels(pred, reference, &counts, &labels, options))
}

/// [`evaluate`] for two binary masks (non-zero = foreground), with no label checks: any
/// combination of empty masks gives MONAI's values.
pub fn evaluate_masks(
    pred: &Volume<u8>,
    reference: &Volume<u8>,
    options: &SegmentationOptions,
) -> Result<LabelMetrics, MetricsError> {
    pred.require_same_grid(reference)?;
    let to_labels = |m: &Volume<u8>| LabelVolume::new(m.map(|&v| u16::from(v != 0)));
    let (p, r) = (to_labels(pred), to_labels(reference));
    let counts = Counts::of(p.data(), r.data());
    let mut report = evaluate_labels(&p, &r, &counts, &[1], options);
    report.labels.remove(&1).ok_or(MetricsError::Empty("no label 1"))
}

fn evaluate_labels(
    pred: &LabelVolume,
    reference: &LabelVolume,
    counts: &Counts,
    labels: &[u16],
    options: &SegmentationOptions,
) -> SegmentationReport {
    let dims = pred.dims();
    let spacing = pred.geometry().spacing;
    let voxel_ml = pred.geometry().voxel_volume() / 1000.0;
    let mut out = BTreeMap::new();
    let surf_p = surfaces(pred.data(), dims, spacing, labels);
    let surf_r = surfaces(reference.data(), dims, spacing, labels);
    for (i, &l) in labels.iter().enumerate() {
        let (p, r, tp) = counts.get(l);
        let d = surface_distances(&surf_p[i], &surf_r[i], options);
        let ratio = |num: u64, den: u64| if den == 0 { f64::NAN } else { num as f64 / den as f64 };
        let union = p + r - tp;
        out.insert(
            l,
            LabelMetrics {
                dice: if r == 0 { f64::NAN } else { 2.0 * tp as f64 / (p + r) as f64 },
                iou: if r == 0 { f64::NAN } else { tp as f64 / union as f64 },
                precision: ratio(tp, p),
                recall: ratio(tp, r),
                hd: d.hd,
                hd95: d.hd_percentile,
                assd: d.assd,
                nsd: d.nsd,
                volume_pred_ml: p as f64 * voxel_ml,
                volume_ref_ml: r as f64 * voxel_ml,
                volume_difference_ml: (p as f64 - r as f64) * voxel_ml,
            },
        );
    }
    SegmentationReport {
        labels: out,
        nsd_tolerance_mm: options.nsd_tolerance_mm,
        percentile: options.percentile,
    }
}

/// Voxel counts per label value: predicted, reference, and both.
struct Counts {
    pred: Vec<u64>,
    reference: Vec<u64>,
    both: Vec<u64>,
}

impl Counts {
    fn of(pred: &[u16], reference: &[u16]) -> Self {
        let max = pred.par_iter().chain(reference.par_iter()).copied().max().unwrap_or(0) as usize;
        let n = max + 1;
        let zero = || Counts { pred: vec![0; n], reference: vec![0; n], both: vec![0; n] };
        pred.par_chunks(1 << 18)
            .zip(reference.par_chunks(1 << 18))
            .fold(zero, |mut c, (p, r)| {
                for (&a, &b) in p.iter().zip(r) {
                    c.pred[a as usize] += 1;
                    c.reference[b as usize] += 1;
                    if a == b {
                        c.both[a as usize] += 1;
                    }
                }
                c
            })
            .reduce(zero, |mut a, b| {
                for i in 0..n {
                    a.pred[i] += b.pred[i];
                    a.reference[i] += b.reference[i];
                    a.both[i] += b.both[i];
                }
                a
            })
    }

    /// The count of label `l` on each side (0 for labels above the maximum).
    fn get(&self, l: u16) -> (u64, u64, u64) {
        let i = l as usize;
        (
            self.pred.get(i).copied().unwrap_or(0),
            self.reference.get(i).copied().unwrap_or(0),
            self.both.get(i).copied().unwrap_or(0),
        )
    }
}

fn choose_labels(counts: &Counts, wanted: Option<&[u16]>) -> Result<Vec<u16>, MetricsError> {
    match wanted {
        Some(list) => {
            if list.is_empty() {
                return Err(MetricsError::InvalidParameter {
                    name: "labels",
                    reason: "empty label list".into(),
                });
            }
            for &l in list {
                if l == 0 {
                    return Err(MetricsError::InvalidParameter {
                        name: "labels",
                        reason: "label 0 is the background".into(),
                    });
                }
                if counts.get(l).0 == 0 && counts.get(l).1 == 0 {
                    return Err(MetricsError::LabelMissing { label: l, side: "prediction or reference" });
                }
            }
            let mut v = list.to_vec();
            v.sort_unstable();
            v.dedup();
            Ok(v)
        }
        None => {
            let max = (counts.pred.len() - 1) as u16;
            let only_pred: Vec<u16> =
                (1..=max).filter(|&l| counts.get(l).0 > 0 && counts.get(l).1 == 0).collect();
            if let Some(&l) = only_pred.first() {
                return Err(MetricsError::LabelMissing {
                    label: l,
                    side: "reference (it is only in the prediction)",
                });
            }
            let v: Vec<u16> = (1..=max).filter(|&l| counts.get(l).1 > 0).collect();
            if v.is_empty() {
                return Err(MetricsError::Empty("the reference has no foreground label"));
            }
            Ok(v)
        }
    }
}

/// Surface voxels of each of `labels` as points in mm (index × spacing), in raster order,
/// from one pass over the grid.
fn surfaces(data: &[u16], dims: [usize; 3], spacing: [f64; 3], labels: &[u16]) -> Vec<Vec<[f64; 3]>> {
    let [nx, ny, nz] = dims;
    let plane = nx * ny;
    // Slot of each label value in `labels` (u16::MAX = not wanted).
    let mut slot = vec![u16::MAX; 1 << 16];
    for (i, &l) in labels.iter().enumerate() {
        slot[l as usize] = i as u16;
    }
    let per_slice: Vec<Vec<Vec<[f64; 3]>>> = (0..nz)
        .into_par_iter()
        .map(|k| {
            let mut pts = vec![Vec::new(); labels.len()];
            for j in 0..ny {
                let row = k * plane + j * nx;
                for i in 0..nx {
                    let o = row + i;
                    let l = data[o];
                    let s = slot[l as usize];
                    if s == u16::MAX {
                        continue;
                    }
                    // Short-circuiting keeps every neighbour index inside the grid.
                    let edge = (nx > 1 && (i == 0 || i + 1 == nx || data[o - 1] != l || data[o + 1] != l))
                        || (ny > 1 && (j == 0 || j + 1 == ny || data[o - nx] != l || data[o + nx] != l))
                        || (nz > 1
                            && (k == 0 || k + 1 == nz || data[o - plane] != l || data[o + plane] != l));
                    if edge {
                        pts[s as usize].push([
                            i as f64 * spacing[0],
                            j as f64 * spacing[1],
                            k as f64 * spacing[2],
                        ]);
                    }
                }
            }
            pts
        })
        .collect();
    (0..labels.len()).map(|s| per_slice.iter().flat_map(|p| p[s].iter().copied()).collect()).collect()
}

struct SurfaceDistances {
    hd: f64,
    hd_percentile: f64,
    assd: f64,
    nsd: f64,
}

fn surface_distances(p: &[[f64; 3]], r: &[[f64; 3]], options: &SegmentationOptions) -> SurfaceDistances {
    match (p.is_empty(), r.is_empty()) {
        (true, true) => {
            return SurfaceDistances { hd: f64::NAN, hd_percentile: f64::NAN, assd: f64::NAN, nsd: f64::NAN };
        }
        (true, false) | (false, true) => {
            return SurfaceDistances {
                hd: f64::INFINITY,
                hd_percentile: f64::INFINITY,
                assd: f64::INFINITY,
                nsd: 0.0,
            };
        }
        _ => {}
    }
    let d_pr = nearest_distances(p, &KdTree::new(r.to_vec()));
    let d_rp = nearest_distances(r, &KdTree::new(p.to_vec()));
    let max = |d: &[f64]| d.iter().copied().fold(0.0f64, f64::max);
    let q = options.percentile / 100.0;
    let tol = options.nsd_tolerance_mm;
    let within = d_pr.iter().chain(&d_rp).filter(|&&d| d <= tol).count();
    let total = d_pr.len() + d_rp.len();
    let sum: f64 = d_pr.iter().chain(&d_rp).sum();
    SurfaceDistances {
        hd: max(&d_pr).max(max(&d_rp)),
        hd_percentile: quantile(d_pr, q).max(quantile(d_rp, q)),
        assd: sum / total as f64,
        nsd: within as f64 / total as f64,
    }
}

/// The `q`-quantile (0..=1) with linear interpolation between order statistics (numpy's and
/// torch's default). `d` must not be empty.
fn quantile(mut d: Vec<f64>, q: f64) -> f64 {
    let n = d.len();
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let (_, &mut a, upper) = d.select_nth_unstable_by(lo, f64::total_cmp);
    let b = if hi == lo { a } else { upper.iter().copied().fold(f64::INFINITY, f64::min) };
    a + (b - a) * (pos - lo as f64)
}

/// Distance from each query point to the nearest tree point. Queries come in raster order, so
/// each chunk starts its search with the previous answer as the bound.
fn nearest_distances(queries: &[[f64; 3]], tree: &KdTree) -> Vec<f64> {
    queries
        .par_chunks(1024)
        .flat_map_iter(|chunk| {
            let mut guess = 0usize;
            chunk
                .iter()
                .map(move |q| {
                    let (idx, d2) = tree.nearest(q, guess);
                    guess = idx;
                    d2.sqrt()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A static 3-D k-d tree stored implicitly: the node of a range is its middle element, split
/// on axis `depth % 3`.
struct KdTree {
    pts: Vec<[f64; 3]>,
}

impl KdTree {
    fn new(mut pts: Vec<[f64; 3]>) -> Self {
        build(&mut pts, 0);
        Self { pts }
    }

    /// Index and squared distance of the nearest point; `guess` seeds the bound.
    fn nearest(&self, q: &[f64; 3], guess: usize) -> (usize, f64) {
        let g = guess.min(self.pts.len() - 1);
        let mut best = (g, dist2(&self.pts[g], q));
        self.search(0, self.pts.len(), 0, q, &mut best);
        best
    }

    fn search(&self, lo: usize, hi: usize, depth: usize, q: &[f64; 3], best: &mut (usize, f64)) {
        if hi - lo <= 8 {
            for (i, p) in self.pts[lo..hi].iter().enumerate() {
                let d = dist2(p, q);
                if d < best.1 {
                    *best = (lo + i, d);
                }
            }
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let axis = depth % 3;
        let p = &self.pts[mid];
        let d = dist2(p, q);
        if d < best.1 {
            *best = (mid, d);
        }
        let diff = q[axis] - p[axis];
        let (near, far) = if diff < 0.0 { ((lo, mid), (mid + 1, hi)) } else { ((mid + 1, hi), (lo, mid)) };
        self.search(near.0, near.1, depth + 1, q, best);
        if diff * diff < best.1 {
            self.search(far.0, far.1, depth + 1, q, best);
        }
    }
}

fn build(pts: &mut [[f64; 3]], depth: usize) {
    if pts.len() <= 8 {
        return;
    }
    let axis = depth % 3;
    let mid = pts.len() / 2;
    pts.select_nth_unstable_by(mid, |a, b| a[axis].total_cmp(&b[axis]));
    let (left, right) = pts.split_at_mut(mid);
    if left.len() + right.len() > 1 << 14 {
        rayon::join(|| build(left, depth + 1), || build(&mut right[1..], depth + 1));
    } else {
        build(left, depth + 1);
        build(&mut right[1..], depth + 1);
    }
}

#[inline]
fn dist2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    x * x + y * y + z * z
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn labels(dims: [usize; 3], spacing: [f64; 3], f: impl Fn(usize, usize, usize) -> u16) -> LabelVolume {
        let mut v = Vec::with_capacity(dims.iter().product());
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    v.push(f(i, j, k));
                }
            }
        }
        let g = Geometry { spacing, ..Default::default() };
        LabelVolume::new(Volume::from_vec(dims, g, v).unwrap())
    }

    #[test]
    fn identical_masks_are_perfect() {
        let a = labels([20, 20, 20], [1.0, 1.0, 2.0], |i, j, k| {
            u16::from((5..15).contains(&i) && (4..12).contains(&j) && (3..9).contains(&k))
        });
        let r = evaluate(&a, &a, &SegmentationOptions::default()).unwrap();
        let m = &r.labels[&1];
        assert_eq!((m.dice, m.iou, m.hd, m.hd95, m.assd, m.nsd), (1.0, 1.0, 0.0, 0.0, 0.0, 1.0));
        assert!((m.volume_ref_ml - 10.0 * 8.0 * 6.0 * 2.0 / 1000.0).abs() < 1e-12);
    }

    #[test]
    fn shifted_box_has_known_distances() {
        // A 10³ box and the same box shifted by 3 voxels along x, spacing 2 mm along x: every
        // surface voxel of one has its nearest surface voxel of the other at most 3 voxels =
        // 6 mm away along x; the end faces are exactly 6 mm apart.
        let box_at = |x0: usize| {
            move |i: usize, j: usize, k: usize| {
                u16::from((x0..x0 + 10).contains(&i) && (5..15).contains(&j) && (5..15).contains(&k))
            }
        };
        let a = labels([30, 20, 20], [2.0, 1.0, 1.0], box_at(5));
        let b = labels([30, 20, 20], [2.0, 1.0, 1.0], box_at(8));
        let r = evaluate(&a, &b, &SegmentationOptions::default()).unwrap();
        let m = &r.labels[&1];
        assert!((m.dice - 0.7).abs() < 1e-12, "dice {}", m.dice);
        assert!((m.iou - 7.0 / 13.0).abs() < 1e-12);
        assert!((m.hd - 6.0).abs() < 1e-12, "hd {}", m.hd);
    }

    #[test]
    fn empty_conventions_follow_monai() {
        let a = labels([8, 8, 8], [1.0; 3], |i, _, _| u16::from(i < 4));
        let e = labels([8, 8, 8], [1.0; 3], |_, _, _| 0);
        let opts = SegmentationOptions { labels: Some(vec![1]), ..Default::default() };
        let m = evaluate(&e, &a, &opts).unwrap().labels[&1].clone();
        assert_eq!(m.dice, 0.0);
        assert!(m.hd.is_infinite() && m.hd95.is_infinite() && m.assd.is_infinite());
        assert_eq!(m.nsd, 0.0);
        let m = evaluate(&a, &e, &opts).unwrap().labels[&1].clone();
        assert!(m.dice.is_nan() && m.iou.is_nan() && m.hd.is_infinite());
        let m = evaluate_masks(
            &e.as_volume().map(|&v| v as u8),
            &e.as_volume().map(|&v| v as u8),
            &Default::default(),
        )
        .unwrap();
        assert!(m.dice.is_nan() && m.hd.is_nan() && m.nsd.is_nan());
    }

    #[test]
    fn label_only_in_prediction_is_refused_by_default() {
        let a = labels([8, 8, 8], [1.0; 3], |i, _, _| if i < 4 { 1 } else { 2 });
        let b = labels([8, 8, 8], [1.0; 3], |i, _, _| u16::from(i < 4));
        assert!(matches!(
            evaluate(&a, &b, &Default::default()),
            Err(MetricsError::LabelMissing { label: 2, .. })
        ));
        assert!(
            evaluate(&a, &b, &SegmentationOptions { labels: Some(vec![1, 2]), ..Default::default() }).is_ok()
        );
    }

    #[test]
    fn kd_tree_matches_brute_force() {
        let pts: Vec<[f64; 3]> = (0..500)
            .map(|i| {
                let t = i as f64;
                [(t * 0.37).sin() * 20.0, (t * 0.11).cos() * 15.0, (t * 0.05) % 7.0]
            })
            .collect();
        let tree = KdTree::new(pts.clone());
        for q in 0..200 {
            let t = q as f64 * 1.3;
            let query = [(t * 0.7).cos() * 25.0, (t * 0.2).sin() * 18.0, t % 9.0];
            let brute = pts.iter().map(|p| dist2(p, &query)).fold(f64::INFINITY, f64::min);
            assert_eq!(tree.nearest(&query, q).1, brute);
        }
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4, 10], 0.95) = 4 + 0.8 * 6 = 8.8
        assert!((quantile(vec![10.0, 2.0, 4.0, 1.0, 3.0], 0.95) - 8.8).abs() < 1e-12);
        assert_eq!(quantile(vec![5.0], 0.95), 5.0);
    }
}
