//! Image-similarity metrics: MAE, MSE, RMSE, PSNR and SSIM.
//!
//! Conventions, stated once and used everywhere:
//! - Both images must be on the same grid (dimensions and geometry); NaN voxels in either image
//!   are excluded, as are voxels outside the optional mask.
//! - **PSNR** = 10·log10(R² / MSE) dB with the data range `R` given explicitly
//!   ([`DataRange::Fixed`], e.g. 1.0 for [0, 1] images or 4095 for 12-bit CT) or taken as
//!   max − min of the **reference** ([`DataRange::Reference`], scikit-image's default for float
//!   images is the dtype range, so pass the range explicitly when comparing with it).
//! - **SSIM** follows Wang et al. 2004 as scikit-image computes it with
//!   `gaussian_weights=True, sigma=1.5, use_sample_covariance=False` (K1 = 0.01, K2 = 0.03,
//!   Gaussian window truncated at 3.5σ, `reflect` boundary, mean over the interior that is at
//!   least the window's half-width away from every border). 2-D images (depth 1) are filtered
//!   in 2-D, volumes in 3-D, like scikit-image's n-D implementation.

use hounsfield_core::Volume;
use rayon::prelude::*;

use crate::MetricsError;

/// How the data range `R` of PSNR and SSIM is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum DataRange {
    /// max − min of the reference image (over the voxels compared).
    #[default]
    Reference,
    /// A fixed range, e.g. `1.0` or `4095.0`.
    Fixed(f64),
}

fn check<'a>(
    pred: &Volume<f32>,
    reference: &Volume<f32>,
    mask: Option<&'a Volume<u8>>,
) -> Result<Option<&'a [u8]>, MetricsError> {
    pred.require_same_grid(reference)?;
    if let Some(m) = mask {
        pred.require_same_grid(m)?;
    }
    Ok(mask.map(|m| m.data()))
}

/// Sums of |d|, d² and the count over the compared voxels.
fn diff_sums(pred: &Volume<f32>, reference: &Volume<f32>, mask: Option<&[u8]>) -> (f64, f64, usize) {
    let (p, r) = (pred.data(), reference.data());
    (0..p.len())
        .into_par_iter()
        .with_min_len(1 << 14)
        .filter(|&i| mask.is_none_or(|m| m[i] != 0) && !p[i].is_nan() && !r[i].is_nan())
        .map(|i| {
            let d = p[i] as f64 - r[i] as f64;
            (d.abs(), d * d, 1usize)
        })
        .reduce(|| (0.0, 0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
}

/// Mean absolute error (in the images' unit, e.g. HU).
pub fn mae(
    pred: &Volume<f32>,
    reference: &Volume<f32>,
    mask: Option<&Volume<u8>>,
) -> Result<f64, MetricsError> {
    let m = check(pred, reference, mask)?;
    let (a, _, n) = diff_sums(pred, reference, m);
    if n == 0 {
        return Err(MetricsError::Empty("no voxels to compare (mask empty or all NaN)"));
    }
    Ok(a / n as f64)
}

/// Mean squared error.
pub fn mse(
    pred: &Volume<f32>,
    reference: &Volume<f32>,
    mask: Option<&Volume<u8>>,
) -> Result<f64, MetricsError> {
    let m = check(pred, reference, mask)?;
    let (_, s, n) = diff_sums(pred, reference, m);
    if n == 0 {
        return Err(MetricsError::Empty("no voxels to compare (mask empty or all NaN)"));
    }
    Ok(s / n as f64)
}

/// Root mean squared error.
pub fn rmse(
    pred: &Volume<f32>,
    reference: &Volume<f32>,
    mask: Option<&Volume<u8>>,
) -> Result<f64, MetricsError> {
    Ok(mse(pred, reference, mask)?.sqrt())
}

fn reference_range(reference: &Volume<f32>, mask: Option<&[u8]>) -> f64 {
    let (lo, hi) = reference
        .data()
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_nan() && mask.is_none_or(|m| m[*i] != 0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, &v)| (lo.min(v as f64), hi.max(v as f64)));
    hi - lo
}

fn resolve_range(
    range: DataRange,
    reference: &Volume<f32>,
    mask: Option<&[u8]>,
) -> Result<f64, MetricsError> {
    let r = match range {
        DataRange::Fixed(r) => r,
        DataRange::Reference => reference_range(reference, mask),
    };
    if !(r.is_finite() && r > 0.0) {
        return Err(MetricsError::InvalidParameter {
            name: "data_range",
            reason: format!(
                "must be positive and finite, got {r} (a constant reference needs an explicit range)"
            ),
        });
    }
    Ok(r)
}

/// Peak signal-to-noise ratio in dB (infinite for identical images).
pub fn psnr(
    pred: &Volume<f32>,
    reference: &Volume<f32>,
    range: DataRange,
    mask: Option<&Volume<u8>>,
) -> Result<f64, MetricsError> {
    let m = check(pred, reference, mask)?;
    let r = resolve_range(range, reference, m)?;
    let e = mse(pred, reference, mask)?;
    Ok(10.0 * (r * r / e).log10())
}

/// Options of [`ssim`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SsimOptions {
    /// Data range `R` (C1 = (K1·R)², C2 = (K2·R)²).
    pub range: DataRange,
    /// Gaussian window σ in voxels (1.5 in Wang et al. 2004).
    pub sigma: f64,
    /// Window truncation in σ (scikit-image uses 3.5).
    pub truncate: f64,
}

