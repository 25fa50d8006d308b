//! Dataset generation for training and evaluation: segmentation, synthesis, registration
//! and diagnosis tasks, each case a set of volumes plus metadata, and a `manifest.json`.
//!
//! The crate does no file I/O (the `io` crate is a sibling, not a dependency): every file is
//! handed to a writer callback with its path relative to the dataset folder. The CLI passes
//! a writer that saves volumes as NIfTI and text as-is.
//!
//! | task | anatomy (default) | files per case | metadata |
//! |---|---|---|---|
//! | segmentation | torso and head alternating | `image`, `labels` | phantom info, modality |
//! | synthesis | torso and head alternating | `t1`, `ct`, `labels` (aligned) | phantom info |
//! | registration | torso and head alternating | `fixed`, `moving`, `fixed_labels`, `moving_labels`, `field_x`, `field_y`, `field_z`, `landmarks` (CSV) | deformation, landmarks |
//! | diagnosis | torso | `image`, `labels`, `nodules` (CSV) | nodules with class |
//!
//! Segmentation images are CT (torso, 10 HU noise) or T1-weighted MR (head, 2 % Rician
//! noise, 0.2 bias), or SynthSeg-style random contrasts with
//! [`SegmentationContrast::Random`]. Anatomies are randomly varied and deformed
//! ([`DatasetOptions::anatomy_deform_mm`]). Each head has a lesion with probability ½.
//!
//! # Registration convention
//!
//! The ground-truth displacement `u` (files `field_x/y/z`, mm, LPS components, on the fixed
//! grid) maps fixed points to moving points: `moving(x + u(x)) = fixed(x)`. This is the
//! transform a registration returns in the ITK convention (resampling the moving image with
//! it gives the fixed one). `landmarks.csv` lists random points inside the body of the fixed
//! image and their images `x + u(x)`, in mm.
//!
//! # Determinism
//!
//! Every case draws from its own sub-stream of the seed, renders in parallel with
//! position-only dependence, and adds noise from per-slice streams, so the same options
//! give bit-identical volumes and manifest on any machine and thread count.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hounsfield_core::AnyVolume;
use rand::Rng;
use serde::Serialize;
use serde_json::json;

use crate::anatomy::{AnatomyKind, HeadOptions, LesionChoice, NoduleClassChoice, Phantom, TorsoOptions};
use crate::contrast::{Contrast, CtOptions, FieldStrength, MrOptions, MrWeighting, RandomContrastOptions};
use crate::deform::{random_deformation, DeformationOptions};
use crate::error::{invalid, PhantomError};
use crate::labels::{Label, NODULE_LABEL_BASE};
use crate::rng::{rng, sub_seed, tag};
use crate::scene::{RenderOptions, MAX_SUPERSAMPLE};

/// What the dataset is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Image + labels (default).
    #[default]
    Segmentation,
    /// Aligned MR T1 + CT + labels.
    Synthesis,
    /// Fixed/moving pairs with the ground-truth displacement and landmarks.
    Registration,
    /// CT with lung nodules and a per-nodule table with class.
    Diagnosis,
}

impl Task {
    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Task::Segmentation => "segmentation",
            Task::Synthesis => "synthesis",
            Task::Registration => "registration",
            Task::Diagnosis => "diagnosis",
        }
    }
}

/// Which anatomies the cases use (the diagnosis task always uses the torso).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum AnatomyChoice {
    /// Even cases torso, odd cases head (default).
    #[default]
    Alternate,
    /// Torso only.
    Torso,
    /// Head only.
    Head,
}

/// Image contrast of segmentation cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum SegmentationContrast {
    /// The anatomy's usual modality: CT for the torso, T1-weighted MR for the head (default).
    #[default]
    Native,
    /// SynthSeg-style random contrast per case ([`RandomContrastOptions::default`]).
    Random,
}

