//! Comparison with scikit-image's `shepp_logan_phantom` (the reference Python of
//! scripts/setup.sh): the 400 × 400 phantom must match scikit-image's pixel for pixel, up to
//! the 8-bit quantisation of scikit-image's PNG (values within half a grey level).

use std::process::Command;

use hounsfield_phantom::shepp_logan::{shepp_logan, SheppLoganOptions};

use crate::common::python;

#[test]
fn shepp_logan_matches_scikit_image_pixel_for_pixel() {
    let img = shepp_logan(&SheppLoganOptions { size: 400, ..Default::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("sl.f32");
    let bytes: Vec<u8> = img.data().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let script = r#"
import sys, numpy as np
from skimage.data import shepp_logan_phantom
ref = shepp_logan_phantom()
ours = np.fromfile(sys.argv[1], dtype='<f4').reshape(400, 400)  # rows = j, columns = i
print(int((np.abs(ours - ref) > 0.6 / 255).sum()))
"#;
    let out = Command::new(python()).arg("-c").arg(script).arg(&raw).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let mismatches: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(mismatches, 0, "pixels differing from scikit-image");
}
