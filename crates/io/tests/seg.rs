//! DICOM SEG writing, read back by pydicom and highdicom (segments, codes, frames and their
//! positions, source references, masks voxel for voxel), parsed by dcmtk's dcmdump; STL
//! surface meshes read back by numpy; bad input refused with nothing left behind.

use std::path::Path;
use std::process::Command;

use hounsfield_core::{Geometry, LabelVolume, Volume};
use hounsfield_io::dicom::{self, DicomReadOptions, DicomWriteOptions};
use hounsfield_io::seg::{
    anatomy_code, write_dicom_seg, write_dicom_seg_masks, AlgorithmType, Code, SegError, SegWriteOptions,
    SegmentDescription, SourceSeries,
};

use crate::common::py_json;
use crate::dicom::pyd;
use crate::dicom_series::only_series;

/// What pydicom and highdicom see in a SEG. argv: SEG path, source folder ('' for none),
/// output folder. Writes `volume.u8` (highdicom `get_volume`, segments last) and, with a
/// source, `by_source.u8` (`get_pixels_by_source_instance` in the order of `source_uids`).
const READ_SEG: &str = r#"
import sys, json, glob, numpy as np, pydicom, highdicom as hd
seg_path, src_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
ds = pydicom.dcmread(seg_path)
seg = hd.seg.segread(seg_path)
code = lambda c: [str(c.CodeValue), str(c.CodingSchemeDesignator), str(c.CodeMeaning)]
segments = []
for d in ds.SegmentSequence:
    ty = d.SegmentedPropertyTypeCodeSequence[0]
    mod = ty.get('SegmentedPropertyTypeModifierCodeSequence')
    segments.append({'number': int(d.SegmentNumber), 'label': str(d.SegmentLabel),
        'category': code(d.SegmentedPropertyCategoryCodeSequence[0]), 'type': code(ty),
        'modifier': code(mod[0]) if mod else None, 'algorithm_type': str(d.SegmentAlgorithmType),
        'algorithm_name': str(d.get('SegmentAlgorithmName', '')), 'lab': [int(v) for v in d.RecommendedDisplayCIELabValue],
        'rgb': list(hd.color.CIELabColor.from_dicom_value(d.RecommendedDisplayCIELabValue).to_rgb())})
frames = []
for f in ds.PerFrameFunctionalGroupsSequence:
    der = f.get('DerivationImageSequence')
    frames.append({'segment': int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
        'ipp': [float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient],
        'dim': [int(v) for v in f.FrameContentSequence[0].DimensionIndexValues],
        'source': str(der[0].SourceImageSequence[0].ReferencedSOPInstanceUID) if der else None})
sh = ds.SharedFunctionalGroupsSequence[0]
res = {'sop_class': str(ds.SOPClassUID), 'modality': ds.Modality, 'type': seg.segmentation_type.value,
    'n_frames': int(ds.NumberOfFrames), 'bits': int(ds.BitsAllocated), 'rows': int(ds.Rows), 'cols': int(ds.Columns),
    'segments': segments, 'frames': frames, 'study': str(ds.StudyInstanceUID), 'series': str(ds.SeriesInstanceUID),
    'frame_of_reference': str(ds.FrameOfReferenceUID), 'patient_name': str(ds.PatientName),
    'patient_id': str(ds.PatientID), 'overlap': str(ds.SegmentsOverlap),
    'iop': [float(v) for v in sh.PlaneOrientationSequence[0].ImageOrientationPatient],
    'pixel_spacing': [float(v) for v in sh.PixelMeasuresSequence[0].PixelSpacing],
    'thickness': float(sh.PixelMeasuresSequence[0].SliceThickness),
    'referenced_series': [{'uid': str(s.SeriesInstanceUID),
        'instances': [str(i.ReferencedSOPInstanceUID) for i in s.ReferencedInstanceSequence]}
        for s in ds.get('ReferencedSeriesSequence', [])]}
