//! The projector conformance suite: every projector × geometry is an exact adjoint pair
//! (⟨Ax, y⟩ = ⟨x, Aᵀy⟩ within 1e-4 relative, accumulated in f64, on random x, y) and puts a
//! point object where the geometry says.

use hounsfield_core::Geometry;
use hounsfield_recon::ct::{
    DetectorShape, GeometrySpec, JosephProjector, Projector, ScanGeometry, VolumeGrid,
};
use rand::{Rng, SeedableRng};

fn cases() -> Vec<(&'static str, ScanGeometry, VolumeGrid)> {
    let g2 = VolumeGrid::centred([30, 26, 1], [1.2, 1.2, 1.0], [2.0, -3.0, 0.0]).unwrap();
    let g3 = VolumeGrid::centred([20, 18, 16], [1.5, 1.5, 1.25], [0.0, 1.0, 2.0]).unwrap();
    let (c, s) = (25f64.to_radians().cos(), 25f64.to_radians().sin());
    let oblique = VolumeGrid::new(
        [18, 16, 14],
        Geometry {
            origin: [-12.0, -10.0, -8.0],
            spacing: [1.4, 1.3, 1.2],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        },
    )
    .unwrap();
    let stack = ScanGeometry::from_spec(GeometrySpec {
        views: Some(15),
        arc_deg: Some(180.0),
        detector_count: 40,
        detector_spacing_mm: 1.0,
        detector_rows: Some(14),
        detector_row_spacing_mm: Some(1.25),
        ..Default::default()
    })
    .unwrap();
    let angles = ScanGeometry::from_toml_str(
        "kind = \"fan\"\nangles_deg = [3, 41, 97, 180, 250, 333]\ndetector_count = 45\ndetector_spacing_mm = 1.7\nsource_isocentre_mm = 80\nsource_detector_mm = 150\ndetector_offset_mm = 2.5",
    )
    .unwrap();
    vec![
        ("parallel 2-D", ScanGeometry::parallel(23, 180.0, 41, 1.0).unwrap(), g2),
        ("fan flat", ScanGeometry::fan(19, 360.0, 47, 1.9, 70.0, 140.0, DetectorShape::Flat).unwrap(), g2),
        (
            "fan equiangular",
            ScanGeometry::fan(17, 250.0, 51, 2.1, 70.0, 130.0, DetectorShape::Equiangular).unwrap(),
            g2,
        ),
        ("fan angle list", angles, g2),
        ("cone", ScanGeometry::cone(13, 360.0, [36, 30], 2.0, 90.0, 160.0).unwrap(), g3),
        ("cone oblique grid", ScanGeometry::cone(11, 200.0, [40, 34], 2.2, 90.0, 170.0).unwrap(), oblique),
        ("parallel stack", stack, g3),
    ]
}

#[test]
fn every_projector_is_an_exact_adjoint() {
    for (seed, (name, scan, grid)) in cases().into_iter().enumerate() {
        let p = JosephProjector::new(&scan, &grid).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed as u64);
        let x: Vec<f32> = (0..grid.len()).map(|_| rng.gen::<f32>()).collect();
        let y: Vec<f32> = (0..scan.sinogram_len()).map(|_| rng.gen::<f32>()).collect();
        let mut ax = vec![0.0; y.len()];
        let mut aty = vec![0.0; x.len()];
        p.forward(&x, &mut ax).unwrap();
        p.back(&y, &mut aty).unwrap();
        let l: f64 = ax.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
        let r: f64 = x.iter().zip(&aty).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!(l > 0.0, "{name}: nothing projected");
        // 1e-4: the bound; f32 products summed per ray and per voxel.
        assert!((l - r).abs() / l < 1e-4, "{name}: ⟨Ax,y⟩ = {l}, ⟨x,Aᵀy⟩ = {r}");
        // Subsets of views are adjoint too (OS methods rely on it).
        let sub: Vec<usize> = (0..scan.views()).step_by(3).collect();
        let mut axs = vec![0.0; y.len()];
        p.forward_views(&x, &mut axs, &sub).unwrap();
        p.back_views(&y, &mut aty, &sub).unwrap();
        let nc = scan.cols();
        let l: f64 = axs
            .chunks(nc)
            .zip(y.chunks(nc))
            .enumerate()
            .filter(|(line, _)| sub.contains(&(line % scan.views())))
            .flat_map(|(_, (a, b))| a.iter().zip(b).map(|(a, b)| *a as f64 * *b as f64))
            .sum();
        let r: f64 = x.iter().zip(&aty).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!((l - r).abs() / l < 1e-4, "{name} subset: {l} vs {r}");
    }
}

#[test]
fn a_point_projects_where_the_geometry_says() {
    for (name, scan, grid) in cases() {
        let p = JosephProjector::new(&scan, &grid).unwrap();
        // One bright voxel off-centre; its world position from the grid.
        let [nx, ny, nz] = grid.dims;
        let idx = [nx / 2 + 4, ny / 2 - 3, nz / 2 + nz.min(3) / 2];
        let mut x = vec![0.0f32; grid.len()];
        x[idx[0] + nx * (idx[1] + ny * idx[2])] = 1.0;
        let mut w = grid.geometry.index_to_world(idx.map(|v| v as f64));
        if !scan.is_3d() {
            w[2] = scan.isocentre()[2];
        }
        let mut s = vec![0.0f32; scan.sinogram_len()];
        p.forward(&x, &mut s).unwrap();
        let (nc, nv, nr) = (scan.cols(), scan.views(), scan.rows());
        for view in 0..nv {
            // Centroid of the view's projection.
            let (mut m, mut cu, mut cv) = (0.0f64, 0.0f64, 0.0f64);
            for r in 0..nr {
                for k in 0..nc {
                    let v = s[k + nc * (view + nv * r)] as f64;
                    m += v;
                    cu += v * k as f64;
                    cv += v * r as f64;
                }
            }
            assert!(m > 0.0, "{name} view {view}: point not seen");
            let (ku, kv) = scan.project_point(view, w).unwrap();
            // 0.35 column/row: the footprint of a voxel with linear interpolation is
            // symmetric about its centre up to the sampling of the rays (≲ a third of a bin).
            assert!((cu / m - ku).abs() < 0.35, "{name} view {view}: column {} vs {ku}", cu / m);
            if nr > 1 {
                assert!((cv / m - kv).abs() < 0.35, "{name} view {view}: row {} vs {kv}", cv / m);
            }
        }
    }
}
