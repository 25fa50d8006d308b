//! NIfTI-1 and NIfTI-2 (read), NIfTI-1 (write), `.nii` and `.nii.gz`. (Stub: to be written.)

use std::path::Path;

use hounsfield_core::AnyVolume;

/// Errors reading or writing NIfTI.
#[derive(Debug, thiserror::Error)]
pub enum NiftiError {
    /// Placeholder until the reader exists.
    #[error("NIfTI support is not implemented yet")]
    Unimplemented,
}

/// Reads a `.nii` / `.nii.gz` file into a volume in LPS.
pub fn read(_path: &Path) -> Result<AnyVolume, NiftiError> {
    Err(NiftiError::Unimplemented)
}

/// Parses a NIfTI file held in memory (plain or gzip-compressed).
pub fn read_from_bytes(_bytes: &[u8]) -> Result<AnyVolume, NiftiError> {
    Err(NiftiError::Unimplemented)
}

/// Writes a volume as NIfTI-1 (`.nii.gz` compresses).
pub fn write(_path: &Path, _volume: &AnyVolume) -> Result<(), NiftiError> {
    Err(NiftiError::Unimplemented)
}
