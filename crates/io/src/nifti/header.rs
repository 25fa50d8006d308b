//! The NIfTI-1 (348-byte) and NIfTI-2 (540-byte) header layouts, parsed into one
//! version-independent [`Header`] with every number widened to `f64`/`i64`, and the NIfTI-1
//! header the writer emits.
//!
//! Offsets follow `nifti1.h` and `nifti2.h` (NIfTI Data Format Working Group, 2004 and 2011).

/// Which file layout: one `.nii` file, or a `.hdr`/`.img` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `n+1` / `n+2`: header and data in one file.
    Single,
    /// `ni1` / `ni2`: header in `.hdr`, data in `.img`.
    Pair,
}

/// A parsed NIfTI-1 or NIfTI-2 header.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Header {
    /// 1 or 2.
    pub version: u8,
    /// Header size in bytes (348 or 540).
    pub size: usize,
    pub big_endian: bool,
    pub layout: Layout,
    pub dim: [i64; 8],
    pub intent_code: i32,
    pub datatype: i16,
    pub pixdim: [f64; 8],
    pub vox_offset: f64,
    pub scl_slope: f64,
    pub scl_inter: f64,
    pub xyzt_units: u8,
    pub qform_code: i32,
    pub sform_code: i32,
    /// quatern_b, c, d.
    pub quatern: [f64; 3],
    pub qoffset: [f64; 3],
    /// srow_x, srow_y, srow_z.
    pub srow: [[f64; 4]; 3],
}

/// Why a header could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HeaderProblem {
    /// Fewer bytes than the header needs.
    Short { need: usize, got: usize },
    /// `sizeof_hdr` is neither 348 nor 540 in either byte order.
    SizeofHdr(i32),
    /// An Analyze 7.5 header (348 bytes, no NIfTI magic).
    Analyze,
    /// A magic string that is not NIfTI's.
    Magic([u8; 4]),
}

impl std::fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderProblem::Short { need, got } => {
                write!(f, "file too short for a NIfTI header ({got} bytes, need {need})")
            }
            HeaderProblem::SizeofHdr(v) => {
                write!(f, "not a NIfTI file: sizeof_hdr is {v} (NIfTI-1 has 348, NIfTI-2 540)")
            }
            HeaderProblem::Analyze => write!(f, "Analyze 7.5 header without NIfTI magic (not supported)"),
            HeaderProblem::Magic(m) => {
                write!(f, "not a NIfTI file: bad magic {:?}", String::from_utf8_lossy(m))
            }
        }
    }
}

/// Bytes of the header that must be read to know its version.
pub(crate) const PROBE: usize = 4;

/// The header size announced by the first 4 bytes, and whether the file is big-endian.
pub(crate) fn probe(b: &[u8]) -> Result<(usize, bool), HeaderProblem> {
    let Some(first) = b.get(..4) else {
        return Err(HeaderProblem::Short { need: 4, got: b.len() });
    };
    let arr = [first[0], first[1], first[2], first[3]];
    match (i32::from_le_bytes(arr), i32::from_be_bytes(arr)) {
        (348, _) => Ok((348, false)),
        (540, _) => Ok((540, false)),
        (_, 348) => Ok((348, true)),
        (_, 540) => Ok((540, true)),
        (le, _) => Err(HeaderProblem::SizeofHdr(le)),
    }
}

/// Little reader of fixed-offset fields in either byte order. Offsets are constants below the
/// header size, which [`parse`] checks first, so the slices cannot fail.
struct Fields<'a> {
    b: &'a [u8],
    be: bool,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, o: usize) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = self.b.get(o..o + N) {
            a.copy_from_slice(s);
        }
        if self.be {
            a.reverse();
        }
        a
    }
    fn i16(&self, o: usize) -> i16 {
        i16::from_le_bytes(self.bytes(o))
    }
    fn i32(&self, o: usize) -> i32 {
        i32::from_le_bytes(self.bytes(o))
    }
    fn i64(&self, o: usize) -> i64 {
        i64::from_le_bytes(self.bytes(o))
    }
    fn f32(&self, o: usize) -> f64 {
        f32::from_le_bytes(self.bytes(o)) as f64
    }
    fn f64(&self, o: usize) -> f64 {
        f64::from_le_bytes(self.bytes(o))
    }
    fn u8(&self, o: usize) -> u8 {
        self.b.get(o).copied().unwrap_or(0)
    }
    fn raw<const N: usize>(&self, o: usize) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = self.b.get(o..o + N) {
            a.copy_from_slice(s);
        }
        a
    }
}

