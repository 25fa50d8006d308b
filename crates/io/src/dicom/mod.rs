//! DICOM: scan folders into series, read series and single files into volumes with patient
//! geometry, write volumes as DICOM series.
//!
//! [`scan`] reads every file under a folder up to its pixel data (in parallel), skips
//! non-DICOM files and DICOMDIRs, and groups the rest by SeriesInstanceUID into
//! [`SeriesInfo`]s; [`select_series`] picks one; [`read_series`] turns it into a
//! [`DicomVolume`]. [`read_file`] reads one file (2-D, or multi-frame as a volume).
//! [`write_series`] writes a volume as one file per slice.
//!
//! ```no_run
//! use hounsfield_io::dicom::{read_series, scan, select_series, DicomReadOptions};
//!
//! let dir = std::path::Path::new("ct_series/");
//! let series = scan(dir)?;
//! let ct = read_series(select_series(&series, None, dir)?, &DicomReadOptions::default())?;
//! println!("{} {:?} {:?}", ct.modality, ct.volume.dims(), ct.volume.geometry().spacing);
//! # Ok::<(), hounsfield_io::dicom::DicomError>(())
//! ```
//!
//! # Reading
//!
//! **Geometry** (PS3.3 C.7.6.2): the frames are sorted by ImagePositionPatient · n, where
//! n = row cosine × column cosine of ImageOrientationPatient. The origin is the position
//! of the first sorted frame, the direction columns are the row cosine, the column cosine
//! and n, the spacing is (PixelSpacing\[1\], PixelSpacing\[0\], slice gap). The slice gap
//! is (last − first position along n) / (frames − 1). Frames without position (CR, DX,
//! US, SC, NM and multi-frame secondary captures) are stacked in InstanceNumber/frame
//! order with origin 0, identity direction (unless ImageOrientationPatient is given) and a
//! slice gap of SpacingBetweenSlices, else SliceThickness, else 1 mm; the in-plane spacing
//! is PixelSpacing, else ImagerPixelSpacing, else 1 mm. Enhanced multi-frame files take
//! position, orientation, pixel measures and rescale per frame from the Per-frame and
//! Shared Functional Groups (PS3.3 C.7.6.16); NM multi-frame files from the Detector
//! Information Sequence plus SpacingBetweenSlices; RT dose from GridFrameOffsetVector.
//!
//! **Checks**, each a typed error naming the fix: differing Rows/Columns
//! ([`DicomError::MixedSize`]), orientations differing by more than 1e-4 in any cosine
//! ([`DicomError::MixedOrientation`]), pixel spacings differing by more than 1e-4
//! (relative, [`DicomError::MixedPixelSpacing`]), two frames within 0.001 mm along n
//! ([`DicomError::DuplicatePosition`]), positions drifting sideways by more than 1/20 of a
//! pixel (gantry tilt, [`DicomError::GantryTilt`], or resampled with
//! [`TiltPolicy::Resample`]), gaps differing from the median gap by more than 2 % (at
//! least 0.01 mm) ([`DicomError::MissingSlices`] when the gap is a whole multiple,
//! [`DicomError::UnevenSpacing`] otherwise, or resampled with [`SpacingPolicy::Resample`]).
//!
//! **Values**: stored values are masked to BitsStored below HighBit and sign-extended
//! (PS3.5 8.1.1; 12-bit signed data included), then MONOCHROME1 is inverted within the
//! stored range (unsigned `2^BitsStored − 1 − v`, signed `−1 − v`) so that higher is
//! brighter as in MONOCHROME2, then the Modality LUT Sequence is applied when present, else
//! RescaleSlope/RescaleIntercept (CT values become Hounsfield units; RT dose without a
//! rescale uses DoseGridScaling as the slope, giving dose in DoseUnits where GDCM and
//! pydicom keep the stored integers). PixelPaddingValue is left as
//! it is (padding voxels keep their rescaled value, typically far below air; mask them with
//! the value if needed). The volume is `int16` when every slope and intercept is an
//! integer and the rescaled values fit (checked from BitsStored, or from the data when the
//! declared range does not fit), else `float32`. RGB and palette-colour images become
//! luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, `float32`, in the samples' own
//! range); YBR_FULL(_422) keeps its Y. Float pixel data is read as `float32`. A resampled
//! volume (tilt or spacing policy) is `float32`.
//!
//! | transfer syntax | decoded by |
//! |---|---|
//! | Implicit VR LE, Explicit VR LE/BE, Deflated Explicit VR LE | here (native samples read in place) |
//! | files without preamble or file meta group | here (encoding guessed from the first element) |
//! | RLE Lossless (8/16/32-bit, any samples) | here |
//! | JPEG Baseline, Extended 8-bit, Lossless (14, 14 SV1) | jpeg-decoder via dicom-rs |
//! | JPEG 2000 (lossless and lossy, Part 2) | openjp2 (pure Rust) via dicom-rs |
//! | JPEG-LS lossless / near-lossless | CharLS via dicom-rs, cargo feature `jpegls` (needs `cmake`) |
//! | 12-bit lossy JPEG (Extended, process 4), JPEG XL, HTJ2K, video | [`DicomError::UnsupportedPixels`] / [`DicomError::UnsupportedTransferSyntax`] |
//!
//! Files are checked byte by byte before dicom-rs parses them (see the `parse` module):
//! every declared length must fit the file, sequences nest at most 32 deep, and anything
//! after the pixel data (trailing padding) is ignored. Declared image sizes are checked
//! against the memory cap before anything is allocated.
//!
//! # Writing
//!
//! [`write_series`] writes `IM0001.dcm`, … (one file per slice, Explicit VR Little
//! Endian) into a new folder, atomically (a temporary folder renamed at the end, so a
//! failure leaves nothing). The SOP class is CT Image Storage for modality CT, MR Image
//! Storage for MR, else Secondary Capture (modality OT by default). Geometry is written as
//! ImagePositionPatient per slice, ImageOrientationPatient, PixelSpacing, SliceThickness
//! and SpacingBetweenSlices, each number with the 16 characters DS allows (≥ 11
//! significant digits). Voxels are stored as 16-bit: integers in −32768..=32767 as int16
//! unchanged; other integers spanning at most 65536 values as uint16 with an integer
//! intercept (exact); anything else as uint16 with slope (max − min)/65535 and intercept
//! min, so the error is at most half a slope. UIDs are `2.25.<random UUID as decimal>`
//! (PS3.5 B.2). With [`DicomWriteOptions::reference`], patient and study attributes,
//! StudyInstanceUID and FrameOfReferenceUID are copied from the reference series (a new
//! series in the same study). A volume whose third axis is not perpendicular to its
//! slices, or with non-finite voxels, is refused ([`DicomError::WriteVolume`]). A
//! left-handed grid (third axis = −n) is written as it is; reading it back sorts the
//! slices along +n, so it comes back flipped along k with the same world positions.

