//! MetaImage against SimpleITK (ITK's MetaIO): ITK's example files, files SimpleITK writes,
//! hand-made headers for each field variant, our writers read back, and bad input.

use std::path::{Path, PathBuf};

use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::metaimage::{self, MetaCompression, MetaImageError, MetaImageWriteOptions};

use crate::common::data;
use crate::nifti_peers::{assert_same, py, sitk_many};

/// Geometry tolerance: MetaIO parses the same decimal text into f64 as we do; 1e-9 mm leaves
/// room for its `%g`-style printing when SimpleITK writes.
const GEO: f64 = 1e-9;

#[test]
fn itk_examples_match_simpleitk() {
    let names = [
        "BrainProtonDensity3Slices.mha",
        "CorpusCallosumMeanShape.mha",
        "CorpusCallosumMode0.mha",
        "RatLungSlice1.mha",
        "ResampleImageFilterInput2x3.mha",
        "ResampleImageFilterInput2x3b.mha",
        "itkBrainSliceComplexMagnitude.mha",
        "itkBrainSliceComplexPhase.mha",
        "BrainProtonDensitySliceBorder20.mhd",
        "BrainProtonDensitySliceBorder20DirectionMinus30.mhd",
        "BrainProtonDensitySliceBorder20DirectionPlus30.mhd",
        "BrainProtonDensitySliceShifted13x17y.mhd",
        "BrainProtonDensitySliceShifted13x17yDirectionMinus30.mhd",
        "BrainProtonDensitySliceShifted13x17yDirectionPlus30.mhd",
        "BrainT1SliceBorder20DirectionMinus30.mhd",
        "BrainT1SliceBorder20DirectionPlus30.mhd",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| data(&format!("itk/{n}"))).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = metaimage::read(p).unwrap_or_else(|e| panic!("{e}"));
        // 1e-12: both normalise the same 7-decimal matrix entries in f64.
        assert_same(&ours, &peer, 0.0, 1e-12, &p.display().to_string());
    }
}

#[test]
fn direction_variants_agree_with_the_nrrd_headers() {
    // The same ±30° slices in NRRD (space directions) and MetaImage (TransformMatrix).
    let m = metaimage::read(&data("itk/BrainProtonDensitySliceBorder20DirectionPlus30.mhd")).unwrap();
    let n =
        hounsfield_io::nrrd::read(&data("itk/BrainProtonDensitySliceBorder20DirectionPlus30.nhdr")).unwrap();
    // 1e-6: the NRRD header prints the cosines with 6 decimals, the MetaImage one with 7.
    assert!(m.geometry().approx_eq(n.geometry(), 1e-6), "{:?} vs {:?}", m.geometry(), n.geometry());
    assert_eq!(
        m,
        AnyVolume::U8(match n {
            AnyVolume::U8(v) => Volume::from_vec(v.dims(), *m.geometry(), v.into_vec()).unwrap(),
            other => panic!("{}", other.type_name()),
        })
    );
}

#[test]
fn multichannel_images_are_refused() {
    for name in ["BayesianClassifierInitializerMemberships.mhd", "itkBrainSliceComplex.mha"] {
        match metaimage::read(&data(&format!("itk/{name}"))) {
            Err(MetaImageError::ReadDims { reason, .. }) => assert!(reason.contains("channels"), "{reason}"),
            other => panic!("{name}: expected ReadDims, got {other:?}"),
        }
    }
}

fn oblique() -> Geometry {
    let (s, c) = 0.9f64.sin_cos();
    Geometry {
        origin: [12.0625, -99.5, 0.001],
        spacing: [1.5, 0.3, 0.9],
        direction: [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
    }
}

fn samples(g: Geometry) -> Vec<AnyVolume> {
    let d = [4, 5, 3];
    let n = 60;
    let f = |i: usize| ((i * 41) % 60) as f64;
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
        Volume::from_vec(d, g, (0..n).map(|i| f(i) / 3.0 - 1e-300).collect()).unwrap().into(),
    ]
}

#[test]
fn written_files_read_back_by_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let g = oblique();
    let mut written = Vec::new();
    for (i, v) in samples(g).into_iter().enumerate() {
        for compression in [MetaCompression::None, MetaCompression::Zlib] {
            for ext in ["mha", "mhd"] {
                let p = dir.path().join(format!("v{i}_{compression:?}.{ext}"));
                metaimage::write_with(&p, &v, &MetaImageWriteOptions { compression }).unwrap();
                let back = metaimage::read(&p).unwrap();
                assert_eq!(back.type_name(), v.type_name());
                assert!(back.to_f64().data() == v.to_f64().data(), "{}", p.display());
                assert_eq!(back.geometry(), &g, "{}: shortest round-trip decimals are exact", p.display());
                written.push((p, v.clone()));
            }
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
        paths.push(dir.path().join(format!("{t}.mha")));
        paths.push(dir.path().join(format!("{t}_gz.mha")));
        paths.push(dir.path().join(format!("{t}_gz.mhd")));
        paths.push(dir.path().join(format!("{t}.mhd")));
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
        let ours = metaimage::read(p).unwrap_or_else(|e| panic!("{e}"));
        assert_same(&ours, &peer, 0.0, GEO, &p.display().to_string());
    }
}