vol = seg.get_volume(combine_segments=False, dtype=np.uint8)
res['volume_shape'] = list(vol.array.shape)
res['volume_affine'] = vol.affine.tolist()
np.ascontiguousarray(vol.array).tofile(out + '/volume.u8')
if src_dir:
    src = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(glob.glob(src_dir + '/*.dcm'))]
    res['source_series'] = str(src[0].SeriesInstanceUID)
    res['source_study'] = str(src[0].StudyInstanceUID)
    res['source_frame_of_reference'] = str(src[0].FrameOfReferenceUID)
    res['source_uids'] = [str(d.SOPInstanceUID) for d in src]
    res['source_ipp'] = [[float(v) for v in d.ImagePositionPatient] for d in src]
    arr = seg.get_pixels_by_source_instance(res['source_uids'], dtype=np.uint8)
    res['by_source_shape'] = list(arr.shape)
    np.ascontiguousarray(arr).tofile(out + '/by_source.u8')
print(json.dumps(res))
"#;

fn read_seg(seg: &Path, source: Option<&Path>, out: &Path) -> serde_json::Value {
    py_json(
        READ_SEG,
        &[seg.to_str().unwrap(), source.map(|p| p.to_str().unwrap()).unwrap_or(""), out.to_str().unwrap()],
    )
}

/// An oblique, anisotropic grid; 23 × 19 = 437 pixels per frame, not a multiple of 8, so
/// frames start mid-byte in the 1-bit pixel data.
fn oblique() -> Geometry {
    let (a, b) = (0.4f64, 0.25f64);
    let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
    let ry = [[b.cos(), 0.0, b.sin()], [0.0, 1.0, 0.0], [-b.sin(), 0.0, b.cos()]];
    Geometry {
        origin: [-40.5, 12.25, 103.0],
        spacing: [0.8, 1.1, 2.5],
        direction: hounsfield_core::linalg::mat_mul(&rz, &ry),
    }
}

const DIMS: [usize; 3] = [23, 19, 9];

/// A CT series on the oblique grid with CT_small.dcm's patient and study, and the grid as
/// this crate reads it back.
fn source_series(root: &Path) -> (std::path::PathBuf, Geometry) {
    let n: usize = DIMS.iter().product();
    let ct = Volume::from_vec(DIMS, oblique(), (0..n).map(|i| (i % 200) as i16 - 100).collect()).unwrap();
    let dir = root.join("ct");
    let options = DicomWriteOptions {
        modality: Some("CT".into()),
        reference: Some(pyd("CT_small.dcm")),
        ..Default::default()
    };
    dicom::write_series(&dir, &ct.into(), &options).unwrap();
    let back = dicom::read_series(&only_series(&dir), &DicomReadOptions::default()).unwrap();
    (dir, *back.volume.geometry())
}

/// Labels 9 (liver) in slices 1–5, 10 (spleen) in 4–7 touching the image border, 11 (right
/// kidney) nowhere.
fn labels_on(g: Geometry) -> LabelVolume {
    let mut l = LabelVolume::background(DIMS, g).unwrap();
    for (i, v) in l.as_volume_mut().data_mut().iter_mut().enumerate() {
        let (x, y, z) = (i % DIMS[0], i / DIMS[0] % DIMS[1], i / (DIMS[0] * DIMS[1]));
        if (1..=5).contains(&z) && (x as i32 - 8).pow(2) + (y as i32 - 9).pow(2) < 20 + z as i32 {
            *v = 9;
        } else if (4..=7).contains(&z) && x > 15 && y + z > 10 {
            *v = 10;
        }
    }
    l
}

fn segments() -> Vec<SegmentDescription> {
    vec![
        SegmentDescription::from_anatomy(9, "liver").unwrap(),
        SegmentDescription::from_anatomy(10, "spleen")
            .unwrap()
            .with_algorithm(AlgorithmType::Semiautomatic, "region grow"),
        SegmentDescription::from_anatomy(11, "right kidney").unwrap(),
    ]
}

