//! NIfTI against nibabel and SimpleITK: the sample files of both projects read with the same
//! voxels and geometry, every writer output read back by both, and bad input as typed errors.

use std::path::{Path, PathBuf};

use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::nifti::{self, NiftiError};

use crate::common::data;
use crate::nifti_peers::{assert_same, nib, nib_many, py, sitk, sitk_many};

/// Geometry tolerance against the peers: both read the same f32 header fields, and compute
/// in f64 as we do; 1e-5 mm covers nibabel's float32 quaternion arithmetic.
const GEO: f64 = 1e-5;

fn nib_data(name: &str) -> PathBuf {
    data(&format!("nibabel/nibabel/tests/data/{name}"))
}

/// The 3-D sample files of nibabel and ITK. (The Kmeans files have qform_code 2 and
/// sform_code 1: both peers, and we, take the sform.)
fn samples_3d() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        ["anatomical.nii", "reoriented_anat_moved.nii", "resampled_anat_moved.nii", "standard.nii.gz"]
            .iter()
            .map(|n| nib_data(n))
            .collect();
    for name in
        ["KmeansTest_T1KmeansPrelimSegmentation", "KmeansTest_T1RawSkullStrip", "KmeansTest_T1UCharRaw"]
    {
        v.push(data(&format!("itk/{name}.nii.gz")));
    }
    v
}

#[test]
fn sample_files_match_nibabel() {
    let paths = samples_3d();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for (p, peer) in paths.iter().zip(nib_many(&refs)) {
        let ours = nifti::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_same(&ours, &peer, 0.0, GEO, &p.display().to_string());
    }
}

#[test]
fn sample_files_match_simpleitk() {
    let paths = samples_3d();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = nifti::read(p).unwrap();
        assert_same(&ours, &peer, 0.0, GEO, &p.display().to_string());
    }
}

/// Checks every frame of a 4-D file against nibabel's array (frames are contiguous in its
/// Fortran-order ravel), within `tol`.
fn frames_match_nibabel(p: &Path, tol: f64) {
    let frames = nifti::read_frames(p).unwrap();
    let peer = nib(p);
    let n: usize = peer.size[..3].iter().product();
    assert_eq!(frames.len(), peer.voxels.len() / n);
    for (t, f) in frames.iter().enumerate() {
        assert!(f.geometry().approx_eq(&peer.geometry, GEO), "{}: frame {t} geometry", p.display());
        let v = f.to_f64();
        let worst = v
            .data()
            .iter()
            .zip(&peer.voxels[t * n..(t + 1) * n])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= tol, "{}: frame {t} differs by {worst}", p.display());
    }
}

#[test]
fn four_d_samples_are_refused_by_read_and_split_by_read_frames() {
    for name in ["functional.nii", "example4d.nii.gz", "example_nifti2.nii.gz"] {
        let p = nib_data(name);
        match nifti::read(&p) {
            Err(NiftiError::ReadDims { dims, reason, .. }) => {
                assert_eq!(dims[0], 4, "{name}");
                assert!(reason.contains("4-D"), "{name}: {reason}");
            }
            other => panic!("{name}: expected ReadDims, got {other:?}"),
        }
        // functional.nii is scaled (slope 0.075, intercept 3100.8): we keep f32, nibabel f64;
        // values < 8192, where half an f32 ulp is 2.4e-4.
        frames_match_nibabel(&p, if name == "functional.nii" { 2.5e-4 } else { 0.0 });
    }
    // SimpleITK reads NIfTI-1 4-D too: its first frame is ours.
    let p = nib_data("example4d.nii.gz");
    let first = nifti::read_frames(&p).unwrap().remove(0);
    let peer = sitk(&p);
    let n: usize = first.dims().iter().product();
    assert!(first.geometry().approx_eq(&peer.geometry, GEO));
    assert!(first.to_f64().data() == &peer.voxels[..n], "example4d frame 0 differs from SimpleITK");
}