impl Default for SsimOptions {
    fn default() -> Self {
        Self { range: DataRange::Reference, sigma: 1.5, truncate: 3.5 }
    }
}

fn gaussian_kernel(sigma: f64, truncate: f64) -> Vec<f64> {
    // scipy.ndimage.gaussian_filter1d: radius = int(truncate·σ + 0.5).
    let r = (truncate * sigma + 0.5) as i64;
    let mut k: Vec<f64> = (-r..=r).map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp()).collect();
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// scipy's `reflect` mode (d c b a | a b c d | d c b a): half-sample symmetric.
#[inline]
fn reflect(i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * n;
    let mut m = i.rem_euclid(period);
    if m >= n {
        m = period - 1 - m;
    }
    m as usize
}

/// Separable Gaussian filter along every axis of extent > 1, in place, f64.
fn filter(data: &mut [f64], dims: [usize; 3], k: &[f64]) {
    let r = (k.len() / 2) as i64;
    for axis in 0..3 {
        let n = dims[axis];
        if n <= 1 {
            continue;
        }
        let stride = [1, dims[0], dims[0] * dims[1]][axis];
        // Lines along `axis`: enumerate the starting offsets.
        let starts: Vec<usize> = (0..data.len()).filter(|&o| (o / stride) % n == 0).collect();
        let src = data.to_vec();
        let out: Vec<(usize, Vec<f64>)> = starts
            .par_iter()
            .map(|&s| {
                let line: Vec<f64> = (0..n).map(|i| src[s + i * stride]).collect();
                let filtered = (0..n as i64)
                    .map(|i| {
                        k.iter().enumerate().map(|(t, w)| w * line[reflect(i + t as i64 - r, n as i64)]).sum()
                    })
                    .collect();
                (s, filtered)
            })
            .collect();
        for (s, line) in out {
            for (i, v) in line.into_iter().enumerate() {
                data[s + i * stride] = v;
            }
        }
    }
}

