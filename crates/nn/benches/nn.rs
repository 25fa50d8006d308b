//! Benchmarks of the issue's targets, one per sub-command, each in its own process so peak
//! memory (VmHWM) is the benchmark's own:
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench -p hounsfield-nn --bench nn -- forward        # 3-D U-Net 1×1×128³, burn flex
//! RAYON_NUM_THREADS=2 cargo bench -p hounsfield-nn --bench nn -- tract ONNX     # same graph through tract
//! RAYON_NUM_THREADS=2 cargo bench -p hounsfield-nn --bench nn -- window [ONNX]  # sliding window 192³, 96³ windows
//! RAYON_NUM_THREADS=2 cargo bench -p hounsfield-nn --bench nn -- train          # 2-D U-Net step, 8×1×128²
//! RAYON_NUM_THREADS=2 cargo bench -p hounsfield-nn --bench nn -- conv           # conv3d 16→16 k3 on 1×16×64³: burn vs nn::cpu
//! ```
//!
//! `bench/nn_unet.sh` runs them all beside onnxruntime, PyTorch and MONAI; `docs/benchmarks.md`
//! records a run. The networks' convolutions, instance norms and leaky ReLUs run through
//! [`hounsfield_nn::cpu`]. The U-Net is channels 16-32-64-128, strides 2, two
//! conv-instance-norm-leaky-ReLU per level, transposed-convolution up-sampling.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use hounsfield_nn::bridge::tensor_from_vec;
use hounsfield_nn::infer::{sliding_window, BurnPredictor, InferenceConfig, Predictor, WindowShape};
use hounsfield_nn::loss;
use hounsfield_nn::models::{ModelConfig, UNetConfig};
use hounsfield_nn::onnx::{set_threads, OnnxModel};
use hounsfield_nn::ops::SpatialDims;
use hounsfield_nn::Device;

fn unet(dims: SpatialDims) -> ModelConfig {
    ModelConfig::Unet(UNetConfig::new(dims, 1, 2, vec![16, 32, 64, 128]))
}

