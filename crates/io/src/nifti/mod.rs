//! NIfTI-1 and NIfTI-2 (read), NIfTI-1 (write): `.nii`, `.nii.gz` and `.hdr`/`.img` pairs,
//! plus ITK/ANTs-style displacement fields.
//!
//! Our own parser, because the `nifti` crate rejects NIfTI-2, keeps affines in `f32` and
//! misreads `vox_offset = 0`. Headers of either byte order are read; data is read with one
//! (threaded, positional) read straight into the final `Vec<T>` and byte-swapped in place when
//! needed; `.nii.gz` is inflated (zlib-rs) straight into that buffer too.
//!
//! # What [`read`] returns
//!
//! | file | result |
//! |---|---|
//! | datatype u8, i8, u16, i16, u32, i32, f32, f64, no scaling | that type |
//! | `scl_slope` ∉ {0, NaN} and not the identity (slope 1, intercept 0) | `F32` (`F64` for f64 data): `slope · v + inter`, computed in f64 |
//! | complex, RGB, 64-bit integers, float128, binary | [`NiftiError::UnsupportedDatatype`] naming it |
//! | `dim[0]` > 3 with `dim[4..]` all 1 | the 3-D volume |
//! | a true 4-D…7-D image | [`NiftiError::ReadDims`]; [`read_frames`] gives every 3-D frame, [`read_vector_field`] reads displacement fields |
//!
//! Geometry: see below (sform, else qform, else pixdim, the way nibabel chooses; RAS → LPS;
//! `xyzt_units` metre/micrometre converted to mm). `vox_offset` below the
//! header size (some old writers put 0) means the data ends the file when the file size says
//! so, else directly after the header and its 4-byte extension flag, as nifti1_io reads it.
//!
//! # Geometry: which affine is read
//!
//! NIfTI-1 §"3D IMAGE (VOLUME) ORIENTATION AND LOCATION IN SPACE" defines three methods. We
//! choose the way nibabel's `get_best_affine` does:
//!
//! 1. `sform_code > 0` → the sform (`srow_x/y/z`), kept exactly, shear included;
//! 2. else `qform_code > 0` → the qform (quaternion, `qoffset`, `pixdim`, `qfac = pixdim[0]`);
//! 3. else (both codes 0) → the standard's "method 1", RAS `diag(pixdim[1..4])` with origin
//!    0, as nifti1_io computes it. Here the peers disagree with the standard and each other:
//!    nibabel centres the grid and flips x (an Analyze 7.5 habit), ITK/SimpleITK 5.4 use an
//!    identity *LPS* direction. We follow the standard.
//!
//! ITK/SimpleITK (5.4) also read the sform first when it is a rigid map with scaling; when
//! the sform is *sheared* ITK cannot hold it (its direction matrices are orthonormal) and uses
//! the qform instead. We keep the sheared sform exactly: `Geometry::direction` then has
//! unit-length but non-orthogonal columns (valid for
//! [`Geometry::validate_with(false)`](hounsfield_core::Geometry::validate_with)), so every
//! voxel lands where nibabel's affine puts it; ITK would place it where the qform puts it.
//!
//! ## Units
//!
//! `xyzt_units` space codes metre (1) and micrometre (3) scale the whole affine to mm, as ITK
//! does (nibabel ignores the field); unknown (0) is taken as mm.
//!
//! ## Writing geometry
//!
//! The writer sets both: the sform holds the exact affine and the qform the nearest rigid map
//! (polar decomposition, as `nifti_mat44_to_quatern` does), both with code 1
//! (`NIFTI_XFORM_SCANNER_ANAT`), as ITK writes them. With an orthonormal direction the two are
//! the same map, so nibabel (sform) and ITK (qform or sform) read the same geometry.
//!
//! # Displacement fields
//!
//! [`read_vector_field`] / [`write_vector_field`] use the ITK/ANTs convention: a 5-D image
//! `[nx, ny, nz, 1, 3]` with `intent_code` 1007 (`NIFTI_INTENT_VECTOR`), the three component
//! volumes stored one after the other, and components in **LPS** mm, exactly as ITK writes them
//! (ITK does not convert the vectors to RAS, only the grid). So the vectors read here are
//! the ones SimpleITK returns, and ANTs/ITK read what is written here.

