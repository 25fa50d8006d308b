//! Raw voxel buffers shared by the NIfTI, NRRD and MetaImage readers and writers: the element
//! types the three formats store, one read straight into the typed buffer, in-place byte
//! swapping, text (ASCII) voxels, and zlib/gzip streams.
//!
//! Kept in one place so the three formats agree on what "little-endian int16" means and so
//! every format reads data the fast way: a single read into the final `Vec<T>` (no staging
//! copy; positional reads split over threads for plain files) and a branch-free parallel byte
//! swap when the file's byte order differs from the machine's.

use std::fs::File;
use std::io::{self, Read, Write};

use bytemuck::Pod;
use hounsfield_core::{AnyVolume, Geometry, Scalar, Volume};
use rayon::prelude::*;

/// The element types every format here can hold in an [`AnyVolume`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElemType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl ElemType {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            ElemType::U8 | ElemType::I8 => 1,
            ElemType::U16 | ElemType::I16 => 2,
            ElemType::U32 | ElemType::I32 | ElemType::F32 => 4,
            ElemType::F64 => 8,
        }
    }

    /// The element type of a volume.
    pub(crate) fn of(v: &AnyVolume) -> ElemType {
        match v {
            AnyVolume::U8(_) => ElemType::U8,
            AnyVolume::I8(_) => ElemType::I8,
            AnyVolume::U16(_) => ElemType::U16,
            AnyVolume::I16(_) => ElemType::I16,
            AnyVolume::U32(_) => ElemType::U32,
            AnyVolume::I32(_) => ElemType::I32,
            AnyVolume::F32(_) => ElemType::F32,
            AnyVolume::F64(_) => ElemType::F64,
        }
    }
}

/// A voxel type that can be read straight from bytes.
pub(crate) trait Elem: Scalar + Pod + std::str::FromStr {
    /// Reverses the byte order.
    fn swap(self) -> Self;
    /// Wraps a volume of this type.
    fn wrap(v: Volume<Self>) -> AnyVolume;
}

macro_rules! elem_int {
    ($($t:ty => $var:ident),*) => {$(
        impl Elem for $t {
            #[inline(always)]
            fn swap(self) -> Self { self.swap_bytes() }
            fn wrap(v: Volume<Self>) -> AnyVolume { AnyVolume::$var(v) }
        }
    )*};
}
elem_int!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32);

impl Elem for f32 {
    #[inline(always)]
    fn swap(self) -> Self {
        f32::from_bits(self.to_bits().swap_bytes())
    }
    fn wrap(v: Volume<Self>) -> AnyVolume {
        AnyVolume::F32(v)
    }
}

impl Elem for f64 {
    #[inline(always)]
    fn swap(self) -> Self {
        f64::from_bits(self.to_bits().swap_bytes())
    }
    fn wrap(v: Volume<Self>) -> AnyVolume {
        AnyVolume::F64(v)
    }
}

/// Why filling a voxel buffer failed.
#[derive(Debug)]
pub(crate) enum FillError {
    /// The source ended after `got` of the `need` bytes.
    Short { need: u64, got: u64 },
    /// Any other I/O or decompression error.
    Io(io::Error),
}

impl From<io::Error> for FillError {
    fn from(e: io::Error) -> Self {
        FillError::Io(e)
    }
}

