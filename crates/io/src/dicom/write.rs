//! Writing a volume as a DICOM series: one Explicit VR Little Endian file per slice
//! (PS3.10 7.1, PS3.5 A.2), encoded here byte by byte so that every attribute is under
//! our control.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use hounsfield_core::{with_any_volume, AnyVolume, Scalar, Volume};
use rayon::prelude::*;

use super::header::text;
use super::parse::{parse_path, Depth};
use super::{scan, DicomError, DicomWriteOptions};

const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const MR_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.4";
const SECONDARY_CAPTURE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.7";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// Implementation Class UID of this writer (a 2.25 UUID-derived UID, fixed).
const IMPLEMENTATION_UID: &str = "2.25.186470365284716573953287934126731985530";
const IMPLEMENTATION_VERSION: &str = "HOUNSFIELD_0_1";

/// A fresh UID `2.25.<128-bit random UUID as decimal>` (PS3.5 B.2, ITU-T X.667): version-4
/// UUID bits from SipHash with OS-seeded keys over time, process and a counter.
pub(crate) fn new_uid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u64(count);
        h.write_u32(std::process::id());
        h.write_u64(salt);
        h.finish() as u128
    };
    let mut x = (half(1) << 64) | half(2);
    x = (x & !(0xF << 76)) | (0x4 << 76); // version 4
    x = (x & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    format!("2.25.{x}")
}

/// A decimal string of at most 16 characters (the DS limit, PS3.5 6.2) closest to `v`.
pub(crate) fn ds(v: f64) -> String {
    let v = if v == 0.0 { 0.0 } else { v }; // no "-0"
    let s = format!("{v}");
    if s.len() <= 16 {
        return s;
    }
    let err = |s: &str| (s.parse::<f64>().unwrap_or(f64::INFINITY) - v).abs();
    let mut best = format!("{v:e}");
    for p in 0..=15 {
        for cand in [format!("{v:.p$}"), format!("{v:.p$e}")] {
            if cand.len() <= 16 && (best.len() > 16 || err(&cand) < err(&best)) {
                best = cand;
            }
        }
    }
    if best.len() > 16 {
        "0".into()
    } else {
        best
    }
}

/// How voxel values become 16-bit stored values: `value = slope · stored + intercept`.
#[derive(Clone, Debug)]
struct Storage {
    signed: bool,
    slope: f64,
    intercept: f64,
    slope_text: (String, String),
}

impl Storage {
    fn new(min: f64, max: f64, integral: bool) -> Storage {
        let make = |signed: bool, slope: f64, intercept: f64| {
            let (st, it) = (ds(slope), ds(intercept));
            // Quantise with the values a reader will parse back.
            let slope = st.parse().unwrap_or(slope);
            let intercept = it.parse().unwrap_or(intercept);
            Storage { signed, slope, intercept, slope_text: (st, it) }
        };
        if integral && min >= i16::MIN as f64 && max <= i16::MAX as f64 {
            make(true, 1.0, 0.0)
        } else if integral && min >= 0.0 && max <= u16::MAX as f64 {
            make(false, 1.0, 0.0)
        } else if integral && max - min <= u16::MAX as f64 {
            make(false, 1.0, min)
        } else {
            // Spread the range over all 65536 levels: the error is at most slope / 2.
            let slope = if max > min { (max - min) / u16::MAX as f64 } else { 1.0 };
            make(false, slope, min)
        }
    }

    #[inline]
    fn store(&self, v: f64) -> u16 {
        let s = ((v - self.intercept) / self.slope).round();
        if self.signed {
            (s.clamp(i16::MIN as f64, i16::MAX as f64) as i16) as u16
        } else {
            s.clamp(0.0, u16::MAX as f64) as u16
        }
    }
}

/// Explicit VR little-endian element encoder.
struct Enc {
    out: Vec<u8>,
}

impl Enc {
    fn element(&mut self, tag: (u16, u16), vr: &[u8; 2], value: &[u8]) {
        let pad = if value.len() % 2 == 1 {
            Some(match vr {
                b"UI" | b"OB" => 0u8,
                _ => b' ',
            })
        } else {
            None
        };
        let len = value.len() + pad.is_some() as usize;
        self.out.extend_from_slice(&tag.0.to_le_bytes());
        self.out.extend_from_slice(&tag.1.to_le_bytes());
        self.out.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT" | b"UC" | b"UR") {
            self.out.extend_from_slice(&[0, 0]);
            self.out.extend_from_slice(&(len as u32).to_le_bytes());
        } else {
            self.out.extend_from_slice(&(len as u16).to_le_bytes());
        }
        self.out.extend_from_slice(value);
        if let Some(p) = pad {
            self.out.push(p);
        }
    }

    fn text(&mut self, tag: (u16, u16), vr: &[u8; 2], s: &str) {
        self.element(tag, vr, s.as_bytes());
    }

    fn us(&mut self, tag: (u16, u16), v: u16) {
        self.element(tag, b"US", &v.to_le_bytes());
    }
}

