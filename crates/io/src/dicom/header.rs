//! The attributes of one image file that reading needs: the Image Pixel module
//! (PS3.3 C.7.6.3), and per frame the plane position, orientation, pixel measures and
//! rescale, from the classic attributes or from enhanced multi-frame functional groups
//! (PS3.3 C.7.6.16), NM detector information (C.8.4.11) or RT dose grid offsets (C.8.8.3).

use std::path::Path;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, StandardDataDictionary};

use super::parse::{Parsed, PixelLoc, DOUBLE_PIXEL_DATA, FLOAT_PIXEL_DATA};
use super::DicomError;

type Obj = InMemDicomObject;

/// Photometric Interpretation (0028,0004), PS3.3 C.7.6.3.1.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Photometric {
    Monochrome1,
    Monochrome2,
    Rgb,
    YbrFull,
    YbrFull422,
    Palette,
    /// Anything else (YBR_PARTIAL_*, YBR_ICT/RCT in native data, …), by name.
    Other(String),
}

/// A lookup table: descriptor (entries, first mapped value, bits) and data (PS3.3 C.7.6.3.1.5).
#[derive(Clone, Debug)]
pub(crate) struct Lut {
    pub first: i64,
    pub data: Vec<u16>,
}

impl Lut {
    /// The LUT output for input `v`: inputs below the first mapped value take the first
    /// entry, inputs beyond the table the last (PS3.3 C.7.6.3.1.5).
    #[inline]
    pub fn get(&self, v: i64) -> u16 {
        let i = (v - self.first).clamp(0, self.data.len() as i64 - 1);
        self.data[i as usize]
    }
}

/// How the stored samples are laid out.
#[derive(Clone, Debug)]
pub(crate) struct PixelFormat {
    pub rows: usize,
    pub cols: usize,
    pub frames: usize,
    pub samples: usize,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
    pub photometric: Photometric,
    /// Planar Configuration 1: all red samples, then green, then blue.
    pub planar: bool,
    /// FloatPixelData / DoubleFloatPixelData: IEEE samples of `bits_allocated` bits.
    pub float: bool,
    /// Red, green, blue palettes for PALETTE COLOR.
    pub palette: Option<[Lut; 3]>,
}

impl PixelFormat {
    /// Bytes of one frame in native encoding (bits for 1-bit data are counted exactly).
    pub fn frame_bits(&self) -> u128 {
        let mut samples = (self.rows * self.cols) as u128 * self.samples as u128;
        if self.photometric == Photometric::YbrFull422 && self.samples == 3 {
            // Two luminance and two chroma samples per two pixels (PS3.3 C.7.6.3.1.2).
            samples = samples * 2 / 3;
        }
        samples * self.bits_allocated as u128
    }

    /// Whether the image is colour (converted to luminance).
    pub fn is_colour(&self) -> bool {
        self.samples != 1 || self.photometric == Photometric::Palette
    }
}

/// Rescale slope and intercept (PS3.3 C.11.1.1.2): output = slope · stored + intercept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

/// Where one frame lies and how its values map to output units.
#[derive(Clone, Debug)]
pub(crate) struct Plane {
    pub position: Option<[f64; 3]>,
    /// Row and column direction cosines, normalised.
    pub orientation: Option<[f64; 6]>,
    /// PixelSpacing: (between rows, between columns), mm.
    pub spacing: Option<[f64; 2]>,
    pub thickness: Option<f64>,
    pub rescale: Rescale,
}

/// One image file: parsed bytes, pixel layout and one [`Plane`] per frame.
#[derive(Debug)]
pub(crate) struct ImageFile {
    pub parsed: Parsed,
    pub fmt: PixelFormat,
    pub planes: Vec<Plane>,
    pub modality: String,
    pub instance_number: Option<i64>,
    /// SpacingBetweenSlices (0018,0088), mm.
    pub spacing_between: Option<f64>,
    /// Modality LUT (0028,3000), applied instead of the rescale when present.
    pub modality_lut: Option<Lut>,
}

