//! The task-agnostic trainer behind `hounsfield train --config train.toml`: segmentation,
//! synthesis, learned registration and classification share one loop (patch batches,
//! augmentation, AdamW with a cosine or polynomial learning rate, validation per epoch,
//! checkpoints with resume, a progress callback) and differ only in the loss and metrics
//! of their [`Task`].
//!
//! Reproducibility: the network is initialized from the device RNG seeded with `seed`, and
//! every batch draws from a ChaCha stream keyed by (seed, global step), so a run resumed
//! from a checkpoint continues exactly as the uninterrupted run would have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::augment::{sample_patch, AugmentConfig, Foreground, ForegroundSampling, Patch};
use crate::bridge::{tensor_from_vec, tensor_to_vec};
use crate::card::{
    write_atomic, CardInput, CardModel, CardOutput, CardTraining, Model, ModelCard, Task, WEIGHTS_FILE,
};
use crate::data::{DataConfig, Preprocessing, Sample};
use crate::infer::InferenceConfig;
use crate::loss::{self, ImageLoss, SegmentationLoss, SimilarityLoss};
use crate::models::{ModelConfig, Network};
use crate::ops::{avg_pool2, SpatialDims};
use crate::NnError;

/// Learning-rate schedule over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `lr · ½(1 + cos(π t/T))` (the default; Loshchilov 2017 without restarts).
    #[default]
    Cosine,
    /// `lr · (1 − t/T)^0.9` (nnU-Net).
    Poly,
    /// `lr` throughout.
    Constant,
}

impl Schedule {
    /// The learning rate at step `t` of `total`.
    pub fn lr(self, base: f64, t: usize, total: usize) -> f64 {
        let f = t as f64 / total.max(1) as f64;
        match self {
            Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * f).cos()),
            Schedule::Poly => base * (1.0 - f).max(0.0).powf(0.9),
            Schedule::Constant => base,
        }
    }
}

/// `[optimizer]`: AdamW (Loshchilov 2019).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Peak learning rate (default 1e-3).
    pub lr: f64,
    /// Decoupled weight decay (default 1e-4).
    pub weight_decay: f64,
    /// Schedule (default cosine).
    pub schedule: Schedule,
    /// Gradient norm clip; 0 disables (default 12, nnU-Net).
    pub grad_clip: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self { lr: 1e-3, weight_decay: 1e-4, schedule: Schedule::Cosine, grad_clip: 12.0 }
    }
}

/// `[loss]`: one choice per task family, plus registration regularization weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Segmentation loss (default Dice + CE).
    pub segmentation: SegmentationLoss,
    /// Synthesis loss (default L1).
    pub image: ImageLoss,
    /// Registration similarity (default local NCC).
    pub similarity: SimilarityLoss,
    /// Weight of the displacement smoothness term (default 0.01... VoxelMorph uses 0.01–1
    /// with NCC; 1.0 here as its NCC default).
    pub smoothness: f64,
    /// Weight of the Jacobian-folding penalty (default 0).
    pub folding: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            segmentation: SegmentationLoss::DiceCe,
            image: ImageLoss::L1,
            similarity: SimilarityLoss::LocalNcc,
            smoothness: 1.0,
            folding: 0.0,
        }
    }
}

/// `[card]`: what goes into the model card besides what training knows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CardConfig {
    /// Model name (default: the output folder's name).
    pub name: String,
    /// Description.
    pub description: String,
    /// Modality of each input channel (default `unknown` for each).
    pub modalities: Vec<String>,
    /// Class index → name.
    pub labels: BTreeMap<String, String>,
    /// Orientation of the training images (default LPS).
    pub orientation: Option<String>,
    /// Label ids kept to their largest connected component at inference (segmentation).
    pub largest_component: Vec<u16>,
}

