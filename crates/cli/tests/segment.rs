//! `hounsfield segment` and `hounsfield eval segmentation` end to end on phantoms.

use std::path::Path;

use crate::common::{assert_bad_input, run};

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn eval_json(pred: &Path, reference: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["-q", "eval", "segmentation", "--pred", s(pred), "--ref", s(reference), "--json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    ok(&out);
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn ct_lungs_threshold_and_evaluation() {
    let d = tempfile::tempdir().unwrap();
    let (ct, truth) = (d.path().join("ct.nii.gz"), d.path().join("truth.nii.gz"));
    ok(&run(&["-q", "phantom", "torso", "--size", "48", "-o", s(&ct), "--labels", s(&truth)]));
    let seg = d.path().join("seg.nii.gz");
    let csv = d.path().join("stats.csv");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&ct),
        "--method",
        "ct-lungs",
        "-o",
        s(&seg),
        "--stats",
        s(&csv),
    ]));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("label,voxels,volume_ml,mean,sd,min,max\n"), "{text}");
    assert_eq!(text.lines().count(), 3, "body and lungs: {text}");
    // The lungs' mean HU is that of aerated lung.
    let lung_mean: f64 = text.lines().nth(2).unwrap().split(',').nth(3).unwrap().parse().unwrap();
    assert!((-950.0..-600.0).contains(&lung_mean), "lung mean {lung_mean} HU");

    // The lung mask against the phantom's lungs (labels 4–6 → 1).
    let lungs_truth = d.path().join("lt.nii.gz");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&truth),
        "--method",
        "threshold",
        "--lower",
        "4",
        "--upper",
        "6",
        "-o",
        s(&lungs_truth),
    ]));
    let lungs = d.path().join("lungs.nii.gz");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&seg),
        "--method",
        "threshold",
        "--lower",
        "2",
        "--upper",
        "2",
        "-o",
        s(&lungs),
    ]));
    let j = eval_json(&lungs, &lungs_truth, &["--nsd-tolerance", "8.4"]);
    let m = &j["labels"]["1"];
    // 0.9 at 8.3 mm voxels (48³ over 400 mm): partial volume dominates the border.
    assert!(m["dice"].as_f64().unwrap() > 0.9, "{m}");
    assert!(m["hd95"].as_f64().unwrap() < 20.0, "{m}");
    for key in ["iou", "hd", "assd", "nsd", "precision", "recall", "volume_pred_ml"] {
        assert!(m[key].is_number(), "{key} in {m}");
    }
    // Identical maps: perfect scores.
    let j = eval_json(&truth, &truth, &["--labels", "4,9"]);
    assert_eq!(j["labels"].as_object().unwrap().len(), 2);
    assert_eq!(j["labels"]["9"]["dice"], 1.0);
    assert_eq!(j["labels"]["9"]["hd95"], 0.0);

    // Threshold preset with JSON statistics.
    let out = run(&[
        "-q",
        "segment",
        "--input",
        s(&ct),
        "--method",
        "threshold",
        "--preset",
        "bone",
        "-o",
        s(&seg),
        "--json",
    ]);
    ok(&out);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j["labels"][0]["mean"].as_f64().unwrap() >= 200.0, "{j}");
}

#[test]
fn brain_tissue_with_a_mask_and_from_the_atlas() {
    let d = tempfile::tempdir().unwrap();
    let (t1, truth) = (d.path().join("t1.nii.gz"), d.path().join("truth.nii.gz"));
    ok(&run(&["-q", "phantom", "head", "--size", "48", "--seed", "4", "-o", s(&t1), "--labels", s(&truth)]));
    let mask = d.path().join("mask.nii.gz");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&truth),
        "--method",
        "threshold",
        "--lower",
        "22",
        "--upper",
        "25",
        "-o",
        s(&mask),
    ]));
    let wm_truth = d.path().join("wm_truth.nii.gz");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&truth),
        "--method",
        "threshold",
        "--lower",
        "24",
        "--upper",
        "24",
        "-o",
        s(&wm_truth),
    ]));
    for with_mask in [true, false] {
        let seg = d.path().join("brain.nii.gz");
        let mut args = vec!["-q", "segment", "--input", s(&t1), "--method", "brain", "-o", s(&seg)];
        if with_mask {
            args.extend_from_slice(&["--mask", s(&mask)]);
        }
        ok(&run(&args));
        let wm = d.path().join("wm.nii.gz");
        ok(&run(&[
            "-q",
            "segment",
            "--input",
            s(&seg),
            "--method",
            "threshold",
            "--lower",
            "3",
            "--upper",
            "3",
            "-o",
            s(&wm),
        ]));
        let dice = eval_json(&wm, &wm_truth, &[])["labels"]["1"]["dice"].as_f64().unwrap();
        // White matter at 4.6 mm voxels: 0.9 with the true mask (measured 0.93), 0.8 with the
        // atlas's (an affine fit of another head; skull voxels inside it become CSF).
        let bound = if with_mask { 0.9 } else { 0.8 };
        assert!(dice > bound, "WM Dice {dice} (mask given: {with_mask})");
    }
}