/// The dictionary VR of a standard tag.
fn dict_vr(tag: Tag) -> Option<VR> {
    StandardDataDictionary.by_tag(tag).map(|e| e.vr().relaxed())
}

/// Whether an element was written with VR UN (unknown) though the dictionary knows it: its
/// value is then raw bytes in explicit VR little endian (PS3.5 6.2.2).
fn raw_un(obj: &Obj, tag: Tag) -> Option<(&[u8], VR)> {
    let e = obj.get(tag)?;
    if e.vr() != VR::UN {
        return None;
    }
    match e.value().primitive()? {
        PrimitiveValue::U8(b) => Some((b.as_slice(), dict_vr(tag)?)),
        _ => None,
    }
}

/// Trimmed string value, `None` when absent or empty.
pub(crate) fn text(obj: &Obj, tag: Tag) -> Option<String> {
    let s = match raw_un(obj, tag) {
        Some((b, _)) => String::from_utf8_lossy(b).into_owned(),
        None => obj.get(tag)?.value().to_str().ok()?.into_owned(),
    };
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// Numbers of a UN-encoded value, decoded by the tag's dictionary VR.
fn un_numbers(b: &[u8], vr: VR) -> Option<Vec<f64>> {
    let le = |n: usize| b.chunks_exact(n);
    Some(match vr {
        VR::DS | VR::IS => {
            let s = String::from_utf8_lossy(b);
            let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
            if s.is_empty() {
                return Some(Vec::new());
            }
            s.split('\\').map(|x| x.trim().parse::<f64>().ok()).collect::<Option<_>>()?
        }
        VR::US => le(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as f64).collect(),
        VR::SS => le(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as f64).collect(),
        VR::UL => le(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
        VR::SL => le(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
        VR::FL => le(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect(),
        VR::FD => {
            le(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
        }
        _ => return None,
    })
}

/// Numbers of a numeric or decimal/integer-string attribute; `None` when absent or empty.
pub(crate) fn numbers(
    obj: &Obj,
    tag: Tag,
    name: &'static str,
    path: &Path,
) -> Result<Option<Vec<f64>>, DicomError> {
    let Some(e) = obj.get(tag) else { return Ok(None) };
    if let Some((b, vr)) = raw_un(obj, tag) {
        let v = un_numbers(b, vr).ok_or_else(|| DicomError::InvalidAttribute {
            name,
            value: String::from_utf8_lossy(b).into_owned(),
            reason: format!("not a list of numbers ({vr:?} written as UN)"),
            path: path.into(),
        })?;
        return Ok((!v.is_empty()).then_some(v));
    }
    let Some(p) = e.value().primitive() else {
        return Err(DicomError::InvalidAttribute {
            name,
            value: "(sequence)".into(),
            reason: "expected numbers".into(),
            path: path.into(),
        });
    };
    let invalid = |value: String| DicomError::InvalidAttribute {
        name,
        value,
        reason: "not a list of finite numbers".into(),
        path: path.into(),
    };
    let v: Vec<f64> = match p {
        PrimitiveValue::Empty => return Ok(None),
        PrimitiveValue::Str(_) | PrimitiveValue::Strs(_) => {
            let s = p.to_str();
            let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
            if s.is_empty() {
                return Ok(None);
            }
            s.split('\\')
                .map(|x| x.trim_matches(|c: char| c.is_whitespace() || c == '\0').parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| invalid(s.to_string()))?
        }
        _ => p.to_multi_float64().map_err(|_| invalid(p.to_str().into_owned()))?,
    };
    if v.iter().any(|x| !x.is_finite()) {
        return Err(invalid(format!("{v:?}")));
    }
    Ok((!v.is_empty()).then_some(v))
}

fn number(obj: &Obj, tag: Tag, name: &'static str, path: &Path) -> Result<Option<f64>, DicomError> {
    Ok(numbers(obj, tag, name, path)?.and_then(|v| v.first().copied()))
}

fn fixed<const N: usize>(
    obj: &Obj,
    tag: Tag,
    name: &'static str,
    path: &Path,
) -> Result<Option<[f64; N]>, DicomError> {
    match numbers(obj, tag, name, path)? {
        None => Ok(None),
        Some(v) if v.len() >= N => {
            let mut a = [0.0; N];
            a.copy_from_slice(&v[..N]);
            Ok(Some(a))
        }
        Some(v) => Err(DicomError::InvalidAttribute {
            name,
            value: format!("{v:?}"),
            reason: format!("expected {N} values"),
            path: path.into(),
        }),
    }
}

/// A non-negative integer attribute that must fit `max`.
fn count(obj: &Obj, tag: Tag, name: &'static str, max: u64, path: &Path) -> Result<Option<u64>, DicomError> {
    match number(obj, tag, name, path)? {
        None => Ok(None),
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= max as f64 => Ok(Some(v as u64)),
        Some(v) => Err(DicomError::InvalidAttribute {
            name,
            value: v.to_string(),
            reason: format!("expected an integer from 0 to {max}"),
            path: path.into(),
        }),
    }
}

fn required(obj: &Obj, tag: Tag, name: &'static str, max: u64, path: &Path) -> Result<u64, DicomError> {
    count(obj, tag, name, max, path)?.ok_or(DicomError::MissingAttribute { name, path: path.into() })
}

/// The first item of a sequence attribute.
pub(crate) fn first_item(obj: &Obj, tag: Tag) -> Option<&Obj> {
    obj.get(tag)?.value().items()?.first()
}

fn items(obj: &Obj, tag: Tag) -> &[Obj] {
    obj.get(tag).and_then(|e| e.value().items()).unwrap_or(&[])
}

/// Reads the pixel layout and per-frame geometry of a parsed file.
pub(crate) fn image_file(parsed: Parsed) -> Result<ImageFile, DicomError> {
    let path = parsed.label.clone();
    let path = path.as_path();
    let obj = &parsed.obj;
    let Some(pixel) = &parsed.pixel else {
        let sop = text(obj, tags::SOP_CLASS_UID)
            .or_else(|| parsed.media_sop_class.clone())
            .unwrap_or_else(|| "unknown".into());
        return Err(DicomError::NoPixelData { sop_class: sop, path: path.into() });
    };
    let float = matches!(pixel, PixelLoc::Native { tag, .. } if *tag == FLOAT_PIXEL_DATA || *tag == DOUBLE_PIXEL_DATA);
    let rows = required(obj, tags::ROWS, "Rows (0028,0010)", u16::MAX as u64, path)? as usize;
    let cols = required(obj, tags::COLUMNS, "Columns (0028,0011)", u16::MAX as u64, path)? as usize;
    if rows == 0 || cols == 0 {
        return Err(DicomError::InvalidAttribute {
            name: "Rows/Columns",
            value: format!("{rows}×{cols}"),
            reason: "an image needs at least one row and column".into(),
            path: path.into(),
        });
    }
    let frames = count(obj, tags::NUMBER_OF_FRAMES, "NumberOfFrames (0028,0008)", u32::MAX as u64, path)?
        .unwrap_or(1)
        .max(1) as usize;
    let samples =
        count(obj, tags::SAMPLES_PER_PIXEL, "SamplesPerPixel (0028,0002)", 4, path)?.unwrap_or(1) as usize;
    if samples != 1 && samples != 3 {
        return Err(DicomError::UnsupportedPixels {
            what: format!("{samples} samples per pixel (1 or 3 supported)"),
            path: path.into(),
        });
    }
    let default_bits = if float {
        if parsed
            .pixel
            .as_ref()
            .is_some_and(|p| matches!(p, PixelLoc::Native { tag, .. } if *tag == DOUBLE_PIXEL_DATA))
        {
            64
        } else {
            32
        }
    } else {
        0
    };
    let bits_allocated = match count(obj, tags::BITS_ALLOCATED, "BitsAllocated (0028,0100)", 64, path)? {
        Some(b) => b as u16,
        None if float => default_bits,
        None => {
            return Err(DicomError::MissingAttribute { name: "BitsAllocated (0028,0100)", path: path.into() })
        }
    };
    let bits_allocated = if float { default_bits } else { bits_allocated };
    if !(matches!(bits_allocated, 1 | 8 | 16 | 32) || float && bits_allocated == 64) {
        return Err(DicomError::UnsupportedPixels {
            what: format!("BitsAllocated {bits_allocated} (1, 8, 16 and 32 supported)"),
            path: path.into(),
        });
    }
    let bits_stored = count(obj, tags::BITS_STORED, "BitsStored (0028,0101)", 64, path)?
        .map(|b| b as u16)
        .filter(|&b| b >= 1 && b <= bits_allocated)
        .unwrap_or(bits_allocated);
    let high_bit = count(obj, tags::HIGH_BIT, "HighBit (0028,0102)", 63, path)?
        .map(|b| b as u16)
        .filter(|&h| h + 1 >= bits_stored && h < bits_allocated)
        .unwrap_or(bits_stored - 1);
    let signed =
        count(obj, tags::PIXEL_REPRESENTATION, "PixelRepresentation (0028,0103)", 1, path)? == Some(1);
    let photometric = match text(obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref() {
        Some("MONOCHROME1") => Photometric::Monochrome1,
        Some("MONOCHROME2") => Photometric::Monochrome2,
        Some("RGB") => Photometric::Rgb,
        Some("YBR_FULL") => Photometric::YbrFull,
        Some("YBR_FULL_422") => Photometric::YbrFull422,
        Some("PALETTE COLOR") => Photometric::Palette,
        Some(other) => Photometric::Other(other.to_string()),
        None if samples == 3 => Photometric::Rgb,
        None => Photometric::Monochrome2,
    };
    let planar = samples == 3
        && count(obj, tags::PLANAR_CONFIGURATION, "PlanarConfiguration (0028,0006)", 1, path)? == Some(1);
    let palette = if photometric == Photometric::Palette { Some(palette(obj, path)?) } else { None };
    let fmt = PixelFormat {
        rows,
        cols,
        frames,
        samples,
        bits_allocated,
        bits_stored,
        high_bit,
        signed,
        photometric,
        planar,
        float,
        palette,
    };
    let modality = text(obj, tags::MODALITY).unwrap_or_default();
    let instance_number = number(obj, tags::INSTANCE_NUMBER, "InstanceNumber (0020,0013)", path)
        .ok()
        .flatten()
        .map(|v| v as i64);
    let spacing_between =
        number(obj, tags::SPACING_BETWEEN_SLICES, "SpacingBetweenSlices (0018,0088)", path)?;
    let modality_lut = match first_item(obj, tags::MODALITY_LUT_SEQUENCE) {
        Some(item) if !fmt.is_colour() => {
            Some(lut(item, tags::LUT_DESCRIPTOR, tags::LUT_DATA, "LUTData (0028,3006)", path)?)
        }
        _ => None,
    };
    let planes = planes(obj, frames, &modality, path)?;
    Ok(ImageFile { parsed, fmt, planes, modality, instance_number, spacing_between, modality_lut })
}

fn rescale(obj: &Obj, path: &Path) -> Result<(Option<f64>, Option<f64>), DicomError> {
    let slope = number(obj, tags::RESCALE_SLOPE, "RescaleSlope (0028,1053)", path)?;
    let intercept = number(obj, tags::RESCALE_INTERCEPT, "RescaleIntercept (0028,1052)", path)?;
    Ok((slope, intercept))
}

/// Geometry attributes of one frame, looked up first in `sources` (functional group items,
/// most specific first) and then in the data set itself.
fn plane_from(sources: &[&Obj], top: &Obj, path: &Path) -> Result<Plane, DicomError> {
    let find = |seq: Tag| sources.iter().find_map(|fg| first_item(fg, seq));
    let pos_src = find(tags::PLANE_POSITION_SEQUENCE).unwrap_or(top);
    let ori_src = find(tags::PLANE_ORIENTATION_SEQUENCE).unwrap_or(top);
    let meas_src = find(tags::PIXEL_MEASURES_SEQUENCE).unwrap_or(top);
    let pvt_src = find(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE).unwrap_or(top);
    let position =
        fixed::<3>(pos_src, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient (0020,0032)", path)?;
    let orientation =
        fixed::<6>(ori_src, tags::IMAGE_ORIENTATION_PATIENT, "ImageOrientationPatient (0020,0037)", path)?
            .map(|o| normalise_orientation(o, path))
            .transpose()?;
    let positive = |s: &[f64; 2]| s.iter().all(|&v| v > 0.0);
    let spacing = match fixed::<2>(meas_src, tags::PIXEL_SPACING, "PixelSpacing (0028,0030)", path)? {
        Some(s) if positive(&s) => Some(s),
        _ => fixed::<2>(top, tags::IMAGER_PIXEL_SPACING, "ImagerPixelSpacing (0018,1164)", path)?,
    };
    // A zero spacing ("0\\0", written by some CR devices) means unknown: 1 mm is used, as
    // for an absent one.
    let spacing = spacing.filter(|s| {
        let ok = s.iter().all(|&v| v > 0.0);
        if !ok {
            tracing::warn!("{}: ignoring non-positive PixelSpacing {s:?}", path.display());
        }
        ok
    });
    let thickness =
        number(meas_src, tags::SLICE_THICKNESS, "SliceThickness (0018,0050)", path)?.filter(|&t| t > 0.0);
    let (mut slope, mut intercept) = rescale(pvt_src, path)?;
    if slope.is_none() && intercept.is_none() && !std::ptr::eq(pvt_src, top) {
        (slope, intercept) = rescale(top, path)?;
    }
    let slope = slope.unwrap_or(1.0);
    if slope == 0.0 {
        return Err(DicomError::InvalidAttribute {
            name: "RescaleSlope (0028,1053)",
            value: "0".into(),
            reason: "a zero slope maps every pixel to the intercept".into(),
            path: path.into(),
        });
    }
    Ok(Plane {
        position,
        orientation,
        spacing,
        thickness,
        rescale: Rescale { slope, intercept: intercept.unwrap_or(0.0) },
    })
}

/// Normalises the row and column cosines (often written with 6 decimals) and checks that
/// they are orthogonal.
fn normalise_orientation(o: [f64; 6], path: &Path) -> Result<[f64; 6], DicomError> {
    let invalid = |reason: &str| DicomError::InvalidAttribute {
        name: "ImageOrientationPatient (0020,0037)",
        value: format!("{o:?}"),
        reason: reason.into(),
        path: path.into(),
    };
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let (nr, nc) = (norm(&o[..3]), norm(&o[3..]));
    if !(0.9..=1.1).contains(&nr) || !(0.9..=1.1).contains(&nc) {
        return Err(invalid("direction cosines must be unit vectors"));
    }
    let mut r = [o[0] / nr, o[1] / nr, o[2] / nr];
    let mut c = [o[3] / nc, o[4] / nc, o[5] / nc];
    let dot = r[0] * c[0] + r[1] * c[1] + r[2] * c[2];
    // 1e-3 rad: far above the rounding of 6-decimal cosines, far below any real shear.
    if dot.abs() > 1e-3 {
        return Err(invalid("row and column directions are not orthogonal"));
    }
    if dot.abs() > 1e-9 {
        // Split the tiny residual evenly so both stay within rounding of what was written.
        let (r0, c0) = (r, c);
        for i in 0..3 {
            r[i] = r0[i] - 0.5 * dot * c0[i];
            c[i] = c0[i] - 0.5 * dot * r0[i];
        }
        let (nr, nc) = (norm(&r), norm(&c));
        r.iter_mut().for_each(|v| *v /= nr);
        c.iter_mut().for_each(|v| *v /= nc);
    }
    Ok([r[0], r[1], r[2], c[0], c[1], c[2]])
}

/// The normal of a plane: row cosine × column cosine.
pub(crate) fn normal(o: &[f64; 6]) -> [f64; 3] {
    let (r, c) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let n = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
    let l = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    [n[0] / l, n[1] / l, n[2] / l]
}

/// One [`Plane`] per frame.
fn planes(obj: &Obj, frames: usize, modality: &str, path: &Path) -> Result<Vec<Plane>, DicomError> {
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    if shared.is_some() || !per_frame.is_empty() {
        // Enhanced multi-frame: per-frame groups override shared ones (PS3.3 C.7.6.16).
        return (0..frames)
            .map(|k| {
                let mut sources: Vec<&Obj> = Vec::with_capacity(2);
                if let Some(pf) = per_frame.get(k) {
                    sources.push(pf);
                }
                if let Some(s) = shared {
                    sources.push(s);
                }
                plane_from(&sources, obj, path)
            })
            .collect();
    }
    let mut base = plane_from(&[], obj, path)?;
    if modality == "RTDOSE" {
        // Dose values are stored integers × DoseGridScaling (PS3.3 C.8.8.3.4.1): applied as
        // the slope, voxels come out in DoseUnits (GDCM/ITK and pydicom leave the integers).
        if obj.get(tags::RESCALE_SLOPE).is_none() {
            if let Some(s) = number(obj, tags::DOSE_GRID_SCALING, "DoseGridScaling (3004,000E)", path)? {
                if s != 0.0 {
                    base.rescale.slope = s;
                }
            }
        }
    }
    if frames == 1 {
        return Ok(vec![base]);
    }
    // Classic multi-frame: positions of later frames from the grid offsets (RT dose), or the
    // first frame's position plus k slice spacings along the normal (NM reconstructed
    // tomograms, PS3.3 C.8.4.15). NM keeps position and orientation in the detector
    // information sequence.
    if base.position.is_none() || base.orientation.is_none() {
        if let Some(det) = first_item(obj, tags::DETECTOR_INFORMATION_SEQUENCE) {
            base.position = base.position.or(fixed::<3>(
                det,
                tags::IMAGE_POSITION_PATIENT,
                "ImagePositionPatient (0020,0032)",
                path,
            )?);
            if base.orientation.is_none() {
                base.orientation = fixed::<6>(
                    det,
                    tags::IMAGE_ORIENTATION_PATIENT,
                    "ImageOrientationPatient (0020,0037)",
                    path,
                )?
                .map(|o| normalise_orientation(o, path))
                .transpose()?;
            }
        }
    }
    let offsets = numbers(obj, tags::GRID_FRAME_OFFSET_VECTOR, "GridFrameOffsetVector (3004,000C)", path)?;
    let step = number(obj, tags::SPACING_BETWEEN_SLICES, "SpacingBetweenSlices (0018,0088)", path)?
        .filter(|&s| s != 0.0)
        .or(base.thickness);
    let mut out = Vec::with_capacity(frames);
    for k in 0..frames {
        let mut p = base.clone();
        let along = match &offsets {
            // Relative offsets when the first is 0, else z coordinates of the planes; the
            // difference to the first works for both (PS3.3 C.8.8.3.2).
            Some(o) if o.len() >= frames => Some(o[k] - o[0]),
            Some(o) => {
                return Err(DicomError::InvalidAttribute {
                    name: "GridFrameOffsetVector (3004,000C)",
                    value: format!("{} values", o.len()),
                    reason: format!("the file has {frames} frames"),
                    path: path.into(),
                })
            }
            None => step.map(|s| s * k as f64),
        };
        match (base.position, base.orientation, along) {
            (Some(pos), Some(ori), Some(d)) => {
                let n = normal(&ori);
                p.position = Some([pos[0] + d * n[0], pos[1] + d * n[1], pos[2] + d * n[2]]);
            }
            _ => p.position = None,
        }
        out.push(p);
    }
    Ok(out)
}

/// Reads a LUT (descriptor + data) from `obj`.
fn lut(obj: &Obj, desc_tag: Tag, data_tag: Tag, name: &'static str, path: &Path) -> Result<Lut, DicomError> {
    let desc = numbers(obj, desc_tag, "LUTDescriptor", path)?
        .filter(|d| d.len() >= 3)
        .ok_or(DicomError::MissingAttribute { name: "LUTDescriptor", path: path.into() })?;
    // 0 entries means 2^16 (PS3.3 C.11.1.1.1). The first mapped value is US or SS.
    let entries = if desc[0] == 0.0 { 65536 } else { desc[0] as usize };
    let bits = desc[2] as u32;
    let words = words(obj, data_tag, name, path)?;
    // 8-bit entries are sometimes packed two per word (dcmtk writes them so).
    let data: Vec<u16> = if bits <= 8 && words.len() * 2 == entries {
        words.iter().flat_map(|w| [w & 0xFF, w >> 8]).collect()
    } else {
        words
    };
    if data.is_empty() {
        return Err(DicomError::InvalidAttribute {
            name,
            value: "(empty)".into(),
            reason: "the table has no entries".into(),
            path: path.into(),
        });
    }
    let mut first = desc[1] as i64;
    // A first-mapped value written as US but meant as SS (PS3.3 C.7.6.3.1.5 allows either).
    if first > 32767 && desc[1] <= 65535.0 {
        first -= 65536;
    }
    Ok(Lut { first, data })
}

/// The 16-bit words of a binary attribute.
fn words(obj: &Obj, tag: Tag, name: &'static str, path: &Path) -> Result<Vec<u16>, DicomError> {
    let e = obj.get(tag).ok_or(DicomError::MissingAttribute { name, path: path.into() })?;
    Ok(match e.value().primitive() {
        Some(PrimitiveValue::U16(v)) => v.to_vec(),
        Some(PrimitiveValue::I16(v)) => v.iter().map(|&x| x as u16).collect(),
        Some(PrimitiveValue::U8(v)) => {
            v.chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect()
        }
        _ => {
            return Err(DicomError::InvalidAttribute {
                name,
                value: "(not binary)".into(),
                reason: "expected 16-bit words".into(),
                path: path.into(),
            })
        }
    })
}

/// Expands segmented palette data (PS3.3 C.7.9.2): discrete, linear and indirect segments
/// of 16-bit entries. Linear segments are rounded half to even from numpy's `linspace`, as
/// pydicom expands them. At most 65536 entries and two levels of indirection.
fn expand_segmented(
    data: &[u16],
    max_segments: Option<usize>,
    last: Option<u16>,
    depth: usize,
) -> Result<Vec<u16>, String> {
    let mut lut: Vec<u16> = Vec::new();
    let (mut i, mut segments) = (0usize, 0usize);
    let get = |i: usize| data.get(i).copied().ok_or_else(|| "segment runs past the data".to_string());
    while i + 1 < data.len() {
        let (op, n) = (data[i], data[i + 1] as usize);
        i += 2;
        match op {
            0 => {
                lut.extend_from_slice(data.get(i..i + n).ok_or("discrete segment runs past the data")?);
                i += n;
            }
            1 => {
                let y0 = lut.last().copied().or(last).ok_or("a linear segment cannot come first")? as f64;
                let y1 = get(i)? as f64;
                i += 1;
                if n == 1 || y0 == y1 {
                    lut.extend(std::iter::repeat_n(y1 as u16, n));
                } else if n > 1 {
                    let start = y0 + (y1 - y0) / n as f64;
                    let step = (y1 - start) / (n - 1) as f64;
                    lut.extend((0..n).map(|k| {
                        if k + 1 == n { y1 } else { k as f64 * step + start }.round_ties_even() as u16
                    }));
                }
            }
            2 => {
                if depth > 1 {
                    return Err("indirect segments nested too deep".into());
                }
                let last = *lut.last().ok_or("an indirect segment cannot come first")?;
                let offset = (get(i + 1)? as usize) << 16 | get(i)? as usize;
                i += 2;
                let sub = data.get(offset..).ok_or("indirect segment offset past the data")?;
                lut.extend(expand_segmented(sub, Some(n), Some(last), depth + 1)?);
            }
            op => return Err(format!("unknown segment type {op}")),
        }
        if lut.len() > 65536 {
            return Err("more than 65536 entries".into());
        }
        segments += 1;
        if Some(segments) == max_segments {
            break;
        }
    }
    Ok(lut)
}

/// The red, green and blue palettes of a PALETTE COLOR image (PS3.3 C.7.6.3.1.5), plain
/// or segmented (C.7.9.2).
fn palette(obj: &Obj, path: &Path) -> Result<[Lut; 3], DicomError> {
    let channels = [
        (
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "RedPaletteColorLookupTableData (0028,1201)",
        ),
        (
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "GreenPaletteColorLookupTableData (0028,1202)",
        ),
        (
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "BluePaletteColorLookupTableData (0028,1203)",
        ),
    ];
    let one = |(desc, data, seg, name): (Tag, Tag, Tag, &'static str)| -> Result<Lut, DicomError> {
        if obj.get(data).is_some() || obj.get(seg).is_none() {
            return lut(obj, desc, data, name, path);
        }
        let d =
            numbers(obj, desc, "PaletteColorLookupTableDescriptor", path)?.filter(|d| d.len() >= 3).ok_or(
                DicomError::MissingAttribute { name: "PaletteColorLookupTableDescriptor", path: path.into() },
            )?;
        if d[2] != 16.0 {
            return Err(DicomError::UnsupportedPixels {
                what: format!("segmented palette with {}-bit entries (16 supported)", d[2]),
                path: path.into(),
            });
        }
        let data =
            expand_segmented(&words(obj, seg, "SegmentedPaletteColorLookupTableData", path)?, None, None, 0)
                .map_err(|reason| DicomError::InvalidAttribute {
                    name: "SegmentedPaletteColorLookupTableData",
                    value: "(segments)".into(),
                    reason,
                    path: path.into(),
                })?;
        if data.is_empty() {
            return Err(DicomError::InvalidAttribute {
                name: "SegmentedPaletteColorLookupTableData",
                value: "(empty)".into(),
                reason: "the table has no entries".into(),
                path: path.into(),
            });
        }
        Ok(Lut { first: d[1] as i64, data })
    };
    let [r, g, b] = channels;
    Ok([one(r)?, one(g)?, one(b)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segmented_palettes_expand() {
        // Discrete 2 entries, linear to 10 in 4 steps, indirect: repeat the first segment.
        let data = [0, 2, 0, 2, 1, 4, 10, 2, 1, 0, 0];
        let lut = expand_segmented(&data, None, None, 0).unwrap();
        assert_eq!(lut, vec![0, 2, 4, 6, 8, 10, 0, 2]);
        assert!(expand_segmented(&[1, 3, 5], None, None, 0).is_err());
        assert!(expand_segmented(&[0, 9, 1], None, None, 0).is_err());
    }
}
