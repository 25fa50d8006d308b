//! DICOM series: series built with pydicom from a sample slice, read against SimpleITK's
//! ImageSeriesReader and pydicom; geometry of single and multi-frame files against
//! SimpleITK; gantry tilt, missing and uneven slices, duplicates, mixed sizes and
//! orientations; scanning and series selection.

use std::path::{Path, PathBuf};

use hounsfield_core::{AnyVolume, Geometry};
use hounsfield_io::dicom::{
    read_series, scan, select_series, DicomError, DicomReadOptions, SeriesInfo, SpacingPolicy, TiltPolicy,
};

use crate::common::py_json;
use crate::dicom::{pdd, pyd, read, voxels};

/// Builds a series of sys.argv[4] slices from the single slice sys.argv[1] into folder
/// sys.argv[2], variant sys.argv[3]. Files are named in reverse slice order and
/// InstanceNumber runs backwards, so that only positions give the right order. In the
/// `linear*` variants every pixel holds 2·f(p) with RescaleSlope 0.5, f(p) = 0.5 x + 0.25
/// y + 2 z of its world position p (mm), so that any linear resampling must reproduce f.
const BUILD_SERIES: &str = r#"
import sys, copy, numpy as np, pydicom
from pydicom.uid import generate_uid
src, out, variant, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = pydicom.dcmread(src)
iop = np.array([float(v) for v in base.ImageOrientationPatient])
r, c = iop[:3], iop[3:]
nrm = np.cross(r, c)
ipp0 = np.array([float(v) for v in base.ImagePositionPatient])
sy, sx = (float(v) for v in base.PixelSpacing)
rows, cols = base.Rows, base.Columns
series = generate_uid()
dz = 2.5
for k in range(n):
    if variant.endswith('missing') and k == n // 2:
        continue
    ds = copy.deepcopy(base)
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = n - k
    d = k * dz
    if variant == 'uneven' and k >= 3:
        d += 0.7
    if variant == 'duplicate' and k == 3:
        d = 2 * dz
    pos = ipp0 + d * nrm
    if variant.endswith('tilt'):
        pos = pos + k * 1.0 * r
    ds.ImagePositionPatient = [float(v) for v in pos]
    ds.SliceLocation = float(np.dot(pos, nrm))
    if variant.startswith('linear'):
        j, i = np.mgrid[0:rows, 0:cols]
        p = pos[None, None, :] + i[..., None] * sx * r + j[..., None] * sy * c
        f = 0.5 * p[..., 0] + 0.25 * p[..., 1] + 2.0 * p[..., 2]
        arr = np.round(2 * f).astype(np.int16)
        ds.RescaleSlope = 0.5
        ds.RescaleIntercept = 0
    else:
        arr = (base.pixel_array.astype(np.int32) + 7 * k).astype(np.int16)
    if variant == 'mixed_size' and k == 1:
        arr = arr[:-2]
        ds.Rows = rows - 2
    if variant == 'mixed_spacing' and k == 1:
        ds.PixelSpacing = [sy * 1.1, sx * 1.1]
    if variant == 'mixed_orientation' and k == 1:
        ds.ImageOrientationPatient = [float(v) for v in np.concatenate([c, -r])]
    ds.PixelRepresentation = 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelData = arr.tobytes()
    ds.save_as(f'{out}/{n - k:03d}.dcm', enforce_file_format=True)
print('{}')
"#;

/// Builds a series variant from CT_small into a new temporary folder.
pub fn build(variant: &str, n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = pyd("CT_small.dcm");
    py_json(BUILD_SERIES, &[src.to_str().unwrap(), dir.path().to_str().unwrap(), variant, &n.to_string()]);
    dir
}

pub fn only_series(dir: &Path) -> SeriesInfo {
    let s = scan(dir).unwrap();
    select_series(&s, None, dir).unwrap().clone()
}

fn read_dir(dir: &Path, options: &DicomReadOptions) -> Result<AnyVolume, DicomError> {
    read_series(&only_series(dir), options).map(|v| v.volume)
}

