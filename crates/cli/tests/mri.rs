//! `simulate mri`, `recon mri` and `mask` end to end, BART reading what we write, and bad
//! input.

use std::path::Path;
use std::process::Command;

use hounsfield_metrics::image::{psnr, DataRange};

use crate::common::{assert_bad_input, run};

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_f32(p: &Path) -> hounsfield_core::Volume<f32> {
    hounsfield_io::read_image(p, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .volume
        .into_f32()
}

#[test]
fn simulate_then_reconstruct_every_cartesian_method() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "mri",
        "--phantom",
        "head",
        "--size",
        "64",
        "--coils",
        "4",
        "--mask",
        "poisson",
        "--acceleration",
        "3",
        "--calibration",
        "16",
        "--seed",
        "2",
        "-o",
        &p("k.cfl"),
        "-q",
    ]);
    for f in ["k.cfl", "k.hdr", "k_mask.cfl", "k_maps.cfl", "k_truth.nii.gz", "k.geometry.json"] {
        assert!(dir.path().join(f).exists(), "{f} written");
    }
    let truth = read_f32(&dir.path().join("k_truth.nii.gz"));
    let mut scores = Vec::new();
    for (method, sens) in [
        ("zero-filled", vec!["--sens", "SENS"]),
        ("sense", vec!["--sens", "SENS"]),
        ("cs-wavelet", vec!["--estimate-sens"]),
        ("cs-tv", vec!["--estimate-sens", "walsh"]),
    ] {
        let out = p(&format!("{method}.nii.gz"));
        let maps = p("k_maps.cfl");
        let k = p("k.cfl");
        let mut args = vec!["recon", "mri", "--kspace", &k, "--method", method, "-o", &out, "-q"];
        args.extend(sens.iter().map(|s| if *s == "SENS" { maps.as_str() } else { s }));
        ok(&args);
        let img = read_f32(Path::new(&out));
        // The reconstruction lands on the truth's grid: same dims and geometry.
        assert_eq!(img.dims(), truth.dims(), "{method}");
        assert_eq!(img.geometry(), truth.geometry(), "{method}");
        scores.push((method, psnr(&img, &truth, DataRange::Reference, None).unwrap()));
    }
    eprintln!("{scores:?}");
    let zf = scores[0].1;
    // 3× undersampling leaves zero-filling with aliasing; SENSE and CS must remove most of it.
    // 3 dB: a halving of the error energy, far above run-to-run noise (the run is seeded).
    for &(m, s) in &scores[1..] {
        assert!(s > zf + 3.0, "{m}: {s:.2} dB vs zero-filled {zf:.2} dB");
    }
}

#[test]
fn complex_output_is_a_bart_array() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&["simulate", "mri", "--size", "32", "--coils", "2", "--calibration", "8", "-o", &p("k.cfl"), "-q"]);
    ok(&[
        "recon",
        "mri",
        "--kspace",
        &p("k.cfl"),
        "--sens",
        &p("k_maps.cfl"),
        "--method",
        "sense",
        "-o",
        &p("x.cfl"),
        "-q",
    ]);
    // BART itself reads the image: 32 × 32 along its first two dimensions.
    for (dim, want) in [("0", "32"), ("1", "32"), ("3", "1")] {
        let o = Command::new("bart")
            .args(["show", "-d", dim, &p("x")])
            .output()
            .expect("bart runs (scripts/setup.sh installs it)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), want, "dimension {dim}");
    }
}