/// Where voxel bytes come from.
pub(crate) enum Source<'a> {
    /// A plain file at a byte offset: positional reads, split over threads.
    File { file: &'a File, offset: u64 },
    /// Any stream (a decompressor, a file past its header).
    Stream(&'a mut dyn Read),
    /// Bytes in memory.
    Bytes(&'a [u8]),
}

/// Below this size one read is as fast as several.
const PARALLEL_READ_MIN: usize = 8 << 20;

impl Source<'_> {
    /// Fills `dst` completely.
    pub(crate) fn fill(&mut self, dst: &mut [u8]) -> Result<(), FillError> {
        match self {
            Source::Bytes(b) => {
                let Some(src) = b.get(..dst.len()) else {
                    return Err(FillError::Short { need: dst.len() as u64, got: b.len() as u64 });
                };
                if dst.len() >= PARALLEL_READ_MIN {
                    dst.par_chunks_mut(1 << 20)
                        .zip(src.par_chunks(1 << 20))
                        .for_each(|(d, s)| d.copy_from_slice(s));
                } else {
                    dst.copy_from_slice(src);
                }
                *b = &b[dst.len()..];
                Ok(())
            }
            Source::Stream(r) => read_full(*r, dst),
            Source::File { file, offset } => {
                let r = read_file_at(file, *offset, dst);
                *offset += dst.len() as u64;
                r
            }
        }
    }
}

/// Reads until `dst` is full; a stream that ends early is a [`FillError::Short`].
pub(crate) fn read_full(r: &mut dyn Read, dst: &mut [u8]) -> Result<(), FillError> {
    let mut got = 0;
    while got < dst.len() {
        match r.read(&mut dst[got..]) {
            Ok(0) => return Err(FillError::Short { need: dst.len() as u64, got: got as u64 }),
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FillError::Io(e)),
        }
    }
    Ok(())
}

/// Positional reads of `dst.len()` bytes at `offset`, several chunks at once: on a machine
/// with a few cores the kernel's page-cache copy and the page faults of a fresh buffer are the
/// whole cost of reading a volume, and both parallelise.
#[cfg(unix)]
fn read_file_at(file: &File, offset: u64, dst: &mut [u8]) -> Result<(), FillError> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let need = dst.len() as u64;
    if offset.saturating_add(need) > len {
        return Err(FillError::Short { need, got: len.saturating_sub(offset) });
    }
    if dst.len() < PARALLEL_READ_MIN {
        return Ok(file.read_exact_at(dst, offset)?);
    }
    let chunk = dst.len().div_ceil(rayon::current_num_threads().max(1) * 4).max(1 << 20);
    dst.par_chunks_mut(chunk)
        .enumerate()
        .try_for_each(|(i, c)| file.read_exact_at(c, offset + (i * chunk) as u64))?;
    Ok(())
}

#[cfg(not(unix))]
fn read_file_at(file: &File, offset: u64, dst: &mut [u8]) -> Result<(), FillError> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    read_full(&mut f, dst)
}

/// True when bytes stored with `big_endian` order must be swapped on this machine.
#[inline]
pub(crate) fn needs_swap(big_endian: bool) -> bool {
    big_endian != cfg!(target_endian = "big")
}

/// Reads `n` elements of `T` from `src` (stored big- or little-endian).
#[cfg(test)]
pub(crate) fn read_vec<T: Elem>(n: usize, big_endian: bool, src: &mut Source) -> Result<Vec<T>, FillError> {
    fill_vec(n, big_endian, &mut |d| src.fill(d))
}

/// `n` elements of `T` whose bytes `fill` provides, stored big- or little-endian.
fn fill_vec<T: Elem>(
    n: usize,
    big_endian: bool,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<(), FillError>,
) -> Result<Vec<T>, FillError> {
    // `vec![zero; n]` is a calloc: the pages are mapped lazily and filled by the read itself.
    let mut v = vec![T::zeroed(); n];
    fill(bytemuck::cast_slice_mut(&mut v))?;
    if std::mem::size_of::<T>() > 1 && needs_swap(big_endian) {
        v.par_chunks_mut(1 << 16).for_each(|c| c.iter_mut().for_each(|x| *x = x.swap()));
    }
    Ok(v)
}

/// Reads a whole volume of element type `elem` from `src`. `dims` must already have been checked
/// against the memory cap.
pub(crate) fn read_volume(
    elem: ElemType,
    dims: [usize; 3],
    geometry: Geometry,
    big_endian: bool,
    src: &mut Source,
) -> Result<AnyVolume, FillError> {
    read_volume_with(elem, dims, geometry, big_endian, &mut |d| src.fill(d))
}

