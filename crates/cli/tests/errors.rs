//! Bad input and usage: exit code 2 with one clear line; help for every command.

use crate::common::{assert_bad_input, run};

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["info", "--help"],
        vec!["convert", "--help"],
        vec!["slice", "--help"],
        vec!["phantom", "--help"],
        vec!["run", "--help"],
        vec!["recon", "--help"],
        vec!["simulate", "--help"],
        vec!["project", "--help"],
        vec!["drr", "--help"],
    ] {
        let out = run(&cmd);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{cmd:?}");
    }
}

#[test]
fn missing_input_is_exit_2() {
    let out = run(&["info", "/nonexistent/scan.nii.gz"]);
    assert_bad_input(&out, &["/nonexistent/scan.nii.gz"]);
}

#[test]
fn unknown_output_format_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.nii");
    std::fs::write(&input, b"not a nifti file at all").unwrap();
    let out = run(&["convert", input.to_str().unwrap(), dir.path().join("y.xyz").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing half-written.
    assert!(!dir.path().join("y.xyz").exists());
}

#[test]
fn bad_memory_cap_is_exit_2() {
    let out = run(&["--memory-cap", "lots", "info", "x.nii"]);
    assert_bad_input(&out, &["lots"]);
}

#[test]
fn usage_errors_are_exit_2() {
    let out = run(&["info"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_pipeline_names_step_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, "name = \"x\"\n\n[[step]]\nid = \"first\"\nkind = \"no-such-step\"\n").unwrap();
    let out = run(&["run", p.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert_bad_input(&out, &["line 3", "first", "no-such-step"]);
}