mod affine;
mod header;
pub(crate) mod voxels;

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use hounsfield_core::{check_alloc, AnyVolume, CoreError, Geometry, Volume};
use rayon::prelude::*;

use crate::atomic::write_atomic;
use header::{Header, Layout};
use voxels::{ElemType, FillError, Source};

/// Errors reading or writing NIfTI.
#[derive(Debug, thiserror::Error)]
pub enum NiftiError {
    /// The file could not be opened or read from disk.
    #[error("cannot read NIfTI file: {source}: {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The header is missing, truncated, or not NIfTI (wrong `sizeof_hdr` or magic).
    #[error("cannot read NIfTI header: {reason}: {}", .path.display())]
    ReadHeader {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The header's datatype cannot be held in a scalar volume.
    #[error("unsupported NIfTI datatype {code} ({name}): {}", .path.display())]
    UnsupportedDatatype {
        /// The `datatype` code.
        code: i16,
        /// Its `nifti1.h` name.
        name: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// `dim` is invalid, or the image is not the shape asked for (4-D given to [`read`]).
    #[error("cannot read NIfTI image of dim {dims:?}: {reason}: {}", .path.display())]
    ReadDims {
        /// `dim[0..=dim[0]]`.
        dims: Vec<i64>,
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The header declares more data than the memory cap allows.
    #[error("cannot allocate NIfTI voxels: {source}: {}", .path.display())]
    MemoryCap {
        /// The cap error (bytes needed, cap).
        source: CoreError,
        /// The file.
        path: PathBuf,
    },
    /// The file ends before the voxel data the header declares.
    #[error("NIfTI data truncated: need {need} bytes of voxels, found {got}: {}", .path.display())]
    ReadData {
        /// Bytes of voxel data the header declares.
        need: u64,
        /// Bytes available.
        got: u64,
        /// The file.
        path: PathBuf,
    },
    /// The gzip stream is corrupt.
    #[error("cannot decompress NIfTI gzip stream: {source}: {}", .path.display())]
    Decompress {
        /// The decoder's error.
        source: io::Error,
        /// The file.
        path: PathBuf,
    },
    /// The affine (sform/qform/pixdim) does not give a usable geometry.
    #[error("invalid NIfTI geometry: {reason}: {}", .path.display())]
    ReadGeometry {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// `scl_slope`/`scl_inter` are infinite.
    #[error("invalid NIfTI scaling: scl_slope {slope}, scl_inter {inter}: {}", .path.display())]
    ReadScaling {
        /// `scl_slope`.
        slope: f64,
        /// `scl_inter`.
        inter: f64,
        /// The file.
        path: PathBuf,
    },
    /// The volume cannot be stored as NIfTI-1 (geometry, size, component grids).
    #[error("cannot write NIfTI: {reason}: {}", .path.display())]
    WriteVolume {
        /// What is wrong.
        reason: String,
        /// The target file.
        path: PathBuf,
    },
    /// Writing the file failed (nothing is left under the target name).
    #[error("cannot write NIfTI file: {source}: {}", .path.display())]
    Write {
        /// The OS or encoder error.
        source: io::Error,
        /// The target file.
        path: PathBuf,
    },
}

/// `nifti1.h` datatype codes to element types; the error names the unsupported ones.
fn elem_type(code: i16) -> Result<ElemType, &'static str> {
    Ok(match code {
        2 => ElemType::U8,
        4 => ElemType::I16,
        8 => ElemType::I32,
        16 => ElemType::F32,
        64 => ElemType::F64,
        256 => ElemType::I8,
        512 => ElemType::U16,
        768 => ElemType::U32,
        0 => return Err("DT_UNKNOWN"),
        1 => return Err("DT_BINARY"),
        32 => return Err("DT_COMPLEX64"),
        128 => return Err("DT_RGB24"),
        1024 => return Err("DT_INT64"),
        1280 => return Err("DT_UINT64"),
        1536 => return Err("DT_FLOAT128"),
        1792 => return Err("DT_COMPLEX128"),
        2048 => return Err("DT_COMPLEX256"),
        2304 => return Err("DT_RGBA32"),
        _ => return Err("not a nifti1.h datatype"),
    })
}

/// The datatype code the writer uses for a volume's element type.
fn datatype_code(e: ElemType) -> i16 {
    match e {
        ElemType::U8 => 2,
        ElemType::I16 => 4,
        ElemType::I32 => 8,
        ElemType::F32 => 16,
        ElemType::F64 => 64,
        ElemType::I8 => 256,
        ElemType::U16 => 512,
        ElemType::U32 => 768,
    }
}

/// What the caller wants out of the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// One 3-D volume (trailing dims of 1 allowed).
    Volume,
    /// A `[nx, ny, nz, 1, 3]` vector image.
    Vector,
    /// Every 3-D volume of a 4-D…7-D image.
    Frames,
}

/// Everything decided from the header before touching voxel data.
struct Plan {
    header: Header,
    elem: ElemType,
    dims: [usize; 3],
    /// Volumes stored one after the other (3 for vector fields).
    frames: usize,
    geometry: Geometry,
}

/// `NIFTI_INTENT_DISPVECT` and `NIFTI_INTENT_VECTOR`.
const INTENT_DISPVECT: i32 = 1006;
const INTENT_VECTOR: i32 = 1007;

fn plan(h: Header, want: Want, path: &Path) -> Result<Plan, NiftiError> {
    let elem = elem_type(h.datatype).map_err(|name| NiftiError::UnsupportedDatatype {
        code: h.datatype,
        name,
        path: path.into(),
    })?;
    let ndim = h.dim[0];
    let dims_err = |reason: String| NiftiError::ReadDims {
        dims: h.dim[..=(ndim.clamp(0, 7) as usize)].to_vec(),
        reason,
        path: path.into(),
    };
    if !(1..=7).contains(&ndim) {
        return Err(dims_err(format!("dim[0] = {ndim} is not a number of dimensions (1..=7)")));
    }
    let nd = ndim as usize;
    if let Some(k) = (1..=nd).find(|&k| h.dim[k] < 1) {
        return Err(dims_err(format!("dim[{k}] = {} is not a positive size", h.dim[k])));
    }
    let count = h.dim[1..=nd].iter().fold(1u128, |a, &d| a.saturating_mul(d as u128));
    check_alloc(count, elem.size()).map_err(|source| NiftiError::MemoryCap { source, path: path.into() })?;
    let d = |k: usize| if k <= nd { h.dim[k] as usize } else { 1 };
    let dims = [d(1), d(2), d(3)];
    let frames = match want {
        Want::Volume => {
            if let Some(k) = (4..=nd).find(|&k| h.dim[k] > 1) {
                return Err(dims_err(format!(
                    "a {nd}-D image (dim[{k}] = {}); only 3-D volumes can be read here \
                     (displacement fields: read_vector_field)",
                    h.dim[k]
                )));
            }
            1
        }
        Want::Vector => {
            // 2 components: a 2-D field (ITK writes `[nx, ny, 1, 1, 2]`); its z component is 0.
            let planar = h.dim[3] == 1 && h.dim[5] == 2;
            if nd != 5 || h.dim[4] != 1 || !(h.dim[5] == 3 || planar) {
                return Err(dims_err(
                    "not an ITK vector field [nx, ny, nz, 1, 3] or [nx, ny, 1, 1, 2]".into(),
                ));
            }
            if h.intent_code != INTENT_VECTOR && h.intent_code != INTENT_DISPVECT {
                return Err(dims_err(format!(
                    "intent_code {} is not NIFTI_INTENT_VECTOR (1007) or DISPVECT (1006)",
                    h.intent_code
                )));
            }
            h.dim[5] as usize
        }
        Want::Frames => h.dim[4..=nd.max(3)].iter().product::<i64>() as usize,
    };
    let (geometry, _method) = affine::geometry(&h, dims)
        .map_err(|reason| NiftiError::ReadGeometry { reason, path: path.into() })?;
    Ok(Plan { header: h, elem, dims, frames, geometry })
}

impl Plan {
    /// Voxel bytes the header declares (fits: checked against the cap).
    fn data_bytes(&self) -> u64 {
        (self.dims.iter().product::<usize>() * self.frames * self.elem.size()) as u64
    }

    /// Where the data starts in a single `.nii`: `vox_offset`, or for a `vox_offset` inside
    /// the header (old writers put 0) the end of the file minus the data when the file length
    /// is known and allows it, else the header plus its 4-byte extension flag.
    fn data_offset(&self, file_len: Option<u64>, path: &Path) -> Result<u64, NiftiError> {
        let v = self.header.vox_offset;
        if !(0.0..1e18).contains(&v) {
            return Err(NiftiError::ReadHeader {
                reason: format!("invalid vox_offset {v}"),
                path: path.into(),
            });
        }
        let hdr = self.header.size as u64;
        let off = v.floor() as u64;
        if self.header.layout == Layout::Pair || off >= hdr {
            return Ok(off);
        }
        match file_len.and_then(|l| l.checked_sub(self.data_bytes())) {
            Some(start) if start >= hdr => Ok(start),
            _ => Ok(hdr + 4),
        }
    }

    /// Scaling to apply, if any.
    fn scaling(&self, path: &Path) -> Result<Option<(f64, f64)>, NiftiError> {
        let (slope, inter) = (self.header.scl_slope, self.header.scl_inter);
        // NIfTI-1: scl_slope = 0 means "no scaling"; NaN is treated the same (nibabel).
        if slope == 0.0 || slope.is_nan() {
            return Ok(None);
        }
        let inter = if inter.is_nan() { 0.0 } else { inter };
        if !slope.is_finite() || !inter.is_finite() {
            return Err(NiftiError::ReadScaling { slope, inter, path: path.into() });
        }
        Ok((slope != 1.0 || inter != 0.0).then_some((slope, inter)))
    }
}

/// Label for readers of bytes in memory.
const MEMORY: &str = "<memory>";

fn header_error(p: header::HeaderProblem, path: &Path) -> NiftiError {
    NiftiError::ReadHeader { reason: p.to_string(), path: path.into() }
}

fn fill_error(e: FillError, compressed: bool, path: &Path) -> NiftiError {
    match e {
        FillError::Short { need, got } => NiftiError::ReadData { need, got, path: path.into() },
        FillError::Io(source) if compressed => NiftiError::Decompress { source, path: path.into() },
        FillError::Io(source) => NiftiError::Open { source, path: path.into() },
    }
}

/// Reads the header from a stream (plain or inflating).
fn header_from_stream(r: &mut dyn Read, compressed: bool, path: &Path) -> Result<Header, NiftiError> {
    let mut buf = [0u8; 540];
    let (first, rest) = buf.split_at_mut(header::PROBE);
    let short = |e: FillError| match e {
        FillError::Short { got, .. } => NiftiError::ReadHeader {
            reason: format!("file too short for a NIfTI header ({got} bytes)"),
            path: path.into(),
        },
        other => fill_error(other, compressed, path),
    };
    voxels::read_full(r, first).map_err(short)?;
    let (size, _) = header::probe(first).map_err(|p| header_error(p, path))?;
    voxels::read_full(r, &mut rest[..size - header::PROBE]).map_err(short)?;
    header::parse(&buf[..size]).map_err(|p| header_error(p, path))
}

/// Skips `n` bytes of a stream.
fn skip(r: &mut dyn Read, n: u64, compressed: bool, path: &Path) -> Result<(), NiftiError> {
    let got =
        io::copy(&mut r.take(n), &mut io::sink()).map_err(|e| fill_error(e.into(), compressed, path))?;
    if got < n {
        return Err(NiftiError::ReadData { need: n, got, path: path.into() });
    }
    Ok(())
}

/// Voxels of `plan`, scaled, as its frames (one for a 3-D volume, three for a vector field).
fn read_data(
    plan: &Plan,
    src: &mut Source,
    compressed: bool,
    path: &Path,
) -> Result<Vec<AnyVolume>, NiftiError> {
    let [nx, ny, nz] = plan.dims;
    let raw = voxels::read_volume(
        plan.elem,
        [nx, ny, nz * plan.frames],
        plan.geometry,
        plan.header.big_endian,
        src,
    )
    .map_err(|e| fill_error(e, compressed, path))?;
    let scaled = scale(raw, plan, path)?;
    if plan.frames == 1 {
        return Ok(vec![scaled]);
    }
    Ok(
        hounsfield_core::with_any_volume!(scaled, v => split_frames(v, nz).into_iter().map(AnyVolume::from).collect()),
    )
}

/// Cuts a volume of dims `[nx, ny, nz · frames]` into frames of depth `nz`.
fn split_frames<T: Clone>(v: Volume<T>, nz: usize) -> Vec<Volume<T>> {
    let ([nx, ny, _], g, data) = v.into_parts();
    data.chunks(nx * ny * nz).filter_map(|c| Volume::from_vec([nx, ny, nz], g, c.to_vec()).ok()).collect()
}

/// Applies the header's scaling, if any.
fn scale(raw: AnyVolume, plan: &Plan, path: &Path) -> Result<AnyVolume, NiftiError> {
    match plan.scaling(path)? {
        None => Ok(raw),
        Some((slope, inter)) => {
            // The scaled copy is a second buffer: check it against the cap too.
            let n = raw.dims().iter().product::<usize>() as u128;
            let wide = matches!(raw, AnyVolume::F64(_));
            check_alloc(n, if wide { 8 } else { 4 })
                .map_err(|source| NiftiError::MemoryCap { source, path: path.into() })?;
            Ok(apply_scaling(&raw, slope, inter))
        }
    }
}

/// `slope · v + inter` in f64, stored as f32 (f64 for f64 data).
fn apply_scaling(raw: &AnyVolume, slope: f64, inter: f64) -> AnyVolume {
    use hounsfield_core::Scalar;
    fn go<T: Scalar, U: Scalar>(v: &Volume<T>, slope: f64, inter: f64) -> Volume<U> {
        let data: Vec<U> = v.data().par_iter().map(|&x| U::from_f64(x.to_f64() * slope + inter)).collect();
        Volume::from_vec(v.dims(), *v.geometry(), data).unwrap_or_else(|_| unreachable!("same length"))
    }
    match raw {
        AnyVolume::F64(v) => AnyVolume::F64(go::<f64, f64>(v, slope, inter)),
        other => AnyVolume::F32(hounsfield_core::with_any_volume!(other, v => go::<_, f32>(v, slope, inter))),
    }
}

fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Opens `path` and reads its voxels as `want` asks.
fn read_path(path: &Path, want: Want) -> Result<Vec<AnyVolume>, NiftiError> {
    let open = |p: &Path| File::open(p).map_err(|source| NiftiError::Open { source, path: p.into() });
    let file = open(path)?;
    let mut magic = [0u8; 2];
    let n = (&file).read(&mut magic).map_err(|source| NiftiError::Open { source, path: path.into() })?;
    let gz = is_gzip(&magic[..n]);
    let rewound = open(path)?;
    if gz {
        let mut dec = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 18, rewound));
        let header = header_from_stream(&mut dec, true, path)?;
        let plan = plan(header, want, path)?;
        if plan.header.layout == Layout::Pair {
            return read_pair(path, plan);
        }
        let off = plan.data_offset(None, path)?;
        skip(&mut dec, off - plan.header.size as u64, true, path)?;
        return read_data(&plan, &mut Source::Stream(&mut dec), true, path);
    }
    let mut r = BufReader::with_capacity(540, rewound);
    let header = header_from_stream(&mut r, false, path)?;
    let plan = plan(header, want, path)?;
    if plan.header.layout == Layout::Pair {
        return read_pair(path, plan);
    }
    let len = file.metadata().map_err(|source| NiftiError::Open { source, path: path.into() })?.len();
    let offset = plan.data_offset(Some(len), path)?;
    read_data(&plan, &mut Source::File { file: &file, offset }, false, path)
}

