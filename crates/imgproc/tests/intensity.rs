//! Intensity statistics against numpy.

use crate::common::{noise, Peer};
use hounsfield_imgproc::intensity::{histogram, percentiles, zscore};
use serde_json::json;

#[test]
fn statistics_equal_numpy() {
    // Noise with NaNs sprinkled in, and a mask.
    let mut v = noise(41).map(|x| x * 2000.0 - 1000.0);
    for i in (0..v.len()).step_by(97) {
        v.data_mut()[i] = f32::NAN;
    }
    let mask = noise(42).map(|&x| (x > 0.3) as u8);
    let qs = [0.0, 0.5, 2.5, 25.0, 50.0, 62.5, 99.5, 100.0];
    let peer = Peer::new();
    peer.write("v.raw", v.data());
    peer.write("m.raw", mask.data());
    let out = peer.run(
        r#"
a = load("v.raw", np.float32).astype(np.float64)
m = load("m.raw", np.uint8) != 0
save("p.raw", np.nanpercentile(a, P["qs"]))
save("pm.raw", np.nanpercentile(np.where(m, a, np.nan), P["qs"]))
fin = a[np.isfinite(a)]
h, e = np.histogram(fin, bins=37)
hr, er = np.histogram(fin, bins=10, range=(-500.0, 250.0))
save("e.raw", e)
save("er.raw", er)
sel = a[m & np.isfinite(a)]
z = ((a - sel.mean()) / sel.std()).astype(np.float32)
save("z.raw", z)
print(json.dumps({"h": h.tolist(), "hr": hr.tolist()}))
"#,
        &json!({"dims": v.dims(), "qs": qs}),
    );
    let u =
        |k: &str| -> Vec<u64> { out[k].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect() };
    // Exact: the same order statistics and the same interpolation formula in f64 (read back
    // as raw f64: JSON number parsing is not guaranteed to round-trip the last bit).
    assert_eq!(percentiles(&v, &qs, None).unwrap(), peer.read::<f64>("p.raw"));
    assert_eq!(percentiles(&v, &qs, Some(&mask)).unwrap(), peer.read::<f64>("pm.raw"));
    // Edges are exact multiples computed the same way (numpy.linspace), so compare exactly.
    let h = histogram(&v, 37, None, None).unwrap();
    assert_eq!(h.counts, u("h"));
    assert_eq!(h.edges, peer.read::<f64>("e.raw"));
    let h = histogram(&v, 10, Some((-500.0, 250.0)), None).unwrap();
    assert_eq!(h.counts, u("hr"));
    assert_eq!(h.edges, peer.read::<f64>("er.raw"));
    let z = zscore(&v, Some(&mask)).unwrap();
    let want = peer.read::<f32>("z.raw");
    for (a, b) in z.data().iter().zip(&want) {
        // 1e-5: f32 outputs of magnitude ≤ 2 computed from f64 statistics on both sides.
        assert!(a.is_nan() && b.is_nan() || (a - b).abs() < 1e-5, "{a} vs {b}");
    }
}