/// Options of [`generate_with`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetOptions {
    /// The task (default segmentation).
    pub task: Task,
    /// Number of cases (≥ 1; default 1).
    pub count: usize,
    /// Voxels per axis of each case's cube (default 64).
    pub size: usize,
    /// Seed of the whole dataset (default 0).
    pub seed: u64,
    /// Anatomies (default alternating).
    pub anatomy: AnatomyChoice,
    /// Segmentation contrast (default native).
    pub contrast: SegmentationContrast,
    /// Sub-samples per voxel edge for partial volume (default 1).
    pub supersample: usize,
    /// Magnitude of each case's random anatomical deformation, mm (default 6).
    pub anatomy_deform_mm: f64,
    /// Magnitude of the registration task's deformation, mm (default 8).
    pub registration_deform_mm: f64,
    /// Landmarks per registration case (default 20).
    pub landmarks: usize,
    /// File extension of volumes, without the dot (default `nii.gz`): the writer decides
    /// the format from it.
    pub extension: String,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        Self {
            task: Task::Segmentation,
            count: 1,
            size: 64,
            seed: 0,
            anatomy: AnatomyChoice::Alternate,
            contrast: SegmentationContrast::Native,
            supersample: 1,
            anatomy_deform_mm: 6.0,
            registration_deform_mm: 8.0,
            landmarks: 20,
            extension: "nii.gz".into(),
        }
    }
}

/// A file handed to the writer.
#[derive(Clone, Copy, Debug)]
pub enum DatasetFile<'a> {
    /// A volume (image, labels as `u16`, field component).
    Volume(&'a AnyVolume),
    /// A text file (CSV, the manifest).
    Text(&'a str),
}

/// One case of the manifest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseEntry {
    /// Case id, also its folder name (`case_000`, …).
    pub id: String,
    /// Anatomy.
    pub anatomy: AnatomyKind,
    /// Files by role (`image`, `labels`, …), paths relative to the dataset folder.
    pub files: BTreeMap<String, String>,
    /// Task-specific ground truth (phantom info, nodules, landmarks, …).
    pub metadata: serde_json::Value,
}

/// `manifest.json`: what the dataset holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Manifest {
    /// Producer and format version.
    pub generator: String,
    /// The task.
    pub task: Task,
    /// The seed.
    pub seed: u64,
    /// Voxels per axis.
    pub size: usize,
    /// Number of cases.
    pub count: usize,
    /// Label id → name (nodules: ids from 100 up, `nodule N`).
    pub labels: BTreeMap<u16, String>,
    /// The options used.
    pub options: DatasetOptions,
    /// The cases.
    pub cases: Vec<CaseEntry>,
}

/// Generates a dataset with default options for `task` (see [`generate_with`]).
pub fn generate<E>(
    task: Task,
    count: usize,
    size: usize,
    seed: u64,
    mut writer: impl FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
) -> Result<Manifest, PhantomError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let opts = DatasetOptions { task, count, size, seed, ..DatasetOptions::default() };
    generate_with(&opts, &mut writer, |_, _| {})
}

