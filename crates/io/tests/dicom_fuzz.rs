//! Regression inputs for the DICOM reader, in `tests/data/fuzz/`: files that crash dicom-rs
//! 0.10 (panics inside its codec adapters, 4 GiB allocations, unbounded recursion) and
//! crashes found by `fuzz/fuzz_targets/dicom_series.rs`. Each must give its typed error.

use std::path::PathBuf;

use hounsfield_io::dicom::{fuzz_read_series_from_bytes, read_file, DicomError, DicomReadOptions};

fn input(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz").join(name)
}

fn err(name: &str) -> DicomError {
    read_file(&input(name), &DicomReadOptions::default()).expect_err(name)
}

#[test]
fn r_jpeg_stream_larger_than_rows_columns() {
    // dicom-rs' JPEG adapter copies the 100×100 decoded image into a 50×50 buffer: panic.
    let e = err("jpeg_larger_than_rows.dcm");
    assert!(matches!(e, DicomError::UnsupportedPixels { .. }), "{e}");
    assert!(e.to_string().contains("100×100 but Columns×Rows is 50×50"), "{e}");
}

#[test]
fn r_j2k_stream_larger_than_rows_columns() {
    // dicom-rs' JPEG 2000 adapter writes 64 rows into a 32-row buffer: panic.
    let e = err("j2k_larger_than_rows.dcm");
    assert!(e.to_string().contains("64×64 but Columns×Rows is 64×32"), "{e}");
}

#[test]
fn r_j2k_components_differ_from_samples_per_pixel() {
    // dicom-rs returns a 3-sample image with two planes of zeros.
    let e = err("j2k_fewer_components.dcm");
    assert!(e.to_string().contains("1 components but SamplesPerPixel is 3"), "{e}");
}

#[test]
fn r_rle_segment_shorter_than_the_image() {
    // dicom-rs' RLE adapter indexes past the decoded segment: panic.
    let e = err("rle_short_segment.dcm");
    assert!(matches!(e, DicomError::DecodeFrame { .. }), "{e}");
    assert!(e.to_string().contains("decodes to 4096 bytes, 5120 needed"), "{e}");
}

#[test]
fn r_declared_length_of_4_gib() {
    // dicom-rs reserves the declared length before reading it.
    let e = err("pixel_length_4gib.dcm");
    assert!(matches!(e, DicomError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("declares 4294967280 bytes"), "{e}");
}

#[test]
fn r_sequences_nested_without_end() {
    // dicom-rs recurses once per level (a stack overflow at depth ~10⁵).
    let e = err("sequences_nested_40_deep.dcm");
    assert!(e.to_string().contains("nested more than 32 deep"), "{e}");
}

#[test]
fn every_regression_input_is_refused_or_read_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("tests/data/fuzz") {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let _ = read_file(&p, &DicomReadOptions::default());
        let _ = fuzz_read_series_from_bytes(&bytes);
        n += 1;
    }
    assert!(n >= 6, "regression inputs missing from {}", dir.display());
}