mod error;
pub(crate) mod header;
pub(crate) mod parse;
mod pixels;
mod scan;
mod series;
pub(crate) mod write;

use std::path::{Path, PathBuf};

use hounsfield_core::AnyVolume;

pub use error::DicomError;

/// One series found by [`scan`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesInfo {
    /// SeriesInstanceUID (0020,000E).
    pub series_uid: String,
    /// Modality (0008,0060), e.g. `CT`.
    pub modality: String,
    /// SeriesDescription (0008,103E), possibly empty.
    pub description: String,
    /// StudyInstanceUID (0020,000D), possibly empty.
    pub study_uid: String,
    /// PatientID (0010,0020), **masked** for listings: first and last character kept, the
    /// rest replaced by `*` (`"PAT12345"` → `"P******5"`).
    pub patient_id: String,
    /// Number of files (instances).
    pub instances: usize,
    /// Number of frames over all files (= instances for single-frame images).
    pub frames: u64,
    /// Rows (0028,0010) of the first image (0 for objects without pixel data).
    pub rows: u32,
    /// Columns (0028,0011) of the first image.
    pub cols: u32,
    /// The files of the series, in InstanceNumber order (then by path).
    pub files: Vec<PathBuf>,
}

/// What to do when the slices of a series are stacked along a direction tilted from the
/// slice normal (CT gantry tilt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TiltPolicy {
    /// Refuse with [`DicomError::GantryTilt`]: a tilted stack is not a regular grid, and
    /// reading it as one would shear the anatomy.
    #[default]
    Error,
    /// Resample every slice in-plane (bilinear) onto a grid whose third axis is the slice
    /// normal; voxels outside the acquired field take the lowest value of the series. The
    /// volume is `float32`.
    Resample,
}

/// What to do when slices are missing or unevenly spaced along the normal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpacingPolicy {
    /// Refuse with [`DicomError::MissingSlices`] or [`DicomError::UnevenSpacing`]: a gap
    /// is regular when it differs from the median gap by at most 2 % of it (and at least
    /// 0.01 mm, the rounding of positions written with two decimals).
    #[default]
    Error,
    /// Interpolate linearly along the normal onto a uniform grid from the first to the last
    /// slice with about the median gap. The volume is `float32`.
    Resample,
}

/// Options for reading a series.
#[derive(Clone, Debug, Default)]
pub struct DicomReadOptions {
    /// Gantry tilt handling (default: error).
    pub tilt: TiltPolicy,
    /// Missing or uneven slice handling (default: error).
    pub spacing: SpacingPolicy,
}