/// Like [`read_volume`], with the buffer's bytes filled by `fill` (which may split it over
/// several files).
pub(crate) fn read_volume_with(
    elem: ElemType,
    dims: [usize; 3],
    geometry: Geometry,
    big_endian: bool,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<(), FillError>,
) -> Result<AnyVolume, FillError> {
    fn go<T: Elem>(
        dims: [usize; 3],
        g: Geometry,
        be: bool,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), FillError>,
    ) -> Result<AnyVolume, FillError> {
        let v = fill_vec::<T>(dims[0] * dims[1] * dims[2], be, fill)?;
        let vol = Volume::from_vec(dims, g, v).map_err(|e| FillError::Io(io::Error::other(e)))?;
        Ok(T::wrap(vol))
    }
    match elem {
        ElemType::U8 => go::<u8>(dims, geometry, big_endian, fill),
        ElemType::I8 => go::<i8>(dims, geometry, big_endian, fill),
        ElemType::U16 => go::<u16>(dims, geometry, big_endian, fill),
        ElemType::I16 => go::<i16>(dims, geometry, big_endian, fill),
        ElemType::U32 => go::<u32>(dims, geometry, big_endian, fill),
        ElemType::I32 => go::<i32>(dims, geometry, big_endian, fill),
        ElemType::F32 => go::<f32>(dims, geometry, big_endian, fill),
        ElemType::F64 => go::<f64>(dims, geometry, big_endian, fill),
    }
}

/// Why parsing text voxels failed.
#[derive(Debug)]
pub(crate) enum TextError {
    /// Fewer numbers than voxels.
    Short { need: usize, got: usize },
    /// A token that is not a number of the element type.
    Token { index: usize, token: String },
}

/// Parses whitespace- (or comma-) separated numbers as a volume of element type `elem`.
pub(crate) fn parse_text_volume(
    elem: ElemType,
    dims: [usize; 3],
    geometry: Geometry,
    text: &[u8],
) -> Result<AnyVolume, TextError> {
    fn go<T: Elem>(dims: [usize; 3], g: Geometry, text: &[u8]) -> Result<AnyVolume, TextError> {
        let n = dims[0] * dims[1] * dims[2];
        let mut out = Vec::with_capacity(n);
        let tokens = text.split(|b| b.is_ascii_whitespace() || *b == b',').filter(|t| !t.is_empty()).take(n);
        for (index, tok) in tokens.enumerate() {
            let s = std::str::from_utf8(tok).ok();
            match s.and_then(|s| parse_number::<T>(s)) {
                Some(v) => out.push(v),
                None => {
                    return Err(TextError::Token { index, token: String::from_utf8_lossy(tok).into_owned() })
                }
            }
        }
        if out.len() < n {
            return Err(TextError::Short { need: n, got: out.len() });
        }
        let vol = Volume::from_vec(dims, g, out).map_err(|_| TextError::Short { need: n, got: 0 })?;
        Ok(T::wrap(vol))
    }
    match elem {
        ElemType::U8 => go::<u8>(dims, geometry, text),
        ElemType::I8 => go::<i8>(dims, geometry, text),
        ElemType::U16 => go::<u16>(dims, geometry, text),
        ElemType::I16 => go::<i16>(dims, geometry, text),
        ElemType::U32 => go::<u32>(dims, geometry, text),
        ElemType::I32 => go::<i32>(dims, geometry, text),
        ElemType::F32 => go::<f32>(dims, geometry, text),
        ElemType::F64 => go::<f64>(dims, geometry, text),
    }
}

/// Parses one number; integers may be written as `12.0` (some writers do), but must be
/// integral and in range.
fn parse_number<T: Elem>(s: &str) -> Option<T> {
    if let Ok(v) = s.parse::<T>() {
        return Some(v);
    }
    let f: f64 = s.parse().ok()?;
    let v = T::from_f64(f);
    (v.to_f64() == f).then_some(v)
}

