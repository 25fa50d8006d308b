//! DICOM reading of the pydicom and pydicom-data sample files: every image against
//! pydicom's own decoding (voxel by voxel), lossless twins bit-exact, geometry against
//! SimpleITK, and each known dicom-rs gap from FIELD-NOTES.

use std::path::{Path, PathBuf};

use hounsfield_core::{with_any_volume, AnyVolume, Scalar};
use hounsfield_io::dicom::{read_file, DicomError, DicomReadOptions, DicomVolume};

use crate::common::{data, py_json};

/// A file from pydicom's test_files.
pub fn pyd(name: &str) -> PathBuf {
    data(&format!("pydicom/pydicom/data/test_files/{name}"))
}

/// A file from pydicom-data's data_store.
pub fn pdd(name: &str) -> PathBuf {
    data(&format!("pydicom-data/data_store/data/{name}"))
}

pub fn read(p: &Path) -> DicomVolume {
    read_file(p, &DicomReadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn voxels(v: &AnyVolume) -> Vec<f64> {
    with_any_volume!(v, x => x.data().iter().map(|s| s.to_f64()).collect())
}

/// pydicom's reading of each file, with this reader's documented conventions applied:
/// MONOCHROME1 inverted within BitsStored, then Modality LUT or rescale (per frame for
/// enhanced objects; DoseGridScaling for RT dose), colour as BT.601 luma (YBR_FULL and
/// YBR_FULL_422 as their Y), palette colour through its LUT, frames sorted along the slice normal when they
/// have positions. Writes x-fastest f64 voxels to sys.argv[1]/<i>.f64 and prints one JSON
/// object per file.
const PYDICOM_EXPECTED: &str = r#"
import sys, json, os, numpy as np, pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut
out_dir = sys.argv[1]
LUMA = np.array([0.299, 0.587, 0.114])
def fg(ds, k, seq, attr):
    for grp in (ds.get('PerFrameFunctionalGroupsSequence'), ds.get('SharedFunctionalGroupsSequence')):
        if grp is None or len(grp) == 0:
            continue
        item = grp[k] if grp is ds.get('PerFrameFunctionalGroupsSequence') else grp[0]
        if seq in item and len(item[seq].value) and attr in item[seq][0]:
            return item[seq][0][attr].value
    return None
res = []
for i, f in enumerate(sys.argv[2:]):
    try:
        ds = pydicom.dcmread(f, force=True)
        if 'TransferSyntaxUID' not in ds.file_meta:
            # No meta group: the encoding pydicom detected while reading.
            implicit, little = ds.original_encoding
            ds.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit else
                pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian)
        ts = ds.file_meta.TransferSyntaxUID
        pi = ds.PhotometricInterpretation
        n = int(ds.get('NumberOfFrames', 1) or 1)
        spp = ds.SamplesPerPixel
        ybr = pi in ('YBR_FULL', 'YBR_FULL_422')
        ds.pixel_array_options(as_rgb=not ybr)
        raw = ds.pixel_array
        a = raw.astype(np.float64)
        if n == 1:
            a = a[None]
        if spp == 3:
            a = a[..., 0] if ybr else a @ LUMA
        elif pi == 'PALETTE COLOR':
            a = apply_color_lut(raw, ds).astype(np.float64)
            if n == 1:
                a = a[None]
            a = a @ LUMA
        else:
            bs, signed = ds.BitsStored, ds.PixelRepresentation == 1
            if pi == 'MONOCHROME1':
                a = (-1 - a) if signed else ((2 ** bs - 1) - a)
            if 'ModalityLUTSequence' in ds:
                a = apply_modality_lut(a.astype(np.int64), ds).astype(np.float64)
                if n == 1 and a.ndim == 2:
                    a = a[None]
            else:
                for k in range(n):
                    s = fg(ds, k, 'PixelValueTransformationSequence', 'RescaleSlope')
                    b = fg(ds, k, 'PixelValueTransformationSequence', 'RescaleIntercept')
                    s = float(s if s is not None else ds.get('RescaleSlope', 1) or 1)
                    b = float(b if b is not None else ds.get('RescaleIntercept', 0) or 0)
                    if ds.get('Modality') == 'RTDOSE' and 'RescaleSlope' not in ds and 'DoseGridScaling' in ds:
                        s = float(ds.DoseGridScaling)
                    a[k] = a[k] * s + b
        # Sort frames along the normal when every frame has a position.
        keys = None
        iop = fg(ds, 0, 'PlaneOrientationSequence', 'ImageOrientationPatient') or ds.get('ImageOrientationPatient')
        if iop is not None and n > 1:
            r, c = np.array(iop[:3], float), np.array(iop[3:], float)
            nrm = np.cross(r, c)
            pos = [fg(ds, k, 'PlanePositionSequence', 'ImagePositionPatient') for k in range(n)]
            if all(p is not None for p in pos):
                keys = [float(np.dot(np.array(p, float), nrm)) for p in pos]
            elif 'GridFrameOffsetVector' in ds:
                keys = [float(o) for o in ds.GridFrameOffsetVector]
        if keys is not None:
            a = a[np.argsort(keys, kind='stable')]
        np.ascontiguousarray(a, dtype='<f8').tofile(os.path.join(out_dir, f'{i}.f64'))
        res.append({'ok': True, 'shape': list(a.shape), 'ts': str(ts)})
    except Exception as e:
        res.append({'ok': False, 'error': f'{type(e).__name__}: {e}'})
json.dump(res, sys.stdout)
"#;

/// Transfer syntaxes whose decoders may legitimately differ by rounding: JPEG baseline and
/// extended (IDCT implementations differ), JPEG 2000 irreversible.
const LOSSY: [&str; 3] = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.91"];

/// Files this reader refuses, with the reason its error must name. Everything else that
/// pydicom decodes must be read and match.
fn expected_error(name: &str) -> Option<&'static str> {
    Some(match name {
        // 12-bit lossy JPEG: jpeg-decoder has no 12-bit DCT.
        "JPEG-lossy.dcm" | "JPGExtended.dcm" => "12-bit lossy JPEG",
        // A J2K stream whose SIZ marker is corrupted by an embedded delimiter (pydicom's
        // test of its fragment parser); the header check catches the mismatch.
        "JPEG2000-embedded-sequence-delimiter.dcm" => "JPEG 2000 stream is",
        // NumberOfFrames "1A" is not a number.
        "badVR.dcm" => "NumberOfFrames",
        #[cfg(not(feature = "jpegls"))]
        "JPEGLSNearLossless_08.dcm"
        | "JPEGLSNearLossless_16.dcm"
        | "MR_small_jpeg_ls_lossless.dcm"
        | "SC_rgb_jls_lossy_line.dcm"
        | "SC_rgb_jls_lossy_sample.dcm"
        | "emri_small_jpeg_ls_lossless.dcm" => "feature `jpegls`",
        _ => return None,
    })
}

