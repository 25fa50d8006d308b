//! `hounsfield phantom`: analytic and anatomical phantoms, and datasets built from them.
//!
//! ```text
//! hounsfield phantom shepp-logan --size 256 [--depth 256] [--supersample 2] [--variant hu] -o sl.nii.gz
//! hounsfield phantom torso --size 128 --modality ct --seed 7 --nodules 3 -o ct.nii.gz --labels labels.nii.gz
//! hounsfield phantom head --size 128 --modality t1 --lesion -o t1.nii.gz --labels labels.nii.gz
//! hounsfield phantom dataset --task registration --count 10 --size 96 --seed 1 -o data/
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use hounsfield_core::{checked_voxels, AnyVolume};
use hounsfield_io::{write_image, WriteOptions};
use hounsfield_phantom::dataset::{
    self, generate_with, AnatomyChoice, DatasetFile, DatasetOptions, SegmentationContrast,
};
use hounsfield_phantom::shepp_logan::{shepp_logan, SheppLoganDims, SheppLoganOptions, SheppLoganVariant};
use hounsfield_phantom::{
    Contrast, CtOptions, FieldStrength, HeadOptions, LesionChoice, MrOptions, MrWeighting, NoduleClassChoice,
    Phantom, RandomContrastOptions, RenderOptions, TorsoOptions,
};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `hounsfield phantom`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: PhantomCmd,
}

#[derive(Subcommand, Debug)]
enum PhantomCmd {
    /// The modified Shepp–Logan phantom: 2-D (scikit-image's pixel grid and orientation), or
    /// 3-D with --depth.
    SheppLogan(SheppLoganArgs),
    /// Chest and upper abdomen (400 mm field of view), CT-like, with labels and optional lung
    /// nodules.
    Torso(TorsoArgs),
    /// Head (220 mm field of view), MR-like, with labels and an optional lesion.
    Head(HeadArgs),
    /// A dataset for segmentation, synthesis, registration or diagnosis: one folder per case
    /// and a manifest.json.
    Dataset(DatasetArgs),
}

/// Intensities of the Shepp–Logan phantom.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum VariantArg {
    /// Toft's modified attenuation values (scikit-image's).
    Attenuation,
    /// Plausible Hounsfield units on a −1000 HU background.
    Hu,
}

#[derive(clap::Args, Debug)]
struct SheppLoganArgs {
    /// Columns and rows.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Number of slices of a 3-D phantom (omit for a 2-D image).
    #[arg(long)]
    depth: Option<usize>,
    /// Sub-samples per pixel edge for partial volume (1–8).
    #[arg(long, default_value_t = 1)]
    supersample: usize,
    /// Intensity values.
    #[arg(long, value_enum, default_value_t = VariantArg::Attenuation)]
    variant: VariantArg,
    /// Distance between the outermost pixel centres, mm.
    #[arg(long, default_value_t = 256.0)]
    fov_mm: f64,
    /// Output image (.nii.gz, .nii, .nrrd, .mha, …).
    #[arg(long, short)]
    output: PathBuf,
}

/// Image contrast.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModalityArg {
    /// CT, Hounsfield units.
    Ct,
    /// T1-weighted spin-echo MR.
    T1,
    /// T2-weighted spin-echo MR.
    T2,
    /// Proton-density-weighted spin-echo MR.
    Pd,
    /// SynthSeg-style random contrast.
    Random,
}

/// MR field strength.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum FieldArg {
    /// 1.5 T.
    #[value(name = "1.5")]
    T1_5,
    /// 3 T.
    #[value(name = "3")]
    T3,
}

/// Classes of the lung nodules.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum NoduleClassArg {
    /// Benign or malignant with probability ½ each.
    Random,
    /// Smooth, round, 4–10 mm.
    Benign,
    /// Lobulated or spiculated, 10–30 mm.
    Malignant,
}

