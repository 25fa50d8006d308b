//! `hounsfield demo` and `hounsfield run` end to end.

use crate::common::{assert_bad_input, run};

#[test]
fn demo_writes_report_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = run(&["demo", "--size", "24", "--out", out.to_str().unwrap(), "--quiet", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(records.as_array().unwrap().len() >= 10);
    assert!(out.join("report.html").exists());
    assert!(out.join("ct.nii.gz").exists() && out.join("mr_field.nii.gz").exists());
    // The demo printed as a pipeline file runs through `hounsfield run` too.
    let p = run(&["demo", "--size", "24", "--print-pipeline"]);
    let toml = dir.path().join("demo.toml");
    std::fs::write(&toml, &p.stdout).unwrap();
    let o = run(&["run", toml.to_str().unwrap(), "--out", dir.path().join("run").to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("run/report.html").exists());
}

#[test]
fn demo_rejects_bad_size() {
    assert_bad_input(&run(&["demo", "--size", "0", "--out", "/tmp/never"]), &["size"]);
}