/// Writes elements in the requested byte order.
pub(crate) fn write_elems<T: Elem>(data: &[T], big_endian: bool, w: &mut dyn Write) -> io::Result<()> {
    if std::mem::size_of::<T>() == 1 || !needs_swap(big_endian) {
        return w.write_all(bytemuck::cast_slice(data));
    }
    let mut buf: Vec<T> = Vec::with_capacity(1 << 16);
    for chunk in data.chunks(1 << 16) {
        buf.clear();
        buf.extend(chunk.iter().map(|x| x.swap()));
        w.write_all(bytemuck::cast_slice(&buf))?;
    }
    Ok(())
}

/// Writes a volume's voxels in the requested byte order.
pub(crate) fn write_volume(v: &AnyVolume, big_endian: bool, w: &mut dyn Write) -> io::Result<()> {
    hounsfield_core::with_any_volume!(v, v => write_elems(v.data(), big_endian, w))
}

/// Writes a volume's voxels as text, one x-row per line (NRRD `ascii`, MetaImage
/// `BinaryData = False`). Floats use Rust's shortest round-trip form, so text is lossless.
pub(crate) fn write_text(v: &AnyVolume, w: &mut dyn Write) -> io::Result<()> {
    fn go<T: Scalar + std::fmt::Display>(v: &Volume<T>, w: &mut dyn Write) -> io::Result<()> {
        let nx = v.dims()[0];
        for row in v.data().chunks(nx) {
            let mut line = String::with_capacity(row.len() * 8);
            for (i, x) in row.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(&x.to_string());
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    }
    hounsfield_core::with_any_volume!(v, v => go(v, w))
}

/// A zlib or gzip decoder chosen by the stream's first bytes (gzip starts 1f 8b; zlib's first
/// byte has compression method 8 in its low nibble), as MetaIO's `inflateInit2(…, 47)` does.
pub(crate) fn inflate_auto<'a, R: io::BufRead + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = r.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else {
        Ok(Box::new(flate2::bufread::ZlibDecoder::new(r)))
    }
}

/// How voxel bytes are encoded in a data file (NRRD `encoding`, MetaImage
/// `CompressedData`/`BinaryData`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Raw binary.
    Raw,
    /// zlib or gzip stream (told apart by its first bytes).
    Deflate,
    /// Whitespace-separated decimal numbers.
    Text,
    /// Hexadecimal digit pairs (NRRD `hex`), whitespace ignored.
    Hex,
}

/// Where one slab of voxel data lives.
#[derive(Clone, Debug)]
pub(crate) enum Place<'a> {
    /// A file, from a byte offset.
    File { path: std::path::PathBuf, offset: u64 },
    /// Bytes in memory.
    Memory(&'a [u8]),
}

/// One data file (or the data part of an attached header) and what to skip in it first.
#[derive(Clone, Debug)]
pub(crate) struct Slab<'a> {
    pub place: Place<'a>,
    /// Lines to skip before the data (NRRD `line skip`), in the stored (compressed) bytes.
    pub line_skip: u64,
    /// Bytes to skip after the lines, in the decoded bytes; −1: the data ends the file (raw
    /// only; NRRD `byte skip: -1`, MetaImage `HeaderSize = -1`).
    pub byte_skip: i64,
}

/// Why reading voxel data from slabs failed; `path` is the data file.
#[derive(Debug)]
pub(crate) enum SlabError {
    Open { path: std::path::PathBuf, source: io::Error },
    Short { need: u64, got: u64, path: std::path::PathBuf },
    Decompress { path: std::path::PathBuf, source: io::Error },
    Text { path: std::path::PathBuf, reason: String },
}