/// Patient and study attributes copied from a reference series (PS3.3 C.7.1.1, C.7.2.1),
/// plus its frame of reference (the volume is taken to lie in its patient coordinates).
#[derive(Default)]
struct Reference {
    charset: Option<String>,
    values: Vec<((u16, u16), [u8; 2], String)>,
    study_uid: Option<String>,
    frame_of_reference: Option<String>,
}

const COPIED: [((u16, u16), [u8; 2]); 11] = [
    ((0x0008, 0x0020), *b"DA"), // StudyDate
    ((0x0008, 0x0030), *b"TM"), // StudyTime
    ((0x0008, 0x0050), *b"SH"), // AccessionNumber
    ((0x0008, 0x0090), *b"PN"), // ReferringPhysicianName
    ((0x0008, 0x1030), *b"LO"), // StudyDescription
    ((0x0010, 0x0010), *b"PN"), // PatientName
    ((0x0010, 0x0020), *b"LO"), // PatientID
    ((0x0010, 0x0030), *b"DA"), // PatientBirthDate
    ((0x0010, 0x0040), *b"CS"), // PatientSex
    ((0x0010, 0x1010), *b"AS"), // PatientAge
    ((0x0020, 0x0010), *b"SH"), // StudyID
];

fn reference(path: &Path) -> Result<Reference, DicomError> {
    let file: PathBuf = if path.is_dir() {
        let series = scan::scan(path)?;
        let s = scan::select(&series, None, path)?;
        s.files.first().cloned().ok_or_else(|| DicomError::NoSeries { dir: path.into() })?
    } else {
        path.to_path_buf()
    };
    let p = parse_path(&file, Depth::Header)?;
    let obj: &InMemDicomObject = &p.obj;
    let mut r = Reference {
        charset: text(obj, tags::SPECIFIC_CHARACTER_SET),
        study_uid: text(obj, tags::STUDY_INSTANCE_UID),
        frame_of_reference: text(obj, tags::FRAME_OF_REFERENCE_UID),
        ..Default::default()
    };
    for (tag, vr) in COPIED {
        if let Some(v) = text(obj, dicom_core::Tag(tag.0, tag.1)) {
            r.values.push((tag, vr, v));
        }
    }
    Ok(r)
}

pub(crate) fn write_series(
    dir: &Path,
    volume: &AnyVolume,
    options: &DicomWriteOptions,
) -> Result<(), DicomError> {
    with_any_volume!(volume, v => write_typed(dir, v, options))
}

