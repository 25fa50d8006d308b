//! Byte-level reading of one DICOM file: preamble and file meta group (PS3.10 7.1), transfer
//! syntax, and a validating walk over the data set (PS3.5 7) before dicom-rs sees it.
//!
//! Why our own walk: dicom-rs allocates every value at its declared length before reading it
//! (a 4-byte length can claim 4 GiB) and recurses into nested sequences without a depth
//! limit. The walk checks every declared length against the bytes that are really there,
//! limits nesting, and finds where the pixel data lies. dicom-object then decodes only the
//! attributes before the pixel data (bytes the walk has validated); native pixel data is
//! read straight from the file's bytes and encapsulated fragments are handed to the codecs
//! without copies. Anything after the pixel data (trailing padding, signatures) is ignored,
//! which is how files with megabytes of zero padding after PixelData still read.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{uids, StandardDataDictionary};
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use super::DicomError;

/// Deepest sequence nesting accepted (real files stay under ~8; dicom-rs recurses once per
/// level, so an unbounded depth would overflow the stack).
const MAX_DEPTH: usize = 32;

/// Bytes read from the start of a file when only the header is needed, in turn; the whole
/// file is read when the attributes before the pixel data do not fit the last.
const HEADER_PREFIXES: [usize; 2] = [16 << 10, 256 << 10];

const EXPLICIT_VR_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";
pub(crate) const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
pub(crate) const FLOAT_PIXEL_DATA: Tag = Tag(0x7FE0, 0x0008);
pub(crate) const DOUBLE_PIXEL_DATA: Tag = Tag(0x7FE0, 0x0009);
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQ_END: Tag = Tag(0xFFFE, 0xE0DD);

/// How the data set is encoded (PS3.5 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Encoding {
    /// Little endian (all but the retired Explicit VR Big Endian).
    pub little_endian: bool,
    /// Explicit VR (all but Implicit VR Little Endian).
    pub explicit: bool,
}

impl Encoding {
    const IMPLICIT_LE: Encoding = Encoding { little_endian: true, explicit: false };
    const EXPLICIT_LE: Encoding = Encoding { little_endian: true, explicit: true };
    const EXPLICIT_BE: Encoding = Encoding { little_endian: false, explicit: true };

    fn uid(self) -> &'static str {
        match (self.little_endian, self.explicit) {
            (true, false) => uids::IMPLICIT_VR_LITTLE_ENDIAN,
            (false, _) => EXPLICIT_VR_BIG_ENDIAN,
            (true, true) => uids::EXPLICIT_VR_LITTLE_ENDIAN,
        }
    }
}

/// Where the pixel data of a file lies in [`Parsed::buf`].
#[derive(Clone, Debug)]
pub(crate) enum PixelLoc {
    /// Native (uncompressed) samples: PixelData, FloatPixelData or DoubleFloatPixelData.
    Native {
        /// Which of the three elements.
        tag: Tag,
        /// Its VR (OB or OW matters for byte order in big-endian files).
        vr: VR,
        /// The value's bytes.
        range: Range<usize>,
    },
    /// Encapsulated fragments (PS3.5 A.4).
    Encapsulated {
        /// The Basic Offset Table item's value.
        offset_table: Range<usize>,
        /// Each fragment's value.
        fragments: Vec<Range<usize>>,
    },
}

/// One DICOM file: its bytes, transfer syntax, attributes and pixel data location.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// Where it came from (a path, or a label for in-memory input).
    pub label: PathBuf,
    /// The bytes: the whole file, or (deflated transfer syntax) the inflated data set.
    pub buf: Vec<u8>,
    /// Transfer Syntax UID (from the meta group, or the encoding guessed without one).
    pub ts_uid: String,
    /// How the data set is encoded.
    pub encoding: Encoding,
    /// MediaStorageSOPClassUID (0002,0002), when the meta group has it.
    pub media_sop_class: Option<String>,
    /// The pixel data, if the file has any. In header-only mode only native PixelData is
    /// located (its bytes are not in `buf`).
    pub pixel: Option<PixelLoc>,
    /// The attributes before the pixel data.
    pub obj: InMemDicomObject,
}

