//! Running the binary and checking its exit code and output.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The built `hounsfield` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hounsfield"))
}

/// Runs `hounsfield args…`.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the hounsfield binary runs")
}

/// Asserts a clean failure: exit code 2 and exactly one line on stderr that contains every
/// `needle`.
pub fn assert_bad_input(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "expected exit 2, got {:?}; stderr: {err}", out.status.code());
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line on stderr, got: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {err}");
    }
}

fn cache() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/hounsfield")
}

/// A file under the sample-data root (HOUNSFIELD_DATA); panics with the fix when missing.
pub fn data(rel: &str) -> PathBuf {
    let d = std::env::var_os("HOUNSFIELD_DATA").map(PathBuf::from).unwrap_or_else(|| cache().join("data"));
    let p = d.join(rel);
    assert!(p.exists(), "sample file {} missing: run scripts/setup.sh", p.display());
    p
}

/// The reference Python; panics with the fix when missing.
pub fn python() -> PathBuf {
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}
