//! Resampling against SimpleITK's ResampleImageFilter.

use crate::common::{geo_json, max_abs_diff, smooth_random, Peer};
use hounsfield_core::{AffineTransform, Geometry, Transform};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::resample;
use serde_json::json;

/// A transform that hides its affinity: forces the voxel-by-voxel path.
#[derive(Debug)]
struct Opaque(AffineTransform);
impl Transform for Opaque {
    fn transform_point(&self, p: [f64; 3]) -> [f64; 3] {
        self.0.transform_point(p)
    }
}

#[test]
fn resample_equals_simpleitk_for_every_interpolator() {
    let input = smooth_random(7);
    let d = input.dims();
    let centre =
        input.index_to_world((d[0] - 1) as f64 / 2.0, (d[1] - 1) as f64 / 2.0, (d[2] - 1) as f64 / 2.0);
    // Output grid: other spacing and direction, centred near the input, a little larger so
    // that some output voxels fall outside (default value).
    let a = 0.5f64;
    let out_dims = [31, 29, 27];
    let mut out_g = Geometry {
        origin: [0.0; 3],
        spacing: [1.4, 1.2, 1.6],
        direction: [[a.cos(), 0.0, a.sin()], [0.0, 1.0, 0.0], [-a.sin(), 0.0, a.cos()]],
    };
    let half = out_g.index_to_world_affine().apply_vector([15.0, 14.0, 13.0]);
    out_g.origin = [centre[0] - half[0], centre[1] - half[1], centre[2] - half[2]];
    let mut t = AffineTransform::rigid_euler([0.05, -0.08, 0.12], [2.0, -1.5, 3.0], centre);
    t.matrix[0][1] += 0.03; // a little shear: a general affine, not only a rigid one
    t.matrix[2][2] *= 1.05;

    let peer = Peer::new();
    peer.write("in.raw", input.data());
    let params = json!({
        "dims": d, "in": geo_json(input.geometry()), "out_dims": out_dims, "out": geo_json(&out_g),
        "matrix": t.matrix.as_flattened(), "translation": t.translation, "center": t.center,
    });
    peer.run(
        r#"
img = image(load("in.raw", np.float32), P["in"])
ref = sitk.Image(P["out_dims"], sitk.sitkFloat32)
ref.SetSpacing(P["out"]["spacing"]); ref.SetOrigin(P["out"]["origin"]); ref.SetDirection(P["out"]["direction"])
t = sitk.AffineTransform(3)
t.SetMatrix(P["matrix"]); t.SetTranslation(P["translation"]); t.SetCenter(P["center"])
for name, interp in (("nearest", sitk.sitkNearestNeighbor), ("linear", sitk.sitkLinear), ("bspline", sitk.sitkBSpline)):
    r = sitk.Resample(img, ref, t, interp, -7.0, sitk.sitkFloat32)
    save(name + ".raw", sitk.GetArrayFromImage(r))
"#,
        &params,
    );
    for (name, interp, tol) in [
        // 1e-4: the task's bound; both sides interpolate in f64 and store f32 (values 0..100).
        ("nearest", Interpolation::Nearest, 1e-4),
        ("linear", Interpolation::Linear, 1e-4),
        // 1e-3: the task's bound; our coefficients are f32, ITK's f64.
        ("bspline", Interpolation::BSpline3, 1e-3),
    ] {
        let want = peer.read::<f32>(&format!("{name}.raw"));
        let outside = want.iter().filter(|&&v| v == -7.0).count();
        assert!(outside > 100 && outside < want.len() / 2, "{name}: {outside} voxels outside");
        for tr in [&t as &dyn Transform, &Opaque(t)] {
            let r = resample(&input, out_dims, &out_g, tr, interp, -7.0).unwrap();
            let e = max_abs_diff(r.data(), &want);
            assert!(e < tol, "{name}: max |Δ| = {e}");
        }
    }
}
