//! Random diffeomorphisms: forward ∘ inverse = identity, positive Jacobians, warping.

use hounsfield_core::linalg;
use hounsfield_core::{DisplacementField, Transform};
use hounsfield_phantom::deform::{jacobian_determinant, random_deformation, warp_image, warp_labels};
use hounsfield_phantom::scene::{Grid, RenderOptions, Scene};
use hounsfield_phantom::shapes::Shape;
use hounsfield_phantom::DeformationOptions;

/// Largest |b(a(x)) − x| in voxels over voxel centres at least `margin` voxels from the border.
fn max_round_trip(a: &DisplacementField, b: &DisplacementField, margin: usize) -> f64 {
    let [nx, ny, nz] = a.dims();
    let g = *a.geometry();
    let mut worst = 0.0f64;
    for k in margin..nz - margin {
        for j in margin..ny - margin {
            for i in margin..nx - margin {
                let x = g.index_to_world([i as f64, j as f64, k as f64]);
                let y = b.transform_point(a.transform_point(x));
                let e = (0..3).map(|c| ((y[c] - x[c]) / g.spacing[c]).abs()).fold(0.0, f64::max);
                worst = worst.max(e);
            }
        }
    }
    worst
}

#[test]
fn forward_and_inverse_compose_to_identity() {
    // 40³ voxels of 2 mm, displacements up to 6 mm (3 voxels), control points every 24 mm.
    let grid = Grid::cube(40, 80.0).unwrap();
    let opts = DeformationOptions { magnitude_mm: 6.0, control_spacing_mm: 24.0 };
    let d = random_deformation(&grid, &opts, 17).unwrap();
    let max_disp = d.forward.data().iter().map(|v| linalg::norm(v.map(|c| c as f64))).fold(0.0, f64::max);
    assert!(max_disp > 3.0 && max_disp < 12.0, "forward displacement {max_disp} mm");
    // Interior: beyond the largest displacement (3 voxels) plus a voxel, the border clamp of
    // the fields cannot reach.
    let margin = 5;
    let fi = max_round_trip(&d.inverse, &d.forward, margin);
    let if_ = max_round_trip(&d.forward, &d.inverse, margin);
    // The requirement: within 0.1 voxel.
    assert!(fi < 0.1 && if_ < 0.1, "round trips {fi} and {if_} voxels");
}

#[test]
fn jacobian_determinants_are_positive() {
    let grid = Grid::cube(32, 96.0).unwrap();
    // A strong field: 10 mm over 30 mm control spacing still folds nothing.
    let opts = DeformationOptions { magnitude_mm: 10.0, control_spacing_mm: 30.0 };
    let d = random_deformation(&grid, &opts, 3).unwrap();
    for f in [&d.forward, &d.inverse] {
        let j = jacobian_determinant(f).unwrap();
        let (lo, hi, mean) = j.min_max_mean();
        assert!(lo > 0.0, "folding: min Jacobian {lo}");
        assert!(hi > 1.05 && lo < 0.95, "the field deforms: {lo}..{hi}");
        // Volume is roughly preserved on average for a random stationary field.
        assert!((mean - 1.0).abs() < 0.1, "mean Jacobian {mean}");
    }
}

#[test]
fn warping_a_rendered_sphere_matches_rendering_the_warped_scene() {
    // Ground truth two ways: warp the rendered label map with the field (nearest), or set
    // the field as the scene's warp and render exactly. They may differ only on the surface.
    let grid = Grid::cube(40, 80.0).unwrap();
    let d = random_deformation(&grid, &DeformationOptions { magnitude_mm: 5.0, control_spacing_mm: 30.0 }, 2)
        .unwrap();
    let mut s = Scene::new();
    s.push(1, Shape::ellipsoid([2.0, -3.0, 1.0], [20.0, 15.0, 12.0], hounsfield_core::linalg::IDENTITY3));
    let labels = s.render_labels(&grid, &RenderOptions::default()).unwrap();
    let warped = warp_labels(&labels, &d.forward, 0).unwrap();
    let mut sw = s.clone();
    sw.set_warp(d.forward.clone());
    let exact = sw.render_labels(&grid, &RenderOptions::default()).unwrap();
    let differ = warped.data().iter().zip(exact.data()).filter(|(a, b)| a != b).count();
    let inside = exact.data().iter().filter(|&&l| l == 1).count();
    // Nearest-neighbour warping moves the boundary by at most half a voxel: under 15 % of the
    // object's voxels (its surface layer is ~25 % of them at this size).
    assert!(differ * 100 < 15 * inside, "{differ} of {inside}");
    // Linear warping of an image with the same field agrees in the interior.
    let img = labels.as_volume().cast::<f32>();
    let wi = warp_image(&img, &d.forward, 0.0).unwrap();
    let agree = wi.data().iter().zip(exact.data()).filter(|(v, &l)| (**v >= 0.5) == (l == 1)).count() as f64
        / wi.len() as f64;
    assert!(agree > 0.97, "{agree}");
}
