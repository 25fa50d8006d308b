//! BART's `.cfl/.hdr` complex arrays (Uecker et al., "Berkeley Advanced Reconstruction
//! Toolbox", ISMRM 2015), so that every BART tool reads what Hounsfield writes and the
//! reverse.
//!
//! A BART array is two files with one stem: `<stem>.hdr`, a text header whose line after
//! `# Dimensions` lists up to 16 sizes, and `<stem>.cfl`, the raw samples as interleaved
//! little-endian `f32` pairs (real, imaginary) in column-major order (the first dimension
//! fastest, as Hounsfield stores voxels). Other `#` sections of the header (`# Command`,
//! `# Files`, `# Creator`) are ignored on reading.
//!
//! BART's own dimension convention (`misc/mri.h`) is what its tools expect:
//!
//! | index | meaning |
//! |---|---|
//! | 0, 1, 2 | read-out (x), phase-encoding (y), partition (z) |
//! | 3 | coil |
//! | 4 | ESPIRiT map |
//! | 5–15 | echoes, cardiac/respiratory phases, slices, … |
//!
//! The arrays carry no geometry: a k-space array of `nx × ny × nz` corresponds to the image
//! grid its producer documents (the recon crate's MRI module keeps it next to the data).
//!
//! [`read`] checks the header before allocating: at most 16 sizes, each at least 1, the
//! product under the memory cap ([`hounsfield_core::check_alloc`]), and the `.cfl` length
//! equal to 8 bytes per sample ([`CflError::ReadSize`] otherwise). [`write()`] writes the data
//! and then the header, each atomically ([`crate::atomic`]).
//!
//! ```no_run
//! use hounsfield_io::cfl;
//!
//! let k = cfl::read("kspace".as_ref())?; // kspace.hdr + kspace.cfl
//! assert_eq!(k.len(), k.dims.iter().product::<usize>());
//! cfl::write("copy.cfl".as_ref(), &k.dims, &k.data)?;
//! # Ok::<(), cfl::CflError>(())
//! ```

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hounsfield_core::{check_alloc, CoreError};

use crate::atomic::write_atomic;

/// Most dimensions a BART header may list (`DIMS` in BART's `misc/mri.h`).
pub const MAX_DIMS: usize = 16;

/// Errors reading or writing a BART `.cfl/.hdr` pair.
#[derive(Debug, thiserror::Error)]
pub enum CflError {
    /// A file of the pair could not be opened, read, written or renamed.
    #[error("cannot {op} BART file: {source}: {}", .path.display())]
    Fs {
        /// What was being done (`"read"`, `"write"`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The `.hdr` is not a BART header or its dimensions are malformed.
    #[error("cannot read BART header: {reason}: {}", .path.display())]
    ReadHeader {
        /// What is wrong.
        reason: String,
        /// The header file.
        path: PathBuf,
    },
    /// The `.cfl` does not hold the number of samples the header declares.
    #[error(
        "cannot read BART data: the header declares {dims:?} ({expected} bytes) but the file holds {actual} bytes: {}",
        .path.display()
    )]
    ReadSize {
        /// Dimensions from the header.
        dims: Vec<usize>,
        /// Bytes the dimensions imply.
        expected: u128,
        /// Bytes in the file.
        actual: u64,
        /// The data file.
        path: PathBuf,
    },
    /// Dimensions handed to [`write()`] are empty, too many, zero, or do not match the data.
    #[error("cannot write BART array: {reason}: {}", .path.display())]
    WriteDims {
        /// What is wrong.
        reason: String,
        /// The target.
        path: PathBuf,
    },
    /// The declared size exceeds the memory cap.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// A complex array as BART stores it: dimensions (first fastest) and interleaved samples.
#[derive(Clone, Debug, PartialEq)]
pub struct CflArray {
    /// Sizes, first dimension fastest; trailing sizes of 1 are kept as the header lists them.
    pub dims: Vec<usize>,
    /// Samples as `[real, imaginary]`, column-major.
    pub data: Vec<[f32; 2]>,
}