/// A training configuration (`train.toml`). Paths in `[data]` are relative to the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The task (decides loss, metrics and the card's output).
    pub task: Task,
    /// Seed of initialization, sampling and augmentation (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Epochs (default 10).
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Optimizer steps per epoch (default 50).
    #[serde(default = "d_steps")]
    pub steps_per_epoch: usize,
    /// Patches per step (default 2).
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Patch size `[z, y, x]` (3-D) or `[y, x]` (2-D), voxels at the training spacing.
    pub patch_size: Vec<usize>,
    /// Fraction of patches centred on foreground (segmentation; default 0.33, nnU-Net).
    #[serde(default = "d_fg")]
    pub foreground_fraction: f64,
    /// How a foreground patch picks its centre: `"voxel"` (default) or `"class"` (a class
    /// drawn uniformly first, nnU-Net's oversampling of small structures).
    #[serde(default)]
    pub foreground_sampling: ForegroundSampling,
    /// The network.
    pub model: ModelConfig,
    /// The data.
    #[serde(default)]
    pub data: DataConfig,
    /// Preprocessing.
    #[serde(default)]
    pub preprocessing: Preprocessing,
    /// Optimizer.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Loss.
    #[serde(default)]
    pub loss: LossConfig,
    /// Augmentation.
    #[serde(default)]
    pub augmentation: AugmentConfig,
    /// Inference settings recorded in the card.
    #[serde(default)]
    pub inference: InferenceConfig,
    /// Card text.
    #[serde(default)]
    pub card: CardConfig,
}

fn d_epochs() -> usize {
    10
}
fn d_steps() -> usize {
    50
}
fn d_batch() -> usize {
    2
}
fn d_fg() -> f64 {
    0.33
}

impl TrainConfig {
    /// Parses and validates a config; `path` is used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, NnError> {
        let c: TrainConfig = toml::from_str(text).map_err(|e| NnError::Parse {
            what: "training config",
            reason: e.to_string().trim().replace('\n', " "),
            path: path.display().to_string(),
        })?;
        c.validate()?;
        Ok(c)
    }

    /// The patch as `[z, y, x]` (2-D: z = 1).
    pub fn patch_zyx(&self) -> [usize; 3] {
        match self.patch_size.as_slice() {
            [y, x] => [1, *y, *x],
            [z, y, x] => [*z, *y, *x],
            _ => [1, 1, 1],
        }
    }

    /// Checks every field and their agreement.
    pub fn validate(&self) -> Result<(), NnError> {
        self.model.validate()?;
        if self.model.output_kind() != self.task.output_kind() {
            return Err(NnError::config(
                "model.architecture",
                format!("does not fit task `{}`", self.task.name()),
            ));
        }
        let two_d = self.model.spatial_dims() == SpatialDims::D2;
        match (self.patch_size.len(), two_d) {
            (2, true) | (3, false) => {}
            _ => {
                return Err(NnError::config(
                    "patch_size",
                    format!(
                        "a {}-D model needs {} extents",
                        if two_d { 2 } else { 3 },
                        if two_d { 2 } else { 3 }
                    ),
                ))
            }
        }
        let m = self.model.size_multiple();
        let min = self.model.min_size();
        for &p in &self.patch_size {
            if p == 0 || p % m != 0 || p < min || p > 1024 {
                return Err(NnError::config(
                    "patch_size",
                    format!(
                        "each extent must be a multiple of {m}, at least {min} and at most 1024, got {:?}",
                        self.patch_size
                    ),
                ));
            }
        }
        if self.epochs == 0 || self.steps_per_epoch == 0 || self.batch_size == 0 || self.batch_size > 256 {
            return Err(NnError::config(
                "epochs/steps_per_epoch/batch_size",
                "must be at least 1 (batch at most 256)",
            ));
        }
        if !(self.optimizer.lr.is_finite() && self.optimizer.lr > 0.0) {
            return Err(NnError::config("optimizer.lr", "must be positive"));
        }
        if !(self.optimizer.weight_decay.is_finite() && self.optimizer.weight_decay >= 0.0) {
            return Err(NnError::config("optimizer.weight_decay", "must be ≥ 0"));
        }
        if !(0.0..=1.0).contains(&self.foreground_fraction) {
            return Err(NnError::config("foreground_fraction", "must be in [0, 1]"));
        }
        if !(0.0..1.0).contains(&self.data.validation_fraction) {
            return Err(NnError::config("data.validation_fraction", "must be in [0, 1)"));
        }
        if self.data.manifest.is_some() == self.data.folder.is_some() {
            return Err(NnError::config("data", "give exactly one of `manifest` and `folder`"));
        }
        if self.task != Task::Registration && self.data.inputs.len() != self.model.in_channels() {
            return Err(NnError::config(
                "data.inputs",
                format!(
                    "lists {} roles but the model takes {} channels",
                    self.data.inputs.len(),
                    self.model.in_channels()
                ),
            ));
        }
        if self.task == Task::Segmentation
            && !self.data.label_ids.is_empty()
            && self.data.label_ids.len() != self.model.out_channels()
        {
            return Err(NnError::config(
                "data.label_ids",
                format!("has {} ids for {} classes", self.data.label_ids.len(), self.model.out_channels()),
            ));
        }
        for (f, w) in [("loss.smoothness", self.loss.smoothness), ("loss.folding", self.loss.folding)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(NnError::config(f, "must be ≥ 0"));
            }
        }
        self.preprocessing.normalization.validate("preprocessing.normalization")?;
        self.augmentation.validate()?;
        self.inference.validate()?;
        Ok(())
    }
}

