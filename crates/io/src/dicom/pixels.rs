//! Pixel samples of one frame: native data read in place (any bit depth, either byte order,
//! planar or interleaved), RLE decoded here (PS3.5 G, 8/16/32-bit), every other
//! encapsulated syntax handed to the dicom-rs codecs after its stream header has been
//! checked against Rows/Columns/SamplesPerPixel (the codecs index past their buffers when
//! the two disagree). Then the conversion to output values: bit masking and sign
//! extension (PS3.5 8.1.1), MONOCHROME1 inversion, modality LUT or rescale, colour to
//! luminance.

use std::borrow::Cow;

use dicom_core::value::C;
use dicom_encoding::adapters::{PixelDataObject, RawPixelData};
use dicom_encoding::Codec;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use super::header::{ImageFile, Photometric, PixelFormat};
use super::parse::PixelLoc;
use super::DicomError;

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
const JPEG_LS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
const JPEG_LS_NEAR: &str = "1.2.840.10008.1.2.4.81";

/// ITU-R BT.601 luma weights (the Y of DICOM's YBR_FULL, PS3.3 C.7.6.3.1.2).
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// The samples of one frame, in place or decoded.
pub(crate) struct Samples<'a> {
    bytes: Cow<'a, [u8]>,
    /// 1-bit data: bit at which the frame starts (frames need not start on a byte).
    bit_offset: usize,
    little_endian: bool,
    /// 8-bit samples in an OW value of a big-endian file: each 16-bit word was written
    /// byte-swapped (PS3.5 7.3), so sample byte `j` of the value is at `j ^ 1`.
    swap_pairs: bool,
    /// With `swap_pairs`: index in `bytes` of the frame's first sample (`bytes` starts on
    /// a word boundary).
    skip: usize,
    photometric: Photometric,
    planar: bool,
}

impl Samples<'_> {
    /// Byte `i` of the frame's 8-bit samples.
    #[inline(always)]
    fn byte(&self, i: usize) -> u8 {
        let j = if self.swap_pairs { (self.skip + i) ^ 1 } else { i };
        self.bytes.get(j).copied().unwrap_or(0)
    }
}

/// Checks a file's pixel data before any frame is touched: native data long enough for
/// every frame, decoded frame sizes under the memory cap.
pub(crate) fn check(file: &ImageFile) -> Result<(), DicomError> {
    let fmt = &file.fmt;
    let path = &file.parsed.label;
    let frame_bytes = fmt.frame_bits().div_ceil(8);
    hounsfield_core::check_alloc(frame_bytes, 1)?;
    // The volume itself: at least 2 bytes per voxel, whatever the pixel data holds.
    hounsfield_core::check_alloc((fmt.rows * fmt.cols) as u128 * fmt.frames as u128, 2)?;
    if let Some(PixelLoc::Native { range, .. }) = &file.parsed.pixel {
        let need = (fmt.frame_bits() * fmt.frames as u128).div_ceil(8);
        if (range.len() as u128) < need {
            return Err(DicomError::PixelDataLength {
                expected: need.min(u64::MAX as u128) as u64,
                actual: range.len() as u64,
                path: path.clone(),
            });
        }
    }
    if fmt.float && fmt.samples != 1 {
        return Err(DicomError::UnsupportedPixels {
            what: "colour float pixel data".into(),
            path: path.clone(),
        });
    }
    match &fmt.photometric {
        Photometric::Other(name) => {
            // Decoded JPEG/J2K come out RGB whatever the declared colour space.
            let encapsulated = matches!(file.parsed.pixel, Some(PixelLoc::Encapsulated { .. }));
            if !(encapsulated && fmt.samples == 3 && file.parsed.ts_uid != RLE_LOSSLESS) {
                return Err(DicomError::UnsupportedPixels {
                    what: format!("photometric interpretation {name}"),
                    path: path.clone(),
                });
            }
        }
        Photometric::YbrFull422 if fmt.bits_allocated != 8 => {
            return Err(DicomError::UnsupportedPixels {
                what: format!("YBR_FULL_422 with {} bits allocated", fmt.bits_allocated),
                path: path.clone(),
            })
        }
        Photometric::Palette if fmt.samples != 1 => {
            return Err(DicomError::UnsupportedPixels {
                what: "PALETTE COLOR with 3 samples per pixel".into(),
                path: path.clone(),
            })
        }
        _ => {}
    }
    if fmt.bits_allocated == 1 && fmt.samples != 1 {
        return Err(DicomError::UnsupportedPixels { what: "1-bit colour data".into(), path: path.clone() });
    }
    Ok(())
}