#[test]
fn bad_segmentation_input_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.nii.gz"), d.path().join("b.nii.gz"));
    ok(&run(&[
        "-q",
        "phantom",
        "head",
        "--size",
        "24",
        "-o",
        s(&d.path().join("i.nii.gz")),
        "--labels",
        s(&a),
    ]));
    ok(&run(&[
        "-q",
        "phantom",
        "head",
        "--size",
        "20",
        "-o",
        s(&d.path().join("j.nii.gz")),
        "--labels",
        s(&b),
    ]));
    let out = run(&["eval", "segmentation", "--pred", s(&b), "--ref", s(&a)]);
    assert_bad_input(&out, &["different grids", "--resample"]);
    ok(&run(&["-q", "eval", "segmentation", "--pred", s(&b), "--ref", s(&a), "--resample"]));
    let one = d.path().join("one.nii.gz");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&a),
        "--method",
        "threshold",
        "--lower",
        "23",
        "--upper",
        "23",
        "-o",
        s(&one),
    ]));
    let out = run(&["eval", "segmentation", "--pred", s(&a), "--ref", s(&one)]);
    assert_bad_input(&out, &["label", "missing from the reference"]);
    let out =
        run(&["segment", "--input", s(&a), "--method", "region-grow", "--seed", "99,0,0", "-o", s(&one)]);
    assert_bad_input(&out, &["outside the image"]);
    let out = run(&["segment", "--input", s(&a), "--method", "threshold", "-o", s(&one)]);
    assert_bad_input(&out, &["--preset"]);
    let out = run(&["segment", "--input", s(&a), "--method", "atlas", "-o", s(&one)]);
    assert_bad_input(&out, &["--atlas"]);
    let out = run(&["segment", "--input", s(&a), "--method", "watershed", "-o", s(&one)]);
    assert_bad_input(&out, &["--markers"]);
    // Watershed of the head's label image from one marker per tissue fills every voxel.
    let img = d.path().join("i.nii.gz");
    let flooded = d.path().join("w.nii.gz");
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&img),
        "--method",
        "watershed",
        "--markers",
        s(&one),
        "--gradient-sigma",
        "2",
        "-o",
        s(&flooded),
    ]));
    let j = eval_json(&flooded, &flooded, &[]);
    assert_eq!(j["labels"].as_object().unwrap().len(), 1, "one marker label floods everything: {j}");
}

