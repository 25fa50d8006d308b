//! PNG/JPEG against SimpleITK and PIL: ITK's example PNGs (grey, palette, RGB, RGBA, 16-bit),
//! JPEGs made by PIL, the PNG writers read back by PIL, and bad input.

use std::path::{Path, PathBuf};

use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::raster::{self, RasterError};

use crate::common::data;
use crate::nifti_peers::{py, sitk_many, Peer};

/// What the module docs promise from SimpleITK's pixels: grey stays, r = g = b is grey,
/// colour is BT.601 luma.
fn expected(peer: &Peer) -> Vec<f64> {
    let c = peer.components;
    let px: Vec<&[f64]> = peer.voxels.chunks(c).collect();
    if c == 1 {
        return peer.voxels.clone();
    }
    let grey = px.iter().all(|p| p[0] == p[1] && p[1] == p[2]);
    px.iter()
        .map(|p| {
            if grey {
                p[0]
            } else {
                (0.299f32 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) as f64
            }
        })
        .collect()
}

#[test]
fn itk_pngs_match_simpleitk() {
    let dir = data("itk");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 30, "ITK example PNGs missing: run scripts/setup.sh");
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let mut kinds = std::collections::BTreeSet::new();
    for (p, peer) in paths.iter().zip(sitk_many(&refs)) {
        let ours = raster::read(p).unwrap_or_else(|e| panic!("{e}"));
        kinds.insert(ours.type_name());
        assert_eq!(ours.dims(), [peer.size[0], peer.size[1], 1], "{}", p.display());
        assert_eq!(ours.geometry(), &Geometry::default());
        let want = expected(&peer);
        let got = ours.to_f64();
        // Exact: the same integers, or the same f32 luma expression.
        assert!(got.data() == want.as_slice(), "{}: {} vs SimpleITK", p.display(), ours.type_name());
    }
    // The set covers grey 8-bit, grey-in-colour, real colour (f32) and 16-bit RGB.
    assert!(kinds.contains("uint8") && kinds.contains("float32") && kinds.contains("uint16"), "{kinds:?}");
}

#[test]
fn pil_made_pngs_and_jpegs() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["grey16.png", "grey_rgb.png", "colour.png", "grey.jpg", "colour.jpg", "la.png"];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    // PIL writes the files and reports its own decode: grey values, or BT.601 luma in f64.
    let j = py(
        r#"
import sys, json, numpy as np
from PIL import Image
rng = np.random.default_rng(7)
y, x = np.mgrid[0:40, 0:50]
g16 = (x * 1000 + y * 17).astype(np.uint16)
grey = ((x * 5 + y * 3) % 256).astype(np.uint8)
rgb = np.stack([grey, (255 - grey), (x * 4).astype(np.uint8)], axis=-1)
paths = dict(zip(['grey16', 'grey_rgb', 'colour', 'greyj', 'colourj', 'la'], sys.argv[1:]))
Image.fromarray(g16).save(paths['grey16'])
Image.fromarray(np.stack([grey] * 3, axis=-1)).save(paths['grey_rgb'])
Image.fromarray(rgb).save(paths['colour'])
Image.fromarray(grey).save(paths['greyj'], quality=90)
Image.fromarray(rgb).save(paths['colourj'], quality=95)
Image.fromarray(np.stack([grey, 255 - grey], axis=-1), mode='LA').save(paths['la'])
def luma(a):
    a = a.astype(np.float32)
    return (np.float32(0.299) * a[..., 0] + np.float32(0.587) * a[..., 1] + np.float32(0.114) * a[..., 2]).astype(float)
out = {
  'grey16': np.asarray(Image.open(paths['grey16'])).astype(float).ravel().tolist(),
  'grey_rgb': np.asarray(Image.open(paths['grey_rgb']))[..., 0].astype(float).ravel().tolist(),
  'colour': luma(np.asarray(Image.open(paths['colour']))).ravel().tolist(),
  'greyj': np.asarray(Image.open(paths['greyj'])).astype(float).ravel().tolist(),
  'colourj': luma(np.asarray(Image.open(paths['colourj']).convert('RGB'))).ravel().tolist(),
  'la': grey.astype(float).ravel().tolist(),
}
print(json.dumps(out))
"#,
        &refs,
    );
    let vals =
        |k: &str| -> Vec<f64> { j[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    let check = |p: &Path, key: &str, ty: &str, tol: f64| {
        let v = raster::read(p).unwrap();
        assert_eq!(v.type_name(), ty, "{key}");
        assert_eq!(v.dims(), [50, 40, 1]);
        let want = vals(key);
        let worst = v.to_f64().data().iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tol, "{key}: differs from PIL by {worst}");
    };
    // 1e-9: values travel as JSON text, and serde_json's default float parsing can be one
    // f64 ulp off; the values themselves are the same f32 expression.
    check(&paths[0], "grey16", "uint16", 1e-9);
    check(&paths[1], "grey_rgb", "uint8", 1e-9);
    check(&paths[2], "colour", "float32", 1e-9);
    // JPEG: two decoders (zune-jpeg, libjpeg-turbo) with different IDCT rounding may differ by
    // one level per channel (measured: 1 on grey), and their chroma upsampling and YCbCr→RGB
    // rounding by up to 2 levels of luma (measured: 1.6).
    check(&paths[3], "greyj", "uint8", 1.0);
    check(&paths[4], "colourj", "float32", 2.0);
    check(&paths[5], "la", "uint8", 1e-9);
}