/// The samples of frame `frame` (0-based). Call [`check`] first.
pub(crate) fn frame(file: &ImageFile, frame: usize) -> Result<Samples<'_>, DicomError> {
    let fmt = &file.fmt;
    let parsed = &file.parsed;
    match &parsed.pixel {
        None => Err(DicomError::NoPixelData { sop_class: "unknown".into(), path: parsed.label.clone() }),
        Some(PixelLoc::Native { range, vr, tag }) => {
            let data = &parsed.buf[range.clone()];
            let frame_bits = fmt.frame_bits() as usize;
            let start_bit = frame_bits * frame;
            let (start, bit_offset) =
                if fmt.bits_allocated == 1 { (start_bit / 8, start_bit % 8) } else { (start_bit / 8, 0) };
            let len = (frame_bits + bit_offset).div_ceil(8);
            let swap_pairs =
                !parsed.encoding.little_endian && *vr == dicom_core::VR::OW && fmt.bits_allocated <= 8;
            let _ = tag;
            // With swapped pairs, start on a word and take the frame's last word whole.
            let (lo, hi) =
                if swap_pairs { (start & !1, (start + len + 1) & !1) } else { (start, start + len) };
            let bytes = data.get(lo..hi.min(data.len())).filter(|b| b.len() + lo >= start + len).ok_or_else(
                || DicomError::PixelDataLength {
                    expected: (start + len) as u64,
                    actual: data.len() as u64,
                    path: parsed.label.clone(),
                },
            )?;
            Ok(Samples {
                bytes: Cow::Borrowed(bytes),
                bit_offset,
                little_endian: parsed.encoding.little_endian,
                swap_pairs,
                skip: start - lo,
                photometric: fmt.photometric.clone(),
                planar: fmt.planar,
            })
        }
        Some(PixelLoc::Encapsulated { offset_table, fragments }) => {
            let frags = frame_fragments(file, offset_table, fragments, frame)?;
            let data: Cow<[u8]> =
                if frags.len() == 1 { Cow::Borrowed(frags[0]) } else { Cow::Owned(frags.concat()) };
            let decoded = decode(file, frame as u32, data)?;
            // Decoded frames are little endian with samples interleaved and upsampled. As
            // pydicom does, colour samples are taken to be in the space the DICOM
            // Photometric Interpretation names: YBR_FULL(_422) keeps its Y; the J2K
            // decoder has already undone YBR_ICT/YBR_RCT, giving RGB.
            let photometric = match &fmt.photometric {
                Photometric::YbrFull | Photometric::YbrFull422 => Photometric::YbrFull,
                _ if fmt.samples == 3 => Photometric::Rgb,
                other => other.clone(),
            };
            Ok(Samples {
                bytes: Cow::Owned(decoded),
                bit_offset: 0,
                little_endian: true,
                swap_pairs: false,
                skip: 0,
                photometric,
                planar: false,
            })
        }
    }
}

/// The fragments that hold frame `frame`: one per frame, or split by the Basic Offset
/// Table, or (no table) by the codec's start-of-image markers (PS3.5 A.4).
fn frame_fragments<'a>(
    file: &'a ImageFile,
    table: &std::ops::Range<usize>,
    fragments: &[std::ops::Range<usize>],
    frame: usize,
) -> Result<Vec<&'a [u8]>, DicomError> {
    let buf = &file.parsed.buf;
    let frames = file.fmt.frames;
    let frags: Vec<&[u8]> = fragments.iter().map(|r| &buf[r.clone()]).collect();
    let err = |reason: String| DicomError::DecodeFrame {
        frame: frame as u32,
        transfer_syntax: file.parsed.ts_uid.clone(),
        reason,
        path: file.parsed.label.clone(),
    };
    if frags.is_empty() {
        return Err(err("the encapsulated pixel data has no fragments".into()));
    }
    if frames == 1 {
        return Ok(frags);
    }
    if frags.len() == frames {
        return Ok(vec![frags[frame]]);
    }
    let bot: Vec<usize> = buf[table.clone()]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if bot.len() >= frames {
        let (lo, hi) = (bot[frame], bot.get(frame + 1).copied().unwrap_or(usize::MAX));
        let mut pos = 0usize;
        let mut out = Vec::new();
        for f in &frags {
            if pos >= lo && pos < hi {
                out.push(*f);
            }
            pos = pos.saturating_add(8 + f.len());
        }
        return if out.is_empty() {
            Err(err("the offset table points at no fragment".into()))
        } else {
            Ok(out)
        };
    }
    let starts_image = |f: &[u8]| {
        f.starts_with(&[0xFF, 0xD8])
            || f.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
            || f.starts_with(&JP2_SIGNATURE)
    };
    let mut groups: Vec<Vec<&[u8]>> = Vec::new();
    for f in frags {
        match groups.last_mut() {
            Some(g) if !starts_image(f) => g.push(f),
            _ => groups.push(vec![f]),
        }
    }
    if groups.len() != frames {
        return Err(err(format!(
            "{} fragments, no offset table, and {} start-of-image markers for {frames} frames",
            fragments.len(),
            groups.len()
        )));
    }
    Ok(groups.swap_remove(frame))
}