/// What the trainer is doing, for a progress display.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A training step finished.
    Step {
        /// Epoch (1-based).
        epoch: usize,
        /// Epochs in total.
        epochs: usize,
        /// Step within the epoch (1-based).
        step: usize,
        /// Steps per epoch.
        steps: usize,
        /// This step's loss.
        loss: f64,
        /// Learning rate used.
        lr: f64,
    },
    /// An epoch's validation finished.
    Epoch(EpochRecord),
}

/// One epoch's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation metrics (name → value).
    pub metrics: BTreeMap<String, f64>,
}

/// How to start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resume {
    /// From freshly initialized weights; an existing checkpoint is overwritten (the default).
    #[default]
    Fresh,
    /// From `OUT/checkpoint` when it exists (weights, optimizer state, epoch), else fresh.
    FromCheckpoint,
}

/// Where and how to train.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Output folder: `checkpoint/` during training, `model/` at the end.
    pub out_dir: PathBuf,
    /// Start fresh or resume.
    pub resume: Resume,
    /// The command line, recorded in the card.
    pub command: String,
    /// Description of the data, recorded in the card.
    pub data_description: String,
    /// Stop after this many epochs of this run (for tests of resuming; None: all).
    pub stop_after_epochs: Option<usize>,
}

/// What training produced.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Every epoch so far (resumed runs include the earlier ones).
    pub history: Vec<EpochRecord>,
    /// The model folder (written when the last epoch finished).
    pub model_dir: Option<PathBuf>,
    /// Training and validation case counts.
    pub cases: [usize; 2],
}

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    epochs_done: usize,
    history: Vec<EpochRecord>,
}

fn record_err(operation: &'static str) -> impl Fn(burn::store::RecordError) -> NnError {
    move |e| NnError::Record { operation, reason: e.to_string() }
}

/// A batch as tensors: input `[b, c, z, y, x]` plus the task's target.
struct Batch {
    input: Tensor<5>,
    labels: Option<Tensor<5>>,
    target: Option<Tensor<5>>,
    classes: Option<Tensor<2>>,
}

fn make_batch(
    patches: &[Patch],
    samples: &[&Sample],
    size: [usize; 3],
    classes: usize,
    device: &Device,
) -> Batch {
    let b = patches.len();
    let c = patches.first().map(|p| p.images.len()).unwrap_or(1);
    let [z, y, x] = size;
    let n = z * y * x;
    let mut input = Vec::with_capacity(b * c * n);
    for p in patches {
        for ch in &p.images {
            input.extend_from_slice(ch);
        }
    }
    let input = tensor_from_vec(input, [b, c, z, y, x], device);
    let labels = patches.first().and_then(|p| p.labels.as_ref()).map(|_| {
        let v: Vec<i64> = patches.iter().flat_map(|p| p.labels.iter().flatten().map(|&l| l as i64)).collect();
        let t: Tensor<4, Int> = Tensor::from_data(TensorData::new(v, [b, z, y, x]), device);
        loss::one_hot(t, classes)
    });
    let target = patches.first().and_then(|p| p.target.as_ref()).map(|_| {
        let v: Vec<f32> = patches.iter().flat_map(|p| p.target.iter().flatten().copied()).collect();
        tensor_from_vec(v, [b, 1, z, y, x], device)
    });
    let classes_t = samples.first().and_then(|s| s.class).map(|_| {
        let mut v = vec![0f32; b * classes];
        for (i, s) in samples.iter().enumerate() {
            if let Some(k) = s.class {
                v[i * classes + k] = 1.0;
            }
        }
        tensor_from_vec(v, [b, classes], device)
    });
    Batch { input, labels, target, classes: classes_t }
}

