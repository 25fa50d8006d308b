//! Label volumes of rendered shapes against the shapes' analytic volumes.

use std::f64::consts::PI;

use hounsfield_core::Geometry;
use hounsfield_phantom::scene::{Grid, RenderOptions, Scene};
use hounsfield_phantom::shapes::{rotation, Shape};

use crate::common::{count, ellipsoid_area, integral};

/// Renders one shape with label 1 on `grid`, supersampled 4×: returns the centre-label volume
/// and the partial-volume (fraction-inside) volume, both in mm³.
fn volumes(shape: Shape, grid: &Grid) -> (f64, f64) {
    let mut s = Scene::new();
    s.push(1, shape);
    let r = s.render(grid, &RenderOptions::supersampled(4), &[&[0.0, 1.0]]).unwrap();
    (count(&r.labels, 1) as f64 * grid.geometry.voxel_volume(), integral(&r.images[0]))
}

/// Tolerances (mm³) for a surface of `area` mm² on voxels of volume `v`: only the
/// N ≈ area/h² voxels the surface cuts can be wrong. A cut voxel's centre-sampling error is
/// about uniform in ±½ voxel (variance 1/12), its 4³-sub-sample error in ±⅛ voxel (variance
/// 1/192), independently for a shape in general position; each tolerance is five standard
/// deviations of the sum.
fn tolerances(area: f64, v: f64) -> (f64, f64) {
    let n = area / v.powf(2.0 / 3.0);
    (5.0 * (n / 12.0).sqrt() * v, 5.0 * (n / 192.0).sqrt() * v)
}

/// A grid of `dims` voxels with `spacing` and `direction` whose centre is the world origin.
fn centred(dims: [usize; 3], spacing: [f64; 3], direction: [[f64; 3]; 3]) -> Grid {
    let g = Geometry { origin: [0.0; 3], spacing, direction };
    let c = g.index_to_world(dims.map(|d| (d as f64 - 1.0) / 2.0));
    Grid::new(dims, Geometry { origin: c.map(|x| -x), ..g })
}

#[test]
fn ellipsoid_volume_matches_four_thirds_pi_abc() {
    let (a, b, c) = (17.0, 12.0, 9.0);
    let exact = 4.0 / 3.0 * PI * a * b * c;
    let area = ellipsoid_area(a, b, c);
    let shape = Shape::ellipsoid([0.3, -0.7, 0.2], [a, b, c], rotation([0.3, -0.2, 0.5]));
    // 1 mm isotropic, and an oblique anisotropic grid: the same object on both.
    let iso = Grid::cube(48, 48.0).unwrap();
    let (s, cs) = (30f64.to_radians().sin(), 30f64.to_radians().cos());
    let oblique = centred([60, 50, 48], [0.8, 1.1, 0.9], [[cs, -s, 0.0], [s, cs, 0.0], [0.0, 0.0, 1.0]]);
    for grid in [iso, oblique] {
        let (tl, tp) = tolerances(area, grid.geometry.voxel_volume());
        let (labels, pv) = volumes(shape.clone(), &grid);
        assert!((labels - exact).abs() < tl, "labels {labels} vs {exact} (± {tl})");
        assert!((pv - exact).abs() < tp, "partial volume {pv} vs {exact} (± {tp})");
    }
}

#[test]
fn capsule_volume_is_cylinder_plus_sphere() {
    let (r, len) = (4.0, 20.0);
    let exact = PI * r * r * len + 4.0 / 3.0 * PI * r * r * r;
    let area = 2.0 * PI * r * len + 4.0 * PI * r * r;
    let grid = Grid::cube(40, 40.0).unwrap();
    // General position (no axis-aligned symmetry for the lattice to alias with).
    let a = [-8.13, -3.37, 2.29];
    let d = [15.7, 11.2, -4.4];
    let n: f64 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    let d = d.map(|x| x * len / n.sqrt());
    let shape = Shape::tapered_capsule(a, [a[0] + d[0], a[1] + d[1], a[2] + d[2]], r, r);
    let (labels, pv) = volumes(shape, &grid);
    let (tl, tp) = tolerances(area, 1.0);
    assert!((labels - exact).abs() < tl, "labels {labels} vs {exact} (± {tl})");
    assert!((pv - exact).abs() < tp, "partial volume {pv} vs {exact} (± {tp})");
}

#[test]
fn flat_ended_superquadric_volume() {
    // (x²/a² + y²/b²)³ + (z/c)⁶ ≤ 1: cross-section area π a b (1 − |z/c|⁶)^(1/3), so
    // V = π a b c · 2∫₀¹ (1 − u⁶)^(1/3) du; the 1-D integral by the midpoint rule.
    let (a, b, c) = (14.0, 10.0, 8.0);
    let n = 200_000;
    let integral_1d: f64 =
        (0..n).map(|i| (1.0 - ((i as f64 + 0.5) / n as f64).powi(6)).cbrt()).sum::<f64>() / n as f64;
    let exact = PI * a * b * c * 2.0 * integral_1d;
    // Surface: the side band and two near-flat caps, bounded by the enclosing cylinder's.
    let area = 2.0 * PI * ((a * a + b * b) / 2.0).sqrt() * 2.0 * c + 2.0 * PI * a * b;
    let grid = Grid::cube(36, 36.0).unwrap();
    let shape = Shape::superquadric([0.41, 0.13, -0.27], [a, b, c], rotation([0.0, 0.2, 0.4]), 2.0, 6.0);
    let (labels, pv) = volumes(shape, &grid);
    let (tl, tp) = tolerances(area, 1.0);
    assert!((labels - exact).abs() < tl, "labels {labels} vs {exact} (± {tl})");
    assert!((pv - exact).abs() < tp, "partial volume {pv} vs {exact} (± {tp})");
}

#[test]
fn later_parts_paint_over_earlier_ones() {
    // A small sphere painted inside a big one: label 1 holds the shell, label 2 the core.
    let mut s = Scene::new();
    let c = [0.31, -0.17, 0.23];
    s.push(1, Shape::sphere(c, 12.0));
    s.push(2, Shape::sphere(c, 6.0));
    let grid = Grid::cube(32, 32.0).unwrap();
    let r = s.render(&grid, &RenderOptions::supersampled(4), &[&[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0]]).unwrap();
    let (v1, v2) = (integral(&r.images[0]), integral(&r.images[1]));
    let (e1, e2) = (4.0 / 3.0 * PI * (12f64.powi(3) - 6f64.powi(3)), 4.0 / 3.0 * PI * 6f64.powi(3));
    let (_, t1) = tolerances(4.0 * PI * (144.0 + 36.0), 1.0);
    let (_, t2) = tolerances(4.0 * PI * 36.0, 1.0);
    assert!((v1 - e1).abs() < t1, "{v1} vs {e1}");
    assert!((v2 - e2).abs() < t2, "{v2} vs {e2}");
}