#[test]
fn nifti2_cifti_matrix_is_not_a_volume() {
    // A 6-D NIfTI-2 CIFTI dense connectome: dims [6, 1, 1, 1, 1, 10, 10].
    let p = nib_data("row_major.dconn.nii");
    assert!(matches!(nifti::read(&p), Err(NiftiError::ReadDims { ref dims, .. }) if dims[0] == 6));
    assert_eq!(nifti::read_frames(&p).unwrap().len(), 100);
}

#[test]
fn pair_header_without_image_is_an_error() {
    for name in ["nifti1.hdr", "nifti2.hdr"] {
        match nifti::read(&nib_data(name)) {
            Err(NiftiError::ReadHeader { reason, .. }) => assert!(reason.contains(".img"), "{reason}"),
            other => panic!("{name}: expected ReadHeader, got {other:?}"),
        }
    }
}

#[test]
fn analyze_header_is_refused() {
    match nifti::read(&nib_data("analyze.hdr")) {
        Err(NiftiError::ReadHeader { reason, .. }) => assert!(reason.contains("Analyze"), "{reason}"),
        other => panic!("expected ReadHeader, got {other:?}"),
    }
}

/// nibabel writes a file from a Python expression for the data and an affine.
fn nib_write(path: &Path, script_body: &str) {
    let script = format!(
        "import sys, json, numpy as np, nibabel as nib\nout = sys.argv[1]\n{script_body}\nprint(json.dumps(0))\n"
    );
    py(&script, &[path]);
}

#[test]
fn nibabel_pair_big_endian_and_scaling() {
    let dir = tempfile::tempdir().unwrap();
    // A .hdr/.img pair, big-endian int16, oblique sform.
    let pair = dir.path().join("pair.img");
    nib_write(
        &pair,
        r#"
from nibabel.eulerangles import euler2mat
A = np.eye(4); A[:3, :3] = euler2mat(0.3, -0.2, 0.1) @ np.diag([0.9, 1.1, 2.5]); A[:3, 3] = [-50.5, 20.25, 33.0]
hdr = nib.Nifti1Header(endianness='>'); hdr.set_data_dtype('>i2')
data = (np.arange(5 * 6 * 7) * 37 % 6000 - 3000).astype('>i2').reshape(5, 6, 7)
nib.save(nib.Nifti1Pair(data, A, hdr), out)
"#,
    );
    let hdr = dir.path().join("pair.hdr");
    let ours = nifti::read(&hdr).unwrap();
    assert_eq!(ours.type_name(), "int16");
    assert_same(&ours, &nib(&hdr), 0.0, GEO, "pair");

    // Scaling: slope and intercept patched into a big-endian int16 .nii.
    let scaled = dir.path().join("scaled.nii");
    nib_write(
        &scaled,
        r#"
data = (np.arange(4 * 5 * 6) * 1234 % 60000 - 30000).astype('>i2').reshape(4, 5, 6)
hdr = nib.Nifti1Header(endianness='>'); hdr.set_data_dtype('>i2')
nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0]), hdr), out)
import struct
with open(out, 'r+b') as f:
    f.seek(112); f.write(struct.pack('>ff', 2.5, -10.0))
"#,
    );
    let ours = nifti::read(&scaled).unwrap();
    assert_eq!(ours.type_name(), "float32");
    // 0.004: |values| ≤ 75 000, where half an f32 ulp is 0.0039; the peers keep f64.
    assert_same(&ours, &nib(&scaled), 0.004, GEO, "scaled vs nibabel");
    assert_same(&ours, &sitk(&scaled), 0.004, GEO, "scaled vs SimpleITK");
}