/// Decodes one encapsulated frame into native little-endian interleaved samples.
fn decode(file: &ImageFile, frame: u32, data: Cow<[u8]>) -> Result<Vec<u8>, DicomError> {
    let fmt = &file.fmt;
    let parsed = &file.parsed;
    let ts_uid = parsed.ts_uid.as_str();
    let err = |name: &str, reason: String| DicomError::DecodeFrame {
        frame,
        transfer_syntax: name.to_string(),
        reason,
        path: parsed.label.clone(),
    };
    let unsupported = |what: String| DicomError::UnsupportedPixels { what, path: parsed.label.clone() };
    let expected = fmt.rows * fmt.cols * fmt.samples * (fmt.bits_allocated as usize).div_ceil(8);
    if ts_uid == RLE_LOSSLESS {
        return rle(&data, fmt).map_err(|r| err("RLE Lossless", r));
    }
    let Some(ts) = TransferSyntaxRegistry.get(ts_uid) else {
        return Err(DicomError::UnsupportedTransferSyntax {
            uid: ts_uid.into(),
            name: "unknown".into(),
            feature: None,
            path: parsed.label.clone(),
        });
    };
    let reader = match ts.codec() {
        Codec::EncapsulatedPixelData(Some(reader), _) => reader,
        _ => {
            let feature = (ts_uid == JPEG_LS_LOSSLESS || ts_uid == JPEG_LS_NEAR).then_some("jpegls");
            return Err(DicomError::UnsupportedTransferSyntax {
                uid: ts_uid.into(),
                name: ts.name().into(),
                feature,
                path: parsed.label.clone(),
            });
        }
    };
    if !matches!(fmt.bits_allocated, 8 | 16) {
        return Err(unsupported(format!("{} with {} bits allocated", ts.name(), fmt.bits_allocated)));
    }
    check_stream(&data, fmt, ts_uid).map_err(unsupported)?;
    if JPEG_SYNTAXES.contains(&ts_uid) {
        return jpeg(&data, fmt, expected).map_err(|r| err(ts.name(), r));
    }
    let view = FrameView { ts: ts_uid, fmt, data };
    let mut out = Vec::new();
    reader.decode_frame(&view, 0, &mut out).map_err(|e| err(ts.name(), e.to_string()))?;
    if out.len() != expected {
        return Err(err(
            ts.name(),
            format!("decoder gave {} bytes, the image attributes need {expected}", out.len()),
        ));
    }
    Ok(out)
}

/// JPEG Baseline, Extended, Lossless (process 14) and Lossless SV1 (PS3.5 A.4.1).
const JPEG_SYNTAXES: [&str; 4] =
    ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"];

/// Decodes a JPEG frame with jpeg-decoder directly, so that colour samples come out as
/// they were compressed: the DICOM Photometric Interpretation, not JPEG markers, says
/// which colour space they are in (PS3.5 8.2.1; pydicom does the same), whereas
/// jpeg-decoder on its own converts marker-less 3-component streams from YCbCr.
fn jpeg(data: &[u8], fmt: &PixelFormat, expected: usize) -> Result<Vec<u8>, String> {
    let mut dec = jpeg_decoder::Decoder::new(data);
    dec.set_max_decoding_buffer_size(expected);
    if fmt.samples == 3 {
        // `RGB` interleaves the components without converting them (`None` is broken in
        // jpeg-decoder 0.3.2: it writes components one after the other and can panic).
        dec.set_color_transform(jpeg_decoder::ColorTransform::RGB);
    }
    let mut out = dec.decode().map_err(|e| e.to_string())?;
    if out.len() != expected {
        return Err(format!("decoder gave {} bytes, the image attributes need {expected}", out.len()));
    }
    if fmt.bits_allocated == 16 && cfg!(target_endian = "big") {
        // jpeg-decoder writes 16-bit samples in native byte order.
        out.chunks_exact_mut(2).for_each(|c| c.swap(0, 1));
    }
    Ok(out)
}

