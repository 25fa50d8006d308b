//! Fuzzes the fastMRI HDF5 reader: any byte string must give k-space or a typed error, never
//! a panic. Seed the corpus with small h5py files (`fuzz/corpus/fastmri`, e.g. those the io
//! tests write). Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run fastmri -- -max_total_time=180`
//! (from `fuzz/`).
#![no_main]
use std::path::Path;

use hounsfield_io::fastmri::{read_bytes, SliceSelection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Keeps allocations the fuzzer provokes small.
    hounsfield_io::set_memory_cap(256 << 20);
    for s in [SliceSelection::All, SliceSelection::Middle] {
        if let Ok(k) = read_bytes(data, s, Path::new("fuzz.h5")) {
            assert_eq!(k.data.len(), k.slices * k.coils * k.rows * k.cols);
        }
    }
});