/// Parses a NIfTI-1 or NIfTI-2 header from the start of `b`.
pub(crate) fn parse(b: &[u8]) -> Result<Header, HeaderProblem> {
    let (size, be) = probe(b)?;
    if b.len() < size {
        return Err(HeaderProblem::Short { need: size, got: b.len() });
    }
    let f = Fields { b, be };
    if size == 348 {
        let magic: [u8; 4] = f.raw(344);
        let layout = match &magic {
            b"n+1\0" => Layout::Single,
            b"ni1\0" => Layout::Pair,
            [0, 0, 0, 0] => return Err(HeaderProblem::Analyze),
            _ => return Err(HeaderProblem::Magic(magic)),
        };
        let mut dim = [0i64; 8];
        for (i, d) in dim.iter_mut().enumerate() {
            *d = f.i16(40 + 2 * i) as i64;
        }
        let mut pixdim = [0f64; 8];
        for (i, p) in pixdim.iter_mut().enumerate() {
            *p = f.f32(76 + 4 * i);
        }
        let mut srow = [[0f64; 4]; 3];
        for (r, row) in srow.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = f.f32(280 + 16 * r + 4 * c);
            }
        }
        Ok(Header {
            version: 1,
            size,
            big_endian: be,
            layout,
            dim,
            intent_code: f.i16(68) as i32,
            datatype: f.i16(70),
            pixdim,
            vox_offset: f.f32(108),
            scl_slope: f.f32(112),
            scl_inter: f.f32(116),
            xyzt_units: f.u8(123),
            qform_code: f.i16(252) as i32,
            sform_code: f.i16(254) as i32,
            quatern: [f.f32(256), f.f32(260), f.f32(264)],
            qoffset: [f.f32(268), f.f32(272), f.f32(276)],
            srow,
        })
    } else {
        let magic: [u8; 8] = f.raw(4);
        let layout = match &magic[..4] {
            b"n+2\0" => Layout::Single,
            b"ni2\0" => Layout::Pair,
            _ => return Err(HeaderProblem::Magic([magic[0], magic[1], magic[2], magic[3]])),
        };
        let mut dim = [0i64; 8];
        for (i, d) in dim.iter_mut().enumerate() {
            *d = f.i64(16 + 8 * i);
        }
        let mut pixdim = [0f64; 8];
        for (i, p) in pixdim.iter_mut().enumerate() {
            *p = f.f64(104 + 8 * i);
        }
        let mut srow = [[0f64; 4]; 3];
        for (r, row) in srow.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = f.f64(400 + 32 * r + 8 * c);
            }
        }
        Ok(Header {
            version: 2,
            size,
            big_endian: be,
            layout,
            dim,
            intent_code: f.i32(504),
            datatype: f.i16(12),
            pixdim,
            vox_offset: f.i64(168) as f64,
            scl_slope: f.f64(176),
            scl_inter: f.f64(184),
            // xyzt_units is an int32 in NIfTI-2; only its low byte carries codes.
            xyzt_units: (f.i32(500) & 0xff) as u8,
            qform_code: f.i32(344),
            sform_code: f.i32(348),
            quatern: [f.f64(352), f.f64(360), f.f64(368)],
            qoffset: [f.f64(376), f.f64(384), f.f64(392)],
            srow,
        })
    }
}

/// The NIfTI-1 header size.
pub(crate) const NIFTI1_SIZE: usize = 348;
/// Data offset the writer uses: header plus the 4-byte extension flag (all zero: no
/// extensions).
pub(crate) const NIFTI1_VOX_OFFSET: usize = 352;

/// What the writer puts into a NIfTI-1 header.
pub(crate) struct WriteHeader {
    /// dim[0..8].
    pub dim: [i16; 8],
    pub intent_code: i16,
    pub datatype: i16,
    pub bitpix: i16,
    pub pixdim: [f32; 8],
    pub qform_code: i16,
    pub sform_code: i16,
    pub quatern: [f32; 3],
    pub qoffset: [f32; 3],
    pub srow: [[f32; 4]; 3],
    /// Up to 79 bytes of description.
    pub descrip: &'static str,
    /// Up to 15 bytes.
    pub intent_name: &'static str,
}

