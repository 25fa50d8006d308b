//! Symmetric diffeomorphic registration in the log domain: a stationary velocity field `v`
//! whose exponential maps the fixed image onto the moving one, estimated by driving both
//! images towards the midpoint: `F ∘ exp(−v/2)` against `M ∘ exp(v/2)`.
//!
//! Each iteration computes the metric's derivative with respect to both half-warped images
//! (local correlation by default, exact derivatives, see [`crate::metric`]), forms the
//! symmetric force `−(∂C/∂M̃·∇M̃ − ∂C/∂F̃·∇F̃)` (the direction in which a velocity increment
//! lowers the cost at the midpoint), smooths it (fluid-like regularization), scales it so the
//! largest update is `step_voxels`, adds it to `v` and smooths `v` (diffusion-like
//! regularization). This is the symmetric log-domain diffeomorphic demons scheme of
//! Vercauteren et al., "Symmetric log-domain diffeomorphic registration: a demons-based
//! approach", MICCAI 2008 (and "Diffeomorphic demons", NeuroImage 45:S61–S72, 2009), with the
//! local-correlation force of Lorenzi et al., "LCC-Demons", NeuroImage 81:470–483, 2013 and
//! the greedy symmetric normalized steps of ANTs' SyN (Avants et al., Med. Image Anal.
//! 12(1):26–41, 2008). The transform is `exp(v)` by scaling and squaring, so it is
//! diffeomorphic by construction and its inverse `exp(−v)` is exact.

use std::time::Instant;

use hounsfield_core::{DisplacementField, Transform, Volume};
use hounsfield_imgproc::filter::{self, Smoothing};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::resample;
use rayon::prelude::*;

use crate::error::{invalid, RegisterError};
use crate::image::{level_image, mask_on, Pyramid};
use crate::metric::{build_metric, MetricInput, MetricKind, MetricOptions};
use crate::registration::{LevelReport, Progress};
use crate::transform::field::exponential;
use crate::transform::StationaryVelocityField;

/// Options of the diffeomorphic stage.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffeoOptions {
    /// Iterations per pyramid level, coarsest first (default: 60, 40, 25 … for the levels
    /// there are, the last value repeated).
    pub iterations: Vec<usize>,
    /// Largest velocity update per iteration, in voxels of the level (default 0.4: ANTs'
    /// usual SyN gradient step of 0.1–0.25 of a field-doubling step).
    pub step_voxels: f64,
    /// Sigma of the Gaussian that smooths each update, in voxels (default 1.5: ANTs' update
    /// field variance of 3 voxels² is σ ≈ 1.7).
    pub update_sigma_voxels: f64,
    /// Sigma of the Gaussian that smooths the velocity after each update, in voxels (default
    /// 0.75).
    pub field_sigma_voxels: f64,
    /// Stop a level when the cost has not improved by this fraction of its magnitude over
    /// the last 10 iterations (default 1e-4).
    pub convergence: f64,
}

impl Default for DiffeoOptions {
    fn default() -> Self {
        Self {
            iterations: vec![60, 40, 25],
            step_voxels: 0.4,
            update_sigma_voxels: 1.5,
            field_sigma_voxels: 0.75,
            convergence: 1e-4,
        }
    }
}

impl DiffeoOptions {
    fn validate(&self) -> Result<(), RegisterError> {
        if self.iterations.is_empty() {
            return Err(invalid("iterations", "at least one value"));
        }
        for (name, v) in [
            ("step_voxels", self.step_voxels),
            ("update_sigma_voxels", self.update_sigma_voxels),
            ("field_sigma_voxels", self.field_sigma_voxels),
            ("convergence", self.convergence),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(name, format!("{v} is not a finite number ≥ 0")));
            }
        }
        if self.step_voxels <= 0.0 || self.step_voxels > 2.0 {
            return Err(invalid("step_voxels", format!("{} is outside (0, 2]", self.step_voxels)));
        }
        Ok(())
    }

    fn iterations_at(&self, l: usize) -> usize {
        self.iterations.get(l).or(self.iterations.last()).copied().unwrap_or(0)
    }
}

/// Splits a field into its three component volumes, smooths them by `sigma` voxels (in-plane
/// only for a 2-D grid) and joins them again.
fn smooth_field(f: &DisplacementField, sigma_voxels: f64) -> Result<DisplacementField, RegisterError> {
    if sigma_voxels <= 0.0 {
        return Ok(f.clone());
    }
    let sp = f.geometry().spacing;
    let dims = f.dims();
    let sigma = std::array::from_fn(|a| if dims[a] > 1 { sigma_voxels * sp[a] } else { 0.0 });
    let comps = f.to_components();
    let mut out = Vec::with_capacity(3);
    for c in &comps {
        out.push(filter::gaussian(c, sigma)?);
    }
    let arr: [Volume<f32>; 3] = [out.remove(0), out.remove(0), out.remove(0)];
    Ok(DisplacementField::from_components(&arr)?)
}