fn write_typed<T: Scalar>(dir: &Path, v: &Volume<T>, options: &DicomWriteOptions) -> Result<(), DicomError> {
    let [nx, ny, nz] = v.dims();
    if nx > u16::MAX as usize || ny > u16::MAX as usize {
        return Err(DicomError::WriteVolume {
            reason: format!("slices of {nx}×{ny} exceed DICOM's 65535 rows/columns"),
        });
    }
    let g = *v.geometry();
    g.validate()?;
    let (r, c, k) = (g.axis_direction(0), g.axis_direction(1), g.axis_direction(2));
    let n = super::header::normal(&[r[0], r[1], r[2], c[0], c[1], c[2]]);
    let along = k[0] * n[0] + k[1] * n[1] + k[2] * n[2];
    // DICOM has no slice axis of its own: slices are stacked along row × column (or its
    // opposite). Anything else is a sheared grid that readers would take for gantry tilt.
    if along.abs() < 1.0 - 1e-6 {
        return Err(DicomError::WriteVolume {
            reason:
                "the third axis is not perpendicular to the slices; resample onto an orthogonal grid first"
                    .into(),
        });
    }
    let (mut lo, mut hi, mut integral) = (f64::INFINITY, f64::NEG_INFINITY, true);
    for &x in v.data() {
        let x = x.to_f64();
        if !x.is_finite() {
            return Err(DicomError::WriteVolume {
                reason: format!("voxel value {x} cannot be stored; replace non-finite values first"),
            });
        }
        lo = lo.min(x);
        hi = hi.max(x);
        integral &= x.fract() == 0.0;
    }
    let storage = Storage::new(lo, hi, integral);
    let reference = match &options.reference {
        Some(p) => reference(p).map_err(|e| DicomError::ReferenceSeries { source: Box::new(e) })?,
        None => Reference::default(),
    };
    let modality = options.modality.clone().unwrap_or_else(|| "OT".into()).to_ascii_uppercase();
    let sop_class = match modality.as_str() {
        "CT" => CT_IMAGE_STORAGE,
        "MR" => MR_IMAGE_STORAGE,
        _ => SECONDARY_CAPTURE_STORAGE,
    };
    let series_uid = new_uid();
    let study_uid = reference.study_uid.clone().unwrap_or_else(new_uid);
    let frame_uid = reference.frame_of_reference.clone().unwrap_or_else(new_uid);
    let (date, time) = today();
    let non_ascii = reference.values.iter().any(|(_, _, s)| !s.is_ascii())
        || options.series_description.as_deref().is_some_and(|s| !s.is_ascii());
    let charset = if non_ascii { Some("ISO_IR 192".to_string()) } else { reference.charset.clone() };
    let digits = (nz.max(1) as f64).log10().floor() as usize + 1;

    let slice = |z: usize| -> Vec<u8> {
        let sop_uid = new_uid();
        let ipp = g.index_to_world([0.0, 0.0, z as f64]);
        let mut e = Enc { out: Vec::with_capacity(2048 + nx * ny * 2) };
        let copied =
            |tag: (u16, u16)| reference.values.iter().find(|(t, _, _)| *t == tag).map(|(_, _, v)| v.as_str());
        if let Some(cs) = &charset {
            e.text((0x0008, 0x0005), b"CS", cs);
        }
        e.text((0x0008, 0x0008), b"CS", "DERIVED\\SECONDARY");
        e.text((0x0008, 0x0016), b"UI", sop_class);
        e.text((0x0008, 0x0018), b"UI", &sop_uid);
        e.text((0x0008, 0x0020), b"DA", copied((0x0008, 0x0020)).unwrap_or(&date));
        e.text((0x0008, 0x0021), b"DA", &date);
        e.text((0x0008, 0x0030), b"TM", copied((0x0008, 0x0030)).unwrap_or(&time));
        e.text((0x0008, 0x0031), b"TM", &time);
        e.text((0x0008, 0x0050), b"SH", copied((0x0008, 0x0050)).unwrap_or(""));
        e.text((0x0008, 0x0060), b"CS", &modality);
        if sop_class == SECONDARY_CAPTURE_STORAGE {
            // Conversion Type: workstation (PS3.3 C.8.6.1).
            e.text((0x0008, 0x0064), b"CS", "WSD");
        }
        e.text((0x0008, 0x0070), b"LO", "Hounsfield");
        e.text((0x0008, 0x0090), b"PN", copied((0x0008, 0x0090)).unwrap_or(""));
        if let Some(d) = copied((0x0008, 0x1030)) {
            e.text((0x0008, 0x1030), b"LO", d);
        }
        if let Some(d) = &options.series_description {
            e.text((0x0008, 0x103E), b"LO", d);
        }
        for tag in [(0x0010, 0x0010), (0x0010, 0x0020), (0x0010, 0x0030), (0x0010, 0x0040)] {
            let vr = COPIED.iter().find(|(t, _)| *t == tag).map(|(_, vr)| *vr).unwrap_or(*b"LO");
            e.text(tag, &vr, copied(tag).unwrap_or(""));
        }
        if let Some(a) = copied((0x0010, 0x1010)) {
            e.text((0x0010, 0x1010), b"AS", a);
        }
        if sop_class == MR_IMAGE_STORAGE {
            // Type 1 attributes of the MR Image module (PS3.3 C.8.3.1): research mode, no
            // variant.
            e.text((0x0018, 0x0020), b"CS", "RM");
            e.text((0x0018, 0x0021), b"CS", "NONE");
            e.text((0x0018, 0x0022), b"CS", "");
            e.text((0x0018, 0x0023), b"CS", "");
        }
        e.text((0x0018, 0x0050), b"DS", &ds(g.spacing[2]));
        if sop_class == CT_IMAGE_STORAGE {
            e.text((0x0018, 0x0060), b"DS", ""); // KVP, type 2
        }
        e.text((0x0018, 0x0088), b"DS", &ds(g.spacing[2]));
        e.text((0x0020, 0x000D), b"UI", &study_uid);
        e.text((0x0020, 0x000E), b"UI", &series_uid);
        e.text((0x0020, 0x0010), b"SH", copied((0x0020, 0x0010)).unwrap_or(""));
        e.text((0x0020, 0x0011), b"IS", "1001");
        e.text((0x0020, 0x0013), b"IS", &(z + 1).to_string());
        e.text((0x0020, 0x0032), b"DS", &ipp.iter().map(|&x| ds(x)).collect::<Vec<_>>().join("\\"));
        e.text((0x0020, 0x0037), b"DS", &r.iter().chain(&c).map(|&x| ds(x)).collect::<Vec<_>>().join("\\"));
        e.text((0x0020, 0x0052), b"UI", &frame_uid);
        e.text((0x0020, 0x1040), b"LO", "");
        e.text((0x0020, 0x1041), b"DS", &ds(ipp[0] * n[0] + ipp[1] * n[1] + ipp[2] * n[2]));
        e.us((0x0028, 0x0002), 1);
        e.text((0x0028, 0x0004), b"CS", "MONOCHROME2");
        e.us((0x0028, 0x0010), ny as u16);
        e.us((0x0028, 0x0011), nx as u16);
        e.text((0x0028, 0x0030), b"DS", &format!("{}\\{}", ds(g.spacing[1]), ds(g.spacing[0])));
        e.us((0x0028, 0x0100), 16);
        e.us((0x0028, 0x0101), 16);
        e.us((0x0028, 0x0102), 15);
        e.us((0x0028, 0x0103), storage.signed as u16);
        e.text((0x0028, 0x1052), b"DS", &storage.slope_text.1);
        e.text((0x0028, 0x1053), b"DS", &storage.slope_text.0);
        e.text((0x0028, 0x1054), b"LO", if modality == "CT" { "HU" } else { "US" });
        let plane = &v.data()[z * nx * ny..(z + 1) * nx * ny];
        let mut px = Vec::with_capacity(plane.len() * 2);
        for &x in plane {
            px.extend_from_slice(&storage.store(x.to_f64()).to_le_bytes());
        }
        e.element((0x7FE0, 0x0010), b"OW", &px);
        let mut file = file_meta(sop_class, &sop_uid);
        file.extend_from_slice(&e.out);
        file
    };
    crate::atomic::write_dir_atomic(dir, |tmp| {
        (0..nz).into_par_iter().try_for_each(|z| {
            let name = tmp.join(format!("IM{:0digits$}.dcm", z + 1));
            std::fs::write(name, slice(z))
        })?;
        Ok::<(), DicomError>(())
    })
    .map_err(|e| match e {
        DicomError::Write { source, .. } => DicomError::Write { path: dir.to_path_buf(), source },
        other => other,
    })
}