/// Reads with SimpleITK (a folder through ImageSeriesReader, a file through ReadImage):
/// voxels as x-fastest f64 to sys.argv[2], geometry as JSON.
const SITK_READ: &str = r#"
import sys, json, os, numpy as np, SimpleITK as sitk
src, dst = sys.argv[1], sys.argv[2]
if os.path.isdir(src):
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(src))
    img = r.Execute()
else:
    img = sitk.ReadImage(src)
sitk.GetArrayFromImage(img).astype('<f8').tofile(dst)
json.dump({'size': img.GetSize(), 'origin': img.GetOrigin(), 'spacing': img.GetSpacing(),
           'direction': img.GetDirection()}, sys.stdout)
"#;

pub struct Peer {
    pub dims: [usize; 3],
    pub geometry: Geometry,
    pub voxels: Vec<f64>,
}

pub fn sitk(path: &Path) -> Peer {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("v.f64");
    let j = py_json(SITK_READ, &[path.to_str().unwrap(), raw.to_str().unwrap()]);
    let nums =
        |k: &str| -> Vec<f64> { j[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    let size: Vec<usize> = nums("size").iter().map(|&v| v as usize).collect();
    let (o, s, d) = (nums("origin"), nums("spacing"), nums("direction"));
    let mut g = Geometry::default();
    let n = size.len().min(3);
    for r in 0..n {
        g.origin[r] = o[r];
        g.spacing[r] = s[r];
        for c in 0..n {
            g.direction[r][c] = d[r * n + c];
        }
    }
    let mut dims = [1; 3];
    dims[..n].copy_from_slice(&size[..n]);
    let bytes = std::fs::read(raw).unwrap();
    let voxels = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    Peer { dims, geometry: g, voxels }
}

/// Checks that `ours` and the peer are the same physical image: every voxel centre of ours
/// falls on a voxel centre of the peer's grid (within 1e-3 voxel: positions are written
/// with ~10 significant digits) holding `map(peer value)`; in-plane spacings agree to 1e-6
/// mm. Slice order may differ (ITK keeps a left-handed grid where we follow the normal).
pub fn same_image(ours: &AnyVolume, peer: &Peer, map: impl Fn(f64) -> f64, what: &str) {
    let [nx, ny, nz] = ours.dims();
    assert_eq!(nx * ny * nz, peer.voxels.len(), "{what}: voxel count");
    let g = ours.geometry();
    for a in 0..2 {
        assert!(
            (g.spacing[a] - peer.geometry.spacing[a]).abs() < 1e-6,
            "{what}: spacing {g:?} vs {:?}",
            peer.geometry
        );
    }
    let to_peer = peer.geometry.world_to_index_affine().unwrap();
    let ours_v = voxels(ours);
    let [px, py, _] = peer.dims;
    let mut bad = 0;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let w = g.index_to_world([i as f64, j as f64, k as f64]);
                let q = to_peer.apply(w);
                // A single slice has no z extent to compare (spacing conventions differ).
                let qz = if nz == 1 { q[2].round() } else { q[2] };
                let r = [q[0].round(), q[1].round(), qz.round()];
                assert!(
                    (q[0] - r[0]).abs() < 1e-3 && (q[1] - r[1]).abs() < 1e-3 && (qz - r[2]).abs() < 1e-3,
                    "{what}: voxel ({i},{j},{k}) at {w:?} is peer index {q:?}"
                );
                let idx = r[0] as usize + px * (r[1] as usize + py * r[2] as usize);
                let want = map(peer.voxels[idx]);
                let got = ours_v[i + nx * (j + ny * k)];
                // Values equal up to f32 rounding of rescaled values.
                if (got - want).abs() > 1e-6 * want.abs().max(1.0) {
                    bad += 1;
                }
            }
        }
    }
    assert_eq!(bad, 0, "{what}: {bad} voxels differ from the peer");
}

