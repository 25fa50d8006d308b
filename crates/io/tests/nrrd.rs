//! NRRD against SimpleITK (ITK's teem-based reader): ITK's example headers, files SimpleITK
//! writes, hand-made headers for each field variant, our writers read back, and bad input.

use std::path::{Path, PathBuf};

use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::nrrd::{self, NrrdEncoding, NrrdError, NrrdWriteOptions};

use crate::common::data;
use crate::nifti_peers::{assert_same, py, sitk_many};

/// Geometry tolerance: ITK parses the same decimal text into f64 as we do (1e-9 mm leaves room
/// for the order of its direction normalisation).
const GEO: f64 = 1e-9;

#[test]
fn itk_example_headers_match_simpleitk() {
    let names = [
        "BrainProtonDensitySliceBorder20.nhdr",
        "BrainProtonDensitySliceBorder20DirectionPlus30.nhdr",
        "BrainProtonDensitySliceShifted13x17y.nhdr",
        "BrainProtonDensitySliceShifted13x17yDirectionPlus30.nhdr",
        "BrainT1SliceBorder20DirectionPlus30.nhdr",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| data(&format!("itk/{n}"))).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = nrrd::read(p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ours.type_name(), "uint8");
        // The headers' directions have 6 decimals; both readers normalise the same numbers.
        assert_same(&ours, &peer, 0.0, 1e-12, &p.display().to_string());
    }
}

fn oblique() -> Geometry {
    let (s, c) = 0.5f64.sin_cos();
    Geometry {
        origin: [-81.25, 13.5, 240.125],
        spacing: [0.625, 0.7, 2.5],
        direction: [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
    }
}

fn samples(g: Geometry) -> Vec<AnyVolume> {
    let d = [5, 4, 3];
    let n = 60;
    let f = |i: usize| ((i * 37) % 60) as f64;
    vec![
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as u8 * 4).collect()).unwrap().into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as i8 - 30).collect()).unwrap().into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as u16 * 1000).collect()).unwrap().into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as i16 * 500 - 15000).collect()).unwrap().into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as u32 * 70_000_000).collect()).unwrap().into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as i32 * 35_000_000 - 1_000_000_000).collect())
            .unwrap()
            .into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) as f32 / 7.0).collect()).unwrap().into(),
        Volume::from_vec(d, g, (0..n).map(|i| f(i) / 3.0 + 1e-300).collect()).unwrap().into(),
    ]
}

#[test]
fn written_files_read_back_by_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let g = oblique();
    let mut written = Vec::new();
    for (i, v) in samples(g).into_iter().enumerate() {
        for (enc, ext) in [
            (NrrdEncoding::Raw, "nrrd"),
            (NrrdEncoding::Gzip, "nrrd"),
            (NrrdEncoding::Ascii, "nrrd"),
            (NrrdEncoding::Raw, "nhdr"),
            (NrrdEncoding::Gzip, "nhdr"),
        ] {
            let p = dir.path().join(format!("v{i}_{enc:?}.{ext}"));
            nrrd::write_with(&p, &v, &NrrdWriteOptions { encoding: enc }).unwrap();
            let back = nrrd::read(&p).unwrap();
            assert_eq!(back.type_name(), v.type_name());
            assert!(back.to_f64().data() == v.to_f64().data(), "{}", p.display());
            // Shortest round-trip decimals: geometry back within rounding of the norm.
            assert!(back.geometry().approx_eq(&g, 1e-12), "{}", p.display());
            written.push((p, v.clone()));
        }
    }
    let paths: Vec<&Path> = written.iter().map(|(p, _)| p.as_path()).collect();
    for ((p, v), peer) in written.iter().zip(sitk_many(&paths)) {
        assert_same(v, &peer, 0.0, GEO, &p.display().to_string());
    }
}