/// Preamble, magic and file meta group (PS3.10 7.1).
pub(crate) fn file_meta(sop_class: &str, sop_uid: &str) -> Vec<u8> {
    let mut m = Enc { out: Vec::with_capacity(256) };
    m.element((0x0002, 0x0001), b"OB", &[0, 1]);
    m.text((0x0002, 0x0002), b"UI", sop_class);
    m.text((0x0002, 0x0003), b"UI", sop_uid);
    m.text((0x0002, 0x0010), b"UI", EXPLICIT_LE);
    m.text((0x0002, 0x0012), b"UI", IMPLEMENTATION_UID);
    m.text((0x0002, 0x0013), b"SH", IMPLEMENTATION_VERSION);
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    let mut g = Enc { out: Vec::new() };
    g.element((0x0002, 0x0000), b"UL", &(m.out.len() as u32).to_le_bytes());
    out.extend_from_slice(&g.out);
    out.extend_from_slice(&m.out);
    out
}

/// Today's date and time (UTC) as DICOM DA and TM.
pub(crate) fn today() -> (String, String) {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86400) as i64;
    let s = secs % 86400;
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level
    // date algorithms").
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    (format!("{y:04}{m:02}{d:02}"), format!("{:02}{:02}{:02}", s / 3600, s % 3600 / 60, s % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        for v in [0.0, -0.0, 1.0, -123.456_789_012_345_67, 1e-20, 6.02214076e23, 0.1 + 0.2, -1024.0] {
            let s = ds(v);
            assert!(s.len() <= 16, "{s}");
            let back: f64 = s.parse().unwrap();
            // 16 characters keep at least 11 significant digits.
            assert!((back - v).abs() <= 1e-10 * v.abs().max(1e-300), "{v} -> {s}");
        }
        assert_eq!(ds(-0.0), "0");
    }

    #[test]
    fn uids_are_unique_and_valid() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.starts_with("2.25.") && a[5..].bytes().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn storage_keeps_integers_exact_and_floats_within_half_a_step() {
        let s = Storage::new(-1024.0, 3071.0, true);
        assert!(s.signed && s.slope == 1.0 && s.intercept == 0.0);
        let s = Storage::new(-40000.0, 10000.0, true);
        assert_eq!(s.store(-40000.0), 0);
        assert_eq!(s.intercept + s.slope * s.store(1234.0) as f64, 1234.0);
        let s = Storage::new(-1.5, 2.25, false);
        for v in [-1.5, 0.0, 0.123456, 2.25] {
            let back = s.intercept + s.slope * s.store(v) as f64;
            assert!((back - v).abs() <= s.slope / 2.0 + 1e-12, "{v} {back}");
        }
    }

    #[test]
    fn dates_are_civil() {
        let (d, t) = today();
        assert_eq!(d.len(), 8);
        assert_eq!(t.len(), 6);
        assert!(d.as_str() >= "20240101");
    }
}