#[test]
fn png_writer_read_back_by_pil() {
    let dir = tempfile::tempdir().unwrap();
    let g = Geometry::default();
    let cases: Vec<(&str, AnyVolume, Vec<f64>)> = vec![
        (
            "u8.png",
            Volume::from_vec([3, 2, 1], g, vec![0u8, 1, 2, 253, 254, 255]).unwrap().into(),
            vec![0.0, 1.0, 2.0, 253.0, 254.0, 255.0],
        ),
        ("i32_small.png", Volume::from_vec([2, 1, 1], g, vec![7i32, 200]).unwrap().into(), vec![7.0, 200.0]),
        (
            "u16.png",
            Volume::from_vec([3, 1, 1], g, vec![0u16, 256, 65535]).unwrap().into(),
            vec![0.0, 256.0, 65535.0],
        ),
        (
            "ct.png",
            Volume::from_vec([4, 1, 1], g, vec![-1024i16, 0, 1000, 3071]).unwrap().into(),
            // (v + 1024) / 4095 · 65535, rounded.
            vec![0.0, 16388.0, 32391.0, 65535.0],
        ),
        (
            "f32.png",
            Volume::from_vec([3, 1, 1], g, vec![0.25f32, 0.5, 1.25]).unwrap().into(),
            vec![0.0, 16384.0, 65535.0],
        ),
    ];
    let paths: Vec<PathBuf> = cases.iter().map(|(n, _, _)| dir.path().join(n)).collect();
    for ((_, v, _), p) in cases.iter().zip(&paths) {
        raster::write_png_volume(p, v).unwrap();
    }
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let j = py(
        r#"
import sys, json, numpy as np
from PIL import Image
out = []
for p in sys.argv[1:]:
    im = Image.open(p)
    out.append({'mode': im.mode, 'size': list(im.size), 'values': np.asarray(im).astype(float).ravel().tolist()})
print(json.dumps(out))
"#,
        &refs,
    );
    for ((name, v, want), got) in cases.iter().zip(j.as_array().unwrap()) {
        let mode = got["mode"].as_str().unwrap();
        let eight = name.starts_with("u8") || name.starts_with("i32");
        assert_eq!(mode, if eight { "L" } else { "I;16" }, "{name}");
        assert_eq!(got["size"][0].as_u64().unwrap() as usize, v.dims()[0]);
        let vals: Vec<f64> = got["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(&vals, want, "{name}");
    }
}

#[test]
fn rendered_slice_png_read_by_pil() {
    let dir = tempfile::tempdir().unwrap();
    let g = Geometry::default();
    let slice = Volume::from_vec([3, 2, 1], g, vec![-1000.0f32, 40.0, 240.0, -160.0, 1000.0, 0.0]).unwrap();
    let labels = Volume::from_vec([3, 2, 1], g, vec![0u16, 1, 2, 0, 0, 3]).unwrap();
    let img = raster::render_slice(&slice, 400.0, 40.0, Some(&labels), 0.4).unwrap();
    let p = dir.path().join("slice.png");
    raster::write_png_rgb(&p, &img).unwrap();
    let j = py(
        r#"
import sys, json, numpy as np
from PIL import Image
im = Image.open(sys.argv[1])
print(json.dumps({'mode': im.mode, 'px': np.asarray(im).astype(int).ravel().tolist()}))
"#,
        &[&p],
    );
    assert_eq!(j["mode"], "RGB");
    let px: Vec<u8> = j["px"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(px, img.pixels);
    // Row 1, column 0: −160 HU is the bottom of the 400/40 window, no label: black.
    assert_eq!(img.get(0, 1), Some([0, 0, 0]));
}

#[test]
fn bad_input_is_a_typed_error() {
    let png = std::fs::read(data("itk/DiagonalLines.png")).unwrap();
    assert!(raster::read_from_bytes(&png).is_ok());
    assert!(matches!(raster::read_from_bytes(&png[..png.len() / 2]), Err(RasterError::Decode { .. })));
    assert!(matches!(raster::read_from_bytes(b"not an image at all"), Err(RasterError::Decode { .. })));
    let mut corrupt = png.clone();
    for b in corrupt.iter_mut().skip(100).take(200) {
        *b ^= 0x5a;
    }
    assert!(matches!(raster::read_from_bytes(&corrupt), Err(RasterError::Decode { .. })));
    assert!(matches!(raster::read(Path::new("/nonexistent/x.png")), Err(RasterError::Open { .. })));
    // A header declaring 100000 × 100000 pixels (10 GB) is refused before decoding.
    let mut huge = png[..33].to_vec();
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let r = raster::read_from_bytes(&huge);
    assert!(matches!(r, Err(RasterError::MemoryCap { .. }) | Err(RasterError::Decode { .. })), "{r:?}");
}

#[test]
fn failed_writes_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let thick: AnyVolume = Volume::from_vec([2, 1, 2], Geometry::default(), vec![1u8; 4]).unwrap().into();
    let p = dir.path().join("thick.png");
    assert!(matches!(raster::write_png_volume(&p, &thick), Err(RasterError::WriteVolume { .. })));
    let target = dir.path().join("taken.png");
    std::fs::create_dir(&target).unwrap();
    let ok: AnyVolume = Volume::from_vec([2, 1, 1], Geometry::default(), vec![1u8, 2]).unwrap().into();
    assert!(matches!(raster::write_png_volume(&target, &ok), Err(RasterError::Write { .. })));
    let bad = raster::RgbImage { width: 2, height: 2, pixels: vec![0; 5] };
    assert!(matches!(
        raster::write_png_rgb(&dir.path().join("bad.png"), &bad),
        Err(RasterError::WriteVolume { .. })
    ));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("taken.png")]);
}
