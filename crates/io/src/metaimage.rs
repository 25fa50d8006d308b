//! MetaImage (ITK's MetaIO format): `.mha` with the data attached (`LOCAL`) or in files, and
//! `.mhd` with `ElementDataFile` naming one file, a `LIST` of files, or a printf-style pattern
//! (`slice%03d.raw 1 10 1 [subdim]`).
//!
//! Read: `ElementType` `MET_CHAR` … `MET_DOUBLE` (`MET_LONG`/`MET_ULONG` are 4 bytes in MetaIO,
//! and the `_ARRAY` variants are accepted with one channel); `DimSize`; `ElementSpacing`
//! (`ElementSize` when no spacing is given); origin from `Offset`, `Origin` or `Position`;
//! direction from `TransformMatrix`, `Rotation` or `Orientation` (row *i* lists the world
//! direction of index axis *i*, as MetaIO stores it: ITK's direction matrix transposed);
//! `BinaryData` (ASCII numbers when False); `BinaryDataByteOrderMSB` / `ElementByteOrderMSB`;
//! `CompressedData = True` (zlib stream, gzip also accepted; `.zraw`); `HeaderSize`: the
//! data's offset in each data file, for `LOCAL` data counted from the start of the `.mha` as
//! MetaIO does (−1: the data ends the file, uncompressed only).
//! `ElementNumberOfChannels` > 1 (vector/colour pixels) is refused with
//! [`MetaImageError::ReadDims`], as are extra dimensions of size > 1. 2-D images are read as
//! depth-1 volumes with a +z normal of 1 mm. `AnatomicalOrientation` is informative only
//! (ITK ignores it too).
//!
//! Write: `.mha` holds header and data in one file; `.mhd` writes the header and
//! `<stem>.raw` (`.zraw` when compressed) beside it. [`MetaImageWriteOptions::compression`]
//! chooses zlib ([`MetaCompression::None`] by default, as ITK). Numbers are printed with the
//! shortest decimal that reads back as the same `f64`, so geometry is exact.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use hounsfield_core::{check_alloc, AnyVolume, CoreError, Geometry};

use crate::atomic::write_atomic;
use crate::nifti::voxels::{self, ElemType, Encoding, Place, Slab, SlabError};

