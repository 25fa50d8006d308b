//! NRRD, attached `.nrrd` and detached `.nhdr`. (Stub: to be written.)

use std::path::Path;

use hounsfield_core::AnyVolume;

/// Errors reading or writing NRRD.
#[derive(Debug, thiserror::Error)]
pub enum NrrdError {
    /// Placeholder until the reader exists.
    #[error("NRRD support is not implemented yet")]
    Unimplemented,
}

/// Reads a `.nrrd` / `.nhdr` file into a volume in LPS.
pub fn read(_path: &Path) -> Result<AnyVolume, NrrdError> {
    Err(NrrdError::Unimplemented)
}

/// Parses a NRRD file held in memory (plain or gzip-compressed).
pub fn read_from_bytes(_bytes: &[u8]) -> Result<AnyVolume, NrrdError> {
    Err(NrrdError::Unimplemented)
}

/// Writes a volume as NRRD.
pub fn write(_path: &Path, _volume: &AnyVolume) -> Result<(), NrrdError> {
    Err(NrrdError::Unimplemented)
}