/// What to read of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Attributes only: stop before the pixel data, read only a prefix when it suffices.
    Header,
    /// Attributes and pixel data.
    Full,
}

/// Reads and parses the file at `path`.
pub(crate) fn parse_path(path: &Path, depth: Depth) -> Result<Parsed, DicomError> {
    let io_err = |source| DicomError::ReadFile { path: path.to_path_buf(), source };
    if depth == Depth::Header {
        let mut file = std::fs::File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let mut prefix = Vec::new();
        for size in HEADER_PREFIXES {
            prefix.reserve_exact(size.min(len as usize).saturating_sub(prefix.len()));
            (&mut file).take((size - prefix.len()) as u64).read_to_end(&mut prefix).map_err(io_err)?;
            if prefix.len() as u64 >= len {
                return parse_bytes(path.to_path_buf(), prefix, depth);
            }
            if let Some(p) = parse_prefix(path, &prefix, len)? {
                return Ok(p);
            }
        }
    }
    let buf = std::fs::read(path).map_err(io_err)?;
    parse_bytes(path.to_path_buf(), buf, depth)
}

/// Parses the header from the first bytes of a file of `file_len` bytes; `None` when the
/// attributes run past the prefix (or the data set must be inflated first).
pub(crate) fn parse_prefix(path: &Path, prefix: &[u8], file_len: u64) -> Result<Option<Parsed>, DicomError> {
    let label = path.to_path_buf();
    let (meta, ds_start) = read_meta(&label, prefix)?;
    let Some((ts_uid, encoding, deflated)) = transfer_syntax(&label, prefix, ds_start, &meta)? else {
        return Ok(None);
    };
    if deflated {
        return Ok(None);
    }
    let walker = Walker { buf: prefix, end: file_len as usize, enc: encoding, header_only: true };
    match walker.top(ds_start) {
        Err(WalkError::NeedMore) => Ok(None),
        Err(WalkError::Bad { offset, reason }) => Err(DicomError::Malformed { offset, reason, path: label }),
        // The walk can end past the prefix (after skipping a long value near the end of the
        // file): then read the whole file.
        Ok(top) if top.header_end > prefix.len() => Ok(None),
        Ok(top) => {
            let obj = parse_header(&label, &prefix[ds_start..top.header_end], encoding)?;
            Ok(Some(Parsed {
                label,
                buf: Vec::new(),
                ts_uid,
                encoding,
                media_sop_class: meta.sop_class,
                pixel: top.pixel,
                obj,
            }))
        }
    }
}

/// Parses a whole file held in memory (with or without preamble and meta group).
pub(crate) fn parse_bytes(label: PathBuf, buf: Vec<u8>, depth: Depth) -> Result<Parsed, DicomError> {
    let (meta, ds_start) = read_meta(&label, &buf)?;
    let Some((ts_uid, encoding, deflated)) = transfer_syntax(&label, &buf, ds_start, &meta)? else {
        return Err(DicomError::NotDicom { path: label });
    };
    let (buf, ds_start) = if deflated { (inflate(&label, &buf[ds_start..])?, 0) } else { (buf, ds_start) };
    let walker = Walker { buf: &buf, end: buf.len(), enc: encoding, header_only: depth == Depth::Header };
    let top = match walker.top(ds_start) {
        Ok(t) => t,
        Err(WalkError::NeedMore) => {
            return Err(DicomError::Malformed {
                offset: buf.len(),
                reason: "unexpected end of data".into(),
                path: label,
            })
        }
        Err(WalkError::Bad { offset, reason }) => {
            return Err(DicomError::Malformed { offset, reason, path: label })
        }
    };
    let obj = parse_header(&label, &buf[ds_start..top.header_end], encoding)?;
    let buf = if depth == Depth::Header { Vec::new() } else { buf };
    Ok(Parsed { label, buf, ts_uid, encoding, media_sop_class: meta.sop_class, pixel: top.pixel, obj })
}