/// Errors reading or writing MetaImage.
#[derive(Debug, thiserror::Error)]
pub enum MetaImageError {
    /// The file could not be opened or read from disk.
    #[error("cannot read MetaImage file: {source}: {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The header is not MetaImage, or a field is missing or malformed.
    #[error("cannot read MetaImage header: {reason}: {}", .path.display())]
    ReadHeader {
        /// What is wrong (names the field).
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The `ElementType` cannot be held in a scalar volume.
    #[error("unsupported MetaImage ElementType {name:?}: {}", .path.display())]
    UnsupportedType {
        /// The type as written.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// The image is not a 1- to 3-D single-channel volume.
    #[error("cannot read MetaImage of DimSize {dims:?}: {reason}: {}", .path.display())]
    ReadDims {
        /// `DimSize` as declared.
        dims: Vec<u64>,
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The header declares more data than the memory cap allows.
    #[error("cannot allocate MetaImage voxels: {source}: {}", .path.display())]
    MemoryCap {
        /// The cap error.
        source: CoreError,
        /// The file.
        path: PathBuf,
    },
    /// A data file ends before the voxels the header declares.
    #[error("MetaImage data truncated: need {need} bytes, found {got}: {}", .path.display())]
    ReadData {
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        got: u64,
        /// The data file.
        path: PathBuf,
    },
    /// The zlib stream is corrupt.
    #[error("cannot decompress MetaImage data: {source}: {}", .path.display())]
    Decompress {
        /// The decoder's error.
        source: io::Error,
        /// The data file.
        path: PathBuf,
    },
    /// ASCII data (`BinaryData = False`) that is not numbers of the element type.
    #[error("cannot parse MetaImage text data: {reason}: {}", .path.display())]
    ReadText {
        /// What is wrong.
        reason: String,
        /// The data file.
        path: PathBuf,
    },
    /// Spacing, origin or direction do not give a usable geometry.
    #[error("invalid MetaImage geometry: {reason}: {}", .path.display())]
    ReadGeometry {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// A data file cannot be located (or the header was given as bytes).
    #[error("cannot locate MetaImage data file: {reason}: {}", .path.display())]
    DataFile {
        /// What is wrong.
        reason: String,
        /// The header file.
        path: PathBuf,
    },
    /// The volume cannot be written as MetaImage (geometry not finite, …).
    #[error("cannot write MetaImage: {reason}: {}", .path.display())]
    WriteVolume {
        /// What is wrong.
        reason: String,
        /// The target file.
        path: PathBuf,
    },
    /// Writing failed (nothing is left under the target names).
    #[error("cannot write MetaImage file: {source}: {}", .path.display())]
    Write {
        /// The OS or encoder error.
        source: io::Error,
        /// The target file.
        path: PathBuf,
    },
}

/// Whether the writer compresses the voxels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetaCompression {
    /// Raw little-endian voxels (`CompressedData = False`), ITK's default.
    #[default]
    None,
    /// A zlib stream (`CompressedData = True`, `.zraw` for `.mhd`), level 1: fast, most of the
    /// size gain.
    Zlib,
}

/// Options for [`write_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetaImageWriteOptions {
    /// Voxel compression; [`MetaCompression::None`] by default.
    pub compression: MetaCompression,
}

/// Label for bytes in memory.
const MEMORY: &str = "<memory>";

/// Longest header accepted (see the NRRD reader: guards against binary input without
/// newlines).
const MAX_HEADER: u64 = 1 << 20;

fn elem_type(name: &str) -> Result<ElemType, ()> {
    let n = name.trim().to_ascii_uppercase();
    let base = n.strip_suffix("_ARRAY").unwrap_or(&n);
    Ok(match base {
        "MET_CHAR" => ElemType::I8,
        "MET_UCHAR" => ElemType::U8,
        "MET_SHORT" => ElemType::I16,
        "MET_USHORT" => ElemType::U16,
        // MetaIO's MET_LONG/MET_ULONG are 4 bytes (MET_ValueTypeSize); 8-byte ones are *_LONG_LONG.
        "MET_INT" | "MET_LONG" => ElemType::I32,
        "MET_UINT" | "MET_ULONG" => ElemType::U32,
        "MET_FLOAT" => ElemType::F32,
        "MET_DOUBLE" => ElemType::F64,
        _ => return Err(()),
    })
}

fn type_name(e: ElemType) -> &'static str {
    match e {
        ElemType::I8 => "MET_CHAR",
        ElemType::U8 => "MET_UCHAR",
        ElemType::I16 => "MET_SHORT",
        ElemType::U16 => "MET_USHORT",
        ElemType::I32 => "MET_INT",
        ElemType::U32 => "MET_UINT",
        ElemType::F32 => "MET_FLOAT",
        ElemType::F64 => "MET_DOUBLE",
    }
}

/// The header's key/value pairs (keys lower-cased), the data-file line, any LIST names, and
/// the header's length in bytes.
#[derive(Debug, Default)]
struct Header {
    fields: Vec<(String, String)>,
    data_file: Option<String>,
    list: Vec<String>,
    header_len: u64,
}

impl Header {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Reads `Key = Value` lines up to and including `ElementDataFile` (and, for `LIST`, the file
/// names after it).
fn parse_header(r: &mut dyn BufRead, path: &Path) -> Result<Header, MetaImageError> {
    let bad = |reason: String| MetaImageError::ReadHeader { reason, path: path.into() };
    let mut r = r.take(MAX_HEADER);
    let mut h = Header::default();
    let mut line = Vec::new();
    let mut in_list = false;
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|source| MetaImageError::Open { source, path: path.into() })?;
        if n == 0 {
            break;
        }
        h.header_len += n as u64;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if in_list {
            h.list.extend(text.split_whitespace().map(str::to_owned));
            continue;
        }
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let Some((key, value)) = text.split_once('=') else {
            if h.fields.is_empty() {
                return Err(bad(format!("not a MetaImage header (first line {:?})", truncate(text))));
            }
            return Err(bad(format!("malformed line {:?}", truncate(text))));
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_owned());
        if h.fields.is_empty() && h.data_file.is_none() && !is_known_key(&key) {
            return Err(bad(format!("not a MetaImage header (first key {key:?})")));
        }
        if key == "elementdatafile" {
            in_list = value.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("LIST"));
            h.data_file = Some(value);
            if !in_list {
                break;
            }
            continue;
        }
        h.fields.push((key, value));
    }
    if h.data_file.is_none() {
        return Err(bad("missing ElementDataFile (it must end the header)".into()));
    }
    Ok(h)
}

