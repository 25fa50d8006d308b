//! `hounsfield segment` and `hounsfield eval segmentation`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use hounsfield_core::{AnyVolume, LabelVolume, Volume};
use hounsfield_imgproc::components::{largest_component, Connectivity};
use hounsfield_imgproc::morphology::fill_holes;
use hounsfield_io::{write_image, WriteOptions};
use hounsfield_metrics::segmentation::{evaluate, SegmentationOptions, SegmentationReport};
use hounsfield_register::{RegistrationOptions, TransformType};
use hounsfield_segment::atlas::{atlas_segment, Atlas, AtlasOptions, Voting};
use hounsfield_segment::brain::{brain_tissue, BrainOptions, Weighting};
use hounsfield_segment::ct::{body_and_lungs, CtOptions};
use hounsfield_segment::region::{confidence_connected, ConfidenceOptions};
use hounsfield_segment::stats::{label_statistics, LabelStatistics};
use hounsfield_segment::threshold::{classify, multi_otsu, otsu_mask, threshold, CtPreset};

use super::register::{load_f32, load_labels, load_mask, Bar};

/// Segmentation methods.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Fixed range (`--preset` or `--lower`/`--upper`): label 1 inside.
    Threshold,
    /// Otsu's threshold: label 1 above it.
    Otsu,
    /// Multi-level Otsu (`--classes`): labels 0..classes-1 by intensity.
    MultiOtsu,
    /// Confidence-connected region growing from `--seed` voxels: label 1.
    RegionGrow,
    /// Marker-based watershed from `--markers` (flooding the image, or its gradient magnitude
    /// with `--gradient-sigma`).
    Watershed,
    /// CT body (label 1) and lungs (label 2).
    CtLungs,
    /// MR brain tissue inside `--mask` (or an atlas-derived brain mask): 1 CSF, 2 GM, 3 WM.
    Brain,
    /// Atlas registration and label propagation (`--atlas IMAGE:LABELS`, repeatable).
    Atlas,
    /// A trained segmentation model (`--model DIR` or model.onnx).
    Model,
}

/// CT presets on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetArg {
    /// < −950 HU.
    Air,
    /// −950 … −500 HU.
    Lung,
    /// −190 … −30 HU.
    Fat,
    /// −29 … 150 HU.
    SoftTissue,
    /// ≥ 200 HU.
    Bone,
}

impl From<PresetArg> for CtPreset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Air => CtPreset::Air,
            PresetArg::Lung => CtPreset::Lung,
            PresetArg::Fat => CtPreset::Fat,
            PresetArg::SoftTissue => CtPreset::SoftTissue,
            PresetArg::Bone => CtPreset::Bone,
        }
    }
}

/// MR weighting on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightingArg {
    /// T1: CSF darkest, WM brightest.
    T1,
    /// T2: WM darkest, CSF brightest.
    T2,
    /// Proton density: WM darkest, CSF brightest.
    Pd,
}

/// Label fusion on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VotingArg {
    /// Majority voting.
    Majority,
    /// Locally weighted voting (local mean squared difference, 3 mm window).
    Weighted,
}

/// Registration of atlases on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtlasTransform {
    /// Rigid then affine.
    Affine,
    /// Affine then cubic B-spline.
    Bspline,
}

