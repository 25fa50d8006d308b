//! DICOM Segmentation (SEG) output: a label map or a list of binary masks as one Enhanced
//! multi-frame Segmentation object (PS3.3 A.51, SOP class 1.2.840.10008.5.1.4.1.1.66.4),
//! which viewers (OHIF, 3D Slicer, …) and highdicom load over the source series.
//!
//! [`write_dicom_seg`] writes a [`LabelVolume`] (one segment per [`SegmentDescription`],
//! made of the voxels equal to its `label`); [`write_dicom_seg_masks`] writes one binary mask
//! per segment, so segments may overlap (a voxel in two segments). [`SourceSeries::read`]
//! reads what the SEG must reference from the DICOM series the segmentation was made on;
//! [`anatomy_code`] gives the SNOMED CT codes of the structures Hounsfield segments (table in
//! [`anatomy`]) and [`SegmentDescription::from_anatomy`] builds a description from them.
//!
//! ```no_run
//! use hounsfield_io::seg::{write_dicom_seg, SegWriteOptions, SegmentDescription, SourceSeries};
//! # fn labels() -> hounsfield_core::LabelVolume { unimplemented!() }
//! let source = SourceSeries::read("ct_series/".as_ref(), None)?;
//! let labels = labels(); // on the grid of the series, as read by `dicom::read_series`
//! let segments = vec![
//!     SegmentDescription::from_anatomy(9, "liver").unwrap(),
//!     SegmentDescription::from_anatomy(10, "spleen").unwrap(),
//! ];
//! write_dicom_seg("seg.dcm".as_ref(), &labels, Some(&source), &segments, &SegWriteOptions::default())?;
//! # Ok::<(), hounsfield_io::seg::SegError>(())
//! ```
//!
//! # What is written
//!
//! - **Pixels**: SegmentationType BINARY, BitsAllocated = BitsStored = 1, one frame per
//!   (segment, slice) that holds at least one voxel of the segment; empty frames are
//!   omitted. Frames are ordered by segment, then slice. Bits are packed LSB first and,
//!   as PS3.5 8.1.1 and 8.2 require for 1-bit data, frames follow each other without
//!   padding (a frame whose Rows × Columns is not a multiple of 8 starts mid-byte, as
//!   highdicom writes and reads them); the whole value is padded to even length. If every
//!   segment is empty one empty frame of segment 1 is written (NumberOfFrames must be ≥ 1).
//! - **Segments** (Segment Sequence): SegmentNumber 1, 2, … in the order given,
//!   SegmentLabel, SegmentAlgorithmType and, unless MANUAL, SegmentAlgorithmName and a
//!   Segmentation Algorithm Identification Sequence (family DCM 123110 "Artificial
//!   Intelligence" for automatic, 123109 "Manual Processing" for semi-automatic),
//!   Segmented Property Category/Type Code Sequences (with the type modifier inside the type
//!   item), RecommendedDisplayCIELabValue (sRGB → CIELab D65 scaled to 0…65535, the
//!   conversion pixelmed and highdicom use); SegmentsOverlap YES/NO.
//! - **Geometry**: Shared Functional Groups with Plane Orientation (row cosine = index axis
//!   0, column cosine = index axis 1) and Pixel Measures (PixelSpacing, SliceThickness and
//!   SpacingBetweenSlices = spacing along axis 2); per frame Plane Position
//!   (ImagePositionPatient of the slice), Frame Content (DimensionIndexValues = segment
//!   number, slice index + 1) and Segment Identification (ReferencedSegmentNumber). The
//!   Dimension Organization has two indices, ReferencedSegmentNumber and
//!   ImagePositionPatient, as highdicom writes. The grid's third axis must be perpendicular
//!   to its slices (as for [`crate::dicom::write_series`]).
//! - **References** (with a [`SourceSeries`]): per frame a Derivation Image Sequence
//!   (derivation DCM 113076 "Segmentation") whose Source Image Sequence names the source
//!   SOP instance of that slice (and its frame number for a multi-frame source), purpose
//!   DCM 121322, SpatialLocationsPreserved YES; a Referenced Series Sequence listing every source instance; the source's
//!   StudyInstanceUID, FrameOfReferenceUID, patient and study attributes. The label grid
//!   must be the source's grid (same rows, columns, orientation, pixel spacing, and a source
//!   frame at every slice position within 1/20 of the slice spacing), else
//!   [`SegError::SourceGrid`].
//! - **Without a source** (e.g. a segmentation of a NIfTI image): a valid SEG in a new
//!   study with a generated StudyInstanceUID and FrameOfReferenceUID, empty patient
//!   attributes, the same geometry, and no Derivation Image or Referenced Series
//!   Sequences. Viewers place it by its geometry alone; it cannot be matched to any other
//!   series.
//! - New SeriesInstanceUID and SOPInstanceUID (`2.25.` UUIDs), Modality SEG, Explicit VR
//!   Little Endian, uncompressed; the file is written atomically ([`crate::atomic`]).

pub mod anatomy;
mod encode;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use hounsfield_core::{check_alloc, CoreError, Geometry, LabelVolume, Volume};
use rayon::prelude::*;

pub use anatomy::{anatomy_code, known_names, AnatomyCode};
use encode::DataSet;

use crate::dicom::{self, DicomError, SeriesInfo};

/// SOP Class UID of Segmentation Storage.
pub const SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";

/// A coded concept: (CodeValue, CodingSchemeDesignator, CodeMeaning) (PS3.3 8.8).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// CodeValue (0008,0100): at most 16 characters.
    pub value: String,
    /// CodingSchemeDesignator (0008,0102), e.g. `SCT` or `DCM`.
    pub scheme: String,
    /// CodeMeaning (0008,0104): at most 64 characters.
    pub meaning: String,
}

impl Code {
    /// A code in any scheme.
    pub fn new(value: &str, scheme: &str, meaning: &str) -> Code {
        Code { value: value.into(), scheme: scheme.into(), meaning: meaning.into() }
    }

    /// A SNOMED CT code (scheme `SCT`).
    pub fn sct(value: &str, meaning: &str) -> Code {
        Code::new(value, "SCT", meaning)
    }

    /// A DICOM code (scheme `DCM`).
    pub fn dcm(value: &str, meaning: &str) -> Code {
        Code::new(value, "DCM", meaning)
    }

