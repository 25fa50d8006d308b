//! NRRD (teem's "nearly raw raster data"), attached `.nrrd` and detached `.nhdr`.
//!
//! Read: format versions NRRD0001–NRRD0005; every `type` name and alias of the
//! [format spec](http://teem.sourceforge.net/nrrd/format.html) for 8- to 32-bit integers,
//! `float` and `double`; encodings `raw`, `gzip`/`gz` (zlib streams accepted too), `ascii`/
//! `text`/`txt` and `hex`; `endian`; `byte skip` (−1 = data ends the file, raw only) and
//! `line skip`; `data file` as one file (relative to the header), `LIST [subdim]` or a
//! printf-style pattern `name%03d.raw <min> <max> <step> [subdim]`; `space` /
//! `space dimension`, `space directions`, `space origin`, `spacings` (no space), `space units`
//! (mm, with m/cm/µm converted).
//!
//! | `space` | to LPS |
//! |---|---|
//! | `left-posterior-superior` (`LPS`), `-time` | as is |
//! | `right-anterior-superior` (`RAS`), `-time` | x, y negated |
//! | `left-anterior-superior` (`LAS`), `-time` | y negated |
//! | `scanner-xyz`, `3D-right-handed`(`-time`), `space dimension: N` alone | taken as LPS (as ITK does) |
//! | `3D-left-handed`(`-time`) | [`NrrdError::ReadGeometry`] |
//!
//! Axes whose `space directions` entry is `none` (or whose `kinds` is not `domain`/`space`/
//! `time` when there are no directions) are non-spatial. [`read`] returns one scalar volume:
//! a non-spatial axis of size > 1 is refused with [`NrrdError::ReadDims`] — a leading one
//! (fastest; `kinds: vector`, `RGB-color`, `3-vector`, …) is a vector/colour image, a later one
//! a time series. Non-spatial axes of size 1 are dropped, 2-D images become depth-1 volumes.
//! Without `space directions` the grid is axis-aligned with `spacings` (1 where absent) and
//! origin `axis mins` (plus half a spacing for cell centring, teem's default; 0 when absent),
//! as ITK reads it. `endian` defaults to little when missing. Unlike ITK, which ignores
//! `space units`, metre/centimetre/micrometre units are converted to mm.
//!
//! Write: NRRD0004, `space: left-posterior-superior`, full `space directions` and
//! `space origin` printed with shortest round-trip decimals (geometry is exact), teem's type
//! names, little-endian. `.nrrd` is attached; `.nhdr` writes the header and a detached
//! `<stem>.raw` (`.raw.gz` gzip, `.txt` ascii) beside it. The encoding is
//! [`NrrdWriteOptions::encoding`] ([`NrrdEncoding::Raw`] by default).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use hounsfield_core::linalg::{self, Mat3};
use hounsfield_core::{check_alloc, AnyVolume, CoreError, Geometry};

use crate::atomic::write_atomic;
use crate::nifti::voxels::{self, ElemType, Encoding, Place, Slab, SlabError};