#[test]
fn dicom_series_in_dicom_seg_and_meshes_out() {
    let d = tempfile::tempdir().unwrap();
    let ct = d.path().join("ct.nii.gz");
    ok(&run(&["-q", "phantom", "torso", "--size", "40", "-o", s(&ct)]));
    let series = d.path().join("series");
    ok(&run(&["-q", "convert", s(&ct), s(&series), "--modality", "CT"]));
    let (seg, segdcm, meshes) =
        (d.path().join("seg.nii.gz"), d.path().join("seg.dcm"), d.path().join("meshes"));
    ok(&run(&[
        "-q",
        "segment",
        "--input",
        s(&series),
        "--method",
        "ct-lungs",
        "-o",
        s(&seg),
        "--dicom-seg",
        s(&segdcm),
        "--mesh",
        s(&meshes),
    ]));
    let out = std::process::Command::new(crate::common::python())
        .arg("-c")
        .arg(
            r#"
import sys, json, glob, pydicom
seg = pydicom.dcmread(sys.argv[1])
src = pydicom.dcmread(sorted(glob.glob(sys.argv[2] + '/*'))[0])
print(json.dumps({
    "sop_class": seg.SOPClassUID,
    "segments": [s.SegmentLabel for s in seg.SegmentSequence],
    "codes": [s.SegmentedPropertyTypeCodeSequence[0].CodeValue for s in seg.SegmentSequence],
    "ref_series": seg.ReferencedSeriesSequence[0].SeriesInstanceUID,
    "src_series": src.SeriesInstanceUID,
    "same_study": seg.StudyInstanceUID == src.StudyInstanceUID,
    "frames": int(seg.NumberOfFrames),
}))
"#,
        )
        .args([s(&segdcm), s(&series)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["sop_class"], "1.2.840.10008.5.1.4.1.1.66.4");
    assert_eq!(j["segments"], serde_json::json!(["body", "lung"]));
    assert_eq!(j["codes"][1], "39607008", "SNOMED CT Lung");
    assert_eq!(j["ref_series"], j["src_series"]);
    assert_eq!(j["same_study"], true);
    assert!(j["frames"].as_u64().unwrap() > 10);
    for name in ["label_1_body.stl", "label_2_lung.stl"] {
        let len = std::fs::metadata(meshes.join(name)).unwrap().len();
        // Binary STL: 84-byte header + 50 bytes per triangle.
        assert!(len > 84 + 50 * 100 && (len - 84) % 50 == 0, "{name}: {len} bytes");
    }
}

#[test]
fn shipped_torso_model_segments_a_held_out_phantom() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/torso-organs");
    let d = tempfile::tempdir().unwrap();
    let (ct, truth, pred, pred_builtin) = (
        d.path().join("ct.nii.gz"),
        d.path().join("t.nii.gz"),
        d.path().join("p.nii.gz"),
        d.path().join("b.nii.gz"),
    );
    // Seed 1001 was never in the training set (scripts/train_models.sh).
    ok(&run(&[
        "-q",
        "phantom",
        "torso",
        "--size",
        "96",
        "--seed",
        "1001",
        "-o",
        s(&ct),
        "--labels",
        s(&truth),
    ]));
    ok(&run(&["-q", "segment", "--input", s(&ct), "--method", "model", "--model", model, "-o", s(&pred)]));
    let j = eval_json(&pred, &truth, &["--labels", "4,7,8,9,10,11,12,14"]);
    // Measured on this case (models/README.md): lung 0.979, heart 0.939, aorta 0.629, liver
    // 0.928, spleen 0.861, kidneys 0.691 / 0.915, vertebral bodies 0.889. Each bound is
    // 0.05 below, room for float differences between builds, while a broken model, label
    // mapping, resampling or post-processing fails.
    for (l, measured) in [
        ("4", 0.979),
        ("7", 0.939),
        ("8", 0.629),
        ("9", 0.928),
        ("10", 0.861),
        ("11", 0.691),
        ("12", 0.915),
        ("14", 0.889),
    ] {
        let dice = j["labels"][l]["dice"].as_f64().unwrap();
        assert!(dice > measured - 0.05, "label {l}: Dice {dice}, measured {measured}");
    }
    // Without --model the binary's embedded copy runs: the same labels, voxel for voxel.
    ok(&run(&["-q", "segment", "--input", s(&ct), "--method", "model", "-o", s(&pred_builtin)]));
    let same = eval_json(&pred_builtin, &pred, &["--labels", "4,7,8,9,10,11,12,14"]);
    for l in ["4", "9", "11"] {
        assert_eq!(same["labels"][l]["dice"].as_f64().unwrap(), 1.0, "label {l}");
    }
}

#[test]
fn a_model_refuses_an_image_of_another_modality() {
    let d = tempfile::tempdir().unwrap();
    let (mr, pred) = (d.path().join("mr.nii.gz"), d.path().join("p.nii.gz"));
    ok(&run(&["-q", "phantom", "head", "--size", "24", "--modality", "t1", "-o", s(&mr)]));
    // A T1 head (no value below 0) into the CT organ model: refused from its intensities.
    let o = run(&["segment", "--input", s(&mr), "--method", "model", "-o", s(&pred)]);
    assert_bad_input(&o, &["takes CT", "does not look like CT"]);
    // Declared MR: refused by name, whatever the values.
    let o = run(&["segment", "--input", s(&mr), "--method", "model", "--modality", "MR", "-o", s(&pred)]);
    assert_bad_input(&o, &["takes CT", "this one is MR"]);
    assert!(!pred.exists());
}
