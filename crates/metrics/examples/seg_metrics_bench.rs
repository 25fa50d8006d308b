//! Times `segmentation::evaluate` on two raw u16 label maps (x-fastest) for
//! `bench/segmentation_metrics_vs_monai.py`:
//! `cargo run --release -p hounsfield-metrics --example seg_metrics_bench -- PRED REF NX,NY,NZ SX,SY,SZ REPEATS TOL`.
//! Prints one JSON line: the best time and the metrics per label.

use std::time::Instant;

use hounsfield_core::{Geometry, LabelVolume, Volume};
use hounsfield_metrics::segmentation::{evaluate, SegmentationOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        return Err("usage: PRED REF NX,NY,NZ SX,SY,SZ REPEATS NSD_TOL".into());
    }
    let three = |s: &str| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
        s.split(',').map(|v| v.parse::<f64>().map_err(|e| e.into())).collect()
    };
    let d = three(&a[3])?;
    let sp = three(&a[4])?;
    let dims = [d[0] as usize, d[1] as usize, d[2] as usize];
    let g = Geometry { spacing: [sp[0], sp[1], sp[2]], ..Default::default() };
    let load = |p: &str| -> Result<LabelVolume, Box<dyn std::error::Error>> {
        let b = std::fs::read(p)?;
        let v: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        Ok(LabelVolume::new(Volume::from_vec(dims, g, v)?))
    };
    let (pred, reference) = (load(&a[1])?, load(&a[2])?);
    let repeats: usize = a[5].parse()?;
    let opts = SegmentationOptions { nsd_tolerance_mm: a[6].parse()?, ..Default::default() };
    let mut best = f64::INFINITY;
    let mut report = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = evaluate(&pred, &reference, &opts)?;
        best = best.min(t.elapsed().as_secs_f64());
        report = Some(r);
    }
    println!("{}", serde_json::json!({ "seconds": best, "report": report }));
    Ok(())
}
