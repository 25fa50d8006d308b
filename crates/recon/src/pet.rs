//! PET: emission tomography by MLEM and OSEM with attenuation correction, and Poisson-noisy
//! simulated emission data.
//!
//! The model (Shepp & Vardi 1982, IEEE TMI 1(2):113): the expected counts of line of response
//! `i` are `ȳ_i = a_i·(Aλ)_i + r_i`, with `λ` the activity image, `A` a [`Projector`] (any
//! geometry: a 2-D parallel sinogram, a stack of direct planes as a multi-row parallel beam
//! for 3-D, or a cone beam), `a_i = exp(−∫μ)` the attenuation factor of the line (from a μ map
//! at 511 keV, see [`crate::ct::simulate::MU_WATER_511KEV`]) and `r_i` a known background
//! (randoms and scatter). MLEM multiplies by the back-projected ratio of measured to expected
//! counts; OSEM (Hudson & Larkin 1994, IEEE TMI 13(4):601) does the same one subset of
//! interleaved views at a time, accelerating early iterations by about the number of
//! subsets.

use std::ops::ControlFlow;

use hounsfield_core::Volume;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::ct::iterative::{Callback, IterationInfo};
use crate::ct::projector::Projector;
use crate::ct::simulate::poisson;
use crate::error::{check_finite, invalid, ReconError};

/// Attenuation factors `exp(−∫μ)` of every line of response for a μ map (mm⁻¹) on the
/// projector's grid.
pub fn attenuation_factors(p: &dyn Projector, mu: &Volume<f32>) -> Result<Vec<f32>, ReconError> {
    check_finite("attenuation map", mu.data())?;
    let mut s = p.project(mu)?.into_vec();
    s.par_iter_mut().for_each(|v| *v = (-*v).exp());
    Ok(s)
}

/// Options of [`simulate_emission`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmissionOptions {
    /// Expected total true counts (after attenuation; default 1e6).
    pub counts: f64,
    /// Expected background counts per line of response (randoms + scatter; default 0).
    pub background: f64,
    /// Seed of the Poisson noise.
    pub seed: u64,
}

impl Default for EmissionOptions {
    fn default() -> Self {
        Self { counts: 1e6, background: 0.0, seed: 0 }
    }
}

/// Simulated emission data: `Poisson(s·a·(Aλ) + r)` with the scale `s` chosen so the
/// expected true counts total `counts`. Returns the counts sinogram and the scale.
pub fn simulate_emission(
    p: &dyn Projector,
    activity: &Volume<f32>,
    attenuation: Option<&[f32]>,
    options: &EmissionOptions,
) -> Result<(Volume<f32>, f64), ReconError> {
    check_finite("activity", activity.data())?;
    if activity.data().iter().any(|&v| v < 0.0) {
        return Err(invalid("activity", "must be non-negative"));
    }
    if !(options.counts.is_finite() && options.counts > 0.0 && options.counts <= 1e13) {
        return Err(invalid("counts", format!("must be in (0, 1e13], got {}", options.counts)));
    }
    if !(options.background.is_finite() && options.background >= 0.0) {
        return Err(invalid("background", format!("must be non-negative, got {}", options.background)));
    }
    let mut y = p.project(activity)?;
    if let Some(a) = attenuation {
        check_len(a.len(), y.len())?;
        y.data_mut().par_iter_mut().zip(a).for_each(|(y, &a)| *y *= a);
    }
    let total: f64 = y.data().par_iter().map(|&v| v as f64).sum();
    if total <= 0.0 {
        return Err(invalid("activity", "projects to zero counts"));
    }
    let scale = options.counts / total;
    let nc = p.scan().cols();
    y.data_mut().par_chunks_mut(nc).enumerate().for_each(|(l, vals)| {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(l as u64);
        for v in vals {
            *v = poisson(&mut rng, *v as f64 * scale + options.background) as f32;
        }
    });
    Ok((y, scale))
}

fn check_len(len: usize, expected: usize) -> Result<(), ReconError> {
    if len != expected {
        return Err(ReconError::BufferLength { what: "attenuation factors", len, expected });
    }
    Ok(())
}

/// Options of [`osem`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OsemOptions {
    /// Iterations (full passes over the data; default 10).
    pub iterations: usize,
    /// Subsets of interleaved views (default 1: MLEM).
    pub subsets: usize,
    /// Background counts per line of response in the model (default 0).
    pub background: f64,
}

impl Default for OsemOptions {
    fn default() -> Self {
        Self { iterations: 10, subsets: 1, background: 0.0 }
    }
}