/// Errors reading or writing NRRD.
#[derive(Debug, thiserror::Error)]
pub enum NrrdError {
    /// The file could not be opened or read from disk.
    #[error("cannot read NRRD file: {source}: {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The header is not NRRD, or a field is missing or malformed.
    #[error("cannot read NRRD header: {reason}: {}", .path.display())]
    ReadHeader {
        /// What is wrong (names the field).
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The `type` is not one a scalar volume can hold (64-bit integers, `block`).
    #[error("unsupported NRRD type {name:?}: {}", .path.display())]
    UnsupportedType {
        /// The type as written.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// The `encoding` is not supported (bzip2, zstd, …).
    #[error("unsupported NRRD encoding {name:?} (supported: raw, gzip, ascii, hex): {}", .path.display())]
    UnsupportedEncoding {
        /// The encoding as written.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// The image is not a 1- to 3-D scalar volume (vector, colour or time axis).
    #[error("cannot read NRRD image of sizes {sizes:?}: {reason}: {}", .path.display())]
    ReadDims {
        /// `sizes` as declared.
        sizes: Vec<u64>,
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The header declares more data than the memory cap allows.
    #[error("cannot allocate NRRD voxels: {source}: {}", .path.display())]
    MemoryCap {
        /// The cap error.
        source: CoreError,
        /// The file.
        path: PathBuf,
    },
    /// A data file ends before the voxels the header declares.
    #[error("NRRD data truncated: need {need} bytes, found {got}: {}", .path.display())]
    ReadData {
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        got: u64,
        /// The data file.
        path: PathBuf,
    },
    /// A gzip/zlib data stream is corrupt.
    #[error("cannot decompress NRRD data: {source}: {}", .path.display())]
    Decompress {
        /// The decoder's error.
        source: io::Error,
        /// The data file.
        path: PathBuf,
    },
    /// ASCII/hex data that is not numbers of the declared type, or too few of them.
    #[error("cannot parse NRRD text data: {reason}: {}", .path.display())]
    ReadText {
        /// What is wrong.
        reason: String,
        /// The data file.
        path: PathBuf,
    },
    /// `space`, `space directions`, `space origin` or `spacings` do not give a usable geometry.
    #[error("invalid NRRD geometry: {reason}: {}", .path.display())]
    ReadGeometry {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// A detached data file cannot be located (or the header was given as bytes).
    #[error("cannot locate NRRD data file: {reason}: {}", .path.display())]
    DataFile {
        /// What is wrong.
        reason: String,
        /// The header file.
        path: PathBuf,
    },
    /// The volume cannot be written as NRRD (geometry not finite, …).
    #[error("cannot write NRRD: {reason}: {}", .path.display())]
    WriteVolume {
        /// What is wrong.
        reason: String,
        /// The target file.
        path: PathBuf,
    },
    /// Writing failed (nothing is left under the target names).
    #[error("cannot write NRRD file: {source}: {}", .path.display())]
    Write {
        /// The OS or encoder error.
        source: io::Error,
        /// The target file.
        path: PathBuf,
    },
}

/// How the writer encodes voxels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NrrdEncoding {
    /// Raw little-endian binary: fastest to read and write (ITK's default too).
    #[default]
    Raw,
    /// gzip-compressed binary (level 1: fast, most of the size gain).
    Gzip,
    /// ASCII decimal numbers, one x-row per line (lossless; large and slow, for small files).
    Ascii,
}

/// Options for [`write_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NrrdWriteOptions {
    /// Voxel encoding; [`NrrdEncoding::Raw`] by default.
    pub encoding: NrrdEncoding,
}

/// Label for bytes in memory.
const MEMORY: &str = "<memory>";

/// Longest header accepted (fields, comments and key/value pairs): far above real headers,
/// small enough that a binary file without newlines cannot make us buffer it whole.
const MAX_HEADER: u64 = 1 << 20;

/// The element type of a NRRD `type` name (all aliases of the spec, case-insensitive).
fn elem_type(name: &str) -> Result<ElemType, ()> {
    let n = name.trim().to_ascii_lowercase();
    Ok(match n.as_str() {
        "signed char" | "int8" | "int8_t" => ElemType::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => ElemType::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => ElemType::I16,
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => ElemType::U16,
        "int" | "signed int" | "int32" | "int32_t" => ElemType::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => ElemType::U32,
        "float" => ElemType::F32,
        "double" => ElemType::F64,
        _ => return Err(()),
    })
}

/// teem's canonical name, as the writer prints it.
fn type_name(e: ElemType) -> &'static str {
    match e {
        ElemType::I8 => "signed char",
        ElemType::U8 => "unsigned char",
        ElemType::I16 => "short",
        ElemType::U16 => "unsigned short",
        ElemType::I32 => "int",
        ElemType::U32 => "unsigned int",
        ElemType::F32 => "float",
        ElemType::F64 => "double",
    }
}

/// The fields we use, as written (after the first ": ").
#[derive(Debug, Default)]
struct Fields {
    version: u8,
    dimension: Option<String>,
    type_: Option<String>,
    sizes: Option<String>,
    encoding: Option<String>,
    endian: Option<String>,
    space: Option<String>,
    space_dimension: Option<String>,
    space_directions: Option<String>,
    space_origin: Option<String>,
    space_units: Option<String>,
    spacings: Option<String>,
    axis_mins: Option<String>,
    centers: Option<String>,
    kinds: Option<String>,
    byte_skip: Option<String>,
    line_skip: Option<String>,
    data_file: Option<String>,
    /// File names after `data file: LIST`.
    list: Vec<String>,
    /// Bytes of header (up to and including the blank line, or the whole detached header).
    header_len: u64,
}

/// Reads header lines from `r` until a blank line or the end.
fn parse_header(r: &mut dyn BufRead, path: &Path) -> Result<Fields, NrrdError> {
    let bad = |reason: String| NrrdError::ReadHeader { reason, path: path.into() };
    let mut r = r.take(MAX_HEADER);
    let mut f = Fields::default();
    let mut line = Vec::new();
    let mut first = true;
    let mut in_list = false;
    loop {
        line.clear();
        let n =
            r.read_until(b'\n', &mut line).map_err(|source| NrrdError::Open { source, path: path.into() })?;
        if n == 0 {
            if first {
                return Err(bad("empty file".into()));
            }
            if f.header_len >= MAX_HEADER {
                return Err(bad(format!("header longer than {MAX_HEADER} bytes")));
            }
            break;
        }
        f.header_len += n as u64;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if first {
            first = false;
            let v = text.strip_prefix("NRRD000").and_then(|d| d.parse::<u8>().ok());
            match v {
                Some(v @ 1..=9) => f.version = v,
                _ => return Err(bad(format!("not a NRRD file (first line {:?})", truncate(text)))),
            }
            continue;
        }
        if text.is_empty() {
            break;
        }
        if in_list {
            f.list.push(text.trim().to_owned());
            continue;
        }
        if text.starts_with('#') {
            continue;
        }
        let field = text.find(": ");
        let keyval = text.find(":=");
        let (key, value) = match (field, keyval) {
            (_, Some(k)) if field.is_none_or(|f| k < f) => continue, // key:=value pair, unused
            (Some(i), _) => (&text[..i], &text[i + 2..]),
            _ => return Err(bad(format!("malformed line {:?}", truncate(text)))),
        };
        let value = value.trim().to_owned();
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "dimension" => &mut f.dimension,
            "type" => &mut f.type_,
            "sizes" => &mut f.sizes,
            "encoding" => &mut f.encoding,
            "endian" => &mut f.endian,
            "space" => &mut f.space,
            "space dimension" => &mut f.space_dimension,
            "space directions" => &mut f.space_directions,
            "space origin" => &mut f.space_origin,
            "space units" => &mut f.space_units,
            "spacings" => &mut f.spacings,
            "axis mins" | "axismins" => &mut f.axis_mins,
            "centers" | "centerings" => &mut f.centers,
            "kinds" => &mut f.kinds,
            "byte skip" | "byteskip" => &mut f.byte_skip,
            "line skip" | "lineskip" => &mut f.line_skip,
            "data file" | "datafile" => {
                in_list = value.split_whitespace().next().is_some_and(|w| w == "LIST");
                &mut f.data_file
            }
            _ => continue, // content, centers, labels, units, thicknesses, measurement frame, …
        };
        *slot = Some(value);
    }
    Ok(f)
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Parses `(a,b,c) none (d,e,f)` into one entry per axis.
fn parse_vectors(s: &str) -> Result<Vec<Option<Vec<f64>>>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("none") {
            out.push(None);
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')').ok_or_else(|| format!("unclosed vector in {:?}", truncate(s)))?;
            let nums: Result<Vec<f64>, _> = r[..end].split(',').map(|t| t.trim().parse::<f64>()).collect();
            out.push(Some(nums.map_err(|_| format!("bad number in vector {:?}", truncate(&r[..end])))?));
            rest = r[end + 1..].trim_start();
        } else {
            return Err(format!("expected a vector or none in {:?}", truncate(rest)));
        }
    }
    Ok(out)
}