/// Keys a MetaImage header can start with (so a random text file is not taken for one).
fn is_known_key(k: &str) -> bool {
    matches!(
        k,
        "objecttype"
            | "objectsubtype"
            | "ndims"
            | "comment"
            | "name"
            | "id"
            | "parentid"
            | "formtypename"
            | "dimsize"
            | "elementtype"
            | "binarydata"
            | "binarydatabyteordermsb"
            | "elementbyteordermsb"
            | "compresseddata"
            | "headersize"
            | "elementspacing"
            | "offset"
            | "origin"
            | "position"
            | "transformmatrix"
            | "rotation"
            | "orientation"
            | "modality"
    )
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn numbers(v: &str) -> Option<Vec<f64>> {
    v.split_whitespace().map(|t| t.parse::<f64>().ok()).collect()
}

/// Everything decided from the header before reading voxels.
struct Plan {
    elem: ElemType,
    dims: [usize; 3],
    geometry: Geometry,
    big_endian: bool,
    encoding: Encoding,
    header_size: i64,
    sizes: Vec<u64>,
}

fn plan(h: &Header, path: &Path) -> Result<Plan, MetaImageError> {
    let bad = |reason: String| MetaImageError::ReadHeader { reason, path: path.into() };
    let geo = |reason: String| MetaImageError::ReadGeometry { reason, path: path.into() };
    if let Some(t) = h.get("objecttype") {
        if !t.eq_ignore_ascii_case("image") {
            return Err(bad(format!("ObjectType {t:?} is not Image")));
        }
    }
    let tname = h.get("elementtype").ok_or_else(|| bad("missing ElementType".into()))?;
    let elem = elem_type(tname)
        .map_err(|_| MetaImageError::UnsupportedType { name: tname.to_owned(), path: path.into() })?;
    let sizes: Vec<u64> = h
        .get("dimsize")
        .ok_or_else(|| bad("missing DimSize".into()))?
        .split_whitespace()
        .map(|t| t.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("DimSize is not whole numbers".into()))?;
    let ndims: usize = match h.get("ndims") {
        Some(n) => n.parse().map_err(|_| bad(format!("NDims {n:?}")))?,
        None => sizes.len(),
    };
    let dims_err =
        |reason: String| MetaImageError::ReadDims { dims: sizes.clone(), reason, path: path.into() };
    if !(1..=16).contains(&ndims) || sizes.len() != ndims {
        return Err(dims_err(format!("{} sizes for NDims {ndims}", sizes.len())));
    }
    if sizes.contains(&0) {
        return Err(dims_err("a size of 0".into()));
    }
    if let Some(k) = (3..ndims).find(|&k| sizes[k] > 1) {
        return Err(dims_err(format!(
            "dimension {} has size {}; only 3-D volumes can be read",
            k + 1,
            sizes[k]
        )));
    }
    let channels: u64 = match h.get("elementnumberofchannels") {
        Some(c) => c.parse().map_err(|_| bad(format!("ElementNumberOfChannels {c:?}")))?,
        None => 1,
    };
    if channels != 1 {
        return Err(dims_err(format!("{channels} channels per voxel; only scalar volumes can be read")));
    }
    let count = sizes.iter().fold(1u128, |a, &s| a.saturating_mul(s as u128));
    check_alloc(count, elem.size())
        .map_err(|source| MetaImageError::MemoryCap { source, path: path.into() })?;
    let mut dims = [1usize; 3];
    for k in 0..ndims.min(3) {
        dims[k] = sizes[k] as usize;
    }

    let flag = |keys: &[&str], default: bool| -> Result<bool, MetaImageError> {
        match keys.iter().find_map(|k| h.get(k)) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| bad(format!("{} = {v:?} is not True/False", keys[0]))),
        }
    };
    let binary = flag(&["binarydata"], true)?;
    let compressed = flag(&["compresseddata"], false)?;
    let big_endian = flag(&["binarydatabyteordermsb", "elementbyteordermsb"], false)?;
    let encoding = match (binary, compressed) {
        (true, false) => Encoding::Raw,
        (true, true) => Encoding::Deflate,
        (false, false) => Encoding::Text,
        (false, true) => return Err(bad("CompressedData with BinaryData = False".into())),
    };
    let header_size: i64 = match h.get("headersize") {
        Some(v) => {
            v.parse().ok().filter(|s: &i64| *s >= -1).ok_or_else(|| bad(format!("HeaderSize {v:?}")))?
        }
        None => 0,
    };
    if header_size == -1 && encoding != Encoding::Raw {
        return Err(bad("HeaderSize = -1 needs uncompressed binary data".into()));
    }

    // Geometry: per-axis vectors for the first min(ndims, 3) axes.
    let n = ndims;
    let n3 = n.min(3);
    let vector = |keys: &[&str], len: usize| -> Result<Option<Vec<f64>>, MetaImageError> {
        match keys.iter().find_map(|k| h.get(k)) {
            None => Ok(None),
            Some(v) => match numbers(v) {
                Some(x) if x.len() >= len => Ok(Some(x)),
                _ => Err(geo(format!("{} = {:?} is not {len} numbers", keys[0], truncate(v)))),
            },
        }
    };
    let spacing = match vector(&["elementspacing"], n)? {
        Some(s) => s,
        None => vector(&["elementsize"], n)?.unwrap_or_else(|| vec![1.0; n]),
    };
    let origin = vector(&["offset", "origin", "position"], n)?.unwrap_or_else(|| vec![0.0; n]);
    let matrix = vector(&["transformmatrix", "rotation", "orientation"], n * n)?;
    let mut g = Geometry::default();
    for k in 0..n3 {
        g.spacing[k] = spacing[k];
        g.origin[k] = origin[k];
        if let Some(m) = &matrix {
            // Row k of MetaIO's matrix is the world direction of index axis k.
            for r in 0..n3 {
                g.direction[r][k] = m[k * n + r];
            }
        }
    }
    if n3 == 2 && matrix.is_some() {
        g.direction[2] = [0.0, 0.0, 1.0];
    }
    g.validate_with(false).map_err(|e| geo(e.to_string()))?;
    Ok(Plan { elem, dims, geometry: g, big_endian, encoding, header_size, sizes })
}