#[test]
fn sheared_sform_follows_nibabel_not_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shear.nii");
    nib_write(
        &p,
        r#"
A = np.array([[2.0, 0.5, 0, -10], [0, 2.0, 0, 20], [0, 0, 3.0, 5], [0, 0, 0, 1]])
img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), A)
img.set_qform(np.diag([2.0, 2.0, 3.0, 1.0]), code=1)
img.set_sform(A, code=1)
nib.save(img, out)
"#,
    );
    let ours = nifti::read(&p).unwrap();
    assert_same(&ours, &nib(&p), 0.0, GEO, "sheared sform");
    // Every voxel sits where the sheared affine puts it; the direction is not orthonormal.
    let g = ours.geometry();
    assert!(g.validate().is_err() && g.validate_with(false).is_ok());
    let w = g.index_to_world([1.0, 1.0, 1.0]);
    // RAS (2·1 + 0.5·1 − 10, 2 + 20, 3 + 5) → LPS.
    let expect = [7.5, -22.0, 8.0];
    for a in 0..3 {
        // 1e-9: one affine map in f64 of f32 header values that are exact binary fractions.
        assert!((w[a] - expect[a]).abs() < 1e-9, "{w:?}");
    }
    // SimpleITK falls back to the (rigid) qform for a sheared sform: documented difference.
    let s = sitk(&p);
    assert!(s.geometry.approx_eq(
        &Geometry {
            spacing: [2.0, 2.0, 3.0],
            direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
            ..Geometry::default()
        },
        GEO
    ));
}

#[test]
fn space_units_micron_and_meter_convert_to_mm_like_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    for unit in ["micron", "meter"] {
        let p = dir.path().join(format!("{unit}.nii"));
        nib_write(
            &p,
            &format!(
                "B = np.diag([2.0, 3.0, 4.0, 1]); B[:3, 3] = [10, 20, 30]\n\
                 img = nib.Nifti1Image(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), B)\n\
                 img.header.set_xyzt_units('{unit}')\nnib.save(img, out)"
            ),
        );
        let ours = nifti::read(&p).unwrap();
        let s = if unit == "micron" { 1e-3 } else { 1e3 };
        // 1e-9 relative: the unit factor is applied in f64 to exact small integers.
        let g = ours.geometry();
        assert!((g.spacing[1] - 3.0 * s).abs() < 1e-9 * s.max(1.0), "{g:?}");
        assert_same(&ours, &sitk(&p), 0.0, GEO * s.max(1.0), unit);
    }
}

#[test]
fn no_transform_codes_use_pixdim_method_1() {
    // Both codes 0: NIfTI-1 "method 1", x = pixdim[1]·i in RAS with origin 0 (nifti1_io).
    // nibabel centres the grid and flips x; SimpleITK takes identity LPS: neither is followed.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nocode.nii");
    nib_write(
        &p,
        "img = nib.Nifti1Image(np.zeros((2, 3, 4), np.uint8), np.diag([2.0, 3.0, 4.0, 1.0]))\n\
         img.set_qform(None, code=0); img.set_sform(None, code=0); nib.save(img, out)",
    );
    let g = *nifti::read(&p).unwrap().geometry();
    let expect = Geometry {
        origin: [0.0; 3],
        spacing: [2.0, 3.0, 4.0],
        direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
    };
    assert!(g.approx_eq(&expect, 0.0), "{g:?}");
}

#[test]
fn simpleitk_written_oblique_files_of_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let types = ["UInt8", "Int8", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64"];
    let paths: Vec<PathBuf> = types.iter().map(|t| dir.path().join(format!("{t}.nii.gz"))).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    py(
        r#"
import sys, json, numpy as np, SimpleITK as sitk
for path in sys.argv[1:]:
    ty = getattr(sitk, 'sitk' + path.rsplit('/', 1)[1].split('.')[0])
    img = sitk.Cast(sitk.GetImageFromArray((np.arange(7 * 6 * 5) % 100).reshape(7, 6, 5).astype(float)), ty)
    img.SetOrigin((-12.5, 30.25, 101.0)); img.SetSpacing((0.7, 0.8, 2.5))
    img.SetDirection(sitk.VersorTransform((0.2, -0.4, 0.9), 0.6).GetMatrix())
    sitk.WriteImage(img, path)
print(json.dumps(0))
"#,
        &refs,
    );
    let (sitks, nibs) = (sitk_many(&refs), nib_many(&refs));
    for ((p, s), n) in paths.iter().zip(sitks).zip(nibs) {
        let ours = nifti::read(p).unwrap();
        let what = p.display().to_string();
        assert_eq!(ours.type_name(), n.pixel_type, "{what}");
        assert_same(&ours, &s, 0.0, GEO, &what);
        assert_same(&ours, &n, 0.0, GEO, &what);
    }
}

