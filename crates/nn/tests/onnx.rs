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
