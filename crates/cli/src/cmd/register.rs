//! Registration commands: `register`, `transform apply`, `eval registration`.
//!
//! ```text
//! hounsfield register --fixed f.nii.gz --moving m.nii.gz --transform bspline -o warped.nii.gz \
//!     --out-transform t.tfm --out-field field.nii.gz            # also 2-D: PNG in, PNG out
//! hounsfield transform apply --transform t.tfm --input labels.nii.gz --reference f.nii.gz --labels -o l.nii.gz
//! hounsfield eval registration --fixed-landmarks a.csv --moving-landmarks b.csv --transform t.tfm --json
//! ```
//!
//! Transforms map fixed points to moving points (the ITK convention), so `transform apply`
//! resamples `--input` (in the moving image's space) onto `--reference` (the fixed grid).
//! `.tfm`/`.txt` files are ITK text transform files (SimpleITK's `ReadTransform` reads them);
//! `.nii`/`.nii.gz` transforms are displacement fields in the ITK/ANTs convention (SimpleITK's
//! `DisplacementFieldTransform`, ANTs' `antsApplyTransforms`). Landmark files are CSV, one point
//! per line, `x,y,z` (or `x,y` for 2-D images) in world millimetres (LPS); a first line that is
//! not numeric is taken as a header.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::ValueEnum;
use hounsfield_core::{AnyVolume, IdentityTransform, LabelVolume, Volume};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_io::{write_image, WriteOptions};
use hounsfield_register::metric::MetricKind;
use hounsfield_register::quality::{assess, QualityReport};
use hounsfield_register::transform::AnyTransform;
use hounsfield_register::{
    register as run_registration, Masks, Progress, RegistrationOptions, TransformType,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Transform to estimate.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum TransformArg {
    /// Translation only.
    Translation,
    /// Rotation and translation (default).
    #[default]
    Rigid,
    /// Rigid, then isotropic scale.
    Similarity,
    /// Rigid, then affine.
    Affine,
    /// Rigid, affine, then a cubic B-spline free-form deformation (elastix-like).
    Bspline,
    /// Rigid, affine, then a symmetric diffeomorphic stationary velocity field (SyN-like).
    Syn,
}

impl From<TransformArg> for TransformType {
    fn from(t: TransformArg) -> Self {
        match t {
            TransformArg::Translation => TransformType::Translation,
            TransformArg::Rigid => TransformType::Rigid,
            TransformArg::Similarity => TransformType::Similarity,
            TransformArg::Affine => TransformType::Affine,
            TransformArg::Bspline => TransformType::BSpline,
            TransformArg::Syn => TransformType::Syn,
        }
    }
}

/// Similarity metric.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum MetricArg {
    /// Mean squared difference (same modality, same intensities).
    Mse,
    /// Normalized cross-correlation (same modality, linear intensity change).
    Ncc,
    /// Local normalized cross-correlation (windowed, ANTs-style).
    Lncc,
    /// Mattes mutual information (any modalities, e.g. MR↔CT).
    Mi,
}

impl From<MetricArg> for MetricKind {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Mse => MetricKind::MeanSquares,
            MetricArg::Ncc => MetricKind::Correlation,
            MetricArg::Lncc => MetricKind::LocalCorrelation,
            MetricArg::Mi => MetricKind::MattesMutualInformation,
        }
    }
}