#[test]
fn masks_are_written_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let mask = |kind: &str, seed: u64| {
        let out = p(&format!("{kind}{seed}.nii.gz"));
        let s = seed.to_string();
        ok(&[
            "mask",
            "--kind",
            kind,
            "--size",
            "64",
            "--acceleration",
            "4",
            "--calibration",
            "8",
            "--seed",
            &s,
            "-o",
            &out,
            "-q",
        ]);
        read_f32(Path::new(&out))
    };
    let acceleration = |m: &hounsfield_core::Volume<f32>| {
        m.data().len() as f64 / m.data().iter().filter(|&&v| v > 0.0).count() as f64
    };
    // Poisson disc: the sampler places points until the requested density is reached; 25 %
    // allows for the fixed share of the fully sampled 8 × 8 centre on a 64² grid.
    let r = acceleration(&mask("poisson", 1));
    assert!((r / 4.0 - 1.0).abs() < 0.25, "poisson: acceleration {r:.2}");
    for kind in ["random-lines", "equispaced"] {
        let m = mask(kind, 1);
        // Whole ky lines (rows along x), the 8 central ones sampled.
        for y in 0..64 {
            let row = &m.data()[y * 64..(y + 1) * 64];
            assert!(row.iter().all(|&v| v == row[0]), "{kind}: line {y} partly sampled");
            if (28..36).contains(&y) {
                assert!(row[0] > 0.0, "{kind}: centre line {y} not sampled");
            }
        }
    }
    // Equispaced R = 4: 16 lattice lines plus the centre lines off the lattice (6 of 8).
    let r = acceleration(&mask("equispaced", 1));
    assert!(r > 2.5 && r <= 4.0, "equispaced: acceleration {r:.2}");
    // fastMRI's random lines hit the acceleration in expectation: 56 outer lines, each drawn
    // with p = 8/56, 8 ± 2.6 per mask. Over 8 seeds the mean count is 8 ± 0.93; 20 % of the
    // 16 expected lines (3.2) is over 3 standard deviations.
    let lines: f64 = (0..8).map(|s| 64.0 / acceleration(&mask("random-lines", s))).sum::<f64>() / 8.0;
    assert!((lines / 16.0 - 1.0).abs() < 0.2, "random lines: mean {lines:.2} sampled lines of 64");
    ok(&["mask", "--kind", "golden-angle", "--size", "64", "--spokes", "21", "-o", &p("traj.cfl"), "-q"]);
    assert!(dir.path().join("traj.hdr").exists());
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&["simulate", "mri", "--size", "32", "--coils", "2", "--calibration", "8", "-o", &p("k.cfl"), "-q"]);
    ok(&["simulate", "mri", "--size", "48", "--coils", "2", "--calibration", "8", "-o", &p("big.cfl"), "-q"]);
    let (k, x) = (p("k.cfl"), p("x.nii.gz"));
    let recon = |extra: &[&str]| {
        let mut a = vec!["recon", "mri", "--kspace", k.as_str(), "-o", x.as_str(), "-q"];
        a.extend_from_slice(extra);
        run(&a)
    };
    // Maps of another size than the k-space.
    assert_bad_input(&recon(&["--sens", &p("big_maps.cfl"), "--method", "sense"]), &["32"]);
    // A mask of another size.
    assert_bad_input(&recon(&["--mask", &p("big_mask.cfl"), "--method", "zero-filled"]), &["mask"]);
    // A .cfl shorter than its .hdr says.
    let cfl = dir.path().join("k.cfl");
    let bytes = std::fs::read(&cfl).unwrap();
    std::fs::write(&cfl, &bytes[..bytes.len() / 2]).unwrap();
    assert_bad_input(&recon(&["--method", "zero-filled"]), &["k.cfl"]);
    // Non-finite data.
    let mut nan = bytes.clone();
    nan[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&cfl, &nan).unwrap();
    assert_bad_input(&recon(&["--method", "zero-filled"]), &["finite"]);
    assert!(!dir.path().join("x.nii.gz").exists(), "no partial output");
    // Invalid parameters.
    assert_bad_input(
        &run(&["mask", "--size", "64", "--acceleration", "0.5", "-o", &p("m.nii.gz"), "-q"]),
        &["acceleration"],
    );
}

#[test]
fn recon_mri_reads_fastmri_h5() {
    // h5py writes a fastMRI-layout file (3 slices × 4 coils × 24 rows × 20 columns of random
    // complex64, an ISMRMRD header with a 48 × 30 mm encoded FOV on 24 × 20) and numpy's
    // centred orthonormal inverse FFT root-sum-of-squares of slices 1 and 2.
    let dir = tempfile::tempdir().unwrap();
    let code = r#"
import sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(11)
k = (rng.standard_normal((3, 4, 24, 20)) + 1j * rng.standard_normal((3, 4, 24, 20))).astype(np.complex64)
hdr = ("<ismrmrdHeader><encoding><encodedSpace><matrixSize><x>24</x><y>20</y><z>1</z></matrixSize>"
       "<fieldOfView_mm><x>48</x><y>30</y><z>3.5</z></fieldOfView_mm></encodedSpace></encoding></ismrmrdHeader>")
with h5py.File(f"{d}/k.h5", "w") as f:
    f.create_dataset("kspace", data=k, chunks=(1, 4, 24, 20), compression="gzip")
    f["ismrmrd_header"] = hdr
    f.attrs["acquisition"] = "CORPD_FBK"
ax = (-2, -1)
img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k.astype(np.complex128), axes=ax), axes=ax, norm="ortho"), axes=ax)
rss = np.sqrt((np.abs(img) ** 2).sum(axis=1))
for s in (1, 2):
    rss[s].astype("<f4").tofile(f"{d}/rss{s}.bin")
"#;
    let out = Command::new(crate::common::python()).arg("-c").arg(code).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let k = p("k.h5");
    for (slice, args) in [(1, vec![]), (2, vec!["--slice", "2"])] {
        let o = p(&format!("x{slice}.nii.gz"));
        let mut cmd =
            vec!["recon", "mri", "--kspace", k.as_str(), "--method", "zero-filled", "-o", o.as_str()];
        cmd.extend(args);
        ok(&cmd);
        let img = read_f32(Path::new(&o));
        assert_eq!(img.dims(), [20, 24, 1]);
        // Columns 30/20 mm, rows 48/24 mm, the encoded z FOV as thickness.
        assert_eq!(img.geometry().spacing, [1.5, 2.0, 3.5]);
        let want: Vec<f32> = std::fs::read(p(&format!("rss{slice}.bin")))
            .unwrap()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        // 1e-4 of the peak: ours is an f32 FFT (rounding grows with log2 n, ~1e-6 here), numpy's
        // is f64 rounded to f32 once; the margin covers both, and any wrong shift, scaling or
        // axis order would be off by O(1).
        let peak = want.iter().cloned().fold(0.0f32, f32::max);
        for (i, (a, b)) in img.data().iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-4 * peak, "slice {slice} pixel {i}: {a} vs numpy {b}");
        }
    }
    let bad = run(&["recon", "mri", "--kspace", &k, "--slice", "3", "-o", &p("y.nii.gz")]);
    assert_bad_input(&bad, &["slice 3", "k.h5"]);
}
