//! The Rust side of `bench/recon_vs_peers.py` (run that script; it builds this example in
//! release and passes it the peer's data):
//!
//! ```text
//! cargo run --release -p hounsfield-recon --example recon_bench -- fbp2d DIR      # 512² FBP, SART, sparse-view TV
//! cargo run --release -p hounsfield-recon --example recon_bench -- cone DIR N V   # N³ FDK from V projections
//! cargo run --release -p hounsfield-recon --example recon_bench -- stream N V     # N³ FDK, projections streamed
//! ```
//!
//! Inputs and outputs are raw little-endian float32 files in DIR; timings and errors go to
//! stdout as one JSON object.

use std::path::Path;
use std::time::Instant;

use hounsfield_recon::ct::{
    analytic, fbp, fdk, fdk_streamed, no_callback, sart, tv, FbpOptions, IterativeOptions, JosephProjector,
    ScanGeometry, TvOptions,
};
use rayon::prelude::*;

fn read_f32(p: &Path) -> Vec<f32> {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn write_f32(p: &Path, v: &[f32]) {
    let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(p, b).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

/// RMSE inside scikit-image's reconstruction circle (radius n/2 around pixel n/2).
fn rmse_circle(a: &[f32], b: &[f32], n: usize) -> f64 {
    let c = (n / 2) as f64;
    let (mut se, mut k) = (0.0, 0usize);
    for j in 0..n {
        for i in 0..n {
            let (x, y) = (i as f64 - c, j as f64 - c);
            if x * x + y * y <= c * c {
                se += ((a[i + n * j] - b[i + n * j]) as f64).powi(2);
                k += 1;
            }
        }
    }
    (se / k as f64).sqrt()
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..n {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.unwrap_or_else(|| unreachable!()))
}

fn fbp2d(dir: &Path) {
    let n = 512;
    let phantom = read_f32(&dir.join("phantom.raw"));
    let mut out = Vec::new();
    for views in [360usize, 60] {
        let scan = ScanGeometry::parallel(views, 180.0, n, 1.0).expect("geometry");
        let sino = scan.sinogram_volume(read_f32(&dir.join(format!("sino{views}.raw")))).expect("sinogram");
        let (t_fbp, rec) = best_of(5, || fbp(&sino, &scan, &FbpOptions::default()).expect("fbp"));
        let e_fbp = rmse_circle(rec.data(), &phantom, n);
        write_f32(&dir.join(format!("ours_fbp{views}.raw")), rec.data());
        let grid = scan.default_grid().expect("grid");
        let p = JosephProjector::new(&scan, &grid).expect("projector");
        if views == 360 {
            // One iteration including the set-up (row and column sums), as one iradon_sart
            // call; and the steady-state cost of a further iteration.
            let o = IterativeOptions { iterations: 1, relaxation: 0.15, ..Default::default() };
            let (t_sart, rec) = best_of(3, || sart(&p, &sino, &o, &mut no_callback).expect("sart"));
            let o3 = IterativeOptions { iterations: 3, ..o };
            let (t_sart3, _) = best_of(2, || sart(&p, &sino, &o3, &mut no_callback).expect("sart"));
            out.push(format!(
                "\"fbp360_s\": {t_fbp}, \"fbp360_rmse\": {e_fbp}, \"sart_iter_s\": {t_sart}, \"sart_next_iter_s\": {}, \"sart1_rmse\": {}",
                (t_sart3 - t_sart) / 2.0,
                rmse_circle(rec.data(), &phantom, n)
            ));
        } else {
            let o = TvOptions { iterations: 300, weight: 0.02, ..Default::default() };
            let t = Instant::now();
            let rec = tv(&p, &sino, &o, &mut no_callback).expect("tv");
            let t_tv = t.elapsed().as_secs_f64();
            write_f32(&dir.join("ours_tv60.raw"), rec.data());
            out.push(format!(
                "\"fbp60_s\": {t_fbp}, \"fbp60_rmse\": {e_fbp}, \"tv60_s\": {t_tv}, \"tv60_rmse\": {}, \"tv60_iterations\": 300",
                rmse_circle(rec.data(), &phantom, n)
            ));
        }
    }
    println!("{{{}}}", out.join(", "));
}

/// The benchmark's cone beam: SOD 500 mm, SDD 1000 mm, a square panel of `n` pixels of
/// 2 mm (1 mm at the isocentre), `views` over 360°; the volume `n³` of 1 mm.
fn cone_scan(n: usize, views: usize) -> ScanGeometry {
    ScanGeometry::cone(views, 360.0, [n, n], 2.0, 500.0, 1000.0).expect("geometry")
}

fn cone(dir: &Path, n: usize, views: usize) {
    let scan = cone_scan(n, views);
    let e = analytic::shepp_logan_ellipsoids(n as f64, true);
    let t = Instant::now();
    let sino = scan.sinogram_volume(analytic::sinogram(&scan, &e).expect("sinogram")).expect("volume");
    let t_proj = t.elapsed().as_secs_f64();
    // For RTK: [view][row][column].
    let (nc, nv, nr) = (scan.cols(), scan.views(), scan.rows());
    let mut rtk = vec![0.0f32; sino.len()];
    for v in 0..nv {
        for r in 0..nr {
            let src = &sino.data()[(v + nv * r) * nc..][..nc];
            rtk[(v * nr + r) * nc..][..nc].copy_from_slice(src);
        }
    }
    write_f32(&dir.join("proj.raw"), &rtk);
    drop(rtk);
    // The truth: the same ellipsoids sampled at the voxel centres of the reconstruction grid.
    let grid = scan.default_grid().expect("grid");
    let mut truth = vec![0.0f32; grid.len()];
    truth.par_chunks_mut(n * n).enumerate().for_each(|(k, plane)| {
        for j in 0..n {
            for i in 0..n {
                let p = grid.geometry.index_to_world([i as f64, j as f64, k as f64]);
                plane[i + n * j] =
                    e.iter().filter(|el| el.contains(p)).map(|el| el.value).sum::<f64>() as f32;
            }
        }
    });
    write_f32(&dir.join("truth.raw"), &truth);
    let (t_fdk, rec) = best_of(2, || fdk(&sino, &scan, &FbpOptions::default()).expect("fdk"));
    write_f32(&dir.join("ours_fdk.raw"), rec.data());
    println!("{{\"analytic_projections_s\": {t_proj}, \"fdk_s\": {t_fdk}}}");
}

fn stream(n: usize, views: usize) {
    let scan = cone_scan(n, views);
    let e = analytic::shepp_logan_ellipsoids(n as f64, true);
    let t = Instant::now();
    let rec = fdk_streamed(&scan, &FbpOptions::default(), |v, out| {
        let nc = scan.cols();
        out.par_chunks_mut(nc).enumerate().for_each(|(r, row)| analytic::view_row(&scan, &e, v, r, row));
        Ok(())
    })
    .expect("fdk");
    let volume_mib = (rec.len() * 4) as f64 / (1 << 20) as f64;
    let proj_mib = (scan.sinogram_len() * 4) as f64 / (1 << 20) as f64;
    println!(
        "{{\"stream_fdk_s\": {}, \"volume_mib\": {volume_mib}, \"projections_mib\": {proj_mib}, \"value_in_bright_ellipse\": {}}}",
        t.elapsed().as_secs_f64(),
        rec.get(n / 2, n / 2 - n / 5, n / 2).copied().unwrap_or(f32::NAN)
    );
}

/// Repeats one method on the 360-view sinogram (for `perf record`).
fn profile(dir: &Path, what: &str) {
    let scan = ScanGeometry::parallel(360, 180.0, 512, 1.0).expect("geometry");
    let sino = scan.sinogram_volume(read_f32(&dir.join("sino360.raw"))).expect("sinogram");
    let p = JosephProjector::new(&scan, &scan.default_grid().expect("grid")).expect("projector");
    for _ in 0..5 {
        let t = Instant::now();
        match what {
            "sart" | "sart3" => {
                let iterations = if what == "sart3" { 3 } else { 1 };
                let o = IterativeOptions { iterations, ..Default::default() };
                sart(&p, &sino, &o, &mut no_callback).expect("sart");
            }
            "forward" | "back" => {
                let mut x = vec![0.1f32; 512 * 512];
                let mut y = sino.data().to_vec();
                if what == "forward" {
                    hounsfield_recon::ct::Projector::forward(&p, &x, &mut y).expect("forward");
                } else {
                    hounsfield_recon::ct::Projector::back(&p, &y, &mut x).expect("back");
                }
            }
            _ => {
                fbp(&sino, &scan, &FbpOptions::default()).expect("fbp");
            }
        }
        eprintln!("{what}: {:?}", t.elapsed());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match arg(1).as_str() {
        "fbp2d" => fbp2d(Path::new(&arg(2))),
        "cone" => cone(Path::new(&arg(2)), num(3, 256), num(4, 360)),
        "stream" => stream(num(2, 512), num(3, 360)),
        "profile" => profile(Path::new(&arg(2)), &arg(3)),
        _ => eprintln!("usage: recon_bench fbp2d DIR | cone DIR N VIEWS | stream N VIEWS"),
    }
}
