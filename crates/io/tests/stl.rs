//! Binary STL: surface meshes of a label map written and read back by numpy (count, header,
//! vertices, normals consistent with the winding and pointing outward).

use hounsfield_core::{Geometry, LabelVolume};
use hounsfield_imgproc::mesh::label_meshes;
use hounsfield_io::stl;

use crate::common::py_json;

const READ_STL: &str = r#"
import sys, json, numpy as np
b = open(sys.argv[1], 'rb').read()
n = int(np.frombuffer(b, '<u4', 1, 80)[0])
rec = np.frombuffer(b, np.dtype([('n', '<f4', 3), ('v', '<f4', (3, 3)), ('a', '<u2')]), n, 84)
v = rec['v'].astype(np.float64)
cr = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
area = 0.5 * np.linalg.norm(cr, axis=1).sum()
unit = cr / np.linalg.norm(cr, axis=1, keepdims=True)
vol = np.einsum('ij,ij->i', v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6
print(json.dumps({'n': n, 'size': len(b), 'header': b[:80].decode().strip(), 'area': area, 'volume': vol,
    'normal_dev': float(np.abs(rec['n'] - unit).max()), 'attr': int(rec['a'].max())}))
"#;

#[test]
fn label_meshes_round_trip_through_numpy() {
    let g = Geometry { origin: [10.0, -20.0, 5.0], spacing: [0.7, 0.9, 1.5], ..Geometry::default() };
    let dims = [30, 25, 20];
    let mut l = LabelVolume::background(dims, g).unwrap();
    for (i, v) in l.as_volume_mut().data_mut().iter_mut().enumerate() {
        let (x, y, z) = ((i % 30) as f64, (i / 30 % 25) as f64, (i / 750) as f64);
        if (x - 12.0).powi(2) + (y - 12.0).powi(2) + (z - 9.0).powi(2) < 49.0 {
            *v = 4;
        } else if x > 22.0 {
            *v = 8; // touches the border: closed there by padding
        }
    }
    let root = tempfile::tempdir().unwrap();
    for m in label_meshes(&l).unwrap() {
        assert!(m.mesh.is_closed());
        let path = root.path().join(format!("label_{}.stl", m.label));
        stl::write(&path, &m.mesh).unwrap();
        let j = py_json(READ_STL, &[path.to_str().unwrap()]);
        assert_eq!(j["n"].as_u64().unwrap() as usize, m.mesh.triangles.len());
        assert_eq!(j["size"].as_u64().unwrap() as usize, 84 + 50 * m.mesh.triangles.len());
        assert!(j["header"].as_str().unwrap().starts_with("SPACE=LPS"));
        // f32 coordinates: relative error about 1e-7 of the ~30 mm coordinates.
        let area = j["area"].as_f64().unwrap();
        assert!((area / m.mesh.area() - 1.0).abs() < 1e-5, "{area} vs {}", m.mesh.area());
        let vol = j["volume"].as_f64().unwrap();
        assert!(vol > 0.0 && (vol / m.mesh.enclosed_volume() - 1.0).abs() < 1e-4, "outward normals");
        assert!(j["normal_dev"].as_f64().unwrap() < 1e-4);
        assert_eq!(j["attr"], 0);
    }
    // A failed write leaves nothing.
    let m = &label_meshes(&l).unwrap()[0].mesh;
    assert!(stl::write(&root.path().join("missing/x.stl"), m).is_err());
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 2);
}