/// Options shared by `torso` and `head`.
#[derive(clap::Args, Debug)]
struct AnatomyArgs {
    /// Voxels per axis: the output has size³ voxels over the phantom's field of view.
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Image contrast [default: ct for the torso, t1 for the head].
    #[arg(long, value_enum)]
    modality: Option<ModalityArg>,
    /// Seed of the random anatomy, deformation and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Magnitude of a random smooth deformation of the whole anatomy, mm (0 = none).
    #[arg(long, default_value_t = 0.0)]
    deform_mm: f64,
    /// Sub-samples per voxel edge for partial volume (1–8).
    #[arg(long, default_value_t = 1)]
    supersample: usize,
    /// Noise: standard deviation in HU for CT; Rician σ as a fraction of the brightest tissue
    /// for MR; the maximum noise level for random contrast.
    #[arg(long, default_value_t = 0.0)]
    noise: f64,
    /// Strength of the MR bias field (0 = none, 0.3 ≈ ±30 %).
    #[arg(long, default_value_t = 0.0)]
    bias: f64,
    /// MR field strength (tissue T1/T2 tables).
    #[arg(long, value_enum, default_value_t = FieldArg::T1_5)]
    field: FieldArg,
    /// Output image (.nii.gz, .nii, .nrrd, .mha, …).
    #[arg(long, short)]
    output: PathBuf,
    /// Also write the label map here.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Also write the phantom's metadata (nodules, lesion) as JSON here.
    #[arg(long)]
    metadata: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct TorsoArgs {
    #[command(flatten)]
    common: AnatomyArgs,
    /// Number of lung nodules, each labelled individually (100, 101, …).
    #[arg(long, default_value_t = 0)]
    nodules: usize,
    /// Their classes.
    #[arg(long, value_enum, default_value_t = NoduleClassArg::Random)]
    nodule_class: NoduleClassArg,
}

#[derive(clap::Args, Debug)]
struct HeadArgs {
    #[command(flatten)]
    common: AnatomyArgs,
    /// Add a white-matter lesion (label 26).
    #[arg(long)]
    lesion: bool,
}

/// What the dataset is for.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum TaskArg {
    /// Image + labels.
    Segmentation,
    /// Aligned MR T1 + CT + labels.
    Synthesis,
    /// Fixed/moving pairs, ground-truth displacement (3 component images), landmarks CSV.
    Registration,
    /// CT with lung nodules and a per-nodule table with class.
    Diagnosis,
}

/// Anatomies of the dataset's cases.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum AnatomyArg {
    /// Even cases torso, odd cases head.
    Alternate,
    /// Torso only.
    Torso,
    /// Head only.
    Head,
}

#[derive(clap::Args, Debug)]
struct DatasetArgs {
    /// The task.
    #[arg(long, value_enum)]
    task: TaskArg,
    /// Number of cases (at least 1).
    #[arg(long)]
    count: usize,
    /// Voxels per axis of each case.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Seed of the whole dataset.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Anatomies (the diagnosis task always uses the torso).
    #[arg(long, value_enum, default_value_t = AnatomyArg::Alternate)]
    anatomy: AnatomyArg,
    /// Segmentation task: SynthSeg-style random contrast instead of CT / T1.
    #[arg(long)]
    random_contrast: bool,
    /// Sub-samples per voxel edge for partial volume (1–8).
    #[arg(long, default_value_t = 1)]
    supersample: usize,
    /// Output folder (created; files inside are overwritten).
    #[arg(long, short)]
    output: PathBuf,
}