    fn item(&self) -> DataSet {
        let mut d = DataSet::new();
        d.text(tags::CODE_VALUE, b"SH", &self.value);
        d.text(tags::CODING_SCHEME_DESIGNATOR, b"SH", &self.scheme);
        d.text(tags::CODE_MEANING, b"LO", &self.meaning);
        d
    }
}

/// How a segment was made (SegmentAlgorithmType, PS3.3 C.8.20.2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlgorithmType {
    /// Calculated by an algorithm without user input (thresholds, atlases, networks).
    #[default]
    Automatic,
    /// Calculated by an algorithm with user input (seeds, corrections).
    Semiautomatic,
    /// Drawn by hand.
    Manual,
}

impl AlgorithmType {
    fn keyword(self) -> &'static str {
        match self {
            AlgorithmType::Automatic => "AUTOMATIC",
            AlgorithmType::Semiautomatic => "SEMIAUTOMATIC",
            AlgorithmType::Manual => "MANUAL",
        }
    }
}

/// One segment: which voxels, what they are (coded), and how they were found.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentDescription {
    /// The label value in the label map whose voxels make the segment
    /// ([`write_dicom_seg`]); not used by [`write_dicom_seg_masks`], where the segment is the
    /// mask at the same position.
    pub label: u16,
    /// SegmentLabel (0062,0005): at most 64 characters, not empty.
    pub name: String,
    /// Segmented Property Category (CID 7150), e.g. Tissue or Anatomical Structure.
    pub category: Code,
    /// Segmented Property Type, e.g. SCT 10200004 Liver.
    pub property_type: Code,
    /// Segmented Property Type Modifier, e.g. laterality (SCT 24028007 Right).
    pub type_modifier: Option<Code>,
    /// SegmentAlgorithmType.
    pub algorithm_type: AlgorithmType,
    /// SegmentAlgorithmName (and the algorithm identification's AlgorithmName); required
    /// unless the type is [`AlgorithmType::Manual`]. At most 64 characters.
    pub algorithm_name: String,
    /// AlgorithmVersion of the algorithm identification (default: this crate's version).
    pub algorithm_version: String,
    /// Recommended display colour, sRGB 0–255 (written as CIELab).
    pub color: [u8; 3],
}

impl SegmentDescription {
    /// A segment of label `label` with the given codes, made automatically by
    /// "Hounsfield", shown in a colour picked from the label.
    pub fn new(label: u16, name: &str, category: Code, property_type: Code) -> SegmentDescription {
        const PALETTE: [[u8; 3]; 8] = [
            [230, 25, 75],
            [60, 180, 75],
            [255, 225, 25],
            [0, 130, 200],
            [245, 130, 48],
            [145, 30, 180],
            [70, 240, 240],
            [240, 50, 230],
        ];
        SegmentDescription {
            label,
            name: name.into(),
            category,
            property_type,
            type_modifier: None,
            algorithm_type: AlgorithmType::Automatic,
            algorithm_name: "Hounsfield".into(),
            algorithm_version: env!("CARGO_PKG_VERSION").into(),
            color: PALETTE[label as usize % PALETTE.len()],
        }
    }

    /// A segment of label `label` for a structure [`anatomy_code`] knows (its codes,
    /// laterality and colour; SegmentLabel = `name`), or `None` for an unknown name.
    pub fn from_anatomy(label: u16, name: &str) -> Option<SegmentDescription> {
        let a = anatomy_code(name)?;
        Some(SegmentDescription {
            type_modifier: a.modifier,
            color: a.color,
            ..SegmentDescription::new(label, name, a.category, a.property_type)
        })
    }

    /// Sets the algorithm (type and name), for chaining.
    pub fn with_algorithm(mut self, algorithm_type: AlgorithmType, name: &str) -> SegmentDescription {
        self.algorithm_type = algorithm_type;
        self.algorithm_name = name.into();
        self
    }
}

/// Options for [`write_dicom_seg`] and [`write_dicom_seg_masks`].
#[derive(Clone, Debug)]
pub struct SegWriteOptions {
    /// SeriesDescription (0008,103E). Default `"Segmentation"`.
    pub series_description: String,
    /// SeriesNumber (0020,0011). Default 300.
    pub series_number: u32,
    /// ContentLabel (0070,0080): a code string, upper case, digits, space and `_`, at most
    /// 16 characters. Default `"SEGMENTATION"`.
    pub content_label: String,
    /// ContentDescription (0070,0081). Default empty.
    pub content_description: String,
    /// ContentCreatorName (0070,0084), a person name. Default empty.
    pub content_creator: String,
}

impl Default for SegWriteOptions {
    fn default() -> Self {
        SegWriteOptions {
            series_description: "Segmentation".into(),
            series_number: 300,
            content_label: "SEGMENTATION".into(),
            content_description: String::new(),
            content_creator: String::new(),
        }
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq)]
pub struct SegSummary {
    /// SOPInstanceUID of the SEG.
    pub sop_instance_uid: String,
    /// SeriesInstanceUID of the SEG (a new series).
    pub series_instance_uid: String,
    /// StudyInstanceUID (the source's, or a new one).
    pub study_instance_uid: String,
    /// Frames written for each segment, in segment order (0 for an empty segment).
    pub frames_per_segment: Vec<usize>,
    /// Whether some voxel belongs to two segments (SegmentsOverlap YES).
    pub overlapping: bool,
    /// Whether the SEG references a source series.
    pub references_source: bool,
}

