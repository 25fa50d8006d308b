//! The error type of every operation in this crate.

use hounsfield_core::CoreError;
use hounsfield_imgproc::ImgprocError;

/// Why a deep-learning operation failed. Variants are named after the operation and carry
/// the offending values, so the message alone says what to fix. Messages are lowercase;
/// a path goes last.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A core-type failure: dimensions, memory cap, geometry.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An image operation (resampling, smoothing) failed.
    #[error(transparent)]
    Imgproc(#[from] ImgprocError),
    /// Volumes handed to the tensor bridge do not fit together or into a tensor.
    #[error("volume to tensor: {reason}")]
    ToTensor {
        /// What is wrong.
        reason: String,
    },
    /// An input the model cannot take (channels, dimensionality, non-finite values, size).
    #[error("model input: {reason}")]
    Input {
        /// What is wrong.
        reason: String,
    },
    /// A configuration (network, training, inference) is invalid.
    #[error("invalid configuration `{field}`: {reason}")]
    Config {
        /// The field, as written in the TOML file (`model.channels`, `optimizer.lr`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A TOML or JSON file could not be parsed.
    #[error("parse {what}: {reason}: {path}")]
    Parse {
        /// What was being parsed (`training config`, `model card`, `manifest`).
        what: &'static str,
        /// The parser's message (with line and column where it has them).
        reason: String,
        /// The file.
        path: String,
    },
    /// A file could not be read or written.
    #[error("{operation}: {source}: {path}")]
    File {
        /// What was being done (`read model card`, `write checkpoint`).
        operation: &'static str,
        /// The OS error.
        source: std::io::Error,
        /// The file.
        path: String,
    },
    /// The dataset loader failed to read a case.
    #[error("load case `{case}`: {reason}")]
    LoadCase {
        /// Case id.
        case: String,
        /// Why (the reader's message).
        reason: String,
    },
    /// A dataset holds no usable case, or a case lacks a role the task needs.
    #[error("dataset: {reason}")]
    Dataset {
        /// What is wrong.
        reason: String,
    },
    /// Weights and model card disagree (missing or extra tensors, shapes).
    #[error("model card does not match the weights: {reason}: {path}")]
    CardMismatch {
        /// Which tensors differ and how.
        reason: String,
        /// The weights file.
        path: String,
    },
    /// The weights file's checksum differs from the one the card records.
    #[error("weights checksum mismatch: card says {expected}, file has {found} (corrupt or replaced file): {path}")]
    Checksum {
        /// SHA-256 in the card.
        expected: String,
        /// SHA-256 of the file.
        found: String,
        /// The weights file.
        path: String,
    },
    /// An ONNX model uses operators tract cannot run.
    #[error("onnx model uses unsupported operators: {ops}: {path}")]
    OnnxUnsupported {
        /// Operator names, comma-separated.
        ops: String,
        /// The model file.
        path: String,
    },
    /// An ONNX model could not be loaded, typed or run.
    #[error("onnx {operation}: {reason}")]
    Onnx {
        /// What was being done (`load`, `optimize`, `run`).
        operation: &'static str,
        /// tract's message.
        reason: String,
    },
    /// Training diverged or could not proceed.
    #[error("training: {reason}")]
    Train {
        /// What happened.
        reason: String,
    },
    /// Saving or loading weights or optimizer state failed.
    #[error("{operation}: {reason}")]
    Record {
        /// What was being done.
        operation: &'static str,
        /// burn's message.
        reason: String,
    },
    /// The requested device is not compiled in or not available.
    #[error("device `{device}` is not available: {reason}")]
    Device {
        /// Device name.
        device: &'static str,
        /// Why (which cargo feature to enable).
        reason: String,
    },
}

impl NnError {
    /// A [`NnError::Config`] for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        NnError::Config { field: field.into(), reason: reason.into() }
    }

    /// A [`NnError::Input`].
    pub fn input(reason: impl Into<String>) -> Self {
        NnError::Input { reason: reason.into() }
    }
}
