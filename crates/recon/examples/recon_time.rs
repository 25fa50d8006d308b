//! Scratch timing.
use hounsfield_recon::ct::{analytic, fbp, FbpOptions, ScanGeometry};
fn main() {
    let g = ScanGeometry::parallel(360, 180.0, 512, 0.5).unwrap();
    let e = analytic::shepp_logan_ellipsoids(256.0, false);
    let s = g.sinogram_volume(analytic::sinogram(&g, &e).unwrap()).unwrap();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let r = fbp(&s, &g, &FbpOptions::default()).unwrap();
        println!("{:?} {}", t.elapsed(), r.data()[1000]);
    }
}
