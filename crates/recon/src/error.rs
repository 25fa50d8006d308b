//! The crate's error type.

use hounsfield_core::CoreError;

/// Why a reconstruction, projection or simulation could not be done. Messages are lowercase
/// sentences; every variant names the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconError {
    /// A core type refused the request (memory cap, bad dimensions, grid mismatch).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A scan geometry file could not be parsed as TOML or has unknown keys.
    #[error("cannot parse the scan geometry: {0}")]
    ParseGeometry(String),
    /// A scan geometry is not usable (non-finite or negative distances, empty angle list, …).
    #[error("invalid scan geometry: `{key}` {reason}")]
    InvalidGeometry {
        /// The TOML key at fault.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A sinogram's dimensions cannot match the scan geometry.
    #[error("sinogram of {dims:?} does not match the geometry, which implies {expected:?} (columns × views × rows)")]
    SinogramShape {
        /// The sinogram's dimensions.
        dims: [usize; 3],
        /// What the geometry implies.
        expected: [usize; 3],
    },
    /// A buffer handed to a projector has the wrong length.
    #[error("{what} buffer holds {len} values, the projector needs {expected}")]
    BufferLength {
        /// Which buffer (`"volume"`, `"sinogram"`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the projector needs.
        expected: usize,
    },
    /// A view index outside the scan.
    #[error("view {view} is outside the scan's {views} views")]
    ViewIndex {
        /// The view asked for.
        view: usize,
        /// Views in the scan.
        views: usize,
    },
    /// A method was asked for a geometry it does not handle (e.g. FDK on a parallel beam).
    #[error("{method} cannot reconstruct a {geometry} geometry: {hint}")]
    UnsupportedGeometry {
        /// The method.
        method: &'static str,
        /// The geometry kind.
        geometry: &'static str,
        /// What to use instead.
        hint: &'static str,
    },
    /// A parameter of a reconstruction or simulation is out of range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name as the user sees it.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Input data holds NaN or infinite values.
    #[error("{what} holds non-finite values (first at index {index})")]
    NonFiniteInput {
        /// Which input.
        what: &'static str,
        /// Linear index of the first bad value.
        index: usize,
    },
    /// The caller's projection source failed while streaming projections into FDK.
    #[error("cannot read projection {view}: {reason}")]
    ReadProjection {
        /// The view being read.
        view: usize,
        /// The source's message.
        reason: String,
    },
    /// An image metric could not be computed.
    #[error("cannot compute image metrics: {0}")]
    Metrics(String),
}

/// Shorthand for [`ReconError::InvalidParameter`].
pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> ReconError {
    ReconError::InvalidParameter { name, reason: reason.into() }
}

/// Fails with [`ReconError::NonFiniteInput`] at the first NaN or infinity.
pub(crate) fn check_finite(what: &'static str, data: &[f32]) -> Result<(), ReconError> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ReconError::NonFiniteInput { what, index }),
        None => Ok(()),
    }
}