/// The loss of one batch.
fn batch_loss(net: &Network, batch: Batch, config: &TrainConfig) -> Result<Tensor<1>, NnError> {
    let dims = config.model.spatial_dims();
    Ok(match (net, config.task) {
        (Network::Unet(u), Task::Segmentation) => {
            let target =
                batch.labels.ok_or_else(|| NnError::Train { reason: "no labels in batch".into() })?;
            let outs = u.forward_deep(batch.input);
            // Deep supervision weights 1, ½, ¼, … normalized (nnU-Net); targets averaged
            // down (soft one-hot).
            let mut total: Option<Tensor<1>> = None;
            let mut t = target;
            let mut wsum = 0.0;
            for (i, o) in outs.into_iter().enumerate() {
                if i > 0 {
                    t = avg_pool2(t, dims);
                }
                let w = 0.5f64.powi(i as i32);
                wsum += w;
                let l = config.loss.segmentation.eval(o, t.clone()).mul_scalar(w);
                total = Some(match total {
                    Some(a) => a + l,
                    None => l,
                });
            }
            total.ok_or_else(|| NnError::Train { reason: "network gave no output".into() })?.div_scalar(wsum)
        }
        (Network::Voxelmorph(v), Task::Registration) => {
            let moving = batch.input.clone().narrow(1, 0, 1);
            let fixed = batch.input.narrow(1, 1, 1);
            let out = v.forward(moving, fixed.clone());
            let mut l = config.loss.similarity.eval(out.warped, fixed);
            if config.loss.smoothness > 0.0 {
                l = l + loss::gradient_l2(out.velocity).mul_scalar(config.loss.smoothness);
            }
            if config.loss.folding > 0.0 {
                l = l + loss::jacobian_folding(out.displacement).mul_scalar(config.loss.folding);
            }
            l
        }
        (Network::Resnet(_) | Network::Densenet(_), Task::Classification) => {
            let target =
                batch.classes.ok_or_else(|| NnError::Train { reason: "no classes in batch".into() })?;
            let logits = match net {
                Network::Resnet(m) => m.forward(batch.input),
                Network::Densenet(m) => m.forward(batch.input),
                _ => return Err(NnError::Train { reason: "not a classifier".into() }),
            };
            burn::tensor::activation::log_softmax(logits, 1).mul(target).sum_dim(1).mean().neg()
        }
        (_, Task::Synthesis) => {
            let target =
                batch.target.ok_or_else(|| NnError::Train { reason: "no target in batch".into() })?;
            config.loss.image.eval(net.forward(batch.input), target)
        }
        _ => {
            return Err(NnError::config(
                "model.architecture",
                format!("does not fit task `{}`", config.task.name()),
            ))
        }
    })
}