/// Arguments of `hounsfield segment`.
#[derive(clap::Args, Debug)]
pub struct SegmentArgs {
    /// Image to segment (CT in HU for the CT methods).
    #[arg(long)]
    pub input: PathBuf,
    /// Method.
    #[arg(long, value_enum)]
    pub method: Method,
    /// Output label map (NIfTI, NRRD, MetaImage, DICOM folder).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Threshold: a CT preset.
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Threshold: lower bound (inclusive).
    #[arg(long, allow_negative_numbers = true)]
    pub lower: Option<f64>,
    /// Threshold: upper bound (inclusive).
    #[arg(long, allow_negative_numbers = true)]
    pub upper: Option<f64>,
    /// Multi-Otsu: number of classes.
    #[arg(long, default_value_t = 3)]
    pub classes: usize,
    /// Otsu: histogram bins.
    #[arg(long, default_value_t = 256)]
    pub bins: usize,
    /// Region growing: seed voxel index `i,j,k` (repeatable).
    #[arg(long = "seed", value_parser = parse_index)]
    pub seeds: Vec<[usize; 3]>,
    /// Region growing: interval half-width in standard deviations.
    #[arg(long, default_value_t = 2.5)]
    pub multiplier: f64,
    /// Region growing: re-estimations of the interval.
    #[arg(long, default_value_t = 4)]
    pub iterations: usize,
    /// Watershed: marker label map on the image's grid (non-zero voxels seed their label).
    #[arg(long)]
    pub markers: Option<PathBuf>,
    /// Watershed: flood the gradient magnitude after Gaussian smoothing with this σ (mm)
    /// instead of the image itself.
    #[arg(long)]
    pub gradient_sigma: Option<f64>,
    /// Brain: intracranial mask (non-zero inside); default: from an atlas registration.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Brain: MR weighting.
    #[arg(long, value_enum, default_value_t = WeightingArg::T1)]
    pub weighting: WeightingArg,
    /// Atlas: `IMAGE:LABELS` (repeatable for multi-atlas).
    #[arg(long = "atlas", value_parser = parse_atlas)]
    pub atlases: Vec<(PathBuf, PathBuf)>,
    /// Atlas: label fusion.
    #[arg(long, value_enum, default_value_t = VotingArg::Majority)]
    pub voting: VotingArg,
    /// Atlas: registration model.
    #[arg(long, value_enum, default_value_t = AtlasTransform::Bspline)]
    pub atlas_transform: AtlasTransform,
    /// Model: a model folder (card + weights), an .onnx file, or the name of a model built
    /// into the binary [default: torso-organs].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Model: the input's modality (`CT`, `MR`), checked against the model card; default:
    /// the DICOM Modality when the input has one, else judged from the intensities.
    #[arg(long)]
    pub modality: Option<String>,
    /// Keep only the largest connected component of each label.
    #[arg(long)]
    pub largest_component: bool,
    /// Fill holes of each label.
    #[arg(long)]
    pub fill_holes: bool,
    /// Also write a DICOM SEG (one segment per label, coded anatomy; it references the source
    /// series when the input is a DICOM series).
    #[arg(long)]
    pub dicom_seg: Option<PathBuf>,
    /// Also write one binary STL surface mesh per label into this folder (marching cubes,
    /// LPS millimetres).
    #[arg(long)]
    pub mesh: Option<PathBuf>,
    /// Also write per-label volume (mL) and intensity statistics (.json or .csv).
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Print the statistics as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_index(s: &str) -> Result<[usize; 3], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>().map_err(|_| format!("`{s}` is not i,j,k (three voxel indices)")))
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [i, j, k] => Ok([*i, *j, *k]),
        _ => Err(format!("`{s}` is not i,j,k (three voxel indices)")),
    }
}

fn parse_atlas(s: &str) -> Result<(PathBuf, PathBuf), String> {
    match s.split_once(':') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((PathBuf::from(a), PathBuf::from(b))),
        _ => Err(format!("`{s}` is not IMAGE:LABELS")),
    }
}

fn mask_to_labels(m: Volume<u8>) -> LabelVolume {
    LabelVolume::new(m.map(|&v| u16::from(v != 0)))
}

