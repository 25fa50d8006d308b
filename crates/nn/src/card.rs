//! Model files: a folder with `model.toml` (the model card) and the weights it names
//! (`weights.bpk`, burn's burnpack record), loaded together and checked against each other.
//!
//! The card says what the model is for and how to feed it: task, input modality and
//! channels, expected spacing and orientation, intensity normalization, label names, the
//! training data and command, metrics on held-out data, the architecture (so the network
//! can be rebuilt) and the SHA-256 of the weights, verified on every load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::infer::InferenceConfig;
use crate::models::{ModelConfig, Network, OutputKind};
use crate::normalize::Normalization;
use crate::NnError;

/// File name of the card inside a model folder.
pub const CARD_FILE: &str = "model.toml";
/// File name of the weights inside a model folder.
pub const WEIGHTS_FILE: &str = "weights.bpk";

/// What a model does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Per-voxel labels (the default).
    #[default]
    Segmentation,
    /// Image to image: modality translation, denoising, super-resolution.
    Synthesis,
    /// A displacement field from a (moving, fixed) pair.
    Registration,
    /// One class per image.
    Classification,
}

impl Task {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Segmentation => "segmentation",
            Task::Synthesis => "synthesis",
            Task::Registration => "registration",
            Task::Classification => "classification",
        }
    }

    /// The network output this task expects.
    pub fn output_kind(self) -> OutputKind {
        match self {
            Task::Segmentation => OutputKind::VoxelLogits,
            Task::Synthesis => OutputKind::Image,
            Task::Registration => OutputKind::Displacement,
            Task::Classification => OutputKind::ClassLogits,
        }
    }
}

/// `[model]`: identity and weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardModel {
    /// Short name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The task.
    pub task: Task,
    /// Weights file, relative to the folder.
    #[serde(default = "default_weights")]
    pub weights: String,
    /// SHA-256 of the weights file, lowercase hex.
    pub sha256: String,
    /// Software that wrote the card.
    #[serde(default)]
    pub created_by: String,
}

fn default_weights() -> String {
    WEIGHTS_FILE.into()
}

/// `[input]`: what the model expects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    /// Modality of each input channel (`CT`, `MR-T1`, …).
    pub modalities: Vec<String>,
    /// Voxel spacing (mm, x y z) the model was trained at; inputs are resampled to it and
    /// outputs back to the input grid. Absent: the input's own spacing is used.
    #[serde(default)]
    pub spacing: Option<[f64; 3]>,
    /// Orientation code of the training images (informational; the network sees voxel
    /// order, so inference reorients nothing and warns when they differ).
    #[serde(default = "default_orientation")]
    pub orientation: String,
    /// Intensity normalization of every input channel.
    #[serde(default)]
    pub normalization: Normalization,
}

fn default_orientation() -> String {
    "LPS".into()
}

/// `[output]`: how to read the output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardOutput {
    /// Class index → name (segmentation, classification). TOML keys are strings: `"1" = "liver"`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Label id written for each class index (segmentation); absent: the index itself.
    #[serde(default)]
    pub label_ids: Vec<u16>,
    /// Normalization of synthesis targets; the output is mapped back through it.
    #[serde(default)]
    pub normalization: Option<Normalization>,
    /// Label ids of structures that are one connected piece by anatomy (a heart, a liver):
    /// only the largest 26-connected component of each is kept, the rest becomes
    /// background (nnU-Net's post-processing, decided here by anatomy rather than tuned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub largest_component: Vec<u16>,
}

/// `[training]`: provenance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardTraining {
    /// The training data (dataset path or description).
    #[serde(default)]
    pub data: String,
    /// The command that trained it.
    #[serde(default)]
    pub command: String,
    /// Cases used for training and validation.
    #[serde(default)]
    pub cases: [usize; 2],
    /// Epochs run.
    #[serde(default)]
    pub epochs: usize,
    /// Seed.
    #[serde(default)]
    pub seed: u64,
}

/// A model card (`model.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Identity and weights.
    pub model: CardModel,
    /// Expected input.
    pub input: CardInput,
    /// Output interpretation.
    #[serde(default)]
    pub output: CardOutput,
    /// Sliding-window settings.
    #[serde(default)]
    pub inference: InferenceConfig,
    /// The network.
    pub architecture: ModelConfig,
    /// Provenance.
    #[serde(default)]
    pub training: CardTraining,
    /// Metrics on held-out data (name → value).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

