//! Shared helpers: the reference Python and error measures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use hounsfield_core::Volume;

/// The Python interpreter of the reference-tool venv (HOUNSFIELD_PYTHON or
/// ~/.cache/hounsfield/venv/bin/python); panics with the fix when missing.
pub fn python() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/hounsfield/venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}

/// Runs `script` with the reference Python (extra `args` become sys.argv[1..]) and parses
/// its standard output as JSON.
pub fn py_json(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "python failed (run scripts/setup.sh if a module is missing): {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// RMSE between a one-slice image and `b` (same layout) inside the disc of radius `r`
/// pixels around pixel `(nx/2, ny/2)`.
pub fn rmse_disc(a: &Volume<f32>, b: &[f32], r: f64) -> f64 {
    let [nx, ny, _] = a.dims();
    let (cx, cy) = ((nx / 2) as f64, (ny / 2) as f64);
    let (mut se, mut n) = (0.0, 0usize);
    for j in 0..ny {
        for i in 0..nx {
            let (x, y) = (i as f64 - cx, j as f64 - cy);
            if x * x + y * y <= r * r {
                let d = a.data()[i + nx * j] as f64 - b[i + nx * j] as f64;
                se += d * d;
                n += 1;
            }
        }
    }
    (se / n as f64).sqrt()
}
