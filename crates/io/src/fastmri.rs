//! fastMRI / ISMRMRD-style HDF5 k-space (Zbontar et al., "fastMRI: An Open Dataset and
//! Benchmarks for Accelerated MRI", 2018), read with the pure-Rust `hdf5-reader` crate (no C
//! library).
//!
//! A fastMRI file holds:
//!
//! | name | kind | content |
//! |---|---|---|
//! | `kspace` | dataset, complex64 (compound `{r, i}` as h5py writes it) | `(slices, coils, rows, cols)` multi-coil or `(slices, rows, cols)` single-coil; `cols` fastest |
//! | `mask` | dataset, optional | `(cols,)` sampled columns (bool, integer or float) |
//! | `ismrmrd_header` | dataset, optional | the ISMRMRD XML header (a string) |
//! | `acquisition`, `max`, `norm`, `patient_id`, … | root attributes, optional | strings and numbers |
//!
//! In fastMRI's own files the last axis (`cols`, the one the mask samples) is the
//! phase-encoding direction and `rows` the read-out. [`FastMriKspace::data`] keeps the file's
//! order (slice, coil, row, col; col fastest), which for one slice is the order of a coil
//! array of `[cols, rows, 1, coils]` with x fastest (the recon crate's `CoilArray`).
//!
//! Complex128 (`{r, i}` of `f64`) is accepted and narrowed to `f32`. Of the XML header only
//! the encoded and reconstructed spaces' `matrixSize` and `fieldOfView_mm` are parsed (a
//! plain tag scan; [`IsmrmrdHeader::xml`] keeps the whole text).
//!
//! Every size is checked against the memory cap ([`hounsfield_core::check_alloc`]) before
//! anything is allocated, and a file shorter than the end-of-file address its superblock
//! declares is refused as truncated ([`FastMriError::Truncated`]).
//!
//! ```no_run
//! use hounsfield_io::fastmri::{self, SliceSelection};
//!
//! let k = fastmri::read("file1000001.h5".as_ref(), SliceSelection::Middle)?;
//! assert_eq!(k.data.len(), k.slices * k.coils * k.rows * k.cols);
//! # Ok::<(), fastmri::FastMriError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdf5_reader::{Dataset, Datatype, Hdf5File, SliceInfo, SliceInfoElem};
use hounsfield_core::{check_alloc, CoreError};

