//! Similarity metrics with analytic derivatives: the [`SimilarityMetric`] trait and its four
//! implementations.
//!
//! A metric sees the fixed-image values at a set of sample points, the moving image's values
//! at the mapped points, and which samples map inside the moving image (and its mask). It
//! returns a **cost** (lower is better) and its derivative with respect to each moving value,
//! `∂C/∂m_i`; the registration engine turns those into parameter gradients through the
//! moving image's gradient and the transform's Jacobian
//! (`∂C/∂θ = Σ_i ∂C/∂m_i · ∇m_i · ∂T(p_i)/∂θ`), so every metric works with every transform.
//!
//! | metric | cost | range | for |
//! |---|---|---|---|
//! | [`MeanSquares`] | `mean (f − m)²` | ≥ 0 | same modality, same intensities |
//! | [`Correlation`] | `−⟨f̃, m̃⟩² / (‖f̃‖²‖m̃‖²)` (ITK v4 correlation) | −1…0 | same modality, linear intensity change |
//! | [`LocalCorrelation`] | `−mean_x CC_x`, CC over a window around each voxel (Avants 2008, ANTs `CC`) | −1…0 | same modality with bias fields; the dense method |
//! | [`MattesMutualInformation`] | `−MI` of a Parzen joint histogram (Mattes 2003) | ≤ 0 | different modalities (MR ↔ CT) |
//!
//! Mattes et al., "PET-CT image registration in the chest using free-form deformations",
//! IEEE TMI 22(1):120–128, 2003: a zero-order (box) Parzen window for fixed intensities, a
//! cubic B-spline window for moving ones, so the histogram is differentiable in `m`.
//! Avants et al., "Symmetric diffeomorphic image registration with cross-correlation", Med.
//! Image Anal. 12(1):26–41, 2008: the local correlation; its derivative here is exact (summed
//! over every window a voxel belongs to, by box filters), not the single-window
//! approximation.

use hounsfield_core::{check_alloc, Volume};
use rayon::prelude::*;

use crate::error::RegisterError;

/// Samples as a metric sees them.
#[derive(Clone, Copy, Debug)]
pub struct MetricInput<'a> {
    /// Fixed-image values.
    pub fixed: &'a [f32],
    /// Moving-image values at the mapped points (anything where `valid` is false).
    pub moving: &'a [f32],
    /// Whether sample `i` maps inside the moving image (and both masks).
    pub valid: &'a [bool],
    /// When the samples are every voxel of a grid (x-fastest), its dimensions: local metrics
    /// need them.
    pub grid: Option<[usize; 3]>,
}

/// A similarity measure between fixed and moving samples, as a cost with its derivative with
/// respect to each moving value (see the [module docs](self)).
pub trait SimilarityMetric: Send + Sync + std::fmt::Debug {
    /// Short name (`"mse"`, `"ncc"`, `"lncc"`, `"mi"`).
    fn name(&self) -> &'static str;

    /// True when samples must be every voxel of a grid ([`MetricInput::grid`]).
    fn needs_grid(&self) -> bool {
        false
    }

    /// The cost, and `∂cost/∂m_i` written to `derivative` (same length as the samples; 0 for
    /// invalid samples) when given. At least one sample must be valid.
    fn evaluate(&self, input: &MetricInput<'_>, derivative: Option<&mut [f64]>)
        -> Result<f64, RegisterError>;

    /// The cost with its derivatives with respect to the moving **and** the fixed values (the
    /// symmetric dense method moves both images). The default evaluates twice with the roles
    /// swapped, exact for metrics symmetric in their two images.
    fn evaluate_both(
        &self,
        input: &MetricInput<'_>,
        d_moving: &mut [f64],
        d_fixed: &mut [f64],
    ) -> Result<f64, RegisterError> {
        let c = self.evaluate(input, Some(d_moving))?;
        let swapped = MetricInput { fixed: input.moving, moving: input.fixed, ..*input };
        self.evaluate(&swapped, Some(d_fixed))?;
        Ok(c)
    }
}

/// Which metric, for options and the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetricKind {
    /// [`MeanSquares`].
    MeanSquares,
    /// [`Correlation`].
    Correlation,
    /// [`LocalCorrelation`].
    LocalCorrelation,
    /// [`MattesMutualInformation`] (the default: works within and across modalities, as
    /// elastix's and SimpleITK's examples use it).
    #[default]
    MattesMutualInformation,
}

