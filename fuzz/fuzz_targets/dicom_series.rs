//! Fuzzes the DICOM series reader: the input is split into up to four files (at the byte
//! sequence `FUZZSPLIT`), which are read as one series. Any input must give a volume or a typed
//! error, never a panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run dicom_series -- -max_total_time=300`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hounsfield_io::set_memory_cap(256 << 20);
    let _ = hounsfield_io::dicom::fuzz_read_series_from_bytes(data);
});
