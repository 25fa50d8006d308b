//! Dataset generation: files, manifest, and each task's ground-truth conventions.

use std::path::Path;

use hounsfield_core::{AnyVolume, DisplacementField, LabelVolume, Volume};
use hounsfield_phantom::dataset::{
    generate, AnatomyChoice, DatasetFile, DatasetOptions, SegmentationContrast, Task,
};
use hounsfield_phantom::deform::warp_labels;
use hounsfield_phantom::PhantomError;

use crate::determinism::{run_dataset, Written};

fn volume<'a>(
    files: &'a std::collections::BTreeMap<std::path::PathBuf, Written>,
    rel: &str,
) -> &'a AnyVolume {
    match &files[Path::new(rel)] {
        Written::Volume(v) => v,
        Written::Text(_) => panic!("{rel} is text"),
    }
}

fn text<'a>(files: &'a std::collections::BTreeMap<std::path::PathBuf, Written>, rel: &str) -> &'a str {
    match &files[Path::new(rel)] {
        Written::Text(t) => t,
        Written::Volume(_) => panic!("{rel} is a volume"),
    }
}

fn manifest(files: &std::collections::BTreeMap<std::path::PathBuf, Written>) -> serde_json::Value {
    serde_json::from_str(text(files, "manifest.json")).unwrap()
}

/// Every file the manifest names was written, and nothing else besides the manifest.
fn check_manifest_files(files: &std::collections::BTreeMap<std::path::PathBuf, Written>, roles: &[&str]) {
    let m = manifest(files);
    let mut named = vec!["manifest.json".to_string()];
    for case in m["cases"].as_array().unwrap() {
        let f = case["files"].as_object().unwrap();
        let mut have: Vec<&str> = f.keys().map(|k| k.as_str()).collect();
        have.sort();
        let mut want = roles.to_vec();
        want.sort();
        assert_eq!(have, want);
        named.extend(f.values().map(|v| v.as_str().unwrap().to_string()));
    }
    named.sort();
    let mut written: Vec<String> = files.keys().map(|p| p.to_string_lossy().into_owned()).collect();
    written.sort();
    assert_eq!(named, written);
}

#[test]
fn segmentation_cases_alternate_anatomies() {
    let opts = DatasetOptions { task: Task::Segmentation, count: 3, size: 20, seed: 1, ..Default::default() };
    let files = run_dataset(&opts);
    check_manifest_files(&files, &["image", "labels"]);
    let m = manifest(&files);
    assert_eq!(m["task"], "segmentation");
    assert_eq!(m["seed"], 1);
    assert_eq!(m["cases"][0]["anatomy"], "torso");
    assert_eq!(m["cases"][1]["anatomy"], "head");
    assert_eq!(m["cases"][0]["files"]["image"], "case_000/image.nii.gz");
    assert_eq!(m["labels"]["9"], "liver");
    let img = volume(&files, "case_000/image.nii.gz");
    let labels = volume(&files, "case_000/labels.nii.gz");
    assert_eq!(img.dims(), [20, 20, 20]);
    assert_eq!(img.type_name(), "float32");
    assert_eq!(labels.type_name(), "uint16");
    assert_eq!(img.geometry(), labels.geometry());
    // Torso CT is in HU: air near −1000.
    assert!(img.min_max_mean().0 < -900.0);
    // Random contrast: intensities in [0, 1] after the gamma normalisation (plus noise).
    let r = run_dataset(&DatasetOptions { contrast: SegmentationContrast::Random, count: 1, ..opts });
    let (lo, hi, _) = volume(&r, "case_000/image.nii.gz").min_max_mean();
    assert!(lo > -0.5 && hi < 1.5, "{lo} {hi}");
}

#[test]
fn synthesis_pairs_are_aligned() {
    let opts = DatasetOptions { task: Task::Synthesis, count: 2, size: 20, seed: 2, ..Default::default() };
    let files = run_dataset(&opts);
    check_manifest_files(&files, &["t1", "ct", "labels"]);
    for case in ["case_000", "case_001"] {
        let t1 = volume(&files, &format!("{case}/t1.nii.gz"));
        let ct = volume(&files, &format!("{case}/ct.nii.gz"));
        assert_eq!(t1.geometry(), ct.geometry());
        assert!(ct.min_max_mean().0 < -900.0 && t1.min_max_mean().1 < 2.0);
    }
}