impl MetricKind {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::MeanSquares => "mse",
            MetricKind::Correlation => "ncc",
            MetricKind::LocalCorrelation => "lncc",
            MetricKind::MattesMutualInformation => "mi",
        }
    }
}

/// Options of the metrics that have any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricOptions {
    /// Histogram bins of Mattes MI (default 32, elastix's default).
    pub histogram_bins: usize,
    /// Half-width of the local correlation window in voxels of each pyramid level (default 2:
    /// 5³ windows, ANTs' usual `CC[…, 2]`).
    pub lncc_radius: usize,
}

impl Default for MetricOptions {
    fn default() -> Self {
        Self { histogram_bins: 32, lncc_radius: 2 }
    }
}

/// Builds the metric of `kind` for a fixed/moving pair (MI takes its histogram ranges from
/// the two images).
pub fn build_metric(
    kind: MetricKind,
    opts: &MetricOptions,
    fixed: &Volume<f32>,
    moving: &Volume<f32>,
) -> Result<Box<dyn SimilarityMetric>, RegisterError> {
    Ok(match kind {
        MetricKind::MeanSquares => Box::new(MeanSquares),
        MetricKind::Correlation => Box::new(Correlation),
        MetricKind::LocalCorrelation => Box::new(LocalCorrelation::new(opts.lncc_radius, fixed.is_2d())),
        MetricKind::MattesMutualInformation => Box::new(MattesMutualInformation::new(
            opts.histogram_bins,
            finite_range(fixed),
            finite_range(moving),
        )?),
    })
}

/// `(min, max)` of the finite voxels (`(0, 0)` when none).
pub(crate) fn finite_range(v: &Volume<f32>) -> (f64, f64) {
    let (lo, hi) = v
        .data()
        .par_iter()
        .filter(|x| x.is_finite())
        .fold(|| (f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)))
        .reduce(|| (f32::INFINITY, f32::NEG_INFINITY), |(a, b), (c, d)| (a.min(c), b.max(d)));
    if lo.is_finite() {
        (lo as f64, hi as f64)
    } else {
        (0.0, 0.0)
    }
}

fn count_valid(valid: &[bool]) -> usize {
    valid.iter().filter(|&&v| v).count()
}

fn no_samples() -> RegisterError {
    RegisterError::NoOverlap { when: "in the metric".into(), valid: 0, total: 0, required: 1 }
}

/// Mean of squared differences.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeanSquares;

impl SimilarityMetric for MeanSquares {
    fn name(&self) -> &'static str {
        "mse"
    }

    fn evaluate(&self, s: &MetricInput<'_>, derivative: Option<&mut [f64]>) -> Result<f64, RegisterError> {
        let n = count_valid(s.valid);
        if n == 0 {
            return Err(no_samples());
        }
        let inv = 1.0 / n as f64;
        let sum: f64 = (0..s.fixed.len())
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&i| s.valid[i])
            .map(|i| {
                let d = s.fixed[i] as f64 - s.moving[i] as f64;
                d * d
            })
            .sum();
        if let Some(d) = derivative {
            d.par_iter_mut().enumerate().with_min_len(4096).for_each(|(i, out)| {
                *out = if s.valid[i] { -2.0 * (s.fixed[i] as f64 - s.moving[i] as f64) * inv } else { 0.0 };
            });
        }
        Ok(sum * inv)
    }
}

/// Squared normalized cross-correlation, negated (ITK `CorrelationImageToImageMetricv4`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Correlation;

