//! Scratch: iterative methods.
use hounsfield_recon::ct::*;
fn rmse(a: &hounsfield_core::Volume<f32>, b: &hounsfield_core::Volume<f32>) -> f64 {
    let n = a.dims()[0];
    let c = (n / 2) as f64;
    let mut se = 0.0;
    let mut k = 0;
    for j in 0..n {
        for i in 0..n {
            let (x, y) = (i as f64 - c, j as f64 - c);
            if x * x + y * y < (c - 2.0) * (c - 2.0) {
                let d = a.get(i, j, 0).unwrap() - b.get(i, j, 0).unwrap();
                se += (d * d) as f64;
                k += 1;
            }
        }
    }
    (se / k as f64).sqrt()
}
fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(128);
    let views: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(60);
    let w: f32 = std::env::args().nth(3).map(|s| s.parse().unwrap()).unwrap_or(0.002);
    let its: usize = std::env::args().nth(4).map(|s| s.parse().unwrap()).unwrap_or(200);
    let fov = 256.0;
    let ph = hounsfield_phantom::shepp_logan(&hounsfield_phantom::SheppLoganOptions {
        size: n,
        fov_mm: fov,
        supersample: 3,
        ..Default::default()
    })
    .unwrap();
    let sp = ph.geometry().spacing[0];
    let grid = VolumeGrid::of(&ph).unwrap();
    let g = ScanGeometry::parallel(views, 180.0, (n as f64 * 1.5) as usize, sp).unwrap();
    let iso = ph.geometry().index_to_world([(n / 2) as f64, (n / 2) as f64, 0.0]);
    let g = g.with_isocentre(iso).unwrap();
    let e = analytic::shepp_logan_ellipsoids(fov, false);
    let s = g.sinogram_volume(analytic::sinogram(&g, &e).unwrap()).unwrap();
    let p = JosephProjector::new(&g, &grid).unwrap();
    println!("res phantom {} ", res(&p, &ph, &s));
    let t = std::time::Instant::now();
    let r = fbp(&s, &g, &FbpOptions { grid: Some(grid), ..Default::default() }).unwrap();
    println!("fbp {:.4} {:?} res {}", rmse(&r, &ph), t.elapsed(), res(&p, &r, &s));
    let o = IterativeOptions { iterations: 50, ..Default::default() };
    let t = std::time::Instant::now();
    let r = sirt(&p, &s, &o, &mut no_callback).unwrap();
    println!("sirt50 {:.4} {:?}", rmse(&r, &ph), t.elapsed());
    let t = std::time::Instant::now();
    let r = sart(&p, &s, &IterativeOptions { iterations: 5, ..o }, &mut no_callback).unwrap();
    println!("sart5 {:.4} {:?}", rmse(&r, &ph), t.elapsed());
    let t = std::time::Instant::now();
    let r = sart(&p, &s, &IterativeOptions { iterations: 10, subsets: 10, ..o }, &mut no_callback).unwrap();
    println!("ossart10x10 {:.4} {:?}", rmse(&r, &ph), t.elapsed());
    let t = std::time::Instant::now();
    let r = cgls(&p, &s, &IterativeOptions { iterations: 20, ..o }, &mut no_callback).unwrap();
    println!("cgls20 {:.4} {:?}", rmse(&r, &ph), t.elapsed());
    let t = std::time::Instant::now();
    let mut last = 0.0;
    let r = tv(
        &p,
        &s,
        &TvOptions { iterations: its, weight: w, ..Default::default() },
        &mut |i: &IterationInfo| {
            last = i.residual;
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    println!("tv{its} w{w} {:.4} {:?} res {last}", rmse(&r, &ph), t.elapsed());
}
#[allow(dead_code)]
fn res(p: &dyn Projector, x: &hounsfield_core::Volume<f32>, s: &hounsfield_core::Volume<f32>) -> f64 {
    let mut ax = vec![0.0; s.len()];
    p.forward(x.data(), &mut ax).unwrap();
    ax.iter().zip(s.data()).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt()
}