fn parse_header(label: &Path, bytes: &[u8], enc: Encoding) -> Result<InMemDicomObject, DicomError> {
    let ts = TransferSyntaxRegistry.get(enc.uid()).ok_or_else(|| DicomError::UnsupportedTransferSyntax {
        uid: enc.uid().into(),
        name: "built-in".into(),
        feature: None,
        path: label.to_path_buf(),
    })?;
    InMemDicomObject::read_dataset_with_ts(bytes, ts)
        .map_err(|e| DicomError::ParseDataset { source: Box::new(e), path: label.to_path_buf() })
}

/// What the file meta group says.
#[derive(Debug, Default)]
struct Meta {
    ts_uid: Option<String>,
    sop_class: Option<String>,
}

/// Skips the preamble and reads the file meta group (always explicit VR little endian,
/// PS3.10 7.1). Returns the meta fields and where the data set starts.
fn read_meta(label: &Path, buf: &[u8]) -> Result<(Meta, usize), DicomError> {
    let mut pos = if buf.get(128..132) == Some(b"DICM") {
        132
    } else if buf.starts_with(b"DICM") {
        4
    } else if buf.len() >= 8 && u16::from_le_bytes([buf[0], buf[1]]) == 0x0002 {
        // A meta group without preamble and magic (seen in the wild).
        0
    } else {
        return Ok((Meta::default(), 0));
    };
    let mut meta = Meta::default();
    let bad = |offset: usize, reason: String| DicomError::Malformed { offset, reason, path: label.into() };
    while let Some(h) = buf.get(pos..pos + 8) {
        if u16::from_le_bytes([h[0], h[1]]) != 0x0002 {
            break;
        }
        let elem = u16::from_le_bytes([h[2], h[3]]);
        let vr = [h[4], h[5]];
        let (len, start) = if vr.iter().all(u8::is_ascii_uppercase) {
            if long_length(VR::from_binary(vr).unwrap_or(VR::UN)) {
                let l =
                    buf.get(pos + 8..pos + 12).ok_or_else(|| bad(pos, "file meta group truncated".into()))?;
                (u32::from_le_bytes([l[0], l[1], l[2], l[3]]), pos + 12)
            } else {
                (u16::from_le_bytes([h[6], h[7]]) as u32, pos + 8)
            }
        } else {
            // Implicit VR in the meta group: against the standard, but written by some tools.
            (u32::from_le_bytes([h[4], h[5], h[6], h[7]]), pos + 8)
        };
        if len == u32::MAX {
            return Err(bad(pos, "undefined length in the file meta group".into()));
        }
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| bad(pos, format!("file meta element (0002,{elem:04X}) runs past the end")))?;
        let text = || String::from_utf8_lossy(&buf[start..end]).trim_end_matches(['\0', ' ']).to_string();
        match elem {
            0x0010 => meta.ts_uid = Some(text()),
            0x0002 => meta.sop_class = Some(text()),
            _ => {}
        }
        pos = end;
    }
    Ok((meta, pos))
}

/// The transfer syntax: from the meta group, else guessed from the first data element
/// (as dcmtk does for files without a meta group). Returns (UID, data set encoding,
/// deflated), or `None` when no data set can be recognised.
fn transfer_syntax(
    label: &Path,
    buf: &[u8],
    ds_start: usize,
    meta: &Meta,
) -> Result<Option<(String, Encoding, bool)>, DicomError> {
    if let Some(uid) = meta.ts_uid.as_deref().filter(|u| !u.is_empty()) {
        let enc = match uid {
            uids::IMPLICIT_VR_LITTLE_ENDIAN => Encoding::IMPLICIT_LE,
            EXPLICIT_VR_BIG_ENDIAN => Encoding::EXPLICIT_BE,
            // Every other transfer syntax, known or not, encodes the data set as explicit VR
            // little endian (PS3.5 A.4, A.5).
            _ => Encoding::EXPLICIT_LE,
        };
        let deflated = uid == uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN;
        // Some writers put an implicit VR data set behind an explicit VR transfer syntax
        // (or the reverse); like pydicom, trust the first element's bytes over the meta.
        let enc = match buf.get(ds_start..ds_start + 8) {
            Some(h) if !deflated && enc.little_endian => {
                let vr_ok = h[4].is_ascii_uppercase()
                    && h[5].is_ascii_uppercase()
                    && VR::from_binary([h[4], h[5]]).is_some();
                if vr_ok != enc.explicit {
                    tracing::warn!(
                        "{}: data set encoding differs from its transfer syntax {uid}",
                        label.display()
                    );
                }
                Encoding { little_endian: true, explicit: vr_ok }
            }
            _ => enc,
        };
        return Ok(Some((uid.to_string(), enc, deflated)));
    }
    Ok(guess_encoding(buf.get(ds_start..).unwrap_or(&[])).map(|e| (e.uid().to_string(), e, false)))
}

