//! DICOM series writing: round trips through this reader, pydicom and SimpleITK's
//! ImageSeriesReader (voxels and geometry), reference-series attributes, and failed writes
//! that leave nothing behind.

use std::path::Path;

use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::dicom::{self, DicomError, DicomReadOptions, DicomWriteOptions};

use crate::common::py_json;
use crate::dicom::{pyd, voxels};
use crate::dicom_series::{only_series, same_image, sitk, Peer};

/// A right-handed rotation (about an oblique axis) as direction columns.
fn rotated() -> [[f64; 3]; 3] {
    let (a, b) = (0.3f64, -0.5f64);
    let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, b.cos(), -b.sin()], [0.0, b.sin(), b.cos()]];
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| rz[i][k] * rx[k][j]).sum();
        }
    }
    m
}

fn geometry() -> Geometry {
    Geometry { origin: [-12.345678, 45.6, -789.0123], spacing: [0.7, 0.9, 2.3], direction: rotated() }
}

fn read_back(dir: &Path) -> AnyVolume {
    dicom::read_series(&only_series(dir), &DicomReadOptions::default()).unwrap().volume
}

/// pydicom's reading of a written series: per file the class, modality, rescale and the
/// rescaled pixels, stacked along the normal.
const PYDICOM_CHECK: &str = r#"
import sys, json, glob, numpy as np, pydicom
dss = [pydicom.dcmread(f) for f in sorted(glob.glob(sys.argv[1] + '/*.dcm'))]
iop = np.array(dss[0].ImageOrientationPatient, float)
nrm = np.cross(iop[:3], iop[3:])
dss.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), nrm)))
vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss])
vol.astype('<f8').tofile(sys.argv[2])
d = dss[0]
json.dump({'sop_class': str(d.SOPClassUID), 'modality': d.Modality, 'n': len(dss),
           'series': {str(x.SeriesInstanceUID) for x in dss}.__len__(),
           'sops': len({str(x.SOPInstanceUID) for x in dss}),
           'ts': str(d.file_meta.TransferSyntaxUID), 'slope': float(d.RescaleSlope),
           'origin': [float(v) for v in d.ImagePositionPatient], 'iop': [float(v) for v in d.ImageOrientationPatient],
           'spacing': [float(v) for v in d.PixelSpacing], 'thickness': float(d.SliceThickness),
           'study': str(d.StudyInstanceUID), 'series_uid': str(d.SeriesInstanceUID),
           'frame': str(d.FrameOfReferenceUID), 'patient': str(d.PatientName), 'patient_id': str(d.PatientID),
           'description': str(d.get('SeriesDescription', ''))}, sys.stdout)
"#;

fn pydicom_check(dir: &Path) -> (serde_json::Value, Vec<f64>) {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("v.f64");
    let j = py_json(PYDICOM_CHECK, &[dir.to_str().unwrap(), raw.to_str().unwrap()]);
    let v = std::fs::read(raw)
        .unwrap()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (j, v)
}

fn peer_of(v: &AnyVolume) -> Peer {
    Peer { dims: v.dims(), geometry: *v.geometry(), voxels: voxels(v) }
}

#[test]
fn int16_ct_round_trips_through_pydicom_and_simpleitk() {
    let dims = [40, 30, 7];
    let data: Vec<i16> = (0..40 * 30 * 7).map(|i| ((i * 37) % 4096) as i16 - 1024).collect();
    let vol: AnyVolume = Volume::from_vec(dims, geometry(), data).unwrap().into();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ct");
    let options = DicomWriteOptions { modality: Some("CT".into()), ..Default::default() };
    dicom::write_series(&dir, &vol, &options).unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 7);

    let back = read_back(&dir);
    assert_eq!(back.type_name(), "int16");
    assert_eq!(voxels(&back), voxels(&vol));
    // DS keeps ≥ 11 significant digits: positions and cosines agree far below 1e-9.
    assert!(back.geometry().approx_eq(vol.geometry(), 1e-9), "{:?} vs {:?}", back.geometry(), vol.geometry());

    let (j, pv) = pydicom_check(&dir);
    assert_eq!(j["sop_class"], "1.2.840.10008.5.1.4.1.1.2");
    assert_eq!(j["modality"], "CT");
    assert_eq!(j["ts"], "1.2.840.10008.1.2.1");
    assert_eq!((j["n"].as_u64(), j["series"].as_u64(), j["sops"].as_u64()), (Some(7), Some(1), Some(7)));
    assert_eq!(pv, voxels(&vol));
    let g = vol.geometry();
    for a in 0..3 {
        assert!((j["origin"][a].as_f64().unwrap() - g.origin[a]).abs() < 1e-9);
        assert!((j["iop"][a].as_f64().unwrap() - g.direction[a][0]).abs() < 1e-12);
        assert!((j["iop"][a + 3].as_f64().unwrap() - g.direction[a][1]).abs() < 1e-12);
    }
    // PixelSpacing is (row spacing, column spacing) = (y, x).
    assert_eq!((j["spacing"][0].as_f64(), j["spacing"][1].as_f64()), (Some(0.9), Some(0.7)));
    assert_eq!(j["thickness"].as_f64(), Some(2.3));

    let peer = sitk(&dir);
    same_image(&vol, &peer, |x| x, "SimpleITK reading our series");
    assert!(peer.geometry.approx_eq(g, 1e-6), "{:?} vs {g:?}", peer.geometry);
}