/// Errors reading a fastMRI HDF5 file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum FastMriError {
    /// The file could not be opened or read.
    #[error("cannot read fastMRI file: {source}: {}", .path.display())]
    Fs {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file does not start with the HDF5 signature.
    #[error("not an HDF5 file (no HDF5 signature): {}", .path.display())]
    NotHdf5 {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its superblock declares.
    #[error("truncated HDF5 file: {actual} bytes, the superblock declares {declared}: {}", .path.display())]
    Truncated {
        /// Bytes the superblock's end-of-file address implies.
        declared: u64,
        /// Bytes in the file.
        actual: u64,
        /// The file.
        path: PathBuf,
    },
    /// The file has no `kspace` dataset.
    #[error("no `kspace` dataset in fastMRI file: {}", .path.display())]
    NoKspace {
        /// The file.
        path: PathBuf,
    },
    /// A dataset has a datatype this reader does not accept.
    #[error("`{dataset}` has datatype {found}, expected {expected}: {}", .path.display())]
    Dtype {
        /// Dataset name.
        dataset: &'static str,
        /// What was expected.
        expected: &'static str,
        /// The datatype found.
        found: String,
        /// The file.
        path: PathBuf,
    },
    /// A dataset has a shape this reader does not accept.
    #[error("`{dataset}` has shape {shape:?}, expected {expected}: {}", .path.display())]
    Shape {
        /// Dataset name.
        dataset: &'static str,
        /// What was expected.
        expected: String,
        /// The shape found.
        shape: Vec<u64>,
        /// The file.
        path: PathBuf,
    },
    /// The requested slice is not in the file.
    #[error("slice {slice} requested, the file has {slices} (0..{slices}): {}", .path.display())]
    SliceOutOfRange {
        /// Requested index.
        slice: usize,
        /// Slices in the file.
        slices: usize,
        /// The file.
        path: PathBuf,
    },
    /// The HDF5 structure is malformed or uses a feature the reader lacks.
    #[error("cannot read HDF5 {what}: {reason}: {}", .path.display())]
    Hdf5 {
        /// What was being read.
        what: String,
        /// The decoder's message.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The declared size exceeds the memory cap.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Which slices of the file to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SliceSelection {
    /// Every slice.
    All,
    /// The middle slice, index `slices / 2` (default).
    #[default]
    Middle,
    /// One slice by index (0-based).
    Index(usize),
}

/// A matrix size and field of view from an ISMRMRD header space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodingSpace {
    /// `matrixSize` `x`, `y`, `z`.
    pub matrix: [usize; 3],
    /// `fieldOfView_mm` `x`, `y`, `z`, mm.
    pub fov_mm: [f64; 3],
}

/// What this reader takes from the ISMRMRD XML header.
#[derive(Clone, Debug, PartialEq)]
pub struct IsmrmrdHeader {
    /// The whole XML text.
    pub xml: String,
    /// `encoding/encodedSpace` (the acquired grid), when present and complete.
    pub encoded: Option<EncodingSpace>,
    /// `encoding/reconSpace` (the grid the vendor reconstructs to), when present and complete.
    pub recon: Option<EncodingSpace>,
}

impl IsmrmrdHeader {
    /// Parses `xml` with a plain tag scan (the first `<encodedSpace>` and `<reconSpace>`).
    pub fn parse(xml: &str) -> Self {
        Self { xml: xml.to_owned(), encoded: space(xml, "encodedSpace"), recon: space(xml, "reconSpace") }
    }

    /// Pixel spacing in mm, `[col, row]`, of an image reconstructed on the full k-space grid of
    /// `rows × cols`: the encoded field of view over the encoded matrix. The encoded `x` is
    /// matched to `rows` (fastMRI's read-out) when the sizes allow, else to `cols`; `None`
    /// when neither orientation matches the matrix or a value is not positive and finite.
    pub fn pixel_spacing(&self, rows: usize, cols: usize) -> Option<[f64; 2]> {
        let e = self.encoded?;
        let [mx, my, _] = e.matrix;
        let sx = e.fov_mm[0] / mx as f64;
        let sy = e.fov_mm[1] / my as f64;
        let s = if (mx, my) == (rows, cols) {
            [sy, sx]
        } else if (mx, my) == (cols, rows) {
            [sx, sy]
        } else {
            return None;
        };
        s.iter().all(|v| v.is_finite() && *v > 0.0).then_some(s)
    }

    /// The encoded field of view along z (the slice thickness of 2-D acquisitions), mm.
    pub fn slice_thickness(&self) -> Option<f64> {
        self.encoded.map(|e| e.fov_mm[2]).filter(|v| v.is_finite() && *v > 0.0)
    }
}

/// The text between `<tag>` (or `<tag …>`) and `</tag>`, first occurrence.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}");
    let mut from = 0;
    loop {
        let at = from + xml.get(from..)?.find(&open)?;
        let rest = xml.get(at + open.len()..)?;
        match rest.chars().next() {
            Some('>') | Some(' ') | Some('\t') | Some('\n') | Some('\r') => {
                let body_start = rest.find('>')? + 1;
                let body = rest.get(body_start..)?;
                let end = body.find(&format!("</{tag}>"))?;
                return body.get(..end);
            }
            _ => from = at + open.len(),
        }
    }
}

fn triple<T: std::str::FromStr>(xml: &str) -> Option<[T; 3]> {
    let v = |t: &str| element(xml, t).and_then(|s| s.trim().parse::<T>().ok());
    Some([v("x")?, v("y")?, v("z")?])
}

fn space(xml: &str, tag: &str) -> Option<EncodingSpace> {
    let s = element(xml, tag)?;
    let matrix: [usize; 3] = triple(element(s, "matrixSize")?)?;
    let fov_mm: [f64; 3] = triple(element(s, "fieldOfView_mm")?)?;
    (matrix.iter().all(|&m| m > 0)).then_some(EncodingSpace { matrix, fov_mm })
}

