//! [`DicomError`]: every way reading or writing DICOM can fail. Each message names the
//! problem and, where there is one, the fix; the path comes last.

use std::io;
use std::path::PathBuf;

use hounsfield_core::CoreError;

/// Errors reading or writing DICOM.
#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    /// A file or folder could not be read from disk.
    #[error("cannot read: {source}: {}", .path.display())]
    ReadFile {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not DICOM: no `DICM` magic after the 128-byte preamble (or at the start),
    /// and no data set that starts like one.
    #[error("not a DICOM file (no DICM magic and no recognisable data set): {}", .path.display())]
    NotDicom {
        /// The file.
        path: PathBuf,
    },
    /// The byte structure is broken: a length runs past the end of the file (truncated
    /// file), an item or delimiter is missing, sequences nest absurdly deep.
    #[error("malformed DICOM at byte {offset}: {reason}: {}", .path.display())]
    Malformed {
        /// Byte offset (in the data set, after any inflation) where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// dicom-rs could not decode the attributes of a structurally sound data set.
    #[error("cannot parse DICOM attributes: {source}: {}", .path.display())]
    ParseDataset {
        /// The parser's error.
        source: Box<dicom_object::ReadError>,
        /// The file.
        path: PathBuf,
    },
    /// The transfer syntax's pixel data cannot be decoded by this build.
    #[error("transfer syntax {name} ({uid}) is not supported{}: {}",
        .feature.map(|f| format!("; rebuild hounsfield-io with cargo feature `{f}`")).unwrap_or_default(),
        .path.display())]
    UnsupportedTransferSyntax {
        /// Transfer Syntax UID (0002,0010).
        uid: String,
        /// Its name, when known.
        name: String,
        /// The cargo feature of `hounsfield-io` that adds a decoder, if one exists.
        feature: Option<&'static str>,
        /// The file.
        path: PathBuf,
    },
    /// An attribute the image needs is absent.
    #[error("missing attribute {name}: {}", .path.display())]
    MissingAttribute {
        /// Keyword and tag, e.g. `Rows (0028,0010)`.
        name: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// An attribute has a value that cannot be used.
    #[error("invalid attribute {name} = {value:?}: {reason}: {}", .path.display())]
    InvalidAttribute {
        /// Keyword and tag.
        name: &'static str,
        /// The value as found.
        value: String,
        /// Why it cannot be used.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The object holds no image (RT plan, structured report, …).
    #[error("no pixel data in this DICOM object (SOP class {sop_class}): {}", .path.display())]
    NoPixelData {
        /// SOP Class UID, or `unknown`.
        sop_class: String,
        /// The file.
        path: PathBuf,
    },
    /// The native pixel data is shorter than Rows × Columns × frames × samples × bits.
    #[error("pixel data holds {actual} bytes but the image attributes need {expected} (truncated file?): {}", .path.display())]
    PixelDataLength {
        /// Bytes the attributes imply.
        expected: u64,
        /// Bytes present.
        actual: u64,
        /// The file.
        path: PathBuf,
    },
    /// A compressed frame could not be decoded.
    #[error("cannot decode frame {frame} ({transfer_syntax}): {reason}: {}", .path.display())]
    DecodeFrame {
        /// 0-based frame number.
        frame: u32,
        /// Transfer syntax name.
        transfer_syntax: String,
        /// The codec's message.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// A pixel layout no reader here handles (e.g. 12-bit lossy JPEG, segmented palettes).
    #[error("unsupported pixel data: {what}: {}", .path.display())]
    UnsupportedPixels {
        /// What, and what would help.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The folder holds no DICOM image series.
    #[error("no DICOM series found (non-DICOM files and DICOMDIR are skipped): {}", .dir.display())]
    NoSeries {
        /// The folder scanned.
        dir: PathBuf,
    },
    /// Several series and no SeriesInstanceUID to choose one.
    #[error("{count} series found; choose one by its SeriesInstanceUID:\n{listing}\nin {}", .dir.display())]
    SeveralSeries {
        /// How many.
        count: usize,
        /// One line per series: UID, modality, images, description.
        listing: String,
        /// The folder scanned.
        dir: PathBuf,
    },
    /// The requested SeriesInstanceUID is not in the folder.
    #[error("series {uid} not found; the folder holds:\n{listing}\nin {}", .dir.display())]
    UnknownSeries {
        /// The UID asked for.
        uid: String,
        /// One line per series found.
        listing: String,
        /// The folder scanned.
        dir: PathBuf,
    },
    /// Images of one series differ in Rows/Columns.
    #[error("images of one series differ in size: {first} and {other} (rows × columns); read them separately: {}", .path.display())]
    MixedSize {
        /// Size of the first image, `rows×cols`.
        first: String,
        /// The differing size.
        other: String,
        /// The differing file.
        path: PathBuf,
    },
    /// Images of one series differ in ImageOrientationPatient.
    #[error("images of one series differ in orientation: {first} and {other} (ImageOrientationPatient); read them separately: {}", .path.display())]
    MixedOrientation {
        /// Orientation of the first image (six cosines).
        first: String,
        /// The differing orientation.
        other: String,
        /// The differing file.
        path: PathBuf,
    },
    /// Images of one series differ in PixelSpacing.
    #[error("images of one series differ in pixel spacing: {first:?} and {other:?} mm (PixelSpacing); read them separately: {}", .path.display())]
    MixedPixelSpacing {
        /// Spacing (row, column) of the first image.
        first: [f64; 2],
        /// The differing spacing.
        other: [f64; 2],
        /// The differing file.
        path: PathBuf,
    },
    /// Two images lie at the same position along the slice normal.
    #[error("two images at the same slice position {position:.4} mm (several echoes, phases or acquisitions in one series?); split the series: {} and {}", .first.display(), .second.display())]
    DuplicatePosition {
        /// Position along the normal (mm).
        position: f64,
        /// One image.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The slices are offset along a direction that is not the slice normal (gantry tilt).
    #[error("gantry tilt: slices are stacked {angle_deg:.3}° off the slice normal; set DicomReadOptions::tilt = TiltPolicy::Resample to resample onto a non-tilted grid: {}", .path.display())]
    GantryTilt {
        /// Angle between the stacking direction and the normal, degrees.
        angle_deg: f64,
        /// A file of the series.
        path: PathBuf,
    },
    /// One or more slices are missing: a gap is a multiple of the usual spacing.
    #[error("{missing} slice(s) missing: gap of {gap:.4} mm at {at:.4} mm where the spacing is {spacing:.4} mm; set DicomReadOptions::spacing = SpacingPolicy::Resample to interpolate onto a uniform grid: {}", .path.display())]
    MissingSlices {
        /// Slices missing in total.
        missing: usize,
        /// The largest gap (mm).
        gap: f64,
        /// Position (mm along the normal) where that gap starts.
        at: f64,
        /// The usual (median) spacing (mm).
        spacing: f64,
        /// A file of the series.
        path: PathBuf,
    },
    /// Slice spacing varies by more than the tolerance without whole slices missing.
    #[error("uneven slice spacing: gaps from {min:.4} to {max:.4} mm; set DicomReadOptions::spacing = SpacingPolicy::Resample to interpolate onto a uniform grid: {}", .path.display())]
    UnevenSpacing {
        /// Smallest gap (mm).
        min: f64,
        /// Largest gap (mm).
        max: f64,
        /// A file of the series.
        path: PathBuf,
    },
    /// A size over the memory cap, or a volume/geometry the core types refuse.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Writing the series failed (disk full, permissions, output folder not empty).
    #[error("cannot write DICOM series: {source}: {}", .path.display())]
    Write {
        /// The output folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The volume cannot be written as DICOM as it is (non-finite voxels, a direction
    /// whose third axis is not the slice normal, more than 2³¹ slices, …).
    #[error("cannot write this volume as DICOM: {reason}")]
    WriteVolume {
        /// What is wrong, and the fix.
        reason: String,
    },
    /// The reference series named in [`DicomWriteOptions`](super::DicomWriteOptions)
    /// could not be read.
    #[error("cannot use reference series: {source}")]
    ReferenceSeries {
        /// Why.
        source: Box<DicomError>,
    },
}

/// For [`crate::atomic::write_dir_atomic`]; the writer fills in the folder.
impl From<io::Error> for DicomError {
    fn from(source: io::Error) -> Self {
        DicomError::Write { path: PathBuf::new(), source }
    }
}
