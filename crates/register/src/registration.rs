//! The registration driver: options, stages (rigid → affine → deformable), progress and the
//! result.

use std::time::Instant;

use hounsfield_core::Volume;
use hounsfield_imgproc::interpolate::Interpolation;
use serde::Serialize;

use crate::diffeo::{register_velocity, DiffeoOptions};
use crate::error::{invalid, RegisterError};
use crate::image::{check_pair, MovingInterpolation, Pyramid};
use crate::metric::{MetricKind, MetricOptions};
use crate::optimizer::OptimizerKind;
use crate::parametric::{build_levels, run_stage, Owned, Sampling, StageSettings};
use crate::transform::init::{initial_transform, Initialization};
use crate::transform::{AnyTransform, BSplineTransform, LinearKind, LinearTransform};

/// What kind of transform to estimate (each includes the stages before it: a B-spline
/// registration first finds a rigid, then an affine transform).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransformType {
    /// Translation only.
    Translation,
    /// Rigid: rotation and translation (the default; Euler angles, ITK's `Euler3DTransform`).
    #[default]
    Rigid,
    /// Rigid, then similarity (isotropic scale).
    Similarity,
    /// Rigid, then affine.
    Affine,
    /// Rigid, affine, then a cubic B-spline free-form deformation with bending-energy
    /// regularization (Rueckert 1999; elastix's default deformable pipeline).
    BSpline,
    /// Rigid, affine, then the symmetric diffeomorphic method (stationary velocity field,
    /// local correlation; see [`crate::diffeo`]).
    Syn,
}

impl TransformType {
    /// Name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            TransformType::Translation => "translation",
            TransformType::Rigid => "rigid",
            TransformType::Similarity => "similarity",
            TransformType::Affine => "affine",
            TransformType::BSpline => "bspline",
            TransformType::Syn => "syn",
        }
    }
}

/// Options of the B-spline stage.
#[derive(Clone, Debug, PartialEq)]
pub struct BSplineOptions {
    /// Control point spacing at the finest level, mm. `None` (the default): 10 mm (elastix's
    /// `FinalGridSpacingInPhysicalUnits`) but at least 5 voxels of the fixed image, since a
    /// grid finer than that has too few samples per control point to stay regular (on a 48³
    /// head phantom with 4.6 mm voxels a 10 mm grid folded 0.5 % of the voxels).
    pub control_spacing_mm: Option<f64>,
    /// Weight of the bending energy (mm², added to the metric; default 1, elastix's
    /// `Metric1Weight` for its `TransformBendingEnergyPenalty`).
    pub bending_weight: f64,
    /// Iterations per level, coarsest first (default 30 each; the last value repeats).
    pub iterations: Vec<usize>,
    /// Fixed-image sampling of the B-spline stage (default 2¹⁷ random samples per level, all
    /// voxels for smaller images: the cost of an evaluation is then bounded whatever the
    /// image size).
    ///
    /// Many samples and few L-BFGS iterations: with one sample set per level, long runs fit
    /// the set's noise. On the 160×192×224 head pair (bench/register_vs_peers.py) 2¹⁵
    /// samples × 100 iterations gave a mean TRE of 0.88 mm, × 250 gave 1.31 mm, and 2¹⁷ × 30
    /// gave 0.51 mm in the same time (elastix's default maps: 0.56 mm); on the 64³ pair
    /// 1.69 → 0.98 mm, and MR → CT by mutual information 12.3 → 4.2 mm.
    pub sampling: Sampling,
}

impl Default for BSplineOptions {
    fn default() -> Self {
        Self {
            control_spacing_mm: None,
            bending_weight: 1.0,
            iterations: vec![30],
            sampling: Sampling::Random { count: 1 << 17 },
        }
    }
}

impl BSplineOptions {
    /// The finest control spacing (mm) for a fixed image with voxel `spacing` (see
    /// [`BSplineOptions::control_spacing_mm`]).
    pub fn control_spacing_for(&self, spacing: [f64; 3], two_d: bool) -> f64 {
        self.control_spacing_mm.unwrap_or_else(|| {
            let mean =
                if two_d { 0.5 * (spacing[0] + spacing[1]) } else { spacing.iter().sum::<f64>() / 3.0 };
            (5.0 * mean).max(10.0)
        })
    }
}

