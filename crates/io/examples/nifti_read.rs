//! Times `hounsfield_io::nifti::read` on the files given, for `bench/nifti_read_vs_peers.py`.
//!
//! `cargo run --release -p hounsfield-io --example nifti_read -- REPEATS FILE...` prints one
//! JSON object per file: the best and median wall time in seconds over REPEATS reads, the
//! voxel type, dims, geometry and the voxel sum (so the script can check that every tool read
//! the same image).

use std::path::Path;
use std::time::Instant;

use hounsfield_core::with_any_volume;
use hounsfield_core::Scalar;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repeats: usize = args.next().ok_or("usage: nifti_read REPEATS FILE...")?.parse()?;
    for file in args {
        let path = Path::new(&file);
        let mut times = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            let v = hounsfield_io::nifti::read(path)?;
            times.push(t.elapsed().as_secs_f64());
            last = Some(v);
        }
        let v = last.ok_or("no read")?;
        times.sort_by(f64::total_cmp);
        let sum: f64 = with_any_volume!(&v, x => x.data().iter().map(|s| s.to_f64()).sum());
        let g = v.geometry();
        let out = serde_json::json!({
            "file": file,
            "best_s": times[0],
            "median_s": times[times.len() / 2],
            "type": v.type_name(),
            "dims": v.dims(),
            "origin": g.origin,
            "spacing": g.spacing,
            "direction": g.direction_row_major(),
            "sum": sum,
        });
        println!("{out}");
    }
    Ok(())
}