fn oblique() -> Geometry {
    let (s, c) = 0.4f64.sin_cos();
    let (s2, c2) = 0.25f64.sin_cos();
    // Rotation about z then x; det +1 after the flip below gives det −1 (exercises qfac).
    let rz = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, c2, -s2], [0.0, s2, c2]];
    let mut d = hounsfield_core::linalg::mat_mul(&rz, &rx);
    for row in d.iter_mut() {
        row[2] = -row[2];
    }
    Geometry { origin: [-120.5, 98.25, -33.125], spacing: [0.488, 0.512, 1.25], direction: d }
}

fn sample_volumes(g: Geometry) -> Vec<AnyVolume> {
    let dims = [6, 5, 4];
    let idx = |i: usize| ((i * 7919) % 120) as f64;
    let n = 120;
    vec![
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as u8 * 2).collect()).unwrap().into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as i8 - 60).collect()).unwrap().into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as u16 * 500).collect()).unwrap().into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as i16 * 50 - 3000).collect()).unwrap().into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as u32 * 30_000_000).collect()).unwrap().into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as i32 * 15_000_000 - 900_000_000).collect())
            .unwrap()
            .into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) as f32 * 0.37 - 11.5).collect()).unwrap().into(),
        Volume::from_vec(dims, g, (0..n).map(|i| idx(i) * 1e-7 + 1e12).collect()).unwrap().into(),
    ]
}

#[test]
fn written_files_read_back_by_nibabel_and_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let g = oblique();
    let mut written = Vec::new();
    for (i, v) in sample_volumes(g).into_iter().enumerate() {
        for ext in ["nii", "nii.gz"] {
            let p = dir.path().join(format!("w{i}.{ext}"));
            nifti::write(&p, &v).unwrap();
            written.push((p, v.clone()));
        }
    }
    let paths: Vec<&Path> = written.iter().map(|(p, _)| p.as_path()).collect();
    let (nibs, sitks) = (nib_many(&paths), sitk_many(&paths));
    for (((p, v), n), s) in written.iter().zip(nibs).zip(sitks) {
        {
            let what = format!("{} {}", v.type_name(), p.display());
            assert_eq!(n.pixel_type, v.type_name(), "{what}: nibabel dtype");
            // 1e-5 mm: the header holds f32 (|origin| < 128 mm: ulp/2 ≤ 3.8e-6 mm).
            assert_same(v, &n, 0.0, GEO, &what);
            assert_same(v, &s, 0.0, GEO, &what);
            let back = nifti::read(p).unwrap();
            assert_eq!(back.type_name(), v.type_name());
            assert!(back.to_f64().data() == v.to_f64().data(), "{what}: our own reader");
            assert!(back.geometry().approx_eq(&g, GEO), "{what}: our own reader");
        }
    }
}

