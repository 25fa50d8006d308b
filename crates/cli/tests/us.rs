//! `simulate us`, `recon us`, `eval ultrasound`: channel data and its probe file, a B-mode
//! image where the phantom's point targets are, and clear errors for probes that do not fit.

use std::path::Path;

use crate::common::{assert_bad_input, run};

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn point_phantom_to_bmode_and_resolution() {
    let d = tempfile::tempdir().unwrap();
    let (rf, bmode) = (d.path().join("rf.nii.gz"), d.path().join("b.nii.gz"));
    // Points only, one plane wave, 1400 samples (about 52 mm of depth).
    ok(&run(&[
        "-q",
        "simulate",
        "us",
        "--phantom",
        "points",
        "--angles",
        "1",
        "--samples",
        "1400",
        "--no-noise",
        "-o",
        s(&rf),
    ]));
    let probe = d.path().join("rf.probe.toml");
    let text = std::fs::read_to_string(&probe).unwrap();
    assert!(text.contains("angles_deg = [0.0]") && text.contains("elements = 128"), "{text}");
    let j: serde_json::Value = serde_json::from_str(&ok(&run(&[
        "-q",
        "recon",
        "us",
        "--rf",
        s(&rf),
        "--x-mm",
        "-12,12",
        "--z-mm",
        "5,45",
        "--pixel-mm",
        "0.05",
        "--json",
        "-o",
        s(&bmode),
    ])))
    .unwrap();
    assert_eq!(j["pixels"], serde_json::json!([481, 801]));
    // The targets at (0, 20) and (−10, 25): peaks there, widths near the model's prediction
    // (Hann, F 1.5: lateral 2.0·λ·F = 0.89 mm, axial 0.24 mm; the crate's tests hold them to
    // 10 %, here a broken geometry or scale is what must fail).
    let e: serde_json::Value = serde_json::from_str(&ok(&run(&[
        "eval",
        "ultrasound",
        "--image",
        s(&bmode),
        "--point",
        "0,20",
        "--point",
        "-10,25",
        "--json",
    ])))
    .unwrap();
    for (p, want) in e["points"].as_array().unwrap().iter().zip([[0.0, 20.0], [-10.0, 25.0]]) {
        let peak: Vec<f64> = serde_json::from_value(p["peak_mm"].clone()).unwrap();
        assert!((peak[0] - want[0]).abs() <= 0.05 && (peak[1] - want[1]).abs() <= 0.05, "{p}");
        let lat = p["lateral_fwhm_mm"].as_f64().unwrap();
        let ax = p["axial_fwhm_mm"].as_f64().unwrap();
        assert!((0.7..1.1).contains(&lat) && (0.18..0.3).contains(&ax), "{p}");
    }
}

#[test]
fn despeckle_keeps_the_grid_and_smooths() {
    let d = tempfile::tempdir().unwrap();
    let (rf, b, o) = (d.path().join("rf.nii.gz"), d.path().join("b.nii.gz"), d.path().join("o.nii.gz"));
    ok(&run(&[
        "-q",
        "simulate",
        "us",
        "--angles",
        "1",
        "--density",
        "10",
        "--samples",
        "1200",
        "-o",
        s(&rf),
    ]));
    ok(&run(&["-q", "recon", "us", "--rf", s(&rf), "--z-mm", "20,40", "--pixel-mm", "0.2", "-o", s(&b)]));
    ok(&run(&["-q", "despeckle", "--input", s(&b), "--iterations", "20", "-o", s(&o)]));
    let info = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&ok(&run(&["info", s(p), "--json"]))).unwrap()
    };
    let (ib, io) = (info(&b), info(&o));
    assert_eq!(ib["dims"], io["dims"]);
    assert_eq!(ib["spacing"], io["spacing"]);
    assert_eq!(ib["origin"], io["origin"]);
    assert_bad_input(&run(&["despeckle", "--input", s(&b), "--lambda", "3", "-o", s(&o)]), &["lambda"]);
}

#[test]
fn probes_that_do_not_fit_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let rf = d.path().join("rf.nii.gz");
    ok(&run(&[
        "-q",
        "simulate",
        "us",
        "--phantom",
        "points",
        "--angles",
        "3",
        "--samples",
        "900",
        "-o",
        s(&rf),
    ]));
    let out = d.path().join("b.nii.gz");
    // A 64-element probe for 128-channel data.
    let p64 = d.path().join("p64.toml");
    let text = std::fs::read_to_string(d.path().join("rf.probe.toml")).unwrap();
    std::fs::write(&p64, text.replace("elements = 128", "elements = 64")).unwrap();
    let o = run(&["recon", "us", "--rf", s(&rf), "--probe", s(&p64), "-o", s(&out)]);
    assert_bad_input(&o, &["64 elements", "128 channels"]);
    // Sampling below the Nyquist rate of the centre frequency; a negative speed of sound.
    let slow = d.path().join("slow.toml");
    std::fs::write(
        &slow,
        text.replace("sampling_frequency_hz = 20832000.0", "sampling_frequency_hz = 8000000.0"),
    )
    .unwrap();
    assert_bad_input(
        &run(&["recon", "us", "--rf", s(&rf), "--probe", s(&slow), "-o", s(&out)]),
        &["Nyquist"],
    );
    let neg = d.path().join("neg.toml");
    std::fs::write(&neg, text.replace("speed_of_sound_m_s = 1540.0", "speed_of_sound_m_s = -1540.0"))
        .unwrap();
    assert_bad_input(
        &run(&["recon", "us", "--rf", s(&rf), "--probe", s(&neg), "-o", s(&out)]),
        &["speed_of_sound"],
    );
    // An image deeper than the 900 samples reach (about 33 mm).
    let o = run(&["recon", "us", "--rf", s(&rf), "--z-mm", "5,60", "-o", s(&out)]);
    assert_bad_input(&o, &["stop at about"]);
    assert!(!out.exists());
}
