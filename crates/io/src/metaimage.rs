//! MetaImage, `.mha` and `.mhd` + raw, plain or zlib-compressed. (Stub: to be written.)

use std::path::Path;

use hounsfield_core::AnyVolume;

/// Errors reading or writing MetaImage.
#[derive(Debug, thiserror::Error)]
pub enum MetaImageError {
    /// Placeholder until the reader exists.
    #[error("MetaImage support is not implemented yet")]
    Unimplemented,
}

/// Reads a `.mha` / `.mhd` file into a volume in LPS.
pub fn read(_path: &Path) -> Result<AnyVolume, MetaImageError> {
    Err(MetaImageError::Unimplemented)
}

/// Parses a MetaImage file held in memory (plain or gzip-compressed).
pub fn read_from_bytes(_bytes: &[u8]) -> Result<AnyVolume, MetaImageError> {
    Err(MetaImageError::Unimplemented)
}

/// Writes a volume as MetaImage.
pub fn write(_path: &Path, _volume: &AnyVolume) -> Result<(), MetaImageError> {
    Err(MetaImageError::Unimplemented)
}