/// Serialises a little-endian NIfTI-1 header plus the 4-byte extension flag (352 bytes).
pub(crate) fn build_nifti1(h: &WriteHeader) -> Vec<u8> {
    let mut b = vec![0u8; NIFTI1_VOX_OFFSET];
    let mut put = |o: usize, bytes: &[u8]| b[o..o + bytes.len()].copy_from_slice(bytes);
    put(0, &(NIFTI1_SIZE as i32).to_le_bytes());
    // `regular` = 'r', as nifti1_io and nibabel write it (an Analyze leftover).
    put(38, b"r");
    for (i, d) in h.dim.iter().enumerate() {
        put(40 + 2 * i, &d.to_le_bytes());
    }
    put(68, &h.intent_code.to_le_bytes());
    put(70, &h.datatype.to_le_bytes());
    put(72, &h.bitpix.to_le_bytes());
    for (i, p) in h.pixdim.iter().enumerate() {
        put(76 + 4 * i, &p.to_le_bytes());
    }
    put(108, &(NIFTI1_VOX_OFFSET as f32).to_le_bytes());
    // Identity scaling written explicitly (slope 1, intercept 0): every reader agrees on it.
    put(112, &1f32.to_le_bytes());
    put(116, &0f32.to_le_bytes());
    // xyzt_units: NIFTI_UNITS_MM (2) | NIFTI_UNITS_SEC (8), as ITK writes.
    put(123, &[2 | 8]);
    let descrip = &h.descrip.as_bytes()[..h.descrip.len().min(79)];
    put(148, descrip);
    put(252, &h.qform_code.to_le_bytes());
    put(254, &h.sform_code.to_le_bytes());
    for i in 0..3 {
        put(256 + 4 * i, &h.quatern[i].to_le_bytes());
        put(268 + 4 * i, &h.qoffset[i].to_le_bytes());
    }
    for (r, row) in h.srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put(280 + 16 * r + 4 * c, &v.to_le_bytes());
        }
    }
    let name = &h.intent_name.as_bytes()[..h.intent_name.len().min(15)];
    put(328, name);
    put(344, b"n+1\0");
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WriteHeader {
        WriteHeader {
            dim: [3, 4, 5, 6, 1, 1, 1, 1],
            intent_code: 0,
            datatype: 4,
            bitpix: 16,
            pixdim: [-1.0, 0.5, 0.75, 2.0, 0.0, 0.0, 0.0, 0.0],
            qform_code: 1,
            sform_code: 1,
            quatern: [0.0, 0.0, 1.0],
            qoffset: [10.0, -20.0, 30.5],
            srow: [[-0.5, 0.0, 0.0, 10.0], [0.0, -0.75, 0.0, -20.0], [0.0, 0.0, 2.0, 30.5]],
            descrip: "test",
            intent_name: "",
        }
    }

    #[test]
    fn build_then_parse_little_endian() {
        let b = build_nifti1(&sample());
        let h = parse(&b).unwrap();
        assert_eq!((h.version, h.size, h.big_endian, h.layout), (1, 348, false, Layout::Single));
        assert_eq!(h.dim, [3, 4, 5, 6, 1, 1, 1, 1]);
        assert_eq!(h.datatype, 4);
        assert_eq!(h.pixdim[..4], [-1.0, 0.5, 0.75, 2.0]);
        assert_eq!(h.vox_offset, 352.0);
        assert_eq!((h.qform_code, h.sform_code), (1, 1));
        assert_eq!(h.srow[2], [0.0, 0.0, 2.0, 30.5]);
        assert_eq!(h.xyzt_units, 10);
    }

    #[test]
    fn big_endian_header_is_detected() {
        // Swap every field of a little-endian header by hand for the fields checked.
        let le = build_nifti1(&sample());
        let mut be = le.clone();
        be[0..4].copy_from_slice(&348i32.to_be_bytes());
        for i in 0..8 {
            let v = i16::from_le_bytes([le[40 + 2 * i], le[41 + 2 * i]]);
            be[40 + 2 * i..42 + 2 * i].copy_from_slice(&v.to_be_bytes());
        }
        let h = parse(&be).unwrap();
        assert!(h.big_endian);
        assert_eq!(h.dim, [3, 4, 5, 6, 1, 1, 1, 1]);
    }

    #[test]
    fn problems_are_named() {
        assert_eq!(parse(&[1, 2]), Err(HeaderProblem::Short { need: 4, got: 2 }));
        assert_eq!(parse(&[0, 0, 0, 0]), Err(HeaderProblem::SizeofHdr(0)));
        let mut b = build_nifti1(&sample());
        b[344..348].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(parse(&b), Err(HeaderProblem::Analyze));
        b[344..348].copy_from_slice(b"abcd");
        assert_eq!(parse(&b), Err(HeaderProblem::Magic(*b"abcd")));
        assert_eq!(parse(&b[..100]), Err(HeaderProblem::Short { need: 348, got: 100 }));
    }
}
