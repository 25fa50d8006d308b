//! Intensity transforms and statistics: window/level, clip, linear rescale, z-score,
//! percentiles and histograms.
//!
//! **NaN and infinities.** Statistics (the min/max of [`rescale`], the mean and standard
//! deviation of [`zscore`], [`percentiles`], [`histogram`]) use the finite voxels only: NaN
//! and ±∞ are skipped, so one bad voxel never poisons a whole image. Voxel-wise maps keep NaN
//! as NaN (f32 outputs) and treat ±∞ as ordinary very large values (a window or clip
//! saturates them).
//!
//! **Masks.** Where a mask is accepted it is a `Volume<u8>` on the same grid, non-zero =
//! inside; statistics then use the finite voxels inside the mask only.

use crate::ImgprocError;
use hounsfield_core::{Scalar, Volume};
use rayon::prelude::*;

/// How a window (centre, width) maps intensities to 0..1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WindowFunction {
    /// `(v − (c − w/2)) / w`, clamped to 0..1: the window covers exactly `[c − w/2, c + w/2]`.
    #[default]
    Linear,
    /// The DICOM linear VOI function (PS3.3 C.11.2.1.2.1):
    /// `((v − (c − 0.5)) / (w − 1) + 0.5)`, clamped to 0..1; needs `w ≥ 1`.
    DicomLinear,
}

/// A display window: centre (level) and width, in the image's intensity units (HU for CT).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Centre (level).
    pub center: f64,
    /// Width (> 0).
    pub width: f64,
    /// Mapping inside the window.
    pub function: WindowFunction,
}

impl Window {
    /// A [`WindowFunction::Linear`] window.
    pub fn new(center: f64, width: f64) -> Self {
        Self { center, width, function: WindowFunction::Linear }
    }

    /// Returns `(offset, scale)` with `out = clamp((v − offset) · scale, 0, 1)`.
    fn affine(&self) -> Result<(f64, f64), ImgprocError> {
        let bad = |reason: String| ImgprocError::Intensity { operation: "window", reason };
        if !self.center.is_finite() || !self.width.is_finite() {
            return Err(bad(format!("centre {} and width {} must be finite", self.center, self.width)));
        }
        match self.function {
            WindowFunction::Linear if self.width > 0.0 => {
                Ok((self.center - self.width / 2.0, 1.0 / self.width))
            }
            WindowFunction::DicomLinear if self.width > 1.0 => {
                let s = 1.0 / (self.width - 1.0);
                Ok((self.center - 0.5 - 0.5 * (self.width - 1.0), s))
            }
            WindowFunction::DicomLinear if self.width == 1.0 => {
                // PS3.3 C.11.2.1.2.1 allows w = 1: a step at c − 0.5.
                Ok((self.center - 0.5, f64::INFINITY))
            }
            _ => {
                Err(bad(format!("width must be positive (at least 1 for DICOM linear), got {}", self.width)))
            }
        }
    }
}

#[inline]
fn window_value(v: f64, offset: f64, scale: f64) -> f64 {
    let t = v - offset;
    // A step window (scale = ∞) maps 0·∞ to "above": PS3.3 puts x = c − 0.5 at the top.
    let x = if scale.is_infinite() {
        if t >= 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        t * scale
    };
    x.clamp(0.0, 1.0)
}

/// Window/level to 0..1 (f32). NaN voxels stay NaN.
pub fn window_level<T: Scalar>(vol: &Volume<T>, window: &Window) -> Result<Volume<f32>, ImgprocError> {
    let (o, s) = window.affine()?;
    Ok(par_map(vol, |v| {
        let v = v.to_f64();
        if v.is_nan() {
            f32::NAN
        } else {
            window_value(v, o, s) as f32
        }
    }))
}