#[test]
fn simpleitk_written_files_read_equal() {
    let dir = tempfile::tempdir().unwrap();
    let types = ["UInt8", "Int8", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64"];
    let mut paths = Vec::new();
    for t in types {
        paths.push(dir.path().join(format!("{t}.nrrd")));
        paths.push(dir.path().join(format!("{t}_gz.nrrd")));
        paths.push(dir.path().join(format!("{t}.nhdr")));
    }
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    py(
        r#"
import sys, json, numpy as np, SimpleITK as sitk
for path in sys.argv[1:]:
    name = path.rsplit('/', 1)[1].split('.')[0]
    ty = getattr(sitk, 'sitk' + name.split('_')[0])
    img = sitk.Cast(sitk.GetImageFromArray((np.arange(4 * 5 * 6) * 7 % 100).reshape(4, 5, 6).astype(float)), ty)
    img.SetOrigin((-12.5, 30.25, 101.0)); img.SetSpacing((0.7, 0.8, 2.5))
    img.SetDirection(sitk.VersorTransform((0.2, -0.4, 0.9), 0.6).GetMatrix())
    sitk.WriteImage(img, path, useCompression=name.endswith('_gz'))
print(json.dumps(0))
"#,
        &refs,
    );
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = nrrd::read(p).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&ours, &peer, 0.0, GEO, &p.display().to_string());
    }
}

/// int16 voxels 0..24 on a 2×3×4 grid, little-endian.
fn voxels_le() -> Vec<u8> {
    (0..24i16).flat_map(|v| v.to_le_bytes()).collect()
}

fn header(fields: &str) -> String {
    format!("NRRD0004\n# made by the Hounsfield tests\ntype: short\ndimension: 3\nsizes: 2 3 4\n{fields}")
}

/// Writes `files` (name, bytes) into `dir` and returns the path of the first.
fn put(dir: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir.join(files[0].0)
}

fn attached(fields: &str, data: &[u8]) -> Vec<u8> {
    let mut b = header(fields).into_bytes();
    b.push(b'\n');
    b.extend_from_slice(data);
    b
}