/// int16 voxels 0..24 on a 2×3×4 grid.
fn voxels(big: bool) -> Vec<u8> {
    (0..24i16).flat_map(|v| if big { v.to_be_bytes() } else { v.to_le_bytes() }).collect()
}

const BASE: &str = "ObjectType = Image\nNDims = 3\nDimSize = 2 3 4\nElementType = MET_SHORT\n";

fn put(dir: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir.join(files[0].0)
}

fn local(fields: &str, data: &[u8]) -> Vec<u8> {
    let mut b = format!("{BASE}{fields}ElementDataFile = LOCAL\n").into_bytes();
    b.extend_from_slice(data);
    b
}

#[test]
fn field_variants_match_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let le = voxels(false);
    let geo = "TransformMatrix = 0 1 0 -1 0 0 0 0 1\nOffset = 1 2 3\nElementSpacing = 0.5 0.25 4\n";
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &le).unwrap();
    let z = z.finish().unwrap();
    let mut junk_le = b"0123456789".to_vec();
    junk_le.extend_from_slice(&le);
    let text: String = (0..24).map(|v| format!("{v} ")).collect();
    // LOCAL data with HeaderSize: MetaIO counts it from the start of the file. The header is
    // built with a 4-digit placeholder so its length is known before the number is written.
    let local_sized = {
        let head = |n: usize| format!("{BASE}{geo}HeaderSize = {n:04}\nElementDataFile = LOCAL\n");
        let len = head(0).len() + 6;
        let mut b = head(len).into_bytes();
        b.extend_from_slice(b"junk!!");
        b.extend_from_slice(&le);
        b
    };
    let slab = |k: usize| le[k * 12..(k + 1) * 12].to_vec();
    let cases: Vec<Vec<(&str, Vec<u8>)>> = vec![
        vec![("plain.mha", local(geo, &le))],
        vec![("msb.mha", local(&format!("{geo}BinaryDataByteOrderMSB = True\n"), &voxels(true)))],
        vec![("elem_msb.mha", local(&format!("{geo}ElementByteOrderMSB = True\n"), &voxels(true)))],
        vec![("local_hsize.mha", local_sized)],
        vec![("local_tail.mha", local(&format!("{geo}HeaderSize = -1\n"), &junk_le))],
        vec![(
            "zlib.mha",
            local(&format!("{geo}CompressedData = True\nCompressedDataSize = {}\n", z.len()), &z),
        )],
        vec![("ascii.mha", local(&format!("{geo}BinaryData = False\n"), text.as_bytes()))],
        vec![(
            "aliases.mha",
            local("Rotation = 0 1 0 -1 0 0 0 0 1\nOrigin = 1 2 3\nElementSize = 0.5 0.25 4\n", &le),
        )],
        vec![("position.mha", local("Orientation = 1 0 0 0 0 1 0 -1 0\nPosition = -1 -2 -3\n", &le))],
        vec![
            ("hsize.mhd", format!("{BASE}{geo}HeaderSize = 10\nElementDataFile = hsize.raw\n").into_bytes()),
            ("hsize.raw", junk_le.clone()),
        ],
        vec![
            ("tail.mhd", format!("{BASE}{geo}HeaderSize = -1\nElementDataFile = tail.raw\n").into_bytes()),
            ("tail.raw", junk_le.clone()),
        ],
        vec![
            (
                "list.mhd",
                format!("{BASE}ElementDataFile = LIST\nl0.raw\nl1.raw\nl2.raw\nl3.raw\n").into_bytes(),
            ),
            ("l0.raw", slab(0)),
            ("l1.raw", slab(1)),
            ("l2.raw", slab(2)),
            ("l3.raw", slab(3)),
        ],
        vec![
            ("pattern.mhd", format!("{BASE}ElementDataFile = p%02d.raw 0 3 1\n").into_bytes()),
            ("p00.raw", slab(0)),
            ("p01.raw", slab(1)),
            ("p02.raw", slab(2)),
            ("p03.raw", slab(3)),
        ],
        vec![(
            "four_d.mha",
            local("NDims = 4\nDimSize = 2 3 4 1\nElementSpacing = 1 2 3 9\nOffset = 5 6 7 8\n", &le),
        )],
    ];
    let paths: Vec<PathBuf> = cases.iter().map(|files| put(d, files)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = metaimage::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_same(&ours, &peer, 0.0, GEO, &p.display().to_string());
        assert_eq!(ours.to_f64().data(), (0..24).map(f64::from).collect::<Vec<_>>().as_slice());
    }
    // TransformMatrix row 0 = (0, 1, 0) is the direction of index axis 0.
    let g = *metaimage::read(&paths[0]).unwrap().geometry();
    assert_eq!([g.direction[0][0], g.direction[1][0], g.direction[2][0]], [0.0, 1.0, 0.0]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let le = voxels(false);
    let ok = local("", &le);
    assert!(metaimage::read_from_bytes(&ok).is_ok());
    assert!(matches!(
        metaimage::read_from_bytes(&ok[..ok.len() - 5]),
        Err(MetaImageError::ReadData { need: 48, got: 43, .. })
    ));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &le).unwrap();
    let z = z.finish().unwrap();
    let cut = local("CompressedData = True\n", &z[..z.len() / 2]);
    let r = metaimage::read_from_bytes(&cut);
    assert!(matches!(r, Err(MetaImageError::ReadData { .. } | MetaImageError::Decompress { .. })), "{r:?}");
    let corrupt = local("CompressedData = True\n", b"this is not zlib at all, not at all");
    assert!(matches!(metaimage::read_from_bytes(&corrupt), Err(MetaImageError::Decompress { .. })));
    // Not MetaImage.
    assert!(matches!(
        metaimage::read_from_bytes(b"\x89PNG\r\n\x1a\n"),
        Err(MetaImageError::ReadHeader { .. })
    ));
    assert!(matches!(metaimage::read_from_bytes(b"Hello = world\n"), Err(MetaImageError::ReadHeader { .. })));
    assert!(matches!(
        metaimage::read_from_bytes(b"NDims = 3\nDimSize = 2 2 2\n"),
        Err(MetaImageError::ReadHeader { .. })
    ));
    // Sizes larger than the data and above the memory cap.
    let big = String::from_utf8_lossy(&ok).replace("DimSize = 2 3 4", "DimSize = 200 3 4").into_bytes();
    assert!(matches!(metaimage::read_from_bytes(&big), Err(MetaImageError::ReadData { need: 4800, .. })));
    let huge =
        b"NDims = 3\nDimSize = 100000 100000 100000\nElementType = MET_DOUBLE\nElementDataFile = LOCAL\n";
    assert!(matches!(metaimage::read_from_bytes(huge), Err(MetaImageError::MemoryCap { .. })));
    // True 4-D, channels, unsupported types.
    let four = local("NDims = 4\nDimSize = 2 3 2 2\n", &le);
    assert!(matches!(metaimage::read_from_bytes(&four), Err(MetaImageError::ReadDims { .. })));
    let rgb = local("ElementNumberOfChannels = 3\n", &le);
    assert!(matches!(metaimage::read_from_bytes(&rgb), Err(MetaImageError::ReadDims { .. })));
    let ll = String::from_utf8_lossy(&ok).replace("MET_SHORT", "MET_LONG_LONG").into_bytes();
    assert!(
        matches!(metaimage::read_from_bytes(&ll), Err(MetaImageError::UnsupportedType { name, .. }) if name == "MET_LONG_LONG")
    );
    // Non-finite or singular geometry.
    for f in [
        "ElementSpacing = 1 nan 1\n",
        "Offset = 0 inf 0\n",
        "TransformMatrix = 1 0 0 1 0 0 0 0 1\n",
        "ElementSpacing = 1 0 1\n",
    ] {
        let b = local(f, &le);
        assert!(matches!(metaimage::read_from_bytes(&b), Err(MetaImageError::ReadGeometry { .. })), "{f}");
    }
    // Text that is not numbers.
    let t = local("BinaryData = False\n", b"1 2 3 four");
    assert!(matches!(metaimage::read_from_bytes(&t), Err(MetaImageError::ReadText { .. })));
    // Missing data file; a detached header given as bytes.
    let dir = tempfile::tempdir().unwrap();
    let p = put(dir.path(), &[("m.mhd", format!("{BASE}ElementDataFile = gone.raw\n").into_bytes())]);
    assert!(
        matches!(metaimage::read(&p), Err(MetaImageError::Open { path, .. }) if path.ends_with("gone.raw"))
    );
    let b = format!("{BASE}ElementDataFile = gone.raw\n").into_bytes();
    assert!(matches!(metaimage::read_from_bytes(&b), Err(MetaImageError::DataFile { .. })));
}

#[test]
fn failed_writes_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Geometry::default();
    g.direction[0] = [0.0; 3];
    let bad: AnyVolume = Volume::from_vec([2, 1, 1], g, vec![1u8, 2]).unwrap().into();
    for name in ["a.mha", "a.mhd"] {
        assert!(matches!(
            metaimage::write(&dir.path().join(name), &bad),
            Err(MetaImageError::WriteVolume { .. })
        ));
    }
    let target = dir.path().join("taken.mhd");
    std::fs::create_dir(&target).unwrap();
    let ok: AnyVolume = Volume::from_vec([2, 1, 1], Geometry::default(), vec![1u8, 2]).unwrap().into();
    let opts = MetaImageWriteOptions { compression: MetaCompression::Zlib };
    assert!(matches!(metaimage::write_with(&target, &ok, &opts), Err(MetaImageError::Write { .. })));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken.mhd")]);
}
