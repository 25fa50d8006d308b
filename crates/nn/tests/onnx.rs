//! ONNX models built by the `onnx` helper API in the test set-up, run by tract and compared
//! with onnxruntime.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use hounsfield_nn::infer::Predictor;
use hounsfield_nn::onnx::OnnxModel;
use hounsfield_nn::NnError;

use crate::common::{python, read_f32};

/// Builds the models once per test binary (tests/data/make_onnx.py).
fn models() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hounsfield-nn-onnx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_onnx.py");
        let out = Command::new(python()).arg(&script).arg(&dir).output().expect("python runs");
        assert!(
            out.status.success(),
            "make_onnx.py failed (onnx and onnxruntime missing? run scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn compare(name: &str, shape: &[usize]) {
    let dir = models();
    let m = OnnxModel::load(&dir.join(format!("{name}.onnx"))).unwrap();
    let x = read_f32(&dir.join(format!("{name}_in.bin")));
    let want = read_f32(&dir.join(format!("{name}_out.bin")));
    let (got, _) = m.run(x, shape).unwrap();
    assert_eq!(got.len(), want.len());
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // The bar: equal to onnxruntime within 1e-4 (both f32; differences are
    // summation order in convolutions and normalization).
    assert!(worst < 1e-4, "{name}: max |tract − onnxruntime| = {worst}");
}

#[test]
fn unet3d_equals_onnxruntime() {
    compare("unet3d", &[1, 1, 16, 16, 16]);
}

#[test]
fn unet2d_equals_onnxruntime_and_takes_5d_windows() {
    compare("unet2d", &[1, 2, 24, 32]);
    let m = OnnxModel::load(&models().join("unet2d.onnx")).unwrap();
    assert_eq!(m.in_channels, Some(2));
    // Through the Predictor interface: [b, c, 1, y, x] in, [b, k, 1, y, x] out.
    let x = read_f32(&models().join("unet2d_in.bin"));
    let (o, s) = m.predict(x, [1, 2, 1, 24, 32]).unwrap();
    assert_eq!(s, vec![1, 2, 1, 24, 32]);
    assert_eq!(o.len(), 2 * 24 * 32);
    let e = m.predict(vec![0.0; 24 * 32], [1, 1, 1, 24, 32]).unwrap_err();
    assert!(e.to_string().contains("2 input channels"), "{e}");
}

#[test]
fn unsupported_operators_are_named() {
    let e = OnnxModel::load(&models().join("unsupported.onnx")).unwrap_err();
    assert!(matches!(&e, NnError::OnnxUnsupported { ops, .. } if ops.contains("HounsfieldMagic")), "{e}");
    let garbage = models().join("garbage.onnx");
    std::fs::write(&garbage, b"not a protobuf at all").unwrap();
    assert!(matches!(OnnxModel::load(&garbage), Err(NnError::Onnx { .. })));
}

/// burn networks exported to ONNX: tract (in memory) and onnxruntime (from the file) give
/// the burn output within 1e-4.
#[test]
fn exported_networks_match_burn_in_tract_and_onnxruntime() {
    use hounsfield_nn::bridge::{tensor_from_vec, tensor_to_vec};
    use hounsfield_nn::export::{onnx_bytes, to_onnx};
    use hounsfield_nn::models::{DnCnnConfig, ModelConfig, Norm, UNetConfig, Unit, Upsampling};
    use hounsfield_nn::ops::SpatialDims;
    use hounsfield_nn::{Device, Module};

    let dev = Device::flex();
    dev.seed(5);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unet3d_res_linear",
            ModelConfig::Unet(UNetConfig {
                channels: vec![4, 8, 8],
                unit: Unit::Residual,
                upsampling: Upsampling::Linear,
                out_channels: 3,
                ..Default::default()
            }),
            [1usize, 1, 8, 16, 12],
        ),
        (
            "unet2d_batch",
            ModelConfig::Unet(UNetConfig {
                spatial_dims: SpatialDims::D2,
                channels: vec![4, 8],
                norm: Norm::Batch,
                in_channels: 2,
                ..Default::default()
            }),
            [1, 2, 1, 16, 20],
        ),
        (
            "dncnn2d",
            ModelConfig::Dncnn(DnCnnConfig { depth: 4, features: 6, ..Default::default() }),
            [1, 1, 1, 12, 10],
        ),
    ];
    for (name, arch, shape) in cases {
        let net = arch.init(&dev).unwrap().valid();
        let n: usize = shape.iter().product();
        let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        let want = tensor_to_vec(net.forward(tensor_from_vec(x.clone(), shape, &dev)));
        let two_d = shape[2] == 1;
        let onnx_shape: Vec<usize> =
            if two_d { vec![shape[0], shape[1], shape[3], shape[4]] } else { shape.to_vec() };
        let m = OnnxModel::from_proto(to_onnx(&net).unwrap(), std::path::Path::new(name)).unwrap();
        let (got, _) = m.run(x.clone(), &onnx_shape).unwrap();
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        // Same f32 arithmetic in another order (convolution sums, normalization moments).
        assert!(worst < 1e-4, "{name}: max |tract − burn| = {worst}");
        // onnxruntime from the serialized file.
        let path = dir.path().join(format!("{name}.onnx"));
        std::fs::write(&path, onnx_bytes(&net).unwrap()).unwrap();
        let xin = dir.path().join(format!("{name}_in.bin"));
        std::fs::write(&xin, x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
        let xout = dir.path().join(format!("{name}_out.bin"));
        let script = format!(
            "import numpy as np, onnxruntime as ort\n\
             s = ort.InferenceSession({p:?}, providers=['CPUExecutionProvider'])\n\
             x = np.fromfile({i:?}, dtype='<f4').reshape({sh:?})\n\
             s.run(None, {{'input': x}})[0].astype('<f4').tofile({o:?})\n",
            p = path.display().to_string(),
            i = xin.display().to_string(),
            o = xout.display().to_string(),
            sh = onnx_shape
        );
        let out = Command::new(python()).arg("-c").arg(&script).output().unwrap();
        assert!(
            out.status.success(),
            "onnxruntime failed (run scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ort = read_f32(&xout);
        let worst = ort.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert_eq!(ort.len(), want.len());
        assert!(worst < 1e-4, "{name}: max |onnxruntime − burn| = {worst}");
    }
    // Architectures without an export say so.
    let vm = ModelConfig::Voxelmorph(Default::default()).init(&dev).unwrap();
    assert!(to_onnx(&vm).is_err());
}
