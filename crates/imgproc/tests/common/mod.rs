//! Shared helpers: the reference Python, raw-file exchange with it, and the test images.
#![allow(dead_code)]

use hounsfield_core::{Geometry, Volume};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::process::Command;

/// The reference Python (HOUNSFIELD_PYTHON or ~/.cache/hounsfield/venv/bin/python). Panics
/// with the fix when it is missing: tests never skip silently.
pub fn python() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/hounsfield/venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}

/// Definitions every reference script starts with: argv[1] is the exchange folder, argv[2]
/// the JSON parameters; `load`/`save` move raw little-endian arrays in numpy (z, y, x) order,
/// `image` wraps an array with a geometry as a SimpleITK image.
const PRELUDE: &str = r#"
import sys, json
import numpy as np
import SimpleITK as sitk
D = sys.argv[1]
P = json.loads(sys.argv[2])
sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
def load(name, dtype, dims=None):
    dims = dims or P["dims"]
    return np.fromfile(f"{D}/{name}", dtype=dtype).reshape(dims[::-1])
def save(name, arr):
    np.ascontiguousarray(arr).tofile(f"{D}/{name}")
def image(arr, geo):
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing(geo["spacing"]); im.SetOrigin(geo["origin"]); im.SetDirection(geo["direction"])
    return im
"#;

/// A folder shared with one reference script.
pub struct Peer {
    dir: tempfile::TempDir,
}

impl Peer {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temporary folder") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write<T: Raw>(&self, name: &str, v: &[T]) {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le()).collect();
        std::fs::write(self.path(name), bytes).expect("write input");
    }

    pub fn read<T: Raw>(&self, name: &str) -> Vec<T> {
        let b = std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("reference output {name}: {e}"));
        b.chunks_exact(T::SIZE).map(T::from_le).collect()
    }

    /// Runs `script` (after the prelude) with `params` and returns its stdout parsed as JSON
    /// (`null` when it prints nothing).
    pub fn run(&self, script: &str, params: &serde_json::Value) -> serde_json::Value {
        let code = format!("{PRELUDE}\n{script}");
        let out = Command::new(python())
            .arg("-c")
            .arg(code)
            .arg(self.dir.path())
            .arg(params.to_string())
            .output()
            .expect("run the reference python");
        assert!(out.status.success(), "reference python failed: {}", String::from_utf8_lossy(&out.stderr));
        if out.stdout.iter().all(|b| b.is_ascii_whitespace()) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&out.stdout).expect("reference python printed JSON")
        }
    }
}

/// Raw little-endian element types exchanged with Python.
pub trait Raw: Copy {
    const SIZE: usize;
    fn to_le(self) -> Vec<u8>;
    fn from_le(b: &[u8]) -> Self;
}

macro_rules! raw {
    ($($t:ty),*) => {$(
        impl Raw for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn to_le(self) -> Vec<u8> { self.to_le_bytes().to_vec() }
            fn from_le(b: &[u8]) -> Self { <$t>::from_le_bytes(b.try_into().unwrap()) }
        }
    )*};
}
raw!(u8, u16, i16, u32, i32, f32, f64);

/// JSON of a geometry as SimpleITK takes it (direction row-major).
pub fn geo_json(g: &Geometry) -> serde_json::Value {
    serde_json::json!({
        "origin": g.origin, "spacing": g.spacing, "direction": g.direction_row_major(),
    })
}

/// The test grid: 40×37×23, anisotropic spacing, oblique direction (rotations about two
/// axes), an arbitrary origin.
pub fn test_geometry() -> ([usize; 3], Geometry) {
    let (a, b) = (0.35f64, -0.2f64);
    let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, b.cos(), -b.sin()], [0.0, b.sin(), b.cos()]];
    let d = hounsfield_core::linalg::mat_mul(&rz, &rx);
    ([40, 37, 23], Geometry { origin: [-12.5, 30.25, -8.0], spacing: [0.9, 1.3, 2.1], direction: d })
}

/// Uniform noise in [0, 1) on the test grid, seeded.
pub fn noise(seed: u64) -> Volume<f32> {
    let (dims, g) = test_geometry();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v = (0..dims.iter().product::<usize>()).map(|_| rng.gen::<f32>()).collect();
    Volume::from_vec(dims, g, v).unwrap()
}

/// A smooth random image: noise blurred with a small box filter along each axis (blobs a
/// few voxels wide), scaled to about 0..100.
pub fn smooth_random(seed: u64) -> Volume<f32> {
    let v = noise(seed);
    let d = v.dims();
    let mut a = v.data().to_vec();
    for (axis, stride) in [(0usize, 1usize), (1, d[0]), (2, d[0] * d[1])] {
        let src = a.clone();
        for (i, out) in a.iter_mut().enumerate() {
            let p = (i / stride) % d[axis];
            let mut s = 0.0;
            let mut n = 0.0;
            for q in p.saturating_sub(2)..(p + 3).min(d[axis]) {
                s += src[i - p * stride + q * stride];
                n += 1.0;
            }
            *out = s / n;
        }
    }
    let m = v.with_data(a).unwrap();
    let (lo, hi, _) = m.min_max_mean();
    m.map(|x| ((*x as f64 - lo) / (hi - lo) * 100.0) as f32)
}

/// A random blobby mask (about `fraction` of voxels set) from thresholding `smooth_random`.
pub fn blob_mask(seed: u64, threshold: f32) -> Volume<u8> {
    smooth_random(seed).map(|&v| (v > threshold) as u8)
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs()))
}
