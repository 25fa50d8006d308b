//! ITK's text transform format (`#Insight Transform File V1.0`, `.tfm` / `.txt`), as a
//! generic list of entries: a type name (`Euler3DTransform_double_3_3`,
//! `BSplineTransform_double_3_3`, …), its `Parameters` and its `FixedParameters`.
//!
//! This module only reads and writes the container; what the numbers mean for each type (and
//! which types are understood) is the registration crate's business. SimpleITK, ITK, ANTs
//! (`.txt` affine output) and elastix (`ITKTransformOutputFileNameExtension`) write this
//! format.
//!
//! ```text
//! #Insight Transform File V1.0
//! #Transform 0
//! Transform: Euler3DTransform_double_3_3
//! Parameters: 0.1 0.2 0.3 4 5 6
//! FixedParameters: 1 2 3 0
//! ```
//!
//! A `CompositeTransform_double_3_3` is an entry with no numbers followed by the entries it
//! holds, in ITK's queue order (the last one is applied to a point first); the list is kept
//! flat here, as in the file.
//!
//! Reading accepts what ITK's `TxtTransformIO` accepts: `#` lines are comments (the
//! `#Transform N` separators included), keys are case-sensitive and followed by a colon,
//! numbers are separated by blanks, and every `Transform:` line starts a new entry. Numbers
//! must be finite. Writing uses the shortest decimal text that reads back to the same `f64`,
//! so a write–read round trip is exact.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use hounsfield_core::{check_alloc, CoreError};

use crate::atomic::write_atomic;

/// The first line of every ITK text transform file.
pub const MAGIC: &str = "#Insight Transform File V1.0";

/// One transform of a file: its ITK class name with template arguments, and its numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct ItkTransformEntry {
    /// The class name as written after `Transform:` (e.g. `AffineTransform_double_3_3`).
    pub type_name: String,
    /// The optimizable parameters (`Parameters:`), empty when the line is absent.
    pub parameters: Vec<f64>,
    /// The fixed parameters (`FixedParameters:`: centre, grid, …), empty when absent.
    pub fixed_parameters: Vec<f64>,
}

/// Errors reading or writing an ITK transform file.
#[derive(Debug, thiserror::Error)]
pub enum ItkTransformError {
    /// The file could not be read.
    #[error("cannot read transform file: {source}: {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The text is not an ITK transform file or a line is malformed.
    #[error("malformed ITK transform file at line {line}: {reason}: {}", .path.display())]
    Parse {
        /// 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
        /// The file (`<memory>` for text parsed from a string).
        path: PathBuf,
    },
    /// The file is larger than the memory cap allows.
    #[error("transform file: {source}: {}", .path.display())]
    TooLarge {
        /// The memory-cap error.
        source: CoreError,
        /// The file.
        path: PathBuf,
    },
    /// An entry cannot be written (empty or multi-line type name, non-finite number).
    #[error("cannot write transform `{type_name}`: {reason}: {}", .path.display())]
    WriteEntry {
        /// The entry's type name.
        type_name: String,
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("cannot write transform file: {source}: {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

const MEMORY: &str = "<memory>";

/// Reads every entry of an ITK text transform file, in file order.
pub fn read(path: &Path) -> Result<Vec<ItkTransformEntry>, ItkTransformError> {
    let meta =
        std::fs::metadata(path).map_err(|source| ItkTransformError::Read { path: path.into(), source })?;
    check_alloc(meta.len() as u128, 1)
        .map_err(|source| ItkTransformError::TooLarge { source, path: path.into() })?;
    let bytes =
        std::fs::read(path).map_err(|source| ItkTransformError::Read { path: path.into(), source })?;
    let text = String::from_utf8(bytes).map_err(|e| ItkTransformError::Parse {
        line: 0,
        reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        path: path.into(),
    })?;
    parse_with_path(&text, path)
}

/// Parses the text of an ITK transform file.
pub fn parse(text: &str) -> Result<Vec<ItkTransformEntry>, ItkTransformError> {
    parse_with_path(text, Path::new(MEMORY))
}

fn parse_with_path(text: &str, path: &Path) -> Result<Vec<ItkTransformEntry>, ItkTransformError> {
    let err = |line: usize, reason: String| ItkTransformError::Parse { line, reason, path: path.into() };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let first = lines.by_ref().find(|(_, l)| !l.is_empty());
    match first {
        Some((_, l)) if l.starts_with("#Insight Transform File") => {}
        Some((n, l)) => {
            let shown: String = l.chars().take(40).collect();
            return Err(err(n, format!("expected `{MAGIC}`, found `{shown}`")));
        }
        None => return Err(err(0, "empty file".into())),
    }
    let mut out: Vec<ItkTransformEntry> = Vec::new();
    for (n, line) in lines {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            let shown: String = line.chars().take(40).collect();
            return Err(err(n, format!("expected `Key: value`, found `{shown}`")));
        };
        let value = value.trim();
        match key.trim() {
            "Transform" => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(err(n, format!("invalid transform type name `{value}`")));
                }
                out.push(ItkTransformEntry {
                    type_name: value.to_owned(),
                    parameters: Vec::new(),
                    fixed_parameters: Vec::new(),
                });
            }
            k @ ("Parameters" | "FixedParameters") => {
                let Some(entry) = out.last_mut() else {
                    return Err(err(n, format!("`{k}` before any `Transform:` line")));
                };
                let numbers = parse_numbers(value).map_err(|r| err(n, format!("{k}: {r}")))?;
                if k == "Parameters" {
                    entry.parameters = numbers;
                } else {
                    entry.fixed_parameters = numbers;
                }
            }
            // ITK ignores keys it does not know; so do we.
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(err(0, "no `Transform:` entry".into()));
    }
    Ok(out)
}

fn parse_numbers(s: &str) -> Result<Vec<f64>, String> {
    s.split_whitespace()
        .enumerate()
        .map(|(i, t)| match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(v) => Err(format!("value {} is {v} (numbers must be finite)", i + 1)),
            Err(_) => {
                let shown: String = t.chars().take(24).collect();
                Err(format!("value {} `{shown}` is not a number", i + 1))
            }
        })
        .collect()
}