/// Runs the command.
pub fn run(a: Args, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    match a.command {
        PhantomCmd::SheppLogan(a) => shepp_logan_cmd(a, g),
        PhantomCmd::Torso(a) => {
            let opts = TorsoOptions {
                nodules: a.nodules,
                nodule_class: match a.nodule_class {
                    NoduleClassArg::Random => NoduleClassChoice::Random,
                    NoduleClassArg::Benign => NoduleClassChoice::Benign,
                    NoduleClassArg::Malignant => NoduleClassChoice::Malignant,
                },
                deform_mm: a.common.deform_mm,
                ..TorsoOptions::default()
            };
            anatomy_cmd(&a.common, ModalityArg::Ct, g, "torso", |seed| Phantom::torso(seed, &opts))
        }
        PhantomCmd::Head(a) => {
            let opts = HeadOptions {
                lesion: if a.lesion { LesionChoice::Random } else { LesionChoice::None },
                deform_mm: a.common.deform_mm,
                ..HeadOptions::default()
            };
            anatomy_cmd(&a.common, ModalityArg::T1, g, "head", |seed| Phantom::head(seed, &opts))
        }
        PhantomCmd::Dataset(a) => dataset_cmd(a, g),
    }
}

/// The command-line spelling of a value.
fn value_name(v: impl ValueEnum) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// Checks a cube size against zero and the memory cap before anything is allocated.
fn check_size(dims: [usize; 3]) -> anyhow::Result<()> {
    checked_voxels(dims, 4).with_context(|| format!("invalid --size {}", dims[0]))?;
    Ok(())
}

