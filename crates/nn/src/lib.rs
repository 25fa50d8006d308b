//! Neural networks on burn: models, losses, training loop, augmentation, sliding-window inference, model cards, ONNX model loading.
//!
//! Every network follows burn's Config → `init(&device)` → `forward` pattern and takes
//! tensors `[batch, channels, z, y, x]`; a 2-D network is the same code with `z = 1` and
//! `1 × k × k` kernels. Images cross into tensors through the [`bridge`], which keeps the
//! [`Geometry`](hounsfield_core::Geometry) beside the tensor so every output lands back on
//! its grid; inference resamples to the model's spacing and back ([`infer`]). A trained
//! model is a folder with a TOML model card and weights whose SHA-256 the card records
//! ([`card`]); ONNX models run through tract with the same inferer ([`onnx`]).
//!
//! The CPU backend is burn's pure-Rust `flex` (multi-threaded, SIMD). burn's `cpu` backend
//! is not used: its build script downloads LLVM. The networks' convolutions, instance norms
//! and leaky ReLUs go through [`cpu`] (im2col + GEMM, fused normalization), 2–4× faster than
//! flex's own on the benchmark U-Nets; on other backends they are burn's.
//!
//! ```
//! use hounsfield_core::{Geometry, Volume};
//! use hounsfield_nn::bridge::VolumeTensor;
//! use hounsfield_nn::models::UNetConfig;
//! use hounsfield_nn::ops::SpatialDims;
//! use hounsfield_nn::Device;
//!
//! let device = Device::flex();
//! let g = Geometry { spacing: [0.8, 0.8, 2.0], ..Geometry::default() };
//! let image = Volume::<f32>::zeros([16, 16, 8], g)?;
//! let x = VolumeTensor::from_channels(&[&image], &device)?; // [1, 1, 8, 16, 16]
//! let net = UNetConfig::new(SpatialDims::D3, 1, 3, vec![4, 8]).init(&device);
//! let logits = x.with_tensor(net.forward(x.tensor.clone()))?; // same grid, 3 channels
//! let channels = logits.to_volumes(0)?;
//! assert_eq!(channels.len(), 3);
//! assert_eq!(channels[0].geometry(), &g);
//! # Ok::<(), hounsfield_nn::NnError>(())
//! ```
//!
//! | module | holds | papers |
//! |---|---|---|
//! | [`bridge`] | [`VolumeTensor`](bridge::VolumeTensor): volumes ↔ `[b, c, z, y, x]` with geometry | |
//! | [`models`] | U-Net 2-D/3-D, ResNet-18/34, DenseNet-121, DnCNN, RED-CNN, VoxelMorph | Ronneberger 2015, Çiçek 2016, Isensee 2021, He 2016, Huang 2017, Zhang 2017, Chen 2017, Balakrishnan 2019, Dalca 2018 |
//! | [`cpu`] | CPU kernels the networks use in place of burn-flex's: convolution (im2col + packed GEMM, forward and backward), instance norm + leaky ReLU fused, leaky ReLU | Chellapilla 2006, Ulyanov 2016 |
//! | [`ops`] | 3-D pooling, trilinear up-sampling, spatial transformer, scaling and squaring, Gaussian window | Jaderberg 2015, Arsigny 2006 |
//! | [`loss`] | Dice, Dice + CE, focal, L1/L2, SSIM, NCC, local NCC, smoothness, Jacobian folding | Milletari 2016, Lin 2017, Wang 2004 |
//! | [`data`] | manifests, NIfTI folders, reader callback, resampling and normalization | |
//! | [`augment`] | patch sampling with foreground oversampling; affine, elastic, flips, gamma, noise, blur, bias field, relabelling | Isensee 2021, Billot 2023 |
//! | [`train`] | the task-agnostic trainer: AdamW, cosine/poly LR, validation, checkpoints, resume | Loshchilov 2019 |
//! | [`card`] | model folders: TOML card + burnpack weights, checksum | |
//! | [`infer`] | sliding window, Gaussian weighting, mirror TTA, running argmax, resampling | Isensee 2021 |
//! | [`onnx`] | ONNX models through tract, unsupported operators named | |
//! | [`export`] | U-Net and DnCNN to ONNX: run by tract in memory (faster CPU inference) or saved | |
//!
//! | cargo feature | effect |
//! |---|---|
//! | (default) | CPU only (`flex`) |
//! | `cuda` | burn's CUDA backend (`Device::cuda(0)`); needs the CUDA toolkit to build |
//! | `wgpu` | burn's wgpu backend (`Device::wgpu(..)`); needs a GPU adapter to run |

pub mod augment;
pub mod bridge;
pub mod card;
pub mod cpu;
pub mod data;
pub mod error;
pub mod export;
pub mod infer;
pub mod loss;
pub mod models;
pub mod normalize;
pub mod onnx;
pub mod ops;
pub mod train;

/// burn's module trait (parameter counts, records), re-exported for callers.
pub use burn::module::Module;
/// burn's device (`Device::flex()` is the CPU), re-exported so callers need not depend on burn.
pub use burn::tensor::Device;
pub use error::NnError;
