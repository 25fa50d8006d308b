//! Binary morphology and hole filling against scipy.ndimage.

use crate::common::{blob_mask, test_geometry, Peer};
use hounsfield_core::Volume;
use hounsfield_imgproc::morphology::{close, dilate, erode, fill_holes, fill_holes_slices, open};
use hounsfield_imgproc::{Axis, ImgprocError};
use serde_json::json;

#[test]
fn ball_morphology_equals_scipy() {
    let (dims, _) = test_geometry();
    let mask = blob_mask(21, 50.0);
    let peer = Peer::new();
    peer.write("mask.raw", mask.data());
    let radii = [[2usize, 1, 1], [3, 2, 1], [1, 3, 2]];
    peer.run(
        r#"
from scipy import ndimage
m = load("mask.raw", np.uint8).astype(bool)
for n, (rx, ry, rz) in enumerate(P["radii"]):
    z, y, x = np.mgrid[-rz:rz + 1, -ry:ry + 1, -rx:rx + 1]
    # Integer form of (x/rx)^2 + (y/ry)^2 + (z/rz)^2 <= 1.
    se = x * x * ry * ry * rz * rz + y * y * rx * rx * rz * rz + z * z * rx * rx * ry * ry <= (rx * ry * rz) ** 2
    d = ndimage.binary_dilation(m, se)
    e = ndimage.binary_erosion(m, se, border_value=1)
    o = ndimage.binary_dilation(ndimage.binary_erosion(m, se, border_value=1), se)
    pad = ((rz, rz), (ry, ry), (rx, rx))
    c = ndimage.binary_erosion(ndimage.binary_dilation(np.pad(m, pad), se), se, border_value=1)
    c = c[rz:-rz, ry:-ry, rx:-rx]
    for name, a in (("d", d), ("e", e), ("o", o), ("c", c)):
        save(f"{name}{n}.raw", a.astype(np.uint8))
"#,
        &json!({"dims": dims, "radii": radii}),
    );
    for (n, r) in radii.iter().enumerate() {
        type Op = fn(&Volume<u8>, [usize; 3]) -> Result<Volume<u8>, ImgprocError>;
        let ops: [(&str, Op); 4] = [("d", dilate), ("e", erode), ("o", open), ("c", close)];
        for (name, op) in ops {
            let ours = op(&mask, *r).unwrap();
            let want = peer.read::<u8>(&format!("{name}{n}.raw"));
            let diff = ours.data().iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(diff, 0, "{name} radius {r:?}: {diff} voxels differ");
        }
    }
}

#[test]
fn hole_filling_equals_scipy() {
    let (dims, _) = test_geometry();
    // Dense foreground: many enclosed background pockets.
    let mask = blob_mask(31, 40.0);
    let peer = Peer::new();
    peer.write("mask.raw", mask.data());
    peer.run(
        r#"
from scipy import ndimage
m = load("mask.raw", np.uint8).astype(bool)
save("f3.raw", ndimage.binary_fill_holes(m).astype(np.uint8))
save("f2.raw", np.stack([ndimage.binary_fill_holes(s) for s in m]).astype(np.uint8))
"#,
        &json!({"dims": dims}),
    );
    let f3 = fill_holes(&mask).unwrap();
    let want3 = peer.read::<u8>("f3.raw");
    assert!(want3.iter().zip(mask.data()).any(|(a, b)| a != b), "no hole to fill in the test mask");
    assert_eq!(f3.data(), &want3[..]);
    let f2 = fill_holes_slices(&mask, Axis::Z).unwrap();
    assert_eq!(f2.data(), &peer.read::<u8>("f2.raw")[..]);
}