/// Arguments of `hounsfield register`.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// Fixed image (the reference grid of the result).
    #[arg(long)]
    pub fixed: PathBuf,
    /// Moving image (resampled onto the fixed grid).
    #[arg(long)]
    pub moving: PathBuf,
    /// Transform to estimate.
    #[arg(long, short, value_enum, default_value_t)]
    pub transform: TransformArg,
    /// Metric of the linear and B-spline stages [default: mi]; with `syn`, mse, ncc and lncc
    /// also drive the diffeomorphic stage (otherwise lncc).
    #[arg(long, short, value_enum)]
    pub metric: Option<MetricArg>,
    /// Pyramid levels (each halves the resolution).
    #[arg(long, default_value_t = 3)]
    pub levels: usize,
    /// Iterations per level of the linear stages, coarsest first (e.g. `200,100,50`).
    #[arg(long, value_delimiter = ',')]
    pub iterations: Option<Vec<usize>>,
    /// B-spline control point spacing at the finest level, mm [default: 10 mm, at least 5
    /// voxels].
    #[arg(long)]
    pub control_spacing: Option<f64>,
    /// Iterations per level of the B-spline stage, coarsest first [default: 30].
    #[arg(long, value_delimiter = ',')]
    pub bspline_iterations: Option<Vec<usize>>,
    /// Random fixed-image samples per level of the B-spline stage [default: 131072].
    #[arg(long)]
    pub bspline_samples: Option<usize>,
    /// Fixed-image mask (non-zero = use).
    #[arg(long)]
    pub fixed_mask: Option<PathBuf>,
    /// Moving-image mask (non-zero = use).
    #[arg(long)]
    pub moving_mask: Option<PathBuf>,
    /// Fixed label map: reports Dice of the warped moving labels (with --moving-labels).
    #[arg(long, requires = "moving_labels")]
    pub fixed_labels: Option<PathBuf>,
    /// Moving label map (see --fixed-labels).
    #[arg(long, requires = "fixed_labels")]
    pub moving_labels: Option<PathBuf>,
    /// Seed of the random sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Warped moving image on the fixed grid.
    #[arg(long, short)]
    pub output: PathBuf,
    /// The transform (fixed → moving points) as an ITK text file (`.tfm`); for `syn`, its
    /// linear part (the deformation goes to --out-field, required then). A `.nii.gz` name
    /// writes the whole map as a displacement field.
    #[arg(long)]
    pub out_transform: Option<PathBuf>,
    /// The whole map as a displacement field on the fixed grid (NIfTI vector image, ITK/ANTs
    /// convention).
    #[arg(long)]
    pub out_field: Option<PathBuf>,
    /// Print a JSON summary (stages, times, Jacobian, folding, Dice) on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `hounsfield transform apply`.
#[derive(clap::Args, Debug)]
pub struct TransformApplyArgs {
    /// Transform: ITK text file (`.tfm`, `.txt`) or displacement field (`.nii`, `.nii.gz`).
    #[arg(long, short)]
    pub transform: PathBuf,
    /// Image (or label map) in the moving space.
    #[arg(long, short)]
    pub input: PathBuf,
    /// Grid of the output (usually the fixed image).
    #[arg(long, short)]
    pub reference: PathBuf,
    /// The input is a label map: nearest-neighbour interpolation, integer labels kept.
    #[arg(long)]
    pub labels: bool,
    /// Interpolation of images (ignored with --labels).
    #[arg(long, value_enum, default_value_t)]
    pub interpolation: InterpolationArg,
    /// Output.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Interpolation for `transform apply`.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum InterpolationArg {
    /// Nearest neighbour.
    Nearest,
    /// Trilinear (default).
    #[default]
    Linear,
    /// Cubic B-spline.
    Bspline,
}

/// Arguments of `hounsfield eval registration`.
#[derive(clap::Args, Debug)]
pub struct EvalRegistrationArgs {
    /// Landmarks in the fixed image (CSV `x,y,z` mm per line).
    #[arg(long)]
    pub fixed_landmarks: PathBuf,
    /// Corresponding landmarks in the moving image (same order).
    #[arg(long)]
    pub moving_landmarks: PathBuf,
    /// Transform (fixed → moving): ITK text file or displacement field.
    #[arg(long, short)]
    pub transform: PathBuf,
    /// A grid (usually the fixed image) on which to report the Jacobian and folding.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn load_f32(path: &Path, g: &crate::ui::GlobalArgs) -> anyhow::Result<Volume<f32>> {
    Ok(super::load(path, None, g)?.volume.into_f32())
}

pub(crate) fn load_mask(path: &Path, g: &crate::ui::GlobalArgs) -> anyhow::Result<Volume<u8>> {
    let v = load_f32(path, g)?;
    let data: Vec<u8> = v.data().iter().map(|&x| u8::from(x != 0.0)).collect();
    Volume::from_vec(v.dims(), *v.geometry(), data).with_context(|| format!("mask {}", path.display()))
}

pub(crate) fn load_labels(path: &Path, g: &crate::ui::GlobalArgs) -> anyhow::Result<LabelVolume> {
    super::load(path, None, g)?.volume.to_labels().with_context(|| format!("label map {}", path.display()))
}

fn read_transform(path: &Path) -> anyhow::Result<AnyTransform> {
    AnyTransform::read(path).with_context(|| format!("cannot read transform {}", path.display()))
}

fn is_nifti(p: &Path) -> bool {
    let n = p.to_string_lossy().to_ascii_lowercase();
    n.ends_with(".nii") || n.ends_with(".nii.gz")
}

/// A bar over the iterations of the current stage and level (hidden when quiet or piped).
pub(crate) struct Bar {
    pub(crate) pb: ProgressBar,
    key: (usize, usize),
}

