//! Fuzzes the BART `.hdr` parser: any text must give dimensions or a typed error, never a panic.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run bart_header -- -max_total_time=300` (from the repository root).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(dims) = hounsfield_io::cfl::parse_header(text, std::path::Path::new("fuzz.hdr")) {
            assert!(!dims.is_empty() && dims.len() <= 16 && dims.iter().all(|&d| d > 0));
        }
    }
});
