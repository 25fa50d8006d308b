//! Scratch check: FBP of analytic Shepp-Logan sinograms.
use hounsfield_recon::ct::{analytic, fbp, fdk, DetectorShape, FbpOptions, ScanGeometry};
fn main() {
    let n = 256usize;
    let fov = 256.0;
    let ph = hounsfield_phantom::shepp_logan(&hounsfield_phantom::SheppLoganOptions {
        size: n,
        fov_mm: fov,
        ..Default::default()
    })
    .unwrap();
    let sp = ph.geometry().spacing[0];
    let e = analytic::shepp_logan_ellipsoids(fov, false);
    let geoms = vec![
        ("parallel", ScanGeometry::parallel(360, 180.0, 400, sp).unwrap()),
        (
            "fan flat",
            ScanGeometry::fan(360, 360.0, 600, sp * 2.0, 500.0, 1000.0, DetectorShape::Flat).unwrap(),
        ),
        (
            "fan eq",
            ScanGeometry::fan(360, 360.0, 600, sp * 2.0, 500.0, 1000.0, DetectorShape::Equiangular).unwrap(),
        ),
        (
            "fan short",
            ScanGeometry::fan(300, 250.0, 600, sp * 2.0, 500.0, 1000.0, DetectorShape::Flat).unwrap(),
        ),
    ];
    for (name, g) in geoms {
        let g = g
            .with_isocentre([
                ph.geometry().origin[0] + (n / 2) as f64 * sp,
                ph.geometry().origin[1] + (n / 2) as f64 * sp,
                0.0,
            ])
            .unwrap();
        let s = g.sinogram_volume(analytic::sinogram(&g, &e).unwrap()).unwrap();
        let grid = hounsfield_recon::ct::VolumeGrid::of(&ph).unwrap();
        let t = std::time::Instant::now();
        let r = fbp(&s, &g, &FbpOptions { grid: Some(grid), ..Default::default() }).unwrap();
        let dt = t.elapsed();
        let mut se = 0.0;
        let mut c = 0;
        for j in 0..n {
            for i in 0..n {
                let (x, y) = (i as f64 - 127.5, j as f64 - 127.5);
                if x * x + y * y < 120.0 * 120.0 {
                    let d = r.get(i, j, 0).unwrap() - ph.get(i, j, 0).unwrap();
                    se += (d * d) as f64;
                    c += 1;
                }
            }
        }
        println!(
            "{name}: rmse {:.4} centre {:.3} ({:?})",
            (se / c as f64).sqrt(),
            r.get(128, 100, 0).unwrap(),
            dt
        );
    }
    // cone
    let n = 64;
    let fov = 256.0;
    let ph = hounsfield_phantom::shepp_logan(&hounsfield_phantom::SheppLoganOptions {
        size: n,
        fov_mm: fov,
        dims: hounsfield_phantom::shepp_logan::SheppLoganDims::ThreeD { depth: n },
        ..Default::default()
    })
    .unwrap();
    let sp = ph.geometry().spacing[0];
    let e = analytic::shepp_logan_ellipsoids(fov, true);
    for arc in [360.0, 230.0] {
        let g = ScanGeometry::cone(180, arc, [128, 128], sp * 2.0, 600.0, 1200.0).unwrap();
        let s = g.sinogram_volume(analytic::sinogram(&g, &e).unwrap()).unwrap();
        let grid = hounsfield_recon::ct::VolumeGrid::of(&ph).unwrap();
        let r = fdk(&s, &g, &FbpOptions { grid: Some(grid), ..Default::default() }).unwrap();
        let mut se = 0.0;
        let mut c = 0;
        for k in 16..48 {
            for j in 0..n {
                for i in 0..n {
                    let d = r.get(i, j, k).unwrap() - ph.get(i, j, k).unwrap();
                    se += (d * d) as f64;
                    c += 1;
                }
            }
        }
        println!(
            "cone {arc}: rmse {:.4} {} vs {}",
            (se / c as f64).sqrt(),
            r.get(32, 24, 32).unwrap(),
            ph.get(32, 24, 32).unwrap()
        );
    }
}