#[test]
fn vector_fields_follow_simpleitk_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    // SimpleITK writes a displacement field; we read its LPS components.
    let theirs = dir.path().join("sitk_field.nii.gz");
    py(
        r#"
import sys, json, numpy as np, SimpleITK as sitk
a = np.zeros((4, 5, 6, 3), np.float32)
k, j, i = np.meshgrid(np.arange(4), np.arange(5), np.arange(6), indexing='ij')
a[..., 0] = i + 0.5; a[..., 1] = -j * 2.0; a[..., 2] = k * 0.25 + 100
img = sitk.GetImageFromArray(a, isVector=True)
img.SetOrigin((5.0, -7.5, 12.0)); img.SetSpacing((1.5, 2.0, 2.5))
img.SetDirection(sitk.VersorTransform((1.0, 1.0, 0.0), 0.3).GetMatrix())
sitk.WriteImage(img, sys.argv[1])
print(json.dumps(0))
"#,
        &[&theirs],
    );
    let field = nifti::read_vector_field(&theirs).unwrap();
    let peer = sitk(&theirs);
    assert_eq!(peer.components, 3);
    for (c, comp) in field.iter().enumerate() {
        assert!(comp.geometry().approx_eq(&peer.geometry, GEO));
        let theirs: Vec<f64> = peer.voxels.iter().skip(c).step_by(3).copied().collect();
        let ours: Vec<f64> = comp.data().iter().map(|&v| v as f64).collect();
        assert_eq!(ours, theirs, "component {c}");
    }
    // Voxel (i=1, j=2, k=3) holds (1.5, −4, 100.75) in LPS, as SimpleITK wrote it.
    assert_eq!(
        [field[0].get(1, 2, 3), field[1].get(1, 2, 3), field[2].get(1, 2, 3)],
        [Some(&1.5), Some(&-4.0), Some(&100.75)]
    );

    // We write a field; SimpleITK reads the same components and grid.
    let ours = dir.path().join("our_field.nii.gz");
    let g = oblique();
    let comps = [0.0f32, 1.0, 2.0].map(|c| {
        Volume::from_vec([6, 5, 4], g, (0..120).map(|i| i as f32 * 0.5 - 7.0 * c).collect()).unwrap()
    });
    nifti::write_vector_field(&ours, &comps).unwrap();
    let peer = sitk(&ours);
    assert_eq!(peer.components, 3);
    assert_eq!(peer.pixel_type, "vector of 32-bit float");
    assert!(peer.geometry.approx_eq(&g, GEO), "{:?}", peer.geometry);
    for (c, comp) in comps.iter().enumerate() {
        let theirs: Vec<f64> = peer.voxels.iter().skip(c).step_by(3).copied().collect();
        let mine: Vec<f64> = comp.data().iter().map(|&v| v as f64).collect();
        assert_eq!(mine, theirs, "component {c}");
    }
}

#[test]
fn vox_offset_zero_is_read_like_nifti1_io() {
    let dir = tempfile::tempdir().unwrap();
    let v: AnyVolume =
        Volume::from_vec([3, 2, 2], Geometry::default(), (1..=12i16).collect()).unwrap().into();
    let p = dir.path().join("v.nii");
    nifti::write(&p, &v).unwrap();
    let mut b = std::fs::read(&p).unwrap();
    b[108..112].copy_from_slice(&0f32.to_le_bytes());
    assert_eq!(nifti::read_from_bytes(&b).unwrap().to_f64().data(), v.to_f64().data());
    // Without the 4-byte extension flag the data starts right after the 348-byte header.
    let short: Vec<u8> = b[..348].iter().chain(&b[352..]).copied().collect();
    assert_eq!(nifti::read_from_bytes(&short).unwrap().to_f64().data(), v.to_f64().data());
}

#[test]
fn truncated_files_are_typed_errors() {
    let b = std::fs::read(nib_data("anatomical.nii")).unwrap();
    match nifti::read_from_bytes(&b[..b.len() - 10]) {
        Err(NiftiError::ReadData { need, got, .. }) => assert_eq!((need, got), (67650, 67640)),
        other => panic!("expected ReadData, got {other:?}"),
    }
    assert!(matches!(nifti::read_from_bytes(&b[..200]), Err(NiftiError::ReadHeader { .. })));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.nii");
    std::fs::write(&p, &b[..1000]).unwrap();
    assert!(matches!(nifti::read(&p), Err(NiftiError::ReadData { need: 67650, got: 648, .. })));
    // A gzip stream cut short.
    let gz = std::fs::read(nib_data("standard.nii.gz")).unwrap();
    let r = nifti::read_from_bytes(&gz[..gz.len() - 12]);
    assert!(matches!(r, Err(NiftiError::ReadData { .. }) | Err(NiftiError::Decompress { .. })), "{r:?}");
}

#[test]
fn wrong_magic_is_a_typed_error() {
    let mut b = std::fs::read(nib_data("anatomical.nii")).unwrap();
    b[344..348].copy_from_slice(b"n+9\0");
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadHeader { .. })));
    assert!(matches!(
        nifti::read_from_bytes(b"GIF89a plus some more bytes"),
        Err(NiftiError::ReadHeader { .. })
    ));
}

