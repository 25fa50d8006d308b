//! Fuzzes the DICOM series reader: the input is split into up to four files (at the byte
//! sequence `FUZZSPLIT`), which are read as one series. Any input must give a volume or a typed
//! error, never a panic.
//! Seed the corpus with pydicom's sample files (those under 70 KB) first:
//! `mkdir -p corpus/dicom_series && find ~/.cache/hounsfield/data/pydicom* -name '*.dcm' -size -70k -exec cp {} corpus/dicom_series/ \;`
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run dicom_series -- -max_total_time=240 -max_len=80000`.
//! Crashes it finds go to `crates/io/tests/data/fuzz/` with a test in `tests/dicom_fuzz.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hounsfield_io::set_memory_cap(256 << 20);
    let _ = hounsfield_io::dicom::fuzz_read_series_from_bytes(data);
});