/// Generates `opts.count` cases, handing every file to `writer` (path relative to the
/// dataset folder; `manifest.json` last) and calling `progress(done, total)` after each
/// case. Returns the manifest.
pub fn generate_with<E>(
    opts: &DatasetOptions,
    mut writer: impl FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Manifest, PhantomError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    validate(opts)?;
    let width = (opts.count.saturating_sub(1)).to_string().len().max(3);
    let mut cases = Vec::with_capacity(opts.count);
    for i in 0..opts.count {
        let id = format!("case_{i:0width$}");
        let case_seed = sub_seed(sub_seed(opts.seed, tag::DATASET), i as u64);
        let kind = match (opts.task, opts.anatomy) {
            (Task::Diagnosis, _) | (_, AnatomyChoice::Torso) => AnatomyKind::Torso,
            (_, AnatomyChoice::Head) => AnatomyKind::Head,
            (_, AnatomyChoice::Alternate) => {
                if i % 2 == 0 {
                    AnatomyKind::Torso
                } else {
                    AnatomyKind::Head
                }
            }
        };
        let mut out =
            CaseWriter { id: &id, ext: &opts.extension, files: BTreeMap::new(), writer: &mut writer };
        let metadata = match opts.task {
            Task::Segmentation => segmentation_case(opts, kind, case_seed, &mut out)?,
            Task::Synthesis => synthesis_case(opts, kind, case_seed, &mut out)?,
            Task::Registration => registration_case(opts, kind, case_seed, &mut out)?,
            Task::Diagnosis => diagnosis_case(opts, case_seed, &mut out)?,
        };
        let files = out.files;
        cases.push(CaseEntry { id, anatomy: kind, files, metadata });
        progress(i + 1, opts.count);
    }
    let mut labels: BTreeMap<u16, String> =
        Label::ALL.iter().map(|l| (l.id(), l.name().to_string())).collect();
    labels.insert(NODULE_LABEL_BASE, "nodule 1 (nodule N has id 99 + N)".into());
    let manifest = Manifest {
        generator: format!("hounsfield-phantom {}", env!("CARGO_PKG_VERSION")),
        task: opts.task,
        seed: opts.seed,
        size: opts.size,
        count: opts.count,
        labels,
        options: opts.clone(),
        cases,
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    write(&mut writer, Path::new("manifest.json"), DatasetFile::Text(&text))?;
    Ok(manifest)
}

fn validate(opts: &DatasetOptions) -> Result<(), PhantomError> {
    if opts.count == 0 {
        return Err(invalid("count", "must be at least 1"));
    }
    if opts.supersample == 0 || opts.supersample > MAX_SUPERSAMPLE {
        return Err(invalid(
            "supersample",
            format!("must be 1..={MAX_SUPERSAMPLE}, got {}", opts.supersample),
        ));
    }
    for (name, v) in [
        ("anatomy_deform_mm", opts.anatomy_deform_mm),
        ("registration_deform_mm", opts.registration_deform_mm),
    ] {
        if !(v.is_finite() && (0.0..=50.0).contains(&v)) {
            return Err(invalid(name, format!("must be in 0..=50 mm, got {v}")));
        }
    }
    if opts.extension.is_empty() || opts.extension.contains(['/', '\\']) {
        return Err(invalid("extension", format!("`{}` is not a file extension", opts.extension)));
    }
    // Every case allocates a few volumes of this size; check one against the memory cap.
    crate::scene::Grid::cube(opts.size, 1.0)?;
    Ok(())
}

fn write<E>(
    writer: &mut impl FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    path: &Path,
    file: DatasetFile<'_>,
) -> Result<(), PhantomError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    writer(path, file).map_err(|e| PhantomError::Write { path: path.to_path_buf(), source: e.into() })
}

/// Writes one case's files under its folder and records them.
struct CaseWriter<'a, W> {
    id: &'a str,
    ext: &'a str,
    files: BTreeMap<String, String>,
    writer: &'a mut W,
}

impl<W, E> CaseWriter<'_, W>
where
    W: FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn volume(&mut self, role: &str, v: AnyVolume) -> Result<(), PhantomError> {
        let rel = PathBuf::from(self.id).join(format!("{role}.{}", self.ext));
        write(self.writer, &rel, DatasetFile::Volume(&v))?;
        self.files.insert(role.to_string(), rel.to_string_lossy().replace('\\', "/"));
        Ok(())
    }
    fn text(&mut self, role: &str, name: &str, text: &str) -> Result<(), PhantomError> {
        let rel = PathBuf::from(self.id).join(name);
        write(self.writer, &rel, DatasetFile::Text(text))?;
        self.files.insert(role.to_string(), rel.to_string_lossy().replace('\\', "/"));
        Ok(())
    }
}

/// CT with clinical-looking noise.
fn ct() -> Contrast {
    Contrast::Ct(CtOptions { noise_sd_hu: 10.0 })
}

/// T1-weighted MR at 1.5 T with bias and noise.
fn t1() -> Contrast {
    Contrast::Mr(MrOptions {
        sequence: MrWeighting::T1.preset(),
        field: FieldStrength::T1_5,
        bias_strength: 0.2,
        noise: 0.02,
    })
}