/// The sign flips that take a NRRD `space` to LPS, its dimension, and whether it has time.
fn space_frame(space: &str) -> Result<([f64; 3], usize), String> {
    let s = space.trim().to_ascii_lowercase();
    Ok(match s.as_str() {
        "left-posterior-superior" | "lps" => ([1.0, 1.0, 1.0], 3),
        "right-anterior-superior" | "ras" => ([-1.0, -1.0, 1.0], 3),
        "left-anterior-superior" | "las" => ([1.0, -1.0, 1.0], 3),
        "left-posterior-superior-time" | "lpst" => ([1.0, 1.0, 1.0], 4),
        "right-anterior-superior-time" | "rast" => ([-1.0, -1.0, 1.0], 4),
        "left-anterior-superior-time" | "last" => ([1.0, -1.0, 1.0], 4),
        "scanner-xyz" | "3d-right-handed" => ([1.0, 1.0, 1.0], 3),
        "3d-right-handed-time" | "scanner-xyz-time" => ([1.0, 1.0, 1.0], 4),
        "3d-left-handed" | "3d-left-handed-time" => {
            return Err(format!("space {space:?} is left-handed and has no LPS equivalent"))
        }
        _ => return Err(format!("unknown space {space:?}")),
    })
}

/// Scale from a `space units` entry to mm.
fn unit_scale(u: &str) -> Result<f64, String> {
    Ok(match u.trim().trim_matches('"').to_ascii_lowercase().as_str() {
        "" | "mm" | "millimeter" | "millimeters" | "millimetre" | "millimetres" => 1.0,
        "m" | "meter" | "meters" | "metre" | "metres" => 1000.0,
        "cm" | "centimeter" | "centimeters" => 10.0,
        "um" | "µm" | "micron" | "microns" | "micrometer" | "micrometers" => 1e-3,
        other => return Err(format!("unknown space unit {other:?}")),
    })
}