impl SimilarityMetric for Correlation {
    fn name(&self) -> &'static str {
        "ncc"
    }

    fn evaluate(&self, s: &MetricInput<'_>, derivative: Option<&mut [f64]>) -> Result<f64, RegisterError> {
        let sums = (0..s.fixed.len())
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&i| s.valid[i])
            .fold(
                || [0.0f64; 6],
                |mut a, i| {
                    let (f, m) = (s.fixed[i] as f64, s.moving[i] as f64);
                    a[0] += 1.0;
                    a[1] += f;
                    a[2] += m;
                    a[3] += f * f;
                    a[4] += m * m;
                    a[5] += f * m;
                    a
                },
            )
            .reduce(|| [0.0; 6], |a, b| std::array::from_fn(|k| a[k] + b[k]));
        let [n, sf, sm, sff, smm, sfm] = sums;
        if n == 0.0 {
            return Err(no_samples());
        }
        let (fbar, mbar) = (sf / n, sm / n);
        let cfm = sfm - sf * mbar;
        let cff = sff - sf * fbar;
        let cmm = smm - sm * mbar;
        // A constant image carries no correlation: cost 0, no gradient.
        let degenerate = !(cff > 1e-12 * sff.abs().max(1e-300) && cmm > 1e-12 * smm.abs().max(1e-300));
        let value = if degenerate { 0.0 } else { -cfm * cfm / (cff * cmm) };
        if let Some(d) = derivative {
            let (a, b) = if degenerate {
                (0.0, 0.0)
            } else {
                (2.0 * cfm / (cff * cmm), 2.0 * cfm * cfm / (cff * cmm * cmm))
            };
            d.par_iter_mut().enumerate().with_min_len(4096).for_each(|(i, out)| {
                *out = if s.valid[i] {
                    -(a * (s.fixed[i] as f64 - fbar) - b * (s.moving[i] as f64 - mbar))
                } else {
                    0.0
                };
            });
        }
        Ok(value)
    }
}

/// Mattes mutual information (see the [module docs](self)), negated.
#[derive(Clone, Debug)]
pub struct MattesMutualInformation {
    bins: usize,
    fixed_min: f64,
    fixed_width: f64,
    moving_min: f64,
    moving_width: f64,
}

/// Bins of padding on each side of the histogram (the cubic window's support).
const PAD: usize = 2;

/// Cubic B-spline `β³(x)`.
#[inline]
fn bspline3(x: f64) -> f64 {
    let a = x.abs();
    if a < 1.0 {
        2.0 / 3.0 - a * a + 0.5 * a * a * a
    } else if a < 2.0 {
        let t = 2.0 - a;
        t * t * t / 6.0
    } else {
        0.0
    }
}

/// `β³'(x)`.
#[inline]
fn bspline3_deriv(x: f64) -> f64 {
    let a = x.abs();
    if a < 1.0 {
        -2.0 * x + 1.5 * x * a
    } else if a < 2.0 {
        -x.signum() * 0.5 * (2.0 - a) * (2.0 - a)
    } else {
        0.0
    }
}

impl MattesMutualInformation {
    /// `bins` histogram bins (at least 8) over the fixed and moving intensity ranges.
    pub fn new(
        bins: usize,
        fixed_range: (f64, f64),
        moving_range: (f64, f64),
    ) -> Result<Self, RegisterError> {
        if !(8..=1024).contains(&bins) {
            return Err(crate::error::invalid("histogram_bins", format!("{bins} is outside 8..=1024")));
        }
        let width = |(lo, hi): (f64, f64)| {
            let w = (hi - lo) / (bins - 2 * PAD) as f64;
            if w > 0.0 && w.is_finite() {
                w
            } else {
                1.0
            }
        };
        Ok(Self {
            bins,
            fixed_min: fixed_range.0,
            fixed_width: width(fixed_range),
            moving_min: moving_range.0,
            moving_width: width(moving_range),
        })
    }

    #[inline]
    fn fixed_bin(&self, f: f32) -> usize {
        let x = (f as f64 - self.fixed_min) / self.fixed_width;
        let hi = (self.bins - 2 * PAD - 1) as f64;
        (x.clamp(0.0, hi) as usize) + PAD
    }

    #[inline]
    fn moving_pos(&self, m: f32) -> f64 {
        let x = (m as f64 - self.moving_min) / self.moving_width;
        // Keep the window's four bins inside the padded histogram.
        x.clamp(0.0, (self.bins - 2 * PAD) as f64 - 1e-9) + PAD as f64
    }
}