/// The image file of a `.hdr` header: `.img` (or `.img.gz`) beside it.
fn pair_image(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".hdr.gz").or_else(|| lower.strip_suffix(".hdr"))?;
    let stem = &name[..stem.len()];
    let upper = name[stem.len()..].starts_with(".HDR");
    ["img", "img.gz", "IMG", "IMG.gz"]
        .iter()
        .filter(|e| e.starts_with("IMG") == upper || e.starts_with("img"))
        .map(|e| path.with_file_name(format!("{stem}.{e}")))
        .find(|p| p.exists())
}

fn read_pair(path: &Path, plan: Plan) -> Result<Vec<AnyVolume>, NiftiError> {
    let img = pair_image(path).ok_or_else(|| NiftiError::ReadHeader {
        reason: "header of a .hdr/.img pair, but no .img file beside it".into(),
        path: path.into(),
    })?;
    let offset = plan.data_offset(None, &img)?;
    let file = File::open(&img).map_err(|source| NiftiError::Open { source, path: img.clone() })?;
    let mut magic = [0u8; 2];
    let n = (&file).read(&mut magic).map_err(|source| NiftiError::Open { source, path: img.clone() })?;
    if is_gzip(&magic[..n]) {
        let file = File::open(&img).map_err(|source| NiftiError::Open { source, path: img.clone() })?;
        let mut dec = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 18, file));
        skip(&mut dec, offset, true, &img)?;
        return read_data(&plan, &mut Source::Stream(&mut dec), true, &img);
    }
    read_data(&plan, &mut Source::File { file: &file, offset }, false, &img)
}