/// Kinds that mark an axis as a sampling of space (or time) rather than components.
fn is_domain_kind(k: &str) -> bool {
    matches!(k.to_ascii_lowercase().as_str(), "domain" | "space" | "time" | "???" | "none")
}

/// Everything decided from the header before reading voxels.
struct Plan {
    elem: ElemType,
    dims: [usize; 3],
    geometry: Geometry,
    big_endian: bool,
    encoding: Encoding,
    line_skip: u64,
    byte_skip: i64,
    /// Total voxels (across every data file).
    sizes: Vec<u64>,
}

fn plan(f: &Fields, path: &Path) -> Result<Plan, NrrdError> {
    let bad = |reason: String| NrrdError::ReadHeader { reason, path: path.into() };
    let need =
        |v: &Option<String>, name: &str| v.clone().ok_or_else(|| bad(format!("missing field {name:?}")));
    let tname = need(&f.type_, "type")?;
    let elem = elem_type(&tname)
        .map_err(|_| NrrdError::UnsupportedType { name: tname.clone(), path: path.into() })?;
    let dimension: usize =
        need(&f.dimension, "dimension")?.parse().map_err(|_| bad("dimension is not a number".into()))?;
    if !(1..=16).contains(&dimension) {
        return Err(bad(format!("dimension {dimension} outside 1..=16")));
    }
    let sizes: Vec<u64> = need(&f.sizes, "sizes")?
        .split_whitespace()
        .map(|t| t.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("sizes are not whole numbers".into()))?;
    let dims_err = |reason: String| NrrdError::ReadDims { sizes: sizes.clone(), reason, path: path.into() };
    if sizes.len() != dimension {
        return Err(dims_err(format!("{} sizes for dimension {dimension}", sizes.len())));
    }
    if sizes.contains(&0) {
        return Err(dims_err("a size of 0".into()));
    }
    let count = sizes.iter().fold(1u128, |a, &s| a.saturating_mul(s as u128));
    check_alloc(count, elem.size()).map_err(|source| NrrdError::MemoryCap { source, path: path.into() })?;

    let enc_name = need(&f.encoding, "encoding")?;
    let encoding = match enc_name.to_ascii_lowercase().as_str() {
        "raw" => Encoding::Raw,
        "gzip" | "gz" => Encoding::Deflate,
        "ascii" | "text" | "txt" => Encoding::Text,
        "hex" => Encoding::Hex,
        _ => return Err(NrrdError::UnsupportedEncoding { name: enc_name, path: path.into() }),
    };
    let big_endian = match f.endian.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("little") => false,
        Some("big") => true,
        Some(other) => return Err(bad(format!("endian {other:?} is neither little nor big"))),
    };
    let line_skip: u64 = match &f.line_skip {
        None => 0,
        Some(v) => v.parse().map_err(|_| bad(format!("line skip {v:?} is not a count")))?,
    };
    let byte_skip: i64 = match &f.byte_skip {
        None => 0,
        Some(v) => {
            v.parse().ok().filter(|b: &i64| *b >= -1).ok_or_else(|| bad(format!("byte skip {v:?}")))?
        }
    };
    if byte_skip == -1 && encoding != Encoding::Raw {
        return Err(bad("byte skip -1 needs raw encoding".into()));
    }

    // Which axes sample space.
    let geo = |reason: String| NrrdError::ReadGeometry { reason, path: path.into() };
    let kinds: Vec<String> =
        f.kinds.as_deref().map(|k| k.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    if !kinds.is_empty() && kinds.len() != dimension {
        return Err(bad(format!("{} kinds for dimension {dimension}", kinds.len())));
    }
    let (flip, space_dim) = match (&f.space, &f.space_dimension) {
        (Some(s), _) => {
            let (flip, d) = space_frame(s).map_err(geo)?;
            (flip, Some(d))
        }
        (None, Some(d)) => {
            let d: usize = d.parse().map_err(|_| bad(format!("space dimension {d:?}")))?;
            if !(1..=3).contains(&d) {
                return Err(geo(format!("space dimension {d} (1..=3 supported)")));
            }
            ([1.0; 3], Some(d))
        }
        (None, None) => ([1.0; 3], None),
    };
    let directions = match (&f.space_directions, space_dim) {
        (Some(s), Some(_)) => {
            let v = parse_vectors(s).map_err(geo)?;
            if v.len() != dimension {
                return Err(geo(format!("{} space directions for dimension {dimension}", v.len())));
            }
            Some(v)
        }
        (Some(_), None) => return Err(geo("space directions without space or space dimension".into())),
        (None, _) => None,
    };
    let spatial: Vec<bool> = (0..dimension)
        .map(|k| match &directions {
            Some(d) => d[k].is_some(),
            None => kinds.get(k).is_none_or(|k| is_domain_kind(k)),
        })
        .collect();
    for k in 0..dimension {
        if !spatial[k] && sizes[k] > 1 {
            let kind = kinds.get(k).map(String::as_str).unwrap_or("non-spatial");
            let what = if k == 0 { "a vector/colour image" } else { "a series of volumes" };
            return Err(dims_err(format!(
                "axis {k} ({kind}, size {}) is not spatial: {what}; only scalar volumes can be read",
                sizes[k]
            )));
        }
    }
    let axes: Vec<usize> = (0..dimension).filter(|&k| spatial[k]).collect();
    if axes.len() > 3 {
        return Err(dims_err(format!("{} spatial axes", axes.len())));
    }
    if axes.is_empty() {
        return Err(dims_err("no spatial axis".into()));
    }
    let mut dims = [1usize; 3];
    for (i, &k) in axes.iter().enumerate() {
        dims[i] = sizes[k] as usize;
    }

    // Geometry.
    let units: Vec<f64> = match &f.space_units {
        Some(u) => u.split_whitespace().map(unit_scale).collect::<Result<_, _>>().map_err(geo)?,
        None => Vec::new(),
    };
    let unit = |c: usize| units.get(c).copied().unwrap_or(1.0);
    let mut m: Mat3 = [[0.0; 3]; 3];
    let mut origin = [0.0; 3];
    if let (Some(d), Some(sd)) = (&directions, space_dim) {
        let sd3 = sd.min(3);
        for (i, &k) in axes.iter().enumerate() {
            let v = d[k].as_ref().ok_or_else(|| geo("missing direction".into()))?;
            if v.len() != sd {
                return Err(geo(format!("space direction {k} has {} components, space has {sd}", v.len())));
            }
            for (r, row) in m.iter_mut().enumerate().take(sd3) {
                row[i] = flip[r] * v[r] * unit(r);
            }
        }
        if let Some(o) = &f.space_origin {
            let v = parse_vectors(o).map_err(geo)?;
            let v = match v.as_slice() {
                [Some(v)] if v.len() == sd => v.clone(),
                _ => return Err(geo(format!("space origin {:?} is not one {sd}-vector", truncate(o)))),
            };
            for r in 0..sd3 {
                origin[r] = flip[r] * v[r] * unit(r);
            }
        }
    } else {
        let per_axis = |v: &Option<String>| -> Vec<f64> {
            v.as_deref()
                .map(|s| s.split_whitespace().map(|t| t.parse::<f64>().unwrap_or(f64::NAN)).collect())
                .unwrap_or_default()
        };
        let (spacings, mins) = (per_axis(&f.spacings), per_axis(&f.axis_mins));
        let centers: Vec<&str> =
            f.centers.as_deref().map(|c| c.split_whitespace().collect()).unwrap_or_default();
        for (i, &k) in axes.iter().enumerate() {
            let s = spacings.get(k).copied().filter(|s| s.is_finite() && *s != 0.0).unwrap_or(1.0);
            // A negative spacing runs the axis backwards.
            m[i][i] = s;
            // `axis mins` is the edge of the first sample for cell centring (teem's default),
            // its centre for node centring; ITK reads it the same way.
            if let Some(min) = mins.get(k).copied().filter(|v| v.is_finite()) {
                let node = centers.get(k).is_some_and(|c| c.eq_ignore_ascii_case("node"));
                origin[i] = if node { min } else { min + 0.5 * s };
            }
        }
    }
    complete_basis(&mut m, axes.len());
    let mut g = Geometry { origin, ..Geometry::default() };
    for k in 0..3 {
        let col = [m[0][k], m[1][k], m[2][k]];
        let s = linalg::norm(col);
        if !(s.is_finite() && s > 0.0) {
            return Err(geo(format!("axis {k} has a zero or non-finite direction {col:?}")));
        }
        g.spacing[k] = s;
        for (row, c) in g.direction.iter_mut().zip(col) {
            row[k] = c / s;
        }
    }
    g.validate_with(false).map_err(|e| geo(e.to_string()))?;
    Ok(Plan { elem, dims, geometry: g, big_endian, encoding, line_skip, byte_skip, sizes })
}