const JP2_SIGNATURE: [u8; 8] = [0, 0, 0, 0x0C, b'j', b'P', b' ', b' '];

/// Checks a compressed stream's own header against the DICOM attributes: dimensions,
/// components and precision. The dicom-rs codecs copy into buffers sized from the DICOM
/// attributes and panic when the stream disagrees; lossy 12-bit JPEG is refused by name.
fn check_stream(data: &[u8], fmt: &PixelFormat, ts_uid: &str) -> Result<(), String> {
    let (width, height, comps, precision, what) = if data.starts_with(&[0xFF, 0xD8]) {
        let (marker, p, h, w, n) = jpeg_sof(data).ok_or("JPEG stream without a frame header")?;
        let lossless = matches!(marker, 0xC3 | 0xC7 | 0xCB | 0xCF | 0xF7);
        if !lossless && p > 8 {
            return Err(format!(
                "{p}-bit lossy JPEG (JPEG Extended, process 4) is not decoded by jpeg-decoder; \
                 decompress the file first (dcmtk `dcmdjpeg`, gdcm `gdcmconv --raw`)"
            ));
        }
        (w as u32, h as u32, n as u32, p as u32, "JPEG")
    } else {
        let (w, h, n, p, sub) = j2k_siz(data).ok_or("stream is neither JPEG nor JPEG 2000")?;
        if sub {
            return Err("JPEG 2000 with subsampled components".into());
        }
        (w, h, n, p, "JPEG 2000")
    };
    let _ = ts_uid;
    if width as usize != fmt.cols || height as usize != fmt.rows {
        return Err(format!(
            "{what} stream is {width}×{height} but Columns×Rows is {}×{}",
            fmt.cols, fmt.rows
        ));
    }
    if comps as usize != fmt.samples {
        return Err(format!("{what} stream has {comps} components but SamplesPerPixel is {}", fmt.samples));
    }
    if precision == 0 || precision > fmt.bits_allocated as u32 || (precision > 8) != (fmt.bits_allocated > 8)
    {
        return Err(format!(
            "{what} precision {precision} bits does not fit BitsAllocated {}",
            fmt.bits_allocated
        ));
    }
    Ok(())
}

/// The frame header of a JPEG (or JPEG-LS) stream: (marker, precision, height, width,
/// components), ITU T.81 B.2.2 and T.87 C.2.2.
fn jpeg_sof(data: &[u8]) -> Option<(u8, u8, u16, u16, u8)> {
    let mut i = 2;
    loop {
        while data.get(i) == Some(&0xFF) && data.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if *data.get(i)? != 0xFF {
            return None;
        }
        let m = *data.get(i + 1)?;
        if m == 0x01 || (0xD0..=0xD8).contains(&m) {
            i += 2;
            continue;
        }
        if m == 0xDA || m == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]) as usize;
        let sof = (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC) || m == 0xF7;
        if sof {
            let s = data.get(i + 4..i + 10)?;
            return Some((m, s[0], u16::from_be_bytes([s[1], s[2]]), u16::from_be_bytes([s[3], s[4]]), s[5]));
        }
        i += 2 + len;
    }
}

/// The image size of a JPEG 2000 codestream (ISO 15444-1 A.5.1 SIZ), bare or in a JP2
/// file: (width, height, components, largest precision, any component subsampled).
fn j2k_siz(data: &[u8]) -> Option<(u32, u32, u32, u32, bool)> {
    let cs = if data.starts_with(&JP2_SIGNATURE) {
        let mut i = 0usize;
        loop {
            let b = data.get(i..i + 8)?;
            let lbox = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let (head, len) = match lbox {
                0 => (8, data.len() - i),
                1 => {
                    let x = data.get(i + 8..i + 16)?;
                    (16, usize::try_from(u64::from_be_bytes(x.try_into().ok()?)).ok()?)
                }
                n => (8, n),
            };
            if &b[4..8] == b"jp2c" {
                break data.get(i + head..)?;
            }
            if len < head {
                return None;
            }
            i = i.checked_add(len)?;
        }
    } else {
        data
    };
    if !cs.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return None;
    }
    let be32 = |o: usize| cs.get(o..o + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (xs, ys, xo, yo) = (be32(8)?, be32(12)?, be32(16)?, be32(20)?);
    let n = u16::from_be_bytes([*cs.get(40)?, *cs.get(41)?]) as usize;
    let mut precision = 0;
    let mut sub = false;
    for c in 0..n {
        let s = cs.get(42 + 3 * c..45 + 3 * c)?;
        precision = precision.max((s[0] & 0x7F) as u32 + 1);
        sub |= s[1] != 1 || s[2] != 1;
    }
    Some((xs.checked_sub(xo)?, ys.checked_sub(yo)?, n as u32, precision, sub))
}