#[test]
fn single_and_multiframe_files_match_simpleitk() {
    let id = |v: f64| v;
    for (file, map) in [
        (pyd("CT_small.dcm"), &id as &dyn Fn(f64) -> f64),
        (pyd("MR_small.dcm"), &id),
        (pdd("693_UNCR.dcm"), &id),
        (pdd("693_J2KR.dcm"), &id),
        (pdd("MR2_UNCR.dcm"), &id),
        (pdd("eCT_Supplemental.dcm"), &id),
        // MONOCHROME1 (10 bits stored): GDCM inverts it as we do (1023 − v).
        (pdd("RG3_UNCR.dcm"), &id),
    ] {
        let ours = read(&file).volume;
        same_image(&ours, &sitk(&file), map, &file.display().to_string());
    }
    // Frames without positions: ITK stacks them 1 mm apart, we use SpacingBetweenSlices
    // or SliceThickness when given (1.2 mm for emri_small); voxels and in-plane geometry
    // must agree.
    for file in [pdd("emri_small.dcm"), pdd("JPEG2000_UNC.dcm")] {
        let ours = read(&file).volume;
        let peer = sitk(&file);
        assert_eq!(ours.dims(), peer.dims);
        assert_eq!(voxels(&ours), peer.voxels, "{}", file.display());
        let g = ours.geometry();
        assert_eq!((g.origin, g.direction), (peer.geometry.origin, peer.geometry.direction));
        assert_eq!(g.spacing[..2], peer.geometry.spacing[..2]);
    }
    // RT dose: ITK keeps the stored integers, we apply DoseGridScaling (3004,000E).
    let file = pyd("rtdose.dcm");
    let ours = read(&file).volume;
    let scale: f64 = py_json(
        "import sys, json, pydicom; print(json.dumps(float(pydicom.dcmread(sys.argv[1]).DoseGridScaling)))",
        &[file.to_str().unwrap()],
    )
    .as_f64()
    .unwrap();
    same_image(&ours, &sitk(&file), |v| (v * scale) as f32 as f64, "rtdose");
}

/// pydicom's view of a folder: slices sorted by position along the normal, rescaled, with
/// the first position and the normal.
const PYDICOM_SERIES: &str = r#"
import sys, json, glob, numpy as np, pydicom
dss = [pydicom.dcmread(f) for f in glob.glob(sys.argv[1] + '/*.dcm')]
iop = np.array(dss[0].ImageOrientationPatient, float)
nrm = np.cross(iop[:3], iop[3:])
dss.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), nrm)))
vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss])
vol.astype('<f8').tofile(sys.argv[2])
json.dump({'origin': [float(v) for v in dss[0].ImagePositionPatient], 'normal': nrm.tolist(),
           'dz': float(np.dot(np.array(dss[1].ImagePositionPatient, float) - np.array(dss[0].ImagePositionPatient, float), nrm))}, sys.stdout)
"#;