/// Every registration option. `Default` gives a rigid registration by Mattes mutual
/// information over a 3-level pyramid with adaptive stochastic gradient descent.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrationOptions {
    /// Transform to estimate.
    pub transform: TransformType,
    /// Metric of the linear and B-spline stages (default Mattes MI).
    pub metric: MetricKind,
    /// Metric of the diffeomorphic stage (default local correlation).
    pub diffeo_metric: MetricKind,
    /// Histogram bins, local window radius.
    pub metric_options: MetricOptions,
    /// Resolution levels and smoothing.
    pub pyramid: Pyramid,
    /// Starting point of the linear stages.
    pub initialization: Initialization,
    /// Optimizer of the parametric stages.
    pub optimizer: OptimizerKind,
    /// Iterations per level of each linear stage, coarsest first (default 200 each; the last
    /// value repeats).
    pub iterations: Vec<usize>,
    /// Fixed-image sampling of the parametric stages.
    pub sampling: Sampling,
    /// Interpolation of the moving image while optimizing.
    pub interpolation: MovingInterpolation,
    /// B-spline stage options.
    pub bspline: BSplineOptions,
    /// Diffeomorphic stage options.
    pub diffeo: DiffeoOptions,
    /// Seed of the random sampling.
    pub seed: u64,
}

impl Default for RegistrationOptions {
    fn default() -> Self {
        Self {
            transform: TransformType::default(),
            metric: MetricKind::default(),
            diffeo_metric: MetricKind::LocalCorrelation,
            metric_options: MetricOptions::default(),
            pyramid: Pyramid::default(),
            initialization: Initialization::default(),
            optimizer: OptimizerKind::default(),
            iterations: vec![200],
            sampling: Sampling::default(),
            interpolation: MovingInterpolation::default(),
            bspline: BSplineOptions::default(),
            diffeo: DiffeoOptions::default(),
            seed: 0,
        }
    }
}

/// Optional masks (non-zero = use): fixed-image samples are taken inside the fixed mask;
/// samples mapping outside the moving mask are ignored. Any grid: masks are resampled
/// (nearest) onto each pyramid level.
#[derive(Clone, Copy, Debug, Default)]
pub struct Masks<'a> {
    /// Mask on (or over) the fixed image.
    pub fixed: Option<&'a Volume<u8>>,
    /// Mask on (or over) the moving image.
    pub moving: Option<&'a Volume<u8>>,
}

/// Where the registration is, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Stage name (`"rigid"`, `"affine"`, `"bspline"`, `"diffeomorphic"`, …).
    pub stage: &'static str,
    /// Index of the stage (0-based).
    pub stage_index: usize,
    /// Number of stages.
    pub stages: usize,
    /// Pyramid level (0 = coarsest).
    pub level: usize,
    /// Number of levels.
    pub levels: usize,
    /// Iteration within the level (0-based).
    pub iteration: usize,
    /// Iterations planned for the level (a level may stop earlier).
    pub iterations: usize,
    /// Current cost.
    pub value: f64,
}

/// What one pyramid level of one stage did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelReport {
    /// Iterations run.
    pub iterations: usize,
    /// Cost at the last iteration.
    pub final_value: f64,
    /// Wall time, s.
    pub seconds: f64,
    /// The level's grid.
    pub grid: [usize; 3],
}

/// What one stage did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageReport {
    /// Stage name.
    pub name: String,
    /// Per level, coarsest first.
    pub levels: Vec<LevelReport>,
}

/// A registration's result.
#[derive(Clone, Debug)]
pub struct Registration {
    /// The whole map from fixed to moving points: the linear transform, composed with the
    /// deformation for deformable registrations (`Composite([linear, deformation])`).
    pub transform: AnyTransform,
    /// The linear part (the last linear stage's result).
    pub linear: LinearTransform,
    /// Per-stage reports.
    pub stages: Vec<StageReport>,
    /// Total wall time, s.
    pub seconds: f64,
}

impl Registration {
    /// The moving image resampled onto the fixed grid through the result.
    pub fn warp(
        &self,
        moving: &Volume<f32>,
        fixed_dims: [usize; 3],
        fixed_geometry: &hounsfield_core::Geometry,
        interpolation: Interpolation,
    ) -> Result<Volume<f32>, RegisterError> {
        crate::apply::warp_image(moving, &self.transform, fixed_dims, fixed_geometry, interpolation, 0.0)
    }
}

fn per_level(v: &[usize], levels: usize, name: &'static str) -> Result<Vec<usize>, RegisterError> {
    let Some(&last) = v.last() else { return Err(invalid(name, "at least one value")) };
    if v.len() > levels {
        return Err(invalid(name, format!("{} values for {levels} levels", v.len())));
    }
    Ok((0..levels).map(|l| v.get(l).copied().unwrap_or(last)).collect())
}

/// The linear kinds a transform type runs through.
fn linear_stages(t: TransformType, two_d: bool) -> Vec<(&'static str, LinearKind)> {
    let (tr, rigid, sim, aff) = if two_d {
        (LinearKind::Translation2D, LinearKind::Euler2D, LinearKind::Similarity2D, LinearKind::Affine2D)
    } else {
        (LinearKind::Translation3D, LinearKind::Euler3D, LinearKind::Similarity3D, LinearKind::Affine3D)
    };
    match t {
        TransformType::Translation => vec![("translation", tr)],
        TransformType::Rigid => vec![("rigid", rigid)],
        TransformType::Similarity => vec![("rigid", rigid), ("similarity", sim)],
        TransformType::Affine | TransformType::BSpline | TransformType::Syn => {
            vec![("rigid", rigid), ("affine", aff)]
        }
    }
}