/// k-space read from a fastMRI file.
#[derive(Clone, Debug, PartialEq)]
pub struct FastMriKspace {
    /// Slices in [`Self::data`] (1 unless [`SliceSelection::All`]).
    pub slices: usize,
    /// Index in the file of the first slice read.
    pub first_slice: usize,
    /// Slices in the file.
    pub file_slices: usize,
    /// Coils (1 for a single-coil file).
    pub coils: usize,
    /// Rows (second-to-last axis).
    pub rows: usize,
    /// Columns (last axis, fastest; the axis the mask samples).
    pub cols: usize,
    /// True when the file's `kspace` has rank 3 (no coil axis).
    pub single_coil: bool,
    /// Samples as `[real, imaginary]`, slice, coil, row, col order (col fastest).
    pub data: Vec<[f32; 2]>,
    /// The `mask` dataset as weights (bool and integers as 0/1), one per column.
    pub mask: Option<Vec<f32>>,
    /// The `ismrmrd_header` dataset.
    pub header: Option<IsmrmrdHeader>,
    /// The root attribute `acquisition` (e.g. `CORPD_FBK`).
    pub acquisition: Option<String>,
    /// Root attributes holding strings.
    pub string_attributes: BTreeMap<String, String>,
    /// Root attributes holding one number.
    pub numeric_attributes: BTreeMap<String, f64>,
}

/// Reads `path` (opened through a memory map; nothing beyond the selected slices is decoded).
pub fn read(path: &Path, slices: SliceSelection) -> Result<FastMriKspace, FastMriError> {
    let fs = |source| FastMriError::Fs { path: path.to_path_buf(), source };
    let mut head = [0u8; 8];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(fs)?;
        let n = f.read(&mut head).map_err(fs)?;
        if n < 8 || head != SIGNATURE {
            // HDF5 also allows the superblock at 512, 1024, … (a user block); let the
            // decoder look when the first bytes are not the signature.
            let len = f.metadata().map_err(fs)?.len();
            if len < 512 {
                return Err(FastMriError::NotHdf5 { path: path.to_path_buf() });
            }
        }
    }
    let actual = std::fs::metadata(path).map_err(fs)?.len();
    let file = Hdf5File::open(path).map_err(|e| open_error(e, path))?;
    decode(&file, actual, slices, path)
}

/// Reads a fastMRI file held in memory (`name` only labels errors).
pub fn read_bytes(bytes: &[u8], slices: SliceSelection, name: &Path) -> Result<FastMriKspace, FastMriError> {
    if bytes.len() < 8 || (bytes[..8] != SIGNATURE && bytes.len() < 512) {
        return Err(FastMriError::NotHdf5 { path: name.to_path_buf() });
    }
    let file = Hdf5File::from_bytes(bytes).map_err(|e| open_error(e, name))?;
    decode(&file, bytes.len() as u64, slices, name)
}

const SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

fn open_error(e: hdf5_reader::error::Error, path: &Path) -> FastMriError {
    match e {
        hdf5_reader::error::Error::InvalidMagic => FastMriError::NotHdf5 { path: path.to_path_buf() },
        hdf5_reader::error::Error::Io(source) => FastMriError::Fs { path: path.to_path_buf(), source },
        e => hdf5(e, "superblock", path),
    }
}

fn hdf5(e: hdf5_reader::error::Error, what: &str, path: &Path) -> FastMriError {
    FastMriError::Hdf5 { what: what.to_owned(), reason: e.to_string(), path: path.to_path_buf() }
}