/// Options for writing a series.
#[derive(Clone, Debug, Default)]
pub struct DicomWriteOptions {
    /// Modality to write (default: `OT`): `CT` writes CT Image Storage, `MR` MR Image
    /// Storage, anything else Secondary Capture.
    pub modality: Option<String>,
    /// SeriesDescription (0008,103E).
    pub series_description: Option<String>,
    /// A DICOM file or single-series folder whose patient and study attributes (and
    /// StudyInstanceUID, FrameOfReferenceUID) the new series copies.
    pub reference: Option<PathBuf>,
}

/// A volume read from DICOM with the metadata callers need.
#[derive(Clone, Debug)]
pub struct DicomVolume {
    /// The voxels (after rescale slope/intercept) and patient geometry.
    pub volume: AnyVolume,
    /// Modality (0008,0060).
    pub modality: String,
}

/// Scans `dir` recursively and groups DICOM files by SeriesInstanceUID. Files that are not
/// DICOM, DICOMDIRs and files without SeriesInstanceUID are skipped. Series are sorted by
/// StudyInstanceUID, SeriesNumber, SeriesInstanceUID. A path to a single file scans that
/// file.
pub fn scan(dir: &Path) -> Result<Vec<SeriesInfo>, DicomError> {
    scan::scan(dir)
}

/// Reads one series into a volume.
pub fn read_series(series: &SeriesInfo, options: &DicomReadOptions) -> Result<DicomVolume, DicomError> {
    use rayon::prelude::*;
    if series.files.is_empty() {
        return Err(DicomError::NoSeries { dir: PathBuf::new() });
    }
    // Fast path: uncompressed 16-bit series are read from disk straight into the volume,
    // after a header-only pass; anything else is read whole.
    let heads: Vec<parse::Parsed> = series
        .files
        .par_iter()
        .map(|p| parse::parse_path(p, parse::Depth::Header))
        .collect::<Result<_, _>>()?;
    if heads.iter().all(|p| matches!(&p.pixel, Some(parse::PixelLoc::Native { .. }))) {
        let files: Vec<header::ImageFile> =
            heads.into_iter().map(header::image_file).collect::<Result<_, _>>()?;
        if let Some(v) = series::assemble_direct(&files, options)? {
            return Ok(v);
        }
    }
    let files: Vec<header::ImageFile> = series
        .files
        .par_iter()
        .map(|p| parse::parse_path(p, parse::Depth::Full).and_then(header::image_file))
        .collect::<Result<_, _>>()?;
    series::assemble(&files, options)
}

/// Reads a single DICOM file (single- or multi-frame) into a volume.
pub fn read_file(path: &Path, options: &DicomReadOptions) -> Result<DicomVolume, DicomError> {
    let file = header::image_file(parse::parse_path(path, parse::Depth::Full)?)?;
    series::assemble(std::slice::from_ref(&file), options)
}

/// Writes `volume` as a DICOM series into directory `dir` (which must not exist or be
/// empty).
pub fn write_series(dir: &Path, volume: &AnyVolume, options: &DicomWriteOptions) -> Result<(), DicomError> {
    write::write_series(dir, volume, options)
}

/// Picks the series to read from a scan: the one named by `uid`, or the only one. Several
/// series without a `uid` is an error that lists them.
pub fn select_series<'a>(
    series: &'a [SeriesInfo],
    uid: Option<&str>,
    dir: &Path,
) -> Result<&'a SeriesInfo, DicomError> {
    scan::select(series, uid, dir)
}

/// Fuzzing entry point: splits `data` at each `FUZZSPLIT` marker into up to four in-memory
/// files, parses each header-only (whole and from a prefix, as [`scan`] does) and reads them
/// as one series. Never panics on any input.
#[doc(hidden)]
pub fn fuzz_read_series_from_bytes(data: &[u8]) -> Result<DicomVolume, DicomError> {
    const MARK: &[u8] = b"FUZZSPLIT";
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < 3 {
        match rest.windows(MARK.len()).position(|w| w == MARK) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + MARK.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    // The header-only paths `scan` takes: the whole file, and a prefix of it.
    for p in &parts {
        let label = PathBuf::from("fuzz-input");
        let _ = parse::parse_bytes(label.clone(), p.to_vec(), parse::Depth::Header);
        let _ = parse::parse_prefix(&label, &p[..p.len().min(64 + p.len() / 2)], p.len() as u64);
    }
    let files: Vec<header::ImageFile> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            parse::parse_bytes(PathBuf::from(format!("fuzz-input-{i}")), p.to_vec(), parse::Depth::Full)
                .and_then(header::image_file)
        })
        .collect::<Result<_, _>>()?;
    series::assemble(&files, &DicomReadOptions::default())
}
