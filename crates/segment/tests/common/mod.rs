//! Where the reference Python lives; running it on raw files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference Python (HOUNSFIELD_PYTHON or ~/.cache/hounsfield/venv); panics with the fix
/// when missing: tests never skip silently.
pub fn python() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/hounsfield/venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}

/// Writes f32 values as raw little-endian bytes.
pub fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Runs a Python script with arguments and parses its stdout as JSON.
pub fn py_json(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}
