//! Fuzzes the ITK transform file parser: any text must give entries or a typed error, never a
//! panic. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run itk_transform -- -max_total_time=300`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hounsfield_io::itk_transform::parse(text);
    }
});