impl CflArray {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the array has no samples (never for an array read from disk).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Size of dimension `i`: 1 beyond the listed dimensions, as in BART.
    pub fn dim(&self, i: usize) -> usize {
        self.dims.get(i).copied().unwrap_or(1)
    }

    /// The first 16 sizes, padded with 1 (BART's full dimension vector).
    pub fn dims16(&self) -> [usize; MAX_DIMS] {
        std::array::from_fn(|i| self.dim(i))
    }
}

/// The `.hdr` and `.cfl` paths for `path`, which may name either file or the bare stem.
pub fn pair_paths(path: &Path) -> (PathBuf, PathBuf) {
    let s = path.to_string_lossy();
    let stem = s.strip_suffix(".cfl").or_else(|| s.strip_suffix(".hdr")).unwrap_or(&s).to_owned();
    (PathBuf::from(format!("{stem}.hdr")), PathBuf::from(format!("{stem}.cfl")))
}

/// Parses the dimensions of a BART header.
pub fn parse_header(text: &str, path: &Path) -> Result<Vec<usize>, CflError> {
    let bad = |reason: String| CflError::ReadHeader { reason, path: path.to_path_buf() };
    let mut lines = text.lines();
    let mut found = false;
    for line in lines.by_ref() {
        if line.trim() == "# Dimensions" {
            found = true;
            break;
        }
    }
    if !found {
        return Err(bad("no `# Dimensions` line".into()));
    }
    let line = lines.next().ok_or_else(|| bad("nothing after `# Dimensions`".into()))?;
    let dims = line
        .split_whitespace()
        .map(|t| {
            t.parse::<usize>().map_err(|_| bad(format!("dimension `{t}` is not a non-negative integer")))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    if dims.is_empty() {
        return Err(bad("no dimensions listed".into()));
    }
    if dims.len() > MAX_DIMS {
        return Err(bad(format!("{} dimensions listed, BART allows at most {MAX_DIMS}", dims.len())));
    }
    if let Some(i) = dims.iter().position(|&d| d == 0) {
        return Err(bad(format!("dimension {i} is 0")));
    }
    Ok(dims)
}

/// The header text BART writes for `dims` (padded to 16 dimensions).
pub fn header_text(dims: &[usize]) -> String {
    let all: Vec<String> =
        (0..MAX_DIMS.max(dims.len())).map(|i| dims.get(i).unwrap_or(&1).to_string()).collect();
    format!("# Dimensions\n{}\n", all.join(" "))
}

/// Reads `<stem>.hdr` and `<stem>.cfl` (`path` may name either file or the stem).
pub fn read(path: &Path) -> Result<CflArray, CflError> {
    let (hdr, cfl) = pair_paths(path);
    let text = std::fs::read_to_string(&hdr).map_err(|source| CflError::Fs {
        op: "read",
        path: hdr.clone(),
        source,
    })?;
    let dims = parse_header(&text, &hdr)?;
    let count = dims.iter().fold(1u128, |a, &d| a.saturating_mul(d as u128));
    let expected = count.saturating_mul(8);
    let fs = |source| CflError::Fs { op: "read", path: cfl.clone(), source };
    let file = std::fs::File::open(&cfl).map_err(fs)?;
    let actual = file.metadata().map_err(fs)?.len();
    if expected != actual as u128 {
        return Err(CflError::ReadSize { dims, expected, actual, path: cfl });
    }
    let n = check_alloc(count, 8)?;
    let mut bytes = Vec::with_capacity(n * 8);
    file.take(actual).read_to_end(&mut bytes).map_err(fs)?;
    if bytes.len() != n * 8 {
        return Err(CflError::ReadSize { dims, expected, actual: bytes.len() as u64, path: cfl });
    }
    let data = bytes
        .chunks_exact(8)
        .map(|c| [f32::from_le_bytes([c[0], c[1], c[2], c[3]]), f32::from_le_bytes([c[4], c[5], c[6], c[7]])])
        .collect();
    Ok(CflArray { dims, data })
}

/// Writes `data` with `dims` (first fastest, at most 16) as `<stem>.cfl` and `<stem>.hdr`
/// (`path` may name either file or the stem). Each file is written atomically; the data
/// goes first, so a reader never sees a header without its data.
pub fn write(path: &Path, dims: &[usize], data: &[[f32; 2]]) -> Result<(), CflError> {
    let (hdr, cfl) = pair_paths(path);
    let bad = |reason: String| CflError::WriteDims { reason, path: cfl.clone() };
    if dims.is_empty() || dims.len() > MAX_DIMS {
        return Err(bad(format!("needs 1 to {MAX_DIMS} dimensions, got {}", dims.len())));
    }
    if dims.contains(&0) {
        return Err(bad(format!("dimensions {dims:?} contain 0")));
    }
    let count = dims.iter().fold(1u128, |a, &d| a.saturating_mul(d as u128));
    if count != data.len() as u128 {
        return Err(bad(format!("dimensions {dims:?} imply {count} samples, the data holds {}", data.len())));
    }
    let fs = |p: &Path| {
        let p = p.to_path_buf();
        move |source| CflError::Fs { op: "write", path: p, source }
    };
    write_atomic::<io::Error, _>(&cfl, |w| {
        let mut buf = Vec::with_capacity(8 * 8192);
        for chunk in data.chunks(8192) {
            buf.clear();
            for s in chunk {
                buf.extend_from_slice(&s[0].to_le_bytes());
                buf.extend_from_slice(&s[1].to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        Ok(())
    })
    .map_err(fs(&cfl))?;
    write_atomic::<io::Error, _>(&hdr, |w| w.write_all(header_text(dims).as_bytes())).map_err(fs(&hdr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_padding() {
        let t = header_text(&[4, 3, 1, 2]);
        assert_eq!(t, "# Dimensions\n4 3 1 2 1 1 1 1 1 1 1 1 1 1 1 1\n");
        assert_eq!(
            parse_header(&t, Path::new("x.hdr")).unwrap(),
            vec![4, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
        // Newer BART headers carry more sections after the dimensions.
        let more = "# Dimensions\n2 2 \n# Command\nbart phantom\n# Creator\nBART 0.9.00\n";
        assert_eq!(parse_header(more, Path::new("x.hdr")).unwrap(), vec![2, 2]);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        for text in ["", "# Dims\n1 2\n", "# Dimensions\n", "# Dimensions\n2 -1\n", "# Dimensions\n2 0 3\n"] {
            assert!(
                matches!(parse_header(text, Path::new("x.hdr")), Err(CflError::ReadHeader { .. })),
                "{text:?}"
            );
        }
        let many = format!("# Dimensions\n{}\n", vec!["1"; 17].join(" "));
        assert!(matches!(parse_header(&many, Path::new("x.hdr")), Err(CflError::ReadHeader { .. })));
    }

    #[test]
    fn paths_of_the_pair() {
        for p in ["a/k", "a/k.cfl", "a/k.hdr"] {
            assert_eq!(pair_paths(Path::new(p)), (PathBuf::from("a/k.hdr"), PathBuf::from("a/k.cfl")));
        }
    }

    #[test]
    fn write_read_and_size_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.cfl");
        let data: Vec<[f32; 2]> = (0..24).map(|i| [i as f32, -(i as f32) * 0.5]).collect();
        write(&p, &[2, 3, 4], &data).unwrap();
        let back = read(&dir.path().join("k")).unwrap();
        assert_eq!(back.dims[..3], [2, 3, 4]);
        assert_eq!(back.data, data);
        assert!(matches!(write(&p, &[5, 5], &data), Err(CflError::WriteDims { .. })));
        // A header that promises more than the data file holds.
        std::fs::write(dir.path().join("k.hdr"), "# Dimensions\n2 3 5\n").unwrap();
        assert!(matches!(read(&p), Err(CflError::ReadSize { expected: 240, actual: 192, .. })));
        // A huge declared size is refused before anything is allocated.
        std::fs::write(dir.path().join("k.hdr"), "# Dimensions\n100000 100000 100000\n").unwrap();
        assert!(matches!(read(&p), Err(CflError::ReadSize { .. })));
    }
}