fn native(kind: AnatomyKind) -> (Contrast, &'static str) {
    match kind {
        AnatomyKind::Torso => (ct(), "ct"),
        AnatomyKind::Head => (t1(), "t1"),
    }
}

fn phantom(opts: &DatasetOptions, kind: AnatomyKind, seed: u64) -> Result<Phantom, PhantomError> {
    match kind {
        AnatomyKind::Torso => {
            Phantom::torso(seed, &TorsoOptions { deform_mm: opts.anatomy_deform_mm, ..Default::default() })
        }
        AnatomyKind::Head => {
            let with_lesion = rng(seed, tag::LESION ^ 0xd5).gen_bool(0.5);
            let lesion = if with_lesion { LesionChoice::Random } else { LesionChoice::None };
            Phantom::head(
                seed,
                &HeadOptions { lesion, deform_mm: opts.anatomy_deform_mm, ..Default::default() },
            )
        }
    }
}

fn segmentation_case<W, E>(
    opts: &DatasetOptions,
    kind: AnatomyKind,
    seed: u64,
    out: &mut CaseWriter<'_, W>,
) -> Result<serde_json::Value, PhantomError>
where
    W: FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let p = phantom(opts, kind, seed)?;
    let (contrast, name) = match opts.contrast {
        SegmentationContrast::Native => native(kind),
        SegmentationContrast::Random => (Contrast::Random(RandomContrastOptions::default()), "random"),
    };
    let grid = p.grid(opts.size)?;
    let img = p.render(
        &grid,
        &contrast,
        &RenderOptions::supersampled(opts.supersample),
        sub_seed(seed, tag::NOISE),
    )?;
    out.volume("image", img.image.into())?;
    out.volume("labels", img.labels.into())?;
    Ok(
        json!({ "phantom": p.info(), "modality": name, "contrast": contrast, "spacing_mm": grid.geometry.spacing }),
    )
}

fn synthesis_case<W, E>(
    opts: &DatasetOptions,
    kind: AnatomyKind,
    seed: u64,
    out: &mut CaseWriter<'_, W>,
) -> Result<serde_json::Value, PhantomError>
where
    W: FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let p = phantom(opts, kind, seed)?;
    let grid = p.grid(opts.size)?;
    let contrasts = [t1(), ct()];
    let (mut imgs, labels) = p.render_many(
        &grid,
        &contrasts,
        &RenderOptions::supersampled(opts.supersample),
        sub_seed(seed, tag::NOISE),
    )?;
    let ct_img = imgs.pop().ok_or_else(|| invalid("contrast", "missing CT"))?;
    let t1_img = imgs.pop().ok_or_else(|| invalid("contrast", "missing T1"))?;
    out.volume("t1", t1_img.into())?;
    out.volume("ct", ct_img.into())?;
    out.volume("labels", labels.into())?;
    Ok(
        json!({ "phantom": p.info(), "contrasts": { "t1": contrasts[0], "ct": contrasts[1] }, "spacing_mm": grid.geometry.spacing }),
    )
}