fn read_bytes(bytes: &[u8], want: Want) -> Result<Vec<AnyVolume>, NiftiError> {
    let path = Path::new(MEMORY);
    if is_gzip(bytes) {
        let mut dec = flate2::read::MultiGzDecoder::new(bytes);
        let header = header_from_stream(&mut dec, true, path)?;
        let plan = plan(header, want, path)?;
        pair_in_memory(&plan, path)?;
        let off = plan.data_offset(None, path)?;
        skip(&mut dec, off - plan.header.size as u64, true, path)?;
        return read_data(&plan, &mut Source::Stream(&mut dec), true, path);
    }
    let mut r = bytes;
    let header = header_from_stream(&mut r, false, path)?;
    let plan = plan(header, want, path)?;
    pair_in_memory(&plan, path)?;
    let off = plan.data_offset(Some(bytes.len() as u64), path)?;
    let rest = usize::try_from(off).ok().and_then(|o| bytes.get(o..)).unwrap_or(&[]);
    read_data(&plan, &mut Source::Bytes(rest), false, path)
}

fn pair_in_memory(plan: &Plan, path: &Path) -> Result<(), NiftiError> {
    if plan.header.layout == Layout::Pair {
        return Err(NiftiError::ReadHeader {
            reason: "header of a .hdr/.img pair: the voxels are in another file (use read(path))".into(),
            path: path.into(),
        });
    }
    Ok(())
}