#[test]
fn built_series_matches_simpleitk_and_pydicom() {
    let dir = build("plain", 12);
    let info = only_series(dir.path());
    assert_eq!((info.instances, info.rows, info.cols, info.modality.as_str()), (12, 128, 128, "CT"));
    let v = read_series(&info, &DicomReadOptions::default()).unwrap();
    assert_eq!(v.volume.type_name(), "int16", "integral rescale in range keeps int16");
    assert_eq!(v.volume.dims(), [128, 128, 12]);
    let peer = sitk(dir.path());
    same_image(&v.volume, &peer, |x| x, "ImageSeriesReader");
    // Same grid as ITK's (both right-handed here), to position rounding.
    assert!(
        v.volume.geometry().approx_eq(&peer.geometry, 1e-6),
        "{:?} vs {:?}",
        v.volume.geometry(),
        peer.geometry
    );

    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("p.f64");
    let j = py_json(PYDICOM_SERIES, &[dir.path().to_str().unwrap(), raw.to_str().unwrap()]);
    let want: Vec<f64> = std::fs::read(&raw)
        .unwrap()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(voxels(&v.volume), want);
    let g = v.volume.geometry();
    let origin: Vec<f64> = j["origin"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    for a in 0..3 {
        // Positions as written (DS): equal to the last digit.
        assert!((g.origin[a] - origin[a]).abs() < 1e-9, "{:?} vs {origin:?}", g.origin);
        assert!((g.axis_direction(2)[a] - j["normal"][a].as_f64().unwrap()).abs() < 1e-9);
    }
    assert!((g.spacing[2] - j["dz"].as_f64().unwrap()).abs() < 1e-6);
}

#[test]
fn gantry_tilt_is_refused_then_resampled() {
    let dir = build("linear_tilt", 6);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    match &e {
        // 1 mm sideways per 2.5 mm along the normal.
        DicomError::GantryTilt { angle_deg, .. } => {
            assert!((angle_deg - (1.0f64 / 2.5).atan().to_degrees()).abs() < 1e-3)
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("TiltPolicy::Resample"), "{e}");
    let options = DicomReadOptions { tilt: TiltPolicy::Resample, ..Default::default() };
    let v = read_dir(dir.path(), &options).unwrap();
    assert_eq!(v.type_name(), "float32");
    assert_eq!(v.dims(), [128, 128, 6]);
    let g = *v.geometry();
    g.validate().unwrap();
    assert!((g.spacing[2] - 2.5).abs() < 1e-6);
    let data = voxels(&v);
    let min = data.iter().copied().fold(f64::INFINITY, f64::min);
    let (mut inside, mut outside) = (0, 0);
    for k in 0..6 {
        for j in 0..128 {
            for i in 0..128 {
                let p = g.index_to_world([i as f64, j as f64, k as f64]);
                let f = 0.5 * p[0] + 0.25 * p[1] + 2.0 * p[2];
                let got = data[i + 128 * (j + 128 * k)];
                // Slice k was shifted k mm along the rows, i.e. k / 0.66 pixels: columns
                // below that shift were not acquired and take the series minimum.
                if (i as f64) < k as f64 / g.spacing[0] - 1e-9 {
                    assert_eq!(got, min, "({i},{j},{k}) outside the field");
                    outside += 1;
                } else {
                    // Bilinear interpolation of a linear function is exact, up to the
                    // rounding of 2f to integers when the series was written (0.25) and
                    // f32 storage.
                    assert!((got - f).abs() <= 0.25 + 1e-3, "({i},{j},{k}): {got} vs {f}");
                    inside += 1;
                }
            }
        }
    }
    assert!(inside > 90_000 && outside > 0, "{inside} {outside}");
}

#[test]
fn missing_slice_is_refused_then_interpolated() {
    let dir = build("linear_missing", 9);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::MissingSlices { missing: 1, .. }), "{e}");
    assert!(e.to_string().contains("SpacingPolicy::Resample"), "{e}");
    let options = DicomReadOptions { spacing: SpacingPolicy::Resample, ..Default::default() };
    let v = read_dir(dir.path(), &options).unwrap();
    assert_eq!(v.dims(), [128, 128, 9]);
    let g = *v.geometry();
    assert!((g.spacing[2] - 2.5).abs() < 1e-6, "{g:?}");
    let data = voxels(&v);
    for k in 0..9 {
        for (i, j) in [(0, 0), (5, 90), (127, 127)] {
            let p = g.index_to_world([i as f64, j as f64, k as f64]);
            let f = 0.5 * p[0] + 0.25 * p[1] + 2.0 * p[2];
            // Linear interpolation of a linear function is exact; 0.25: rounding of 2f.
            assert!((data[i + 128 * (j + 128 * k)] - f).abs() <= 0.25 + 1e-3, "({i},{j},{k})");
        }
    }
}