fn registration_case<W, E>(
    opts: &DatasetOptions,
    kind: AnatomyKind,
    seed: u64,
    out: &mut CaseWriter<'_, W>,
) -> Result<serde_json::Value, PhantomError>
where
    W: FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let p = phantom(opts, kind, seed)?;
    let grid = p.grid(opts.size)?;
    let dopts = DeformationOptions {
        magnitude_mm: opts.registration_deform_mm,
        control_spacing_mm: p.fov_mm() / 5.0,
    };
    let d = random_deformation(&grid, &dopts, sub_seed(seed, tag::REGISTRATION))?;
    // moving(y) = fixed(y + u_inv(y)), so moving(x + u_fwd(x)) = fixed(x).
    let moving_p = p.warped(&d.inverse)?;
    let (contrast, name) = native(kind);
    let ropts = RenderOptions::supersampled(opts.supersample);
    let fixed = p.render(&grid, &contrast, &ropts, sub_seed(seed, tag::NOISE))?;
    let moving = moving_p.render(&grid, &contrast, &ropts, sub_seed(seed, tag::NOISE ^ 1))?;

    // Landmarks: random voxel centres inside the body of the fixed image.
    let mut r = rng(seed, tag::LANDMARKS);
    let i2w = grid.geometry.index_to_world_affine();
    let mut csv =
        String::from("id,fixed_x_mm,fixed_y_mm,fixed_z_mm,moving_x_mm,moving_y_mm,moving_z_mm,label\n");
    let mut marks = Vec::new();
    let n = grid.dims[0];
    for _ in 0..opts.landmarks.saturating_mul(200) {
        if marks.len() >= opts.landmarks {
            break;
        }
        let idx = [0; 3].map(|_| r.gen_range(0..n));
        let l = fixed.labels.data()[idx[0] + n * (idx[1] + n * idx[2])];
        if l == 0 {
            continue;
        }
        let x = i2w.apply(idx.map(|v| v as f64));
        let u = d.forward.displacement_at(x);
        let y = [x[0] + u[0], x[1] + u[1], x[2] + u[2]];
        let k = marks.len();
        let _ =
            writeln!(csv, "{k},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{l}", x[0], x[1], x[2], y[0], y[1], y[2]);
        marks.push(json!({ "id": k, "fixed_mm": x, "moving_mm": y, "label": l }));
    }
    out.volume("fixed", fixed.image.into())?;
    out.volume("moving", moving.image.into())?;
    out.volume("fixed_labels", fixed.labels.into())?;
    out.volume("moving_labels", moving.labels.into())?;
    let [fx, fy, fz] = d.forward.to_components();
    out.volume("field_x", fx.into())?;
    out.volume("field_y", fy.into())?;
    out.volume("field_z", fz.into())?;
    out.text("landmarks", "landmarks.csv", &csv)?;
    let max_disp = d
        .forward
        .data()
        .iter()
        .map(|v| ((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) as f64).sqrt())
        .fold(0.0, f64::max);
    Ok(json!({
        "phantom": p.info(),
        "modality": name,
        "deformation": {
            "convention": "moving(x + u(x)) = fixed(x); u = field_x/y/z in mm (LPS) on the fixed grid",
            "options": dopts,
            "max_displacement_mm": max_disp,
        },
        "landmarks": marks,
        "spacing_mm": grid.geometry.spacing,
    }))
}

fn diagnosis_case<W, E>(
    opts: &DatasetOptions,
    seed: u64,
    out: &mut CaseWriter<'_, W>,
) -> Result<serde_json::Value, PhantomError>
where
    W: FnMut(&Path, DatasetFile<'_>) -> Result<(), E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut r = rng(seed, tag::NODULES ^ 0xd1a9);
    let nodules = r.gen_range(1..=4);
    let topts = TorsoOptions {
        nodules,
        nodule_class: NoduleClassChoice::Random,
        deform_mm: opts.anatomy_deform_mm,
        variability: 1.0,
    };
    let p = Phantom::torso(seed, &topts)?;
    let grid = p.grid(opts.size)?;
    let img =
        p.render(&grid, &ct(), &RenderOptions::supersampled(opts.supersample), sub_seed(seed, tag::NOISE))?;
    let mut csv = String::from("label,centre_x_mm,centre_y_mm,centre_z_mm,diameter_mm,class,shape,lung\n");
    for n in p.nodules() {
        let _ = writeln!(
            csv,
            "{},{:.4},{:.4},{:.4},{:.4},{},{},{}",
            n.label,
            n.centre_mm[0],
            n.centre_mm[1],
            n.centre_mm[2],
            n.diameter_mm,
            n.class.name(),
            n.shape.name(),
            n.lung.name()
        );
    }
    out.volume("image", img.image.into())?;
    out.volume("labels", img.labels.into())?;
    out.text("nodules", "nodules.csv", &csv)?;
    let any_malignant = p.nodules().iter().any(|n| n.class == crate::anatomy::NoduleClass::Malignant);
    Ok(json!({
        "phantom": p.info(),
        "modality": "ct",
        "malignant": any_malignant,
        "spacing_mm": grid.geometry.spacing,
    }))
}
