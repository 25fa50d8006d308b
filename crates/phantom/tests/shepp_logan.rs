//! Shepp–Logan: region values, orientation, geometry, area and volume integrals.

use std::f64::consts::PI;

use hounsfield_phantom::shepp_logan::{
    shepp_logan, shepp_logan_value, SheppLoganDims, SheppLoganOptions, SheppLoganVariant, SHEPP_LOGAN,
};

use crate::common::integral;

/// Points (phantom units) well inside one region each, with the region's value in Toft's
/// units and in HU, worked out by hand from the ellipse table.
const REGIONS: [([f64; 3], f64, f64); 10] = [
    ([0.9, 0.9, 0.0], 0.0, -1000.0),   // air outside the skull
    ([0.0, 0.9, 0.0], 1.0, 1000.0),    // skull: ellipse 1 only
    ([0.5, 0.5, 0.0], 0.2, 40.0),      // brain: 1 − 0.8
    ([0.22, 0.0, 0.0], 0.0, 10.0),     // right ventricle: 1 − 0.8 − 0.2
    ([-0.22, 0.0, 0.0], 0.0, 10.0),    // left ventricle
    ([0.0, 0.35, 0.0], 0.3, 70.0),     // ellipse 5 in the brain
    ([0.0, 0.12, 0.0], 0.4, 100.0),    // ellipses 5 and 6 overlap
    ([0.0, -0.1, 0.0], 0.3, 70.0),     // ellipse 7
    ([-0.08, -0.605, 0.0], 0.3, 70.0), // ellipse 8
    ([0.06, -0.605, 0.0], 0.3, 70.0),  // ellipse 10
];

#[test]
fn region_values_2d() {
    for variant in [SheppLoganVariant::Attenuation, SheppLoganVariant::Hu] {
        let n = 256;
        let img = shepp_logan(&SheppLoganOptions { size: n, variant, ..Default::default() }).unwrap();
        for (p, att, hu) in REGIONS {
            let want = if variant == SheppLoganVariant::Hu { hu } else { att };
            // 1e-9: sums of at most four table values in f64.
            assert!((shepp_logan_value(variant, p, false) - want).abs() < 1e-9, "{p:?}");
            // The pixel whose centre is nearest: x = (2i − (N−1))/(N−1), y = ((N−1) − 2j)/(N−1).
            let i = ((p[0] + 1.0) * (n - 1) as f64 / 2.0).round() as usize;
            let j = ((1.0 - p[1]) * (n - 1) as f64 / 2.0).round() as usize;
            let v = *img.get(i, j, 0).unwrap() as f64;
            // 1e-4: f32 storage of values up to 1000.
            assert!((v - want).abs() < 1e-4 * want.abs().max(1.0), "{variant:?} {p:?}: {v} vs {want}");
        }
    }
}

#[test]
fn world_geometry_is_lps_with_rows_toward_posterior() {
    let img = shepp_logan(&SheppLoganOptions { size: 101, fov_mm: 200.0, ..Default::default() }).unwrap();
    let g = img.geometry();
    // Pixel centres at ±100 mm, spacing 2 mm; row 0 is phantom y = +1 at world y = −100.
    assert_eq!(g.spacing[0], 2.0);
    assert_eq!(img.index_to_world(0.0, 0.0, 0.0), [-100.0, -100.0, 0.0]);
    assert_eq!(img.index_to_world(100.0, 100.0, 0.0), [100.0, 100.0, 0.0]);
    // The small ellipses (phantom y ≈ −0.6) sit at the bottom rows (world y ≈ +60 mm).
    let j = ((1.0f64 + 0.606) * 50.0).round() as usize;
    assert!((img.get(50, j, 0).unwrap() - 0.3).abs() < 1e-6);
}

#[test]
fn region_values_3d() {
    let n = 65;
    let opts = SheppLoganOptions { size: n, dims: SheppLoganDims::ThreeD { depth: n }, ..Default::default() };
    let vol = shepp_logan(&opts).unwrap();
    assert_eq!(vol.dims(), [65, 65, 65]);
    // Ellipsoid 6 sits at z = 0.25 (c = 0.05), above the z = 0 plane; ellipsoid 5 (centre
    // z = −0.15) does not reach (0, 0.1, 0) in 3-D although its 2-D ellipse does.
    for (p, want) in
        [([0.0, 0.1, 0.25], 0.3), ([0.0, 0.1, 0.0], 0.2), ([0.0, 0.6, 0.0], 0.2), ([0.5, 0.5, 0.0], 0.2)]
    {
        let v = shepp_logan_value(SheppLoganVariant::Attenuation, p, true);
        assert!((v - want).abs() < 1e-9, "{p:?}: {v}");
        // Unit step 2/64 = 1/32: every point above is a voxel centre.
        let ix = p.map(|c| ((c + 1.0) * 32.0).round() as usize);
        let vv = *vol.get(ix[0], 64 - ix[1], ix[2]).unwrap() as f64;
        assert!((vv - want).abs() < 1e-6, "voxel {p:?}: {vv}");
    }
}

#[test]
fn supersampled_area_and_volume_match_the_ellipse_table() {
    // 2-D: Σ Aₖ π aₖ bₖ; the image covers N² pixels of (2/(N−1))² units.
    let n = 200;
    let img = shepp_logan(&SheppLoganOptions { size: n, supersample: 4, fov_mm: 2.0, ..Default::default() })
        .unwrap();
    let exact: f64 = SHEPP_LOGAN.iter().map(|e| e.attenuation * PI * e.semi_axes[0] * e.semi_axes[1]).sum();
    let got = integral(&img) / img.geometry().spacing[2];
    // Per boundary pixel the 4 × 4 sub-samples resolve the covered fraction to ~1/16; summed
    // over ~2000 boundary pixels with cancelling signs the error stays below 0.1 % of π.
    assert!((got - exact).abs() < 3e-3, "2-D {got} vs {exact}");
    // 3-D: Σ Aₖ (4/3) π aₖ bₖ cₖ.
    let n = 64;
    let opts = SheppLoganOptions {
        size: n,
        dims: SheppLoganDims::ThreeD { depth: n },
        supersample: 3,
        fov_mm: 2.0,
        ..Default::default()
    };
    let vol = shepp_logan(&opts).unwrap();
    let exact: f64 = SHEPP_LOGAN
        .iter()
        .map(|e| e.attenuation * 4.0 / 3.0 * PI * e.semi_axes.iter().product::<f64>())
        .sum();
    let got = integral(&vol);
    // 3³ sub-samples of 1/32-unit voxels; same argument over ~40 000 boundary voxels.
    assert!((got - exact).abs() < 3e-3, "3-D {got} vs {exact}");
}