/// Checks highdicom's `get_volume` against `expected(segment, voxel)`: every array element
/// is mapped through highdicom's affine to our grid, and every voxel of ours is covered.
fn check_volume(
    j: &serde_json::Value,
    raw: &[u8],
    g: &Geometry,
    expected: impl Fn(usize, [usize; 3]) -> bool,
) {
    let shape: Vec<usize> =
        j["volume_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let aff: Vec<Vec<f64>> = serde_json::from_value(j["volume_affine"].clone()).unwrap();
    let nseg = shape[3];
    assert_eq!(raw.len(), shape.iter().product::<usize>());
    let w2i = g.world_to_index_affine().unwrap();
    let mut ones = vec![0usize; nseg];
    for a in 0..shape[0] {
        for b in 0..shape[1] {
            for c in 0..shape[2] {
                let p: Vec<f64> = (0..3)
                    .map(|r| aff[r][0] * a as f64 + aff[r][1] * b as f64 + aff[r][2] * c as f64 + aff[r][3])
                    .collect();
                let idx = w2i.apply([p[0], p[1], p[2]]);
                let v = idx.map(|x| x.round());
                assert!(
                    idx.iter().zip(&v).all(|(x, r)| (x - r).abs() < 1e-3),
                    "highdicom voxel {a},{b},{c} at index {idx:?}"
                );
                assert!(
                    v.iter().zip(&DIMS).all(|(&x, &n)| x >= 0.0 && (x as usize) < n),
                    "outside our grid: {v:?}"
                );
                let vox = [v[0] as usize, v[1] as usize, v[2] as usize];
                for s in 0..nseg {
                    let got = raw[((a * shape[1] + b) * shape[2] + c) * nseg + s] != 0;
                    assert_eq!(got, expected(s, vox), "segment {} voxel {vox:?}", s + 1);
                    ones[s] += got as usize;
                }
            }
        }
    }
    for (s, &n) in ones.iter().enumerate() {
        let ours = (0..DIMS.iter().product::<usize>())
            .filter(|&i| expected(s, [i % DIMS[0], i / DIMS[0] % DIMS[1], i / (DIMS[0] * DIMS[1])]))
            .count();
        assert_eq!(n, ours, "segment {} voxel count", s + 1);
    }
}

#[test]
fn label_map_seg_reads_back_in_highdicom_with_source_references() {
    let root = tempfile::tempdir().unwrap();
    let (ct_dir, g) = source_series(root.path());
    let labels = labels_on(g);
    let source = SourceSeries::read(&ct_dir, None).unwrap();
    let out = root.path().join("seg.dcm");
    let summary =
        write_dicom_seg(&out, &labels, Some(&source), &segments(), &SegWriteOptions::default()).unwrap();
    assert_eq!(summary.frames_per_segment, vec![5, 4, 0]);
    assert!(!summary.overlapping && summary.references_source);

    let j = read_seg(&out, Some(&ct_dir), root.path());
    assert_eq!(j["sop_class"], "1.2.840.10008.5.1.4.1.1.66.4");
    assert_eq!(j["modality"], "SEG");
    assert_eq!(j["type"], "BINARY");
    assert_eq!(j["bits"], 1);
    assert_eq!(j["n_frames"], 9);
    // Same study, frame of reference and patient as the source; a new series.
    assert_eq!(j["study"], j["source_study"]);
    assert_eq!(j["frame_of_reference"], j["source_frame_of_reference"]);
    assert_eq!(j["patient_name"], "CompressedSamples^CT1");
    assert_ne!(j["series"], j["source_series"]);
    assert_eq!(j["series"], summary.series_instance_uid.as_str());
    // Segments: numbers, names, codes.
    let segs = j["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 3);
    let names: Vec<&str> = segs.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(names, ["liver", "spleen", "right kidney"]);
    assert_eq!(segs[0]["number"], 1);
    assert_eq!(segs[0]["type"], serde_json::json!(["10200004", "SCT", "Liver"]));
    assert_eq!(segs[0]["category"], serde_json::json!(["91723000", "SCT", "Anatomical Structure"]));
    assert_eq!(segs[0]["algorithm_type"], "AUTOMATIC");
    assert_eq!(segs[1]["algorithm_type"], "SEMIAUTOMATIC");
    assert_eq!(segs[1]["algorithm_name"], "region grow");
    assert_eq!(segs[2]["type"][0], "64033007");
    assert_eq!(segs[2]["modifier"], serde_json::json!(["24028007", "SCT", "Right"]));
    // The recommended colour comes back through highdicom's CIELab → sRGB within rounding.
    let liver_rgb = anatomy_code("liver").unwrap().color;
    for (got, want) in segs[0]["rgb"].as_array().unwrap().iter().zip(liver_rgb) {
        assert!((got.as_i64().unwrap() - want as i64).abs() <= 1, "{got} vs {want}");
    }
    // Frames: exactly the slices holding each segment, at those slices' positions, each
    // derived from the source instance at that position.
    let src_uids: Vec<&str> =
        j["source_uids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let src_ipp: Vec<Vec<f64>> = serde_json::from_value(j["source_ipp"].clone()).unwrap();
    let frames = j["frames"].as_array().unwrap();
    let expected: Vec<(u64, usize)> = (1..=5).map(|z| (1, z)).chain((4..=7).map(|z| (2, z))).collect();
    assert_eq!(frames.len(), expected.len());
    for (f, &(segment, z)) in frames.iter().zip(&expected) {
        assert_eq!(f["segment"].as_u64().unwrap(), segment);
        let ipp: Vec<f64> = serde_json::from_value(f["ipp"].clone()).unwrap();
        let want = g.index_to_world([0.0, 0.0, z as f64]);
        assert!(
            ipp.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "frame at slice {z}: {ipp:?} vs {want:?}"
        );
        let k = src_ipp.iter().position(|p| p.iter().zip(&ipp).all(|(a, b)| (a - b).abs() < 1e-3)).unwrap();
        assert_eq!(f["source"].as_str().unwrap(), src_uids[k]);
        assert_eq!(f["dim"], serde_json::json!([segment, z + 1]));
    }
    let refs = j["referenced_series"].as_array().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["uid"], j["source_series"]);
    let mut listed: Vec<&str> =
        refs[0]["instances"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    listed.sort();
    let mut all = src_uids.clone();
    all.sort();
    assert_eq!(listed, all);

    // Pixels, voxel for voxel: highdicom's volume and its per-source-instance frames.
    let label_of = |s: usize| [9u16, 10, 11][s];
    let raw = std::fs::read(root.path().join("volume.u8")).unwrap();
    check_volume(&j, &raw, &g, |s, [x, y, z]| *labels.get(x, y, z).unwrap() == label_of(s));
    let by_source = std::fs::read(root.path().join("by_source.u8")).unwrap();
    let shape: Vec<usize> = serde_json::from_value(j["by_source_shape"].clone()).unwrap();
    assert_eq!(shape, vec![DIMS[2], DIMS[1], DIMS[0], 3]);
    for (k, ipp) in src_ipp.iter().enumerate() {
        let z = g.world_to_index([ipp[0], ipp[1], ipp[2]]).unwrap()[2].round() as usize;
        for y in 0..DIMS[1] {
            for x in 0..DIMS[0] {
                for s in 0..3 {
                    let got = by_source[((k * DIMS[1] + y) * DIMS[0] + x) * 3 + s] != 0;
                    assert_eq!(
                        got,
                        *labels.get(x, y, z).unwrap() == label_of(s),
                        "instance {k} ({x},{y}) segment {s}"
                    );
                }
            }
        }
    }
    // dcmtk parses it too.
    let dump =
        Command::new("dcmdump").arg("-q").arg(&out).output().expect("run dcmdump (setup.sh installs dcmtk)");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("(0062,0002)") && text.contains("(5200,9230)"));
}

#[test]
fn overlapping_masks_without_a_source_make_a_valid_standalone_seg() {
    let root = tempfile::tempdir().unwrap();
    let g = oblique();
    let n: usize = DIMS.iter().product();
    let at = |i: usize| (i % DIMS[0], i / DIMS[0] % DIMS[1], i / (DIMS[0] * DIMS[1]));
    // Two boxes sharing a corner region (voxels in both segments), and a lesion inside one.
    let a = Volume::from_vec(
        DIMS,
        g,
        (0..n)
            .map(|i| {
                let (x, y, _) = at(i);
                (x < 14 && y < 12) as u8
            })
            .collect(),
    )
    .unwrap();
    let b = Volume::from_vec(
        DIMS,
        g,
        (0..n)
            .map(|i| {
                let (x, y, z) = at(i);
                (x > 9 && y > 7 && z < 6) as u8
            })
            .collect(),
    )
    .unwrap();
    let c = Volume::from_vec(
        DIMS,
        g,
        (0..n)
            .map(|i| {
                let (x, y, z) = at(i);
                (x == 5 && y == 5 && z == 8) as u8
            })
            .collect(),
    )
    .unwrap();
    let masks = vec![a, b, c];
    let segments = vec![
        SegmentDescription::from_anatomy(0, "muscle").unwrap(),
        SegmentDescription::new(
            0,
            "region B",
            Code::sct("85756007", "Tissue"),
            Code::sct("87784001", "Soft tissue"),
        ),
        SegmentDescription::from_anatomy(0, "lesion").unwrap().with_algorithm(AlgorithmType::Manual, ""),
    ];
    let out = root.path().join("masks.dcm");
    let summary = write_dicom_seg_masks(&out, &masks, None, &segments, &SegWriteOptions::default()).unwrap();
    assert!(summary.overlapping && !summary.references_source);
    assert_eq!(summary.frames_per_segment, vec![9, 6, 1]);
    let j = read_seg(&out, None, root.path());
    assert_eq!(j["overlap"], "YES");
    assert_eq!(j["n_frames"], 16);
    assert_eq!(j["referenced_series"], serde_json::json!([]));
    assert!(j["frames"].as_array().unwrap().iter().all(|f| f["source"].is_null()));
    assert_eq!(j["segments"][2]["algorithm_type"], "MANUAL");
    assert_eq!(j["segments"][0]["category"][1], "SCT");
    // Geometry from the grid alone.
    let (r, c) = (g.axis_direction(0), g.axis_direction(1));
    let iop: Vec<f64> = serde_json::from_value(j["iop"].clone()).unwrap();
    assert!(iop.iter().zip(r.iter().chain(&c)).all(|(a, b)| (a - b).abs() < 1e-9));
    assert_eq!(j["pixel_spacing"], serde_json::json!([1.1, 0.8]));
    assert_eq!(j["thickness"], 2.5);
    let raw = std::fs::read(root.path().join("volume.u8")).unwrap();
    check_volume(&j, &raw, &g, |s, [x, y, z]| *masks[s].get(x, y, z).unwrap() != 0);
}

#[test]
fn bad_input_is_refused_and_leaves_no_file() {
    let root = tempfile::tempdir().unwrap();
    let (ct_dir, g) = source_series(root.path());
    let source = SourceSeries::read(&ct_dir, None).unwrap();
    let out = root.path().join("bad.dcm");
    let opts = SegWriteOptions::default();
    let before: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    // Labels shifted by half a slice: not on the source grid.
    let shifted = labels_on(Geometry { origin: g.index_to_world([0.0, 0.0, 0.5]), ..g });
    let e = write_dicom_seg(&out, &shifted, Some(&source), &segments(), &opts).unwrap_err();
    assert!(matches!(e, SegError::SourceGrid { .. }), "{e}");
    assert!(e.to_string().contains("resample"), "{e}");
    // Other spacing in-plane, other size.
    let coarse = labels_on(Geometry { spacing: [0.9, 1.1, 2.5], ..g });
    assert!(matches!(
        write_dicom_seg(&out, &coarse, Some(&source), &segments(), &opts),
        Err(SegError::SourceGrid { .. })
    ));
    let small = LabelVolume::background([22, 19, 9], g).unwrap();
    assert!(matches!(
        write_dicom_seg(&out, &small, Some(&source), &segments(), &opts),
        Err(SegError::SourceGrid { .. })
    ));
    let labels = labels_on(g);
    assert!(matches!(write_dicom_seg(&out, &labels, Some(&source), &[], &opts), Err(SegError::NoSegments)));
    let mut twice = segments();
    twice[1].label = 9;
    assert!(matches!(
        write_dicom_seg(&out, &labels, None, &twice, &opts),
        Err(SegError::DuplicateLabel { label: 9, .. })
    ));
    let mut background = segments();
    background[0].label = 0;
    assert!(matches!(
        write_dicom_seg(&out, &labels, None, &background, &opts),
        Err(SegError::Segment { index: 0, .. })
    ));
    let bad_label = SegWriteOptions { content_label: "lower case".into(), ..Default::default() };
    assert!(matches!(
        write_dicom_seg(&out, &labels, None, &segments(), &bad_label),
        Err(SegError::Options { name: "content_label", .. })
    ));
    let long = SegWriteOptions { series_description: "x".repeat(65), ..Default::default() };
    assert!(matches!(
        write_dicom_seg(&out, &labels, None, &segments(), &long),
        Err(SegError::Options { .. })
    ));
    // Masks: count and grids.
    let m = Volume::<u8>::zeros(DIMS, g).unwrap();
    assert!(matches!(
        write_dicom_seg_masks(&out, std::slice::from_ref(&m), None, &segments(), &opts),
        Err(SegError::Masks { .. })
    ));
    let other = Volume::<u8>::zeros([23, 19, 8], g).unwrap();
    assert!(matches!(
        write_dicom_seg_masks(&out, &[m.clone(), other, m], None, &segments(), &opts),
        Err(SegError::Masks { .. })
    ));
    // Absurd sizes: more columns than DICOM allows; a sheared grid.
    let wide = LabelVolume::background([70_000, 1, 1], Geometry::default()).unwrap();
    assert!(matches!(write_dicom_seg(&out, &wide, None, &segments(), &opts), Err(SegError::Grid { .. })));
    let mut sheared = Geometry::default();
    sheared.direction[0][2] = 0.3;
    let sheared = LabelVolume::background([4, 4, 4], sheared).unwrap();
    assert!(write_dicom_seg(&out, &sheared, None, &segments(), &opts).is_err());
    // Writing into a missing folder fails at the write, atomically.
    let e =
        write_dicom_seg(&root.path().join("no/such/dir.dcm"), &labels, None, &segments(), &opts).unwrap_err();
    assert!(matches!(e, SegError::Write { .. }), "{e}");
    let after: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "no output and no temporary file left");
}

#[test]
fn every_phantom_label_has_codes() {
    for id in (1..=u16::MAX).take_while(|&i| i < 200) {
        if let Some(name) = hounsfield_phantom::label_name(id) {
            let d = SegmentDescription::from_anatomy(id, &name);
            assert!(d.is_some(), "no SNOMED CT code for phantom label {id} {name:?}");
        }
    }
}

#[test]
fn all_empty_segments_still_make_one_frame() {
    let root = tempfile::tempdir().unwrap();
    let labels = LabelVolume::background(DIMS, oblique()).unwrap();
    let out = root.path().join("empty.dcm");
    let s = write_dicom_seg(&out, &labels, None, &segments()[..1], &SegWriteOptions::default()).unwrap();
    assert_eq!(s.frames_per_segment, vec![0]);
    let j = read_seg(&out, None, root.path());
    assert_eq!(j["n_frames"], 1);
}

/// Converts the single-frame series in argv[1] into one RLE-compressed Legacy Converted
/// Enhanced CT multi-frame file, argv[2] (highdicom; an independent writer of multi-frame
/// sources), and prints its SOP instance UID and per-frame positions.
const TO_MULTIFRAME: &str = r#"
import sys, json, glob, pydicom, highdicom as hd
src = sorted((pydicom.dcmread(p) for p in glob.glob(sys.argv[1] + '/*.dcm')), key=lambda d: int(d.InstanceNumber))
uid = hd.UID()
mf = hd.legacy.LegacyConvertedEnhancedCTImage(src, series_instance_uid=hd.UID(), series_number=9,
    sop_instance_uid=uid, instance_number=1, transfer_syntax_uid='1.2.840.10008.1.2.5')
mf.save_as(sys.argv[2])
back = pydicom.dcmread(sys.argv[2])
print(json.dumps({'uid': str(uid), 'ts': str(back.file_meta.TransferSyntaxUID), 'frames': int(back.NumberOfFrames),
    'ipp': [[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in back.PerFrameFunctionalGroupsSequence]}))
"#;

/// Per SEG frame: its segment, position, and the source instance and frame it derives from;
/// and highdicom's `get_pixels_by_source_frame` for every source frame, written to argv[3]
/// (a source frame with no segment has no SEG frame; highdicom is told to read it as empty).
const READ_SEG_FRAMES: &str = r#"
import sys, json, numpy as np, pydicom, highdicom as hd
ds = pydicom.dcmread(sys.argv[1]); uid = sys.argv[2]
frames = []
for f in ds.PerFrameFunctionalGroupsSequence:
    s = f.DerivationImageSequence[0].SourceImageSequence[0]
    frames.append({'segment': int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
        'ipp': [float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient],
        'source': str(s.ReferencedSOPInstanceUID), 'frame': int(s.ReferencedFrameNumber)})
refs = [[str(i.ReferencedSOPInstanceUID) for i in r.ReferencedInstanceSequence] for r in ds.ReferencedSeriesSequence]
seg = hd.seg.segread(sys.argv[1])
n = int(sys.argv[4])
arr = seg.get_pixels_by_source_frame(source_sop_instance_uid=uid, source_frame_numbers=list(range(1, n + 1)), dtype=np.uint8,
    assert_missing_frames_are_empty=True)
np.ascontiguousarray(arr).tofile(sys.argv[3])
print(json.dumps({'frames': frames, 'refs': refs, 'shape': list(arr.shape)}))
"#;

#[test]
fn seg_references_the_frames_of_a_compressed_multiframe_source() {
    // The source: the oblique CT series turned by highdicom into one RLE Lossless Legacy
    // Converted Enhanced CT file (per-frame positions in functional groups).
    let root = tempfile::tempdir().unwrap();
    let (ct_dir, g) = source_series(root.path());
    let mf_dir = root.path().join("mf");
    std::fs::create_dir_all(&mf_dir).unwrap();
    let mf = mf_dir.join("enhanced.dcm");
    let made = py_json(TO_MULTIFRAME, &[ct_dir.to_str().unwrap(), mf.to_str().unwrap()]);
    assert_eq!(made["ts"], "1.2.840.10008.1.2.5");
    assert_eq!(made["frames"], DIMS[2]);
    let uid = made["uid"].as_str().unwrap().to_owned();

    // This crate reads it (RLE decoded, positions from the functional groups) to the same
    // voxels and grid as the single-frame series.
    let single = dicom::read_series(&only_series(&ct_dir), &DicomReadOptions::default()).unwrap();
    let multi = dicom::read_series(&only_series(&mf_dir), &DicomReadOptions::default()).unwrap();
    assert!(multi.volume.geometry().approx_eq(&g, 1e-6), "{:?} vs {g:?}", multi.volume.geometry());
    assert_eq!(multi.volume.clone().into_f32().data(), single.volume.clone().into_f32().data());

    let labels = labels_on(g);
    let source = SourceSeries::read(&mf_dir, None).unwrap();
    let out = root.path().join("seg.dcm");
    let summary =
        write_dicom_seg(&out, &labels, Some(&source), &segments(), &SegWriteOptions::default()).unwrap();
    assert!(summary.references_source);
    let raw = root.path().join("by_frame.u8");
    let j =
        py_json(READ_SEG_FRAMES, &[out.to_str().unwrap(), &uid, raw.to_str().unwrap(), &DIMS[2].to_string()]);
    // Every SEG frame derives from the one multi-frame instance, from the frame at its position.
    let src_ipp: Vec<Vec<f64>> = serde_json::from_value(made["ipp"].clone()).unwrap();
    let frames = j["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 9);
    for f in frames {
        assert_eq!(f["source"], uid.as_str());
        let ipp: Vec<f64> = serde_json::from_value(f["ipp"].clone()).unwrap();
        let k = f["frame"].as_u64().unwrap() as usize;
        assert!(
            src_ipp[k - 1].iter().zip(&ipp).all(|(a, b)| (a - b).abs() < 1e-3),
            "SEG frame at {ipp:?} cites source frame {k} at {:?}",
            src_ipp[k - 1]
        );
    }
    assert_eq!(j["refs"], serde_json::json!([[uid]]));
    // highdicom's masks by source frame equal the label map, voxel for voxel.
    assert_eq!(j["shape"], serde_json::json!([DIMS[2], DIMS[1], DIMS[0], 3]));
    let by_frame = std::fs::read(&raw).unwrap();
    let label_of = |s: usize| [9u16, 10, 11][s];
    for (k, ipp) in src_ipp.iter().enumerate() {
        let z = g.world_to_index([ipp[0], ipp[1], ipp[2]]).unwrap()[2].round() as usize;
        for y in 0..DIMS[1] {
            for x in 0..DIMS[0] {
                for s in 0..3 {
                    let got = by_frame[((k * DIMS[1] + y) * DIMS[0] + x) * 3 + s] != 0;
                    assert_eq!(
                        got,
                        *labels.get(x, y, z).unwrap() == label_of(s),
                        "frame {k} ({x},{y}) segment {s}"
                    );
                }
            }
        }
    }
}