/// MLEM: [`osem`] with one subset.
pub fn mlem(
    p: &dyn Projector,
    counts: &Volume<f32>,
    attenuation: Option<&[f32]>,
    iterations: usize,
    callback: Callback<'_>,
) -> Result<Volume<f32>, ReconError> {
    osem(p, counts, attenuation, &OsemOptions { iterations, ..Default::default() }, callback)
}

/// OSEM with attenuation correction: `λ ← λ / (A_sᵀ a_s) · A_sᵀ(a_s·y_s / (a_s·A_s λ + r))`
/// for each subset `s`, from a uniform image. The callback's residual is the negative
/// Poisson log-likelihood `Σ ȳ − y ln ȳ` at the start of the pass.
pub fn osem(
    p: &dyn Projector,
    counts: &Volume<f32>,
    attenuation: Option<&[f32]>,
    options: &OsemOptions,
    callback: Callback<'_>,
) -> Result<Volume<f32>, ReconError> {
    p.scan().check_sinogram_dims(counts.dims())?;
    check_finite("counts", counts.data())?;
    if counts.data().iter().any(|&v| v < 0.0) {
        return Err(invalid("counts", "must be non-negative"));
    }
    if options.iterations == 0 || options.iterations > 100_000 {
        return Err(invalid("iterations", format!("must be 1..=100000, got {}", options.iterations)));
    }
    let views = p.scan().views();
    if options.subsets == 0 || options.subsets > views {
        return Err(invalid("subsets", format!("must be 1..={views}, got {}", options.subsets)));
    }
    if !(options.background.is_finite() && options.background >= 0.0) {
        return Err(invalid("background", format!("must be non-negative, got {}", options.background)));
    }
    let y = counts.data();
    let ones;
    let a: &[f32] = match attenuation {
        Some(a) => {
            check_len(a.len(), y.len())?;
            a
        }
        None => {
            ones = vec![1.0f32; y.len()];
            &ones
        }
    };
    let nvox = p.grid().len();
    hounsfield_core::check_alloc(3 * nvox as u128 + y.len() as u128, 4)?;
    let subsets: Vec<Vec<usize>> =
        (0..options.subsets).map(|s| (s..views).step_by(options.subsets).collect()).collect();
    // Sensitivity images A_sᵀ a_s, one per subset.
    let mut sens = Vec::with_capacity(subsets.len());
    for s in &subsets {
        let mut v = vec![0.0f32; nvox];
        p.back_views(a, &mut v, s)?;
        sens.push(v);
    }
    // A uniform start with the right total: Σ y ≈ Σ a·Aλ.
    let total_y: f64 = y.par_iter().map(|&v| v as f64).sum::<f64>() - options.background * y.len() as f64;
    let total_sens: f64 = sens.iter().map(|s| s.par_iter().map(|&v| v as f64).sum::<f64>()).sum();
    let start = if total_sens > 0.0 { (total_y.max(0.0) / total_sens) as f32 } else { 0.0 };
    let mut x = vec![start.max(1e-12); nvox];
    let mut proj = vec![0.0f32; y.len()];
    let mut upd = vec![0.0f32; nvox];
    let nc = p.scan().cols();
    let r = options.background as f32;
    for it in 1..=options.iterations {
        let mut nll = 0.0f64;
        for (si, s) in subsets.iter().enumerate() {
            p.forward_views(&x, &mut proj, s)?;
            let mut wanted = vec![false; views];
            for &v in s {
                wanted[v] = true;
            }
            nll += proj
                .par_chunks_mut(nc)
                .zip(y.par_chunks(nc))
                .zip(a.par_chunks(nc))
                .enumerate()
                .filter(|(l, _)| wanted[l % views])
                .map(|(_, ((q, yl), al))| {
                    let mut acc = 0.0f64;
                    for ((q, &yv), &av) in q.iter_mut().zip(yl).zip(al) {
                        let mean = av * *q + r;
                        if mean > 0.0 {
                            acc += mean as f64 - yv as f64 * (mean as f64).ln();
                            *q = av * yv / mean;
                        } else {
                            *q = 0.0;
                        }
                    }
                    acc
                })
                .sum::<f64>();
            p.back_views(&proj, &mut upd, s)?;
            let sv = &sens[si];
            x.par_iter_mut().zip(&upd).zip(sv).for_each(|((x, &u), &s)| {
                *x = if s > 0.0 { *x * u / s } else { 0.0 };
            });
        }
        let info = IterationInfo { iteration: it, iterations: options.iterations, residual: nll };
        if let ControlFlow::Break(()) = callback(&info) {
            break;
        }
    }
    p.grid().volume(x)
}