fn decode(
    file: &Hdf5File,
    actual: u64,
    selection: SliceSelection,
    path: &Path,
) -> Result<FastMriKspace, FastMriError> {
    let sb = file.superblock();
    let declared = sb.base_address.saturating_add(sb.eof_address);
    if sb.eof_address != u64::MAX && declared > actual {
        return Err(FastMriError::Truncated { declared, actual, path: path.to_path_buf() });
    }
    let root = file.root_group().map_err(|e| hdf5(e, "root group", path))?;
    let (_, names) = root.member_names().map_err(|e| hdf5(e, "root group", path))?;
    if !names.iter().any(|n| n == "kspace") {
        return Err(FastMriError::NoKspace { path: path.to_path_buf() });
    }
    let ks = file.dataset("kspace").map_err(|e| hdf5(e, "dataset `kspace`", path))?;
    let layout = complex_layout(ks.dtype()).ok_or_else(|| FastMriError::Dtype {
        dataset: "kspace",
        expected: "complex64 or complex128 (compound {r, i} of floats)",
        found: format!("{:?}", ks.dtype()),
        path: path.to_path_buf(),
    })?;
    let shape = ks.shape().to_vec();
    let bad_shape = |expected: &str| FastMriError::Shape {
        dataset: "kspace",
        expected: expected.to_owned(),
        shape: shape.clone(),
        path: path.to_path_buf(),
    };
    let (file_slices, coils, rows, cols, single_coil) = match shape[..] {
        [s, c, r, k] => (s, c, r, k, false),
        [s, r, k] => (s, 1, r, k, true),
        _ => return Err(bad_shape("(slices, coils, rows, cols) or (slices, rows, cols)")),
    };
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| bad_shape("sizes that fit in memory"));
    let (file_slices, coils, rows, cols) =
        (to_usize(file_slices)?, to_usize(coils)?, to_usize(rows)?, to_usize(cols)?);
    if [file_slices, coils, rows, cols].contains(&0) {
        return Err(bad_shape("no empty axis"));
    }
    let (first_slice, slices) = match selection {
        SliceSelection::All => (0, file_slices),
        SliceSelection::Middle => (file_slices / 2, 1),
        SliceSelection::Index(i) if i < file_slices => (i, 1),
        SliceSelection::Index(slice) => {
            return Err(FastMriError::SliceOutOfRange {
                slice,
                slices: file_slices,
                path: path.to_path_buf(),
            })
        }
    };
    let count = [slices, coils, rows, cols].iter().fold(1u128, |a, &d| a.saturating_mul(d as u128));
    // The decoder's buffer holds file elements (8 or 16 bytes), ours `[f32; 2]`.
    check_alloc(count, layout.size)?;
    let n = check_alloc(count, 8)?;
    let mut sel = vec![SliceInfoElem::Slice { start: 0, end: u64::MAX, step: 1 }; shape.len()];
    sel[0] = SliceInfoElem::Slice { start: first_slice as u64, end: (first_slice + slices) as u64, step: 1 };
    let arr = ks
        .read_slice::<C32>(&SliceInfo { selections: sel })
        .map_err(|e| hdf5(e, "dataset `kspace`", path))?;
    if arr.len() != n {
        return Err(hdf5(
            hdf5_reader::error::Error::InvalidData(format!("{} samples decoded, {n} expected", arr.len())),
            "dataset `kspace`",
            path,
        ));
    }
    let data: Vec<[f32; 2]> = arr.iter().map(|c| c.0).collect();
    drop(arr);

    let mask = if names.iter().any(|n| n == "mask") {
        let m = file.dataset("mask").map_err(|e| hdf5(e, "dataset `mask`", path))?;
        if m.shape() != [cols as u64] {
            return Err(FastMriError::Shape {
                dataset: "mask",
                expected: format!("({cols},), one weight per k-space column"),
                shape: m.shape().to_vec(),
                path: path.to_path_buf(),
            });
        }
        Some(read_reals(&m, "mask", path)?)
    } else {
        None
    };

    let header = if names.iter().any(|n| n == "ismrmrd_header") {
        let h = file.dataset("ismrmrd_header").map_err(|e| hdf5(e, "dataset `ismrmrd_header`", path))?;
        let is_string = matches!(h.dtype(), Datatype::String { .. })
            || matches!(h.dtype(), Datatype::VarLen { kind: hdf5_reader::VarLenKind::String, .. });
        if !is_string {
            return Err(FastMriError::Dtype {
                dataset: "ismrmrd_header",
                expected: "a string",
                found: format!("{:?}", h.dtype()),
                path: path.to_path_buf(),
            });
        }
        check_alloc(u128::from(h.shape().iter().product::<u64>()).max(1), 1)?;
        let xml = h.read_string().map_err(|e| hdf5(e, "dataset `ismrmrd_header`", path))?;
        Some(IsmrmrdHeader::parse(&xml))
    } else {
        None
    };

    let mut string_attributes = BTreeMap::new();
    let mut numeric_attributes = BTreeMap::new();
    for a in root.attributes().map_err(|e| hdf5(e, "root attributes", path))? {
        let scalar = a.shape.iter().product::<u64>() == 1;
        if let Ok(s) = a.read_string() {
            string_attributes.insert(a.name.clone(), s);
        } else if scalar {
            if let Some(v) = a
                .read_scalar::<f64>()
                .ok()
                .or_else(|| a.read_scalar::<f32>().ok().map(f64::from))
                .or_else(|| a.read_scalar::<i64>().ok().map(|v| v as f64))
            {
                numeric_attributes.insert(a.name.clone(), v);
            }
        }
    }
    let acquisition = string_attributes.get("acquisition").cloned();

    Ok(FastMriKspace {
        slices,
        first_slice,
        file_slices,
        coils,
        rows,
        cols,
        single_coil,
        data,
        mask,
        header,
        acquisition,
        string_attributes,
        numeric_attributes,
    })
}