/// Errors writing a DICOM SEG.
#[derive(Debug, thiserror::Error)]
pub enum SegError {
    /// No segment descriptions were given.
    #[error("no segments to write; describe at least one segment")]
    NoSegments,
    /// A segment description cannot be written as it is.
    #[error("segment {index} ({name:?}): {reason}")]
    Segment {
        /// 0-based position in the list.
        index: usize,
        /// Its name.
        name: String,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// Two segments of a label map have the same label.
    #[error("segments {first} and {second} both describe label {label}; give each label one segment")]
    DuplicateLabel {
        /// The label.
        label: u16,
        /// 0-based index of the first segment.
        first: usize,
        /// 0-based index of the second.
        second: usize,
    },
    /// The masks do not match the segment list or each other.
    #[error("masks: {reason}")]
    Masks {
        /// What is wrong.
        reason: String,
    },
    /// A [`SegWriteOptions`] value cannot be written (too long, bad characters).
    #[error("SEG option {name}: {reason}")]
    Options {
        /// The option.
        name: &'static str,
        /// What is wrong, and the fix.
        reason: String,
    },
    /// The segmentation's grid cannot be written as a SEG (oblique third axis, too large).
    #[error("cannot write this segmentation grid as DICOM SEG: {reason}")]
    Grid {
        /// What is wrong, and the fix.
        reason: String,
    },
    /// The segmentation is not on the source series' grid.
    #[error("the segmentation is not on the grid of source series {series_uid}: {reason}; resample the labels onto the source image (nearest neighbour) first")]
    SourceGrid {
        /// The source SeriesInstanceUID.
        series_uid: String,
        /// How the grids differ.
        reason: String,
    },
    /// The source series could not be read or described.
    #[error("cannot use source series: {0}")]
    Source(#[from] DicomError),
    /// The source series lacks an attribute the SEG must copy.
    #[error("source series lacks {name}: {}", .path.display())]
    SourceAttribute {
        /// Keyword and tag.
        name: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A size over the memory cap, or an invalid geometry.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Writing the file failed.
    #[error("cannot write DICOM SEG: {source}: {}", .path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// One frame of the source series.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFrame {
    /// SOPClassUID of the instance holding the frame.
    pub sop_class_uid: String,
    /// SOPInstanceUID of that instance.
    pub sop_instance_uid: String,
    /// 1-based frame number in a multi-frame instance; `None` for single-frame instances.
    pub frame_number: Option<u32>,
    /// ImagePositionPatient of the frame (mm, LPS).
    pub position: [f64; 3],
}

/// What a SEG needs from the DICOM series it was made on: the UIDs to reference, the
/// geometry to check the segmentation against, and the patient and study attributes to
/// copy.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSeries {
    /// StudyInstanceUID.
    pub study_uid: String,
    /// SeriesInstanceUID.
    pub series_uid: String,
    /// FrameOfReferenceUID, when the series has one.
    pub frame_of_reference_uid: Option<String>,
    /// Rows of every frame.
    pub rows: u32,
    /// Columns of every frame.
    pub columns: u32,
    /// ImageOrientationPatient (row cosine, column cosine) of the first frame.
    pub orientation: [f64; 6],
    /// PixelSpacing (between rows, between columns), mm.
    pub pixel_spacing: [f64; 2],
    /// Every frame of the series.
    pub frames: Vec<SourceFrame>,
    /// SpecificCharacterSet of the first file.
    charset: Option<String>,
    /// Patient and study attributes copied into the SEG: (tag, VR, value).
    copied: Vec<(Tag, [u8; 2], String)>,
}

/// Patient (PS3.3 C.7.1.1) and study (C.7.2.1) attributes the SEG copies from its source.
const COPIED: [(Tag, [u8; 2]); 11] = [
    (tags::STUDY_DATE, *b"DA"),
    (tags::STUDY_TIME, *b"TM"),
    (tags::ACCESSION_NUMBER, *b"SH"),
    (tags::REFERRING_PHYSICIAN_NAME, *b"PN"),
    (tags::STUDY_DESCRIPTION, *b"LO"),
    (tags::PATIENT_NAME, *b"PN"),
    (tags::PATIENT_ID, *b"LO"),
    (tags::PATIENT_BIRTH_DATE, *b"DA"),
    (tags::PATIENT_SEX, *b"CS"),
    (tags::PATIENT_AGE, *b"AS"),
    (tags::STUDY_ID, *b"SH"),
];

impl SourceSeries {
    /// Reads the headers of the series at `path`: a folder (the series `series_uid`, or its
    /// only series) or one file. Pixel data is not decoded (compressed files are read whole
    /// to find their frames).
    pub fn read(path: &Path, series_uid: Option<&str>) -> Result<SourceSeries, SegError> {
        let all = dicom::scan(path)?;
        let series = dicom::select_series(&all, series_uid, path)?;
        Self::from_series(series)
    }

    /// Reads the headers of a series found by [`dicom::scan`].
    pub fn from_series(series: &SeriesInfo) -> Result<SourceSeries, SegError> {
        use dicom::header::{image_file, text};
        use dicom::parse::{parse_path, Depth};
        let files: Vec<dicom::header::ImageFile> = series
            .files
            .par_iter()
            .map(|p| {
                let head = parse_path(p, Depth::Header)?;
                let parsed = if head.pixel.is_some() { head } else { parse_path(p, Depth::Full)? };
                image_file(parsed)
            })
            .collect::<Result<_, DicomError>>()?;
        let first = files.first().ok_or_else(|| DicomError::NoSeries { dir: PathBuf::new() })?;
        let obj = &first.parsed.obj;
        let path = first.parsed.label.clone();
        let need = |tag: Tag, name: &'static str, obj: &dicom_object::InMemDicomObject, path: &Path| {
            text(obj, tag).ok_or_else(|| SegError::SourceAttribute { name, path: path.into() })
        };
        let study_uid = need(tags::STUDY_INSTANCE_UID, "StudyInstanceUID (0020,000D)", obj, &path)?;
        let series_uid = need(tags::SERIES_INSTANCE_UID, "SeriesInstanceUID (0020,000E)", obj, &path)?;
        let plane0 = first.planes.first();
        let orientation = plane0.and_then(|p| p.orientation).ok_or(SegError::SourceAttribute {
            name: "ImageOrientationPatient (0020,0037)",
            path: path.clone(),
        })?;
        let pixel_spacing = plane0
            .and_then(|p| p.spacing)
            .ok_or(SegError::SourceAttribute { name: "PixelSpacing (0028,0030)", path: path.clone() })?;
        let mut frames = Vec::new();
        for f in &files {
            let o = &f.parsed.obj;
            let p = &f.parsed.label;
            let sop_class_uid = need(tags::SOP_CLASS_UID, "SOPClassUID (0008,0016)", o, p)?;
            let sop_instance_uid = need(tags::SOP_INSTANCE_UID, "SOPInstanceUID (0008,0018)", o, p)?;
            let (rows, cols) = (f.fmt.rows as u32, f.fmt.cols as u32);
            if rows != first.fmt.rows as u32 || cols != first.fmt.cols as u32 {
                return Err(DicomError::MixedSize {
                    first: format!("{}×{}", first.fmt.rows, first.fmt.cols),
                    other: format!("{rows}×{cols}"),
                    path: p.clone(),
                }
                .into());
            }
            let multi = f.planes.len() > 1 || f.fmt.frames > 1;
            for (k, plane) in f.planes.iter().enumerate() {
                let position = plane.position.ok_or_else(|| SegError::SourceAttribute {
                    name: "ImagePositionPatient (0020,0032)",
                    path: p.clone(),
                })?;
                if let Some(or) = plane.orientation {
                    if or.iter().zip(&orientation).any(|(a, b)| (a - b).abs() > 1e-4) {
                        return Err(DicomError::MixedOrientation {
                            first: format!("{orientation:?}"),
                            other: format!("{or:?}"),
                            path: p.clone(),
                        }
                        .into());
                    }
                }
                frames.push(SourceFrame {
                    sop_class_uid: sop_class_uid.clone(),
                    sop_instance_uid: sop_instance_uid.clone(),
                    frame_number: multi.then_some(k as u32 + 1),
                    position,
                });
            }
        }
        let copied = COPIED.iter().filter_map(|&(tag, vr)| text(obj, tag).map(|v| (tag, vr, v))).collect();
        Ok(SourceSeries {
            study_uid,
            series_uid,
            frame_of_reference_uid: text(obj, tags::FRAME_OF_REFERENCE_UID),
            rows: first.fmt.rows as u32,
            columns: first.fmt.cols as u32,
            orientation,
            pixel_spacing,
            frames,
            charset: text(obj, tags::SPECIFIC_CHARACTER_SET),
            copied,
        })
    }

    /// For each slice of the grid, the index in `frames` of the source frame at its
    /// position; an error naming the first difference when the grid is not the source's.
    fn match_grid(&self, dims: [usize; 3], g: &Geometry) -> Result<Vec<usize>, SegError> {
        let err = |reason: String| SegError::SourceGrid { series_uid: self.series_uid.clone(), reason };
        if dims[0] != self.columns as usize || dims[1] != self.rows as usize {
            return Err(err(format!(
                "slices of {}×{} (rows × columns) where the source has {}×{}",
                dims[1], dims[0], self.rows, self.columns
            )));
        }
        let (r, c) = (g.axis_direction(0), g.axis_direction(1));
        let ours = [r[0], r[1], r[2], c[0], c[1], c[2]];
        if ours.iter().zip(&self.orientation).any(|(a, b)| (a - b).abs() > 1e-4) {
            return Err(err(format!("orientation {ours:?} where the source has {:?}", self.orientation)));
        }
        let spacing = [g.spacing[1], g.spacing[0]];
        if spacing.iter().zip(&self.pixel_spacing).any(|(a, b)| (a - b).abs() > 1e-4 * b.abs().max(1.0)) {
            return Err(err(format!(
                "pixel spacing {spacing:?} mm where the source has {:?} mm",
                self.pixel_spacing
            )));
        }
        // A twentieth of a voxel: the tolerance the reader uses for positions (gantry tilt).
        let tol = g.spacing.iter().copied().fold(f64::INFINITY, f64::min) / 20.0;
        (0..dims[2])
            .map(|z| {
                let p = g.index_to_world([0.0, 0.0, z as f64]);
                let (best, d) = self
                    .frames
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        (i, hounsfield_core::linalg::norm(hounsfield_core::linalg::sub(f.position, p)))
                    })
                    .fold((usize::MAX, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
                if d <= tol {
                    Ok(best)
                } else {
                    Err(err(format!(
                        "no source frame at slice {z} (position {p:?} mm; nearest is {d:.3} mm away)"
                    )))
                }
            })
            .collect()
    }
}

/// Where each segment's voxels are.
enum Input<'a> {
    Labels(&'a LabelVolume),
    Masks(&'a [Volume<u8>]),
}

impl Input<'_> {
    fn dims(&self) -> [usize; 3] {
        match self {
            Input::Labels(l) => l.dims(),
            Input::Masks(m) => m.first().map(|v| v.dims()).unwrap_or([0; 3]),
        }
    }

    fn geometry(&self) -> Geometry {
        match self {
            Input::Labels(l) => *l.geometry(),
            Input::Masks(m) => m.first().map(|v| *v.geometry()).unwrap_or_default(),
        }
    }
}

/// Writes `labels` as a DICOM SEG at `path`: segment *i* is the voxels equal to
/// `segments[i].label`. `source` is the DICOM series the labels were made on (they must be
/// on its grid), or `None` for a segmentation of a non-DICOM image (see the
/// [module docs](self)).
pub fn write_dicom_seg(
    path: &Path,
    labels: &LabelVolume,
    source: Option<&SourceSeries>,
    segments: &[SegmentDescription],
    options: &SegWriteOptions,
) -> Result<SegSummary, SegError> {
    let mut seen: HashMap<u16, usize> = HashMap::new();
    for (i, s) in segments.iter().enumerate() {
        if s.label == 0 {
            return Err(SegError::Segment {
                index: i,
                name: s.name.clone(),
                reason: "label 0 is background; a segment needs a non-zero label".into(),
            });
        }
        if let Some(&first) = seen.get(&s.label) {
            return Err(SegError::DuplicateLabel { label: s.label, first, second: i });
        }
        seen.insert(s.label, i);
    }
    write(path, Input::Labels(labels), source, segments, options)
}

/// Writes one binary mask per segment (`masks[i]` non-zero = in segment *i*, all on one
/// grid) as a DICOM SEG at `path`. Segments may overlap. See [`write_dicom_seg`].
pub fn write_dicom_seg_masks(
    path: &Path,
    masks: &[Volume<u8>],
    source: Option<&SourceSeries>,
    segments: &[SegmentDescription],
    options: &SegWriteOptions,
) -> Result<SegSummary, SegError> {
    if masks.len() != segments.len() {
        return Err(SegError::Masks {
            reason: format!(
                "{} masks for {} segment descriptions; give one mask per segment",
                masks.len(),
                segments.len()
            ),
        });
    }
    if let Some(first) = masks.first() {
        for (i, m) in masks.iter().enumerate().skip(1) {
            if !first.same_grid(m, 1e-4) {
                return Err(SegError::Masks {
                    reason: format!(
                        "mask {i} is not on the grid of mask 0 (dims {:?} vs {:?}, geometry {:?} vs {:?})",
                        m.dims(),
                        first.dims(),
                        m.geometry(),
                        first.geometry()
                    ),
                });
            }
        }
    }
    write(path, Input::Masks(masks), source, segments, options)
}

fn check_text(
    index: usize,
    s: &SegmentDescription,
    what: &str,
    value: &str,
    max: usize,
) -> Result<(), SegError> {
    if value.chars().count() > max || value.contains(['\\', '\0']) {
        return Err(SegError::Segment {
            index,
            name: s.name.clone(),
            reason: format!("{what} {value:?} must be at most {max} characters without backslashes"),
        });
    }
    Ok(())
}

fn check_segments(segments: &[SegmentDescription]) -> Result<(), SegError> {
    if segments.is_empty() {
        return Err(SegError::NoSegments);
    }
    if segments.len() > u16::MAX as usize {
        return Err(SegError::Segment {
            index: u16::MAX as usize,
            name: String::new(),
            reason: "a SEG holds at most 65535 segments".into(),
        });
    }
    for (i, s) in segments.iter().enumerate() {
        if s.name.trim().is_empty() {
            return Err(SegError::Segment {
                index: i,
                name: s.name.clone(),
                reason: "SegmentLabel is empty".into(),
            });
        }
        check_text(i, s, "SegmentLabel", &s.name, 64)?;
        if s.algorithm_type != AlgorithmType::Manual && s.algorithm_name.trim().is_empty() {
            return Err(SegError::Segment {
                index: i,
                name: s.name.clone(),
                reason: "SegmentAlgorithmName is required unless the algorithm type is MANUAL".into(),
            });
        }
        check_text(i, s, "SegmentAlgorithmName", &s.algorithm_name, 64)?;
        check_text(i, s, "AlgorithmVersion", &s.algorithm_version, 64)?;
        for code in
            [Some(&s.category), Some(&s.property_type), s.type_modifier.as_ref()].into_iter().flatten()
        {
            if code.value.is_empty() || code.scheme.is_empty() || code.meaning.is_empty() {
                return Err(SegError::Segment {
                    index: i,
                    name: s.name.clone(),
                    reason: format!("code {code:?} needs a value, a scheme and a meaning"),
                });
            }
            check_text(i, s, "CodeValue", &code.value, 16)?;
            check_text(i, s, "CodingSchemeDesignator", &code.scheme, 16)?;
            check_text(i, s, "CodeMeaning", &code.meaning, 64)?;
        }
    }
    Ok(())
}

fn check_options(o: &SegWriteOptions) -> Result<(), SegError> {
    let label = &o.content_label;
    if label.is_empty()
        || label.len() > 16
        || !label.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_')
    {
        return Err(SegError::Options {
            name: "content_label",
            reason: format!("{label:?} must be 1 to 16 upper-case letters, digits, spaces or _"),
        });
    }
    for (name, value) in [
        ("series_description", &o.series_description),
        ("content_description", &o.content_description),
        ("content_creator", &o.content_creator),
    ] {
        if value.chars().count() > 64 || value.contains(['\\', '\0']) {
            return Err(SegError::Options {
                name,
                reason: format!("{value:?} must be at most 64 characters without backslashes"),
            });
        }
    }
    if o.series_number > i32::MAX as u32 {
        return Err(SegError::Options {
            name: "series_number",
            reason: format!("{} exceeds 2^31 - 1", o.series_number),
        });
    }
    Ok(())
}

/// sRGB (0–255) → CIELab (D65 white) scaled to 0…65535 as RecommendedDisplayCIELabValue
/// (PS3.3 C.10.7.1.1), with the constants of pixelmed's ColorUtilities (as highdicom).
pub fn srgb_to_dicom_lab(rgb: [u8; 3]) -> [u16; 3] {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        100.0 * if c > 0.04045 { ((c + 0.055) / 1.055).powf(2.4) } else { c / 12.92 }
    };
    let (r, g, b) = (lin(rgb[0]), lin(rgb[1]), lin(rgb[2]));
    let x = (r * 0.4124 + g * 0.3576 + b * 0.1805) / 95.047;
    let y = (r * 0.2126 + g * 0.7152 + b * 0.0722) / 100.0;
    let z = (r * 0.0193 + g * 0.1192 + b * 0.9505) / 108.883;
    let f = |t: f64| if t >= 8.856_451_679_035_631e-3 { t.cbrt() } else { 841.0 / 108.0 * t + 4.0 / 29.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    let (l, a, bb) = (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz));
    let scale = |v: f64| v.round().clamp(0.0, 65535.0) as u16;
    [scale(l * 65535.0 / 100.0), scale((a + 128.0) * 65535.0 / 255.0), scale((bb + 128.0) * 65535.0 / 255.0)]
}

