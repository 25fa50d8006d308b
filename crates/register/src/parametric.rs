//! Multi-resolution optimization of a parametric transform (linear or B-spline) over a
//! pyramid: the stage runner behind [`crate::register`].

use std::time::Instant;

use hounsfield_core::linalg::{self, Vec3};
use hounsfield_core::{Affine3, Volume};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::engine::{sample_pool, Model, Problem, Samples};
use crate::error::{invalid, RegisterError};
use crate::image::{level_image, mask_on, MaskImage, MovingImage, MovingInterpolation, Pyramid};
use crate::metric::{build_metric, MetricKind, MetricOptions};
use crate::optimizer::{self, Objective, OptimizerKind, RunSettings};
use crate::registration::{LevelReport, Progress};
use crate::transform::{BSplineTransform, BendingEnergy, LinearTransform, ParametricTransform};

/// How fixed-image samples are chosen at each level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// `count` voxels drawn at random (seeded) inside the fixed mask: a new set every
    /// iteration for the stochastic optimizer, one set per level for the others.
    Random {
        /// Samples per iteration.
        count: usize,
    },
    /// Every voxel inside the fixed mask (required by the local correlation).
    Full,
}

impl Default for Sampling {
    /// 2¹⁸ = 262 144 random samples (every voxel of images up to 64³; 4 % of a 160×192×224
    /// volume): enough that sampling noise stays below 0.1 mm for rigid registration, few
    /// enough that a cost evaluation takes milliseconds. With the stochastic optimizer use
    /// a few thousand (elastix uses 2048).
    fn default() -> Self {
        Sampling::Random { count: 1 << 18 }
    }
}

/// One pyramid level, shared by every parametric stage.
pub(crate) struct LevelData {
    pub fixed: Volume<f32>,
    pub moving_vol: Volume<f32>,
    pub moving: MovingImage,
    pub fixed_mask: Option<Volume<u8>>,
    pub moving_mask: Option<MaskImage>,
    pub pool: Vec<u32>,
}

impl LevelData {
    /// Mean voxel spacing (mm): the natural step length at this level.
    pub(crate) fn mean_spacing(&self) -> f64 {
        let s = self.fixed.geometry().spacing;
        if self.fixed.is_2d() {
            0.5 * (s[0] + s[1])
        } else {
            (s[0] + s[1] + s[2]) / 3.0
        }
    }
}

/// Builds every level of the pyramid (coarsest first).
pub(crate) fn build_levels(
    fixed: &Volume<f32>,
    moving: &Volume<f32>,
    fixed_mask: Option<&Volume<u8>>,
    moving_mask: Option<&Volume<u8>>,
    pyramid: &Pyramid,
    interpolation: MovingInterpolation,
) -> Result<Vec<LevelData>, RegisterError> {
    pyramid.validate()?;
    let mut out = Vec::with_capacity(pyramid.levels);
    for l in 0..pyramid.levels {
        let f = level_image(fixed, pyramid, l)?;
        let m = level_image(moving, pyramid, l)?;
        let fm = match fixed_mask {
            Some(mask) => Some(mask_on(mask, &f)?),
            None => None,
        };
        let mm = match moving_mask {
            Some(mask) => {
                let on = mask_on(mask, &m)?;
                if on.data().iter().all(|&v| v == 0) {
                    return Err(RegisterError::EmptyMask { which: "moving", detail: String::new() });
                }
                Some(MaskImage::new(&on)?)
            }
            None => None,
        };
        let pool = sample_pool(&f, fm.as_ref())?;
        out.push(LevelData {
            moving: MovingImage::new(&m, interpolation)?,
            fixed: f,
            moving_vol: m,
            fixed_mask: fm,
            moving_mask: mm,
            pool,
        });
    }
    Ok(out)
}

/// Settings of one parametric stage.
#[derive(Clone, Debug)]
pub(crate) struct StageSettings {
    pub name: &'static str,
    pub stage_index: usize,
    pub stages: usize,
    pub metric: MetricKind,
    pub metric_options: MetricOptions,
    pub optimizer: OptimizerKind,
    pub iterations: Vec<usize>,
    pub sampling: Sampling,
    pub seed: u64,
}

/// The transform a stage optimizes.
pub(crate) enum Owned {
    Linear(LinearTransform),
    BSpline(BSplineTransform),
}

impl Owned {
    fn model(&self) -> Model<'_> {
        match self {
            Owned::Linear(t) => Model::Linear(t),
            Owned::BSpline(t) => Model::BSpline(t),
        }
    }
    fn params(&self) -> Vec<f64> {
        match self {
            Owned::Linear(t) => t.parameters().to_vec(),
            Owned::BSpline(t) => t.coefficients().to_vec(),
        }
    }
    fn set(&mut self, p: &[f64]) -> Result<(), RegisterError> {
        match self {
            Owned::Linear(t) => t.set_parameters(p),
            Owned::BSpline(t) => t.set_coefficients(p),
        }
    }
}