/// Validation metrics on the centre patch of every validation case (training cases when
/// there are none), with the network in evaluation mode.
fn validate(
    net: &Network,
    val: &[Sample],
    config: &TrainConfig,
    device: &Device,
) -> Result<BTreeMap<String, f64>, NnError> {
    let size = config.patch_zyx();
    let classes = config.model.out_channels();
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    let mut losses = 0.0;
    let mut counts = 0.0f64;
    let mut dice_sum = vec![0.0; classes];
    let mut dice_n = vec![0usize; classes];
    let mut correct = 0usize;
    let mut mae = 0.0;
    let mut ncc_before = 0.0;
    let mut ncc_after = 0.0;
    let mut folds = 0.0;
    for s in val {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let p = sample_patch(s, size, Foreground::voxel(0.0), None, &mut rng);
        let batch = make_batch(std::slice::from_ref(&p), &[s], size, classes, device);
        let input = batch.input.clone();
        let l = batch_loss(net, batch, config)?;
        losses += l.into_scalar::<f32>() as f64;
        counts += 1.0;
        match config.task {
            Task::Segmentation => {
                let pred = tensor_to_vec(net.forward(input).argmax(1).float());
                let truth = p.labels.clone().unwrap_or_default();
                for c in 1..classes {
                    let (mut inter, mut a, mut b) = (0.0, 0.0, 0.0);
                    for (&pv, &tv) in pred.iter().zip(&truth) {
                        let (pi, ti) = (pv as usize == c, tv as usize == c);
                        inter += (pi && ti) as u8 as f64;
                        a += pi as u8 as f64;
                        b += ti as u8 as f64;
                    }
                    if b > 0.0 {
                        dice_sum[c] += 2.0 * inter / (a + b);
                        dice_n[c] += 1;
                    }
                }
            }
            Task::Synthesis => {
                let pred = tensor_to_vec(net.forward(input));
                let t = p.target.clone().unwrap_or_default();
                mae += pred.iter().zip(&t).map(|(a, b)| (a - b).abs() as f64).sum::<f64>()
                    / t.len().max(1) as f64;
            }
            Task::Registration => {
                if let Network::Voxelmorph(v) = net {
                    let moving = input.clone().narrow(1, 0, 1);
                    let fixed = input.narrow(1, 1, 1);
                    ncc_before -= loss::ncc(moving.clone(), fixed.clone()).into_scalar::<f32>() as f64;
                    let out = v.forward(moving, fixed.clone());
                    ncc_after -= loss::ncc(out.warped, fixed).into_scalar::<f32>() as f64;
                    folds += loss::jacobian_folding(out.displacement).into_scalar::<f32>() as f64;
                }
            }
            Task::Classification => {
                let logits = tensor_to_vec(net.forward(input));
                let best = logits
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                    .0;
                correct += (Some(best) == s.class) as usize;
            }
        }
    }
    let n = counts.max(1.0);
    m.insert("val_loss".into(), losses / n);
    match config.task {
        Task::Segmentation => {
            let mut all = Vec::new();
            for c in 1..classes {
                if dice_n[c] > 0 {
                    let d = dice_sum[c] / dice_n[c] as f64;
                    m.insert(format!("dice_{c}"), d);
                    all.push(d);
                }
            }
            if !all.is_empty() {
                m.insert("dice_mean".into(), all.iter().sum::<f64>() / all.len() as f64);
            }
        }
        Task::Synthesis => {
            m.insert("mae_normalized".into(), mae / n);
        }
        Task::Registration => {
            m.insert("ncc_before".into(), ncc_before / n);
            m.insert("ncc_after".into(), ncc_after / n);
            m.insert("folding".into(), folds / n);
        }
        Task::Classification => {
            m.insert("accuracy".into(), correct as f64 / n);
        }
    }
    Ok(m)
}

fn optimizer(config: &TrainConfig) -> ModuleOptimizer {
    let mut c = AdamWConfig::new().with_weight_decay(config.optimizer.weight_decay as f32);
    if config.optimizer.grad_clip > 0.0 {
        c = c.with_grad_clipping(Some(GradientClippingConfig::Norm(config.optimizer.grad_clip as f32)));
    }
    c.init()
}

fn file_err<'a>(operation: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> NnError + 'a {
    move |source| NnError::File { operation, source, path: path.display().to_string() }
}

