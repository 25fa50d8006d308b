//! Reorientation against SimpleITK DICOMOrient.

use crate::common::{geo_json, noise, Peer};
use hounsfield_imgproc::grid::reorient;
use serde_json::json;

#[test]
fn reorient_equals_simpleitk_dicomorient() {
    let v = noise(51);
    let codes = ["RAS", "LPI", "SAR", "PLS", "IRA"];
    let peer = Peer::new();
    peer.write("v.raw", v.data());
    let out = peer.run(
        r#"
img = image(load("v.raw", np.float32), P["geo"])
res = {}
for c in P["codes"]:
    r = sitk.DICOMOrient(img, c)
    save(c + ".raw", sitk.GetArrayFromImage(r))
    res[c] = {"size": r.GetSize(), "origin": r.GetOrigin(), "spacing": r.GetSpacing(), "direction": r.GetDirection()}
print(json.dumps(res))
"#,
        &json!({"dims": v.dims(), "geo": geo_json(v.geometry()), "codes": codes}),
    );
    for c in codes {
        let r = reorient(&v, c).unwrap();
        let want = &out[c];
        let nums = |k: &str| -> Vec<f64> {
            want[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
        };
        let size: Vec<usize> = nums("size").iter().map(|&s| s as usize).collect();
        assert_eq!(r.dims().to_vec(), size, "{c}");
        let g = r.geometry();
        let ours: Vec<f64> =
            g.origin.iter().chain(&g.spacing).chain(&g.direction_row_major()).copied().collect();
        let theirs: Vec<f64> = [nums("origin"), nums("spacing"), nums("direction")].concat();
        for (a, b) in ours.iter().zip(&theirs) {
            // 1e-9 mm: the same few f64 operations on coordinates of tens of mm.
            assert!((a - b).abs() < 1e-9, "{c}: geometry {ours:?} vs {theirs:?}");
        }
        assert_eq!(r.data(), &peer.read::<f32>(&format!("{c}.raw"))[..], "{c}: voxels");
    }
}
