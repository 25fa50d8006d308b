//! Times `brain::brain_tissue` on raw arrays for `bench/segment_vs_peers.py`:
//! `cargo run --release -p hounsfield-segment --example brain_bench -- IMAGE.f32 MASK.u8 NX,NY,NZ SX,SY,SZ OUT.u16`.
//! Prints the time (s) on stdout and writes the labels (1 CSF, 2 GM, 3 WM) as raw u16.

use std::time::Instant;

use hounsfield_core::{Geometry, Volume};
use hounsfield_segment::brain::{brain_tissue, BrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        return Err("usage: IMAGE.f32 MASK.u8 NX,NY,NZ SX,SY,SZ OUT.u16".into());
    }
    let nums = |s: &str| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
        s.split(',').map(|v| v.parse::<f64>().map_err(|e| e.into())).collect()
    };
    let d = nums(&a[3])?;
    let sp = nums(&a[4])?;
    let dims = [d[0] as usize, d[1] as usize, d[2] as usize];
    let g = Geometry { spacing: [sp[0], sp[1], sp[2]], ..Default::default() };
    let img: Vec<f32> =
        std::fs::read(&a[1])?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mask = std::fs::read(&a[2])?;
    let image = Volume::from_vec(dims, g, img)?;
    let mask = Volume::from_vec(dims, g, mask)?;
    let t = Instant::now();
    // Optional: β from the environment (parameter studies); default BrainOptions' β.
    let beta = std::env::var("HOUNSFIELD_BRAIN_BETA")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(BrainOptions::default().beta);
    let r = brain_tissue(&image, &mask, &BrainOptions { beta, ..Default::default() })?;
    println!("{}", t.elapsed().as_secs_f64());
    let bytes: Vec<u8> = r.labels.data().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&a[5], bytes)?;
    Ok(())
}
