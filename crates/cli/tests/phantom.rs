//! `hounsfield phantom`: files written, metadata, determinism, and bad input (exit 2, one line).

use crate::common::{assert_bad_input, run};

fn info_json(path: &std::path::Path) -> serde_json::Value {
    let out = run(&["info", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn shepp_logan_2d_and_3d() {
    let dir = tempfile::tempdir().unwrap();
    let p2 = dir.path().join("sl.nii.gz");
    let out = run(&[
        "-q",
        "phantom",
        "shepp-logan",
        "--size",
        "64",
        "--supersample",
        "2",
        "-o",
        p2.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = info_json(&p2);
    assert_eq!(j["dims"], serde_json::json!([64, 64, 1]));
    assert_eq!(j["max"], 1.0);
    let p3 = dir.path().join("sl3.nii.gz");
    let out = run(&[
        "-q",
        "phantom",
        "shepp-logan",
        "--size",
        "32",
        "--depth",
        "16",
        "--variant",
        "hu",
        "-o",
        p3.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = info_json(&p3);
    assert_eq!(j["dims"], serde_json::json!([32, 32, 16]));
    assert_eq!(j["min"], -1000.0);
}

#[test]
fn torso_and_head_write_image_labels_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (img, lab, meta) =
        (dir.path().join("ct.nii.gz"), dir.path().join("lab.nii.gz"), dir.path().join("m.json"));
    let out = run(&[
        "phantom",
        "torso",
        "--size",
        "32",
        "--seed",
        "7",
        "--nodules",
        "2",
        "--deform-mm",
        "4",
        "-o",
        img.to_str().unwrap(),
        "--labels",
        lab.to_str().unwrap(),
        "--metadata",
        meta.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nodule 100"));
    let j = info_json(&img);
    assert_eq!(j["dims"], serde_json::json!([32, 32, 32]));
    assert_eq!(j["spacing"], serde_json::json!([12.5, 12.5, 12.5]));
    assert_eq!(info_json(&lab)["dtype"], "uint16");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    assert_eq!(m["nodules"].as_array().unwrap().len(), 2);
    assert_eq!(m["deform_mm"], 4.0);
    let t2 = dir.path().join("t2.nii.gz");
    let out = run(&[
        "-q",
        "phantom",
        "head",
        "--size",
        "24",
        "--modality",
        "t2",
        "--lesion",
        "-o",
        t2.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(info_json(&t2)["max"].as_f64().unwrap() <= 1.0);
}

#[test]
fn datasets_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifests = Vec::new();
    for name in ["a", "b"] {
        let d = dir.path().join(name);
        let out = run(&[
            "-q",
            "phantom",
            "dataset",
            "--task",
            "diagnosis",
            "--count",
            "2",
            "--size",
            "16",
            "--seed",
            "3",
            "-o",
            d.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(d.join("case_001/nodules.csv").exists());
        manifests.push(std::fs::read(d.join("manifest.json")).unwrap());
        let img = std::fs::read(d.join("case_000/image.nii.gz")).unwrap();
        manifests.push(img);
    }
    assert_eq!(manifests[0], manifests[2]);
    assert_eq!(manifests[1], manifests[3], "identical volumes for a seed");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x.nii.gz");
    let o = o.to_str().unwrap();
    let out = run(&["phantom", "torso", "--size", "0", "-o", o]);
    assert_bad_input(&out, &["--size 0"]);
    let out = run(&["phantom", "head", "--size", "100000", "-o", o]);
    assert_bad_input(&out, &["--size 100000", "memory cap"]);
    let out = run(&["phantom", "shepp-logan", "--size", "16", "--supersample", "0", "-o", o]);
    assert_bad_input(&out, &["supersample"]);
    let out = run(&["phantom", "torso", "--size", "16", "--nodules", "500", "-o", o]);
    assert_bad_input(&out, &["nodules"]);
    let out = run(&["phantom", "dataset", "--task", "segmentation", "--count", "0", "--size", "8", "-o", o]);
    assert_bad_input(&out, &["--count 0"]);
    assert!(!std::path::Path::new(o).exists());
    // Unknown values are usage errors (clap).
    assert_eq!(run(&["phantom", "torso", "--modality", "xray", "-o", o]).status.code(), Some(2));
    assert_eq!(
        run(&["phantom", "dataset", "--task", "painting", "--count", "1", "-o", o]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["phantom", "torso", "--size", "-3", "-o", o]).status.code(), Some(2));
}