fn all_sample_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [pyd(""), pdd("")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("sample dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
            .collect();
        files.sort();
        v.extend(files);
    }
    v
}

#[test]
fn every_sample_image_matches_pydicom() {
    let files = all_sample_files();
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![dir.path().to_str().unwrap()];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let expected = py_json(PYDICOM_EXPECTED, &args);
    let expected = expected.as_array().unwrap();
    let (mut compared, mut refused) = (Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for (i, (path, exp)) in files.iter().zip(expected).enumerate() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let ours = read_file(path, &DicomReadOptions::default());
        match (exp["ok"].as_bool().unwrap(), ours) {
            // pydicom reads the palette LUT data of big-endian files as little endian (its
            // `apply_color_lut` ignores the byte order); the twins test checks these files
            // against their little-endian twins instead.
            (true, Ok(_)) if name.starts_with("OBXXXX1A_expb") => compared.push(name.to_string()),
            (true, Ok(v)) => {
                let raw = std::fs::read(dir.path().join(format!("{i}.f64"))).unwrap();
                let want: Vec<f64> =
                    raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
                let shape: Vec<usize> =
                    exp["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
                let [nx, ny, nz] = v.volume.dims();
                if shape != [nz, ny, nx] {
                    failures.push(format!("{name}: dims {:?} vs pydicom shape {shape:?}", v.volume.dims()));
                    continue;
                }
                let got = voxels(&v.volume);
                let lossy = LOSSY.contains(&exp["ts"].as_str().unwrap());
                let diff: Vec<f64> = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).collect();
                let max = diff.iter().copied().fold(0.0, f64::max);
                let mean = diff.iter().sum::<f64>() / diff.len() as f64;
                let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
                // Lossless: equal up to f32 rounding of luma/rescaled values (2^-23
                // relative, with margin). Lossy: different IDCT and colour-conversion
                // rounding in jpeg-decoder/openjp2 vs libjpeg/openjpeg, a few grey levels
                // at most and well under one on average.
                let ok = if lossy { mean <= 0.5 && max <= 8.0 } else { max <= 1e-6 * scale };
                if !ok {
                    failures.push(format!("{name}: max |diff| {max}, mean {mean} (lossy: {lossy})"));
                }
                compared.push(name.to_string());
            }
            (true, Err(e)) => match expected_error(name) {
                Some(why) if e.to_string().contains(why) => refused.push(name.to_string()),
                _ => failures.push(format!("{name}: pydicom decodes it but we fail: {e}")),
            },
            // pydicom cannot parse this truncated file (no final sequence delimiter); we
            // read it, and `lossless_twins_are_bit_exact` checks it against its intact twin.
            (false, Ok(_)) if name == "emri_small_jpeg_2k_lossless_too_short.dcm" => {}
            (false, Ok(v)) => {
                failures.push(format!(
                    "{name}: pydicom fails ({}) but we read {:?}",
                    exp["error"],
                    v.volume.dims()
                ));
            }
            (false, Err(_)) => {}
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    // Guard against a silently shrinking comparison.
    assert!(compared.len() >= 100, "only {} files compared: {compared:?}", compared.len());
    eprintln!("{} files equal to pydicom, {} refused as documented", compared.len(), refused.len());
}

/// Pairs (file, its uncompressed or differently encoded twin) that must decode to the same
/// voxels and geometry, bit for bit.
const TWINS: &[(&str, &str)] = &[
    ("t:MR_small_RLE.dcm", "t:MR_small.dcm"),
    ("t:MR_small_bigendian.dcm", "t:MR_small.dcm"),
    ("t:MR_small_expb.dcm", "t:MR_small.dcm"),
    ("t:MR_small_implicit.dcm", "t:MR_small.dcm"),
    ("t:MR_small_jp2klossless.dcm", "t:MR_small.dcm"),
    ("t:MR_small_padded.dcm", "t:MR_small.dcm"),
    ("d:emri_small_RLE.dcm", "d:emri_small.dcm"),
    ("d:emri_small_big_endian.dcm", "d:emri_small.dcm"),
    ("d:emri_small_jpeg_2k_lossless.dcm", "d:emri_small.dcm"),
    ("d:emri_small_jpeg_2k_lossless_too_short.dcm", "d:emri_small.dcm"),
    ("t:SC_rgb_rle.dcm", "d:SC_rgb.dcm"),
    ("d:SC_rgb_expb.dcm", "d:SC_rgb.dcm"),
    ("t:SC_rgb_jpeg_gdcm.dcm", "d:SC_rgb.dcm"),
    ("t:SC_rgb_gdcm_KY.dcm", "d:SC_rgb.dcm"),
    ("d:SC_rgb_gdcm2k_uncompressed.dcm", "d:SC_rgb.dcm"),
    ("t:SC_rgb_rle_2frame.dcm", "d:SC_rgb_2frame.dcm"),
    ("d:SC_rgb_expb_2frame.dcm", "d:SC_rgb_2frame.dcm"),
    ("t:SC_rgb_rle_16bit.dcm", "d:SC_rgb_16bit.dcm"),
    ("d:SC_rgb_expb_16bit.dcm", "d:SC_rgb_16bit.dcm"),
    ("t:SC_rgb_rle_16bit_2frame.dcm", "d:SC_rgb_16bit_2frame.dcm"),
    ("d:SC_rgb_expb_16bit_2frame.dcm", "d:SC_rgb_16bit_2frame.dcm"),
    ("t:SC_rgb_rle_32bit.dcm", "d:SC_rgb_32bit.dcm"),
    ("d:SC_rgb_expb_32bit.dcm", "d:SC_rgb_32bit.dcm"),
    ("t:SC_rgb_rle_32bit_2frame.dcm", "d:SC_rgb_32bit_2frame.dcm"),
    ("d:SC_rgb_expb_32bit_2frame.dcm", "d:SC_rgb_32bit_2frame.dcm"),
    ("t:SC_rgb_small_odd_big_endian.dcm", "t:SC_rgb_small_odd.dcm"),
    ("d:color-pl.dcm", "d:color-px.dcm"),
    ("t:rtdose_expb.dcm", "t:rtdose.dcm"),
    ("t:rtdose_rle.dcm", "t:rtdose.dcm"),
    ("t:rtdose_expb_1frame.dcm", "t:rtdose_1frame.dcm"),
    ("t:rtdose_rle_1frame.dcm", "t:rtdose_1frame.dcm"),
    ("d:liver_expb.dcm", "d:liver.dcm"),
    ("t:liver_expb_1frame.dcm", "t:liver_1frame.dcm"),
    ("d:OBXXXX1A_expb.dcm", "d:OBXXXX1A.dcm"),
    ("d:OBXXXX1A_rle.dcm", "d:OBXXXX1A.dcm"),
    ("d:OBXXXX1A_expb_2frame.dcm", "d:OBXXXX1A_2frame.dcm"),
    ("d:OBXXXX1A_rle_2frame.dcm", "d:OBXXXX1A_2frame.dcm"),
    ("d:693_J2KR.dcm", "d:693_UNCR.dcm"),
    ("d:MR2_J2KR.dcm", "d:MR2_UNCR.dcm"),
    ("d:RG1_J2KR.dcm", "d:RG1_UNCR.dcm"),
    ("d:RG3_J2KR.dcm", "d:RG3_UNCR.dcm"),
    ("d:US1_J2KR.dcm", "d:US1_UNCR.dcm"),
    ("d:JPEG2000_UNC.dcm", "t:JPEG2000.dcm"),
    ("t:SC_rgb_dcmtk_+eb+cr.dcm", "d:SC_rgb_dcmtk_ebcr_dcmd.dcm"),
    ("d:gdcm-US-ALOKA-16_big.dcm", "d:gdcm-US-ALOKA-16.dcm"),
];

/// JPEG-LS twins (decoded with CharLS when the `jpegls` feature is on).
const JPEG_LS_TWINS: &[(&str, &str)] = &[
    ("t:MR_small_jpeg_ls_lossless.dcm", "t:MR_small.dcm"),
    ("d:emri_small_jpeg_ls_lossless.dcm", "d:emri_small.dcm"),
];

fn sample(tagged: &str) -> PathBuf {
    match tagged.split_once(':') {
        Some(("t", n)) => pyd(n),
        Some(("d", n)) => pdd(n),
        _ => panic!("bad sample name {tagged}"),
    }
}

fn assert_twins(pairs: &[(&str, &str)]) {
    let mut bad = Vec::new();
    for (a, b) in pairs {
        let (va, vb) = (read(&sample(a)).volume, read(&sample(b)).volume);
        if va != vb {
            let (ga, gb) = (va.geometry(), vb.geometry());
            bad.push(format!(
                "{a} vs {b}: {} {:?} {:?} vs {} {:?} {:?}",
                va.type_name(),
                va.dims(),
                ga,
                vb.type_name(),
                vb.dims(),
                gb
            ));
        }
    }
    assert!(bad.is_empty(), "twins differ:\n{}", bad.join("\n"));
}

#[test]
fn lossless_twins_are_bit_exact() {
    assert_twins(TWINS);
}

#[test]
fn jpeg_ls_twins_are_bit_exact_or_name_the_feature() {
    if cfg!(feature = "jpegls") {
        assert_twins(JPEG_LS_TWINS);
    } else {
        for (a, _) in JPEG_LS_TWINS {
            let e = read_file(&sample(a), &DicomReadOptions::default()).unwrap_err();
            assert!(
                matches!(&e, DicomError::UnsupportedTransferSyntax { feature: Some("jpegls"), .. }),
                "{e}"
            );
            assert!(e.to_string().contains("JPEG-LS"), "{e}");
        }
    }
}

/// Writes a modified copy of sys.argv[1] to sys.argv[2]; sys.argv[3] says how.
const MODIFY: &str = r#"
import sys, pydicom, numpy as np
from pydicom.dataset import FileMetaDataset
src, out, what = sys.argv[1:4]
ds = pydicom.dcmread(src)
if what == 'absurd':
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 2000
    ds.save_as(out)
elif what.startswith('nometa'):
    enc = what.split('_')[1]
    ds.file_meta = FileMetaDataset()
    ds.preamble = None
    pydicom.dcmwrite(out, ds, implicit_vr=(enc == 'implicit'), little_endian=(enc != 'big'))
elif what == 'nm_detector':
    from pydicom.dataset import Dataset
    ds.Modality = 'NM'
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.20'
    det = Dataset()
    det.ImagePositionPatient = [1.5, -2.0, 30.0]
    det.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.DetectorInformationSequence = [det]
    ds.SpacingBetweenSlices = 4.0
    ds.save_as(out)
elif what == 'signed12':
    v = np.arange(-2048, 2048, dtype=np.int16)
    # 12-bit two's complement with junk (an old overlay plane) in the top 4 bits.
    raw = (v.astype(np.uint16) & 0x0FFF) | 0xA000
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
    ds.PixelData = raw.tobytes()
    ds.save_as(out)
print('{}')
"#;

fn modified(src: &Path, what: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("{what}.dcm"));
    py_json(MODIFY, &[src.to_str().unwrap(), out.to_str().unwrap(), what]);
    (dir, out)
}

#[test]
fn truncated_files_are_typed_errors() {
    for name in ["MR_truncated.dcm", "rtplan_truncated.dcm"] {
        let e = read_file(&pyd(name), &DicomReadOptions::default()).unwrap_err();
        assert!(matches!(e, DicomError::Malformed { .. }), "{name}: {e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}

#[test]
fn objects_without_pixels_name_their_class() {
    let e = read_file(&pyd("rtplan.dcm"), &DicomReadOptions::default()).unwrap_err();
    match e {
        DicomError::NoPixelData { sop_class, .. } => assert_eq!(sop_class, "1.2.840.10008.5.1.4.1.1.481.5"),
        other => panic!("{other}"),
    }
}

#[test]
fn wrong_magic_is_not_dicom() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("text", b"hello, this is not an image at all".to_vec()),
        ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
        ("zeros", vec![0u8; 300]),
        ("short", b"DI".to_vec()),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = read_file(&p, &DicomReadOptions::default()).unwrap_err();
        assert!(matches!(e, DicomError::NotDicom { .. }), "{name}: {e}");
    }
    let e = read_file(&dir.path().join("absent.dcm"), &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::ReadFile { .. }), "{e}");
}

#[test]
fn absurd_declared_sizes_hit_the_memory_cap() {
    // 65535 × 65535 × 2000 frames of 16 bits: one frame alone is 8.6 GB, over the default
    // 8 GiB cap; refused before anything is allocated.
    let (_d, p) = modified(&pyd("MR_small.dcm"), "absurd");
    let e = read_file(&p, &DicomReadOptions::default()).unwrap_err();
    assert!(matches!(e, DicomError::Core(hounsfield_core::CoreError::MemoryCap { .. })), "{e}");
}

#[test]
fn gap_trailing_zero_padding_after_pixel_data() {
    // FIELD-NOTES: dicom-rs fails on files with megabytes of zeros after PixelData.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("padded.dcm");
    let mut bytes = std::fs::read(pyd("MR_small.dcm")).unwrap();
    bytes.extend(std::iter::repeat_n(0u8, 4 << 20));
    std::fs::write(&p, bytes).unwrap();
    assert_eq!(read(&p).volume, read(&pyd("MR_small.dcm")).volume);
    assert_eq!(read(&pyd("MR_small_padded.dcm")).volume, read(&pyd("MR_small.dcm")).volume);
}

#[test]
fn gap_files_without_file_meta_group() {
    // FIELD-NOTES: dicom-rs cannot open files without a meta group; the encoding is
    // guessed from the first element (implicit LE, explicit LE, explicit BE).
    let want = read(&pyd("MR_small.dcm")).volume;
    for (src, how) in [
        ("MR_small_implicit.dcm", "nometa_implicit"),
        ("MR_small.dcm", "nometa_explicit"),
        ("MR_small_bigendian.dcm", "nometa_big"),
    ] {
        let (_d, p) = modified(&pyd(src), how);
        let head = std::fs::read(&p).unwrap();
        assert!(head.get(128..132) != Some(b"DICM") && !head.starts_with(b"DICM"), "{how} has no meta");
        assert_eq!(read(&p).volume, want, "{how}");
    }
}

#[test]
fn gap_one_bit_segmentation_frames() {
    // FIELD-NOTES: 1-bit SEG decodes in dicom-rs but does not convert; unpacked here.
    let v = read(&pdd("liver.dcm")).volume;
    assert_eq!((v.type_name(), v.dims()), ("int16", [512, 512, 3]));
    assert!(voxels(&v).iter().all(|&x| x == 0.0 || x == 1.0));
    assert_eq!(read(&pdd("liver_expb.dcm")).volume, v);
}

#[test]
fn gap_thirty_two_bit_samples() {
    // FIELD-NOTES: 32-bit RT dose does not convert in dicom-rs; 32-bit RLE not decoded.
    let v = read(&pyd("rtdose.dcm")).volume;
    assert_eq!((v.type_name(), v.dims()), ("float32", [10, 10, 15]));
    assert_eq!(read(&pyd("SC_rgb_rle_32bit.dcm")).volume, read(&pdd("SC_rgb_32bit.dcm")).volume);
}

#[test]
fn gap_planar_rgb() {
    // FIELD-NOTES: planar RGB does not convert in dicom-rs.
    assert_eq!(read(&pdd("color-pl.dcm")).volume, read(&pdd("color-px.dcm")).volume);
}

#[test]
fn gap_twelve_bit_signed_is_sign_extended() {
    // FIELD-NOTES: dicom-rs does not sign-extend 12-bit signed data.
    let (d, p) = modified(&pyd("MR_small.dcm"), "signed12");
    let v = read(&p).volume;
    assert_eq!(v.type_name(), "int16");
    let want: Vec<f64> = (-2048..2048).map(|x| x as f64).collect();
    assert_eq!(voxels(&v), want);
    // The same through the series reader (which reads such files straight into the volume).
    let series = hounsfield_io::dicom::scan(d.path()).unwrap();
    let s = hounsfield_io::dicom::read_series(&series[0], &DicomReadOptions::default()).unwrap();
    assert_eq!(s.volume, v);
    // And MONOCHROME1 in a series: inverted within the stored range, as for one file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(pdd("RG3_UNCR.dcm"), dir.path().join("cr.dcm")).unwrap();
    let series = hounsfield_io::dicom::scan(dir.path()).unwrap();
    let s = hounsfield_io::dicom::read_series(&series[0], &DicomReadOptions::default()).unwrap();
    assert_eq!(s.volume, read(&pdd("RG3_UNCR.dcm")).volume);
}

#[test]
fn gap_twelve_bit_lossy_jpeg_is_refused_by_name() {
    // FIELD-NOTES: 12-bit JPEG Extended does not decode (jpeg-decoder has no 12-bit DCT).
    for name in ["JPGExtended.dcm", "JPEG-lossy.dcm"] {
        let e = read_file(&pyd(name), &DicomReadOptions::default()).unwrap_err();
        assert!(matches!(e, DicomError::UnsupportedPixels { .. }), "{e}");
        assert!(e.to_string().contains("12-bit lossy JPEG") && e.to_string().contains("dcmdjpeg"), "{e}");
    }
}

#[test]
fn nm_multiframe_positions_come_from_the_detector_information() {
    // PS3.3 C.8.4.10: a reconstructed NM tomogram keeps position and orientation in the
    // Detector Information Sequence; frames are SpacingBetweenSlices apart along the normal.
    let (_d, p) = modified(&pdd("emri_small.dcm"), "nm_detector");
    let v = read(&p);
    assert_eq!(v.modality, "NM");
    let g = v.volume.geometry();
    assert_eq!(g.origin, [1.5, -2.0, 30.0]);
    // Coronal: rows along +x, columns along −z, normal (1,0,0) × (0,0,−1) = (0,1,0).
    assert_eq!(g.direction, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]);
    assert_eq!(g.spacing[2], 4.0);
    // Frames stay in file order (positions increase along the normal).
    assert_eq!(voxels(&v.volume), voxels(&read(&pdd("emri_small.dcm")).volume));
}
