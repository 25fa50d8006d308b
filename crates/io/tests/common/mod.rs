//! Shared helpers: where the sample data and the reference Python live.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

fn cache() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/hounsfield")
}

/// The sample-data root (HOUNSFIELD_DATA or ~/.cache/hounsfield/data). Panics with the fix
/// when it is missing: tests never skip silently.
pub fn data_dir() -> PathBuf {
    let d = std::env::var_os("HOUNSFIELD_DATA").map(PathBuf::from).unwrap_or_else(|| cache().join("data"));
    assert!(d.is_dir(), "sample data not found at {}: run scripts/setup.sh", d.display());
    d
}

/// A file under the sample-data root; panics when missing.
pub fn data(rel: &str) -> PathBuf {
    let p = data_dir().join(rel);
    assert!(p.exists(), "sample file {} missing: run scripts/setup.sh", p.display());
    p
}

/// The Python interpreter of the reference-tool venv.
pub fn python() -> PathBuf {
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}

/// Runs `script` with the reference Python (extra `args` become sys.argv[1..]) and parses
/// its standard output as JSON.
pub fn py_json(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}