/// Byte offsets and size (4 or 8) of the real and imaginary float fields, and their byte
/// orders, when `dt` is a complex compound.
fn complex_layout(dt: &Datatype) -> Option<ComplexLayout> {
    let Datatype::Compound { size, fields } = dt else { return None };
    if fields.len() != 2 {
        return None;
    }
    let find = |names: &[&str]| fields.iter().find(|f| names.contains(&f.name.as_str()));
    let re = find(&["r", "real", "re"])?;
    let im = find(&["i", "imag", "im"])?;
    let float = |d: &Datatype| match d {
        Datatype::FloatingPoint { size, byte_order } if *size == 4 || *size == 8 => {
            Some((*size, *byte_order))
        }
        _ => None,
    };
    let (rs, ro) = float(&re.datatype)?;
    let (is, io) = float(&im.datatype)?;
    let fits = |off: u32, s: u8| off.checked_add(u32::from(s)).is_some_and(|end| end <= *size);
    // Packed pairs only (as numpy, h5py and ISMRMRD write them).
    if rs != is || *size != 2 * u32::from(rs) || !fits(re.byte_offset, rs) || !fits(im.byte_offset, is) {
        return None;
    }
    Some(ComplexLayout {
        size: *size as usize,
        width: rs as usize,
        re: (re.byte_offset as usize, ro),
        im: (im.byte_offset as usize, io),
    })
}

#[derive(Clone, Copy)]
struct ComplexLayout {
    size: usize,
    width: usize,
    re: (usize, hdf5_reader::ByteOrder),
    im: (usize, hdf5_reader::ByteOrder),
}

fn float_at(b: &[u8], off: usize, width: usize, order: hdf5_reader::ByteOrder) -> Option<f32> {
    let s = b.get(off..off.checked_add(width)?)?;
    let big = order == hdf5_reader::ByteOrder::BigEndian;
    Some(match width {
        4 => {
            let a: [u8; 4] = s.try_into().ok()?;
            if big {
                f32::from_be_bytes(a)
            } else {
                f32::from_le_bytes(a)
            }
        }
        _ => {
            let a: [u8; 8] = s.try_into().ok()?;
            (if big { f64::from_be_bytes(a) } else { f64::from_le_bytes(a) }) as f32
        }
    })
}

/// One complex sample, decoded by `hdf5-reader` from a `{r, i}` compound.
#[derive(Clone, Copy, Debug)]
struct C32([f32; 2]);

fn not_complex(dtype: &Datatype) -> hdf5_reader::error::Error {
    hdf5_reader::error::Error::TypeMismatch {
        expected: "complex {r, i}".into(),
        actual: format!("{dtype:?}"),
    }
}

impl hdf5_reader::H5Type for C32 {
    fn hdf5_type() -> Datatype {
        let f = |name: &str, byte_offset| hdf5_reader::CompoundField {
            name: name.into(),
            byte_offset,
            datatype: Datatype::FloatingPoint { size: 4, byte_order: hdf5_reader::ByteOrder::LittleEndian },
        };
        Datatype::Compound { size: 8, fields: vec![f("r", 0), f("i", 4)] }
    }

    fn from_bytes(bytes: &[u8], dtype: &Datatype) -> Result<Self, hdf5_reader::error::Error> {
        let l = complex_layout(dtype).ok_or_else(|| not_complex(dtype))?;
        let re = float_at(bytes, l.re.0, l.width, l.re.1);
        let im = float_at(bytes, l.im.0, l.width, l.im.1);
        match (re, im) {
            (Some(re), Some(im)) => Ok(C32([re, im])),
            _ => Err(hdf5_reader::error::Error::InvalidData(format!(
                "{} bytes for a complex sample of {}",
                bytes.len(),
                l.size
            ))),
        }
    }

    fn element_size(dtype: &Datatype) -> usize {
        complex_layout(dtype).map_or(8, |l| l.size)
    }
}