/// Structural similarity (mean SSIM over the interior; see the module docs for the exact
/// definition). Both images must be on the same grid.
pub fn ssim(pred: &Volume<f32>, reference: &Volume<f32>, options: &SsimOptions) -> Result<f64, MetricsError> {
    pred.require_same_grid(reference)?;
    if !(options.sigma.is_finite() && options.sigma > 0.0 && options.truncate > 0.0) {
        return Err(MetricsError::InvalidParameter {
            name: "sigma",
            reason: format!(
                "σ and truncate must be positive, got {} and {}",
                options.sigma, options.truncate
            ),
        });
    }
    if pred.data().iter().chain(reference.data()).any(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite("ssim"));
    }
    let r = resolve_range(options.range, reference, None)?;
    let dims = pred.dims();
    let k = gaussian_kernel(options.sigma, options.truncate);
    let pad = k.len() / 2;
    for (a, &n) in dims.iter().enumerate() {
        if n > 1 && n < k.len() {
            return Err(MetricsError::InvalidParameter {
                name: "image size",
                reason: format!("axis {a} has {n} voxels, fewer than the {}-voxel SSIM window", k.len()),
            });
        }
    }
    let x: Vec<f64> = pred.data().iter().map(|&v| v as f64).collect();
    let y: Vec<f64> = reference.data().iter().map(|&v| v as f64).collect();
    let mut ux = x.clone();
    let mut uy = y.clone();
    let mut uxx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let mut uyy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let mut uxy: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    for buf in [&mut ux, &mut uy, &mut uxx, &mut uyy, &mut uxy] {
        filter(buf, dims, &k);
    }
    let (c1, c2) = ((0.01 * r).powi(2), (0.03 * r).powi(2));
    let lo = |a: usize| if dims[a] > 1 { pad } else { 0 };
    let hi = |a: usize| if dims[a] > 1 { dims[a] - pad } else { 1 };
    let mut sum = 0.0;
    let mut n = 0usize;
    for kz in lo(2)..hi(2) {
        for j in lo(1)..hi(1) {
            for i in lo(0)..hi(0) {
                let o = i + dims[0] * (j + dims[1] * kz);
                let (mx, my) = (ux[o], uy[o]);
                let vx = uxx[o] - mx * mx;
                let vy = uyy[o] - my * my;
                let vxy = uxy[o] - mx * my;
                sum +=
                    ((2.0 * mx * my + c1) * (2.0 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
                n += 1;
            }
        }
    }
    if n == 0 {
        return Err(MetricsError::Empty("image smaller than the SSIM window"));
    }
    Ok(sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn vol(dims: [usize; 3], f: impl Fn(usize) -> f32) -> Volume<f32> {
        Volume::from_vec(dims, Geometry::default(), (0..dims.iter().product()).map(f).collect()).unwrap()
    }

    #[test]
    fn error_metrics_by_hand() {
        let a = vol([4, 1, 1], |i| i as f32);
        let b = vol([4, 1, 1], |i| i as f32 + if i == 0 { 2.0 } else { 0.0 });
        assert_eq!(mae(&a, &b, None).unwrap(), 0.5);
        assert_eq!(mse(&a, &b, None).unwrap(), 1.0);
        // The reference is `b` = [2, 1, 2, 3]: range 2, mse 1 → 10·log10(4).
        assert!((psnr(&a, &b, DataRange::Reference, None).unwrap() - 10.0 * 4f64.log10()).abs() < 1e-12);
        let mask = Volume::from_vec([4, 1, 1], Geometry::default(), vec![0u8, 1, 1, 1]).unwrap();
        assert_eq!(mae(&a, &b, Some(&mask)).unwrap(), 0.0);
        assert!(psnr(&a, &a, DataRange::Fixed(1.0), None).unwrap().is_infinite());
    }

    #[test]
    fn ssim_of_identical_images_is_one_and_drops_with_noise() {
        let a = vol([32, 32, 1], |i| ((i % 32) as f32 * 0.3).sin() + ((i / 32) as f32 * 0.2).cos());
        // 1e-12: identical inputs give exactly 1 up to rounding in the filter sums.
        assert!((ssim(&a, &a, &SsimOptions::default()).unwrap() - 1.0).abs() < 1e-12);
        let b = vol([32, 32, 1], |i| a.data()[i] + if i % 3 == 0 { 0.5 } else { -0.25 });
        let s = ssim(&b, &a, &SsimOptions::default()).unwrap();
        assert!(s < 0.9 && s > 0.0, "{s}");
    }

    #[test]
    fn reflect_matches_scipy() {
        // scipy reflect for n = 3: index -1 → 0, -2 → 1, 3 → 2, 4 → 1.
        assert_eq!(
            [reflect(-1, 3), reflect(-2, 3), reflect(3, 3), reflect(4, 3), reflect(7, 3)],
            [0, 1, 2, 1, 1]
        );
    }

    #[test]
    fn grid_mismatch_and_bad_range_are_errors() {
        let a = vol([4, 1, 1], |i| i as f32);
        let b = vol([3, 1, 1], |i| i as f32);
        assert!(mae(&a, &b, None).is_err());
        let c = vol([4, 1, 1], |_| 1.0);
        assert!(psnr(&a, &c, DataRange::Reference, None).is_err());
    }
}