#[test]
fn registration_ground_truth_maps_fixed_to_moving() {
    let opts = DatasetOptions {
        task: Task::Registration,
        count: 1,
        size: 40,
        seed: 3,
        anatomy: AnatomyChoice::Head,
        registration_deform_mm: 10.0,
        ..Default::default()
    };
    let files = run_dataset(&opts);
    check_manifest_files(
        &files,
        &["fixed", "moving", "fixed_labels", "moving_labels", "field_x", "field_y", "field_z", "landmarks"],
    );
    let labels = |rel: &str| volume(&files, rel).to_labels().unwrap();
    let fixed = labels("case_000/fixed_labels.nii.gz");
    let moving = labels("case_000/moving_labels.nii.gz");
    let comp = |rel: &str| match volume(&files, rel) {
        AnyVolume::F32(v) => v.clone(),
        other => panic!("field is {}", other.type_name()),
    };
    let field: DisplacementField = DisplacementField::from_components(&[
        comp("case_000/field_x.nii.gz"),
        comp("case_000/field_y.nii.gz"),
        comp("case_000/field_z.nii.gz"),
    ])
    .unwrap();
    // moving(x + u(x)) = fixed(x): resampling the moving labels through u gives the fixed ones.
    let back = warp_labels(&moving, &field, 0).unwrap();
    // With nearest-neighbour resampling on 5.5 mm voxels every thin layer (scalp, skull,
    // cortex) loses up to half a voxel, so agreement is far from 1 even with the right field;
    // what the convention fixes is that the field beats no warp and the opposite warp.
    let agree = |a: &LabelVolume| {
        let body = a.data().iter().zip(fixed.data()).filter(|(x, y)| **x != 0 || **y != 0);
        let (n, same) = body.fold((0, 0), |(n, s), (x, y)| (n + 1, s + usize::from(x == y)));
        same as f64 / n as f64
    };
    let mut negated = field.clone();
    negated.data_mut().iter_mut().for_each(|v| *v = v.map(|c| -c));
    let wrong = warp_labels(&moving, &negated, 0).unwrap();
    let (with, without, opposite) = (agree(&back), agree(&moving), agree(&wrong));
    assert!(
        with > without + 0.05 && with > opposite + 0.05,
        "field {with}, none {without}, opposite {opposite}"
    );
    // Landmarks: `x + u(x)` of random body points, so the moving label there is the fixed one
    // (up to boundary voxels).
    let csv = text(&files, "case_000/landmarks.csv");
    let mut rows = 0;
    let mut same = 0;
    let mv = moving.as_volume();
    let w2i = mv.geometry().world_to_index_affine().unwrap();
    for line in csv.lines().skip(1) {
        let f: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        let idx = w2i.apply([f[4], f[5], f[6]]).map(|c| c.round() as usize);
        rows += 1;
        same += usize::from(mv.get(idx[0], idx[1], idx[2]).copied() == Some(f[7] as u16));
    }
    assert_eq!(rows, 20);
    assert!(same >= 12, "{same} of {rows} landmarks keep their label");
    let m = manifest(&files);
    assert_eq!(m["cases"][0]["metadata"]["landmarks"].as_array().unwrap().len(), 20);
}

#[test]
fn diagnosis_cases_list_their_nodules() {
    let opts = DatasetOptions { task: Task::Diagnosis, count: 2, size: 48, seed: 4, ..Default::default() };
    let files = run_dataset(&opts);
    check_manifest_files(&files, &["image", "labels", "nodules"]);
    let m = manifest(&files);
    for (c, case) in m["cases"].as_array().unwrap().iter().enumerate() {
        assert_eq!(case["anatomy"], "torso");
        let nodules = case["metadata"]["phantom"]["nodules"].as_array().unwrap();
        assert!((1..=4).contains(&nodules.len()));
        let csv = text(&files, &format!("case_{c:03}/nodules.csv"));
        assert_eq!(csv.lines().count(), nodules.len() + 1);
        assert!(csv.starts_with("label,centre_x_mm,centre_y_mm,centre_z_mm,diameter_mm,class,shape,lung\n"));
        let labels = volume(&files, &format!("case_{c:03}/labels.nii.gz")).to_labels().unwrap();
        let present = labels.labels();
        let malignant = nodules.iter().any(|n| n["class"] == "malignant");
        assert_eq!(case["metadata"]["malignant"], malignant);
        for n in nodules {
            // Nodules larger than two voxels (8.3 mm) show up in the label map.
            if n["diameter_mm"].as_f64().unwrap() > 17.0 {
                assert!(present.contains(&(n["label"].as_u64().unwrap() as u16)), "{n}");
            }
        }
    }
}

#[test]
fn bad_options_are_errors_and_writer_errors_propagate() {
    let nothing = |_: &Path, _: DatasetFile<'_>| -> Result<(), std::io::Error> { Ok(()) };
    assert!(matches!(
        generate(Task::Segmentation, 0, 16, 0, nothing),
        Err(PhantomError::InvalidParameter { name: "count", .. })
    ));
    assert!(generate(Task::Segmentation, 1, 0, 0, nothing).is_err());
    assert!(generate(Task::Segmentation, 1, 1 << 22, 0, nothing).is_err());
    let failing = |p: &Path, _: DatasetFile<'_>| -> Result<(), std::io::Error> {
        Err(std::io::Error::other(format!("disk full at {}", p.display())))
    };
    let e = generate(Task::Segmentation, 1, 8, 0, failing).unwrap_err();
    assert!(e.to_string().contains("case_000/image.nii.gz"), "{e}");
    let _ = Volume::<f32>::zeros([1, 1, 1], Default::default());
}