impl SimilarityMetric for MattesMutualInformation {
    fn name(&self) -> &'static str {
        "mi"
    }

    fn evaluate(&self, s: &MetricInput<'_>, derivative: Option<&mut [f64]>) -> Result<f64, RegisterError> {
        let b = self.bins;
        let hist = (0..s.fixed.len())
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&i| s.valid[i])
            .fold(
                || vec![0.0f64; b * b + 1],
                |mut h, i| {
                    let fb = self.fixed_bin(s.fixed[i]);
                    let x = self.moving_pos(s.moving[i]);
                    let k0 = x.floor() as usize - 1;
                    for k in k0..k0 + 4 {
                        h[fb * b + k] += bspline3(k as f64 - x);
                    }
                    h[b * b] += 1.0;
                    h
                },
            )
            .reduce(
                || vec![0.0f64; b * b + 1],
                |mut a, c| {
                    a.iter_mut().zip(&c).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let n = hist[b * b];
        if n == 0.0 {
            return Err(no_samples());
        }
        let p: Vec<f64> = hist[..b * b].iter().map(|v| v / n).collect();
        let mut pf = vec![0.0; b];
        let mut pm = vec![0.0; b];
        for i in 0..b {
            for k in 0..b {
                pf[i] += p[i * b + k];
                pm[k] += p[i * b + k];
            }
        }
        let mut mi = 0.0;
        for i in 0..b {
            for k in 0..b {
                let v = p[i * b + k];
                if v > 1e-16 && pf[i] > 0.0 && pm[k] > 0.0 {
                    mi += v * (v / (pf[i] * pm[k])).ln();
                }
            }
        }
        if let Some(d) = derivative {
            // log(p(ι, κ) / p_m(κ)) once per bin pair.
            let lg: Vec<f64> = (0..b * b)
                .map(|ik| {
                    let v = p[ik];
                    let m = pm[ik % b];
                    if v > 1e-16 && m > 0.0 {
                        (v / m).ln()
                    } else {
                        0.0
                    }
                })
                .collect();
            let scale = 1.0 / (n * self.moving_width);
            d.par_iter_mut().enumerate().with_min_len(4096).for_each(|(i, out)| {
                if !s.valid[i] {
                    *out = 0.0;
                    return;
                }
                let fb = self.fixed_bin(s.fixed[i]);
                let x = self.moving_pos(s.moving[i]);
                let k0 = x.floor() as usize - 1;
                let mut acc = 0.0;
                for k in k0..k0 + 4 {
                    acc += bspline3_deriv(k as f64 - x) * lg[fb * b + k];
                }
                // d(−MI)/dm = −(1/n) Σ_k β'(k − x)·(−1/Δm)·log(p/p_m).
                *out = acc * scale;
            });
        }
        Ok(-mi)
    }

    fn evaluate_both(
        &self,
        input: &MetricInput<'_>,
        d_moving: &mut [f64],
        d_fixed: &mut [f64],
    ) -> Result<f64, RegisterError> {
        let c = self.evaluate(input, Some(d_moving))?;
        let swapped_metric = Self {
            bins: self.bins,
            fixed_min: self.moving_min,
            fixed_width: self.moving_width,
            moving_min: self.fixed_min,
            moving_width: self.fixed_width,
        };
        let swapped = MetricInput { fixed: input.moving, moving: input.fixed, ..*input };
        swapped_metric.evaluate(&swapped, Some(d_fixed))?;
        Ok(c)
    }
}

/// Local (windowed) normalized cross-correlation, ANTs' `CC` metric, negated; needs the
/// samples to be a whole grid.
#[derive(Clone, Copy, Debug)]
pub struct LocalCorrelation {
    radius: [usize; 3],
}

impl LocalCorrelation {
    /// Windows of `2·radius + 1` voxels per axis (no extent along z for 2-D grids).
    pub fn new(radius: usize, two_d: bool) -> Self {
        Self { radius: [radius, radius, if two_d { 0 } else { radius }] }
    }
}

/// Window sums for lines `t0..t0 + dst.len() / inner` of one block (`n` lines of `inner`
/// values, the axis being summed running across lines): a running sum, each step one
/// vectorizable row operation.
fn window_lines(src: &[f64], dst: &mut [f64], n: usize, inner: usize, r: usize, t0: usize) {
    let lines = dst.len() / inner;
    let mut acc = vec![0.0f64; inner];
    for s in t0.saturating_sub(r)..=(t0 + r).min(n - 1) {
        acc.iter_mut().zip(&src[s * inner..(s + 1) * inner]).for_each(|(a, v)| *a += v);
    }
    dst[..inner].copy_from_slice(&acc);
    for l in 1..lines {
        let t = t0 + l;
        if t + r < n {
            acc.iter_mut().zip(&src[(t + r) * inner..(t + r + 1) * inner]).for_each(|(a, v)| *a += v);
        }
        if t > r {
            acc.iter_mut().zip(&src[(t - r - 1) * inner..(t - r) * inner]).for_each(|(a, v)| *a -= v);
        }
        dst[l * inner..(l + 1) * inner].copy_from_slice(&acc);
    }
}