#[test]
fn float_volume_round_trips_within_half_a_step() {
    let dims = [17, 9, 4];
    let data: Vec<f32> = (0..17 * 9 * 4).map(|i| -1.5 + 3.75 * ((i * 7919) % 1000) as f32 / 999.0).collect();
    let vol: AnyVolume = Volume::from_vec(dims, geometry(), data).unwrap().into();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("f");
    dicom::write_series(&dir, &vol, &DicomWriteOptions::default()).unwrap();
    let back = read_back(&dir);
    assert_eq!(back.type_name(), "float32");
    let (j, pv) = pydicom_check(&dir);
    assert_eq!(j["sop_class"], "1.2.840.10008.5.1.4.1.1.7", "Secondary Capture by default");
    assert_eq!(j["modality"], "OT");
    let step = j["slope"].as_f64().unwrap();
    // 65536 levels over the range 3.75.
    assert!(step <= 3.75 / 65535.0 * 1.0001, "{step}");
    let want = voxels(&vol);
    for (name, got) in [("ours", voxels(&back)), ("pydicom", pv)] {
        for (a, b) in got.iter().zip(&want) {
            // Half a quantisation step, plus f32 rounding of the value.
            assert!((a - b).abs() <= step / 2.0 + 1e-6, "{name}: {a} vs {b}");
        }
    }
    let peer = sitk(&dir);
    for (a, b) in peer.voxels.iter().zip(voxels(&back).iter()) {
        // SimpleITK applies the same slope/intercept in float32.
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
}

#[test]
fn wide_integers_are_stored_exactly_with_an_intercept() {
    let data: Vec<i32> = (0..6 * 5 * 3).map(|i| -40_000 + i * 700).collect();
    let vol: AnyVolume = Volume::from_vec([6, 5, 3], Geometry::default(), data).unwrap().into();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("w");
    dicom::write_series(&dir, &vol, &DicomWriteOptions::default()).unwrap();
    let back = read_back(&dir);
    assert_eq!(voxels(&back), voxels(&vol));
    assert!(back.geometry().approx_eq(vol.geometry(), 1e-12));
    let (_, pv) = pydicom_check(&dir);
    assert_eq!(pv, voxels(&vol));
}

#[test]
fn left_handed_grid_reads_back_as_the_same_physical_image() {
    let mut g = geometry();
    for r in g.direction.iter_mut() {
        r[2] = -r[2];
    }
    let data: Vec<i16> = (0..8 * 6 * 5).map(|i| i as i16).collect();
    let vol: AnyVolume = Volume::from_vec([8, 6, 5], g, data).unwrap().into();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("lh");
    dicom::write_series(&dir, &vol, &DicomWriteOptions::default()).unwrap();
    let back = read_back(&dir);
    // Slices come back ordered along +normal: flipped in k, same world positions.
    same_image(&back, &peer_of(&vol), |x| x, "left-handed");
    assert!((back.geometry().axis_direction(2)[0] + g.axis_direction(2)[0]).abs() < 1e-12);
}

#[test]
fn reference_series_attributes_are_copied() {
    let vol: AnyVolume = Volume::from_vec([4, 4, 2], geometry(), vec![1.0f32; 32]).unwrap().into();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("derived");
    let reference = pyd("CT_small.dcm");
    let options = DicomWriteOptions {
        modality: Some("MR".into()),
        series_description: Some("synthetic MR".into()),
        reference: Some(reference.clone()),
    };
    dicom::write_series(&dir, &vol, &options).unwrap();
    let (j, _) = pydicom_check(&dir);
    let r = py_json(
        "import sys, json, pydicom; d = pydicom.dcmread(sys.argv[1]); json.dump({'study': str(d.StudyInstanceUID), \
         'series': str(d.SeriesInstanceUID), 'frame': str(d.FrameOfReferenceUID), 'patient': str(d.PatientName), \
         'patient_id': str(d.PatientID)}, sys.stdout)",
        &[reference.to_str().unwrap()],
    );
    assert_eq!(j["sop_class"], "1.2.840.10008.5.1.4.1.1.4");
    assert_eq!(j["modality"], "MR");
    assert_eq!(j["description"], "synthetic MR");
    for k in ["study", "frame", "patient", "patient_id"] {
        assert_eq!(j[k], r[k], "{k} copied from the reference");
    }
    assert_ne!(j["series_uid"], r["series"], "a new series");
    assert!(j["series_uid"].as_str().unwrap().starts_with("2.25."));
    // The reference given as a folder holding one series works the same.
    let refdir = root.path().join("refdir");
    std::fs::create_dir(&refdir).unwrap();
    std::fs::copy(&reference, refdir.join("ct.dcm")).unwrap();
    let dir2 = root.path().join("derived2");
    dicom::write_series(&dir2, &vol, &DicomWriteOptions { reference: Some(refdir), ..Default::default() })
        .unwrap();
    assert_eq!(pydicom_check(&dir2).0["study"], r["study"]);
}

#[test]
fn failed_writes_leave_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let listing = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let target = root.path().join("out");
    let mut data = vec![0.0f32; 27];
    data[13] = f32::NAN;
    let nan: AnyVolume = Volume::from_vec([3, 3, 3], Geometry::default(), data).unwrap().into();
    let e = dicom::write_series(&target, &nan, &DicomWriteOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::WriteVolume { .. }), "{e}");
    assert!(listing().is_empty(), "{:?}", listing());

    let sheared =
        Geometry { direction: [[1.0, 0.0, 0.3], [0.0, 1.0, 0.0], [0.0, 0.0, 0.95]], ..Geometry::default() };
    let v: AnyVolume = Volume::from_vec([3, 3, 3], sheared, vec![0i16; 27]).unwrap().into();
    let e = dicom::write_series(&target, &v, &DicomWriteOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::WriteVolume { .. } | DicomError::Core(_)), "{e}");
    assert!(listing().is_empty());

    let ok: AnyVolume = Volume::from_vec([3, 3, 3], Geometry::default(), vec![5i16; 27]).unwrap().into();
    let bad_ref =
        DicomWriteOptions { reference: Some(root.path().join("missing.dcm")), ..Default::default() };
    let e = dicom::write_series(&target, &ok, &bad_ref).unwrap_err();
    assert!(matches!(e, DicomError::ReferenceSeries { .. }), "{e}");
    assert!(listing().is_empty());

    // An output folder that is not empty is refused and left as it was.
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), b"mine").unwrap();
    let e = dicom::write_series(&target, &ok, &DicomWriteOptions::default()).unwrap_err();
    assert!(matches!(&e, DicomError::Write { path, .. } if path == &target), "{e}");
    assert_eq!(listing(), vec!["out"]);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);

    // Through the format-dispatching API too.
    let e =
        hounsfield_io::write_image(&root.path().join("nan_series"), &nan, &Default::default()).unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    assert_eq!(listing(), vec!["out"]);
}

#[test]
fn read_image_and_write_image_dispatch_to_dicom() {
    let vol: AnyVolume =
        Volume::from_vec([5, 4, 3], geometry(), (0..60).map(|i| i as i16 * 3 - 50).collect()).unwrap().into();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("series");
    hounsfield_io::write_image(&dir, &vol, &Default::default()).unwrap();
    let img = hounsfield_io::read_image(&dir, &Default::default()).unwrap();
    assert_eq!(img.format, hounsfield_io::Format::Dicom);
    assert_eq!(img.modality.as_deref(), Some("OT"));
    assert_eq!(img.series.len(), 1);
    assert_eq!(voxels(&img.volume), voxels(&vol));
    let one = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let img = hounsfield_io::read_image(&one, &Default::default()).unwrap();
    assert_eq!(img.volume.dims(), [5, 4, 1]);
}