/// The data files (or the attached data) of a header read from `path`; `whole` is the header's
/// own file from its first byte (for `LOCAL` data).
fn slabs<'a>(
    h: &Header,
    plan: &Plan,
    path: &Path,
    whole: Place<'a>,
) -> Result<Vec<Slab<'a>>, MetaImageError> {
    let bad = |reason: String| MetaImageError::DataFile { reason, path: path.into() };
    let spec = h.data_file.as_deref().unwrap_or("LOCAL");
    let words: Vec<&str> = spec.split_whitespace().collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    // HeaderSize is skipped in the stored bytes of each data file (before decompression).
    let (skip, tail) = if plan.header_size < 0 { (0, -1) } else { (plan.header_size as u64, 0) };
    let slab = |place: Place<'a>| Slab { place, line_skip: 0, byte_skip: tail };
    let file = |name: &str| {
        let p = Path::new(name);
        let path = if p.is_absolute() { p.to_path_buf() } else { dir.join(p) };
        slab(Place::File { path, offset: skip })
    };
    let expected = |subdim: Option<&&str>| -> Result<u64, MetaImageError> {
        let n = plan.sizes.len();
        let sub = match subdim {
            None => n.saturating_sub(1),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|d| (1..=n).contains(d))
                .ok_or_else(|| bad(format!("sub-dimension {s:?}")))?,
        };
        Ok(plan.sizes[sub..].iter().product())
    };
    Ok(match words.as_slice() {
        [w] if w.eq_ignore_ascii_case("LOCAL") => {
            // With LOCAL data MetaIO takes HeaderSize as the offset of the data from the start
            // of the file (the size of the whole header), not as bytes after the header text.
            let start = if plan.header_size > 0 { skip } else { h.header_len };
            let place = match whole {
                Place::File { path, .. } => Place::File { path, offset: start },
                Place::Memory(b) => {
                    Place::Memory(usize::try_from(start).ok().and_then(|s| b.get(s..)).unwrap_or(&[]))
                }
            };
            vec![slab(place)]
        }
        [w, rest @ ..] if w.eq_ignore_ascii_case("LIST") => {
            let want = expected(rest.first())?;
            if want > voxels::MAX_DATA_FILES as u64 || h.list.len() as u64 != want {
                return Err(bad(format!(
                    "ElementDataFile LIST names {} files, {want} expected",
                    h.list.len()
                )));
            }
            h.list.iter().map(|n| file(n)).collect()
        }
        [fmt, min, max, step, rest @ ..] if fmt.contains('%') => {
            let want = expected(rest.first())?;
            let num = |s: &str| s.parse::<i64>().map_err(|_| bad(format!("pattern bound {s:?}")));
            let names =
                voxels::pattern_names(fmt, num(min)?, num(max)?, num(step)?, want as usize).map_err(bad)?;
            if names.len() as u64 != want {
                return Err(bad(format!("pattern gives {} files, {want} expected", names.len())));
            }
            names.iter().map(|n| file(n)).collect()
        }
        _ => vec![file(spec)],
    })
}

