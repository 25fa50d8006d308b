//! The error type of every operation in this crate.

use hounsfield_core::CoreError;

/// Why an image operation failed. Variants are named after the operation and carry the
/// offending parameters, so the message alone says what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImgprocError {
    /// A core-type failure: dimensions, memory cap, geometry, grid mismatch.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Resampling could not start (a degenerate output or input grid, an invalid spacing).
    #[error("resample: {reason}")]
    Resample {
        /// What is wrong.
        reason: String,
    },
    /// A filter parameter (Gaussian sigma, gradient pre-smoothing) is out of range.
    #[error("filter `{filter}`: {reason}")]
    Filter {
        /// Filter name (`"gaussian"`, `"gradient"`).
        filter: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An intensity operation got an unusable parameter or image (empty mask, zero spread).
    #[error("intensity `{operation}`: {reason}")]
    Intensity {
        /// Operation name (`"window"`, `"rescale"`, `"zscore"`, `"percentiles"`, `"histogram"`).
        operation: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A morphology parameter is out of range.
    #[error("morphology: {reason}")]
    Morphology {
        /// What is wrong.
        reason: String,
    },
    /// Connected-component labelling found more components than a `u16` label map holds.
    #[error(
        "connected components: {count} components do not fit in a u16 label map (at most 65535); \
         remove small components first"
    )]
    TooManyComponents {
        /// Number of components found.
        count: usize,
    },
    /// A distance transform needs an orthonormal direction matrix (distances along sheared
    /// axes are not separable).
    #[error("distance transform: {reason}")]
    Distance {
        /// What is wrong.
        reason: String,
    },
    /// Crop region outside the grid.
    #[error("crop: region start {start:?} size {size:?} does not fit in dimensions {dims:?}")]
    Crop {
        /// First voxel of the region.
        start: [usize; 3],
        /// Region size.
        size: [usize; 3],
        /// Dimensions of the image.
        dims: [usize; 3],
    },
    /// Axis order that is not a permutation of 0, 1, 2.
    #[error("permute: axis order {order:?} is not a permutation of [0, 1, 2]")]
    Permute {
        /// The order given.
        order: [usize; 3],
    },
    /// Slice index outside the grid.
    #[error("extract slice: index {index} along axis {axis} is outside 0..{len}")]
    ExtractSlice {
        /// Axis (0 = x, 1 = y, 2 = z).
        axis: usize,
        /// Requested index.
        index: usize,
        /// Extent along the axis.
        len: usize,
    },
    /// An orientation code that is not three letters, one from each of L/R, P/A, S/I.
    #[error(
        "reorient: `{code}` is not an orientation code (one letter from each of L/R, P/A, S/I, e.g. LPS)"
    )]
    Reorient {
        /// The code given.
        code: String,
    },
    /// Two images that must share a grid (image and mask) do not.
    #[error("{operation}: image and mask grids differ: {reason}")]
    MaskGrid {
        /// Operation name.
        operation: &'static str,
        /// How they differ.
        reason: String,
    },
}
