//! DICOM: scan folders into series, read series and single files into volumes with patient
//! geometry, write volumes as DICOM series. (Stub: to be written.)

use std::path::{Path, PathBuf};

use hounsfield_core::AnyVolume;

/// Errors reading or writing DICOM.
#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    /// Placeholder until the reader exists.
    #[error("DICOM support is not implemented yet")]
    Unimplemented,
}

/// One series found by [`scan`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesInfo {
    /// SeriesInstanceUID (0020,000E).
    pub series_uid: String,
    /// Modality (0008,0060), e.g. `CT`.
    pub modality: String,
    /// SeriesDescription (0008,103E), possibly empty.
    pub description: String,
    /// The files of the series.
    pub files: Vec<PathBuf>,
}

/// Options for reading a series.
#[derive(Clone, Debug, Default)]
pub struct DicomReadOptions {}

/// Options for writing a series.
#[derive(Clone, Debug, Default)]
pub struct DicomWriteOptions {
    /// Modality to write (default: `OT`).
    pub modality: Option<String>,
}

/// A volume read from DICOM with the metadata callers need.
#[derive(Clone, Debug)]
pub struct DicomVolume {
    /// The voxels (after rescale slope/intercept) and patient geometry.
    pub volume: AnyVolume,
    /// Modality (0008,0060).
    pub modality: String,
}

/// Scans `dir` recursively and groups DICOM files by SeriesInstanceUID.
pub fn scan(_dir: &Path) -> Result<Vec<SeriesInfo>, DicomError> {
    Err(DicomError::Unimplemented)
}

/// Reads one series into a volume.
pub fn read_series(_series: &SeriesInfo, _options: &DicomReadOptions) -> Result<DicomVolume, DicomError> {
    Err(DicomError::Unimplemented)
}

/// Reads a single DICOM file (single- or multi-frame) into a volume.
pub fn read_file(_path: &Path, _options: &DicomReadOptions) -> Result<DicomVolume, DicomError> {
    Err(DicomError::Unimplemented)
}

/// Writes `volume` as a DICOM series into directory `dir`.
pub fn write_series(
    _dir: &Path,
    _volume: &AnyVolume,
    _options: &DicomWriteOptions,
) -> Result<(), DicomError> {
    Err(DicomError::Unimplemented)
}

/// Picks the series to read from a scan: the one named by `uid`, or the only one. Several
/// series without a `uid` is an error that lists them.
pub fn select_series<'a>(
    _series: &'a [SeriesInfo],
    _uid: Option<&str>,
    _dir: &Path,
) -> Result<&'a SeriesInfo, DicomError> {
    Err(DicomError::Unimplemented)
}

/// Fuzzing entry point: splits `data` at each `FUZZSPLIT` marker into up to four in-memory
/// files and reads them as one series. Never panics on any input.
#[doc(hidden)]
pub fn fuzz_read_series_from_bytes(_data: &[u8]) -> Result<DicomVolume, DicomError> {
    Err(DicomError::Unimplemented)
}