/// `hounsfield segment`.
pub fn segment(a: SegmentArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let loaded = super::load(&a.input, None, g)?;
    let declared = a.modality.clone().or(loaded.modality);
    let image = loaded.volume.into_f32();
    if matches!(a.method, Method::Model) && image.data().iter().any(|v| v.is_nan()) {
        bail!("{} holds NaN voxels: a model cannot take them", a.input.display());
    }
    let labels = match a.method {
        Method::Threshold => {
            let (lo, hi) = match (a.preset, a.lower, a.upper) {
                (Some(p), None, None) => CtPreset::from(p).range_hu(),
                (None, lo, hi) if lo.is_some() || hi.is_some() => {
                    (lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY))
                }
                (Some(_), _, _) => bail!("give either --preset or --lower/--upper, not both"),
                _ => bail!("--method threshold needs --preset or --lower/--upper"),
            };
            g.note(format!("threshold [{lo}, {hi}]"));
            mask_to_labels(threshold(&image, lo, hi)?)
        }
        Method::Otsu => {
            let (t, m) = otsu_mask(&image, a.bins, None)?;
            g.note(format!("Otsu threshold {t:.6} (foreground above)"));
            mask_to_labels(m)
        }
        Method::MultiOtsu => {
            let t = multi_otsu(&image, a.classes, a.bins, None)?;
            g.note(format!("multi-Otsu thresholds {t:?}"));
            classify(&image, &t)?
        }
        Method::RegionGrow => {
            if a.seeds.is_empty() {
                bail!("--method region-grow needs at least one --seed i,j,k");
            }
            let opts =
                ConfidenceOptions { multiplier: a.multiplier, iterations: a.iterations, initial_radius: 1 };
            mask_to_labels(confidence_connected(&image, &a.seeds, &opts)?)
        }
        Method::Watershed => {
            let Some(mp) = &a.markers else { bail!("--method watershed needs --markers LABELS") };
            let markers = load_labels(mp, g)?;
            let relief = match a.gradient_sigma {
                Some(s) if s.is_finite() && s >= 0.0 => hounsfield_imgproc::filter::gradient_magnitude(
                    &image,
                    hounsfield_imgproc::filter::Smoothing::Gaussian { sigma_mm: [s; 3] },
                )?,
                Some(s) => bail!("--gradient-sigma {s} is not a distance ≥ 0"),
                None => image.clone(),
            };
            hounsfield_segment::watershed::watershed(&relief, &markers, None)?
        }
        Method::CtLungs => body_and_lungs(&image, &CtOptions::default())?.to_labels()?,
        Method::Brain => {
            let weighting = match a.weighting {
                WeightingArg::T1 => Weighting::T1,
                WeightingArg::T2 => Weighting::T2,
                WeightingArg::Pd => Weighting::Pd,
            };
            let mask = match &a.mask {
                Some(p) => load_mask(p, g)?,
                None => atlas_brain_mask(&image, weighting, g)?,
            };
            if mask.dims() != image.dims() || !mask.same_grid(&image, 1e-4) {
                bail!(
                    "the mask {} is not on the image's grid",
                    a.mask.as_deref().unwrap_or(Path::new("")).display()
                );
            }
            let r = brain_tissue(&image, &mask, &BrainOptions { weighting, ..Default::default() })?;
            g.note(format!("class means CSF {:.4}, GM {:.4}, WM {:.4}", r.means[0], r.means[1], r.means[2]));
            r.labels
        }
        Method::Atlas => {
            if a.atlases.is_empty() {
                bail!("--method atlas needs at least one --atlas IMAGE:LABELS");
            }
            let mut atlases = Vec::new();
            for (img, lab) in &a.atlases {
                atlases.push(Atlas { image: load_f32(img, g)?, labels: load_labels(lab, g)? });
            }
            let registration = RegistrationOptions {
                transform: match a.atlas_transform {
                    AtlasTransform::Affine => TransformType::Affine,
                    AtlasTransform::Bspline => TransformType::BSpline,
                },
                ..Default::default()
            };
            let voting = match a.voting {
                VotingArg::Majority => Voting::Majority,
                VotingArg::Weighted => Voting::LocallyWeighted { sigma_mm: 3.0, power: 1.0 },
            };
            let mut bar = Bar::new(g);
            let n = atlases.len();
            let r = atlas_segment(&image, &atlases, &AtlasOptions { registration, voting }, &mut |i, p| {
                bar.pb.set_prefix(format!("atlas {}/{n}", i + 1));
                bar.update(p)
            });
            bar.pb.finish_and_clear();
            r?.labels
        }
        Method::Model => {
            let m = a.model.clone().unwrap_or_else(|| PathBuf::from("torso-organs"));
            super::nn::predict_labels(&m, &image, declared.as_deref(), g)?
        }
    };
    let labels = postprocess(labels, a.largest_component, a.fill_holes)?;
    write_image(&a.out, &AnyVolume::from(labels.clone()), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let stats = label_statistics(&labels, Some(&image))?;
    g.note(format!("wrote {} ({} labels)", a.out.display(), stats.len()));
    let names = segment_names(&a, &labels);
    if let Some(p) = &a.dicom_seg {
        write_seg(p, &a.input, &labels, &names, a.method)?;
        g.note(format!("wrote {}", p.display()));
    }
    if let Some(dir) = &a.mesh {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (l, name) in &names {
            let mesh = hounsfield_imgproc::mesh::label_mesh(&labels, *l)?;
            let file = dir.join(format!("label_{l}_{}.stl", name.replace(' ', "_")));
            hounsfield_io::stl::write(&file, &mesh)
                .with_context(|| format!("cannot write {}", file.display()))?;
            g.note(format!("wrote {} ({} triangles)", file.display(), mesh.triangles.len()));
        }
    }
    if let Some(p) = &a.stats {
        write_stats(p, &stats)?;
        g.note(format!("wrote {}", p.display()));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "labels": stats }))?);
    } else if !g.quiet {
        for s in &stats {
            println!(
                "label {:>3}: {:>9.2} mL  mean {:>9.2}  sd {:>8.2}  [{:.1}, {:.1}]",
                s.label, s.volume_ml, s.mean, s.sd, s.min, s.max
            );
        }
    }
    Ok(())
}