impl ModelCard {
    /// Parses and validates a card; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, NnError> {
        let card: ModelCard = toml::from_str(text).map_err(|e| NnError::Parse {
            what: "model card",
            reason: e.to_string().trim().replace('\n', " "),
            path: path.display().to_string(),
        })?;
        card.validate()?;
        Ok(card)
    }

    /// Checks that the card is self-consistent.
    pub fn validate(&self) -> Result<(), NnError> {
        self.architecture.validate()?;
        self.input.normalization.validate("input.normalization")?;
        if let Some(n) = &self.output.normalization {
            n.validate("output.normalization")?;
        }
        if let Some(s) = self.input.spacing {
            if s.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(NnError::config("input.spacing", format!("must be positive, got {s:?}")));
            }
        }
        let want = self.architecture.in_channels();
        if self.input.modalities.len() != want {
            return Err(NnError::config(
                "input.modalities",
                format!("lists {} channels but the architecture takes {want}", self.input.modalities.len()),
            ));
        }
        if self.architecture.output_kind() != self.model.task.output_kind() {
            return Err(NnError::config(
                "architecture",
                format!("does not produce what task `{}` needs", self.model.task.name()),
            ));
        }
        let out = self.architecture.out_channels();
        if !self.output.label_ids.is_empty() && self.output.label_ids.len() != out {
            return Err(NnError::config(
                "output.label_ids",
                format!("has {} entries for {out} output classes", self.output.label_ids.len()),
            ));
        }
        self.inference.validate()?;
        Ok(())
    }

    /// The label id written for class index `c`.
    pub fn label_id(&self, c: usize) -> u16 {
        self.output.label_ids.get(c).copied().unwrap_or(c as u16)
    }
}

/// A model card with its network, weights loaded and verified.
#[derive(Debug)]
pub struct Model {
    /// The card.
    pub card: ModelCard,
    /// The network, on its device, weights loaded.
    pub network: Network,
    /// The folder it was loaded from (empty when built in memory).
    pub dir: PathBuf,
}

/// The modality family of a card or DICOM modality string: `CT`, `MR` (from `MR`, `MR-T1`,
/// `MR-T2`, …), or the string itself upper-cased.
fn modality_family(m: &str) -> String {
    m.split(['-', '_', ' ']).next().unwrap_or(m).trim().to_ascii_uppercase()
}

