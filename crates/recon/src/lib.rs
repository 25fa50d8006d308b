//! Reconstruction: `ct` (projectors, FBP/FDK, iterative, DRR), `pet` (MLEM/OSEM), `mri` (FFT, sampling, coils, SENSE, compressed sensing), `us` (channel data, beamforming, B-mode).

pub mod ct;
pub mod error;
pub mod pet;

pub use error::ReconError;
