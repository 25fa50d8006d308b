//! `simulate ct`, `project`, `recon ct` and `drr` end to end.

use crate::common::{assert_bad_input, run};

fn ok(args: &[&str]) {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn info(path: &std::path::Path) -> serde_json::Value {
    let o = run(&["info", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn simulate_project_reconstruct_and_radiograph() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "ct",
        "--phantom",
        "shepp-logan",
        "--size",
        "64",
        "--views",
        "90",
        "-o",
        &p("sino.nii.gz"),
        "-q",
    ]);
    assert!(dir.path().join("sino.toml").exists(), "geometry written beside the sinogram");
    ok(&[
        "recon",
        "ct",
        "--sinogram",
        &p("sino.nii.gz"),
        "--method",
        "fbp",
        "--filter",
        "hann",
        "--hu",
        "-o",
        &p("fbp.nii.gz"),
        "-q",
    ]);
    ok(&[
        "recon",
        "ct",
        "--sinogram",
        &p("sino.nii.gz"),
        "--method",
        "sirt",
        "--iterations",
        "5",
        "-o",
        &p("sirt.nii.gz"),
        "-q",
    ]);
    let f = info(&dir.path().join("fbp.nii.gz"));
    assert_eq!(f["dims"][2], 1);
    // The Shepp-Logan HU variant has a +1000 HU skull: the reconstruction must show it.
    assert!(f["max"].as_f64().unwrap() > 500.0, "{f}");

    // Project a volume with the minimal parallel-beam file, as the issue writes it.
    std::fs::write(
        dir.path().join("par.toml"),
        "kind = \"parallel\"\nviews = 60\narc_deg = 180\ndetector_count = 96\ndetector_spacing_mm = 1.0\n",
    )
    .unwrap();
    ok(&["phantom", "shepp-logan", "--size", "64", "-o", &p("sl.nii.gz"), "-q"]);
    ok(&["project", "--input", &p("sl.nii.gz"), "--geometry", &p("par.toml"), "-o", &p("proj.nii.gz"), "-q"]);
    assert_eq!(info(&dir.path().join("proj.nii.gz"))["dims"], serde_json::json!([96, 60, 1]));

    // A radiograph of a small torso in cone-beam geometry.
    ok(&[
        "phantom",
        "torso",
        "--size",
        "32",
        "--modality",
        "ct",
        "--seed",
        "1",
        "-o",
        &p("torso.nii.gz"),
        "-q",
    ]);
    std::fs::write(
        dir.path().join("cone.toml"),
        "kind = \"cone\"\nviews = 1\narc_deg = 360\ndetector_count = 64\ndetector_spacing_mm = 8.0\n\
         detector_rows = 64\ndetector_row_spacing_mm = 8.0\nsource_isocentre_mm = 1000.0\nsource_detector_mm = 1500.0\n",
    )
    .unwrap();
    ok(&["drr", &p("torso.nii.gz"), "--geometry", &p("cone.toml"), "-o", &p("xray.png"), "-q"]);
    assert_eq!(info(&dir.path().join("xray.png"))["dims"], serde_json::json!([64, 64, 1]));
}

#[test]
fn geometry_that_cannot_match_the_sinogram_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "ct",
        "--phantom",
        "shepp-logan",
        "--size",
        "32",
        "--views",
        "30",
        "-o",
        &p("s.nii.gz"),
        "-q",
    ]);
    std::fs::write(
        dir.path().join("wrong.toml"),
        "kind = \"parallel\"\nviews = 31\narc_deg = 180\ndetector_count = 7\ndetector_spacing_mm = 1.0\n",
    )
    .unwrap();
    let o = run(&[
        "recon",
        "ct",
        "--sinogram",
        &p("s.nii.gz"),
        "--geometry",
        &p("wrong.toml"),
        "-o",
        &p("r.nii.gz"),
    ]);
    assert_bad_input(&o, &["sinogram"]);
    assert!(!dir.path().join("r.nii.gz").exists());
    std::fs::write(
        dir.path().join("neg.toml"),
        "kind = \"fan\"\nviews = 30\narc_deg = 360\ndetector_count = 40\ndetector_spacing_mm = -1.0\n",
    )
    .unwrap();
    let o = run(&[
        "recon",
        "ct",
        "--sinogram",
        &p("s.nii.gz"),
        "--geometry",
        &p("neg.toml"),
        "-o",
        &p("r.nii.gz"),
    ]);
    assert_eq!(o.status.code(), Some(2));
}