/// Text for one number: the shortest decimal that reads back to the same `f64` (exponent
/// notation for very small or large magnitudes, which C++ streams and Python both read).
fn number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Formats entries as the text of an ITK transform file.
pub fn to_text(entries: &[ItkTransformEntry]) -> Result<String, ItkTransformError> {
    to_text_with_path(entries, Path::new(MEMORY))
}

fn to_text_with_path(entries: &[ItkTransformEntry], path: &Path) -> Result<String, ItkTransformError> {
    let mut s = String::new();
    s.push_str(MAGIC);
    s.push('\n');
    for (i, e) in entries.iter().enumerate() {
        let bad = |reason: &str| ItkTransformError::WriteEntry {
            type_name: e.type_name.clone(),
            reason: reason.into(),
            path: path.into(),
        };
        if e.type_name.is_empty() || e.type_name.contains(char::is_whitespace) || e.type_name.contains(':') {
            return Err(bad("the type name must be one word"));
        }
        if e.parameters.iter().chain(&e.fixed_parameters).any(|v| !v.is_finite()) {
            return Err(bad("a parameter is not finite"));
        }
        let _ = writeln!(s, "#Transform {i}");
        let _ = writeln!(s, "Transform: {}", e.type_name);
        // A composite header carries no numbers (ITK writes none).
        if e.type_name.starts_with("CompositeTransform") && e.parameters.is_empty() {
            continue;
        }
        let join = |v: &[f64]| v.iter().map(|x| number(*x)).collect::<Vec<_>>().join(" ");
        let _ = writeln!(s, "Parameters: {}", join(&e.parameters));
        let _ = writeln!(s, "FixedParameters: {}", join(&e.fixed_parameters));
    }
    Ok(s)
}

/// Writes entries as an ITK text transform file, atomically (the file appears only when
/// complete).
pub fn write(path: &Path, entries: &[ItkTransformEntry]) -> Result<(), ItkTransformError> {
    let text = to_text_with_path(entries, path)?;
    write_atomic::<io::Error, _>(path, |w| w.write_all(text.as_bytes()))
        .map_err(|source| ItkTransformError::Write { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EULER: &str =
        "#Insight Transform File V1.0\n#Transform 0\nTransform: Euler3DTransform_double_3_3\n\
                         Parameters: 0.1 0.2 0.3 4 5 6\nFixedParameters: 1 2 3 0\n";

    #[test]
    fn parses_a_simpleitk_file() {
        let e = parse(EULER).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].type_name, "Euler3DTransform_double_3_3");
        assert_eq!(e[0].parameters, vec![0.1, 0.2, 0.3, 4.0, 5.0, 6.0]);
        assert_eq!(e[0].fixed_parameters, vec![1.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn composite_is_kept_flat_and_round_trips_exactly() {
        let entries = vec![
            ItkTransformEntry {
                type_name: "CompositeTransform_double_3_3".into(),
                parameters: vec![],
                fixed_parameters: vec![],
            },
            ItkTransformEntry {
                type_name: "TranslationTransform_double_3_3".into(),
                parameters: vec![1.0, -2.5e-9, 3.0e20],
                fixed_parameters: vec![],
            },
            ItkTransformEntry {
                type_name: "AffineTransform_double_3_3".into(),
                parameters: (0..12).map(|i| 0.1 * i as f64 + 1.0 / 3.0).collect(),
                fixed_parameters: vec![-0.0, 1e-300, 7.25],
            },
        ];
        let text = to_text(&entries).unwrap();
        assert!(text.starts_with(MAGIC));
        let back = parse(&text).unwrap();
        assert_eq!(back, entries);
    }

    #[test]
    fn malformed_files_are_typed_errors() {
        assert!(matches!(parse(""), Err(ItkTransformError::Parse { line: 0, .. })));
        assert!(matches!(parse("hello\n"), Err(ItkTransformError::Parse { line: 1, .. })));
        let e = parse("#Insight Transform File V1.0\nParameters: 1 2\n").unwrap_err();
        assert!(e.to_string().contains("before any"), "{e}");
        let e = parse(&EULER.replace("0.2", "0.2x")).unwrap_err();
        assert!(matches!(e, ItkTransformError::Parse { line: 4, .. }), "{e}");
        assert!(parse(&EULER.replace("0.2", "nan")).is_err());
        assert!(parse("#Insight Transform File V1.0\n# nothing\n").is_err());
        let bad = ItkTransformEntry { type_name: "A B".into(), parameters: vec![], fixed_parameters: vec![] };
        assert!(matches!(to_text(&[bad]), Err(ItkTransformError::WriteEntry { .. })));
    }

    #[test]
    fn failed_write_leaves_nothing_and_read_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tfm");
        let bad =
            ItkTransformEntry { type_name: "X".into(), parameters: vec![f64::NAN], fixed_parameters: vec![] };
        assert!(write(&p, &[bad]).is_err());
        assert!(!p.exists());
        let e = read(&p).unwrap_err();
        assert!(e.to_string().contains("t.tfm"), "{e}");
        let good = parse(EULER).unwrap();
        write(&p, &good).unwrap();
        assert_eq!(read(&p).unwrap(), good);
    }
}