/// A one-frame, one-fragment view of an image for the dicom-rs codecs.
struct FrameView<'a> {
    ts: &'a str,
    fmt: &'a PixelFormat,
    data: Cow<'a, [u8]>,
}

impl PixelDataObject for FrameView<'_> {
    fn transfer_syntax_uid(&self) -> &str {
        self.ts
    }
    fn rows(&self) -> Option<u16> {
        u16::try_from(self.fmt.rows).ok()
    }
    fn cols(&self) -> Option<u16> {
        u16::try_from(self.fmt.cols).ok()
    }
    fn samples_per_pixel(&self) -> Option<u16> {
        Some(self.fmt.samples as u16)
    }
    fn bits_allocated(&self) -> Option<u16> {
        Some(self.fmt.bits_allocated)
    }
    fn bits_stored(&self) -> Option<u16> {
        Some(self.fmt.bits_stored)
    }
    fn photometric_interpretation(&self) -> Option<&str> {
        Some(match &self.fmt.photometric {
            Photometric::Monochrome1 => "MONOCHROME1",
            Photometric::Monochrome2 => "MONOCHROME2",
            Photometric::Rgb => "RGB",
            Photometric::YbrFull => "YBR_FULL",
            Photometric::YbrFull422 => "YBR_FULL_422",
            Photometric::Palette => "PALETTE COLOR",
            Photometric::Other(s) => s,
        })
    }
    fn number_of_frames(&self) -> Option<u32> {
        Some(1)
    }
    fn number_of_fragments(&self) -> Option<u32> {
        Some(1)
    }
    fn fragment(&self, fragment: usize) -> Option<Cow<'_, [u8]>> {
        (fragment == 0).then(|| Cow::Borrowed(&*self.data))
    }
    fn offset_table(&self) -> Option<Cow<'_, [u32]>> {
        Some(Cow::Owned(vec![0]))
    }
    fn raw_pixel_data(&self) -> Option<RawPixelData> {
        Some(RawPixelData {
            fragments: std::iter::once(self.data.to_vec()).collect::<C<Vec<u8>>>(),
            offset_table: std::iter::once(0u32).collect::<C<u32>>(),
        })
    }
}

/// Decodes one RLE Lossless frame (PS3.5 G): a 64-byte header of segment offsets, one
/// PackBits segment per byte of each sample, most significant byte first. Output is
/// little endian with samples interleaved.
fn rle(data: &[u8], fmt: &PixelFormat) -> Result<Vec<u8>, String> {
    let bps = (fmt.bits_allocated as usize).div_ceil(8);
    if fmt.bits_allocated == 1 || !matches!(bps, 1 | 2 | 4) {
        return Err(format!("{} bits allocated", fmt.bits_allocated));
    }
    let pixels = fmt.rows * fmt.cols;
    let segs = fmt.samples * bps;
    let head = data.get(..64).ok_or("fragment shorter than the 64-byte RLE header")?;
    let word = |i: usize| {
        u32::from_le_bytes([head[4 * i], head[4 * i + 1], head[4 * i + 2], head[4 * i + 3]]) as usize
    };
    if word(0) != segs {
        return Err(format!("{} segments where {} samples × {bps} bytes need {segs}", word(0), fmt.samples));
    }
    let mut out = vec![0u8; pixels * segs];
    for s in 0..segs {
        let start = word(s + 1);
        let end = if s + 1 < segs { word(s + 2) } else { data.len() };
        let seg = data
            .get(start..end.min(data.len()))
            .filter(|_| start >= 64)
            .ok_or_else(|| format!("segment {s} offsets {start}..{end} outside the fragment"))?;
        let (sample, byte) = (s / bps, bps - 1 - s % bps);
        let stride = segs;
        let mut p = 0usize;
        let mut put = |v: u8, p: &mut usize| {
            if *p < pixels {
                out[*p * stride + sample * bps + byte] = v;
                *p += 1;
            }
        };
        let mut i = 0usize;
        while i < seg.len() && p < pixels {
            let n = seg[i] as i8;
            i += 1;
            // A run cut off by the segment's end (or its even-length padding byte) ends
            // the segment; a segment too short for the image is reported below.
            if n >= 0 {
                for &v in &seg[i..(i + n as usize + 1).min(seg.len())] {
                    put(v, &mut p);
                }
                i += n as usize + 1;
            } else if n != -128 {
                let Some(&v) = seg.get(i) else { break };
                for _ in 0..(1 - n as isize) {
                    put(v, &mut p);
                }
                i += 1;
            }
        }
        if p < pixels {
            return Err(format!("segment {s} decodes to {p} bytes, {pixels} needed"));
        }
    }
    Ok(out)
}

