//! `cargo bench -p hounsfield-imgproc --bench imgproc` (placeholder until the benches land).
fn main() {}