/// A little-endian NIfTI-1 of a small int16 volume, to patch.
fn small_file() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.nii");
    let v: AnyVolume = Volume::from_vec([2, 2, 2], Geometry::default(), vec![1i16; 8]).unwrap().into();
    nifti::write(&p, &v).unwrap();
    std::fs::read(&p).unwrap()
}

fn put_i16(b: &mut [u8], o: usize, v: i16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_f32(b: &mut [u8], o: usize, v: f32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn declared_sizes_are_checked_before_allocating() {
    let mut b = small_file();
    // Larger than the file: an error naming both sizes, no allocation of the cap's size.
    put_i16(&mut b, 42, 200);
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadData { need: 1600, got: 16, .. })));
    // 32767³ float64 = 281 TB, far above the memory cap.
    for (o, v) in [(42, 32767), (44, 32767), (46, 32767), (70, 64), (72, 64)] {
        put_i16(&mut b, o, v);
    }
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::MemoryCap { .. })));
    let mut b = small_file();
    put_i16(&mut b, 42, -3);
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadDims { .. })));
    put_i16(&mut b, 40, 9);
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadDims { .. })));
}

#[test]
fn non_finite_affines_are_typed_errors() {
    let mut b = small_file();
    put_f32(&mut b, 280, f32::NAN); // srow_x[0], sform_code 1
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadGeometry { .. })));
    let mut b = small_file();
    put_i16(&mut b, 254, 0); // sform off: the qform is used
    put_f32(&mut b, 268, f32::INFINITY); // qoffset_x
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadGeometry { .. })));
    let mut b = small_file();
    put_i16(&mut b, 254, 0);
    put_f32(&mut b, 80, 0.0); // pixdim[1] = 0 on an axis of size 2
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadGeometry { .. })));
    let mut b = small_file();
    for o in [280, 284, 288, 296, 300, 304] {
        put_f32(&mut b, o, 0.0); // singular sform
    }
    assert!(matches!(nifti::read_from_bytes(&b), Err(NiftiError::ReadGeometry { .. })));
}

#[test]
fn unsupported_datatypes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let complex = dir.path().join("complex.nii");
    nib_write(&complex, "nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.complex64), np.eye(4)), out)");
    let rgb = dir.path().join("rgb.nii");
    nib_write(
        &rgb,
        "d = np.zeros((2, 2, 2), dtype=[('R', 'u1'), ('G', 'u1'), ('B', 'u1')])\n\
         nib.save(nib.Nifti1Image(d, np.eye(4)), out)",
    );
    let i64f = dir.path().join("int64.nii");
    nib_write(
        &i64f,
        "nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.int64), np.eye(4), dtype=np.int64), out)",
    );
    for (p, code, name) in [(complex, 32, "DT_COMPLEX64"), (rgb, 128, "DT_RGB24"), (i64f, 1024, "DT_INT64")] {
        match nifti::read(&p) {
            Err(e @ NiftiError::UnsupportedDatatype { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(name) && msg.contains(&code.to_string()), "{msg}");
            }
            other => panic!("{name}: expected UnsupportedDatatype, got {other:?}"),
        }
    }
}

#[test]
fn failed_writes_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Geometry::default();
    g.spacing[0] = f64::NAN;
    let v: AnyVolume = Volume::from_vec([2, 1, 1], g, vec![1u8, 2]).unwrap().into();
    let p = dir.path().join("bad.nii.gz");
    assert!(matches!(nifti::write(&p, &v), Err(NiftiError::WriteVolume { .. })));
    let big: AnyVolume =
        Volume::from_vec([40000, 1, 1], Geometry::default(), vec![0u8; 40000]).unwrap().into();
    assert!(matches!(nifti::write(&p, &big), Err(NiftiError::WriteVolume { .. })));
    // The rename onto an existing directory fails after the data was written: the temporary
    // file is removed and the directory is untouched.
    let target = dir.path().join("taken.nii");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let ok: AnyVolume = Volume::from_vec([2, 1, 1], Geometry::default(), vec![1u8, 2]).unwrap().into();
    assert!(matches!(nifti::write(&target, &ok), Err(NiftiError::Write { .. })));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken.nii")]);
}