#[test]
fn uneven_spacing_is_refused() {
    let dir = build("uneven", 6);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    match e {
        DicomError::UnevenSpacing { min, max, .. } => {
            assert!((min - 2.5).abs() < 1e-6 && (max - 3.2).abs() < 1e-6)
        }
        other => panic!("{other}"),
    }
    let options = DicomReadOptions { spacing: SpacingPolicy::Resample, ..Default::default() };
    let v = read_dir(dir.path(), &options).unwrap();
    // 13.2 mm covered with the median gap of 2.5 mm: 6 slices 2.64 mm apart.
    assert_eq!(v.dims()[2], 6);
    assert!((v.geometry().spacing[2] - 13.2 / 5.0).abs() < 1e-6);
}

#[test]
fn duplicate_positions_are_refused() {
    let dir = build("duplicate", 6);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::DuplicatePosition { .. }), "{e}");
}

#[test]
fn mixed_sizes_orientations_and_spacings_are_refused() {
    let dir = build("mixed_size", 4);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::MixedSize { .. }), "{e}");
    assert!(e.to_string().contains("128×128") && e.to_string().contains("126×128"), "{e}");
    let dir = build("mixed_orientation", 4);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::MixedOrientation { .. }), "{e}");
    let dir = build("mixed_spacing", 4);
    let e = read_dir(dir.path(), &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::MixedPixelSpacing { .. }), "{e}");
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

#[test]
fn scan_groups_series_skips_junk_and_selects() {
    let root = tempfile::tempdir().unwrap();
    let ct = build("plain", 5);
    let sub = root.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    for e in std::fs::read_dir(ct.path()).unwrap() {
        let p = e.unwrap().path();
        copy(&p, &sub.join(p.file_name().unwrap()));
    }
    copy(&pyd("MR_small.dcm"), &root.path().join("mr.dcm"));
    // Junk that must be skipped: text, a DICOMDIR, a truncated file, an empty file, and an
    // RT plan (a series without images is listed, not read).
    copy(&pyd("README.txt"), &root.path().join("README"));
    copy(&pyd("dicomdirtests/DICOMDIR"), &root.path().join("DICOMDIR"));
    copy(&pyd("MR_truncated.dcm"), &root.path().join("trunc"));
    std::fs::write(root.path().join("empty"), b"").unwrap();
    let series = scan(root.path()).unwrap();
    assert_eq!(series, scan(root.path()).unwrap(), "scans are deterministic");
    let uids: Vec<&str> = series.iter().map(|s| s.series_uid.as_str()).collect();
    let ct_series = series.iter().find(|s| s.modality == "CT").expect("CT series");
    assert_eq!(ct_series.instances, 5);
    assert_eq!(
        ct_series.patient_id.chars().filter(|&c| c == '*').count() + 2,
        ct_series.patient_id.chars().count()
    );
    let mr = series.iter().find(|s| s.modality == "MR").expect("MR series");
    // MR_truncated shares MR_small's series: the scan reads only up to the pixel data, so
    // both are listed; reading that series then fails on the truncated file.
    assert_eq!(mr.instances, 2);
    assert_eq!(series.len(), 2, "{uids:?}");
    let e = select_series(&series, None, root.path()).unwrap_err();
    assert!(matches!(e, DicomError::SeveralSeries { count: 2, .. }), "{e}");
    for u in &uids {
        assert!(e.to_string().contains(u), "listing names {u}: {e}");
    }
    let e = select_series(&series, Some("1.2.3.4"), root.path()).unwrap_err();
    assert!(matches!(e, DicomError::UnknownSeries { .. }), "{e}");
    let chosen = select_series(&series, Some(&ct_series.series_uid), root.path()).unwrap();
    assert_eq!(read_series(chosen, &DicomReadOptions::default()).unwrap().volume.dims(), [128, 128, 5]);
    let e = read_series(mr, &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");

    let empty = tempfile::tempdir().unwrap();
    assert!(scan(empty.path()).unwrap().is_empty());
    let e = select_series(&[], None, empty.path()).unwrap_err();
    assert!(matches!(e, DicomError::NoSeries { .. }), "{e}");
    let e = scan(&PathBuf::from("/nonexistent/dicom")).unwrap_err();
    assert!(matches!(e, DicomError::ReadFile { .. }), "{e}");
}
