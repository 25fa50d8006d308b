//! Connected components against SimpleITK and scipy.

use crate::common::{blob_mask, test_geometry, Peer};
use hounsfield_imgproc::components::{connected_components, largest_component, Connectivity};
use serde_json::json;
use std::collections::HashMap;

/// True when `a` and `b` induce the same partition (a bijection between their labels).
fn same_partition(a: &[u16], b: &[u32]) -> bool {
    let (mut ab, mut ba) = (HashMap::new(), HashMap::new());
    a.iter().zip(b).all(|(&x, &y)| {
        (x == 0) == (y == 0) && *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x
    })
}

#[test]
fn components_equal_simpleitk_and_scipy() {
    let (dims, _) = test_geometry();
    let mask = blob_mask(11, 58.0);
    let peer = Peer::new();
    peer.write("mask.raw", mask.data());
    peer.run(
        r#"
from scipy import ndimage
m = load("mask.raw", np.uint8)
img = sitk.GetImageFromArray(m)
for name, full in (("c26", True), ("c6", False)):
    r = sitk.RelabelComponent(sitk.ConnectedComponent(img, full), sortByObjectSize=True)
    save(name + ".raw", sitk.GetArrayFromImage(r).astype(np.uint32))
lab, n = ndimage.label(m, structure=ndimage.generate_binary_structure(3, 2))
save("c18.raw", lab.astype(np.uint32))
"#,
        &json!({"dims": dims}),
    );
    for (name, conn) in
        [("c26", Connectivity::TwentySix), ("c6", Connectivity::Six), ("c18", Connectivity::Eighteen)]
    {
        let c = connected_components(&mask, conn).unwrap();
        let want = peer.read::<u32>(&format!("{name}.raw"));
        assert!(c.count() > 5, "{name}: only {} components", c.count());
        assert!(same_partition(c.labels.data(), &want), "{name}: partitions differ");
        if name != "c18" {
            // RelabelComponent sorts by size and breaks ties by raster order, as we do.
            let ours: Vec<u32> = c.labels.data().iter().map(|&v| v as u32).collect();
            assert_eq!(ours, want, "{name}: labels differ");
        }
        let largest = largest_component(&mask, conn).unwrap();
        assert!(largest.data().iter().zip(c.labels.data()).all(|(&l, &v)| (l == 1) == (v == 1)));
    }
}