struct StageObjective<'a, 'p> {
    level: &'a LevelData,
    problem: Problem<'a>,
    model: Owned,
    scales: Vec<f64>,
    samples: Samples,
    exact: Samples,
    stochastic: Option<(usize, ChaCha8Rng)>,
    /// The level's pool restricted to samples that start inside the moving image.
    pool: Vec<u32>,
    bending: Option<(BendingEnergy, f64)>,
    /// Points where displacements are measured (gain estimation, step safeguard).
    probe: Vec<Vec3>,
    theta: Vec<f64>,
    grad_theta: Vec<f64>,
    report: &'p mut dyn FnMut(usize, f64),
    when: String,
}

impl StageObjective<'_, '_> {
    fn eval_on(&mut self, x: &[f64], grad: &mut [f64], exact: bool) -> Result<f64, RegisterError> {
        for ((t, xi), s) in self.theta.iter_mut().zip(x).zip(&self.scales) {
            *t = xi / s;
        }
        let theta = std::mem::take(&mut self.theta);
        let r = self.model.set(&theta);
        self.theta = theta;
        r?;
        let samples = if exact { &self.exact } else { &self.samples };
        let when = self.when.clone();
        let e = self
            .problem
            .evaluate(self.model.model(), samples, Some(&mut self.grad_theta), &|| when.clone())?;
        let mut value = e.value;
        if let (Some((be, w)), Owned::BSpline(t)) = (&self.bending, &self.model) {
            value += w * be.value_and_gradient(t.coefficients(), *w, Some(&mut self.grad_theta));
        }
        for ((g, gt), s) in grad.iter_mut().zip(&self.grad_theta).zip(&self.scales) {
            *g = gt / s;
        }
        Ok(value)
    }
}

