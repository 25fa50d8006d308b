//! FBP and FDK of exact (analytic) Shepp–Logan sinograms against the phantom crate's sampled
//! phantom: the two describe the same object, and nobody here computed the sinograms with
//! the code under test.

use hounsfield_phantom::shepp_logan::SheppLoganDims;
use hounsfield_phantom::{shepp_logan, SheppLoganOptions};
use hounsfield_recon::ct::{
    analytic, fbp, fdk, fdk_streamed, DetectorShape, FbpOptions, Filter, ScanGeometry, VolumeGrid,
};

use crate::common::rmse_disc;

#[test]
fn fbp_of_every_2d_geometry_recovers_the_phantom() {
    let n = 128;
    let ph = shepp_logan(&SheppLoganOptions { size: n, fov_mm: 256.0, supersample: 4, ..Default::default() })
        .unwrap();
    let s = ph.geometry().spacing[0];
    let grid = VolumeGrid::of(&ph).unwrap();
    // Rotation axis on pixel n/2 (the phantom's centre is at (n − 1)/2: half a pixel off, a
    // physical offset every geometry must handle).
    let iso = ph.geometry().index_to_world([(n / 2) as f64, (n / 2) as f64, 0.0]);
    let e = analytic::shepp_logan_ellipsoids(256.0, false);
    let geoms = [
        ("parallel 180°", ScanGeometry::parallel(256, 180.0, 192, s).unwrap()),
        ("parallel 360°", ScanGeometry::parallel(360, 360.0, 192, s).unwrap()),
        ("fan flat", ScanGeometry::fan(360, 360.0, 256, 2.0 * s, 400.0, 800.0, DetectorShape::Flat).unwrap()),
        (
            "fan equiangular",
            ScanGeometry::fan(360, 360.0, 256, 2.0 * s, 400.0, 800.0, DetectorShape::Equiangular).unwrap(),
        ),
        (
            "fan short scan",
            ScanGeometry::fan(300, 250.0, 256, 2.0 * s, 400.0, 800.0, DetectorShape::Flat).unwrap(),
        ),
    ];
    for (name, g) in geoms {
        let g = g.with_isocentre(iso).unwrap();
        let sino = g.sinogram_volume(analytic::sinogram(&g, &e).unwrap()).unwrap();
        let rec = fbp(
            &sino,
            &g,
            &FbpOptions { grid: Some(grid), filter: Filter::SheppLogan, ..Default::default() },
        )
        .unwrap();
        let err = rmse_disc(&rec, ph.data(), 58.0);
        // 0.04: the residual error of FBP at 2 mm pixels is the blur of the skull's unit
        // step (Gibbs and partial volume); a wrong weight or orientation gives > 0.1.
        assert!(err < 0.04, "{name}: rmse {err}");
    }
    // Short scans without enough arc are refused, not silently wrong.
    let g = ScanGeometry::fan(100, 190.0, 256, 2.0 * s, 400.0, 800.0, DetectorShape::Flat).unwrap();
    let sino = g.sinogram_volume(vec![0.0; g.sinogram_len()]).unwrap();
    assert!(fbp(&sino, &g, &FbpOptions::default()).is_err());
}

#[test]
fn fdk_recovers_the_3d_phantom_and_streams() {
    let n = 48;
    let ph = shepp_logan(&SheppLoganOptions {
        size: n,
        fov_mm: 256.0,
        dims: SheppLoganDims::ThreeD { depth: n },
        supersample: 2,
        ..Default::default()
    })
    .unwrap();
    let grid = VolumeGrid::of(&ph).unwrap();
    let s = ph.geometry().spacing[0];
    let e = analytic::shepp_logan_ellipsoids(256.0, true);
    let centre_slices = |v: &hounsfield_core::Volume<f32>| -> f64 {
        // Central third of the slices (the cone's data are complete there), inside the brain
        // (phantom units (x/0.6)² + (y/0.8)² < 1): the 3.5 mm skull is thinner than a 5.4 mm
        // voxel, and its partial volume would dominate any error measure.
        let (mut se, mut m) = (0.0, 0usize);
        for k in n / 3..2 * n / 3 {
            for j in 0..n {
                for i in 0..n {
                    let (x, y) =
                        (2.0 * i as f64 / (n - 1) as f64 - 1.0, 2.0 * j as f64 / (n - 1) as f64 - 1.0);
                    if (x / 0.6).powi(2) + (y / 0.8).powi(2) < 1.0 {
                        let o = i + n * (j + n * k);
                        se += ((v.data()[o] - ph.data()[o]) as f64).powi(2);
                        m += 1;
                    }
                }
            }
        }
        (se / m as f64).sqrt()
    };
    for arc in [360.0, 240.0] {
        let g = ScanGeometry::cone(120, arc, [96, 96], 2.0 * s, 500.0, 1000.0).unwrap();
        let sino = g.sinogram_volume(analytic::sinogram(&g, &e).unwrap()).unwrap();
        let rec =
            fdk(&sino, &g, &FbpOptions { grid: Some(grid), filter: Filter::Hann, ..Default::default() })
                .unwrap();
        let err = centre_slices(&rec);
        // 0.04: the small ellipses (5–12 mm) are 1–2 voxels wide at 5.4 mm; a wrong cone
        // weight, Parker weight or row direction gives > 0.1.
        assert!(err < 0.04, "arc {arc}: rmse {err}");
        if arc == 360.0 {
            // Streaming the projections one view at a time gives the same volume.
            let streamed = fdk_streamed(
                &g,
                &FbpOptions { grid: Some(grid), filter: Filter::Hann, ..Default::default() },
                |v, out| {
                    let (nc, nr) = (g.cols(), g.rows());
                    for r in 0..nr {
                        analytic::view_row(&g, &e, v, r, &mut out[r * nc..(r + 1) * nc]);
                    }
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(streamed.data(), rec.data());
        }
    }
}
