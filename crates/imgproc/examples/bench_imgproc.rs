//! Times one imgproc operation on a raw volume for `bench/imgproc_vs_peers.py`.
//!
//! `cargo build --release -p hounsfield-imgproc --example bench_imgproc`, then
//! `bench_imgproc '<json>'` with the fields
//! `op` ("gaussian" | "resample" | "edt"), `input`, `output` (raw little-endian files: f32
//! for gaussian/resample input and every output, u8 for the edt mask), `dims`, `spacing`,
//! `repeats`, and per operation `sigma_mm` (gaussian) or `matrix` (row-major 3×3) and
//! `center` (resample: linear interpolation onto the input's own grid, rotation about
//! `center`). Prints one JSON line with the best and median wall time and the CPU time per
//! run, in seconds.

use hounsfield_core::{AffineTransform, Geometry, Volume};
use hounsfield_imgproc::distance::distance_to_background;
use hounsfield_imgproc::filter::gaussian;
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::resample;
use serde_json::Value;
use std::time::Instant;

fn nums(v: &Value, key: &str) -> Result<Vec<f64>, String> {
    v[key]
        .as_array()
        .ok_or(format!("missing array `{key}`"))?
        .iter()
        .map(|x| x.as_f64().ok_or(format!("`{key}` holds a non-number")))
        .collect()
}

fn arr3(v: &Value, key: &str) -> Result<[f64; 3], String> {
    let n = nums(v, key)?;
    n.try_into().map_err(|_| format!("`{key}` must have 3 numbers"))
}

/// Writes to a temporary name and renames, so a failed run leaves no partial output.
fn write_atomic(path: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = format!("{path}.tmp{}", std::process::id());
    std::fs::write(&tmp, bytes).map_err(|e| format!("write {tmp}: {e}"))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename to {path}: {e}"))
}

/// CPU time (user + system, all threads) of this process in seconds, from /proc/self/stat
/// (0 where that file does not exist): on a shared machine it shows the work done, which
/// wall time hides when other jobs take the cores.
fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Best and median wall time of `repeats` runs after one warm-up, CPU time per run, and the
/// last result.
fn time<R>(repeats: usize, mut f: impl FnMut() -> R) -> (f64, f64, f64, R) {
    let mut out = f(); // warm-up: page faults, thread pool start
    let mut t = Vec::with_capacity(repeats);
    let c0 = cpu_seconds();
    for _ in 0..repeats {
        let s = Instant::now();
        out = f();
        t.push(s.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - c0) / repeats as f64;
    t.sort_by(f64::total_cmp);
    (t[0], t[t.len() / 2], cpu, out)
}

fn run() -> Result<(), String> {
    let arg = std::env::args().nth(1).ok_or("usage: bench_imgproc '<json>'")?;
    let p: Value = serde_json::from_str(&arg).map_err(|e| format!("bad JSON: {e}"))?;
    let op = p["op"].as_str().ok_or("missing `op`")?;
    let d = arr3(&p, "dims")?;
    let dims = [d[0] as usize, d[1] as usize, d[2] as usize];
    let g = Geometry::with_spacing(arr3(&p, "spacing")?);
    let repeats = p["repeats"].as_u64().unwrap_or(5).max(1) as usize;
    let input = p["input"].as_str().ok_or("missing `input`")?;
    let output = p["output"].as_str().ok_or("missing `output`")?;
    let bytes = std::fs::read(input).map_err(|e| format!("read {input}: {e}"))?;
    let f32s = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let (best, median, cpu, out): (f64, f64, f64, Volume<f32>) = match op {
        "gaussian" => {
            let v = Volume::from_vec(dims, g, f32s(&bytes)).map_err(|e| e.to_string())?;
            let s = arr3(&p, "sigma_mm")?;
            let (b, m, c, r) = time(repeats, || gaussian(&v, s));
            (b, m, c, r.map_err(|e| e.to_string())?)
        }
        "resample" => {
            let v = Volume::from_vec(dims, g, f32s(&bytes)).map_err(|e| e.to_string())?;
            let m = nums(&p, "matrix")?;
            if m.len() != 9 {
                return Err("`matrix` must have 9 numbers".into());
            }
            let matrix = [[m[0], m[1], m[2]], [m[3], m[4], m[5]], [m[6], m[7], m[8]]];
            let t = AffineTransform { matrix, translation: [0.0; 3], center: arr3(&p, "center")? };
            let (b, med, c, r) = time(repeats, || resample(&v, dims, &g, &t, Interpolation::Linear, 0.0));
            (b, med, c, r.map_err(|e| e.to_string())?)
        }
        "edt" => {
            let v = Volume::from_vec(dims, g, bytes).map_err(|e| e.to_string())?;
            let (b, m, c, r) = time(repeats, || distance_to_background(&v));
            (b, m, c, r.map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unknown op `{other}`")),
    };
    let raw: Vec<u8> = out.data().iter().flat_map(|x| x.to_le_bytes()).collect();
    write_atomic(output, &raw)?;
    println!(
        "{}",
        serde_json::json!({
            "op": op, "best_s": best, "median_s": median, "cpu_s": cpu, "threads": rayon::current_num_threads(),
        })
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_imgproc: {e}");
        std::process::exit(1);
    }
}