/// Window/level to 0..255 (u8, rounded). NaN voxels become 0.
pub fn window_level_u8<T: Scalar>(vol: &Volume<T>, window: &Window) -> Result<Volume<u8>, ImgprocError> {
    let (o, s) = window.affine()?;
    Ok(par_map(vol, |v| {
        let v = v.to_f64();
        if v.is_nan() {
            0
        } else {
            (window_value(v, o, s) * 255.0).round() as u8
        }
    }))
}

/// Every voxel clamped to `[lo, hi]` (same voxel type). NaN stays NaN.
pub fn clip<T: Scalar>(vol: &Volume<T>, lo: f64, hi: f64) -> Result<Volume<T>, ImgprocError> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(ImgprocError::Intensity {
            operation: "clip",
            reason: format!("need lo <= hi, got [{lo}, {hi}]"),
        });
    }
    Ok(par_map(vol, |v| {
        let x = v.to_f64();
        if x.is_nan() {
            v
        } else if x < lo {
            T::from_f64(lo)
        } else if x > hi {
            T::from_f64(hi)
        } else {
            v
        }
    }))
}

/// Linear map of the finite intensity range `[min, max]` onto `[out_min, out_max]` (f32).
/// A constant image maps to `out_min`; NaN stays NaN. Fails when no voxel is finite.
pub fn rescale<T: Scalar>(vol: &Volume<T>, out_min: f64, out_max: f64) -> Result<Volume<f32>, ImgprocError> {
    let bad = |reason: String| ImgprocError::Intensity { operation: "rescale", reason };
    if !out_min.is_finite() || !out_max.is_finite() {
        return Err(bad(format!("output range [{out_min}, {out_max}] must be finite")));
    }
    let (lo, hi) = vol
        .data()
        .par_iter()
        .map(|v| v.to_f64())
        .filter(|v| v.is_finite())
        .fold(|| (f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
        .reduce(|| (f64::INFINITY, f64::NEG_INFINITY), |(a, b), (c, d)| (a.min(c), b.max(d)));
    if lo > hi {
        return Err(bad("no finite voxel".into()));
    }
    let scale = if hi > lo { (out_max - out_min) / (hi - lo) } else { 0.0 };
    Ok(par_map(vol, |v| {
        let x = v.to_f64();
        if x.is_nan() {
            f32::NAN
        } else {
            (out_min + (x - lo) * scale) as f32
        }
    }))
}

/// `(v − mean) / std` with the mean and population standard deviation (ddof = 0, numpy's
/// default) of the finite voxels, inside `mask` when given (all voxels are transformed).
/// NaN stays NaN. Fails when no voxel counts or the standard deviation is 0.
pub fn zscore<T: Scalar>(vol: &Volume<T>, mask: Option<&Volume<u8>>) -> Result<Volume<f32>, ImgprocError> {
    let bad = |reason: String| ImgprocError::Intensity { operation: "zscore", reason };
    check_mask(vol, mask, "zscore")?;
    // Two passes (mean, then squared deviations) for accuracy on CT ranges.
    let (n, sum) = masked_finite(vol, mask)
        .fold(|| (0usize, 0.0f64), |(n, s), v| (n + 1, s + v))
        .reduce(|| (0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    if n == 0 {
        return Err(bad("no finite voxel inside the mask".into()));
    }
    let mean = sum / n as f64;
    let ss: f64 = masked_finite(vol, mask).map(|v| (v - mean) * (v - mean)).sum();
    let std = (ss / n as f64).sqrt();
    if std == 0.0 || !std.is_finite() {
        return Err(bad(format!("standard deviation is {std}: the image is constant")));
    }
    let inv = 1.0 / std;
    Ok(par_map(vol, |v| ((v.to_f64() - mean) * inv) as f32))
}

/// Exact percentiles `qs` (each in 0..=100) of the finite voxels (inside `mask` when given),
/// with numpy's default `'linear'` definition: for sorted values `x` of length `n`, the
/// percentile `q` is `x[f] + (x[f+1] − x[f]) · (h − f)` with `h = q/100 · (n − 1)`,
/// `f = ⌊h⌋`. Fails when no voxel counts or a `q` is outside 0..=100.
pub fn percentiles<T: Scalar>(
    vol: &Volume<T>,
    qs: &[f64],
    mask: Option<&Volume<u8>>,
) -> Result<Vec<f64>, ImgprocError> {
    let bad = |reason: String| ImgprocError::Intensity { operation: "percentiles", reason };
    check_mask(vol, mask, "percentiles")?;
    if let Some(q) = qs.iter().find(|q| !(0.0..=100.0).contains(*q)) {
        return Err(bad(format!("percentile {q} is outside 0..=100")));
    }
    let mut vals: Vec<f64> = masked_finite(vol, mask).collect();
    if vals.is_empty() {
        return Err(bad("no finite voxel inside the mask".into()));
    }
    let n = vals.len();
    // Order the ranks needed and select them left to right: each selection only searches the
    // part right of the previous one (expected O(n · distinct ranks), no full sort).
    // numpy's virtual index for method 'linear' (alpha = beta = 1): n·q + (1 − q) − 1.
    let virtual_index = |q: f64| {
        let q = q / 100.0;
        (n as f64 * q + (1.0 - q) - 1.0).clamp(0.0, (n - 1) as f64)
    };
    let mut ranks: Vec<usize> = Vec::with_capacity(2 * qs.len());
    for &q in qs {
        let h = virtual_index(q);
        let f = h.floor() as usize;
        ranks.push(f.min(n - 1));
        ranks.push((f + 1).min(n - 1));
    }
    ranks.sort_unstable();
    ranks.dedup();
    let mut lo = 0;
    for &r in &ranks {
        // Everything right of a selected rank is ≥ it, so the next search starts after it
        // and never disturbs it.
        vals[lo..].select_nth_unstable_by(r - lo, f64::total_cmp);
        lo = r + 1;
    }
    Ok(qs
        .iter()
        .map(|&q| {
            let h = virtual_index(q);
            let f = (h.floor() as usize).min(n - 1);
            let c = (f + 1).min(n - 1);
            let (a, b) = (vals[f], vals[c]);
            // numpy's `_lerp`: a + (b − a)·t, evaluated from the nearer end for t ≥ 0.5.
            let t = h - f as f64;
            let d = b - a;
            if t >= 0.5 {
                b - d * (1.0 - t)
            } else {
                a + d * t
            }
        })
        .collect())
}

/// Bin edges and counts of a histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `bins + 1` edges, equally spaced from the range's low to high end.
    pub edges: Vec<f64>,
    /// Voxel count per bin.
    pub counts: Vec<u64>,
}

/// Histogram of the finite voxels (inside `mask` when given) with `bins` equal bins over
/// `range` (default: the finite min..max), exactly as `numpy.histogram`: bins are half-open
/// `[e_i, e_{i+1})` except the last, which includes its upper edge; voxels outside the range
/// are not counted; a constant image with no range gets the range `[v − 0.5, v + 0.5]`.
/// Values and edges are f64 (numpy on a float32 array computes edges in float32 and can put
/// a value lying on an edge in the neighbouring bin).
pub fn histogram<T: Scalar>(
    vol: &Volume<T>,
    bins: usize,
    range: Option<(f64, f64)>,
    mask: Option<&Volume<u8>>,
) -> Result<Histogram, ImgprocError> {
    let bad = |reason: String| ImgprocError::Intensity { operation: "histogram", reason };
    check_mask(vol, mask, "histogram")?;
    // Each worker thread keeps its own counts, so the bin count is bounded (8 MiB each).
    if bins == 0 || bins > 1 << 20 {
        return Err(bad(format!("bin count {bins} is outside 1..=1048576")));
    }
    let (mut lo, mut hi) = match range {
        Some((lo, hi)) => {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(bad(format!("range [{lo}, {hi}] must be finite with lo <= hi")));
            }
            (lo, hi)
        }
        None => masked_finite(vol, mask)
            .fold(|| (f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
            .reduce(|| (f64::INFINITY, f64::NEG_INFINITY), |(a, b), (c, d)| (a.min(c), b.max(d))),
    };
    if lo > hi {
        // No finite voxel and no range: numpy uses [0, 1].
        (lo, hi) = (0.0, 1.0);
    }
    if lo == hi {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    // numpy.linspace(lo, hi, bins + 1).
    let step = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| if i == bins { hi } else { lo + i as f64 * step }).collect();
    let counts = masked_finite(vol, mask)
        .fold(
            || vec![0u64; bins],
            |mut c, v| {
                if v >= lo && v <= hi {
                    // numpy/lib/_histograms_impl.py: scaled index, then corrected against
                    // the actual edges so rounding never puts a value in the wrong bin.
                    let mut i = (((v - lo) / (hi - lo) * bins as f64) as usize).min(bins - 1);
                    if v < edges[i] {
                        i -= 1;
                    } else if i + 1 < bins && v >= edges[i + 1] {
                        i += 1;
                    }
                    c[i] += 1;
                }
                c
            },
        )
        .reduce(
            || vec![0u64; bins],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    Ok(Histogram { edges, counts })
}

/// Fails unless `mask` (when given) shares the image's grid.
pub(crate) fn check_mask<T>(
    vol: &Volume<T>,
    mask: Option<&Volume<u8>>,
    operation: &'static str,
) -> Result<(), ImgprocError> {
    match mask {
        Some(m) => {
            vol.require_same_grid(m).map_err(|e| ImgprocError::MaskGrid { operation, reason: e.to_string() })
        }
        None => Ok(()),
    }
}

/// The finite voxel values (as f64) inside `mask` (all voxels when `None`), in parallel.
fn masked_finite<'a, T: Scalar>(
    vol: &'a Volume<T>,
    mask: Option<&'a Volume<u8>>,
) -> impl ParallelIterator<Item = f64> + 'a {
    let data = vol.data();
    let m: Option<&'a [u8]> = mask.map(|m| m.data());
    data.par_iter().enumerate().filter_map(move |(i, v)| {
        let inside = m.is_none_or(|m| m[i] != 0);
        let x = v.to_f64();
        (inside && x.is_finite()).then_some(x)
    })
}

/// Applies `f` to every voxel in parallel, keeping the grid.
fn par_map<T: Scalar, U: Send>(vol: &Volume<T>, f: impl Fn(T) -> U + Sync) -> Volume<U> {
    let out: Vec<U> = vol.data().par_iter().map(|&v| f(v)).collect();
    Volume::from_vec(vol.dims(), *vol.geometry(), out).unwrap_or_else(|_| unreachable!("same length"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn vol(v: Vec<f32>) -> Volume<f32> {
        Volume::from_vec([v.len(), 1, 1], Geometry::default(), v).unwrap()
    }

    #[test]
    fn window_maps_edges_and_nan() {
        let v = vol(vec![-1000.0, 40.0 - 200.0, 40.0, 240.0, 3000.0, f32::NAN, f32::INFINITY]);
        let w = window_level(&v, &Window::new(40.0, 400.0)).unwrap();
        assert_eq!(&w.data()[..5], &[0.0, 0.0, 0.5, 1.0, 1.0]);
        assert!(w.data()[5].is_nan());
        assert_eq!(w.data()[6], 1.0);
        let u = window_level_u8(&v, &Window::new(40.0, 400.0)).unwrap();
        assert_eq!(u.data(), &[0, 0, 128, 255, 255, 0, 255]);
        assert!(window_level(&v, &Window::new(0.0, 0.0)).is_err());
        // DICOM PS3.3 C.11.2.1.2.1: c = 40, w = 400 maps 40 − 0.5 − 199.5 = −160 to 0 and
        // −160 + 399 = 239 to 1.
        let dw = Window { center: 40.0, width: 400.0, function: WindowFunction::DicomLinear };
        let d = window_level(&vol(vec![-160.0, 239.0, 39.5]), &dw).unwrap();
        assert_eq!(d.data(), &[0.0, 1.0, 0.5]);
    }

    #[test]
    fn clip_and_rescale() {
        let v = vol(vec![-5.0, 0.0, 5.0, f32::NAN, 10.0]);
        let c = clip(&v, -1.0, 6.0).unwrap();
        assert_eq!(&c.data()[..3], &[-1.0, 0.0, 5.0]);
        assert!(c.data()[3].is_nan());
        assert!(clip(&v, 2.0, 1.0).is_err());
        let r = rescale(&v, 0.0, 1.0).unwrap();
        assert_eq!(r.data()[0], 0.0);
        assert_eq!(r.data()[4], 1.0);
        assert!((r.data()[2] - 2.0 / 3.0).abs() < 1e-7);
        let i = Volume::from_vec([3, 1, 1], Geometry::default(), vec![0i16, 100, 300]).unwrap();
        assert_eq!(clip(&i, 50.0, 200.0).unwrap().data(), &[50, 100, 200]);
        assert!(rescale(&vol(vec![f32::NAN]), 0.0, 1.0).is_err());
    }

    #[test]
    fn zscore_with_mask() {
        let v = vol(vec![1.0, 2.0, 3.0, 100.0, f32::NAN]);
        let m = Volume::from_vec([5, 1, 1], Geometry::default(), vec![1u8, 1, 1, 0, 1]).unwrap();
        let z = zscore(&v, Some(&m)).unwrap();
        let std = (2.0f64 / 3.0).sqrt();
        // 1e-6: f32 output of an f64 computation.
        assert!((z.data()[0] as f64 + 1.0 / std).abs() < 1e-6);
        assert!(z.data()[1].abs() < 1e-7);
        assert!((z.data()[3] as f64 - 98.0 / std).abs() < 1e-4);
        assert!(z.data()[4].is_nan());
        assert!(zscore(&vol(vec![2.0, 2.0]), None).is_err());
        let wrong = Volume::from_vec([4, 1, 1], Geometry::default(), vec![1u8; 4]).unwrap();
        assert!(matches!(zscore(&v, Some(&wrong)), Err(ImgprocError::MaskGrid { .. })));
    }

    #[test]
    fn percentiles_follow_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 100]) = [1, 2, 3, 7.6, 10].
        // (Several ranks are selected one after another: each must stay in place.)
        let v = vol(vec![10.0, 3.0, f32::NAN, 1.0, 4.0, 2.0, f32::NEG_INFINITY]);
        let p = percentiles(&v, &[0.0, 25.0, 50.0, 90.0, 100.0], None).unwrap();
        let want = [1.0, 2.0, 3.0, 7.6, 10.0];
        for (a, b) in p.iter().zip(want) {
            // 1e-12: one interpolation in f64.
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
        assert!(percentiles(&v, &[101.0], None).is_err());
        assert!(percentiles(&vol(vec![f32::NAN]), &[50.0], None).is_err());
    }

    #[test]
    fn histogram_follows_numpy() {
        // numpy.histogram([0, 1, 1, 2, 3, 3, 3], bins=3) = ([1, 2, 4], [0, 1, 2, 3]).
        let v = vol(vec![0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0, f32::NAN]);
        let h = histogram(&v, 3, None, None).unwrap();
        assert_eq!(h.counts, vec![1, 2, 4]);
        assert_eq!(h.edges, vec![0.0, 1.0, 2.0, 3.0]);
        let h = histogram(&v, 2, Some((0.5, 2.0)), None).unwrap();
        assert_eq!(h.counts, vec![2, 1]);
        let c = histogram(&vol(vec![5.0, 5.0]), 2, None, None).unwrap();
        assert_eq!(c.edges, vec![4.5, 5.0, 5.5]);
        assert_eq!(c.counts, vec![0, 2]);
        assert!(histogram(&v, 0, None, None).is_err());
    }
}