fn slab_error(e: SlabError) -> MetaImageError {
    match e {
        SlabError::Open { path, source } => MetaImageError::Open { path, source },
        SlabError::Short { need, got, path } => MetaImageError::ReadData { need, got, path },
        SlabError::Decompress { path, source } => MetaImageError::Decompress { path, source },
        SlabError::Text { path, reason } => MetaImageError::ReadText { path, reason },
    }
}

/// Reads a `.mha` / `.mhd` file into a volume in LPS. See the module docs for what is
/// supported.
pub fn read(path: &Path) -> Result<AnyVolume, MetaImageError> {
    let file = File::open(path).map_err(|source| MetaImageError::Open { source, path: path.into() })?;
    let h = parse_header(&mut BufReader::new(file), path)?;
    let plan = plan(&h, path)?;
    let slabs = slabs(&h, &plan, path, Place::File { path: path.into(), offset: 0 })?;
    voxels::read_slabs(plan.elem, plan.dims, plan.geometry, plan.big_endian, plan.encoding, &slabs)
        .map_err(slab_error)
}

/// Parses a MetaImage with attached data (`ElementDataFile = LOCAL`) held in memory.
pub fn read_from_bytes(bytes: &[u8]) -> Result<AnyVolume, MetaImageError> {
    let path = Path::new(MEMORY);
    let mut r = bytes;
    let h = parse_header(&mut r, path)?;
    let plan = plan(&h, path)?;
    if !h.data_file.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("LOCAL")) {
        return Err(MetaImageError::DataFile {
            reason: "the header names a separate data file: read it with read(path)".into(),
            path: path.into(),
        });
    }
    let slabs = slabs(&h, &plan, path, Place::Memory(bytes))?;
    voxels::read_slabs(plan.elem, plan.dims, plan.geometry, plan.big_endian, plan.encoding, &slabs)
        .map_err(slab_error)
}

/// Writes a volume as uncompressed MetaImage: see [`write_with`].
pub fn write(path: &Path, volume: &AnyVolume) -> Result<(), MetaImageError> {
    write_with(path, volume, &MetaImageWriteOptions::default())
}

fn num(v: f64) -> String {
    format!("{v:?}")
}

fn header_text(v: &AnyVolume, compressed_size: Option<usize>, data_file: &str) -> String {
    let g = v.geometry();
    let [nx, ny, nz] = v.dims();
    let d = &g.direction;
    // Row k of TransformMatrix = direction of index axis k = column k of ours.
    let tm: Vec<String> = (0..3).flat_map(|k| (0..3).map(move |r| num(d[r][k]))).collect();
    let mut h = String::new();
    h.push_str("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n");
    match compressed_size {
        Some(n) => h.push_str(&format!("CompressedData = True\nCompressedDataSize = {n}\n")),
        None => h.push_str("CompressedData = False\n"),
    }
    h.push_str(&format!("TransformMatrix = {}\n", tm.join(" ")));
    h.push_str(&format!("Offset = {} {} {}\n", num(g.origin[0]), num(g.origin[1]), num(g.origin[2])));
    h.push_str("CenterOfRotation = 0 0 0\n");
    h.push_str(&format!(
        "ElementSpacing = {} {} {}\n",
        num(g.spacing[0]),
        num(g.spacing[1]),
        num(g.spacing[2])
    ));
    h.push_str(&format!("DimSize = {nx} {ny} {nz}\n"));
    h.push_str(&format!("ElementType = {}\n", type_name(ElemType::of(v))));
    h.push_str(&format!("ElementDataFile = {data_file}\n"));
    h
}