impl Place<'_> {
    fn path(&self) -> std::path::PathBuf {
        match self {
            Place::File { path, .. } => path.clone(),
            Place::Memory(_) => "<memory>".into(),
        }
    }

    /// A buffered reader positioned at the place's start, and the bytes left from there.
    fn open(&self) -> Result<(Box<dyn io::BufRead + '_>, u64), SlabError> {
        match self {
            Place::Memory(b) => Ok((Box::new(*b), b.len() as u64)),
            Place::File { path, offset } => {
                use std::io::{Seek, SeekFrom};
                let err = |source| SlabError::Open { path: path.clone(), source };
                let mut f = File::open(path).map_err(err)?;
                let len = f.metadata().map_err(err)?.len();
                f.seek(SeekFrom::Start(*offset)).map_err(err)?;
                Ok((Box::new(io::BufReader::with_capacity(1 << 18, f)), len.saturating_sub(*offset)))
            }
        }
    }
}

fn skip_lines(r: &mut dyn io::BufRead, n: u64, path: &std::path::Path) -> Result<(), SlabError> {
    for _ in 0..n {
        let k = r.skip_until(b'\n').map_err(|source| SlabError::Open { path: path.into(), source })?;
        if k == 0 {
            return Err(SlabError::Short { need: 1, got: 0, path: path.into() });
        }
    }
    Ok(())
}

fn skip_bytes(r: &mut dyn Read, n: u64, compressed: bool, path: &std::path::Path) -> Result<(), SlabError> {
    let got = io::copy(&mut r.take(n), &mut io::sink()).map_err(|source| {
        if compressed {
            SlabError::Decompress { path: path.into(), source }
        } else {
            SlabError::Open { path: path.into(), source }
        }
    })?;
    if got < n {
        return Err(SlabError::Short { need: n, got, path: path.into() });
    }
    Ok(())
}

fn fill_err(e: FillError, compressed: bool, path: &std::path::Path) -> SlabError {
    match e {
        FillError::Short { need, got } => SlabError::Short { need, got, path: path.into() },
        FillError::Io(source) if compressed => SlabError::Decompress { path: path.into(), source },
        FillError::Io(source) => SlabError::Open { path: path.into(), source },
    }
}

/// Fills `dst` with the decoded binary bytes of one slab (`Raw`, `Deflate` or `Hex`).
fn fill_slab(slab: &Slab, enc: Encoding, dst: &mut [u8]) -> Result<(), SlabError> {
    let path = slab.place.path();
    let need = dst.len() as u64;
    // Fast path: a raw file read positionally, in parallel.
    if let (Encoding::Raw, Place::File { path, offset }, 0) = (enc, &slab.place, slab.line_skip) {
        let err = |source| SlabError::Open { path: path.clone(), source };
        let f = File::open(path).map_err(err)?;
        let len = f.metadata().map_err(err)?.len();
        let start = if slab.byte_skip < 0 {
            len.checked_sub(need).filter(|s| *s >= *offset).ok_or(SlabError::Short {
                need,
                got: len.saturating_sub(*offset),
                path: path.clone(),
            })?
        } else {
            offset.saturating_add(slab.byte_skip as u64)
        };
        return Source::File { file: &f, offset: start }.fill(dst).map_err(|e| fill_err(e, false, path));
    }
    let (mut r, left) = slab.place.open()?;
    skip_lines(&mut r, slab.line_skip, &path)?;
    match enc {
        Encoding::Raw => {
            if slab.byte_skip < 0 {
                // Memory or after line skip: what is left must end with the data.
                let mut rest = Vec::new();
                r.read_to_end(&mut rest).map_err(|source| SlabError::Open { path: path.clone(), source })?;
                let start = rest.len().checked_sub(dst.len()).ok_or(SlabError::Short {
                    need,
                    got: rest.len() as u64,
                    path: path.clone(),
                })?;
                dst.copy_from_slice(&rest[start..]);
                return Ok(());
            }
            let _ = left;
            skip_bytes(&mut r, slab.byte_skip as u64, false, &path)?;
            read_full(&mut r, dst).map_err(|e| fill_err(e, false, &path))
        }
        Encoding::Deflate => {
            let mut dec =
                inflate_auto(r).map_err(|source| SlabError::Decompress { path: path.clone(), source })?;
            skip_bytes(&mut dec, slab.byte_skip.max(0) as u64, true, &path)?;
            read_full(&mut dec, dst).map_err(|e| fill_err(e, true, &path))
        }
        Encoding::Hex => {
            skip_bytes(&mut r, slab.byte_skip.max(0) as u64, false, &path)?;
            let mut got = 0usize;
            let mut hi: Option<u8> = None;
            let mut buf = [0u8; 1 << 14];
            while got < dst.len() {
                let k = r.read(&mut buf).map_err(|source| SlabError::Open { path: path.clone(), source })?;
                if k == 0 {
                    return Err(SlabError::Short { need, got: got as u64, path });
                }
                for &c in &buf[..k] {
                    let v = match c {
                        b'0'..=b'9' => c - b'0',
                        b'a'..=b'f' => c - b'a' + 10,
                        b'A'..=b'F' => c - b'A' + 10,
                        c if c.is_ascii_whitespace() => continue,
                        _ => {
                            return Err(SlabError::Text {
                                path,
                                reason: format!("{:?} is not a hex digit", c as char),
                            })
                        }
                    };
                    match hi.take() {
                        None => hi = Some(v),
                        Some(h) => {
                            if got < dst.len() {
                                dst[got] = h << 4 | v;
                            }
                            got += 1;
                        }
                    }
                }
            }
            Ok(())
        }
        Encoding::Text => Err(SlabError::Text { path, reason: "text slabs are parsed, not filled".into() }),
    }
}