/// How stored values map to output values for one frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping<'a> {
    pub slope: f64,
    pub intercept: f64,
    pub lut: Option<&'a super::header::Lut>,
}

/// Extraction of the stored value from a raw sample: shift to the high bit, mask to
/// BitsStored, sign-extend (PS3.5 8.1.1, C.7.6.3.1.1); then MONOCHROME1 inversion.
#[derive(Clone, Copy)]
struct Stored {
    shift: u32,
    mask: u64,
    sign: u64,
    /// `None`, or `k` such that the displayed value is `k - v` (MONOCHROME1).
    invert: Option<i64>,
}

impl Stored {
    fn new(fmt: &PixelFormat, colour: bool) -> Self {
        let bs = fmt.bits_stored.clamp(1, 32) as u32;
        let shift = (fmt.high_bit as u32 + 1).saturating_sub(bs).min(31);
        let mask = if bs >= 64 { u64::MAX } else { (1u64 << bs) - 1 };
        let signed = fmt.signed && !colour && fmt.bits_allocated > 1;
        let sign = if signed { 1u64 << (bs - 1) } else { 0 };
        // MONOCHROME1: minimum is white (PS3.3 C.7.6.3.1.2). Inverting within the stored
        // range keeps the range and makes higher = brighter as in MONOCHROME2.
        let invert = (fmt.photometric == Photometric::Monochrome1 && !colour).then_some(if signed {
            -1
        } else {
            mask as i64
        });
        Stored { shift, mask, sign, invert }
    }

    #[inline(always)]
    fn get(&self, raw: u32) -> i64 {
        let v = ((raw as u64) >> self.shift) & self.mask;
        let v = if v & self.sign != 0 { v as i64 - ((self.mask as i64) + 1) } else { v as i64 };
        match self.invert {
            Some(k) => k - v,
            None => v,
        }
    }
}

/// Calls `f` with the stored value of every pixel of a one-sample frame, in order.
#[inline(always)]
fn for_each_mono(s: &Samples, fmt: &PixelFormat, mut f: impl FnMut(i64)) {
    let n = fmt.rows * fmt.cols;
    let st = Stored::new(fmt, false);
    let b = &*s.bytes;
    match fmt.bits_allocated {
        1 => {
            for i in 0..n {
                let bit = s.bit_offset + i;
                let v = (s.byte(bit / 8) >> (bit % 8)) & 1;
                f(st.get(v as u32));
            }
        }
        8 if s.swap_pairs => {
            for i in 0..n {
                f(st.get(s.byte(i) as u32));
            }
        }
        8 => {
            for &v in b.iter().take(n) {
                f(st.get(v as u32));
            }
        }
        16 => {
            let le = s.little_endian;
            for c in b.chunks_exact(2).take(n) {
                let raw =
                    if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) };
                f(st.get(raw as u32));
            }
        }
        _ => {
            let le = s.little_endian;
            for c in b.chunks_exact(4).take(n) {
                let a = [c[0], c[1], c[2], c[3]];
                f(st.get(if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }));
            }
        }
    }
}

/// The range stored values can take by their declared bit depth.
pub(crate) fn declared_range(fmt: &PixelFormat) -> (i64, i64) {
    let bs = fmt.bits_stored.clamp(1, 32) as u32;
    if fmt.signed && fmt.bits_allocated > 1 {
        (-(1i64 << (bs - 1)), (1i64 << (bs - 1)) - 1)
    } else {
        (0, (1i64 << bs) - 1)
    }
}

/// Whether 16-bit samples are used whole (no masking, shifting or inversion), so that the
/// tight loops below apply.
fn whole_16(fmt: &PixelFormat, m: &Mapping) -> Option<i32> {
    let st = Stored::new(fmt, false);
    let b = m.intercept as i64;
    (fmt.bits_allocated == 16
        && fmt.bits_stored == 16
        && st.shift == 0
        && st.invert.is_none()
        && m.lut.is_none()
        && m.slope == 1.0
        && b.abs() < 1 << 30)
        .then_some(b as i32)
}

