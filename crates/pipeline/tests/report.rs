//! The demo pipeline at a small size, its outputs, and its report rendered by Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use hounsfield_pipeline::report::{write_report, ReportInfo};
use hounsfield_pipeline::{demo, RunOptions, Silent, Study};

fn chromium() -> PathBuf {
    let p = std::env::var_os("HOUNSFIELD_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    assert!(p.exists(), "chromium not found at {}: run scripts/setup.sh", p.display());
    p
}

/// The DOM after load, as headless Chromium sees it.
fn dump_dom(html: &Path, profile: &Path) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn attr(dom: &str, name: &str) -> usize {
    let key = format!("{name}=\"");
    let start = dom
        .find(&key)
        .unwrap_or_else(|| panic!("attribute {name} missing: the page's load script did not run"));
    let rest = &dom[start + key.len()..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

#[test]
fn demo_runs_and_its_report_loads_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = demo::pipeline(32, 3).unwrap();
    let mut study = Study::new();
    p.run(&mut study, &RunOptions { out_dir: out.clone() }, &Silent).unwrap();
    assert_eq!(study.records.len(), p.steps.len());

    // Outputs exist and read back with their geometry.
    for f in [
        "ct.nii.gz",
        "ct_labels.nii.gz",
        "mr.nii.gz",
        "mr_labels.nii.gz",
        "mr_moved.nii.gz",
        "mr_field.nii.gz",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let ct = hounsfield_io::nifti::read(&out.join("ct.nii.gz")).unwrap().into_f32();
    let truth = &study.records[0];
    assert_eq!(truth.kind, "phantom");
    assert_eq!(ct.dims(), [32, 32, 32]);
    let field = hounsfield_io::nifti::read_vector_field(&out.join("mr_field.nii.gz")).unwrap();
    assert_eq!(field[0].dims(), [32, 32, 32]);

    // The reconstruction step measured something sensible: TV beats low-dose FBP.
    let rec = study.records.iter().find(|r| r.kind == "ct-recon").unwrap();
    let m = |n: &str| rec.metrics.iter().find(|x| x.name == n).unwrap().value;
    assert!(m("rmse_tv_low_dose") < m("rmse_fbp_low_dose"), "{:?}", rec.metrics);

    let html = out.join("report.html");
    write_report(&html, &study, &ReportInfo { title: "test".into(), ..Default::default() }).unwrap();
    let text = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no external resources.
    assert!(!text.contains("src=\"http") && !text.contains("href=\"http"));
    let dom = dump_dom(&html, &dir.path().join("profile"));
    let images = attr(&dom, "data-images");
    assert!(images >= 10, "only {images} images");
    assert_eq!(attr(&dom, "data-images-loaded"), images, "some images did not decode");
    assert!(attr(&dom, "data-tables") >= 5);
    assert!(dom.contains("ct-reconstruction") && dom.contains("<svg"));
}

#[test]
fn failing_step_is_named() {
    let src = "[[step]]\nid = \"read\"\nkind = \"load\"\npath = \"/nonexistent/x.nii\"\nimage = \"a\"\n";
    let p = hounsfield_pipeline::Pipeline::from_toml_str(src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = p.run(&mut Study::new(), &RunOptions { out_dir: dir.path().into() }, &Silent).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("step `read` (load) failed") && msg.contains("/nonexistent/x.nii"), "{msg}");
}