/// A name per output label: the structures the method produces, else `label N`.
fn segment_names(a: &SegmentArgs, labels: &LabelVolume) -> Vec<(u16, String)> {
    let known: &[&str] = match a.method {
        Method::CtLungs => &["body", "lung"],
        Method::Brain => &["cerebrospinal fluid", "grey matter", "white matter"],
        Method::Threshold => match a.preset {
            Some(PresetArg::Air) => &["air"],
            Some(PresetArg::Lung) => &["lung"],
            Some(PresetArg::Fat) => &["fat"],
            Some(PresetArg::SoftTissue) => &["soft tissue"],
            Some(PresetArg::Bone) => &["bone"],
            None => &["region"],
        },
        Method::RegionGrow => &["region"],
        _ => &[],
    };
    labels
        .labels()
        .into_iter()
        .map(|l| (l, known.get(l as usize - 1).map_or_else(|| format!("label {l}"), |n| (*n).to_string())))
        .collect()
}

/// Writes a DICOM SEG of `labels`; a DICOM-series input becomes the referenced source.
fn write_seg(
    path: &Path,
    input: &Path,
    labels: &LabelVolume,
    names: &[(u16, String)],
    method: Method,
) -> anyhow::Result<()> {
    use hounsfield_io::seg::{
        write_dicom_seg, AlgorithmType, Code, SegWriteOptions, SegmentDescription, SourceSeries,
    };
    let source = if input.is_dir() { Some(SourceSeries::read(input, None)?) } else { None };
    let algorithm = match method {
        Method::RegionGrow => AlgorithmType::Semiautomatic,
        _ => AlgorithmType::Automatic,
    };
    let method_name = format!(
        "hounsfield segment --method {}",
        clap::ValueEnum::to_possible_value(&method).map_or_else(String::new, |v| v.get_name().to_string())
    );
    let segments: Vec<SegmentDescription> = names
        .iter()
        .map(|(l, name)| {
            let tissue = Code::sct("85756007", "Tissue");
            SegmentDescription::from_anatomy(*l, name)
                .unwrap_or_else(|| SegmentDescription::new(*l, name, tissue.clone(), tissue))
                .with_algorithm(algorithm, &method_name)
        })
        .collect();
    if segments.is_empty() {
        bail!("the segmentation is empty: no DICOM SEG written");
    }
    write_dicom_seg(path, labels, source.as_ref(), &segments, &SegWriteOptions::default())
        .with_context(|| format!("cannot write DICOM SEG {}", path.display()))?;
    Ok(())
}

/// Largest component and hole filling per label (labels processed in ascending order; a
/// filled hole takes the label only where it was background).
fn postprocess(labels: LabelVolume, largest: bool, holes: bool) -> anyhow::Result<LabelVolume> {
    if !largest && !holes {
        return Ok(labels);
    }
    let mut out = labels.clone();
    for l in labels.labels() {
        let mut m = labels.map(|&v| u8::from(v == l));
        if largest {
            m = largest_component(&m, Connectivity::TwentySix)?;
        }
        if holes {
            m = fill_holes(&m)?;
        }
        for ((o, &orig), &keep) in out.as_volume_mut().data_mut().iter_mut().zip(labels.data()).zip(m.data())
        {
            if orig == l && keep == 0 {
                *o = 0;
            } else if keep != 0 && orig == 0 {
                *o = l;
            }
        }
    }
    Ok(out)
}