fn peak_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn time<F: FnMut()>(label: &str, runs: usize, mut f: F) {
    f(); // warm-up: allocations, tract plan, thread pool
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label}: median {:.3} s (min {:.3}, {runs} runs), peak RSS {:.0} MiB",
        t[runs / 2],
        t[0],
        peak_mib()
    );
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let what = args.first().map(String::as_str).unwrap_or("forward");
    let dev = Device::flex();
    dev.seed(0);
    match what {
        "forward" => {
            let net = unet(SpatialDims::D3).init(&dev).unwrap();
            let x = Tensor::<5>::random([1, 1, 128, 128, 128], Distribution::Default, &dev);
            time("burn flex + nn::cpu 3-D U-Net forward 1x1x128^3", 3, || {
                let _ = hounsfield_nn::bridge::tensor_to_vec(net.forward(x.clone()));
            });
        }
        "tract" => {
            set_threads(threads());
            let m =
                OnnxModel::load(std::path::Path::new(args.get(1).expect("path to unet_bench.onnx"))).unwrap();
            let x = vec![0.5f32; 128 * 128 * 128];
            time("tract 3-D U-Net forward 1x1x128^3", 3, || {
                let _ = m.run(x.clone(), &[1, 1, 128, 128, 128]).unwrap();
            });
        }
        "window" => {
            // Volume side (default 192; HOUNSFIELD_WINDOW_VOLUME=256 for the segmentation issue's 256³).
            let side: usize =
                std::env::var("HOUNSFIELD_WINDOW_VOLUME").ok().and_then(|v| v.parse().ok()).unwrap_or(192);
            let n = side * side * side;
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
            let cfg = InferenceConfig { window: Some([96, 96, 96]), ..Default::default() };
            let net;
            let onnx;
            let p: &dyn Predictor = match args.get(1) {
                Some(path) => {
                    set_threads(threads());
                    onnx = OnnxModel::load(std::path::Path::new(path)).unwrap();
                    &onnx
                }
                None => {
                    net = unet(SpatialDims::D3).init(&dev).unwrap();
                    &*Box::leak(Box::new(BurnPredictor {
                        network: &*Box::leak(Box::new(net)),
                        device: dev.clone(),
                    }))
                }
            };
            let label = if args.get(1).is_some() { "tract" } else { "burn flex + nn::cpu" };
            let s = Instant::now();
            let mut windows = 0;
            let out = sliding_window(
                p,
                &x,
                1,
                [side, side, side],
                &cfg,
                true,
                8,
                WindowShape::Volumes,
                &mut |d, _| windows = d,
            )
            .unwrap();
            println!(
                "{label} sliding window 1x1x{side}^3, 96^3 windows, overlap 0.5 ({windows} windows, Gaussian, full accumulation): {:.2} s, peak RSS {:.0} MiB",
                s.elapsed().as_secs_f64(),
                peak_mib()
            );
            drop(out);
        }
        "train" => {
            let ad = dev.clone().autodiff();
            let mut net = unet(SpatialDims::D2).init(&ad).unwrap();
            let mut optim = AdamWConfig::new().init();
            let x = Tensor::<5>::random([8, 1, 1, 128, 128], Distribution::Default, &ad);
            let labels: Vec<f32> = (0..8 * 2 * 128 * 128).map(|i| ((i / (128 * 128)) % 2) as f32).collect();
            let t = tensor_from_vec(labels, [8, 2, 1, 128, 128], &ad);
            let mut parts = [0.0f64; 3];
            time("burn flex + nn::cpu 2-D U-Net training step 8x1x128^2 (forward+backward+AdamW)", 3, || {
                let s = Instant::now();
                let l = loss::dice_ce(net.forward(x.clone()), t.clone());
                let _: f32 = l.clone().into_scalar(); // forward done
                parts[0] += s.elapsed().as_secs_f64();
                let s = Instant::now();
                let g = GradientsParams::from_grads(l.backward(), &net);
                parts[1] += s.elapsed().as_secs_f64();
                let s = Instant::now();
                net = optim.step(1e-3, net.clone(), g);
                parts[2] += s.elapsed().as_secs_f64();
            });
            println!(
                "  mean of 4 steps: forward+loss {:.3} s, backward {:.3} s, AdamW {:.3} s",
                parts[0] / 4.0,
                parts[1] / 4.0,
                parts[2] / 4.0
            );
            println!("parameters: {}", net.num_params());
        }
        "conv" => {
            let w = Tensor::<5>::random([16, 16, 3, 3, 3], Distribution::Default, &dev);
            let x = Tensor::<5>::random([1, 16, 64, 64, 64], Distribution::Default, &dev);
            let opts = burn::tensor::ops::ConvOptions {
                stride: [1; 3],
                padding: [(1, 1); 3],
                dilation: [1; 3],
                groups: 1,
            };
            time("burn flex conv3d 16->16 k3 1x16x64^3", 5, || {
                let _ = hounsfield_nn::bridge::tensor_to_vec(burn::tensor::module::conv3d(
                    x.clone(),
                    w.clone(),
                    None,
                    opts.clone(),
                ));
            });
            time("hounsfield_nn::cpu::conv3d 16->16 k3 1x16x64^3", 5, || {
                let _ = hounsfield_nn::bridge::tensor_to_vec(hounsfield_nn::cpu::conv3d(
                    x.clone(),
                    w.clone(),
                    None,
                    [1; 3],
                    [1; 3],
                ));
            });
            let ad = dev.clone().autodiff();
            let xa = Tensor::<5>::from_data(x.clone().into_data(), &ad).require_grad();
            let wa = Tensor::<5>::from_data(w.clone().into_data(), &ad).require_grad();
            time("hounsfield_nn::cpu::conv3d 16->16 k3 1x16x64^3 forward+backward", 5, || {
                let y = hounsfield_nn::cpu::conv3d(xa.clone(), wa.clone(), None, [1; 3], [1; 3]);
                let _ = y.sum().backward();
            });
            time("burn flex conv3d 16->16 k3 1x16x64^3 forward+backward", 3, || {
                let y = burn::tensor::module::conv3d(xa.clone(), wa.clone(), None, opts.clone());
                let _ = y.sum().backward();
            });
        }
        other => eprintln!("unknown benchmark `{other}` (forward, tract, window, train, conv)"),
    }
}