fn write(
    path: &Path,
    input: Input<'_>,
    source: Option<&SourceSeries>,
    segments: &[SegmentDescription],
    options: &SegWriteOptions,
) -> Result<SegSummary, SegError> {
    use crate::dicom::write::{ds, file_meta, new_uid, today};
    check_segments(segments)?;
    let dims = input.dims();
    let g = input.geometry();
    let [nx, ny, nz] = dims;
    g.validate()?;
    if nx == 0 || ny == 0 || nz == 0 {
        return Err(SegError::Grid { reason: format!("empty grid {dims:?}") });
    }
    if nx > u16::MAX as usize || ny > u16::MAX as usize {
        return Err(SegError::Grid {
            reason: format!("slices of {nx}×{ny} exceed DICOM's 65535 rows/columns"),
        });
    }
    if nz > u32::MAX as usize / 2 {
        return Err(SegError::Grid { reason: format!("{nz} slices") });
    }
    let (r, c, k) = (g.axis_direction(0), g.axis_direction(1), g.axis_direction(2));
    let n = hounsfield_core::linalg::cross(r, c);
    if hounsfield_core::linalg::dot(k, n).abs() < 1.0 - 1e-6 {
        return Err(SegError::Grid {
            reason:
                "the third axis is not perpendicular to the slices; resample onto an orthogonal grid first"
                    .into(),
        });
    }
    check_options(options)?;
    let source_frames = match source {
        Some(s) => Some(s.match_grid(dims, &g)?),
        None => None,
    };

    // Which (segment, slice) frames are non-empty, and whether segments overlap.
    let plane = nx * ny;
    let nseg = segments.len();
    let (present, overlapping): (Vec<Vec<bool>>, bool) = match &input {
        Input::Labels(l) => {
            let mut seg_of = vec![u16::MAX; 1 << 16];
            for (i, s) in segments.iter().enumerate() {
                seg_of[s.label as usize] = i as u16;
            }
            let per_slice: Vec<Vec<bool>> = l
                .data()
                .par_chunks(plane)
                .map(|slice| {
                    let mut p = vec![false; nseg];
                    for &v in slice {
                        if let Some(&s) = seg_of.get(v as usize) {
                            if s != u16::MAX {
                                p[s as usize] = true;
                            }
                        }
                    }
                    p
                })
                .collect();
            ((0..nseg).map(|s| per_slice.iter().map(|p| p[s]).collect()).collect(), false)
        }
        Input::Masks(m) => {
            let present = m
                .iter()
                .map(|v| v.data().chunks(plane).map(|s| s.iter().any(|&x| x != 0)).collect())
                .collect();
            let total = m.first().map(|v| v.len()).unwrap_or(0);
            let overlapping = (0..total)
                .into_par_iter()
                .any(|i| m.iter().filter(|v| v.data().get(i).is_some_and(|&x| x != 0)).count() > 1);
            (present, overlapping)
        }
    };
    let mut frames: Vec<(usize, usize)> = (0..nseg)
        .flat_map(|s| (0..nz).filter(|&z| present[s][z]).map(move |z| (s, z)).collect::<Vec<_>>())
        .collect();
    let frames_per_segment: Vec<usize> = present.iter().map(|p| p.iter().filter(|&&b| b).count()).collect();
    if frames.is_empty() {
        // NumberOfFrames must be at least 1: one empty frame of segment 1.
        frames.push((0, 0));
    }
    let pixel_bits = frames.len() as u128 * plane as u128;
    let pixel_bytes = pixel_bits.div_ceil(8);
    if pixel_bytes + 1 >= u32::MAX as u128 {
        return Err(SegError::Grid {
            reason: format!("{pixel_bytes} bytes of pixel data exceed the 4 GiB a DICOM element can hold"),
        });
    }
    // Pixels plus about 600 bytes of functional groups per frame.
    check_alloc(pixel_bytes + frames.len() as u128 * 600, 1)?;

    // 1-bit packing, LSB first, frames back to back (PS3.5 8.1.1, 8.2).
    let mut pixels = vec![0u8; pixel_bytes as usize + (pixel_bytes % 2) as usize];
    for (f, &(s, z)) in frames.iter().enumerate() {
        let base = f * plane;
        let inside = |i: usize| -> bool {
            match &input {
                Input::Labels(l) => l.data().get(z * plane + i) == Some(&segments[s].label),
                Input::Masks(m) => {
                    m.get(s).and_then(|v| v.data().get(z * plane + i)).is_some_and(|&x| x != 0)
                }
            }
        };
        for i in 0..plane {
            if inside(i) {
                let bit = base + i;
                if let Some(byte) = pixels.get_mut(bit / 8) {
                    *byte |= 1 << (bit % 8);
                }
            }
        }
    }

    let sop_uid = new_uid();
    let series_uid = new_uid();
    let study_uid = source.map(|s| s.study_uid.clone()).unwrap_or_else(new_uid);
    let frame_uid = source.and_then(|s| s.frame_of_reference_uid.clone()).unwrap_or_else(new_uid);
    let (date, time) = today();
    let copied = |tag: Tag| -> &str {
        source
            .and_then(|s| s.copied.iter().find(|(t, _, _)| *t == tag))
            .map(|(_, _, v)| v.as_str())
            .unwrap_or("")
    };
    let non_ascii = segments.iter().any(|s| !s.name.is_ascii() || !s.algorithm_name.is_ascii())
        || source.is_some_and(|s| s.copied.iter().any(|(_, _, v)| !v.is_ascii()))
        || [&options.series_description, &options.content_description, &options.content_creator]
            .iter()
            .any(|s| !s.is_ascii());
    let charset =
        if non_ascii { Some("ISO_IR 192".to_string()) } else { source.and_then(|s| s.charset.clone()) };

    let mut d = DataSet::new();
    if let Some(cs) = &charset {
        d.text(tags::SPECIFIC_CHARACTER_SET, b"CS", cs);
    }
    d.text(tags::IMAGE_TYPE, b"CS", "DERIVED\\PRIMARY");
    d.text(tags::SOP_CLASS_UID, b"UI", SEGMENTATION_STORAGE);
    d.text(tags::SOP_INSTANCE_UID, b"UI", &sop_uid);
    let study_date = if source.is_some() { copied(tags::STUDY_DATE) } else { date.as_str() };
    let study_time = if source.is_some() { copied(tags::STUDY_TIME) } else { time.as_str() };
    d.text(tags::STUDY_DATE, b"DA", study_date);
    d.text(tags::SERIES_DATE, b"DA", &date);
    d.text(tags::CONTENT_DATE, b"DA", &date);
    d.text(tags::STUDY_TIME, b"TM", study_time);
    d.text(tags::SERIES_TIME, b"TM", &time);
    d.text(tags::CONTENT_TIME, b"TM", &time);
    d.text(tags::ACCESSION_NUMBER, b"SH", copied(tags::ACCESSION_NUMBER));
    d.text(tags::MODALITY, b"CS", "SEG");
    d.text(tags::MANUFACTURER, b"LO", "Hounsfield");
    d.text(tags::REFERRING_PHYSICIAN_NAME, b"PN", copied(tags::REFERRING_PHYSICIAN_NAME));
    if !copied(tags::STUDY_DESCRIPTION).is_empty() {
        d.text(tags::STUDY_DESCRIPTION, b"LO", copied(tags::STUDY_DESCRIPTION));
    }
    d.text(tags::SERIES_DESCRIPTION, b"LO", &options.series_description);
    d.text(tags::MANUFACTURER_MODEL_NAME, b"LO", "hounsfield-io");
    for tag in [tags::PATIENT_NAME, tags::PATIENT_ID, tags::PATIENT_BIRTH_DATE, tags::PATIENT_SEX] {
        let vr = COPIED.iter().find(|(t, _)| *t == tag).map(|(_, vr)| *vr).unwrap_or(*b"LO");
        d.text(tag, &vr, copied(tag));
    }
    if !copied(tags::PATIENT_AGE).is_empty() {
        d.text(tags::PATIENT_AGE, b"AS", copied(tags::PATIENT_AGE));
    }
    d.text(tags::DEVICE_SERIAL_NUMBER, b"LO", "1");
    d.text(tags::SOFTWARE_VERSIONS, b"LO", env!("CARGO_PKG_VERSION"));
    d.text(tags::STUDY_INSTANCE_UID, b"UI", &study_uid);
    d.text(tags::SERIES_INSTANCE_UID, b"UI", &series_uid);
    d.text(tags::STUDY_ID, b"SH", copied(tags::STUDY_ID));
    d.text(tags::SERIES_NUMBER, b"IS", &options.series_number.to_string());
    d.text(tags::INSTANCE_NUMBER, b"IS", "1");
    d.text(tags::FRAME_OF_REFERENCE_UID, b"UI", &frame_uid);
    d.text(tags::POSITION_REFERENCE_INDICATOR, b"LO", "");

    // Multi-frame Dimension module (PS3.3 C.7.6.17): segment, then position.
    let dim_uid = new_uid();
    let mut org = DataSet::new();
    org.text(tags::DIMENSION_ORGANIZATION_UID, b"UI", &dim_uid);
    d.seq(tags::DIMENSION_ORGANIZATION_SEQUENCE, &[org]);
    let index = |pointer: Tag, group: Tag, label: &str| {
        let mut i = DataSet::new();
        i.text(tags::DIMENSION_ORGANIZATION_UID, b"UI", &dim_uid);
        i.at(tags::DIMENSION_INDEX_POINTER, pointer);
        i.at(tags::FUNCTIONAL_GROUP_POINTER, group);
        i.text(tags::DIMENSION_DESCRIPTION_LABEL, b"LO", label);
        i
    };
    d.seq(
        tags::DIMENSION_INDEX_SEQUENCE,
        &[
            index(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "ReferencedSegmentNumber",
            ),
            index(tags::IMAGE_POSITION_PATIENT, tags::PLANE_POSITION_SEQUENCE, "ImagePositionPatient"),
        ],
    );
    d.text(tags::DIMENSION_ORGANIZATION_TYPE, b"CS", "3D");

    // Image Pixel and Segmentation Image modules.
    d.us(tags::SAMPLES_PER_PIXEL, &[1]);
    d.text(tags::PHOTOMETRIC_INTERPRETATION, b"CS", "MONOCHROME2");
    d.text(tags::NUMBER_OF_FRAMES, b"IS", &frames.len().to_string());
    d.us(tags::ROWS, &[ny as u16]);
    d.us(tags::COLUMNS, &[nx as u16]);
    d.us(tags::BITS_ALLOCATED, &[1]);
    d.us(tags::BITS_STORED, &[1]);
    d.us(tags::HIGH_BIT, &[0]);
    d.us(tags::PIXEL_REPRESENTATION, &[0]);
    d.text(tags::LOSSY_IMAGE_COMPRESSION, b"CS", "00");
    d.text(tags::SEGMENTATION_TYPE, b"CS", "BINARY");
    d.text(tags::SEGMENTS_OVERLAP, b"CS", if overlapping { "YES" } else { "NO" });
    d.text(tags::CONTENT_LABEL, b"CS", &options.content_label);
    d.text(tags::CONTENT_DESCRIPTION, b"LO", &options.content_description);
    d.text(tags::CONTENT_CREATOR_NAME, b"PN", &options.content_creator);

    let segment_items: Vec<DataSet> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut item = DataSet::new();
            item.us(tags::SEGMENT_NUMBER, &[i as u16 + 1]);
            item.text(tags::SEGMENT_LABEL, b"LO", &s.name);
            item.text(tags::SEGMENT_ALGORITHM_TYPE, b"CS", s.algorithm_type.keyword());
            item.seq(tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE, &[s.category.item()]);
            let mut ty = s.property_type.item();
            if let Some(m) = &s.type_modifier {
                ty.seq(tags::SEGMENTED_PROPERTY_TYPE_MODIFIER_CODE_SEQUENCE, &[m.item()]);
            }
            item.seq(tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE, &[ty]);
            item.us(tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE, &srgb_to_dicom_lab(s.color));
            if s.algorithm_type != AlgorithmType::Manual {
                item.text(tags::SEGMENT_ALGORITHM_NAME, b"LO", &s.algorithm_name);
                let family = match s.algorithm_type {
                    AlgorithmType::Automatic => Code::dcm("123110", "Artificial Intelligence"),
                    _ => Code::dcm("123109", "Manual Processing"),
                };
                let mut alg = DataSet::new();
                alg.seq(tags::ALGORITHM_FAMILY_CODE_SEQUENCE, &[family.item()]);
                alg.text(tags::ALGORITHM_VERSION, b"LO", &s.algorithm_version);
                alg.text(tags::ALGORITHM_NAME, b"LO", &s.algorithm_name);
                item.seq(tags::SEGMENTATION_ALGORITHM_IDENTIFICATION_SEQUENCE, &[alg]);
            }
            item
        })
        .collect();
    d.seq(tags::SEGMENT_SEQUENCE, &segment_items);

    // Shared functional groups: orientation and pixel measures.
    let mut shared = DataSet::new();
    let mut orient = DataSet::new();
    orient.text(
        tags::IMAGE_ORIENTATION_PATIENT,
        b"DS",
        &r.iter().chain(&c).map(|&x| ds(x)).collect::<Vec<_>>().join("\\"),
    );
    shared.seq(tags::PLANE_ORIENTATION_SEQUENCE, &[orient]);
    let mut measures = DataSet::new();
    measures.text(tags::PIXEL_SPACING, b"DS", &format!("{}\\{}", ds(g.spacing[1]), ds(g.spacing[0])));
    measures.text(tags::SLICE_THICKNESS, b"DS", &ds(g.spacing[2]));
    measures.text(tags::SPACING_BETWEEN_SLICES, b"DS", &ds(g.spacing[2]));
    shared.seq(tags::PIXEL_MEASURES_SEQUENCE, &[measures]);
    d.seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, &[shared]);

    // Per-frame functional groups.
    let code_item = |code: Code| code.item();
    let per_frame: Vec<DataSet> = frames
        .par_iter()
        .map(|&(s, z)| {
            let mut f = DataSet::new();
            if let (Some(src), Some(map)) = (source, &source_frames) {
                if let Some(sf) = map.get(z).and_then(|&i| src.frames.get(i)) {
                    let mut img = DataSet::new();
                    img.text(tags::REFERENCED_SOP_CLASS_UID, b"UI", &sf.sop_class_uid);
                    img.text(tags::REFERENCED_SOP_INSTANCE_UID, b"UI", &sf.sop_instance_uid);
                    if let Some(n) = sf.frame_number {
                        img.text(tags::REFERENCED_FRAME_NUMBER, b"IS", &n.to_string());
                    }
                    // Same grid as the source (checked above): frames can be indexed by
                    // source instance (PS3.3 C.7.6.4b).
                    img.text(tags::SPATIAL_LOCATIONS_PRESERVED, b"CS", "YES");
                    img.seq(
                        tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                        &[code_item(Code::dcm("121322", "Source image for image processing operation"))],
                    );
                    let mut der = DataSet::new();
                    der.seq(
                        tags::DERIVATION_CODE_SEQUENCE,
                        &[code_item(Code::dcm("113076", "Segmentation"))],
                    );
                    der.seq(tags::SOURCE_IMAGE_SEQUENCE, &[img]);
                    f.seq(tags::DERIVATION_IMAGE_SEQUENCE, &[der]);
                }
            }
            let mut content = DataSet::new();
            content.ul(tags::DIMENSION_INDEX_VALUES, &[s as u32 + 1, z as u32 + 1]);
            f.seq(tags::FRAME_CONTENT_SEQUENCE, &[content]);
            let mut pos = DataSet::new();
            let ipp = g.index_to_world([0.0, 0.0, z as f64]);
            pos.text(
                tags::IMAGE_POSITION_PATIENT,
                b"DS",
                &ipp.iter().map(|&x| ds(x)).collect::<Vec<_>>().join("\\"),
            );
            f.seq(tags::PLANE_POSITION_SEQUENCE, &[pos]);
            let mut ident = DataSet::new();
            ident.us(tags::REFERENCED_SEGMENT_NUMBER, &[s as u16 + 1]);
            f.seq(tags::SEGMENT_IDENTIFICATION_SEQUENCE, &[ident]);
            f
        })
        .collect();
    let per_frame_bytes: usize = per_frame.iter().map(|f| f.len() + 8).sum();
    if per_frame_bytes as u128 >= u32::MAX as u128 {
        return Err(SegError::Grid {
            reason: format!("{} frames need more functional-group bytes than DICOM allows", frames.len()),
        });
    }
    d.seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, &per_frame);

    // Common Instance Reference module: every source instance.
    if let Some(src) = source {
        let mut instances: Vec<(&str, &str)> = Vec::new();
        for f in &src.frames {
            if !instances.iter().any(|(_, uid)| *uid == f.sop_instance_uid) {
                instances.push((&f.sop_class_uid, &f.sop_instance_uid));
            }
        }
        let items: Vec<DataSet> = instances
            .iter()
            .map(|(class, uid)| {
                let mut i = DataSet::new();
                i.text(tags::REFERENCED_SOP_CLASS_UID, b"UI", class);
                i.text(tags::REFERENCED_SOP_INSTANCE_UID, b"UI", uid);
                i
            })
            .collect();
        let mut series = DataSet::new();
        series.seq(tags::REFERENCED_INSTANCE_SEQUENCE, &items);
        series.text(tags::SERIES_INSTANCE_UID, b"UI", &src.series_uid);
        d.seq(tags::REFERENCED_SERIES_SEQUENCE, &[series]);
    }

    let header = d.to_bytes();
    let mut pixel_head = DataSet::new();
    pixel_head.put(tags::PIXEL_DATA, b"OB", &[]);
    let mut pixel_head = pixel_head.to_bytes();
    // Patch the empty element's length with the real one (the value is streamed).
    let len = (pixels.len() as u32).to_le_bytes();
    pixel_head[8..12].copy_from_slice(&len);
    let meta = file_meta(SEGMENTATION_STORAGE, &sop_uid);
    crate::atomic::write_atomic(path, |w| {
        use std::io::Write;
        w.write_all(&meta)?;
        w.write_all(&header)?;
        w.write_all(&pixel_head)?;
        w.write_all(&pixels)
    })
    .map_err(|source| SegError::Write { path: path.to_path_buf(), source })?;
    Ok(SegSummary {
        sop_instance_uid: sop_uid,
        series_instance_uid: series_uid,
        study_instance_uid: study_uid,
        frames_per_segment,
        overlapping,
        references_source: source.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_of_white_and_red_match_highdicom() {
        // highdicom 0.28 `CIELabColor.from_rgb(r, g, b).value`.
        assert_eq!(srgb_to_dicom_lab([255, 255, 255]), [65535, 32897, 32893]);
        assert_eq!(srgb_to_dicom_lab([255, 0, 0]), [34886, 53484, 50172]);
        assert_eq!(srgb_to_dicom_lab([221, 130, 101]), [41661, 41167, 40792]);
    }

    #[test]
    fn bad_descriptions_are_refused() {
        let ok = SegmentDescription::from_anatomy(1, "liver").unwrap();
        assert!(check_segments(std::slice::from_ref(&ok)).is_ok());
        assert!(matches!(check_segments(&[]), Err(SegError::NoSegments)));
        let mut long = ok.clone();
        long.property_type.value = "12345678901234567".into();
        assert!(matches!(check_segments(&[long]), Err(SegError::Segment { .. })));
        let mut no_alg = ok.clone();
        no_alg.algorithm_name.clear();
        assert!(check_segments(&[no_alg.clone()]).is_err());
        no_alg.algorithm_type = AlgorithmType::Manual;
        assert!(check_segments(&[no_alg]).is_ok());
    }
}