/// Writes the frame as `i16`: `slope · v + intercept` (integral) or the modality LUT.
/// Returns the smallest and largest exact output value: when they fall outside `i16` the
/// caller must convert to `f32` instead.
pub(crate) fn fill_i16(s: &Samples, fmt: &PixelFormat, m: Mapping, out: &mut [i16]) -> (i64, i64) {
    if let (Some(b), true, false) = (whole_16(fmt, &m), s.little_endian, s.swap_pairs) {
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        let pairs = out.iter_mut().zip(s.bytes.chunks_exact(2));
        if fmt.signed {
            for (o, c) in pairs {
                let v = i16::from_le_bytes([c[0], c[1]]) as i32 + b;
                lo = lo.min(v);
                hi = hi.max(v);
                *o = v as i16;
            }
        } else {
            for (o, c) in pairs {
                let v = u16::from_le_bytes([c[0], c[1]]) as i32 + b;
                lo = lo.min(v);
                hi = hi.max(v);
                *o = v as i16;
            }
        }
        return (lo as i64, hi as i64);
    }
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut it = out.iter_mut();
    let (a, b) = (m.slope as i64, m.intercept as i64);
    for_each_mono(s, fmt, |v| {
        let x = match m.lut {
            Some(lut) => lut.get(v) as i64,
            None => v.saturating_mul(a).saturating_add(b),
        };
        lo = lo.min(x);
        hi = hi.max(x);
        if let Some(o) = it.next() {
            *o = x as i16;
        }
    });
    (lo, hi)
}

/// Converts a frame read straight into the output (native little-endian 16-bit samples)
/// in place, as [`fill_i16`] would; returns the output range.
pub(crate) fn rescale_in_place(fmt: &PixelFormat, m: Mapping, out: &mut [i16]) -> (i64, i64) {
    if let Some(b) = whole_16(fmt, &m) {
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        if fmt.signed {
            for o in out.iter_mut() {
                let v = i16::from_le(*o) as i32 + b;
                lo = lo.min(v);
                hi = hi.max(v);
                *o = v as i16;
            }
        } else {
            for o in out.iter_mut() {
                let v = u16::from_le(*o as u16) as i32 + b;
                lo = lo.min(v);
                hi = hi.max(v);
                *o = v as i16;
            }
        }
        return (lo as i64, hi as i64);
    }
    let st = Stored::new(fmt, false);
    let (a, b) = (m.slope as i64, m.intercept as i64);
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for o in out.iter_mut() {
        let v = st.get(u16::from_le(*o as u16) as u32);
        let x = match m.lut {
            Some(lut) => lut.get(v) as i64,
            None => v.saturating_mul(a).saturating_add(b),
        };
        lo = lo.min(x);
        hi = hi.max(x);
        *o = x as i16;
    }
    (lo, hi)
}

/// Writes the frame as `f32`: rescaled or LUT-mapped values, float data as is, colour as
/// luminance.
pub(crate) fn fill_f32(s: &Samples, fmt: &PixelFormat, m: Mapping, out: &mut [f32]) {
    let n = fmt.rows * fmt.cols;
    if fmt.float {
        let le = s.little_endian;
        if fmt.bits_allocated == 64 {
            for (o, c) in out.iter_mut().zip(s.bytes.chunks_exact(8).take(n)) {
                let a: [u8; 8] = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
                *o = if le { f64::from_le_bytes(a) } else { f64::from_be_bytes(a) } as f32;
            }
        } else {
            for (o, c) in out.iter_mut().zip(s.bytes.chunks_exact(4).take(n)) {
                let a = [c[0], c[1], c[2], c[3]];
                *o = if le { f32::from_le_bytes(a) } else { f32::from_be_bytes(a) };
            }
        }
        return;
    }
    if fmt.is_colour() {
        fill_colour(s, fmt, out);
        return;
    }
    let mut it = out.iter_mut();
    match m.lut {
        Some(lut) => for_each_mono(s, fmt, |v| {
            if let Some(o) = it.next() {
                *o = lut.get(v) as f32;
            }
        }),
        None => for_each_mono(s, fmt, |v| {
            if let Some(o) = it.next() {
                *o = (v as f64 * m.slope + m.intercept) as f32;
            }
        }),
    }
}

