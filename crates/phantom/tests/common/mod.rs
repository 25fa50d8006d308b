//! Shared helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use hounsfield_core::{LabelVolume, Volume};

/// Offsets of voxels whose six face neighbours all carry the same label (no partial volume
/// can touch them at supersample 1).
pub fn interior(labels: &LabelVolume) -> Vec<usize> {
    let [nx, ny, nz] = labels.dims();
    let d = labels.data();
    let mut out = Vec::new();
    for k in 1..nz - 1 {
        for j in 1..ny - 1 {
            for i in 1..nx - 1 {
                let o = i + nx * (j + ny * k);
                let l = d[o];
                if [o - 1, o + 1, o - nx, o + nx, o - nx * ny, o + nx * ny].iter().all(|&n| d[n] == l) {
                    out.push(o);
                }
            }
        }
    }
    out
}

/// Number of voxels with label `l`.
pub fn count(labels: &LabelVolume, l: u16) -> usize {
    labels.data().iter().filter(|&&v| v == l).count()
}

/// Surface area of an ellipsoid, Knud Thomsen's approximation (relative error ≤ 1.1 %).
pub fn ellipsoid_area(a: f64, b: f64, c: f64) -> f64 {
    let p = 1.6075;
    4.0 * std::f64::consts::PI * (((a * b).powf(p) + (a * c).powf(p) + (b * c).powf(p)) / 3.0).powf(1.0 / p)
}

/// Sum of an image times the voxel volume (mm³).
pub fn integral(v: &Volume<f32>) -> f64 {
    v.data().iter().map(|&x| x as f64).sum::<f64>() * v.geometry().voxel_volume()
}

fn cache() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/hounsfield")
}

/// The Python interpreter of the reference-tool venv (scripts/setup.sh); panics with the fix
/// when missing: tests never skip silently.
pub fn python() -> PathBuf {
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}
