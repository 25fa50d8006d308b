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
pub(crate) fn read_vec<T: Elem>(n: usize, big_endian: bool, src: &mut Source) -> Result<Vec<T>, FillError> {
    // `vec![zero; n]` is a calloc: the pages are mapped lazily and filled by the read itself.
    let mut v = vec![T::zeroed(); n];
    src.fill(bytemuck::cast_slice_mut(&mut v))?;
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
    fn go<T: Elem>(
        dims: [usize; 3],
        g: Geometry,
        be: bool,
        src: &mut Source,
    ) -> Result<AnyVolume, FillError> {
        let n = dims[0] * dims[1] * dims[2];
        let v = read_vec::<T>(n, be, src)?;
        let vol = Volume::from_vec(dims, g, v).map_err(|e| FillError::Io(io::Error::other(e)))?;
        Ok(T::wrap(vol))
    }
    match elem {
        ElemType::U8 => go::<u8>(dims, geometry, big_endian, src),
        ElemType::I8 => go::<i8>(dims, geometry, big_endian, src),
        ElemType::U16 => go::<u16>(dims, geometry, big_endian, src),
        ElemType::I16 => go::<i16>(dims, geometry, big_endian, src),
        ElemType::U32 => go::<u32>(dims, geometry, big_endian, src),
        ElemType::I32 => go::<i32>(dims, geometry, big_endian, src),
        ElemType::F32 => go::<f32>(dims, geometry, big_endian, src),
        ElemType::F64 => go::<f64>(dims, geometry, big_endian, src),
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