/// Guesses the encoding of a data set without meta group from its first element, which
/// must be in group 0x0008 (Identifying: SOP Class, dates) as in every real image.
fn guess_encoding(ds: &[u8]) -> Option<Encoding> {
    let h = ds.get(..8)?;
    let vr_ok =
        VR::from_binary([h[4], h[5]]).is_some() && h[4].is_ascii_uppercase() && h[5].is_ascii_uppercase();
    let le_group = u16::from_le_bytes([h[0], h[1]]);
    let be_group = u16::from_be_bytes([h[0], h[1]]);
    if le_group == 0x0008 {
        Some(if vr_ok { Encoding::EXPLICIT_LE } else { Encoding::IMPLICIT_LE })
    } else if be_group == 0x0008 && vr_ok {
        Some(Encoding::EXPLICIT_BE)
    } else {
        None
    }
}

/// Inflates a Deflated Explicit VR Little Endian data set (raw deflate, PS3.5 A.5), capped
/// by the memory cap (a few KB can inflate to gigabytes).
fn inflate(label: &Path, data: &[u8]) -> Result<Vec<u8>, DicomError> {
    let cap = hounsfield_core::memory_cap();
    let mut out = Vec::new();
    let mut dec = flate2::read::DeflateDecoder::new(data).take(cap.saturating_add(1));
    dec.read_to_end(&mut out).map_err(|e| DicomError::Malformed {
        offset: 0,
        reason: format!("cannot inflate the deflated data set: {e}"),
        path: label.into(),
    })?;
    hounsfield_core::check_alloc(out.len() as u128, 1)?;
    Ok(out)
}

/// VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
fn long_length(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB
            | VR::OD
            | VR::OF
            | VR::OL
            | VR::OV
            | VR::OW
            | VR::SQ
            | VR::SV
            | VR::UC
            | VR::UN
            | VR::UR
            | VR::UT
            | VR::UV
    )
}

enum WalkError {
    /// The walk needs bytes beyond the prefix read so far.
    NeedMore,
    /// The structure is broken.
    Bad { offset: usize, reason: String },
}

fn bad<T>(offset: usize, reason: impl Into<String>) -> Result<T, WalkError> {
    Err(WalkError::Bad { offset, reason: reason.into() })
}

struct Header {
    tag: Tag,
    vr: VR,
    /// `None` for undefined length.
    len: Option<usize>,
    value: usize,
}

/// Offset table, fragments, and the position after the pixel data.
type Encapsulated = (Range<usize>, Vec<Range<usize>>, usize);

struct Top {
    header_end: usize,
    pixel: Option<PixelLoc>,
}

/// Validating walk over a data set held (maybe only partly) in `buf`.
struct Walker<'a> {
    /// The bytes available (a prefix of the data when `buf.len() < end`).
    buf: &'a [u8],
    /// Logical end of the data (file length).
    end: usize,
    enc: Encoding,
    /// Stop at the first top-level element of group 7FE0 from (7FE0,0008) on.
    header_only: bool,
}

