//! Deep-learning commands: `train`, `infer`, `model info`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use hounsfield_core::{AnyVolume, Volume};
use hounsfield_io::{read_image, write_image, ReadOptions, WriteOptions};
use hounsfield_nn::card::{check_modality, read_card, Model, ModelCard, Task, WeightsFormat, CARD_FILE};
use hounsfield_nn::data::{list_folder, load_samples, parse_manifest, split, LoadSpec};
use hounsfield_nn::infer::{
    predict_volume, InferenceSpec, Mirror, OwnedBurnPredictor, Prediction, Predictor,
};
use hounsfield_nn::normalize::Normalization;
use hounsfield_nn::onnx::{set_threads, OnnxModel};
use hounsfield_nn::train::{train as run_training, Progress, Resume, TrainConfig, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `hounsfield train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Training configuration (TOML: task, model, data, optimizer, loss, augmentation, card).
    #[arg(long)]
    pub config: PathBuf,
    /// Output folder: `checkpoint/` while training, `model/` (card + weights) at the end.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Continue from OUT/checkpoint when it exists.
    #[arg(long)]
    pub resume: bool,
}

/// Arguments of `hounsfield infer`.
#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// A model folder (model.toml + weights) or a bare .onnx file.
    #[arg(long)]
    pub model: PathBuf,
    /// Input image; repeat for multi-channel models (registration: moving, then fixed).
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// Output image (label map, image, or displacement: OUT gets `_x`, `_y`, `_z` components);
    /// classification writes JSON.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Sliding window `Z,Y,X` (voxels at the model's spacing); overrides the card.
    #[arg(long, value_parser = parse_window)]
    pub window: Option<[usize; 3]>,
    /// Window overlap in [0, 0.9]; overrides the card.
    #[arg(long)]
    pub overlap: Option<f64>,
    /// Mirror test-time augmentation (all flips of the spatial axes).
    #[arg(long)]
    pub mirror: bool,
    /// Task of a bare ONNX model (no card): how to read its output.
    #[arg(long, value_enum, default_value_t = OnnxTask::Segmentation)]
    pub onnx_task: OnnxTask,
    /// Threads for tract's matrix products (ONNX models); default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Which engine runs a burn model folder.
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    pub engine: Engine,
}

/// Engine for burn model folders.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// burn, whose CPU kernels (`hounsfield_nn::cpu`) now run the U-Net about 2× faster
    /// than tract (the default).
    #[default]
    Auto,
    /// burn's flex backend.
    Burn,
    /// tract; refused for architectures without an ONNX export.
    Tract,
}

/// How to read a bare ONNX model's output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnnxTask {
    /// Channel axis = class logits; writes the argmax as a label map (the default).
    #[default]
    Segmentation,
    /// Output channel 0 is an image.
    Synthesis,
}

/// Arguments of `hounsfield model info`.
#[derive(clap::Args, Debug)]
pub struct ModelInfoArgs {
    /// Model folder, or the name of a model built into the binary (`torso-organs`).
    pub model: PathBuf,
    /// Print the card as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_window(s: &str) -> Result<[usize; 3], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| {
            p.trim().parse::<usize>().map_err(|_| format!("`{s}` is not Z,Y,X (three positive integers)"))
        })
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [z, y, x] if *z > 0 && *y > 0 && *x > 0 => Ok([*z, *y, *x]),
        _ => Err(format!("`{s}` is not Z,Y,X (three positive integers)")),
    }
}

fn bar(g: &crate::ui::GlobalArgs, len: u64, template: &str) -> ProgressBar {
    use std::io::IsTerminal;
    let pb = if g.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    pb.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

fn reader(path: &Path) -> Result<AnyVolume, String> {
    read_image(path, &ReadOptions::default()).map(|i| i.volume).map_err(|e| format!("{e}"))
}

/// `hounsfield train`.
pub fn train(a: TrainArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(&a.config).with_context(|| format!("cannot read {}", a.config.display()))?;
    let mut config = TrainConfig::from_toml(&text, &a.config)?;
    let base = a.config.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    let (cases, description) = if let Some(m) = config.data.manifest.clone() {
        let m = resolve(&m);
        let text = std::fs::read_to_string(&m).with_context(|| format!("cannot read {}", m.display()))?;
        let dir = m.parent().map(Path::to_path_buf).unwrap_or_default();
        (parse_manifest(&text, &dir)?, m.display().to_string())
    } else if let Some(f) = config.data.folder.clone() {
        let f = resolve(&f);
        (list_folder(&f)?, f.display().to_string())
    } else {
        bail!("the training config needs data.manifest or data.folder");
    };
    config.data.manifest = config.data.manifest.as_deref().map(resolve);
    config.data.folder = config.data.folder.as_deref().map(resolve);
    let pb = bar(g, cases.len() as u64, "loading cases {bar:30} {pos}/{len} ({eta})");
    let spec = LoadSpec {
        task: config.task,
        data: &config.data,
        preprocessing: &config.preprocessing,
        classes: config.model.out_channels(),
    };
    let samples = load_samples(&cases, &reader, &spec, &mut |i, _| pb.set_position(i as u64))?;
    pb.finish_and_clear();
    let (tr, va) = split(samples, config.data.validation_fraction);
    g.note(format!(
        "training {} on {} cases, validating on {} ({} epochs × {} steps, batch {})",
        config.task.name(),
        tr.len(),
        va.len(),
        config.epochs,
        config.steps_per_epoch,
        config.batch_size
    ));
    let opts = TrainOptions {
        out_dir: a.out.clone(),
        resume: if a.resume { Resume::FromCheckpoint } else { Resume::Fresh },
        command: std::env::args().collect::<Vec<_>>().join(" "),
        data_description: description,
        stop_after_epochs: None,
    };
    let total = (config.epochs * config.steps_per_epoch) as u64;
    let pb = bar(g, total, "{bar:30} {pos}/{len} steps {msg} (eta {eta})");
    let quiet = g.quiet;
    let report = run_training(&config, &tr, &va, &opts, &mut |p| match p {
        Progress::Step { epoch, epochs, step, steps, loss, lr } => {
            pb.set_position(((epoch - 1) * steps + step) as u64);
            pb.set_message(format!("epoch {epoch}/{epochs} loss {loss:.4} lr {lr:.2e}"));
        }
        Progress::Epoch(r) => {
            let m: Vec<String> = r.metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
            let line = format!("epoch {}: train loss {:.4}, {}", r.epoch, r.train_loss, m.join(", "));
            if !quiet {
                pb.println(line);
            }
        }
    })?;
    pb.finish_and_clear();
    match report.model_dir {
        Some(d) => g.note(format!("wrote model {}", d.display())),
        None => g.note("stopped before the last epoch; continue with --resume"),
    }
    Ok(())
}

/// Everything needed to run a model, whatever its source.
struct Runner {
    spec: InferenceSpec,
    predictor: Box<dyn Predictor>,
    card: Option<ModelCard>,
}

fn burn_device() -> hounsfield_nn::Device {
    hounsfield_nn::Device::flex()
}

fn open_model(a: &InferArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<Runner> {
    set_threads(
        a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
    );
    if a.model.is_file() && a.model.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx")) {
        let m = OnnxModel::load(&a.model)?;
        let task = match a.onnx_task {
            OnnxTask::Segmentation => Task::Segmentation,
            OnnxTask::Synthesis => Task::Synthesis,
        };
        g.note(format!(
            "bare onnx model (no card): assuming task {}, no intensity normalization, the input's own spacing, \
             {}, no mirroring unless --mirror",
            task.name(),
            match a.window {
                Some(w) => format!("windows of {}×{}×{}", w[0], w[1], w[2]),
                None => "the whole volume in one window".into(),
            }
        ));
        let spec = InferenceSpec {
            task,
            in_channels: m.in_channels,
            spacing: None,
            normalization: Normalization::None,
            output_normalization: None,
            label_ids: Vec::new(),
            inference: Default::default(),
            size_multiple: 1,
            two_d: m.input_rank.map(|r| r == 4),
            largest_component: Vec::new(),
        };
        return Ok(Runner { spec, predictor: Box::new(m), card: None });
    }
    if !a.model.join(CARD_FILE).exists() {
        bail!("{} is neither a model folder (no {CARD_FILE}) nor an .onnx file", a.model.display());
    }
    let (card, wpath, _) = read_card(&a.model)?;
    let spec = InferenceSpec::from_card(&card);
    let predictor: Box<dyn Predictor> = match card.weights_format() {
        WeightsFormat::Onnx => Box::new(OnnxModel::load(&wpath)?),
        WeightsFormat::Burnpack => {
            let model = Model::load(&a.model, &burn_device())?;
            let exported = match a.engine {
                Engine::Burn | Engine::Auto => None,
                Engine::Tract => Some(hounsfield_nn::export::to_onnx(&model.network)?),
            };
            match exported {
                Some(proto) => {
                    let rank = if spec.two_d == Some(true) { 4 } else { 5 };
                    let m = OnnxModel::from_proto(proto, &wpath)?
                        .with_input(card.architecture.in_channels(), rank);
                    Box::new(m)
                }
                None => Box::new(OwnedBurnPredictor { model, device: burn_device() }),
            }
        }
    };
    Ok(Runner { spec, predictor, card: Some(card) })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = match name.find('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name.as_str(), ""),
    };
    path.with_file_name(format!("{stem}{suffix}{ext}"))
}

/// `hounsfield infer`.
pub fn infer(a: InferArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let mut runner = open_model(&a, g)?;
    if let Some(w) = a.window {
        runner.spec.inference.window = Some(w);
    }
    if let Some(o) = a.overlap {
        runner.spec.inference.overlap = o;
    }
    if a.mirror {
        runner.spec.inference.mirror = Mirror::AllAxes;
    }
    let mut inputs: Vec<Volume<f32>> = Vec::new();
    for p in &a.input {
        inputs.push(super::load(p, None, g)?.volume.into_f32());
    }
    if let Some(card) = &runner.card {
        let o = inputs[0].geometry().orientation_code();
        if o != card.input.orientation {
            g.note(format!(
                "note: input orientation {o} differs from the model's training orientation {} (reorient with `convert` if results look wrong)",
                card.input.orientation
            ));
        }
    }
    let refs: Vec<&Volume<f32>> = inputs.iter().collect();
    let pb = bar(g, 1, "inference {bar:30} {pos}/{len} windows (eta {eta})");
    let pred = predict_volume(runner.predictor.as_ref(), &runner.spec, &refs, &mut |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })?;
    pb.finish_and_clear();
    let w = |path: &Path, v: AnyVolume| -> anyhow::Result<()> {
        write_image(path, &v, &WriteOptions::default())
            .with_context(|| format!("cannot write {}", path.display()))
    };
    match pred {
        Prediction::Labels(l) => {
            let n = l.labels().len();
            w(&a.out, AnyVolume::from(l))?;
            g.note(format!("wrote {} ({n} labels)", a.out.display()));
        }
        Prediction::Images(v) => {
            let first = v.into_iter().next().context("the model produced no channel")?;
            w(&a.out, AnyVolume::from(first))?;
            g.note(format!("wrote {}", a.out.display()));
        }
        Prediction::Displacement(d) => {
            for (v, s) in d.into_iter().zip(["_x", "_y", "_z"]) {
                let p = with_suffix(&a.out, s);
                w(&p, AnyVolume::from(v))?;
                g.note(format!("wrote {}", p.display()));
            }
        }
        Prediction::Classes(p) => {
            let best = p
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                .0;
            let json = serde_json::json!({ "class": best, "probabilities": p });
            let text = serde_json::to_string_pretty(&json)?;
            hounsfield_nn::card::write_atomic(&a.out, text.as_bytes())?;
            println!("{text}");
        }
    }
    Ok(())
}

/// `hounsfield model info`.
pub fn model_info(a: ModelInfoArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    use hounsfield_nn::Module;
    let builtin =
        a.model.to_str().and_then(hounsfield_pipeline::models::builtin).filter(|_| !a.model.exists());
    let (card, wpath, bytes, params) = match builtin {
        Some(b) => {
            let m = b.load()?.model;
            let n = m.network.num_params();
            let wpath =
                PathBuf::from(format!("<built into the binary>/{}", b.name)).join(&m.card.model.weights);
            (m.card, wpath, b.weights.to_vec(), n.to_string())
        }
        None => {
            let (card, wpath, bytes) = read_card(&a.model)?;
            let params = match card.weights_format() {
                WeightsFormat::Burnpack => {
                    Model::load(&a.model, &burn_device())?.network.num_params().to_string()
                }
                WeightsFormat::Onnx => "(onnx graph)".into(),
            };
            (card, wpath, bytes, params)
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&card)?);
        return Ok(());
    }
    let c = &card;
    println!("name          {}", c.model.name);
    if !c.model.description.is_empty() {
        println!("description   {}", c.model.description);
    }
    println!("task          {}", c.model.task.name());
    println!(
        "architecture  {}",
        serde_json::to_value(&c.architecture)?.get("architecture").and_then(|v| v.as_str()).unwrap_or("?")
    );
    println!("parameters    {params}");
    println!("inputs        {} ({})", c.input.modalities.len(), c.input.modalities.join(", "));
    println!(
        "spacing       {}",
        c.input
            .spacing
            .map(|s| format!("{} × {} × {} mm", s[0], s[1], s[2]))
            .unwrap_or_else(|| "the input's own".into())
    );
    println!("orientation   {}", c.input.orientation);
    println!("normalization {}", serde_json::to_string(&c.input.normalization)?);
    if !c.output.labels.is_empty() {
        let l: Vec<String> = c.output.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("labels        {}", l.join(", "));
    }
    println!(
        "window        {}",
        c.inference
            .window
            .map(|w| format!("{}×{}×{}", w[0], w[1], w[2]))
            .unwrap_or_else(|| "whole volume".into())
    );
    println!(
        "training      {} ({} + {} cases, {} epochs, seed {})",
        c.training.data, c.training.cases[0], c.training.cases[1], c.training.epochs, c.training.seed
    );
    if !c.training.command.is_empty() {
        println!("command       {}", c.training.command);
    }
    for (k, v) in &c.metrics {
        println!("metric        {k} = {v:.4}");
    }
    println!("weights       {} ({} bytes, sha256 {} verified)", wpath.display(), bytes.len(), c.model.sha256);
    Ok(())
}

/// Runs a segmentation model on one image and returns its label map on the image's grid
/// (`hounsfield segment --method model`): `model` is a model folder (card + weights), a bare
/// ONNX file, or the name of a model built into the binary (`torso-organs`). The image must
/// be of the modality the card names: `declared` (DICOM Modality or `--modality`) when known,
/// else judged from its intensities.
pub fn predict_labels(
    model: &Path,
    image: &Volume<f32>,
    declared: Option<&str>,
    g: &crate::ui::GlobalArgs,
) -> anyhow::Result<hounsfield_core::LabelVolume> {
    let builtin = model.to_str().and_then(hounsfield_pipeline::models::builtin).filter(|_| !model.exists());
    let runner = match builtin {
        Some(b) => {
            set_threads(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
            let p = b.load()?;
            let card = p.model.card.clone();
            Runner { spec: InferenceSpec::from_card(&card), predictor: Box::new(p), card: Some(card) }
        }
        None => {
            let args = InferArgs {
                model: model.to_path_buf(),
                input: Vec::new(),
                out: PathBuf::new(),
                window: None,
                overlap: None,
                mirror: false,
                onnx_task: OnnxTask::Segmentation,
                threads: None,
                engine: Engine::Auto,
            };
            open_model(&args, g)?
        }
    };
    if let Some(card) = &runner.card {
        check_modality(card, declared, image.data())?;
    }
    let pb = bar(g, 1, "inference {bar:30} {pos}/{len} windows (eta {eta})");
    let pred = predict_volume(runner.predictor.as_ref(), &runner.spec, &[image], &mut |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })?;
    pb.finish_and_clear();
    match pred {
        Prediction::Labels(l) => Ok(l),
        _ => bail!("{} is not a segmentation model", model.display()),
    }
}
