//! Euclidean distance transforms against scipy.

use crate::common::{blob_mask, max_abs_diff, test_geometry, Peer};
use hounsfield_imgproc::distance::{distance_to_background, distance_to_foreground, signed_distance};
use serde_json::json;

#[test]
fn edt_equals_scipy_with_anisotropic_spacing() {
    let (dims, g) = test_geometry();
    let mask = blob_mask(1, 50.0);
    let frac = mask.data().iter().filter(|&&v| v != 0).count() as f64 / mask.len() as f64;
    assert!((0.2..0.8).contains(&frac), "foreground fraction {frac}");
    let peer = Peer::new();
    peer.write("mask.raw", mask.data());
    peer.run(
        r#"
from scipy import ndimage
m = load("mask.raw", np.uint8)
sp = P["spacing"][::-1]
save("bg.raw", ndimage.distance_transform_edt(m, sampling=sp).astype(np.float32))
save("fg.raw", ndimage.distance_transform_edt(m == 0, sampling=sp).astype(np.float32))
"#,
        &json!({"dims": dims, "spacing": g.spacing}),
    );
    let bg = distance_to_background(&mask).unwrap();
    let fg = distance_to_foreground(&mask).unwrap();
    // 1e-4 mm: the task's bound; both sides are exact up to f32 rounding of ~30 mm.
    let e_bg = max_abs_diff(bg.data(), &peer.read::<f32>("bg.raw"));
    let e_fg = max_abs_diff(fg.data(), &peer.read::<f32>("fg.raw"));
    assert!(e_bg < 1e-4 && e_fg < 1e-4, "max |Δ| to background {e_bg} mm, to foreground {e_fg} mm");
    let s = signed_distance(&mask).unwrap();
    for i in 0..mask.len() {
        let want = if mask.data()[i] != 0 { -bg.data()[i] } else { fg.data()[i] };
        assert_eq!(s.data()[i], want);
    }
}