/// Sums over the window `[t − r, t + r] ∩ [0, n)` along one axis, in place through `tmp`.
fn box_axis(data: &mut [f64], tmp: &mut [f64], dims: [usize; 3], axis: usize, r: usize) {
    let n = dims[axis];
    if r == 0 || n == 1 {
        return;
    }
    let inner = [1, dims[0], dims[0] * dims[1]][axis];
    let outer = data.len() / (n * inner);
    let src: &[f64] = data;
    if outer >= 4 * rayon::current_num_threads() {
        tmp.par_chunks_mut(n * inner).enumerate().for_each(|(o, block)| {
            window_lines(&src[o * n * inner..(o + 1) * n * inner], block, n, inner, r, 0);
        });
    } else {
        // Few blocks (the slowest axis): split each block's lines into chunks instead.
        let per = n.div_ceil(4 * rayon::current_num_threads()).max(1);
        for (o, block) in tmp.chunks_mut(n * inner).enumerate() {
            let sb = &src[o * n * inner..(o + 1) * n * inner];
            block.par_chunks_mut(per * inner).enumerate().for_each(|(c, part)| {
                window_lines(sb, part, n, inner, r, c * per);
            });
        }
    }
    data.copy_from_slice(tmp);
}

/// Window sums of `data` on `dims` with per-axis radius.
pub(crate) fn box_sum(data: &mut [f64], dims: [usize; 3], radius: [usize; 3]) {
    let mut tmp = vec![0.0; data.len()];
    for (a, &r) in radius.iter().enumerate() {
        box_axis(data, &mut tmp, dims, a, r);
    }
}