/// Reads a `.nii` / `.nii.gz` file (or a `.hdr` whose `.img` lies beside it) into a volume in
/// LPS. See the module docs for datatypes, scaling, dimensions and geometry.
pub fn read(path: &Path) -> Result<AnyVolume, NiftiError> {
    single(read_path(path, Want::Volume)?, path)
}

/// The one frame of a 3-D read.
fn single(mut frames: Vec<AnyVolume>, path: &Path) -> Result<AnyVolume, NiftiError> {
    frames.pop().ok_or_else(|| NiftiError::ReadDims {
        dims: vec![],
        reason: "no volume".into(),
        path: path.into(),
    })
}

/// Parses a NIfTI file held in memory (plain or gzip-compressed). `.hdr`/`.img` pairs need
/// [`read`].
pub fn read_from_bytes(bytes: &[u8]) -> Result<AnyVolume, NiftiError> {
    single(read_bytes(bytes, Want::Volume)?, Path::new(MEMORY))
}

/// Reads an ITK/ANTs displacement field (`[nx, ny, nz, 1, 3]`, intent VECTOR) as its three
/// component volumes (x, y, z displacement in LPS mm, the way ITK stores them), each on the
/// field's grid. Any real datatype is converted to `f32`.
pub fn read_vector_field(path: &Path) -> Result<[Volume<f32>; 3], NiftiError> {
    components(read_path(path, Want::Vector)?, path)
}