/// Fills the columns past the first `n` with unit vectors orthogonal to the others (a 2-D
/// image's normal), so the 3×3 grid is never singular.
fn complete_basis(m: &mut Mat3, n: usize) {
    let col = |m: &Mat3, k: usize| [m[0][k], m[1][k], m[2][k]];
    for k in n..3 {
        let mut best = [0.0; 3];
        if k == 2 {
            best = linalg::cross(col(m, 0), col(m, 1));
        }
        if linalg::norm(best) == 0.0 {
            // Gram–Schmidt of the first basis vector not in the span.
            for e in [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] {
                let mut v = e;
                for j in 0..k {
                    let c = col(m, j);
                    let cc = linalg::dot(c, c);
                    if cc > 0.0 {
                        let p = linalg::dot(v, c) / cc;
                        v = linalg::sub(v, [p * c[0], p * c[1], p * c[2]]);
                    }
                }
                if linalg::norm(v) > 1e-6 {
                    best = v;
                    break;
                }
            }
        }
        let len = linalg::norm(best);
        for (r, row) in m.iter_mut().enumerate() {
            row[k] = if len > 0.0 { best[r] / len } else { 0.0 };
        }
    }
}

/// The data files a detached header names, each with the skips.
fn data_files(f: &Fields, header: &Path, plan: &Plan) -> Result<Vec<PathBuf>, NrrdError> {
    let bad = |reason: String| NrrdError::DataFile { reason, path: header.into() };
    let dir = header.parent().unwrap_or(Path::new("."));
    let resolve = |name: &str| {
        let p = Path::new(name);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    let Some(spec) = &f.data_file else { return Ok(Vec::new()) };
    let words: Vec<&str> = spec.split_whitespace().collect();
    // Multi-file data: each file holds a `subdim`-dimensional piece (default dimension − 1,
    // one slice per file), so there are ∏ sizes[subdim..] files.
    let expected = |subdim: Option<&&str>| -> Result<u64, NrrdError> {
        let n = plan.sizes.len();
        let sub = match subdim {
            None => n.saturating_sub(1),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|d| (1..=n).contains(d))
                .ok_or_else(|| bad(format!("sub-dimension {s:?} outside 1..={n}")))?,
        };
        Ok(plan.sizes[sub..].iter().product())
    };
    let files: Vec<PathBuf> = match words.as_slice() {
        ["LIST", rest @ ..] => {
            let want = expected(rest.first())?;
            if want > voxels::MAX_DATA_FILES as u64 || f.list.len() as u64 != want {
                return Err(bad(format!("data file LIST names {} files, {want} expected", f.list.len())));
            }
            f.list.iter().map(|n| resolve(n)).collect()
        }
        [fmt, min, max, step, rest @ ..] if fmt.contains('%') => {
            let want = expected(rest.first())?;
            let num = |s: &str| s.parse::<i64>().map_err(|_| bad(format!("pattern bound {s:?}")));
            let names =
                voxels::pattern_names(fmt, num(min)?, num(max)?, num(step)?, want as usize).map_err(bad)?;
            if names.len() as u64 != want {
                return Err(bad(format!("data file pattern gives {} files, {want} expected", names.len())));
            }
            names.iter().map(|n| resolve(n)).collect()
        }
        _ => vec![resolve(spec)],
    };
    Ok(files)
}

