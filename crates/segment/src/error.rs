//! The error type of `hounsfield-segment`.

use hounsfield_core::CoreError;
use hounsfield_imgproc::ImgprocError;
use hounsfield_register::RegisterError;

/// Why a segmentation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// Grids or allocation.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An image operation failed.
    #[error(transparent)]
    Imgproc(#[from] ImgprocError),
    /// Registering an atlas failed.
    #[error("registering atlas {atlas}: {source}")]
    Register {
        /// Index of the atlas (0-based).
        atlas: usize,
        /// The registration error.
        source: RegisterError,
    },
    /// A parameter outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The image holds nothing the method can segment.
    #[error("nothing to segment: {0}")]
    Empty(String),
}

pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> SegmentError {
    SegmentError::InvalidParameter { name, reason: reason.into() }
}