impl Bar {
    pub(crate) fn new(g: &crate::ui::GlobalArgs) -> Self {
        let pb = if g.quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(1)
        };
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}) cost {prefix}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self { pb, key: (usize::MAX, usize::MAX) }
    }

    pub(crate) fn update(&mut self, p: &Progress) {
        if self.key != (p.stage_index, p.level) {
            self.key = (p.stage_index, p.level);
            self.pb.set_length(p.iterations as u64);
            self.pb.set_message(format!(
                "{} ({}/{}) level {}/{}",
                p.stage,
                p.stage_index + 1,
                p.stages,
                p.level + 1,
                p.levels
            ));
        }
        self.pb.set_position(p.iteration as u64);
        self.pb.set_prefix(format!("{:.5}", p.value));
    }
}

#[derive(Serialize)]
struct RegisterSummary<'a> {
    fixed: String,
    moving: String,
    transform: &'static str,
    seconds: f64,
    stages: &'a [hounsfield_register::registration::StageReport],
    quality: &'a QualityReport,
    dice_before: Option<f64>,
}

/// `hounsfield register`.
pub fn register(a: RegisterArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let transform: TransformType = a.transform.into();
    if transform == TransformType::Syn
        && a.out_field.is_none()
        && a.out_transform.as_deref().is_some_and(|p| !is_nifti(p))
    {
        bail!(
            "a syn deformation cannot be stored in an ITK text file: give --out-field field.nii.gz (the .tfm then \
             holds the linear part) or a .nii.gz --out-transform"
        );
    }
    let fixed = load_f32(&a.fixed, g)?;
    let moving = load_f32(&a.moving, g)?;
    let fixed_mask = a.fixed_mask.as_deref().map(|p| load_mask(p, g)).transpose()?;
    let moving_mask = a.moving_mask.as_deref().map(|p| load_mask(p, g)).transpose()?;
    let labels = match (&a.fixed_labels, &a.moving_labels) {
        (Some(f), Some(m)) => Some((load_labels(f, g)?, load_labels(m, g)?)),
        _ => None,
    };
    let mut opts = RegistrationOptions {
        transform,
        pyramid: hounsfield_register::image::Pyramid::with_levels(a.levels),
        seed: a.seed,
        ..Default::default()
    };
    if let Some(m) = a.metric {
        opts.metric = m.into();
        if matches!(m, MetricArg::Mse | MetricArg::Ncc | MetricArg::Lncc) {
            opts.diffeo_metric = m.into();
        }
    }
    if let Some(it) = &a.iterations {
        opts.iterations = it.clone();
    }
    if let Some(s) = a.control_spacing {
        opts.bspline.control_spacing_mm = Some(s);
    }
    if let Some(it) = &a.bspline_iterations {
        opts.bspline.iterations = it.clone();
    }
    if let Some(n) = a.bspline_samples {
        opts.bspline.sampling = hounsfield_register::parametric::Sampling::Random { count: n };
    }
    let mut bar = Bar::new(g);
    let masks = Masks { fixed: fixed_mask.as_ref(), moving: moving_mask.as_ref() };
    let r = run_registration(&fixed, &moving, masks, &opts, &mut |p| bar.update(p));
    bar.pb.finish_and_clear();
    let r = r.context("registration failed")?;

    let pb = g.spinner("warping and measuring");
    let warped = r.warp(&moving, fixed.dims(), fixed.geometry(), Interpolation::Linear)?;
    let quality =
        assess(&r.transform, fixed.dims(), fixed.geometry(), None, labels.as_ref().map(|(f, m)| (f, m)))?;
    let dice_before = match &labels {
        Some((f, m)) => {
            let warped =
                hounsfield_register::apply::warp_labels(m, &IdentityTransform, f.dims(), f.geometry())?;
            let d = hounsfield_register::quality::dice_per_label(f, &warped)?;
            Some(d.iter().map(|x| x.dice).sum::<f64>() / d.len().max(1) as f64)
        }
        None => None,
    };
    pb.finish_and_clear();

    write_image(&a.output, &AnyVolume::F32(warped), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    if let Some(p) = &a.out_transform {
        let t = if is_nifti(p) {
            AnyTransform::Field(r.transform.to_field(fixed.dims(), fixed.geometry())?)
        } else if transform == TransformType::Syn {
            r.linear.clone().into()
        } else {
            r.transform.clone()
        };
        t.write(p).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &a.out_field {
        AnyTransform::Field(r.transform.to_field(fixed.dims(), fixed.geometry())?)
            .write(p)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if a.json {
        let s = RegisterSummary {
            fixed: a.fixed.display().to_string(),
            moving: a.moving.display().to_string(),
            transform: transform.name(),
            seconds: r.seconds,
            stages: &r.stages,
            quality: &quality,
            dice_before,
        };
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        let mut line = format!(
            "registered ({}) in {:.2} s: folding {:.3} %, Jacobian {:.3}..{:.3}",
            transform.name(),
            r.seconds,
            quality.folding_percent,
            quality.jacobian.min,
            quality.jacobian.max
        );
        if let Some(b) = dice_before {
            line.push_str(&format!(", mean Dice {:.4} (before {:.4})", quality.mean_dice, b));
        }
        g.note(line);
    }
    Ok(())
}

/// `hounsfield transform apply`.
pub fn transform_apply(a: TransformApplyArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let t = read_transform(&a.transform)?;
    let reference = super::load(&a.reference, None, g)?.volume;
    let (dims, geom) = (reference.dims(), *reference.geometry());
    geom.validate_with(false).with_context(|| format!("reference grid of {}", a.reference.display()))?;
    let input = super::load(&a.input, None, g)?.volume;
    input.geometry().validate_with(false).with_context(|| format!("input grid of {}", a.input.display()))?;
    let pb = g.spinner("resampling");
    let out = if a.labels {
        let l = input.to_labels().with_context(|| format!("label map {}", a.input.display()))?;
        let w = hounsfield_register::apply::warp_labels(&l, &t, dims, &geom)?;
        AnyVolume::U16(w.into_volume())
    } else {
        let interp = match a.interpolation {
            InterpolationArg::Nearest => Interpolation::Nearest,
            InterpolationArg::Linear => Interpolation::Linear,
            InterpolationArg::Bspline => Interpolation::BSpline3,
        };
        AnyVolume::F32(hounsfield_register::apply::warp_image(
            &input.into_f32(),
            &t,
            dims,
            &geom,
            interp,
            0.0,
        )?)
    };
    pb.finish_and_clear();
    write_image(&a.output, &out, &WriteOptions::default())
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    g.note(format!("wrote {}", a.output.display()));
    Ok(())
}

/// Reads a landmark CSV: `x,y[,z]` per line (mm, LPS), `#` comments, an optional header.
pub fn read_landmarks(path: &Path) -> anyhow::Result<Vec<[f64; 3]>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split([',', ';', '\t', ' ']).filter(|s| !s.is_empty()).collect();
        let nums: Result<Vec<f64>, _> = fields.iter().map(|s| s.parse::<f64>()).collect();
        match nums {
            Ok(v) if (v.len() == 2 || v.len() == 3) && v.iter().all(|x| x.is_finite()) => {
                out.push([v[0], v[1], v.get(2).copied().unwrap_or(0.0)]);
            }
            Err(_) if out.is_empty() && i == 0 => continue, // header
            _ => bail!("line {} of {} is not a point `x,y[,z]` in mm: `{line}`", i + 1, path.display()),
        }
    }
    if out.is_empty() {
        bail!("no landmarks in {}", path.display());
    }
    Ok(out)
}

#[derive(Serialize)]
struct EvalSummary {
    landmarks: usize,
    tre: hounsfield_metrics::registration::TreSummary,
    tre_before: hounsfield_metrics::registration::TreSummary,
    jacobian: Option<hounsfield_metrics::registration::JacobianStats>,
    folding_percent: Option<f64>,
}

/// `hounsfield eval registration`.
pub fn eval_registration(a: EvalRegistrationArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let f = read_landmarks(&a.fixed_landmarks)?;
    let m = read_landmarks(&a.moving_landmarks)?;
    if f.len() != m.len() {
        bail!(
            "{} fixed landmarks ({}) but {} moving landmarks ({}): they must correspond one to one",
            f.len(),
            a.fixed_landmarks.display(),
            m.len(),
            a.moving_landmarks.display()
        );
    }
    let t = read_transform(&a.transform)?;
    let tre = hounsfield_metrics::registration::tre(&f, &m, &t)?;
    let tre_before = hounsfield_metrics::registration::tre(&f, &m, &IdentityTransform)?;
    let (jacobian, folding_percent) = match &a.reference {
        Some(r) => {
            let v = super::load(r, None, g)?.volume;
            let q = assess(&t, v.dims(), v.geometry(), None, None)?;
            (Some(q.jacobian), Some(q.folding_percent))
        }
        None => (None, None),
    };
    let s = EvalSummary { landmarks: f.len(), tre, tre_before, jacobian, folding_percent };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "TRE over {} landmarks: mean {:.3} mm, median {:.3}, max {:.3} (before: mean {:.3} mm)",
            s.landmarks, s.tre.mean, s.tre.median, s.tre.max, s.tre_before.mean
        );
        if let (Some(j), Some(fp)) = (&s.jacobian, s.folding_percent) {
            println!("Jacobian {:.3}..{:.3} (mean {:.3}), folding {:.3} %", j.min, j.max, j.mean, fp);
        }
    }
    Ok(())
}
