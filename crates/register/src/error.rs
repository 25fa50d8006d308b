//! The error type of every registration operation.

use std::path::PathBuf;

use hounsfield_core::CoreError;
use hounsfield_imgproc::ImgprocError;
use hounsfield_io::itk_transform::ItkTransformError;
use hounsfield_io::nifti::NiftiError;
use hounsfield_metrics::MetricsError;

/// Why a registration, a transform operation or a quality measurement failed. Variants are
/// named after the failed operation and carry what is needed to fix the input.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A core-type failure: dimensions, memory cap, geometry, grid mismatch.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An image operation (smoothing, resampling) failed.
    #[error(transparent)]
    Imgproc(#[from] ImgprocError),
    /// A quality metric could not be computed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// After initialization (or during optimization) too few fixed-image samples map inside
    /// the moving image (and its mask) to measure similarity.
    #[error(
        "no overlap between the fixed and moving images {when}: {valid} of {total} samples map inside \
         the moving image (at least {required} needed); check the images' origins and directions or \
         initialize with --init geometry/moments"
    )]
    NoOverlap {
        /// When it was detected (e.g. "after initialization", "at level 2, iteration 31").
        when: String,
        /// Samples that map inside.
        valid: usize,
        /// Samples tried.
        total: usize,
        /// The minimum needed.
        required: usize,
    },
    /// A mask has no foreground voxel (on the image's grid, after resampling to it).
    #[error("the {which} mask has no foreground voxel{detail}")]
    EmptyMask {
        /// `"fixed"` or `"moving"`.
        which: &'static str,
        /// Extra context (e.g. " inside the fixed image").
        detail: String,
    },
    /// An image's geometry cannot be registered (singular or non-finite direction or spacing,
    /// a 2-D image whose plane is not the world x–y plane, 2-D mixed with 3-D).
    #[error("registration geometry: {which}: {reason}")]
    Geometry {
        /// Which image or field (`"fixed image"`, `"moving image"`, …).
        which: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A transform file names a type this crate does not implement.
    #[error(
        "unknown transform type `{type_name}` (supported: Translation, Euler2D/3D, VersorRigid3D, \
         Similarity2D/3D, Affine, MatrixOffsetTransformBase, BSpline, Identity, Composite){}",
        .path.as_ref().map(|p| format!(": {}", p.display())).unwrap_or_default()
    )]
    UnknownTransformType {
        /// The type name as written.
        type_name: String,
        /// The file, when read from one.
        path: Option<PathBuf>,
    },
    /// A transform's parameters are inconsistent with its type (count, grid size, a versor
    /// of norm ≥ 1, a singular matrix).
    #[error("transform `{type_name}`: {reason}")]
    TransformParameters {
        /// The type (ITK name or ours).
        type_name: String,
        /// What is wrong.
        reason: String,
    },
    /// A transform cannot be stored in the requested form (e.g. a dense field in an ITK text
    /// file).
    #[error("cannot export transform: {reason}")]
    ExportTransform {
        /// What is wrong and what to do instead.
        reason: String,
    },
    /// Reading or writing an ITK transform file failed.
    #[error(transparent)]
    TransformFile(#[from] ItkTransformError),
    /// Reading or writing a displacement field (NIfTI) failed.
    #[error(transparent)]
    FieldFile(#[from] NiftiError),
    /// An option is out of range.
    #[error("invalid registration option `{name}`: {reason}")]
    InvalidOption {
        /// The option as the user names it.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The optimizer produced a non-finite value (a diverging step or a degenerate image).
    #[error("optimization diverged {when}: {reason}")]
    Diverged {
        /// Where (stage, level, iteration).
        when: String,
        /// What became non-finite.
        reason: String,
    },
    /// Point sets (landmarks) that cannot be used.
    #[error("landmarks: {reason}")]
    Landmarks {
        /// What is wrong.
        reason: String,
    },
    /// The fixed image has no intensity variation where it is sampled (nothing to register).
    #[error("the {which} image is constant where it is sampled (value {value}); nothing to register")]
    ConstantImage {
        /// `"fixed"` or `"moving"`.
        which: &'static str,
        /// The constant value.
        value: f64,
    },
}

/// Shorthand for an [`RegisterError::InvalidOption`].
pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> RegisterError {
    RegisterError::InvalidOption { name, reason: reason.into() }
}

/// Shorthand for a [`RegisterError::TransformParameters`].
pub(crate) fn bad_params(type_name: impl Into<String>, reason: impl Into<String>) -> RegisterError {
    RegisterError::TransformParameters { type_name: type_name.into(), reason: reason.into() }
}
