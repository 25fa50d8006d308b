//! The crate's error type.

use hounsfield_core::CoreError;

/// Errors of phantom generation, contrast simulation, deformation and dataset generation.
#[derive(Debug, thiserror::Error)]
pub enum PhantomError {
    /// A core operation (grid, memory cap, geometry) failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An image operation (resampling, filtering) failed.
    #[error(transparent)]
    Imgproc(#[from] hounsfield_imgproc::ImgprocError),
    /// A parameter outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name as the user sees it.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An intensity table does not cover every label of the scene being rendered.
    #[error("intensity table {index} has {len} entries but the scene uses label {max_label}")]
    RenderTable {
        /// Which table (0-based).
        index: usize,
        /// Entries in the table.
        len: usize,
        /// Largest label in the scene.
        max_label: u16,
    },
    /// Random placement of nodules or a lesion found no free spot inside the organ.
    #[error("could not place {what}: no free position found after {attempts} attempts")]
    Place {
        /// What was being placed (e.g. `nodule 3 (22.0 mm)`).
        what: String,
        /// Attempts made.
        attempts: usize,
    },
    /// The dataset writer callback failed for a file.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file, relative to the dataset folder.
        path: std::path::PathBuf,
        /// The writer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The manifest could not be serialized.
    #[error("cannot serialize the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
}

/// Shorthand for an [`PhantomError::InvalidParameter`].
pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> PhantomError {
    PhantomError::InvalidParameter { name, reason: reason.into() }
}