fn write(path: &Path, v: AnyVolume) -> anyhow::Result<()> {
    write_image(path, &v, &WriteOptions::default())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn shepp_logan_cmd(a: SheppLoganArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let dims = match a.depth {
        None => SheppLoganDims::TwoD,
        Some(depth) => SheppLoganDims::ThreeD { depth },
    };
    check_size([a.size, a.size, a.depth.unwrap_or(1)])?;
    let opts = SheppLoganOptions {
        size: a.size,
        dims,
        supersample: a.supersample,
        variant: match a.variant {
            VariantArg::Attenuation => SheppLoganVariant::Attenuation,
            VariantArg::Hu => SheppLoganVariant::Hu,
        },
        fov_mm: a.fov_mm,
    };
    let pb = g.spinner("sampling the Shepp–Logan phantom");
    let img = shepp_logan(&opts);
    pb.finish_and_clear();
    let img = img?;
    write(&a.output, img.into())?;
    let d = match a.depth {
        None => format!("{0} × {0}", a.size),
        Some(depth) => format!("{0} × {0} × {depth}", a.size),
    };
    g.note(format!("wrote {} ({d}, {})", a.output.display(), value_name(a.variant)));
    Ok(())
}

fn contrast_for(m: ModalityArg, c: &AnatomyArgs) -> Contrast {
    let field = match c.field {
        FieldArg::T1_5 => FieldStrength::T1_5,
        FieldArg::T3 => FieldStrength::T3,
    };
    let mr = |w: MrWeighting| {
        Contrast::Mr(MrOptions { sequence: w.preset(), field, bias_strength: c.bias, noise: c.noise })
    };
    match m {
        ModalityArg::Ct => Contrast::Ct(CtOptions { noise_sd_hu: c.noise }),
        ModalityArg::T1 => mr(MrWeighting::T1),
        ModalityArg::T2 => mr(MrWeighting::T2),
        ModalityArg::Pd => mr(MrWeighting::Pd),
        ModalityArg::Random => Contrast::Random(RandomContrastOptions {
            noise_sd_max: c.noise,
            bias_strength_max: c.bias,
            ..RandomContrastOptions::default()
        }),
    }
}

fn anatomy_cmd(
    c: &AnatomyArgs,
    native: ModalityArg,
    g: &crate::ui::GlobalArgs,
    name: &str,
    build: impl FnOnce(u64) -> Result<Phantom, hounsfield_phantom::PhantomError>,
) -> anyhow::Result<()> {
    check_size([c.size; 3])?;
    let modality = c.modality.unwrap_or(native);
    let contrast = contrast_for(modality, c);
    let t0 = Instant::now();
    let pb = g.spinner(format!("building the {name} phantom"));
    let result = (|| {
        let p = build(c.seed)?;
        let grid = p.grid(c.size)?;
        let img = p.render(&grid, &contrast, &RenderOptions::supersampled(c.supersample), c.seed)?;
        Ok::<_, hounsfield_phantom::PhantomError>((p, img))
    })();
    pb.finish_and_clear();
    let (p, img) = result.with_context(|| format!("cannot generate the {name} phantom"))?;
    let elapsed = t0.elapsed();
    write(&c.output, img.image.into())?;
    if let Some(path) = &c.labels {
        write(path, img.labels.into())?;
    }
    if let Some(path) = &c.metadata {
        let text = serde_json::to_string_pretty(&p.info())? + "\n";
        hounsfield_io::atomic::write_bytes(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    g.note(format!(
        "wrote {} ({}³ voxels of {:.3} mm, {}, generated in {:.2} s)",
        c.output.display(),
        c.size,
        p.fov_mm() / c.size as f64,
        value_name(modality),
        elapsed.as_secs_f64()
    ));
    if let Some(path) = &c.labels {
        g.note(format!("wrote {}", path.display()));
    }
    for n in p.nodules() {
        g.note(format!(
            "  nodule {}: {} {} {:.1} mm at ({:.1}, {:.1}, {:.1}) mm, {} lung",
            n.label,
            n.class.name(),
            n.shape.name(),
            n.diameter_mm,
            n.centre_mm[0],
            n.centre_mm[1],
            n.centre_mm[2],
            n.lung.name()
        ));
    }
    if let Some(l) = p.lesion() {
        g.note(format!(
            "  lesion: at ({:.1}, {:.1}, {:.1}) mm, semi-axes {:.1} × {:.1} × {:.1} mm",
            l.centre_mm[0],
            l.centre_mm[1],
            l.centre_mm[2],
            l.semi_axes_mm[0],
            l.semi_axes_mm[1],
            l.semi_axes_mm[2]
        ));
    }
    Ok(())
}

fn dataset_cmd(a: DatasetArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    if a.count == 0 {
        bail!("invalid --count 0: a dataset needs at least one case");
    }
    check_size([a.size; 3])?;
    let opts = DatasetOptions {
        task: match a.task {
            TaskArg::Segmentation => dataset::Task::Segmentation,
            TaskArg::Synthesis => dataset::Task::Synthesis,
            TaskArg::Registration => dataset::Task::Registration,
            TaskArg::Diagnosis => dataset::Task::Diagnosis,
        },
        count: a.count,
        size: a.size,
        seed: a.seed,
        anatomy: match a.anatomy {
            AnatomyArg::Alternate => AnatomyChoice::Alternate,
            AnatomyArg::Torso => AnatomyChoice::Torso,
            AnatomyArg::Head => AnatomyChoice::Head,
        },
        contrast: if a.random_contrast { SegmentationContrast::Random } else { SegmentationContrast::Native },
        supersample: a.supersample,
        ..DatasetOptions::default()
    };
    std::fs::create_dir_all(&a.output).with_context(|| format!("cannot create {}", a.output.display()))?;
    let pb = if g.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(a.count as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} cases {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(format!("{} dataset", opts.task.name()));
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    let t0 = Instant::now();
    let out = a.output.clone();
    let writer = |rel: &Path, f: DatasetFile<'_>| -> anyhow::Result<()> {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        match f {
            DatasetFile::Volume(v) => write_image(&path, v, &WriteOptions::default())
                .with_context(|| format!("cannot write {}", path.display())),
            DatasetFile::Text(t) => hounsfield_io::atomic::write_bytes(&path, t.as_bytes())
                .with_context(|| format!("cannot write {}", path.display())),
        }
    };
    let result = generate_with(&opts, writer, |done, _| pb.set_position(done as u64));
    pb.finish_and_clear();
    let manifest = result.context("cannot generate the dataset")?;
    g.note(format!(
        "wrote {} {} cases ({}³ voxels) and {} in {:.1} s",
        manifest.cases.len(),
        opts.task.name(),
        a.size,
        a.output.join("manifest.json").display(),
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}