/// A brain mask for `--method brain` without `--mask` (segment::brain::atlas_brain_mask).
fn atlas_brain_mask(
    image: &Volume<f32>,
    w: Weighting,
    g: &crate::ui::GlobalArgs,
) -> anyhow::Result<Volume<u8>> {
    g.note("no --mask: registering the built-in head phantom (affine, mutual information) for a brain mask");
    let mut bar = Bar::new(g);
    let r = hounsfield_segment::brain::atlas_brain_mask(image, w, &mut |p| bar.update(p));
    bar.pb.finish_and_clear();
    Ok(r?)
}

fn write_stats(path: &Path, stats: &[LabelStatistics]) -> anyhow::Result<()> {
    let csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let text = if csv {
        let mut s = String::from("label,voxels,volume_ml,mean,sd,min,max\n");
        for r in stats {
            s += &format!(
                "{},{},{},{},{},{},{}\n",
                r.label, r.voxels, r.volume_ml, r.mean, r.sd, r.min, r.max
            );
        }
        s
    } else {
        serde_json::to_string_pretty(&serde_json::json!({ "labels": stats }))?
    };
    hounsfield_io::atomic::write_bytes(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Arguments of `hounsfield eval segmentation`.
#[derive(clap::Args, Debug)]
pub struct EvalSegmentationArgs {
    /// Predicted label map.
    #[arg(long)]
    pub pred: PathBuf,
    /// Reference label map.
    #[arg(long = "ref")]
    pub reference: PathBuf,
    /// Labels to evaluate, comma-separated (default: every label of the reference).
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<u16>>,
    /// Normalized surface Dice tolerance, mm.
    #[arg(long, default_value_t = 1.0)]
    pub nsd_tolerance: f64,
    /// Resample the prediction onto the reference's grid (nearest neighbour) when the grids
    /// differ, instead of refusing.
    #[arg(long)]
    pub resample: bool,
    /// Print JSON: `{"labels": {"1": {"dice": …, "hd95": …, …}}}`, distances in mm, NaN/∞ as null.
    #[arg(long)]
    pub json: bool,
}

/// `hounsfield eval segmentation`.
pub fn eval_segmentation(a: EvalSegmentationArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let reference = load_labels(&a.reference, g)?;
    let mut pred = load_labels(&a.pred, g)?;
    if !pred.same_grid(reference.as_volume(), 1e-4) {
        if !a.resample {
            let (p, r) = (pred.geometry(), reference.geometry());
            bail!(
                "prediction and reference are on different grids ({:?} voxels, spacing {:?}, origin {:?} vs {:?}, {:?}, {:?}): \
                 pass --resample to resample the prediction onto the reference",
                pred.dims(),
                p.spacing,
                p.origin,
                reference.dims(),
                r.spacing,
                r.origin
            );
        }
        pred = hounsfield_imgproc::resample::resample_labels(
            &pred,
            reference.dims(),
            reference.geometry(),
            &hounsfield_core::IdentityTransform,
            0,
        )?;
        g.note("resampled the prediction onto the reference grid (nearest neighbour)");
    }
    let opts = SegmentationOptions {
        labels: a.labels.clone(),
        nsd_tolerance_mm: a.nsd_tolerance,
        ..Default::default()
    };
    let report = evaluate(&pred, &reference, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &SegmentationReport) {
    println!(
        "{:>6} {:>7} {:>7} {:>9} {:>9} {:>9} {:>7} {:>10} {:>10}",
        "label", "dice", "iou", "hd mm", "hd95 mm", "assd mm", "nsd", "pred mL", "ref mL"
    );
    for (l, m) in &r.labels {
        println!(
            "{l:>6} {:>7.4} {:>7.4} {:>9.3} {:>9.3} {:>9.3} {:>7.4} {:>10.2} {:>10.2}",
            m.dice, m.iou, m.hd, m.hd95, m.assd, m.nsd, m.volume_pred_ml, m.volume_ref_ml
        );
    }
    println!("(NSD tolerance {} mm)", r.nsd_tolerance_mm);
}
