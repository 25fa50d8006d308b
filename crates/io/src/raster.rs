//! PNG and JPEG 2-D images in (as depth-1 volumes, spacing 1), PNG out. (Stub: to be written.)

use std::path::Path;

use hounsfield_core::AnyVolume;

/// Errors reading or writing PNG/JPEG.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// Placeholder until the reader exists.
    #[error("PNG/JPEG support is not implemented yet")]
    Unimplemented,
}

/// Reads a PNG or JPEG as a depth-1 volume (RGB/RGBA read as luminance).
pub fn read(_path: &Path) -> Result<AnyVolume, RasterError> {
    Err(RasterError::Unimplemented)
}

/// Writes a depth-1 volume as a grey PNG (8-bit when the values fit 0..=255 integers,
/// otherwise 16-bit after rescaling).
pub fn write_png_volume(_path: &Path, _volume: &AnyVolume) -> Result<(), RasterError> {
    Err(RasterError::Unimplemented)
}