/// Trains `config.model` on `train` (validating on `val`), checkpointing into
/// `options.out_dir/checkpoint` after every epoch and writing the model folder
/// `options.out_dir/model` at the end.
pub fn train(
    config: &TrainConfig,
    train: &[Sample],
    val: &[Sample],
    options: &TrainOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<TrainReport, NnError> {
    config.validate()?;
    if train.is_empty() {
        return Err(NnError::Dataset { reason: "no training case".into() });
    }
    let size = config.patch_zyx();
    let classes = config.model.out_channels();
    let in_ch = config.model.in_channels();
    for s in train.iter().chain(val) {
        if s.images.len() != in_ch {
            return Err(NnError::Dataset {
                reason: format!("case `{}` has {} channels, the model takes {in_ch}", s.id, s.images.len()),
            });
        }
    }
    // Activations dominate memory: a rough bound, batch × patch × widest level × 16 bytes
    // (forward + backward + optimizer) per channel, checked against the cap.
    let widest = match &config.model {
        ModelConfig::Unet(u) => u.channels.iter().copied().max().unwrap_or(1) * u.channels.len(),
        _ => 64,
    };
    hounsfield_core::check_alloc(
        (config.batch_size as u128) * (size.iter().product::<usize>() as u128) * (widest as u128),
        16,
    )?;
    let base = Device::flex();
    base.seed(config.seed);
    let device = base.clone().autodiff();
    let ckpt = options.out_dir.join("checkpoint");
    let mut net = config.model.init(&device)?;
    let mut optim = optimizer(config);
    let mut history: Vec<EpochRecord> = Vec::new();
    let mut start_epoch = 0;
    if options.resume == Resume::FromCheckpoint && ckpt.join("state.json").exists() {
        let state: CheckpointState = serde_json::from_slice(
            &std::fs::read(ckpt.join("state.json")).map_err(file_err("read checkpoint", &ckpt))?,
        )
        .map_err(|e| NnError::Parse {
            what: "checkpoint state",
            reason: e.to_string(),
            path: ckpt.display().to_string(),
        })?;
        let wbytes = std::fs::read(ckpt.join("model.bpk")).map_err(file_err("read checkpoint", &ckpt))?;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(wbytes))
            .map_err(record_err("read checkpoint weights"))?;
        net = net.try_load_record(record).map_err(|e| NnError::CardMismatch {
            reason: format!("checkpoint does not fit the configured model: {e}"),
            path: ckpt.display().to_string(),
        })?;
        let obytes = std::fs::read(ckpt.join("optimizer.bin")).map_err(file_err("read checkpoint", &ckpt))?;
        optim =
            optim.from_bytes(Bytes::from_bytes_vec(obytes)).map_err(record_err("read optimizer state"))?;
        start_epoch = state.epochs_done;
        history = state.history;
    }
    let total_steps = config.epochs * config.steps_per_epoch;
    for (epochs_this_run, epoch) in (start_epoch..config.epochs).enumerate() {
        if options.stop_after_epochs.is_some_and(|n| epochs_this_run >= n) {
            break;
        }
        let mut loss_sum = 0.0;
        for step in 0..config.steps_per_epoch {
            let global = epoch * config.steps_per_epoch + step;
            let mut rng =
                ChaCha8Rng::seed_from_u64(config.seed ^ (global as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut patches = Vec::with_capacity(config.batch_size);
            let mut picked = Vec::with_capacity(config.batch_size);
            for _ in 0..config.batch_size {
                let s = &train[rand::Rng::gen_range(&mut rng, 0..train.len())];
                patches.push(sample_patch(
                    s,
                    size,
                    Foreground { fraction: config.foreground_fraction, sampling: config.foreground_sampling },
                    Some(&config.augmentation),
                    &mut rng,
                ));
                picked.push(s);
            }
            let batch = make_batch(&patches, &picked, size, classes, &device);
            let loss = batch_loss(&net, batch, config)?;
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(NnError::Train {
                    reason: format!(
                        "loss became {value} at epoch {} step {} (lower optimizer.lr)",
                        epoch + 1,
                        step + 1
                    ),
                });
            }
            let lr = config.optimizer.schedule.lr(config.optimizer.lr, global, total_steps);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(lr, net, grads);
            loss_sum += value;
            progress(&Progress::Step {
                epoch: epoch + 1,
                epochs: config.epochs,
                step: step + 1,
                steps: config.steps_per_epoch,
                loss: value,
                lr,
            });
        }
        let eval = net.valid();
        let vset = if val.is_empty() { train } else { val };
        let metrics = validate(&eval, vset, config, &base)?;
        let rec =
            EpochRecord { epoch: epoch + 1, train_loss: loss_sum / config.steps_per_epoch as f64, metrics };
        progress(&Progress::Epoch(rec.clone()));
        history.push(rec);
        // Checkpoint: weights (with parameter ids, which the optimizer state is keyed by),
        // optimizer state, then the state file that marks the checkpoint complete.
        std::fs::create_dir_all(&ckpt).map_err(file_err("create checkpoint folder", &ckpt))?;
        let wb = net.clone().into_record().into_bytes().map_err(record_err("serialize checkpoint"))?;
        write_atomic(&ckpt.join("model.bpk"), &wb)?;
        let ob = optim.into_bytes().map_err(record_err("serialize optimizer state"))?;
        write_atomic(&ckpt.join("optimizer.bin"), &ob)?;
        let st =
            serde_json::to_vec_pretty(&CheckpointState { epochs_done: epoch + 1, history: history.clone() })
                .map_err(|e| NnError::Record { operation: "write checkpoint", reason: e.to_string() })?;
        write_atomic(&ckpt.join("state.json"), &st)?;
    }
    let finished = history.len() >= config.epochs;
    let model_dir = if finished {
        let dir = options.out_dir.join("model");
        let mut model = Model {
            card: card(config, train.len(), val.len(), options, history.last()),
            network: net.valid(),
            dir: PathBuf::new(),
        };
        model.save(&dir)?;
        Some(dir)
    } else {
        None
    };
    Ok(TrainReport { history, model_dir, cases: [train.len(), val.len()] })
}

fn card(
    config: &TrainConfig,
    n_train: usize,
    n_val: usize,
    options: &TrainOptions,
    last: Option<&EpochRecord>,
) -> ModelCard {
    let name = if config.card.name.is_empty() {
        options
            .out_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    } else {
        config.card.name.clone()
    };
    let modalities = if config.card.modalities.len() == config.model.in_channels() {
        config.card.modalities.clone()
    } else {
        vec!["unknown".into(); config.model.in_channels()]
    };
    let mut inference = config.inference.clone();
    if inference.window.is_none() && config.task != Task::Classification {
        inference.window = Some(config.patch_zyx());
    }
    ModelCard {
        model: CardModel {
            name,
            description: config.card.description.clone(),
            task: config.task,
            weights: WEIGHTS_FILE.into(),
            sha256: String::new(),
            created_by: format!("hounsfield-nn {}", env!("CARGO_PKG_VERSION")),
        },
        input: CardInput {
            modalities,
            spacing: config.preprocessing.spacing,
            orientation: config.card.orientation.clone().unwrap_or_else(|| "LPS".into()),
            normalization: config.preprocessing.normalization,
        },
        output: CardOutput {
            labels: config.card.labels.clone(),
            label_ids: if config.task == Task::Segmentation {
                config.data.label_ids.clone()
            } else {
                Vec::new()
            },
            normalization: if config.task == Task::Synthesis {
                config.preprocessing.target_normalization
            } else {
                None
            },
            largest_component: config.card.largest_component.clone(),
        },
        inference,
        architecture: config.model.clone(),
        training: CardTraining {
            data: options.data_description.clone(),
            command: options.command.clone(),
            cases: [n_train, n_val],
            epochs: config.epochs,
            seed: config.seed,
        },
        metrics: last.map(|r| r.metrics.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(Schedule::Cosine.lr(1.0, 0, 10), 1.0);
        assert!(Schedule::Cosine.lr(1.0, 10, 10).abs() < 1e-12);
        assert!((Schedule::Poly.lr(1.0, 5, 10) - 0.5f64.powf(0.9)).abs() < 1e-12);
        assert_eq!(Schedule::Constant.lr(0.1, 7, 10), 0.1);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let ok = r#"
task = "segmentation"
patch_size = [16, 16]
[model]
architecture = "unet"
spatial_dims = "2"
channels = [4, 8]
[data]
manifest = "m.json"
"#;
        TrainConfig::from_toml(ok, Path::new("t.toml")).unwrap();
        let e = TrainConfig::from_toml(&ok.replace("[16, 16]", "[15, 16]"), Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("patch_size"), "{e}");
        let e = TrainConfig::from_toml(
            &ok.replace("task = \"segmentation\"", "task = \"classification\""),
            Path::new("t.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("model.architecture"), "{e}");
        let e = TrainConfig::from_toml(&format!("{ok}\nbogus = 1\n"), Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