/// `image ∘ (x + u(x))` on the field's grid, NaN outside the image.
fn warp(image: &Volume<f32>, u: &DisplacementField) -> Result<Volume<f32>, RegisterError> {
    Ok(resample(image, u.dims(), u.geometry(), u, Interpolation::Linear, f32::NAN)?)
}

/// Resamples a velocity field onto another grid (components linearly; mm stay mm).
fn field_onto(v: &DisplacementField, like: &Volume<f32>) -> Result<DisplacementField, RegisterError> {
    let comps = v.to_components();
    let id = hounsfield_core::IdentityTransform;
    let mut out = Vec::with_capacity(3);
    for c in &comps {
        out.push(resample(c, like.dims(), like.geometry(), &id, Interpolation::Linear, 0.0)?);
    }
    let arr: [Volume<f32>; 3] = [out.remove(0), out.remove(0), out.remove(0)];
    Ok(DisplacementField::from_components(&arr)?)
}

/// Estimates the velocity field mapping `fixed` onto `moving ∘ pre` over the pyramid, where
/// `pre` is a transform already found (usually affine); the full map is `pre ∘ exp(v)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn register_velocity(
    fixed: &Volume<f32>,
    moving: &Volume<f32>,
    pre: &dyn Transform,
    fixed_mask: Option<&Volume<u8>>,
    moving_mask: Option<&Volume<u8>>,
    pyramid: &Pyramid,
    metric: MetricKind,
    metric_options: &MetricOptions,
    opts: &DiffeoOptions,
    stage: (usize, usize),
    progress: &mut dyn FnMut(&Progress),
) -> Result<(StationaryVelocityField, Vec<LevelReport>), RegisterError> {
    opts.validate()?;
    pyramid.validate()?;
    let mut v: Option<DisplacementField> = None;
    let mut reports = Vec::new();
    for l in 0..pyramid.levels {
        let start = Instant::now();
        let f = level_image(fixed, pyramid, l)?;
        let m_level = level_image(moving, pyramid, l)?;
        // The moving image brought onto the fixed level grid through `pre` (NaN outside).
        let m = resample(&m_level, f.dims(), f.geometry(), pre, Interpolation::Linear, f32::NAN)?;
        let fmask = match fixed_mask {
            Some(mk) => Some(mask_on(mk, &f)?),
            None => None,
        };
        let mmask = match moving_mask {
            Some(mk) => Some(resample(mk, f.dims(), f.geometry(), pre, Interpolation::Nearest, 0)?),
            None => None,
        };
        let mut vel = match v.take() {
            Some(prev) => field_onto(&prev, &f)?,
            None => DisplacementField::zeros(f.dims(), *f.geometry())?,
        };
        let built = build_metric(metric, metric_options, &f, &m_level)?;
        let dims = f.dims();
        let n = f.len();
        let sp = f.geometry().spacing;
        let w2i = f.geometry().world_to_index_affine()?;
        let iterations = opts.iterations_at(l);
        let when = || format!("in the diffeomorphic stage at level {} of {}", l + 1, pyramid.levels);
        let mut history: Vec<f64> = Vec::new();
        let mut done = 0;
        let mut step = opts.step_voxels;
        let mut d_m = vec![0f64; n];
        let mut d_f = vec![0f64; n];
        for it in 0..iterations {
            let half = exponential(&vel, 0.5)?;
            let mhalf = exponential(&vel, -0.5)?;
            let fw = warp(&f, &mhalf)?;
            let mw = warp(&m, &half)?;
            // Valid where both half-warped images (and masks) are defined.
            let fmask_w = match &fmask {
                Some(mk) => Some(resample(mk, dims, f.geometry(), &mhalf, Interpolation::Nearest, 0)?),
                None => None,
            };
            let mmask_w = match &mmask {
                Some(mk) => Some(resample(mk, dims, f.geometry(), &half, Interpolation::Nearest, 0)?),
                None => None,
            };
            let valid: Vec<bool> = (0..n)
                .into_par_iter()
                .map(|i| {
                    fw.data()[i].is_finite()
                        && mw.data()[i].is_finite()
                        && fmask_w.as_ref().is_none_or(|mk| mk.data()[i] != 0)
                        && mmask_w.as_ref().is_none_or(|mk| mk.data()[i] != 0)
                })
                .collect();
            let nvalid = valid.iter().filter(|&&b| b).count();
            let required = crate::engine::required_samples(n);
            if nvalid < required {
                return Err(RegisterError::NoOverlap { when: when(), valid: nvalid, total: n, required });
            }
            // NaN outside: give those voxels a neutral value for the metric and gradients.
            let fwv: Vec<f32> = fw.data().iter().map(|x| if x.is_finite() { *x } else { 0.0 }).collect();
            let mwv: Vec<f32> = mw.data().iter().map(|x| if x.is_finite() { *x } else { 0.0 }).collect();
            let input = MetricInput { fixed: &fwv, moving: &mwv, valid: &valid, grid: Some(dims) };
            let cost = built.evaluate_both(&input, &mut d_m, &mut d_f)?;
            if !cost.is_finite() {
                return Err(RegisterError::Diverged {
                    when: when(),
                    reason: "the cost is not finite".into(),
                });
            }
            progress(&Progress {
                stage: "diffeomorphic",
                stage_index: stage.0,
                stages: stage.1,
                level: l,
                levels: pyramid.levels,
                iteration: it,
                iterations,
                value: cost,
            });
            done = it + 1;
            // A cost that went up means the step overshot: shorter steps from here on (as a
            // regular-step gradient descent relaxes).
            if history.last().is_some_and(|&prev| cost > prev) {
                step *= 0.7;
                if step < 0.02 * opts.step_voxels {
                    history.push(cost);
                    break;
                }
            }
            history.push(cost);
            if history.len() > 10 {
                let old = history[history.len() - 11];
                let best_recent = history[history.len() - 10..].iter().fold(f64::INFINITY, |a, &b| a.min(b));
                if old - best_recent < opts.convergence * old.abs().max(1e-12) {
                    break;
                }
            }
            let gf = filter::gradient(&fw.with_data(fwv.clone())?, Smoothing::None)?;
            let gm = filter::gradient(&mw.with_data(mwv.clone())?, Smoothing::None)?;
            let mut upd = DisplacementField::zeros(dims, *f.geometry())?;
            upd.data_mut().par_iter_mut().enumerate().for_each(|(i, u)| {
                if !valid[i] {
                    return;
                }
                let (a, b) = (d_m[i], d_f[i]);
                *u = std::array::from_fn(|c| {
                    (-(a * gm[c].data()[i] as f64 - b * gf[c].data()[i] as f64)) as f32
                });
            });
            let upd = smooth_field(&upd, opts.update_sigma_voxels)?;
            // Scale so that the largest update is step_voxels voxels.
            let max_vox = upd
                .data()
                .par_iter()
                .map(|u| {
                    let q = w2i.apply_vector([u[0] as f64, u[1] as f64, u[2] as f64]);
                    (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]).sqrt()
                })
                .reduce(|| 0.0, f64::max);
            if max_vox <= 0.0 || !max_vox.is_finite() {
                break;
            }
            let k = (step / max_vox) as f32;
            vel.data_mut().par_iter_mut().zip(upd.data().par_iter()).for_each(|(v, u)| {
                for c in 0..3 {
                    v[c] += k * u[c];
                }
            });
            vel = smooth_field(&vel, opts.field_sigma_voxels)?;
        }
        let _ = sp;
        reports.push(LevelReport {
            iterations: done,
            final_value: history.last().copied().unwrap_or(f64::NAN),
            seconds: start.elapsed().as_secs_f64(),
            grid: dims,
        });
        v = Some(vel);
    }
    let vel = match v {
        Some(v) => v,
        None => return Err(invalid("levels", "no pyramid level")),
    };
    Ok((StationaryVelocityField::new(vel)?, reports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::{Geometry, IdentityTransform};

    fn blob(dims: [usize; 3], g: Geometry, c: [f64; 3]) -> Volume<f32> {
        let mut v = Volume::<f32>::zeros(dims, g).unwrap();
        let i2w = g.index_to_world_affine();
        for (o, x) in v.data_mut().iter_mut().enumerate() {
            let p = i2w.apply([
                (o % dims[0]) as f64,
                ((o / dims[0]) % dims[1]) as f64,
                (o / (dims[0] * dims[1])) as f64,
            ]);
            let r2 =
                (p[0] - c[0]).powi(2) / 60.0 + (p[1] - c[1]).powi(2) / 40.0 + (p[2] - c[2]).powi(2) / 50.0;
            *x = (100.0 * (-r2).exp() + 50.0 * (-r2 * 4.0).exp()) as f32;
        }
        v
    }

    #[test]
    fn a_shifted_blob_is_recovered() {
        let g = Geometry { origin: [-20.0, -20.0, -20.0], spacing: [1.0, 1.0, 1.0], ..Geometry::default() };
        let dims = [40, 40, 40];
        let fixed = blob(dims, g, [0.0, 0.0, 0.0]);
        let moving = blob(dims, g, [2.0, -1.5, 1.0]);
        for metric in [MetricKind::MeanSquares, MetricKind::LocalCorrelation] {
            let opts = DiffeoOptions { convergence: 0.0, ..DiffeoOptions::default() };
            let mut trace = Vec::new();
            let (svf, _) = register_velocity(
                &fixed,
                &moving,
                &IdentityTransform,
                None,
                None,
                &Pyramid::with_levels(2),
                metric,
                &MetricOptions::default(),
                &opts,
                (0, 1),
                &mut |p| trace.push((p.level, p.value)),
            )
            .unwrap();
            let q = svf.transform_point([0.0, 0.0, 0.0]);
            eprintln!("{metric:?}: {q:?}; first {:?} last {:?}", trace.first(), trace.last());
            // 0.3 mm: a smooth dense field recovering a 2.7 mm shift of a smooth blob.
            assert!(
                (q[0] - 2.0).abs() < 0.3 && (q[1] + 1.5).abs() < 0.3 && (q[2] - 1.0).abs() < 0.3,
                "{metric:?}: {q:?}"
            );
        }
    }
}