/// The zlib stream of the voxels (the header needs its size first).
fn compress(v: &AnyVolume) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
    voxels::write_volume(v, false, &mut enc)?;
    enc.finish()
}

/// Writes a volume as MetaImage with `options`: `.mha` attached (`ElementDataFile = LOCAL`);
/// `.mhd` with `<stem>.raw` (`.zraw` when compressed) beside it. Files appear only when
/// complete; a failed `.mhd` write removes the data file again.
pub fn write_with(
    path: &Path,
    volume: &AnyVolume,
    options: &MetaImageWriteOptions,
) -> Result<(), MetaImageError> {
    volume
        .geometry()
        .validate_with(false)
        .map_err(|e| MetaImageError::WriteVolume { reason: e.to_string(), path: path.into() })?;
    let io_err = |source| MetaImageError::Write { source, path: path.into() };
    let packed = match options.compression {
        MetaCompression::None => None,
        MetaCompression::Zlib => Some(compress(volume).map_err(io_err)?),
    };
    let body = |w: &mut dyn Write| match &packed {
        Some(z) => w.write_all(z),
        None => voxels::write_volume(volume, false, w),
    };
    let detached = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mhd"));
    let size = packed.as_ref().map(Vec::len);
    if !detached {
        let header = header_text(volume, size, "LOCAL");
        return write_atomic::<io::Error, _>(path, |w| {
            w.write_all(header.as_bytes())?;
            body(w)
        })
        .map_err(io_err);
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let data_name = format!("{stem}.{}", if packed.is_some() { "zraw" } else { "raw" });
    let data_path = path.with_file_name(&data_name);
    write_atomic::<io::Error, _>(&data_path, |w| body(w))
        .map_err(|source| MetaImageError::Write { source, path: data_path.clone() })?;
    let header = header_text(volume, size, &data_name);
    if let Err(source) = write_atomic::<io::Error, _>(path, |w| w.write_all(header.as_bytes())) {
        let _ = std::fs::remove_file(&data_path);
        return Err(io_err(source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Volume;

    #[test]
    fn element_types() {
        assert_eq!(elem_type("MET_LONG"), Ok(ElemType::I32));
        assert_eq!(elem_type("met_uchar_array"), Ok(ElemType::U8));
        assert!(elem_type("MET_LONG_LONG").is_err());
        assert!(elem_type("MET_STRING").is_err());
    }

    #[test]
    fn attached_round_trip_both_compressions() {
        let (s, c) = 0.3f64.sin_cos();
        let g = Geometry {
            origin: [1.0 / 3.0, -7.25, 1e-9],
            spacing: [0.1, 0.2, 0.7],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        };
        let v: AnyVolume =
            Volume::from_vec([2, 2, 2], g, vec![1i16, -2, 3, -4, 5, -6, 7, i16::MIN]).unwrap().into();
        let dir = tempfile::tempdir().unwrap();
        for compression in [MetaCompression::None, MetaCompression::Zlib] {
            for name in ["v.mha", "v.mhd"] {
                let p = dir.path().join(name);
                write_with(&p, &v, &MetaImageWriteOptions { compression }).unwrap();
                let back = read(&p).unwrap();
                assert_eq!(back.to_f64().data(), v.to_f64().data());
                // Shortest round-trip decimals: direction and spacing read back exactly.
                assert_eq!(back.geometry(), &g, "{name} {compression:?}");
                if name == "v.mha" {
                    assert_eq!(read_from_bytes(&std::fs::read(&p).unwrap()).unwrap(), back);
                }
            }
        }
    }

    #[test]
    fn ascii_two_d() {
        let text = b"ObjectType = Image\nNDims = 2\nBinaryData = False\nDimSize = 3 2\nElementSpacing = 0.5 2\n\
            Offset = 10 20\nTransformMatrix = 0 1 -1 0\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n1 2 3\n4 5 6.5\n";
        let v = read_from_bytes(text).unwrap();
        assert_eq!(v.dims(), [3, 2, 1]);
        let g = v.geometry();
        assert_eq!(g.origin, [10.0, 20.0, 0.0]);
        assert_eq!(g.spacing, [0.5, 2.0, 1.0]);
        // Axis 0 points along +y, axis 1 along −x.
        assert_eq!(g.direction, [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!(v.to_f64().data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
    }
}