impl Objective for StageObjective<'_, '_> {
    fn evaluate(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, RegisterError> {
        self.eval_on(x, grad, false)
    }
    fn evaluate_exact(&mut self, x: &[f64], grad: &mut [f64]) -> Result<f64, RegisterError> {
        self.eval_on(x, grad, true)
    }
    fn resample(&mut self) {
        if let Some((count, rng)) = &mut self.stochastic {
            self.samples = Samples::random(&self.level.fixed, &self.pool, *count, rng);
        }
    }
    fn progress(&mut self, iteration: usize, value: f64) {
        (self.report)(iteration, value);
    }
    fn max_displacement(&self, dx: &[f64]) -> f64 {
        let dtheta: Vec<f64> = dx.iter().zip(&self.scales).map(|(d, s)| d / s).collect();
        let pts = &self.probe;
        match &self.model {
            Owned::Linear(t) => {
                let d = t.derivatives();
                let c = t.center();
                pts.iter()
                    .map(|p| {
                        let q = linalg::sub(*p, c);
                        let mut u = [0.0; 3];
                        for ((dm, dt), w) in d.iter().zip(&dtheta) {
                            let v = linalg::add(linalg::mat_vec(dm, q), *dt);
                            for k in 0..3 {
                                u[k] += w * v[k];
                            }
                        }
                        linalg::norm(u)
                    })
                    .fold(0.0, f64::max)
            }
            Owned::BSpline(t) => {
                let mut probe = t.clone();
                if probe.set_coefficients(&dtheta).is_err() {
                    return f64::INFINITY;
                }
                pts.iter()
                    .map(|p| probe.support(*p).map_or(0.0, |s| linalg::norm(probe.displacement(&s))))
                    .fold(0.0, f64::max)
            }
        }
    }
}

/// Regular subset of the pool (for scale estimation and exact gradients).
fn spread(pool: &[u32], count: usize) -> Vec<u32> {
    if pool.len() <= count {
        return pool.to_vec();
    }
    let step = pool.len() as f64 / count as f64;
    (0..count).map(|i| pool[((i as f64 + 0.5) * step) as usize]).collect()
}

/// Runs one stage over every level: returns the optimized transform and a report per level.
pub(crate) fn run_stage(
    levels: &[LevelData],
    mut model: Owned,
    outer: Affine3,
    settings: &StageSettings,
    bspline_schedule: Option<(&[f64], f64)>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Owned, Vec<LevelReport>), RegisterError> {
    if settings.iterations.len() != levels.len() {
        return Err(invalid(
            "iterations",
            format!("{} values for {} levels", settings.iterations.len(), levels.len()),
        ));
    }
    let mut reports = Vec::with_capacity(levels.len());
    for (l, level) in levels.iter().enumerate() {
        let start = Instant::now();
        if let (Some((spacings, _)), Owned::BSpline(t)) = (bspline_schedule, &mut model) {
            let refined = t.refined(spacings[l])?;
            *t = refined;
        }
        let metric =
            build_metric(settings.metric, &settings.metric_options, &level.fixed, &level.moving_vol)?;
        let when = format!("in stage {} at level {} of {}", settings.name, l + 1, levels.len());
        // The overlap at the start of the level: a clear error before any optimization.
        let mut problem = Problem {
            moving: &level.moving,
            extend: false,
            moving_mask: level.moving_mask.as_ref(),
            outer,
            metric: metric.as_ref(),
        };
        let probe_all = Samples::at(&level.fixed, &spread(&level.pool, 8192));
        problem.evaluate(model.model(), &probe_all, None, &|| format!("after initialization ({when})"))?;
        // From here on only samples that start inside the moving image are used, and the
        // moving image is extended beyond its border: the cost is then continuous in the
        // parameters (samples crossing the border would make it jump), which line searches
        // and sub-voxel convergence need.
        let inside = {
            let m = model.model();
            let mv = &level.moving;
            let mm = level.moving_mask.as_ref();
            move |p: Vec3| {
                let q = outer.apply(m.map(p));
                mv.contains(q) && mm.is_none_or(|k| k.contains(q))
            }
        };
        let i2w = level.fixed.geometry().index_to_world_affine();
        let [nx, ny, _] = level.fixed.dims();
        let pool: Vec<u32> = level
            .pool
            .par_iter()
            .copied()
            .filter(|&o| {
                let o = o as usize;
                inside(i2w.apply([(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64]))
            })
            .collect();
        let mut rng =
            ChaCha8Rng::seed_from_u64(settings.seed ^ ((settings.stage_index as u64) << 32) ^ l as u64);
        let (samples, exact, stochastic) = match settings.sampling {
            Sampling::Random { count } if !metric.needs_grid() && count < pool.len() => {
                let count = count.max(64);
                let exact = Samples::at(&level.fixed, &spread(&pool, (2 * count).max(4096)));
                let first = Samples::random(&level.fixed, &pool, count, &mut rng);
                let stochastic = settings.optimizer.is_stochastic().then_some((count, rng));
                (first, exact, stochastic)
            }
            _ => {
                let s = if metric.needs_grid() {
                    let mut s = Samples::whole_grid(&level.fixed, level.fixed_mask.as_ref());
                    s.retain_inside(inside);
                    s
                } else {
                    Samples::at(&level.fixed, &pool)
                };
                (s.clone(), s, None)
            }
        };
        problem.extend = true;
        let scales = match &model {
            Owned::Linear(t) => {
                let pts: Vec<Vec3> = Samples::at(&level.fixed, &spread(&level.pool, 8192)).points;
                t.jacobian_scales(&pts)
            }
            Owned::BSpline(t) => vec![1.0; t.num_parameters()],
        };
        let bending = match (&model, bspline_schedule) {
            (Owned::BSpline(t), Some((_, w))) if w > 0.0 => Some((BendingEnergy::new(t), w)),
            _ => None,
        };
        let iterations = settings.iterations[l];
        let name = settings.name;
        let (si, ns, nl) = (settings.stage_index, settings.stages, levels.len());
        let mut report = |iteration: usize, value: f64| {
            progress(&Progress {
                stage: name,
                stage_index: si,
                stages: ns,
                level: l,
                levels: nl,
                iteration,
                iterations,
                value,
            })
        };
        let theta0 = model.params();
        let x0: Vec<f64> = theta0.iter().zip(&scales).map(|(t, s)| t * s).collect();
        let np = theta0.len();
        let mut obj = StageObjective {
            level,
            problem,
            model,
            scales: scales.clone(),
            samples,
            exact,
            stochastic,
            bending,
            probe: Samples::at(&level.fixed, &spread(&pool, 1000)).points,
            pool,
            theta: vec![0.0; np],
            grad_theta: vec![0.0; np],
            report: &mut report,
            when,
        };
        let spacing = level.mean_spacing();
        let run =
            RunSettings { kind: settings.optimizer, iterations, max_step: spacing, min_step: 1e-3 * spacing };
        let result = optimizer::run(&mut obj, x0, &run)?;
        let theta: Vec<f64> = result.x.iter().zip(&scales).map(|(x, s)| x / s).collect();
        model = obj.model;
        model.set(&theta)?;
        reports.push(LevelReport {
            iterations: result.iterations,
            final_value: result.value,
            seconds: start.elapsed().as_secs_f64(),
            grid: level.fixed.dims(),
        });
    }
    Ok((model, reports))
}