/// Colour to luminance: RGB and palette colour by BT.601 luma, YBR_FULL(_422) by its Y.
fn fill_colour(s: &Samples, fmt: &PixelFormat, out: &mut [f32]) {
    let n = fmt.rows * fmt.cols;
    let st = Stored::new(fmt, true);
    let bps = (fmt.bits_allocated as usize).div_ceil(8);
    let b = &*s.bytes;
    let raw = |i: usize| -> i64 {
        if bps == 1 {
            return st.get(s.byte(i) as u32);
        }
        let Some(c) = b.get(i * bps..(i + 1) * bps) else { return 0 };
        let v = match (bps, s.little_endian) {
            (1, _) => c[0] as u32,
            (2, true) => u16::from_le_bytes([c[0], c[1]]) as u32,
            (2, false) => u16::from_be_bytes([c[0], c[1]]) as u32,
            (_, true) => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            (_, false) => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
        };
        st.get(v)
    };
    match (&s.photometric, fmt.samples) {
        (Photometric::Palette, _) => {
            let Some([r, g, bl]) = &fmt.palette else { return };
            let mut it = out.iter_mut();
            for_each_mono(s, fmt, |v| {
                if let Some(o) = it.next() {
                    *o = (LUMA[0] * r.get(v) as f64 + LUMA[1] * g.get(v) as f64 + LUMA[2] * bl.get(v) as f64)
                        as f32;
                }
            });
        }
        (Photometric::YbrFull422, 3) if !s.planar => {
            // Y0 Y1 Cb Cr per pair of pixels (PS3.3 C.7.6.3.1.2).
            for (i, o) in out.iter_mut().enumerate().take(n) {
                *o = raw(4 * (i / 2) + i % 2) as f32;
            }
        }
        (Photometric::YbrFull | Photometric::YbrFull422, 3) => {
            for (i, o) in out.iter_mut().enumerate().take(n) {
                *o = raw(if s.planar { i } else { 3 * i }) as f32;
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate().take(n) {
                let (r, g, bl) = if s.planar {
                    (raw(i), raw(n + i), raw(2 * n + i))
                } else {
                    (raw(3 * i), raw(3 * i + 1), raw(3 * i + 2))
                };
                *o = (LUMA[0] * r as f64 + LUMA[1] * g as f64 + LUMA[2] * bl as f64) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(bits_allocated: u16, bits_stored: u16, signed: bool) -> PixelFormat {
        PixelFormat {
            rows: 1,
            cols: 4,
            frames: 1,
            samples: 1,
            bits_allocated,
            bits_stored,
            high_bit: bits_stored - 1,
            signed,
            photometric: Photometric::Monochrome2,
            planar: false,
            float: false,
            palette: None,
        }
    }

    fn values(bytes: Vec<u8>, f: &PixelFormat) -> Vec<i64> {
        let s = Samples {
            bytes: Cow::Owned(bytes),
            bit_offset: 0,
            little_endian: true,
            swap_pairs: false,
            skip: 0,
            photometric: f.photometric.clone(),
            planar: false,
        };
        let mut v = Vec::new();
        for_each_mono(&s, f, |x| v.push(x));
        v
    }

    #[test]
    fn twelve_bit_signed_is_sign_extended() {
        // 0x0FFF is -1 in 12 bits, 0x0800 is -2048; the top 4 bits are junk (overlay bits).
        let raw: Vec<u8> = [0x0FFFu16, 0x0800, 0x07FF, 0xF001].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(values(raw, &fmt(16, 12, true)), vec![-1, -2048, 2047, 1]);
    }

    #[test]
    fn monochrome1_is_inverted_within_the_stored_range() {
        let mut f = fmt(8, 8, false);
        f.photometric = Photometric::Monochrome1;
        assert_eq!(values(vec![0, 1, 254, 255], &f), vec![255, 254, 1, 0]);
    }

    #[test]
    fn one_bit_is_unpacked_lsb_first() {
        let mut f = fmt(1, 1, false);
        f.cols = 8;
        assert_eq!(values(vec![0b1000_0101], &f), vec![1, 0, 1, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn rle_packbits_round_trip() {
        // One 8-bit segment: literal run of 2, then 2 repeats of 7.
        let mut data = vec![0u8; 64];
        data[0] = 1;
        data[4] = 64;
        data.extend_from_slice(&[1, 5, 6, 0xFF, 7]);
        let f = fmt(8, 8, false);
        assert_eq!(rle(&data, &f).unwrap(), vec![5, 6, 7, 7]);
        data.truncate(68);
        assert_eq!(rle(&data, &f).unwrap_err(), "segment 0 decodes to 2 bytes, 4 needed");
    }

    #[test]
    fn jpeg_frame_header_is_found() {
        // SOI, APP0 of length 4, SOF3 (lossless) 16-bit 2×3, 1 component.
        let d = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC3, 0, 11, 16, 0, 2, 0, 3, 1, 1, 0x11, 0];
        assert_eq!(jpeg_sof(&d), Some((0xC3, 16, 2, 3, 1)));
        assert_eq!(jpeg_sof(&d[..12]), None);
    }
}