impl LocalCorrelation {
    /// Cost, and the exact derivatives with respect to the moving and the fixed values.
    fn lncc(
        &self,
        s: &MetricInput<'_>,
        d_moving: Option<&mut [f64]>,
        d_fixed: Option<&mut [f64]>,
    ) -> Result<f64, RegisterError> {
        let Some(dims) = s.grid else {
            return Err(crate::error::invalid(
                "metric",
                "local correlation needs every voxel of a grid as samples",
            ));
        };
        let len = s.fixed.len();
        check_alloc(len as u128 * 16, 8)?;
        let nvalid = count_valid(s.valid);
        if nvalid == 0 {
            return Err(no_samples());
        }
        // Global statistics: means centre the window sums (conditioning), variances set the
        // threshold below which a window counts as flat.
        let (gf, gm, gff, gmm) = (0..len)
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&i| s.valid[i])
            .map(|i| {
                let (f, m) = (s.fixed[i] as f64, s.moving[i] as f64);
                (f, m, f * f, m * m)
            })
            .reduce(|| (0.0, 0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3));
        let nv = nvalid as f64;
        let (mf, mm) = (gf / nv, gm / nv);
        let var_f = (gff / nv - mf * mf).max(0.0);
        let var_m = (gmm / nv - mm * mm).max(0.0);
        let fi: Vec<f64> =
            (0..len).into_par_iter().map(|i| if s.valid[i] { s.fixed[i] as f64 - mf } else { 0.0 }).collect();
        let mi: Vec<f64> = (0..len)
            .into_par_iter()
            .map(|i| if s.valid[i] { s.moving[i] as f64 - mm } else { 0.0 })
            .collect();
        let mut sums: Vec<Vec<f64>> = vec![
            s.valid.par_iter().map(|&b| if b { 1.0 } else { 0.0 }).collect(),
            fi.clone(),
            mi.clone(),
            fi.par_iter().map(|x| x * x).collect(),
            mi.par_iter().map(|x| x * x).collect(),
            fi.par_iter().zip(&mi).map(|(a, b)| a * b).collect(),
        ];
        sums.par_iter_mut().for_each(|a| box_sum(a, dims, self.radius));
        let [sn, si, sj, sii, sjj, sij] = [&sums[0], &sums[1], &sums[2], &sums[3], &sums[4], &sums[5]];
        // Per window: CC and the coefficients of its derivatives, indexed
        // 0 = A, 1 = A·Ī, 2 = B, 3 = B·J̄ (moving side), 4 = A·J̄, 5 = B', 6 = B'·Ī (fixed side).
        let want_m = d_moving.is_some();
        let want_f = d_fixed.is_some();
        let needed = |c: usize| (want_m && c < 4) || (want_f && (c == 0 || c >= 4));
        let flat = |x: usize| -> Option<(f64, [f64; 7])> {
            let n = sn[x];
            if !s.valid[x] || n < 1.0 {
                return None;
            }
            let (ibar, jbar) = (si[x] / n, sj[x] / n);
            let cij = sij[x] - si[x] * jbar;
            let cii = sii[x] - si[x] * ibar;
            let cjj = sjj[x] - sj[x] * jbar;
            if cii <= 1e-6 * var_f * n || cjj <= 1e-6 * var_m * n {
                return None;
            }
            let cc = cij * cij / (cii * cjj);
            let a = 2.0 * cij / (cii * cjj);
            let b = a * cij / cjj;
            let bp = a * cij / cii;
            Some((cc, [a, a * ibar, b, b * jbar, a * jbar, bp, bp * ibar]))
        };
        let cc_sum: f64 =
            (0..len).into_par_iter().with_min_len(4096).filter_map(|x| flat(x).map(|v| v.0)).sum();
        let mut coef: Vec<Vec<f64>> = (0..7)
            .into_par_iter()
            .map(|c| {
                if needed(c) {
                    (0..len).map(|x| flat(x).map_or(0.0, |v| v.1[c])).collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        coef.par_iter_mut().filter(|a| !a.is_empty()).for_each(|a| box_sum(a, dims, self.radius));
        let scale = -1.0 / nv;
        // ∂ΣCC/∂J(y) = I(y)·ΣA − Σ(A·Ī) − J(y)·ΣB + Σ(B·J̄) over the windows holding y.
        if let Some(d) = d_moving {
            d.par_iter_mut().enumerate().with_min_len(4096).for_each(|(y, out)| {
                *out = if s.valid[y] {
                    scale * (fi[y] * coef[0][y] - coef[1][y] - mi[y] * coef[2][y] + coef[3][y])
                } else {
                    0.0
                };
            });
        }
        // ∂ΣCC/∂I(y) = J(y)·ΣA − Σ(A·J̄) − I(y)·ΣB' + Σ(B'·Ī).
        if let Some(d) = d_fixed {
            d.par_iter_mut().enumerate().with_min_len(4096).for_each(|(y, out)| {
                *out = if s.valid[y] {
                    scale * (mi[y] * coef[0][y] - coef[4][y] - fi[y] * coef[5][y] + coef[6][y])
                } else {
                    0.0
                };
            });
        }
        Ok(-cc_sum / nv)
    }
}

impl SimilarityMetric for LocalCorrelation {
    fn name(&self) -> &'static str {
        "lncc"
    }

    fn needs_grid(&self) -> bool {
        true
    }

    fn evaluate(&self, s: &MetricInput<'_>, derivative: Option<&mut [f64]>) -> Result<f64, RegisterError> {
        self.lncc(s, derivative, None)
    }

    fn evaluate_both(
        &self,
        input: &MetricInput<'_>,
        d_moving: &mut [f64],
        d_fixed: &mut [f64],
    ) -> Result<f64, RegisterError> {
        self.lncc(input, Some(d_moving), Some(d_fixed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `derivative` against central differences of the cost in a few moving values.
    fn check_derivative(
        metric: &dyn SimilarityMetric,
        fixed: &[f32],
        moving: &[f32],
        valid: &[bool],
        grid: Option<[usize; 3]>,
        h: f32,
        tol: f64,
    ) {
        let input = MetricInput { fixed, moving, valid, grid };
        let mut d = vec![0.0; fixed.len()];
        metric.evaluate(&input, Some(&mut d)).unwrap();
        for i in [0, 3, 17, 40, fixed.len() - 1] {
            if !valid[i] {
                assert_eq!(d[i], 0.0);
                continue;
            }
            let mut mp = moving.to_vec();
            mp[i] += h;
            let mut mm = moving.to_vec();
            mm[i] -= h;
            let cp = metric.evaluate(&MetricInput { moving: &mp, ..input }, None).unwrap();
            let cm = metric.evaluate(&MetricInput { moving: &mm, ..input }, None).unwrap();
            // The perturbation actually stored in f32.
            let fd = (cp - cm) / (mp[i] as f64 - mm[i] as f64);
            assert!(
                (fd - d[i]).abs() <= tol * d[i].abs().max(1e-6),
                "{} sample {i}: fd {fd} vs {}",
                metric.name(),
                d[i]
            );
        }
    }

    fn pair(n: usize) -> (Vec<f32>, Vec<f32>, Vec<bool>) {
        let f: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32).sin() * 50.0 + 100.0).collect();
        let m: Vec<f32> =
            f.iter().enumerate().map(|(i, v)| 0.8 * v + 10.0 * ((i % 7) as f32).cos()).collect();
        let valid: Vec<bool> = (0..n).map(|i| i % 13 != 5).collect();
        (f, m, valid)
    }

    #[test]
    fn derivatives_of_global_metrics_match_finite_differences() {
        let (f, m, v) = pair(200);
        // 1e-4 relative: f32 moving values perturbed by 1e-2 (central differences of smooth sums).
        check_derivative(&MeanSquares, &f, &m, &v, None, 1e-2, 1e-4);
        check_derivative(&Correlation, &f, &m, &v, None, 1e-2, 1e-3);
        let mi = MattesMutualInformation::new(16, (40.0, 160.0), (20.0, 140.0)).unwrap();
        // 2e-2 relative: the histogram is piecewise cubic in m (exact up to h² ≈ 1e-4 curvature terms).
        check_derivative(&mi, &f, &m, &v, None, 1e-2, 2e-2);
    }

    #[test]
    fn lncc_derivative_is_exact_and_perfect_match_is_minus_one() {
        let dims = [9, 8, 7];
        let n = 9 * 8 * 7;
        let (f, m, mut v) = pair(n);
        v[0] = true;
        let l = LocalCorrelation::new(2, false);
        // 1e-3 relative: f32 inputs, h = 1e-2.
        check_derivative(&l, &f, &m, &v, Some(dims), 1e-2, 1e-3);
        let all = vec![true; n];
        let lin: Vec<f32> = f.iter().map(|x| 3.0 * x - 7.0).collect();
        let c = l
            .evaluate(&MetricInput { fixed: &f, moving: &lin, valid: &all, grid: Some(dims) }, None)
            .unwrap();
        // 1e-9: a linear intensity change is a perfect local correlation.
        assert!((c + 1.0).abs() < 1e-9, "{c}");
        assert!(l.evaluate(&MetricInput { fixed: &f, moving: &m, valid: &all, grid: None }, None).is_err());
    }

    #[test]
    fn mutual_information_prefers_the_aligned_pair() {
        let (f, _, v) = pair(500);
        // A nonlinear, non-monotonic intensity map keeps all the information.
        let g: Vec<f32> = f.iter().map(|x| ((x - 100.0) / 20.0).powi(2)).collect();
        let shuffled: Vec<f32> = (0..500).map(|i| g[(i * 7) % 500]).collect();
        let mi = MattesMutualInformation::new(32, (40.0, 160.0), (0.0, 7.0)).unwrap();
        let aligned =
            mi.evaluate(&MetricInput { fixed: &f, moving: &g, valid: &v, grid: None }, None).unwrap();
        let wrong =
            mi.evaluate(&MetricInput { fixed: &f, moving: &shuffled, valid: &v, grid: None }, None).unwrap();
        assert!(aligned < wrong - 0.5, "{aligned} vs {wrong}");
    }

    #[test]
    fn box_sums_match_brute_force() {
        let dims = [5, 4, 3];
        let data: Vec<f64> = (0..60).map(|i| (i * i % 17) as f64).collect();
        let mut b = data.clone();
        box_sum(&mut b, dims, [1, 2, 1]);
        for z in 0..3usize {
            for y in 0..4usize {
                for x in 0..5usize {
                    let mut s = 0.0;
                    for zz in z.saturating_sub(1)..=(z + 1).min(2) {
                        for yy in y.saturating_sub(2)..=(y + 2).min(3) {
                            for xx in x.saturating_sub(1)..=(x + 1).min(4) {
                                s += data[xx + 5 * (yy + 4 * zz)];
                            }
                        }
                    }
                    assert_eq!(b[x + 5 * (y + 4 * z)], s);
                }
            }
        }
    }
}
