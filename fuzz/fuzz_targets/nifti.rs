//! Fuzzes the nifti reader: any byte string must give a volume or a typed error, never a panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run nifti -- -max_total_time=300` (from the repository root).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hounsfield_core_cap();
    let _ = hounsfield_io::nifti::read_from_bytes(data);
    let _ = hounsfield_io::nifti::read_vector_field_from_bytes(data);
});

/// Keeps allocations the fuzzer provokes small.
fn hounsfield_core_cap() {
    hounsfield_io::set_memory_cap(256 << 20);
}
