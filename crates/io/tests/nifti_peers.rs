//! Reference readers for the NIfTI, NRRD, MetaImage and raster tests: SimpleITK and nibabel
//! run by the reference Python, returning geometry as JSON and voxels as a raw f64 file
//! (x-fastest), so comparisons are voxel-exact and not limited by JSON size.

use std::path::Path;

use hounsfield_core::{AnyVolume, Geometry};

use crate::common::py_json;

/// An image as a peer tool reads it, in LPS mm, voxels x-fastest as f64.
#[derive(Debug)]
pub struct Peer {
    /// Sizes per axis as the tool reports them (2, 3 or more entries).
    pub size: Vec<usize>,
    /// Geometry of the first three axes (2-D images padded: origin z 0, spacing z 1).
    pub geometry: Geometry,
    /// The tool's pixel type name.
    pub pixel_type: String,
    /// Components per pixel (SimpleITK; 1 for nibabel).
    pub components: usize,
    /// Voxels, x-fastest (components fastest for vector images).
    pub voxels: Vec<f64>,
}

/// Reads sys.argv[1::2] into raw files sys.argv[2::2]; prints one JSON object per image.
const SITK_READ: &str = r#"
import sys, json, numpy as np, SimpleITK as sitk
out = []
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    img = sitk.ReadImage(src)
    sitk.GetArrayFromImage(img).astype('<f8').tofile(dst)
    out.append({'size': list(img.GetSize()), 'origin': list(img.GetOrigin()), 'spacing': list(img.GetSpacing()),
                'direction': list(img.GetDirection()), 'type': img.GetPixelIDTypeAsString(),
                'components': img.GetNumberOfComponentsPerPixel()})
json.dump(out, sys.stdout)
"#;

const NIB_READ: &str = r#"
import sys, json, numpy as np, nibabel as nib
out = []
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    img = nib.load(src)
    a = np.asanyarray(img.dataobj)
    np.asarray(a, dtype='<f8').ravel(order='F').tofile(dst)
    A = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine
    M = A[:3, :3]
    sp = np.linalg.norm(M, axis=0)
    out.append({'size': list(map(int, img.shape)), 'origin': A[:3, 3].tolist(), 'spacing': sp.tolist(),
                'direction': (M / sp).ravel().tolist(), 'type': str(a.dtype), 'components': 1})
json.dump(out, sys.stdout)
"#;

/// Runs a reader script on every path at once (one interpreter start for all).
fn run_many(script: &str, paths: &[&Path]) -> Vec<Peer> {
    let dir = tempfile::tempdir().expect("temp dir");
    let raws: Vec<_> = (0..paths.len()).map(|i| dir.path().join(format!("{i}.f64"))).collect();
    let mut args = Vec::new();
    for (p, r) in paths.iter().zip(&raws) {
        args.push(p.to_str().expect("utf-8 path"));
        args.push(r.to_str().expect("utf-8 path"));
    }
    let j = py_json(script, &args);
    let list = j.as_array().expect("a JSON list");
    list.iter().zip(&raws).map(|(j, raw)| parse(j, raw)).collect()
}

fn parse(j: &serde_json::Value, raw: &Path) -> Peer {
    let bytes = std::fs::read(raw).expect("peer wrote voxels");
    let voxels = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    let nums = |k: &str| -> Vec<f64> {
        j[k].as_array().expect(k).iter().map(|v| v.as_f64().expect("number")).collect()
    };
    let size: Vec<usize> =
        j["size"].as_array().expect("size").iter().map(|v| v.as_u64().expect("int") as usize).collect();
    let (origin, spacing, direction) = (nums("origin"), nums("spacing"), nums("direction"));
    let n = spacing.len().min(3);
    let mut g = Geometry::default();
    for r in 0..n {
        g.origin[r] = origin[r];
        g.spacing[r] = spacing[r];
        for c in 0..n {
            g.direction[r][c] = direction[r * spacing.len() + c];
        }
    }
    Peer {
        size,
        geometry: g,
        pixel_type: j["type"].as_str().expect("type").to_owned(),
        components: j["components"].as_u64().expect("components") as usize,
        voxels,
    }
}

/// SimpleITK's `ReadImage` of `path`.
pub fn sitk(path: &Path) -> Peer {
    sitk_many(&[path]).remove(0)
}

/// SimpleITK's `ReadImage` of every path, in one interpreter.
pub fn sitk_many(paths: &[&Path]) -> Vec<Peer> {
    run_many(SITK_READ, paths)
}

/// nibabel's `load` of `path`, data scaled (`np.asanyarray(img.dataobj)`), affine to LPS.
pub fn nib(path: &Path) -> Peer {
    nib_many(&[path]).remove(0)
}

/// nibabel's `load` of every path, in one interpreter.
pub fn nib_many(paths: &[&Path]) -> Vec<Peer> {
    run_many(NIB_READ, paths)
}

/// Runs a Python snippet with the reference venv (sys.argv[1..] = `args`); it must print JSON.
pub fn py(script: &str, args: &[&Path]) -> serde_json::Value {
    let args: Vec<&str> = args.iter().map(|p| p.to_str().expect("utf-8 path")).collect();
    py_json(script, &args)
}

/// Asserts that `ours` has the peer's voxels (exactly, or within `tol`) and geometry (within
/// `geo_tol` mm / direction cosine).
#[track_caller]
pub fn assert_same(ours: &AnyVolume, peer: &Peer, tol: f64, geo_tol: f64, what: &str) {
    let dims = ours.dims();
    let peer3: Vec<usize> = (0..3).map(|k| peer.size.get(k).copied().unwrap_or(1)).collect();
    assert_eq!(dims.to_vec(), peer3, "{what}: dims");
    assert!(
        ours.geometry().approx_eq(&peer.geometry, geo_tol),
        "{what}: geometry\n ours {:?}\n peer {:?}",
        ours.geometry(),
        peer.geometry
    );
    let v = ours.to_f64();
    assert_eq!(v.len(), peer.voxels.len(), "{what}: voxel count");
    let worst = v
        .data()
        .iter()
        .zip(&peer.voxels)
        .map(|(a, b)| if a == b || (a.is_nan() && b.is_nan()) { 0.0 } else { (a - b).abs() })
        .fold(0.0f64, f64::max);
    assert!(worst <= tol, "{what}: voxels differ by up to {worst}");
}
