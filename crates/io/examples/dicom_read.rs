//! Reads DICOM series folders or files and times it, for `bench/dicom_read_vs_peers.py`.
//!
//! `cargo run --release -p hounsfield-io --example dicom_read -- REPEATS PATH...` prints one
//! JSON object per path: best and median wall time in seconds over REPEATS reads (a folder
//! is scanned, its only series selected and read; a file is read alone), voxel type, dims,
//! geometry, min/max/mean and the voxel sum, so that the script can check that every tool
//! read the same image. A path that fails prints `{"path": …, "error": …}`.

use std::path::Path;
use std::time::Instant;

use hounsfield_core::{with_any_volume, Scalar};
use hounsfield_io::dicom::{self, DicomReadOptions, DicomVolume};

fn read(path: &Path) -> Result<DicomVolume, dicom::DicomError> {
    let options = DicomReadOptions::default();
    if path.is_dir() {
        let series = dicom::scan(path)?;
        dicom::read_series(dicom::select_series(&series, None, path)?, &options)
    } else {
        dicom::read_file(path, &options)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repeats: usize = args.next().ok_or("usage: dicom_read REPEATS PATH...")?.parse()?;
    for arg in args {
        let path = Path::new(&arg);
        let mut times = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            match read(path) {
                Ok(v) => last = Some(v),
                Err(e) => {
                    println!("{}", serde_json::json!({ "path": arg, "error": e.to_string() }));
                    last = None;
                    break;
                }
            }
            times.push(t.elapsed().as_secs_f64());
        }
        let Some(v) = last else { continue };
        times.sort_by(f64::total_cmp);
        let vol = &v.volume;
        let sum: f64 = with_any_volume!(vol, x => x.data().iter().map(|s| s.to_f64()).sum());
        let (min, max, mean) = vol.min_max_mean();
        let g = vol.geometry();
        let out = serde_json::json!({
            "path": arg,
            "best_s": times[0],
            "median_s": times[times.len() / 2],
            "modality": v.modality,
            "type": vol.type_name(),
            "dims": vol.dims(),
            "origin": g.origin,
            "spacing": g.spacing,
            "direction": g.direction_row_major(),
            "min": min,
            "max": max,
            "mean": mean,
            "sum": sum,
        });
        println!("{out}");
    }
    Ok(())
}