/// Reads a volume whose voxels are split evenly over `slabs` (one for most files; several for
/// NRRD `LIST`/pattern and MetaImage `LIST` data files). Sizes must already be checked
/// against the memory cap.
pub(crate) fn read_slabs(
    elem: ElemType,
    dims: [usize; 3],
    geometry: Geometry,
    big_endian: bool,
    enc: Encoding,
    slabs: &[Slab],
) -> Result<AnyVolume, SlabError> {
    let count = slabs.len().max(1);
    if enc == Encoding::Text {
        let mut text = Vec::new();
        for slab in slabs {
            let path = slab.place.path();
            let (mut r, left) = slab.place.open()?;
            skip_lines(&mut r, slab.line_skip, &path)?;
            skip_bytes(&mut r, slab.byte_skip.max(0) as u64, false, &path)?;
            hounsfield_core::check_alloc(left as u128 + text.len() as u128, 1)
                .map_err(|e| SlabError::Text { path: path.clone(), reason: e.to_string() })?;
            r.read_to_end(&mut text).map_err(|source| SlabError::Open { path: path.clone(), source })?;
            text.push(b'\n');
        }
        let path = slabs.first().map(|s| s.place.path()).unwrap_or_default();
        return parse_text_volume(elem, dims, geometry, &text).map_err(|e| SlabError::Text {
            path,
            reason: match e {
                TextError::Short { need, got } => format!("{got} numbers for {need} voxels"),
                TextError::Token { index, token } => format!("value {index} ({token:?}) is not a {elem:?}"),
            },
        });
    }
    let total = dims.iter().product::<usize>() * elem.size();
    if total % count != 0 {
        let path = slabs.first().map(|s| s.place.path()).unwrap_or_default();
        return Err(SlabError::Text {
            path,
            reason: format!("{total} bytes do not split over {count} files"),
        });
    }
    let per = total / count;
    let mut failed = None;
    let result = read_volume_with(elem, dims, geometry, big_endian, &mut |buf| {
        for (slab, part) in slabs.iter().zip(buf.chunks_mut(per.max(1))) {
            if let Err(e) = fill_slab(slab, enc, part) {
                failed = Some(e);
                return Err(FillError::Short { need: 0, got: 0 });
            }
        }
        Ok(())
    });
    match (result, failed) {
        (_, Some(e)) => Err(e),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(fill_err(e, false, &slabs.first().map(|s| s.place.path()).unwrap_or_default())),
    }
}

