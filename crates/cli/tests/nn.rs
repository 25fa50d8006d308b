//! `train`, `infer`, `model info` end to end on a phantom dataset; bad models and inputs are
//! exit 2 with one line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{assert_bad_input, python, run};

fn ok(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
}

fn info_json(path: &Path) -> serde_json::Value {
    let out = run(&["info", "--json", path.to_str().unwrap()]);
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Trains a tiny 3-D U-Net on lungs (label 4) of a 3-case torso dataset; returns the folder.
fn trained(dir: &Path) -> PathBuf {
    let ds = dir.join("ds");
    ok(&run(&[
        "-q",
        "phantom",
        "dataset",
        "--task",
        "segmentation",
        "--count",
        "3",
        "--size",
        "32",
        "--anatomy",
        "torso",
        "--seed",
        "1",
        "-o",
        ds.to_str().unwrap(),
    ]));
    let cfg = dir.join("train.toml");
    std::fs::write(
        &cfg,
        r#"
task = "segmentation"
epochs = 1
steps_per_epoch = 2
batch_size = 1
patch_size = [16, 16, 16]
[model]
architecture = "unet"
channels = [4, 8]
[data]
manifest = "ds/manifest.json"
label_ids = [0, 4]
unlisted_labels = "background"
[preprocessing]
normalization = { kind = "clip", min = -1000.0, max = 1000.0 }
[card]
name = "lungs"
modalities = ["CT"]
labels = { "0" = "background", "1" = "lung" }
"#,
    )
    .unwrap();
    let out =
        run(&["-q", "train", "--config", cfg.to_str().unwrap(), "-o", dir.join("run").to_str().unwrap()]);
    ok(&out);
    dir.join("run/model")
}

#[test]
fn train_info_infer_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let model = trained(d.path());
    assert!(model.join("model.toml").exists() && model.join("weights.bpk").exists());
    let out = run(&["model", "info", model.to_str().unwrap()]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["lungs", "segmentation", "verified", "1=lung", "hounsfield", "train --config"] {
        assert!(text.contains(needle), "model info lacks `{needle}`: {text}");
    }
    let out = run(&["model", "info", "--json", model.to_str().unwrap()]);
    ok(&out);
    let card: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(card["architecture"]["architecture"], "unet");

    let img = d.path().join("ds/case_000/image.nii.gz");
    let seg = d.path().join("seg.nii.gz");
    let out = run(&[
        "-q",
        "infer",
        "--model",
        model.to_str().unwrap(),
        "--input",
        img.to_str().unwrap(),
        "-o",
        seg.to_str().unwrap(),
        "--mirror",
    ]);
    ok(&out);
    let (a, b) = (info_json(&img), info_json(&seg));
    for key in ["dims", "origin", "spacing", "direction"] {
        assert_eq!(a[key], b[key], "{key} differs: {a} vs {b}");
    }
}

#[test]
fn bad_models_and_inputs_are_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let model = trained(d.path());
    let img = d.path().join("ds/case_000/image.nii.gz");
    let out_path = d.path().join("o.nii.gz");
    let infer = |m: &Path, inputs: &[&Path]| {
        let mut args = vec!["infer".to_string(), "--model".into(), m.display().to_string()];
        for i in inputs {
            args.push("--input".into());
            args.push(i.display().to_string());
        }
        args.push("-o".into());
        args.push(out_path.display().to_string());
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // Channels the model cannot take.
    assert_bad_input(&infer(&model, &[&img, &img]), &["1 input channels", "got 2"]);
    // NaN in the input.
    let mut v = hounsfield_io::read_image(&img, &Default::default()).unwrap().volume.into_f32();
    v.data_mut()[100] = f32::NAN;
    let nan = d.path().join("nan.nii.gz");
    hounsfield_io::write_image(&nan, &v.into(), &Default::default()).unwrap();
    assert_bad_input(&infer(&model, &[&nan]), &["non-finite"]);
    // A card that does not match its weights (same checksum, another architecture).
    let bad = d.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(model.join("weights.bpk"), bad.join("weights.bpk")).unwrap();
    let card = std::fs::read_to_string(model.join("model.toml")).unwrap();
    let widened = card.replace("channels = [\n    4,\n    8,\n]", "channels = [\n    4,\n    12,\n]");
    assert_ne!(widened, card);
    std::fs::write(bad.join("model.toml"), widened).unwrap();
    assert_bad_input(&infer(&bad, &[&img]), &["does not match the weights"]);
    // Corrupt weights.
    let mut w = std::fs::read(model.join("weights.bpk")).unwrap();
    let n = w.len() / 2;
    w[n] ^= 0xff;
    std::fs::write(bad.join("weights.bpk"), w).unwrap();
    std::fs::write(bad.join("model.toml"), &card).unwrap();
    assert_bad_input(&infer(&bad, &[&img]), &["checksum"]);
    // Not a model at all.
    assert_bad_input(&infer(d.path(), &[&img]), &["model.toml"]);
    assert!(!out_path.exists(), "nothing written on failure");
    // A training config with an unknown field names it.
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "task = \"segmentation\"\npatch_size = [16, 16, 16]\nlearning_rate = 3\n[model]\narchitecture = \"unet\"\n").unwrap();
    assert_bad_input(
        &run(&["train", "--config", cfg.to_str().unwrap(), "-o", d.path().join("r").to_str().unwrap()]),
        &["learning_rate"],
    );
}

fn onnx_models(dir: &Path) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nn/tests/data/make_onnx.py");
    let out = Command::new(python()).arg(script).arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "make_onnx.py failed (run scripts/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bare_onnx_models_run_and_unsupported_ops_are_named() {
    let d = tempfile::tempdir().unwrap();
    onnx_models(d.path());
    let img = d.path().join("ct.nii.gz");
    ok(&run(&["-q", "phantom", "torso", "--size", "32", "-o", img.to_str().unwrap()]));
    let seg = d.path().join("seg.nii.gz");
    let out = run(&[
        "infer",
        "--model",
        d.path().join("unet3d.onnx").to_str().unwrap(),
        "--input",
        img.to_str().unwrap(),
        "-o",
        seg.to_str().unwrap(),
        "--window",
        "16,16,16",
    ]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bare onnx model") && err.contains("no intensity normalization"), "{err}");
    assert_eq!(info_json(&img)["origin"], info_json(&seg)["origin"]);
    let out = run(&[
        "infer",
        "--model",
        d.path().join("unsupported.onnx").to_str().unwrap(),
        "--input",
        img.to_str().unwrap(),
        "-o",
        seg.to_str().unwrap(),
    ]);
    assert_bad_input(&out, &["HounsfieldMagic"]);
}