fn slab_error(e: SlabError) -> NrrdError {
    match e {
        SlabError::Open { path, source } => NrrdError::Open { path, source },
        SlabError::Short { need, got, path } => NrrdError::ReadData { need, got, path },
        SlabError::Decompress { path, source } => NrrdError::Decompress { path, source },
        SlabError::Text { path, reason } => NrrdError::ReadText { path, reason },
    }
}

fn read_plan(plan: &Plan, slabs: &[Slab]) -> Result<AnyVolume, NrrdError> {
    voxels::read_slabs(plan.elem, plan.dims, plan.geometry, plan.big_endian, plan.encoding, slabs)
        .map_err(slab_error)
}

/// Reads a `.nrrd` (attached) or `.nhdr` (detached) file into a volume in LPS. See the module
/// docs for what is supported.
pub fn read(path: &Path) -> Result<AnyVolume, NrrdError> {
    let file = File::open(path).map_err(|source| NrrdError::Open { source, path: path.into() })?;
    let mut r = BufReader::new(file);
    let fields = parse_header(&mut r, path)?;
    let plan = plan(&fields, path)?;
    let skips = |place| Slab { place, line_skip: plan.line_skip, byte_skip: plan.byte_skip };
    let slabs: Vec<Slab> = if fields.data_file.is_some() {
        data_files(&fields, path, &plan)?
            .into_iter()
            .map(|p| skips(Place::File { path: p, offset: 0 }))
            .collect()
    } else {
        vec![skips(Place::File { path: path.into(), offset: fields.header_len })]
    };
    read_plan(&plan, &slabs)
}