/// Most data files one header may name (LIST or pattern): far more slices than any scanner
/// makes, few enough that the list of names stays small.
pub(crate) const MAX_DATA_FILES: usize = 1 << 20;

/// File names from a printf-style pattern with one integer conversion (`%d`, `%03d`, `%i`,
/// `%5d`; `%%` is a literal %), for `min..=max` by `step` (NRRD data file patterns, MetaImage
/// `ElementDataFile = slice%03d.raw 1 10 1`). At most `limit` names.
pub(crate) fn pattern_names(
    fmt: &str,
    min: i64,
    max: i64,
    step: i64,
    limit: usize,
) -> Result<Vec<String>, String> {
    // i128: no bound or step given in a header can overflow it.
    let (lo, hi, st) = (min as i128, max as i128, step as i128);
    if st == 0 || (hi - lo).signum() * st.signum() < 0 {
        return Err(format!("pattern range {min}..{max} step {step} is empty or endless"));
    }
    let count = (hi - lo) / st + 1;
    if count > limit.min(MAX_DATA_FILES) as i128 {
        return Err(format!(
            "pattern gives {count} files, more than the {} allowed",
            limit.min(MAX_DATA_FILES)
        ));
    }
    // Split the format at its single integer conversion.
    let bytes = fmt.as_bytes();
    let mut i = 0;
    let mut conv = None;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if bytes.get(i + 1) == Some(&b'%') {
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'-' || bytes[j] == b'+') {
                j += 1;
            }
            match bytes.get(j) {
                Some(b'd' | b'i' | b'u') if conv.is_none() => conv = Some((i, j)),
                _ => return Err(format!("unsupported pattern {fmt:?} (one %d conversion expected)")),
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    let (a, b) = conv.ok_or_else(|| format!("pattern {fmt:?} has no %d"))?;
    let flags = &fmt[a + 1..b];
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches(['0', '+', '-']).parse().unwrap_or(0);
    if width > 64 {
        return Err(format!("pattern {fmt:?} asks for a field width of {width}"));
    }
    let (pre, post) = (fmt[..a].replace("%%", "%"), fmt[b + 1..].replace("%%", "%"));
    let mut v = Vec::with_capacity(count as usize);
    let mut k = lo;
    for _ in 0..count {
        let num = if zero {
            if k < 0 {
                format!("-{:0w$}", -k, w = width.saturating_sub(1))
            } else {
                format!("{k:0width$}")
            }
        } else {
            format!("{k:width$}")
        };
        v.push(format!("{pre}{num}{post}"));
        k += st;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_int16_is_swapped() {
        let bytes = [0x01u8, 0x02, 0xff, 0xfe];
        let v = read_vec::<i16>(2, true, &mut Source::Bytes(&bytes)).unwrap();
        assert_eq!(v, vec![0x0102, -2]);
        let v = read_vec::<i16>(2, false, &mut Source::Bytes(&bytes)).unwrap();
        assert_eq!(v, vec![0x0201, i16::from_le_bytes([0xff, 0xfe])]);
    }

    #[test]
    fn short_source_reports_sizes() {
        let r = read_vec::<f32>(2, false, &mut Source::Bytes(&[0u8; 7]));
        assert!(matches!(r, Err(FillError::Short { need: 8, got: 7 })));
    }

    #[test]
    fn write_then_read_both_orders() {
        let data = [1.5f64, -2.25e300, f64::MIN_POSITIVE];
        for be in [false, true] {
            let mut out = Vec::new();
            write_elems(&data, be, &mut out).unwrap();
            let back = read_vec::<f64>(3, be, &mut Source::Bytes(&out)).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(
            pattern_names("s%03d.raw", 1, 3, 1, 10).unwrap(),
            vec!["s001.raw", "s002.raw", "s003.raw"]
        );
        assert_eq!(
            pattern_names("a%d_%%.raw", 10, 6, -2, 10).unwrap(),
            vec!["a10_%.raw", "a8_%.raw", "a6_%.raw"]
        );
        assert!(pattern_names("s%03d.raw", 1, 3, 0, 10).is_err());
        assert!(pattern_names("s%03d.raw", 1, 30, 1, 10).is_err());
        assert!(pattern_names("s%s.raw", 1, 3, 1, 10).is_err());
        // Bounds that would overflow i64 arithmetic, and absurd field widths, are errors.
        assert!(pattern_names("s%d", i64::MIN, i64::MAX, 1, 10).is_err());
        assert!(pattern_names("s%d", i64::MAX, i64::MIN, -1, 10).is_err());
        assert!(pattern_names("s%0999999999d", 1, 1, 1, 10).is_err());
        assert_eq!(
            pattern_names("s%d", i64::MAX, i64::MAX, i64::MIN, 10).unwrap(),
            vec![format!("s{}", i64::MAX)]
        );
    }

    #[test]
    fn slabs_of_every_encoding() {
        let g = Geometry::default();
        let want = AnyVolume::U16(Volume::from_vec([2, 2, 1], g, vec![1, 0x0203, 4, 0xff00]).unwrap());
        let raw_be = [0u8, 1, 2, 3, 0, 4, 0xff, 0];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"skip").unwrap();
        gz.write_all(&raw_be).unwrap();
        let gz = gz.finish().unwrap();
        let mut text = b"# comment
"
        .to_vec();
        text.extend_from_slice(
            b"1 515
4 65280
",
        );
        let hex = b"junk line
0001 0203
0004ff00
";
        let cases: Vec<(Encoding, &[u8], u64, i64)> = vec![
            (Encoding::Raw, &raw_be, 0, 0),
            (Encoding::Deflate, &gz, 0, 4),
            (Encoding::Text, &text, 1, 0),
            (Encoding::Hex, hex, 1, 0),
        ];
        for (enc, bytes, line_skip, byte_skip) in cases {
            let slab = Slab { place: Place::Memory(bytes), line_skip, byte_skip };
            let v = read_slabs(ElemType::U16, [2, 2, 1], g, true, enc, &[slab]).unwrap();
            assert_eq!(v, want, "{enc:?}");
        }
        // Raw data at the end of the file (byte skip −1), and over two slabs.
        let mut tail = b"header junk".to_vec();
        tail.extend_from_slice(&raw_be);
        let slab = Slab { place: Place::Memory(&tail), line_skip: 0, byte_skip: -1 };
        assert_eq!(read_slabs(ElemType::U16, [2, 2, 1], g, true, Encoding::Raw, &[slab]).unwrap(), want);
        let halves = [&raw_be[..4], &raw_be[4..]].map(|b| Slab {
            place: Place::Memory(b),
            line_skip: 0,
            byte_skip: 0,
        });
        assert_eq!(read_slabs(ElemType::U16, [2, 2, 1], g, true, Encoding::Raw, &halves).unwrap(), want);
        let short = Slab { place: Place::Memory(&raw_be[..5]), line_skip: 0, byte_skip: 0 };
        assert!(matches!(
            read_slabs(ElemType::U16, [2, 2, 1], g, true, Encoding::Raw, &[short]),
            Err(SlabError::Short { need: 8, got: 5, .. })
        ));
    }

    #[test]
    fn text_numbers() {
        let v = parse_text_volume(ElemType::I16, [3, 1, 1], Geometry::default(), b" -3\n4.0, 7 ").unwrap();
        assert_eq!(
            v,
            AnyVolume::I16(Volume::from_vec([3, 1, 1], Geometry::default(), vec![-3, 4, 7]).unwrap())
        );
        assert!(matches!(
            parse_text_volume(ElemType::U8, [2, 1, 1], Geometry::default(), b"1 300"),
            Err(TextError::Token { index: 1, .. })
        ));
        assert!(matches!(
            parse_text_volume(ElemType::U8, [3, 1, 1], Geometry::default(), b"1 3"),
            Err(TextError::Short { need: 3, got: 2 })
        ));
    }
}