/// Checks that `image` is of the modality the card's first input channel names: against
/// `declared` (a DICOM Modality, or what the user says) when given, otherwise from the
/// intensities: a CT model needs Hounsfield units (some voxels at or below −100 HU, fat or
/// air, which every body CT has and no magnitude MR image does), and an MR model refuses
/// an image whose values reach −500 or below in over 5 % of voxels (air in HU). A card
/// without modalities accepts anything.
pub fn check_modality(card: &ModelCard, declared: Option<&str>, image: &[f32]) -> Result<(), NnError> {
    let Some(want) = card.input.modalities.first() else { return Ok(()) };
    let want_family = modality_family(want);
    if let Some(d) = declared {
        let got = modality_family(d);
        if got != want_family {
            return Err(NnError::input(format!(
                "the model `{}` takes {want} images; this one is {d}",
                card.model.name
            )));
        }
        return Ok(());
    }
    let finite = image.iter().filter(|v| v.is_finite());
    match want_family.as_str() {
        "CT" => {
            let min = finite.fold(f32::INFINITY, |a, &b| a.min(b));
            if min > -100.0 {
                return Err(NnError::input(format!(
                    "the model `{}` takes CT in Hounsfield units, but the image's lowest value is {min} \
                     (no fat or air): it does not look like CT (declare the modality if it is)",
                    card.model.name
                )));
            }
        }
        "MR" => {
            let n = image.len().max(1);
            let low = finite.filter(|&&v| v <= -500.0).count();
            if low * 20 > n {
                return Err(NnError::input(format!(
                    "the model `{}` takes {want} images, but {:.0} % of voxels are at or below −500 \
                     (air in HU): it looks like CT (declare the modality if it is not)",
                    card.model.name,
                    100.0 * low as f64 / n as f64
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path, operation: &'static str) -> Result<Vec<u8>, NnError> {
    std::fs::read(path).map_err(|source| NnError::File {
        operation,
        source,
        path: path.display().to_string(),
    })
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// failed write never leaves a partial file under the target name (the `io` crate's
/// convention; `nn` may not depend on `io`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let err = |source| NnError::File { operation: "write", source, path: path.display().to_string() };
    let r = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

/// The weights format a card names, by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsFormat {
    /// burn's burnpack record (`.bpk`).
    Burnpack,
    /// An ONNX graph (`.onnx`), run by tract; the card's architecture then only describes it.
    Onnx,
}

impl ModelCard {
    /// The weights format, from the file name in `[model] weights`.
    pub fn weights_format(&self) -> WeightsFormat {
        if self.model.weights.to_ascii_lowercase().ends_with(".onnx") {
            WeightsFormat::Onnx
        } else {
            WeightsFormat::Burnpack
        }
    }
}

/// Reads and validates `dir/model.toml`, reads the weights file it names and verifies its
/// SHA-256. Returns the card, the weights path and the weights bytes.
pub fn read_card(dir: &Path) -> Result<(ModelCard, PathBuf, Vec<u8>), NnError> {
    let card_path = dir.join(CARD_FILE);
    let text = read(&card_path, "read model card")?;
    let text = String::from_utf8(text).map_err(|_| NnError::Parse {
        what: "model card",
        reason: "not UTF-8 text".into(),
        path: card_path.display().to_string(),
    })?;
    let card = ModelCard::from_toml(&text, &card_path)?;
    let wpath = dir.join(&card.model.weights);
    let bytes = read(&wpath, "read weights")?;
    verify_checksum(&card, &bytes, &wpath)?;
    Ok((card, wpath, bytes))
}

fn verify_checksum(card: &ModelCard, bytes: &[u8], wpath: &Path) -> Result<(), NnError> {
    let found = sha256_hex(bytes);
    if !found.eq_ignore_ascii_case(card.model.sha256.trim()) {
        return Err(NnError::Checksum {
            expected: card.model.sha256.clone(),
            found,
            path: wpath.display().to_string(),
        });
    }
    Ok(())
}

impl Model {
    /// Loads `dir/model.toml` and the weights it names onto `device`, verifying the
    /// checksum and that every tensor the architecture needs is there with its shape (and
    /// nothing else).
    pub fn load(dir: &Path, device: &Device) -> Result<Model, NnError> {
        let (card, wpath, bytes) = read_card(dir)?;
        if card.weights_format() == WeightsFormat::Onnx {
            return Err(NnError::config(
                "model.weights",
                "names an ONNX file: run it with the ONNX runtime (`hounsfield infer` does this)",
            ));
        }
        // Inference mode: batch norm uses its running statistics.
        let network = load_weights(card.architecture.init(device)?, bytes, &wpath)?.valid();
        Ok(Model { card, network, dir: dir.to_path_buf() })
    }

    /// Builds a model from a card's text and its weights held in memory (a model embedded
    /// in a binary), with the checks of [`Model::load`]; `origin` names it in messages.
    pub fn from_memory(
        card_text: &str,
        weights: &[u8],
        origin: &Path,
        device: &Device,
    ) -> Result<Model, NnError> {
        let card = ModelCard::from_toml(card_text, &origin.join(CARD_FILE))?;
        let wpath = origin.join(&card.model.weights);
        if card.weights_format() == WeightsFormat::Onnx {
            return Err(NnError::config("model.weights", "an embedded model must hold burnpack weights"));
        }
        verify_checksum(&card, weights, &wpath)?;
        let network = load_weights(card.architecture.init(device)?, weights.to_vec(), &wpath)?.valid();
        Ok(Model { card, network, dir: PathBuf::new() })
    }

    /// Writes the folder: weights first, then the card with their checksum (each atomic).
    /// Creates `dir` when missing.
    pub fn save(&mut self, dir: &Path) -> Result<(), NnError> {
        std::fs::create_dir_all(dir).map_err(|source| NnError::File {
            operation: "create model folder",
            source,
            path: dir.display().to_string(),
        })?;
        let bytes = weights_bytes(&self.network)?;
        self.card.model.sha256 = sha256_hex(&bytes);
        write_atomic(&dir.join(&self.card.model.weights), &bytes)?;
        let text = toml::to_string_pretty(&self.card)
            .map_err(|e| NnError::Record { operation: "write model card", reason: e.to_string() })?;
        write_atomic(&dir.join(CARD_FILE), text.as_bytes())?;
        self.dir = dir.to_path_buf();
        Ok(())
    }
}

/// The network's parameters as a burnpack buffer.
pub fn weights_bytes(network: &Network) -> Result<Vec<u8>, NnError> {
    let bytes = network
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| NnError::Record { operation: "serialize weights", reason: e.to_string() })?;
    Ok(bytes.to_vec())
}

/// Applies burnpack `bytes` to `network`; any missing, extra or differently shaped tensor is
/// a [`NnError::CardMismatch`] naming it.
pub fn load_weights(network: Network, bytes: Vec<u8>, path: &Path) -> Result<Network, NnError> {
    let mismatch = |reason: String| NnError::CardMismatch { reason, path: path.display().to_string() };
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| mismatch(e.to_string()))?;
    // A corrupt or foreign buffer can make burn panic deep inside; keep that a typed error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| network.try_load_record(record)))
        .map_err(|_| mismatch("weights could not be applied to the architecture".into()))?
        .map_err(|e| mismatch(e.to_string()))
}