/// A numeric dataset as `f32` (bool/enum and integers as their values).
fn read_reals(ds: &Dataset, name: &'static str, path: &Path) -> Result<Vec<f32>, FastMriError> {
    let dtype = ds.dtype().clone();
    let base = match &dtype {
        Datatype::Enum { base, .. } => base.as_ref().clone(),
        d => d.clone(),
    };
    let wrong = || FastMriError::Dtype {
        dataset: name,
        expected: "bool, integer or float",
        found: format!("{dtype:?}"),
        path: path.to_path_buf(),
    };
    let (width, signed, float) = match base {
        Datatype::FloatingPoint { size: s @ (4 | 8), .. } => (s as usize, true, true),
        Datatype::FixedPoint { size: s @ (1 | 2 | 4 | 8), signed, .. } => (s as usize, signed, false),
        _ => return Err(wrong()),
    };
    let count = u128::from(ds.shape().iter().product::<u64>());
    check_alloc(count, width)?;
    let bytes = ds.read_native_bytes().map_err(|e| hdf5(e, name, path))?;
    let out = bytes
        .chunks_exact(width)
        .map(|c| {
            let mut a = [0u8; 8];
            a[..width].copy_from_slice(c);
            // Native order after read_native_bytes; sign-extend integers.
            if float {
                if width == 4 {
                    f32::from_ne_bytes([a[0], a[1], a[2], a[3]])
                } else {
                    f64::from_ne_bytes(a) as f32
                }
            } else {
                let v = match (width, signed) {
                    (1, true) => i8::from_ne_bytes([a[0]]) as f64,
                    (1, false) => a[0] as f64,
                    (2, true) => i16::from_ne_bytes([a[0], a[1]]) as f64,
                    (2, false) => u16::from_ne_bytes([a[0], a[1]]) as f64,
                    (4, true) => i32::from_ne_bytes([a[0], a[1], a[2], a[3]]) as f64,
                    (4, false) => u32::from_ne_bytes([a[0], a[1], a[2], a[3]]) as f64,
                    (_, true) => i64::from_ne_bytes(a) as f64,
                    (_, false) => u64::from_ne_bytes(a) as f64,
                };
                v as f32
            }
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<ismrmrdHeader xmlns=\"http://www.ismrm.org/ISMRMRD\"><encoding>\
        <encodedSpace><matrixSize><x>640</x><y>368</y><z>1</z></matrixSize>\
        <fieldOfView_mm><x>280.0</x><y>140.0</y><z>4.5</z></fieldOfView_mm></encodedSpace>\
        <reconSpace><matrixSize><x>320</x><y>320</y><z>1</z></matrixSize>\
        <fieldOfView_mm><x>140</x><y>140</y><z>3</z></fieldOfView_mm></reconSpace>\
        </encoding></ismrmrdHeader>";

    #[test]
    fn header_scan_reads_both_spaces() {
        let h = IsmrmrdHeader::parse(XML);
        assert_eq!(h.encoded, Some(EncodingSpace { matrix: [640, 368, 1], fov_mm: [280.0, 140.0, 4.5] }));
        assert_eq!(h.recon.unwrap().matrix, [320, 320, 1]);
        // fastMRI orientation: read-out (x) along rows.
        assert_eq!(h.pixel_spacing(640, 368), Some([140.0 / 368.0, 280.0 / 640.0]));
        assert_eq!(h.pixel_spacing(368, 640), Some([280.0 / 640.0, 140.0 / 368.0]));
        assert_eq!(h.pixel_spacing(100, 100), None);
        assert_eq!(h.slice_thickness(), Some(4.5));
    }

    #[test]
    fn header_scan_survives_garbage() {
        for s in ["", "<encodedSpace>", "<encodedSpace><matrixSize><x>1</x>", "<x><x></x>", "<encodedSpacex>"]
        {
            let h = IsmrmrdHeader::parse(s);
            assert_eq!(h.encoded, None);
        }
        let zero = XML.replace("<x>640</x>", "<x>0</x>");
        assert_eq!(IsmrmrdHeader::parse(&zero).encoded, None);
    }

    #[test]
    fn not_hdf5_is_typed() {
        let e = read_bytes(b"hello world", SliceSelection::All, Path::new("x.h5")).unwrap_err();
        assert!(matches!(e, FastMriError::NotHdf5 { .. }), "{e}");
    }
}
