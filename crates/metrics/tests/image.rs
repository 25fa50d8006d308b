//! PSNR and SSIM against scikit-image on the same arrays.

use hounsfield_core::{Geometry, Volume};
use hounsfield_metrics::image::{psnr, ssim, DataRange, SsimOptions};
use rand::{Rng, SeedableRng};

use crate::common::{py_json, write_f32};

const SCRIPT: &str = r#"
import sys, json, numpy as np
from skimage.metrics import structural_similarity, peak_signal_noise_ratio
shape = tuple(int(s) for s in sys.argv[3].split(','))
a = np.fromfile(sys.argv[1], dtype='<f4').reshape(shape).astype(np.float64)
b = np.fromfile(sys.argv[2], dtype='<f4').reshape(shape).astype(np.float64)
r = float(sys.argv[4])
s = structural_similarity(a, b, data_range=r, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
p = peak_signal_noise_ratio(b, a, data_range=r)
print(json.dumps({"ssim": float(s), "psnr": float(p)}))
"#;

fn pair(dims: [usize; 3], seed: u64) -> (Volume<f32>, Volume<f32>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = dims.iter().product();
    let clean: Vec<f32> = (0..n)
        .map(|o| {
            let (i, j, k) = (o % dims[0], (o / dims[0]) % dims[1], o / (dims[0] * dims[1]));
            ((i as f32 * 0.21).sin() + (j as f32 * 0.13).cos() + (k as f32 * 0.3).sin()) * 100.0
        })
        .collect();
    let noisy: Vec<f32> = clean.iter().map(|v| v + rng.gen_range(-30.0..30.0)).collect();
    let g = Geometry::default();
    (Volume::from_vec(dims, g, noisy).unwrap(), Volume::from_vec(dims, g, clean).unwrap())
}

fn compare(dims: [usize; 3], shape_numpy: &str) {
    let (pred, reference) = pair(dims, 11);
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.raw"), dir.path().join("b.raw"));
    write_f32(&pa, pred.data());
    write_f32(&pb, reference.data());
    let range = 400.0;
    let j = py_json(SCRIPT, &[pa.to_str().unwrap(), pb.to_str().unwrap(), shape_numpy, "400"]);
    let ours = ssim(&pred, &reference, &SsimOptions { range: DataRange::Fixed(range), ..Default::default() })
        .unwrap();
    let theirs = j["ssim"].as_f64().unwrap();
    // 1e-4: the issue's agreement target; both sides compute in f64 from the same f32 inputs.
    assert!((ours - theirs).abs() < 1e-4, "ssim {ours} vs skimage {theirs}");
    let p = psnr(&pred, &reference, DataRange::Fixed(range), None).unwrap();
    // 1e-9 dB: the same formula on the same numbers.
    assert!((p - j["psnr"].as_f64().unwrap()).abs() < 1e-9, "psnr {p} vs {}", j["psnr"]);
}

#[test]
fn ssim_and_psnr_2d_equal_skimage() {
    // numpy shape is (rows, cols) = (ny, nx) for an x-fastest buffer.
    compare([64, 48, 1], "48,64");
}

#[test]
fn ssim_and_psnr_3d_equal_skimage() {
    compare([24, 20, 16], "16,20,24");
}