impl Walker<'_> {
    fn bytes<const N: usize>(&self, pos: usize, limit: usize) -> Result<[u8; N], WalkError> {
        let end = pos.saturating_add(N);
        if end > limit.min(self.end) {
            return bad(pos, "unexpected end of data inside an element header (truncated file?)");
        }
        match self.buf.get(pos..end) {
            Some(b) => {
                let mut a = [0u8; N];
                a.copy_from_slice(b);
                Ok(a)
            }
            None => Err(WalkError::NeedMore),
        }
    }

    fn u16(&self, b: [u8; 2]) -> u16 {
        if self.enc.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }

    fn u32(&self, b: [u8; 4]) -> u32 {
        if self.enc.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    fn tag(&self, pos: usize, limit: usize) -> Result<Tag, WalkError> {
        let b = self.bytes::<4>(pos, limit)?;
        Ok(Tag(self.u16([b[0], b[1]]), self.u16([b[2], b[3]])))
    }

    /// Reads an element or item header at `pos`, mirroring dicom-rs's VR resolution.
    fn header(&self, pos: usize, limit: usize) -> Result<Header, WalkError> {
        let tag = self.tag(pos, limit)?;
        let (vr, len, value) = if tag.0 == 0xFFFE {
            (VR::UN, self.u32(self.bytes::<4>(pos + 4, limit)?), pos + 8)
        } else if self.enc.explicit {
            let v = self.bytes::<2>(pos + 4, limit)?;
            let vr = VR::from_binary(v).unwrap_or(VR::UN);
            if long_length(vr) {
                (vr, self.u32(self.bytes::<4>(pos + 8, limit)?), pos + 12)
            } else {
                (vr, self.u16(self.bytes::<2>(pos + 6, limit)?) as u32, pos + 8)
            }
        } else {
            let len = self.u32(self.bytes::<4>(pos + 4, limit)?);
            let vr = if tag == PIXEL_DATA || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
                VR::OW
            } else {
                StandardDataDictionary.by_tag(tag).map(|e| e.vr().relaxed()).unwrap_or(VR::UN)
            };
            (vr, len, pos + 8)
        };
        let len = (len != u32::MAX).then_some(len as usize);
        Ok(Header { tag, vr, len, value })
    }

    /// End of a defined-length value starting at `h.value`, checked against `limit`.
    fn value_end(&self, h: &Header, len: usize, limit: usize) -> Result<usize, WalkError> {
        let end = h.value.saturating_add(len);
        if end > limit.min(self.end) {
            return bad(
                h.value,
                format!(
                    "value of ({:04X},{:04X}) declares {len} bytes but only {} remain (truncated file?)",
                    h.tag.0,
                    h.tag.1,
                    limit.min(self.end).saturating_sub(h.value)
                ),
            );
        }
        Ok(end)
    }

    /// Walks the top-level data set from `pos`.
    fn top(&self, mut pos: usize) -> Result<Top, WalkError> {
        let end = self.end;
        let mut header_end = None;
        let mut pixel = None;
        loop {
            // Fewer bytes than a header, or zero padding: the data set has ended (dicom-rs
            // and pydicom both stop gracefully at such trailing bytes).
            if end.saturating_sub(pos) < 8 {
                break;
            }
            let tag = self.tag(pos, end)?;
            if tag == Tag(0, 0) {
                break;
            }
            if tag >= FLOAT_PIXEL_DATA && header_end.is_none() && tag.0 != 0xFFFE {
                header_end = Some(pos);
                if self.header_only {
                    pixel = self.locate_native(pos);
                    break;
                }
            }
            let h = self.header(pos, end)?;
            if h.tag == ITEM_END {
                // A stray item delimiter at the top level: dicom-rs skips it, so do we.
                pos = h.value;
                continue;
            }
            if h.tag.0 == 0xFFFE {
                return bad(
                    pos,
                    format!("unexpected item tag ({:04X},{:04X}) at the top level", h.tag.0, h.tag.1),
                );
            }
            match h.len {
                None if h.tag == PIXEL_DATA => {
                    let (offset_table, fragments, after) = self.encapsulated(h.value)?;
                    pixel = Some(PixelLoc::Encapsulated { offset_table, fragments });
                    pos = after;
                    break;
                }
                None => pos = self.sequence(h.value, end, false, 1)?,
                Some(len) => {
                    let vend = self.value_end(&h, len, end)?;
                    if h.vr == VR::SQ {
                        self.sequence(h.value, vend, true, 1)?;
                    }
                    if h.tag == PIXEL_DATA || h.tag == FLOAT_PIXEL_DATA || h.tag == DOUBLE_PIXEL_DATA {
                        let loc = PixelLoc::Native { tag: h.tag, vr: h.vr, range: h.value..vend };
                        if h.tag == PIXEL_DATA || pixel.is_none() {
                            pixel = Some(loc);
                        }
                    }
                    pos = vend;
                    if h.tag == PIXEL_DATA {
                        break;
                    }
                }
            }
        }
        Ok(Top { header_end: header_end.unwrap_or(pos), pixel })
    }

    /// Header-only mode: the location of native PixelData from `pos` on, found by reading
    /// top-level element headers only (values are skipped, sequences not entered). `None`
    /// for encapsulated data, or when a header lies beyond the bytes read.
    fn locate_native(&self, mut pos: usize) -> Option<PixelLoc> {
        while self.end.saturating_sub(pos) >= 8 {
            let h = self.header(pos, self.end).ok()?;
            let len = h.len?;
            let vend = self.value_end(&h, len, self.end).ok()?;
            if h.tag == PIXEL_DATA {
                return Some(PixelLoc::Native { tag: h.tag, vr: h.vr, range: h.value..vend });
            }
            if h.tag > PIXEL_DATA {
                return None;
            }
            pos = vend;
        }
        None
    }

    /// Walks a sequence's items from `pos`; returns the position after it.
    fn sequence(
        &self,
        mut pos: usize,
        limit: usize,
        defined: bool,
        depth: usize,
    ) -> Result<usize, WalkError> {
        if depth > MAX_DEPTH {
            return bad(pos, format!("sequences nested more than {MAX_DEPTH} deep"));
        }
        loop {
            if defined && pos == limit {
                return Ok(pos);
            }
            let h = self.header(pos, limit)?;
            match h.tag {
                ITEM => match h.len {
                    Some(len) => {
                        let iend = self.value_end(&h, len, limit)?;
                        self.dataset(h.value, iend, false, depth)?;
                        pos = iend;
                    }
                    None => pos = self.dataset(h.value, limit, true, depth)?,
                },
                SEQ_END if !defined => return Ok(h.value),
                t => return bad(pos, format!("expected a sequence item, found ({:04X},{:04X})", t.0, t.1)),
            }
        }
    }

    /// Walks the elements of an item; `undefined` items end at an item delimiter.
    fn dataset(
        &self,
        mut pos: usize,
        limit: usize,
        undefined: bool,
        depth: usize,
    ) -> Result<usize, WalkError> {
        loop {
            if !undefined && pos == limit {
                return Ok(pos);
            }
            let h = self.header(pos, limit)?;
            if h.tag == ITEM_END && undefined {
                return Ok(h.value);
            }
            if h.tag.0 == 0xFFFE {
                return bad(
                    pos,
                    format!("unexpected item tag ({:04X},{:04X}) inside an item", h.tag.0, h.tag.1),
                );
            }
            pos = match h.len {
                None if h.tag == PIXEL_DATA => self.encapsulated(h.value)?.2,
                None => self.sequence(h.value, limit, false, depth + 1)?,
                Some(len) => {
                    let vend = self.value_end(&h, len, limit)?;
                    if h.vr == VR::SQ {
                        self.sequence(h.value, vend, true, depth + 1)?;
                    }
                    vend
                }
            };
        }
    }

    /// Walks encapsulated pixel data (PS3.5 A.4): the offset table item, then fragments,
    /// then the sequence delimiter. A missing delimiter at the end of the file is accepted
    /// (as dicom-rs and pydicom do).
    fn encapsulated(&self, mut pos: usize) -> Result<Encapsulated, WalkError> {
        let mut table = None;
        let mut fragments = Vec::new();
        loop {
            if self.end.saturating_sub(pos) < 8 {
                return match table {
                    Some(t) => Ok((t, fragments, self.end)),
                    None => bad(pos, "encapsulated pixel data has no offset table item"),
                };
            }
            let h = self.header(pos, self.end)?;
            match (h.tag, h.len) {
                (ITEM, Some(len)) => {
                    let fend = self.value_end(&h, len, self.end)?;
                    if table.is_none() {
                        table = Some(h.value..fend);
                    } else {
                        fragments.push(h.value..fend);
                    }
                    pos = fend;
                }
                (SEQ_END, _) => {
                    return Ok((table.unwrap_or(h.value..h.value), fragments, h.value));
                }
                (t, _) => {
                    return bad(
                        pos,
                        format!("expected a pixel data fragment, found ({:04X},{:04X})", t.0, t.1),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit_le(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        if long_length(VR::from_binary(*vr).unwrap()) {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(value);
        v
    }

    fn file(dataset: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        f.extend_from_slice(&explicit_le((2, 0x10), b"UI", b"1.2.840.10008.1.2.1\0"));
        f.extend_from_slice(dataset);
        f
    }

    #[test]
    fn absurd_length_is_refused_before_allocation() {
        let mut ds = explicit_le((0x0008, 0x0060), b"CS", b"CT");
        // OB value claiming 4 GiB - 2 bytes, with 4 bytes present.
        ds.extend_from_slice(&[0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]);
        let err = parse_bytes("x".into(), file(&ds), Depth::Full).unwrap_err();
        assert!(matches!(err, DicomError::Malformed { .. }), "{err}");
    }

    #[test]
    fn trailing_zero_padding_after_pixel_data_is_ignored() {
        let mut ds = explicit_le((0x0008, 0x0060), b"CS", b"CT");
        ds.extend_from_slice(&explicit_le((0x7FE0, 0x0010), b"OW", &[1, 0, 2, 0]));
        ds.extend_from_slice(&[0u8; 4096]);
        let p = parse_bytes("x".into(), file(&ds), Depth::Full).unwrap();
        match p.pixel {
            Some(PixelLoc::Native { range, .. }) => assert_eq!(&p.buf[range], &[1, 0, 2, 0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_prefix_ending_inside_a_long_final_value_falls_back_to_the_whole_file() {
        // A 40 KB OB value that ends 4 bytes before the end of the file, no pixel data:
        // the 16 KiB prefix walk skips past its own end.
        let mut ds = explicit_le((0x0008, 0x0060), b"CS", b"OT");
        ds.extend_from_slice(&explicit_le((0x0009, 0x0010), b"OB", &vec![7u8; 40_000]));
        ds.extend_from_slice(&[1, 2, 3, 4]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.dcm");
        std::fs::write(&p, file(&ds)).unwrap();
        let parsed = parse_path(&p, Depth::Header).unwrap();
        assert!(parsed.pixel.is_none());
        assert!(parsed.obj.get(Tag(0x0009, 0x0010)).is_some());
    }

    #[test]
    fn deep_nesting_is_refused() {
        // 40 nested undefined-length sequences.
        let mut ds = Vec::new();
        for _ in 0..40 {
            ds.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
            ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        let err = parse_bytes("x".into(), file(&ds), Depth::Full).unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
    }

    #[test]
    fn encodings_are_guessed_without_meta() {
        assert_eq!(guess_encoding(&[8, 0, 0x16, 0, b'U', b'I', 4, 0]), Some(Encoding::EXPLICIT_LE));
        assert_eq!(guess_encoding(&[8, 0, 0x16, 0, 4, 0, 0, 0]), Some(Encoding::IMPLICIT_LE));
        assert_eq!(guess_encoding(&[0, 8, 0, 0x16, b'U', b'I', 0, 4]), Some(Encoding::EXPLICIT_BE));
        assert_eq!(guess_encoding(b"hello world"), None);
    }
}