/// Parses an attached NRRD held in memory. (Detached data files need [`read`].)
pub fn read_from_bytes(bytes: &[u8]) -> Result<AnyVolume, NrrdError> {
    let path = Path::new(MEMORY);
    let mut r = bytes;
    let fields = parse_header(&mut r, path)?;
    let plan = plan(&fields, path)?;
    if fields.data_file.is_some() {
        return Err(NrrdError::DataFile {
            reason: "the header names a detached data file: read it with read(path)".into(),
            path: path.into(),
        });
    }
    let rest = usize::try_from(fields.header_len).ok().and_then(|o| bytes.get(o..)).unwrap_or(&[]);
    read_plan(
        &plan,
        &[Slab { place: Place::Memory(rest), line_skip: plan.line_skip, byte_skip: plan.byte_skip }],
    )
}

/// Writes a volume as raw NRRD: see [`write_with`].
pub fn write(path: &Path, volume: &AnyVolume) -> Result<(), NrrdError> {
    write_with(path, volume, &NrrdWriteOptions::default())
}

/// Shortest decimal that reads back as the same `f64`.
fn num(v: f64) -> String {
    format!("{v:?}")
}

/// The header text (without data file line or blank line).
fn header_text(v: &AnyVolume, encoding: NrrdEncoding) -> String {
    let g = v.geometry();
    let [nx, ny, nz] = v.dims();
    let a = g.index_to_world_affine();
    let dir = |k: usize| format!("({},{},{})", num(a.m[0][k]), num(a.m[1][k]), num(a.m[2][k]));
    let enc = match encoding {
        NrrdEncoding::Raw => "raw",
        NrrdEncoding::Gzip => "gzip",
        NrrdEncoding::Ascii => "ascii",
    };
    let mut h = String::new();
    h.push_str("NRRD0004\n");
    h.push_str("# Complete NRRD file format specification at:\n");
    h.push_str("# http://teem.sourceforge.net/nrrd/format.html\n");
    h.push_str(&format!("type: {}\n", type_name(ElemType::of(v))));
    h.push_str("dimension: 3\n");
    h.push_str("space: left-posterior-superior\n");
    h.push_str(&format!("sizes: {nx} {ny} {nz}\n"));
    h.push_str(&format!("space directions: {} {} {}\n", dir(0), dir(1), dir(2)));
    h.push_str("kinds: domain domain domain\n");
    if ElemType::of(v).size() > 1 && encoding != NrrdEncoding::Ascii {
        h.push_str("endian: little\n");
    }
    h.push_str(&format!("encoding: {enc}\n"));
    h.push_str(&format!("space origin: ({},{},{})\n", num(g.origin[0]), num(g.origin[1]), num(g.origin[2])));
    h
}

/// Writes the voxels with `encoding`.
fn write_data(w: &mut dyn Write, v: &AnyVolume, encoding: NrrdEncoding) -> io::Result<()> {
    match encoding {
        NrrdEncoding::Raw => voxels::write_volume(v, false, w),
        NrrdEncoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(w, flate2::Compression::new(1));
            voxels::write_volume(v, false, &mut enc)?;
            enc.finish().map(|_| ())
        }
        NrrdEncoding::Ascii => voxels::write_text(v, w),
    }
}