#[test]
fn field_variants_match_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = voxels_le();
    let be: Vec<u8> = (0..24i16).flat_map(|v| v.to_be_bytes()).collect();
    let dirs = "space directions: (0,-2,0) (1,0,0) (0,0.5,3)\nspace origin: (10,20,30)\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let gz = gz.finish().unwrap();
    // gzip with 4 junk bytes inside the stream (`byte skip` counts decoded bytes, as teem does)
    // and a text line before it (`line skip` counts stored lines).
    let mut gz_skip = flate2::write::GzEncoder::new(b"a line\n".to_vec(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz_skip, b"abcd").unwrap();
    std::io::Write::write_all(&mut gz_skip, &raw).unwrap();
    let gz_skip = gz_skip.finish().unwrap();
    let text: String = (0..24).map(|v| format!("{v}{}", if v % 2 == 1 { "\n" } else { " " })).collect();
    let hex: String = be.iter().map(|b| format!("{b:02x}")).collect();
    let mut tail = b"some junk before the data".to_vec();
    tail.extend_from_slice(&raw);
    let slab = |k: usize| raw[k * 12..(k + 1) * 12].to_vec();
    let mut line_skipped = b"first line\nsecond line\n".to_vec();
    line_skipped.extend_from_slice(&raw);
    let cases: Vec<Vec<(&str, Vec<u8>)>> = vec![
        vec![("ras.nrrd", attached(&format!("space: right-anterior-superior\n{dirs}endian: little\nencoding: raw\n"), &raw))],
        vec![("las.nrrd", attached(&format!("space: LAS\n{dirs}endian: little\nencoding: raw\n"), &raw))],
        vec![("rh.nrrd", attached(&format!("space: 3D-right-handed\n{dirs}endian: little\nencoding: raw\n"), &raw))],
        vec![("scanner.nrrd", attached(&format!("space: scanner-xyz\n{dirs}endian: little\nencoding: raw\n"), &raw))],
        vec![("big.nrrd", attached(&format!("space: LPS\n{dirs}endian: big\nencoding: raw\n"), &be))],
        vec![("gz.nrrd", attached(&format!("space: LPS\n{dirs}endian: little\nencoding: gz\n"), &gz))],
        vec![
            (
                "gz_skips.nhdr",
                header("endian: little\nencoding: gzip\nline skip: 1\nbyte skip: 4\ndata file: gz_skips.raw.gz\n")
                    .into_bytes(),
            ),
            ("gz_skips.raw.gz", gz_skip),
        ],
        vec![("text.nrrd", attached(&format!("space: LPS\n{dirs}encoding: text\n"), text.as_bytes()))],
        vec![("hex.nrrd", attached(&format!("space: LPS\n{dirs}endian: big\nencoding: hex\n"), hex.as_bytes()))],
        vec![("skip.nrrd", attached(&format!("space: LPS\n{dirs}endian: little\nencoding: raw\nbyte skip: -1\n"), &tail))],
        vec![
            ("lines.nhdr", header("endian: little\nencoding: raw\nline skip: 2\ndata file: lines.raw\n").into_bytes()),
            ("lines.raw", line_skipped),
        ],
        vec![
            ("bytes.nhdr", header("endian: little\nencoding: raw\nbyte skip: 25\ndata file: ./bytes.raw\n").into_bytes()),
            ("bytes.raw", tail.clone()),
        ],
        vec![
            ("list.nhdr", header("endian: little\nencoding: raw\ndata file: LIST\nl0.raw\nl1.raw\nl2.raw\nl3.raw\n").into_bytes()),
            ("l0.raw", slab(0)),
            ("l1.raw", slab(1)),
            ("l2.raw", slab(2)),
            ("l3.raw", slab(3)),
        ],
        vec![
            ("pattern.nhdr", header("endian: little\nencoding: raw\ndata file: s%03d.raw 1 4 1 2\n").into_bytes()),
            ("s001.raw", slab(0)),
            ("s002.raw", slab(1)),
            ("s003.raw", slab(2)),
            ("s004.raw", slab(3)),
        ],
        vec![("spacings.nrrd", attached("spacings: 0.5 2 3\naxis mins: 1 2 3\nendian: little\nencoding: raw\n", &raw))],
        vec![(
            "node.nrrd",
            attached("spacings: 0.5 2 3\naxis mins: 1 2 3\ncenters: node node cell\nendian: little\nencoding: raw\n", &raw),
        )],
    ];
    let paths: Vec<PathBuf> = cases.iter().map(|files| put(d, files)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = nrrd::read(p).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&ours, &peer, 0.0, GEO, &p.display().to_string());
        assert_eq!(ours.to_f64().data(), (0..24).map(f64::from).collect::<Vec<_>>().as_slice());
    }
    // RAS → LPS by hand: origin (10, 20, 30) → (−10, −20, 30); axis 0 (0, −2, 0) → (0, 2, 0).
    let g = *nrrd::read(&paths[0]).unwrap().geometry();
    assert_eq!(g.origin, [-10.0, -20.0, 30.0]);
    assert_eq!((g.spacing[0], g.direction[1][0]), (2.0, 1.0));
}

#[test]
fn two_d_image_in_two_d_space() {
    // ITK's 2-D headers: `space dimension: 2`, 2-vectors; the normal is +z with 1 mm.
    let p = data("itk/BrainProtonDensitySliceBorder20DirectionPlus30.nhdr");
    let g = *nrrd::read(&p).unwrap().geometry();
    assert_eq!(g.spacing[2], 1.0);
    assert_eq!([g.direction[0][2], g.direction[1][2], g.direction[2][2]], [0.0, 0.0, 1.0]);
    // (0.866025, 0.5) is normalised: |v| = 0.99999971…
    // 1e-15: the same division in f64, up to the order of the norm's operations.
    assert!((g.direction[0][0] - 0.866025 / 0.866025f64.hypot(0.5)).abs() < 1e-15);
}

