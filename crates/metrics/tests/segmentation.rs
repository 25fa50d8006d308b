//! Segmentation metrics against an independent scipy implementation of MONAI's definitions
//! (`get_mask_edges` = `binary_erosion` XOR mask, `distance_transform_edt` with the spacing,
//! linear quantile, concatenated mean, surface Dice counts). `bench/segmentation_metrics.py`
//! compares with MONAI itself.

use hounsfield_core::{Geometry, LabelVolume, Volume};
use hounsfield_metrics::segmentation::{evaluate, SegmentationOptions};

use crate::common::py_json;

const SCRIPT: &str = r#"
import sys, json, numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt
shape = tuple(int(s) for s in sys.argv[3].split(','))
sp = tuple(float(s) for s in sys.argv[4].split(','))
tol = float(sys.argv[5])
p_all = np.fromfile(sys.argv[1], dtype='<u2').reshape(shape)
r_all = np.fromfile(sys.argv[2], dtype='<u2').reshape(shape)
out = {}
def dist(a, b):
    # distances from the surface voxels of a to the nearest surface voxel of b
    if not b.any():
        return np.full(int(a.sum()), np.inf)
    if not a.any():
        return np.zeros(0)
    return distance_transform_edt(~b, sampling=sp)[a]
for l in sorted(set(np.unique(r_all)) - {0}):
    p, r = p_all == l, r_all == l
    ep, er = binary_erosion(p) ^ p, binary_erosion(r) ^ r
    d1, d2 = dist(ep, er), dist(er, ep)
    if not ep.any() and er.any():
        d1 = np.zeros(0); d2 = np.full(int(er.sum()), np.inf)
    tp = float((p & r).sum())
    out[str(int(l))] = {
        "dice": 2 * tp / (p.sum() + r.sum()),
        "iou": tp / (p | r).sum(),
        "hd": max(d1.max(), d2.max()),
        "hd95": max(np.quantile(d1, 0.95), np.quantile(d2, 0.95)),
        "assd": np.concatenate([d1, d2]).mean(),
        "nsd": ((d1 <= tol).sum() + (d2 <= tol).sum()) / (len(d1) + len(d2)),
    }
print(json.dumps(out))
"#;

/// Two multi-label volumes of overlapping, differently perturbed ellipsoids.
fn scene(dims: [usize; 3], spacing: [f64; 3]) -> (LabelVolume, LabelVolume) {
    let mk = |wobble: f64, shift: f64| {
        let mut v = Vec::with_capacity(dims.iter().product());
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let (x, y, z) = (i as f64 * spacing[0], j as f64 * spacing[1], k as f64 * spacing[2]);
                    let bump = wobble * ((x * 0.31).sin() + (y * 0.17).cos() + (z * 0.23).sin());
                    let e = |c: [f64; 3], r: [f64; 3]| {
                        ((x - c[0] - shift) / r[0]).powi(2)
                            + ((y - c[1]) / r[1]).powi(2)
                            + ((z - c[2]) / r[2]).powi(2)
                    };
                    let l = if e([20.0, 22.0, 18.0], [12.0, 9.0, 10.0]) + bump < 1.0 {
                        1
                    } else if e([38.0, 30.0, 24.0], [7.0, 11.0, 8.0]) - bump < 1.0 {
                        2
                    } else if e([30.0, 12.0, 30.0], [3.0, 3.0, 3.0]) < 1.0 {
                        3
                    } else {
                        0
                    };
                    v.push(l);
                }
            }
        }
        let g = Geometry { spacing, origin: [-3.0, 7.0, 1.5], ..Default::default() };
        LabelVolume::new(Volume::from_vec(dims, g, v).unwrap())
    };
    (mk(0.15, 1.3), mk(0.0, 0.0))
}

#[test]
fn metrics_equal_scipy_monai_definitions() {
    let dims = [48, 40, 22];
    let spacing = [1.0, 1.1, 2.0];
    let (pred, reference) = scene(dims, spacing);
    let dir = tempfile::tempdir().unwrap();
    let (pp, pr) = (dir.path().join("p.raw"), dir.path().join("r.raw"));
    let bytes = |v: &LabelVolume| v.data().iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(&pp, bytes(&pred)).unwrap();
    std::fs::write(&pr, bytes(&reference)).unwrap();
    // numpy shape (nz, ny, nx) for the x-fastest buffer; sampling in the same axis order.
    let shape = format!("{},{},{}", dims[2], dims[1], dims[0]);
    let sp = format!("{},{},{}", spacing[2], spacing[1], spacing[0]);
    let j = py_json(SCRIPT, &[pp.to_str().unwrap(), pr.to_str().unwrap(), &shape, &sp, "1.5"]);
    let ours =
        evaluate(&pred, &reference, &SegmentationOptions { nsd_tolerance_mm: 1.5, ..Default::default() })
            .unwrap();
    assert_eq!(ours.labels.len(), 3);
    for (l, m) in &ours.labels {
        let t = &j[l.to_string()];
        for (name, v) in [
            ("dice", m.dice),
            ("iou", m.iou),
            ("hd", m.hd),
            ("hd95", m.hd95),
            ("assd", m.assd),
            ("nsd", m.nsd),
        ] {
            let r = t[name].as_f64().unwrap();
            // 1e-9 relative: the same definitions in f64 on the same voxels (the k-d tree and the
            // EDT are both exact).
            assert!((v - r).abs() <= 1e-9 * r.abs().max(1.0), "label {l} {name}: ours {v} vs scipy {r}");
        }
    }
    // The shifted, wobbled prediction is imperfect: the comparison is not between zeros.
    assert!(ours.labels[&1].hd95 > 1.0 && ours.labels[&1].dice < 0.99);
}