/// Writes a volume as NRRD with `options`: `.nrrd` attached; `.nhdr` detached with the data in
/// `<stem>.raw` (`.raw.gz` for gzip, `.txt` for ascii) beside it. Files appear only when
/// complete; a failed detached write removes the data file again.
pub fn write_with(path: &Path, volume: &AnyVolume, options: &NrrdWriteOptions) -> Result<(), NrrdError> {
    volume
        .geometry()
        .validate_with(false)
        .map_err(|e| NrrdError::WriteVolume { reason: e.to_string(), path: path.into() })?;
    let header = header_text(volume, options.encoding);
    let io_err = |source| NrrdError::Write { source, path: path.into() };
    let detached = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("nhdr"));
    if !detached {
        return write_atomic::<io::Error, _>(path, |w| {
            w.write_all(header.as_bytes())?;
            w.write_all(b"\n")?;
            write_data(w, volume, options.encoding)
        })
        .map_err(io_err);
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let ext = match options.encoding {
        NrrdEncoding::Raw => "raw",
        NrrdEncoding::Gzip => "raw.gz",
        NrrdEncoding::Ascii => "txt",
    };
    let data_name = format!("{stem}.{ext}");
    let data_path = path.with_file_name(&data_name);
    write_atomic::<io::Error, _>(&data_path, |w| write_data(w, volume, options.encoding))
        .map_err(|source| NrrdError::Write { source, path: data_path.clone() })?;
    let r = write_atomic::<io::Error, _>(path, |w| {
        w.write_all(header.as_bytes())?;
        w.write_all(format!("data file: {data_name}\n").as_bytes())
    });
    if let Err(source) = r {
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
    fn vectors_parse() {
        let v = parse_vectors("(1,0, 0) none ( 0.5,-2e-3,3 )").unwrap();
        assert_eq!(v, vec![Some(vec![1.0, 0.0, 0.0]), None, Some(vec![0.5, -2e-3, 3.0])]);
        assert!(parse_vectors("(1,0").is_err());
        assert!(parse_vectors("(1,x,0)").is_err());
        assert!(parse_vectors("junk").is_err());
    }

    #[test]
    fn every_type_alias_is_known() {
        for (names, e) in [
            (&["signed char", "int8", "int8_t"][..], ElemType::I8),
            (&["uchar", "unsigned char", "uint8", "uint8_t"], ElemType::U8),
            (&["short", "short int", "signed short", "signed short int", "int16", "int16_t"], ElemType::I16),
            (&["ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"], ElemType::U16),
            (&["int", "signed int", "int32", "int32_t"], ElemType::I32),
            (&["uint", "unsigned int", "uint32", "uint32_t"], ElemType::U32),
            (&["float"], ElemType::F32),
            (&["double"], ElemType::F64),
        ] {
            for n in names {
                assert_eq!(elem_type(n), Ok(e), "{n}");
            }
        }
        for n in ["longlong", "long long int", "int64", "uint64_t", "block"] {
            assert!(elem_type(n).is_err(), "{n}");
        }
    }

    #[test]
    fn ras_space_is_flipped_to_lps() {
        let text = b"NRRD0004\ntype: float\ndimension: 3\nspace: right-anterior-superior\nsizes: 2 1 1\n\
            space directions: (0,-2,0) (1,0,0) (0,0,3)\nspace origin: (10,20,30)\nencoding: ascii\n\n1.5 2.5\n";
        let v = read_from_bytes(text).unwrap();
        let g = v.geometry();
        assert_eq!(g.origin, [-10.0, -20.0, 30.0]);
        assert_eq!(g.spacing, [2.0, 1.0, 3.0]);
        assert_eq!(g.direction, [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!(v.to_f64().data(), &[1.5, 2.5]);
    }

    #[test]
    fn written_bytes_read_back_in_every_encoding() {
        let g = Geometry { origin: [0.1, -2.5, 1e-7], spacing: [0.3, 1.0 / 3.0, 2.0], ..Geometry::default() };
        let v: AnyVolume =
            Volume::from_vec([3, 2, 1], g, vec![1.5f64, -2.0, 1e300, 0.1, 7.0, -0.0]).unwrap().into();
        let dir = tempfile::tempdir().unwrap();
        for encoding in [NrrdEncoding::Raw, NrrdEncoding::Gzip, NrrdEncoding::Ascii] {
            let p = dir.path().join("v.nrrd");
            write_with(&p, &v, &NrrdWriteOptions { encoding }).unwrap();
            assert_eq!(read_from_bytes(&std::fs::read(&p).unwrap()).unwrap(), v, "{encoding:?}");
            let p = dir.path().join("d.nhdr");
            write_with(&p, &v, &NrrdWriteOptions { encoding }).unwrap();
            assert_eq!(read(&p).unwrap(), v, "{encoding:?} detached");
        }
    }
}