#[test]
fn space_units_are_converted_to_mm() {
    // ITK ignores `space units`; we convert (documented).
    let b = attached(
        "space: LPS\nspace directions: (0.002,0,0) (0,0.001,0) (0,0,0.003)\nspace origin: (0.01,0.02,0.03)\n\
         space units: \"m\" \"m\" \"m\"\nendian: little\nencoding: raw\n",
        &voxels_le(),
    );
    let g = *nrrd::read_from_bytes(&b).unwrap().geometry();
    // 1e-12: one product with 1000 in f64.
    for (a, b) in g.spacing.iter().zip([2.0, 1.0, 3.0]) {
        assert!((a - b).abs() < 1e-12, "{g:?}");
    }
    for (a, b) in g.origin.iter().zip([10.0, 20.0, 30.0]) {
        assert!((a - b).abs() < 1e-12, "{g:?}");
    }
}

#[test]
fn vector_and_time_axes_are_refused() {
    let vector = b"NRRD0004\ntype: short\ndimension: 4\nspace: left-posterior-superior\nsizes: 3 2 3 4\n\
        space directions: none (1,0,0) (0,1,0) (0,0,1)\nkinds: vector domain domain domain\nendian: little\n\
        encoding: raw\n\n";
    match nrrd::read_from_bytes(vector) {
        Err(NrrdError::ReadDims { reason, sizes, .. }) => {
            assert_eq!(sizes, vec![3, 2, 3, 4]);
            assert!(reason.contains("vector"), "{reason}");
        }
        other => panic!("expected ReadDims, got {other:?}"),
    }
    let time = b"NRRD0004\ntype: short\ndimension: 4\nspace: left-posterior-superior-time\nsizes: 2 3 2 2\n\
        space directions: (1,0,0,0) (0,1,0,0) (0,0,1,0) none\nkinds: domain domain domain time\nendian: little\n\
        encoding: raw\n\n";
    assert!(matches!(nrrd::read_from_bytes(time), Err(NrrdError::ReadDims { .. })));
    // A colour axis without space directions is refused through `kinds`.
    let rgb = b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 3 2 2\nkinds: RGB-color domain domain\nencoding: raw\n\n";
    assert!(matches!(nrrd::read_from_bytes(rgb), Err(NrrdError::ReadDims { .. })));
    // A non-spatial axis of size 1 is dropped.
    let mut one =
        b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 1 2 2\nkinds: scalar domain domain\nencoding: raw\n\n"
            .to_vec();
    one.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(nrrd::read_from_bytes(&one).unwrap().dims(), [2, 2, 1]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let raw = voxels_le();
    let ok = attached("endian: little\nencoding: raw\n", &raw);
    assert!(nrrd::read_from_bytes(&ok).is_ok());
    // Truncated data.
    assert!(matches!(
        nrrd::read_from_bytes(&ok[..ok.len() - 3]),
        Err(NrrdError::ReadData { need: 48, got: 45, .. })
    ));
    // Truncated gzip data.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let gz = gz.finish().unwrap();
    let cut = attached("endian: little\nencoding: gzip\n", &gz[..gz.len() / 2]);
    assert!(matches!(
        nrrd::read_from_bytes(&cut),
        Err(NrrdError::ReadData { .. } | NrrdError::Decompress { .. })
    ));
    // Wrong magic, missing fields, garbage lines.
    assert!(matches!(nrrd::read_from_bytes(b"PNRD0004\n"), Err(NrrdError::ReadHeader { .. })));
    assert!(matches!(nrrd::read_from_bytes(b""), Err(NrrdError::ReadHeader { .. })));
    let no_type = b"NRRD0004\ndimension: 1\nsizes: 2\nencoding: raw\n\n\x01\x02";
    assert!(
        matches!(nrrd::read_from_bytes(no_type), Err(NrrdError::ReadHeader { reason, .. }) if reason.contains("type"))
    );
    assert!(matches!(
        nrrd::read_from_bytes(b"NRRD0004\nthis is not a field\n\n"),
        Err(NrrdError::ReadHeader { .. })
    ));
    // Sizes larger than the data, and far above the memory cap.
    let big = attached("endian: little\nencoding: raw\n", &raw);
    let big = String::from_utf8_lossy(&big).replace("sizes: 2 3 4", "sizes: 200 3 4").into_bytes();
    assert!(matches!(nrrd::read_from_bytes(&big), Err(NrrdError::ReadData { need: 4800, .. })));
    let huge = b"NRRD0004\ntype: double\ndimension: 3\nsizes: 100000 100000 100000\nencoding: raw\n\n";
    assert!(matches!(nrrd::read_from_bytes(huge), Err(NrrdError::MemoryCap { .. })));
    // Non-finite and singular directions.
    for dirs in ["(nan,0,0) (0,1,0) (0,0,1)", "(1,0,0) (2,0,0) (0,0,1)", "(inf,0,0) (0,1,0) (0,0,1)"] {
        let b =
            attached(&format!("space: LPS\nspace directions: {dirs}\nendian: little\nencoding: raw\n"), &raw);
        assert!(matches!(nrrd::read_from_bytes(&b), Err(NrrdError::ReadGeometry { .. })), "{dirs}");
    }
    let origin = attached(
        "space: LPS\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (1,nan,0)\nencoding: raw\n",
        &raw,
    );
    assert!(matches!(nrrd::read_from_bytes(&origin), Err(NrrdError::ReadGeometry { .. })));
    let left =
        attached("space: 3D-left-handed\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\n", &raw);
    assert!(matches!(nrrd::read_from_bytes(&left), Err(NrrdError::ReadGeometry { .. })));
    // Unsupported type and encoding.
    let i64 = String::from_utf8_lossy(&ok).replace("type: short", "type: long long int").into_bytes();
    assert!(
        matches!(nrrd::read_from_bytes(&i64), Err(NrrdError::UnsupportedType { name, .. }) if name == "long long int")
    );
    let bz = attached("endian: little\nencoding: bzip2\n", &raw);
    assert!(
        matches!(nrrd::read_from_bytes(&bz), Err(NrrdError::UnsupportedEncoding { name, .. }) if name == "bzip2")
    );
    // Text with a bad token, and too few numbers.
    let bad_text = attached("encoding: ascii\n", b"1 2 3 x");
    assert!(matches!(nrrd::read_from_bytes(&bad_text), Err(NrrdError::ReadText { .. })));
    // Detached data: missing file, and bytes in memory.
    let dir = tempfile::tempdir().unwrap();
    let p =
        put(dir.path(), &[("missing.nhdr", header("encoding: raw\ndata file: nowhere.raw\n").into_bytes())]);
    assert!(matches!(nrrd::read(&p), Err(NrrdError::Open { path, .. }) if path.ends_with("nowhere.raw")));
    let detached = header("encoding: raw\ndata file: nowhere.raw\n").into_bytes();
    assert!(matches!(nrrd::read_from_bytes(&detached), Err(NrrdError::DataFile { .. })));
}

#[test]
fn failed_writes_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Geometry::default();
    g.origin[1] = f64::INFINITY;
    let bad: AnyVolume = Volume::from_vec([2, 1, 1], g, vec![1u8, 2]).unwrap().into();
    for name in ["a.nrrd", "a.nhdr"] {
        assert!(matches!(nrrd::write(&dir.path().join(name), &bad), Err(NrrdError::WriteVolume { .. })));
    }
    // The header cannot be renamed onto a directory: the data file written first is removed.
    let target = dir.path().join("taken.nhdr");
    std::fs::create_dir(&target).unwrap();
    let ok: AnyVolume = Volume::from_vec([2, 1, 1], Geometry::default(), vec![1u8, 2]).unwrap().into();
    assert!(matches!(nrrd::write(&target, &ok), Err(NrrdError::Write { .. })));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken.nhdr")]);
}