/// Registers `moving` to `fixed`: finds the transform mapping fixed-image points to
/// moving-image points (ITK convention) such that `moving ∘ T` looks like `fixed`.
/// `progress` is called at every iteration.
pub fn register(
    fixed: &Volume<f32>,
    moving: &Volume<f32>,
    masks: Masks<'_>,
    opts: &RegistrationOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Registration, RegisterError> {
    let start = Instant::now();
    let two_d = check_pair(fixed, moving)?;
    opts.pyramid.validate()?;
    for (which, m) in [("fixed", masks.fixed), ("moving", masks.moving)] {
        if let Some(m) = m {
            m.geometry().validate_with(false).map_err(|e| RegisterError::Geometry {
                which: if which == "fixed" { "fixed mask" } else { "moving mask" },
                reason: e.to_string(),
            })?;
            if m.data().iter().all(|&v| v == 0) {
                return Err(RegisterError::EmptyMask { which, detail: String::new() });
            }
        }
    }
    let levels = opts.pyramid.levels;
    let linear_iters = per_level(&opts.iterations, levels, "iterations")?;
    let stages = linear_stages(opts.transform, two_d);
    let deformable = matches!(opts.transform, TransformType::BSpline | TransformType::Syn);
    let nstages = stages.len() + usize::from(deformable);
    let mut linear =
        initial_transform(stages[0].1, fixed, moving, opts.initialization, masks.fixed, masks.moving)?;
    let pyr = build_levels(fixed, moving, masks.fixed, masks.moving, &opts.pyramid, opts.interpolation)?;
    let identity = hounsfield_core::Affine3 { m: hounsfield_core::linalg::IDENTITY3, t: [0.0; 3] };
    let mut reports = Vec::new();
    for (i, (name, kind)) in stages.iter().enumerate() {
        let start_t = linear.convert(*kind)?;
        let settings = StageSettings {
            name,
            stage_index: i,
            stages: nstages,
            metric: opts.metric,
            metric_options: opts.metric_options,
            optimizer: opts.optimizer,
            iterations: linear_iters.clone(),
            sampling: opts.sampling,
            seed: opts.seed,
        };
        let (out, lr) = run_stage(&pyr, Owned::Linear(start_t), identity, &settings, None, progress)?;
        if let Owned::Linear(t) = out {
            linear = t;
        }
        reports.push(StageReport { name: (*name).to_owned(), levels: lr });
    }
    let transform = match opts.transform {
        TransformType::BSpline => {
            let b = &opts.bspline;
            let control = b.control_spacing_for(fixed.geometry().spacing, two_d);
            if !(control.is_finite() && control > 0.0) {
                return Err(invalid("control_spacing_mm", format!("{control} is not a positive spacing")));
            }
            if !(b.bending_weight.is_finite() && b.bending_weight >= 0.0) {
                return Err(invalid("bending_weight", format!("{} is not a weight ≥ 0", b.bending_weight)));
            }
            // Control spacing doubles every two levels towards the coarsest (elastix's √2
            // schedule).
            let spacings: Vec<f64> =
                (0..levels).map(|l| control * 2f64.sqrt().powi((levels - 1 - l) as i32)).collect();
            let start_b = BSplineTransform::for_image(fixed.dims(), fixed.geometry(), spacings[0])?;
            let settings = StageSettings {
                name: "bspline",
                stage_index: stages.len(),
                stages: nstages,
                metric: opts.metric,
                metric_options: opts.metric_options,
                optimizer: opts.optimizer,
                iterations: per_level(&b.iterations, levels, "bspline iterations")?,
                sampling: b.sampling,
                seed: opts.seed,
            };
            let outer = linear.to_affine3();
            let (out, lr) = run_stage(
                &pyr,
                Owned::BSpline(start_b),
                outer,
                &settings,
                Some((&spacings, b.bending_weight)),
                progress,
            )?;
            reports.push(StageReport { name: "bspline".into(), levels: lr });
            match out {
                Owned::BSpline(t) => AnyTransform::Composite(vec![linear.clone().into(), t.into()]),
                Owned::Linear(t) => t.into(),
            }
        }
        TransformType::Syn => {
            drop(pyr);
            let (svf, lr) = register_velocity(
                fixed,
                moving,
                &linear,
                masks.fixed,
                masks.moving,
                &opts.pyramid,
                opts.diffeo_metric,
                &opts.metric_options,
                &opts.diffeo,
                (stages.len(), nstages),
                progress,
            )?;
            reports.push(StageReport { name: "diffeomorphic".into(), levels: lr });
            AnyTransform::Composite(vec![linear.clone().into(), svf.into()])
        }
        _ => linear.clone().into(),
    };
    Ok(Registration { transform, linear, stages: reports, seconds: start.elapsed().as_secs_f64() })
}