/// Reads every 3-D volume of a 4-D (or up to 7-D) image, e.g. an fMRI or DCE series: frame
/// `t` is the volume at multi-index `t` over `dim[4..]` (`dim[4]` fastest). A 3-D file gives one
/// frame. All frames share the file's geometry; scaling applies as in [`read`].
pub fn read_frames(path: &Path) -> Result<Vec<AnyVolume>, NiftiError> {
    read_path(path, Want::Frames)
}

/// Like [`read_vector_field`], for a file held in memory.
pub fn read_vector_field_from_bytes(bytes: &[u8]) -> Result<[Volume<f32>; 3], NiftiError> {
    components(read_bytes(bytes, Want::Vector)?, Path::new(MEMORY))
}

fn components(frames: Vec<AnyVolume>, path: &Path) -> Result<[Volume<f32>; 3], NiftiError> {
    let mut frames = frames;
    if frames.len() == 2 {
        let zero = Volume::<f32>::zeros(frames[0].dims(), *frames[0].geometry())
            .map_err(|e| NiftiError::ReadDims { dims: vec![], reason: e.to_string(), path: path.into() })?;
        frames.push(AnyVolume::F32(zero));
    }
    let n = frames.len();
    let arr: [AnyVolume; 3] = frames.try_into().map_err(|_| NiftiError::ReadDims {
        dims: vec![],
        reason: format!("{n} components, expected 3"),
        path: path.into(),
    })?;
    Ok(arr.map(AnyVolume::into_f32))
}

/// True for `.gz` names: the writer compresses.
fn wants_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// gzip level 1: nibabel's default for `.nii.gz`; on 256³ CT it is several times faster than
/// level 6 for files ~10 % larger.
const GZIP_LEVEL: u32 = 1;

/// The NIfTI-1 header for a volume of `dims` with `geometry`.
fn write_header(
    dims: [usize; 3],
    extra: &[usize],
    elem: ElemType,
    geometry: &Geometry,
    intent: (i16, &'static str),
    path: &Path,
) -> Result<Vec<u8>, NiftiError> {
    let bad = |reason: String| NiftiError::WriteVolume { reason, path: path.into() };
    geometry.validate_with(false).map_err(|e| bad(e.to_string()))?;
    let all: Vec<usize> = dims.iter().chain(extra).copied().collect();
    if all.iter().any(|&d| d > i16::MAX as usize) {
        return Err(bad(format!("dimensions {all:?} exceed NIfTI-1's limit of 32767")));
    }
    let x = affine::xforms(geometry);
    let f = |v: f64| v as f32;
    let mut dim = [1i16; 8];
    dim[0] = all.len() as i16;
    for (k, d) in all.iter().enumerate() {
        dim[k + 1] = *d as i16;
    }
    let mut pixdim = [0f32; 8];
    pixdim[0] = f(x.qfac);
    for k in 0..3 {
        pixdim[k + 1] = f(x.spacing[k]);
    }
    for p in pixdim.iter_mut().take(all.len() + 1).skip(4) {
        *p = 1.0;
    }
    let srow = x.srow.map(|row| row.map(f));
    if srow.iter().flatten().any(|v| !v.is_finite()) {
        return Err(bad("geometry does not fit in f32".into()));
    }
    let bytes = elem.size() as i16;
    Ok(header::build_nifti1(&header::WriteHeader {
        dim,
        intent_code: intent.0,
        datatype: datatype_code(elem),
        bitpix: 8 * bytes,
        pixdim,
        qform_code: 1,
        sform_code: 1,
        quatern: x.quatern.map(f),
        qoffset: x.qoffset.map(f),
        srow,
        descrip: "Hounsfield",
        intent_name: intent.1,
    }))
}

/// Writes header then voxels, compressing when the name ends in `.gz`, atomically.
fn write_file(
    path: &Path,
    header: &[u8],
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), NiftiError> {
    let gz = wants_gzip(path);
    write_atomic::<io::Error, _>(path, |w| {
        if gz {
            let mut enc = flate2::write::GzEncoder::new(w, flate2::Compression::new(GZIP_LEVEL));
            enc.write_all(header)?;
            body(&mut enc)?;
            enc.finish()?;
        } else {
            w.write_all(header)?;
            body(w)?;
        }
        Ok(())
    })
    .map_err(|source| NiftiError::Write { source, path: path.into() })
}

/// Writes a volume as little-endian NIfTI-1 (`.nii`; a name ending `.gz` is gzip-compressed),
/// keeping its datatype. Geometry goes into both the sform and the qform, code 1
/// (`NIFTI_XFORM_SCANNER_ANAT`); see "Writing geometry" in the module docs. The file appears only when
/// complete.
pub fn write(path: &Path, volume: &AnyVolume) -> Result<(), NiftiError> {
    let header = write_header(volume.dims(), &[], ElemType::of(volume), volume.geometry(), (0, ""), path)?;
    write_file(path, &header, |w| voxels::write_volume(volume, false, w))
}

/// Writes a displacement field in the ITK/ANTs convention (5-D `[nx, ny, nz, 1, 3]` float32,
/// intent VECTOR, components in LPS mm), readable by SimpleITK/ANTs as a vector image. The
/// three component volumes must share one grid.
pub fn write_vector_field(path: &Path, components: &[Volume<f32>; 3]) -> Result<(), NiftiError> {
    let [x, y, z] = components;
    for c in [y, z] {
        x.require_same_grid(c).map_err(|e| NiftiError::WriteVolume {
            reason: format!("components differ: {e}"),
            path: path.into(),
        })?;
    }
    // A 2-D field (depth 1, no z displacement) is written with 2 components, as ITK writes
    // it: SimpleITK's DisplacementFieldTransform needs as many components as dimensions.
    let nc = if x.dims()[2] == 1 && z.data().iter().all(|&v| v == 0.0) { 2 } else { 3 };
    let header = write_header(
        x.dims(),
        &[1, nc],
        ElemType::F32,
        x.geometry(),
        (INTENT_VECTOR as i16, "vector"),
        path,
    )?;
    write_file(path, &header, |w| {
        for c in &components[..nc] {
            voxels::write_elems(c.data(), false, w)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry() -> Geometry {
        let (s, c) = 20f64.to_radians().sin_cos();
        Geometry {
            origin: [12.5, -30.25, 7.0],
            spacing: [0.5, 0.75, 2.0],
            direction: [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        }
    }

    #[test]
    fn every_datatype_round_trips_through_memory() {
        let g = geometry();
        let vols: Vec<AnyVolume> = vec![
            Volume::from_vec([2, 3, 2], g, (0..12u8).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (-6..6i8).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (0..12).map(|v| v * 5000u16).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (-6..6).map(|v| v * 5000i16).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (0..12).map(|v| v * 300_000_000u32).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (-6..6).map(|v| v * 300_000_000i32).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (0..12).map(|v| v as f32 * 0.1 - 1e-3).collect()).unwrap().into(),
            Volume::from_vec([2, 3, 2], g, (0..12).map(|v| v as f64 * 1e-9 + 1e10).collect()).unwrap().into(),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (i, v) in vols.iter().enumerate() {
            for name in [format!("v{i}.nii"), format!("v{i}.nii.gz")] {
                let p = dir.path().join(name);
                write(&p, v).unwrap();
                let back = read_from_bytes(&std::fs::read(&p).unwrap()).unwrap();
                let back2 = read(&p).unwrap();
                assert_eq!(back, back2);
                assert_eq!(ElemType::of(&back), ElemType::of(v));
                assert_eq!(back.dims(), v.dims());
                // 1e-5 mm: the header stores the affine in f32 (origin < 64 mm: ulp/2 < 4e-6).
                assert!(back.geometry().approx_eq(&g, 1e-5), "{:?}", back.geometry());
                assert_eq!(back.to_f64().data(), v.to_f64().data());
            }
        }
    }

    #[test]
    fn scaling_gives_f32() {
        let v: AnyVolume =
            Volume::from_vec([4, 1, 1], Geometry::default(), vec![0i16, 1, -2, 100]).unwrap().into();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.nii");
        write(&p, &v).unwrap();
        let mut b = std::fs::read(&p).unwrap();
        b[112..116].copy_from_slice(&0.5f32.to_le_bytes());
        b[116..120].copy_from_slice(&(-1024f32).to_le_bytes());
        let back = read_from_bytes(&b).unwrap();
        let AnyVolume::F32(f) = back else { panic!("expected f32, got {}", back.type_name()) };
        assert_eq!(f.data(), &[-1024.0, -1023.5, -1025.0, -974.0]);
        b[112..116].copy_from_slice(&f32::INFINITY.to_le_bytes());
        assert!(matches!(read_from_bytes(&b), Err(NiftiError::ReadScaling { .. })));
    }

    #[test]
    fn vector_field_round_trip() {
        let g = geometry();
        let comps = [0.0f32, 1.0, 2.0].map(|c| {
            Volume::from_vec([3, 2, 2], g, (0..12).map(|i| i as f32 + 100.0 * c).collect()).unwrap()
        });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.nii.gz");
        write_vector_field(&p, &comps).unwrap();
        let back = read_vector_field(&p).unwrap();
        for c in 0..3 {
            assert_eq!(back[c].data(), comps[c].data());
            // 1e-5 mm: f32 header fields (origin < 64 mm: ulp/2 < 4e-6).
            assert!(back[c].geometry().approx_eq(&g, 1e-5));
        }
        // A vector field is not a volume.
        assert!(matches!(read(&p), Err(NiftiError::ReadDims { .. })));
    }
}
