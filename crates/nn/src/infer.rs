//! Inference: a sliding window with overlap and Gaussian importance weighting (nnU-Net,
//! Isensee 2021), mirror test-time augmentation, a running argmax that keeps memory
//! independent of the class count, and automatic resampling to the model's spacing and back
//! onto the input grid.
//!
//! The window loop works on any [`Predictor`]: a burn [`Network`] or an ONNX model run by
//! tract ([`crate::onnx::OnnxModel`]), so both go through the same code and model card.

use burn::tensor::activation::softmax;
use burn::tensor::Device;
use hounsfield_core::{check_alloc, Geometry, IdentityTransform, LabelVolume, Volume};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::{grid_for_spacing, resample, resample_labels};
use serde::{Deserialize, Serialize};

use crate::bridge::{tensor_from_vec, tensor_to_vec};
use crate::card::{Model, ModelCard, Task};
use crate::models::Network;
use crate::normalize::Normalization;
use crate::NnError;

/// Anything that maps a batch `[b, c, z, y, x]` to a batch `[b, k, z', y', x']`.
pub trait Predictor: Sync {
    /// Runs the model on `input` (row-major, `shape`) and returns the output and its shape.
    fn predict(&self, input: Vec<f32>, shape: [usize; 5]) -> Result<(Vec<f32>, Vec<usize>), NnError>;
}

/// A model that owns its network, run by burn (with this crate's CPU kernels: about 2× faster
/// than tract on the U-Net, see docs/benchmarks.md), as a [`Predictor`].
pub struct OwnedBurnPredictor {
    /// The model.
    pub model: Model,
    /// Device of its network.
    pub device: Device,
}

impl Predictor for OwnedBurnPredictor {
    fn predict(&self, input: Vec<f32>, shape: [usize; 5]) -> Result<(Vec<f32>, Vec<usize>), NnError> {
        BurnPredictor { network: &self.model.network, device: self.device.clone() }.predict(input, shape)
    }
}

/// A burn network on a device, as a [`Predictor`].
pub struct BurnPredictor<'a> {
    /// The network.
    pub network: &'a Network,
    /// Where it runs.
    pub device: Device,
}

impl Predictor for BurnPredictor<'_> {
    fn predict(&self, input: Vec<f32>, shape: [usize; 5]) -> Result<(Vec<f32>, Vec<usize>), NnError> {
        let x = tensor_from_vec(input, shape, &self.device);
        let y = self.network.forward(x);
        let dims = y.dims().to_vec();
        Ok((tensor_to_vec(y), dims))
    }
}

/// Mirror test-time augmentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mirror {
    /// One pass per window (the default: fastest).
    #[default]
    Off,
    /// Average over every combination of flips of the spatial axes (4 passes in 2-D, 8 in
    /// 3-D), as nnU-Net.
    AllAxes,
}

/// How overlapping windows are combined for segmentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accumulation {
    /// `full` when the class probabilities of the whole volume fit in 1 GiB, `running_argmax`
    /// otherwise (the default).
    #[default]
    Auto,
    /// Gaussian-weighted average of every class probability, then argmax (exact nnU-Net;
    /// memory `classes × voxels × 4` bytes).
    Full,
    /// Per voxel, keep only the best weighted probability and its class (two numbers per
    /// voxel whatever the class count). Equal to `full` where windows do not overlap;
    /// elsewhere it takes the most confident window's vote (max fusion).
    RunningArgmax,
}

/// `[inference]` of a model card: sliding-window settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceConfig {
    /// Window `[z, y, x]` in voxels (at the model's spacing); absent: the whole volume in one
    /// window.
    pub window: Option<[usize; 3]>,
    /// Fraction of a window shared with its neighbour along each axis, in `[0, 0.9]`
    /// (default 0.5, nnU-Net).
    pub overlap: f64,
    /// Mirror test-time augmentation (default off).
    pub mirror: Mirror,
    /// Gaussian importance weighting of each window (default on: `gaussian`).
    pub weighting: Weighting,
    /// Combining overlapping windows (default auto).
    pub accumulation: Accumulation,
}

/// Per-voxel weights of a window's prediction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Gaussian with σ = window/8, centre 1 (the default; window borders count less).
    #[default]
    Gaussian,
    /// Every voxel of every window counts the same.
    Constant,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            window: None,
            overlap: 0.5,
            mirror: Mirror::Off,
            weighting: Weighting::Gaussian,
            accumulation: Accumulation::Auto,
        }
    }
}

impl InferenceConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        if !(0.0..=0.9).contains(&self.overlap) {
            return Err(NnError::config(
                "inference.overlap",
                format!("must be in [0, 0.9], got {}", self.overlap),
            ));
        }
        if let Some(w) = self.window {
            if w.contains(&0) {
                return Err(NnError::config("inference.window", "every extent must be at least 1"));
            }
        }
        Ok(())
    }
}

/// The windows a model takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WindowShape {
    /// Volumes (3-D windows; 2-D inputs get one-slice windows) (the default).
    #[default]
    Volumes,
    /// One slice per window: a 2-D model run slice by slice over a volume.
    Slices,
}

/// What a dense sliding-window pass produces.
#[derive(Clone, Debug, PartialEq)]
pub enum Dense {
    /// Class index per voxel (segmentation), row-major `[z, y, x]`.
    Classes(Vec<u16>),
    /// `channels` values per voxel, channel-major `[c, z, y, x]`.
    Values {
        /// Channel count.
        channels: usize,
        /// The values.
        data: Vec<f32>,
    },
}

/// Window start positions along one axis of length `n` for window `w` and overlap `o`:
/// evenly spaced from 0 to `n − w`, with steps of at most `w·(1 − o)`.
pub fn window_starts(n: usize, w: usize, overlap: f64) -> Vec<usize> {
    if n <= w {
        return vec![0];
    }
    let step = ((w as f64) * (1.0 - overlap)).max(1.0);
    let count = ((n - w) as f64 / step).ceil() as usize + 1;
    (0..count).map(|i| ((n - w) as f64 * i as f64 / (count - 1) as f64).round() as usize).collect()
}

fn flip_axes(data: &mut [f32], shape: [usize; 4], axes: [bool; 3]) {
    let [c, d, h, w] = shape;
    if !axes.iter().any(|&a| a) {
        return;
    }
    let src = data.to_vec();
    for ch in 0..c {
        for z in 0..d {
            let zs = if axes[0] { d - 1 - z } else { z };
            for y in 0..h {
                let ys = if axes[1] { h - 1 - y } else { y };
                for x in 0..w {
                    let xs = if axes[2] { w - 1 - x } else { x };
                    data[((ch * d + z) * h + y) * w + x] = src[((ch * d + zs) * h + ys) * w + xs];
                }
            }
        }
    }
}

/// Runs `predictor` over `input` (`channels × [z, y, x]`, channel-major) window by window.
/// `classes` true: the outputs are logits, turned into softmax probabilities and combined to
/// one class per voxel; false: outputs are values averaged with the window weights.
/// Windows are one slice thick for 2-D volumes and for [`WindowShape::Slices`]. `progress(done, total)` is called after every window.
#[allow(clippy::too_many_arguments)]
pub fn sliding_window(
    predictor: &dyn Predictor,
    input: &[f32],
    channels: usize,
    size: [usize; 3],
    config: &InferenceConfig,
    classes: bool,
    size_multiple: usize,
    shape: WindowShape,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Dense, NnError> {
    config.validate()?;
    let n: usize = size.iter().product();
    if input.len() != n * channels {
        return Err(NnError::input(format!("{} values for {channels} channels of {size:?}", input.len())));
    }
    let two_d = size[0] == 1 || shape == WindowShape::Slices;
    // The window: as configured, else the whole volume; rounded up to the network's size
    // multiple (in-plane only for 2-D), and the volume padded to at least one window.
    let round = |v: usize| v.div_ceil(size_multiple.max(1)) * size_multiple.max(1);
    let mut win = config.window.unwrap_or(size);
    for a in 0..3 {
        if a == 0 && two_d {
            win[0] = 1;
        } else {
            win[a] = round(win[a].max(1));
        }
    }
    let padded = [size[0].max(win[0]), size[1].max(win[1]), size[2].max(win[2])];
    let np: usize = padded.iter().product();
    check_alloc(np as u128 * channels as u128, 4)?;
    let mut vol = vec![0f32; np * channels];
    for c in 0..channels {
        for z in 0..size[0] {
            for y in 0..size[1] {
                let src = ((c * size[0] + z) * size[1] + y) * size[2];
                let dst = ((c * padded[0] + z) * padded[1] + y) * padded[2];
                vol[dst..dst + size[2]].copy_from_slice(&input[src..src + size[2]]);
            }
        }
    }
    let weights = match config.weighting {
        Weighting::Gaussian => crate::ops::gaussian_importance(win),
        Weighting::Constant => vec![1.0; win.iter().product()],
    };
    let starts: Vec<Vec<usize>> = (0..3).map(|a| window_starts(padded[a], win[a], config.overlap)).collect();
    let total = starts[0].len() * starts[1].len() * starts[2].len();
    let flips: Vec<[bool; 3]> = match config.mirror {
        Mirror::Off => vec![[false; 3]],
        Mirror::AllAxes => {
            let zs: &[bool] = if two_d { &[false] } else { &[false, true] };
            let mut v = Vec::new();
            for &z in zs {
                for y in [false, true] {
                    for x in [false, true] {
                        v.push([z, y, x]);
                    }
                }
            }
            v
        }
    };
    let wn: usize = win.iter().product();
    let mut out_channels = 0usize;
    // Accumulators, allocated on the first window when the channel count is known.
    let mut sum: Vec<f32> = Vec::new();
    let mut wsum: Vec<f32> = Vec::new();
    let mut best: Vec<f32> = Vec::new();
    let mut best_class: Vec<u16> = Vec::new();
    let mut running = false;
    let mut done = 0;
    for &z0 in &starts[0] {
        for &y0 in &starts[1] {
            for &x0 in &starts[2] {
                let mut patch = vec![0f32; channels * wn];
                for c in 0..channels {
                    for z in 0..win[0] {
                        for y in 0..win[1] {
                            let src = ((c * padded[0] + z0 + z) * padded[1] + y0 + y) * padded[2] + x0;
                            let dst = ((c * win[0] + z) * win[1] + y) * win[2];
                            patch[dst..dst + win[2]].copy_from_slice(&vol[src..src + win[2]]);
                        }
                    }
                }
                let mut mean: Vec<f32> = Vec::new();
                for f in &flips {
                    let mut p = patch.clone();
                    flip_axes(&mut p, [channels, win[0], win[1], win[2]], *f);
                    let (mut o, oshape) = predictor.predict(p, [1, channels, win[0], win[1], win[2]])?;
                    if oshape.len() != 5 || oshape[0] != 1 || oshape[2..] != win[..] {
                        return Err(NnError::input(format!(
                            "model output shape {oshape:?} does not keep the window's spatial shape {win:?}"
                        )));
                    }
                    let k = oshape[1];
                    if classes {
                        // Softmax over classes per voxel.
                        for v in 0..wn {
                            let m = (0..k).map(|c| o[c * wn + v]).fold(f32::NEG_INFINITY, f32::max);
                            let s: f32 = (0..k).map(|c| (o[c * wn + v] - m).exp()).sum();
                            for c in 0..k {
                                o[c * wn + v] = (o[c * wn + v] - m).exp() / s;
                            }
                        }
                    }
                    flip_axes(&mut o, [k, win[0], win[1], win[2]], *f);
                    if mean.is_empty() {
                        mean = o;
                    } else {
                        mean.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
                    }
                    out_channels = k;
                }
                let inv = 1.0 / flips.len() as f32;
                mean.iter_mut().for_each(|v| *v *= inv);
                if mean.iter().any(|v| !v.is_finite()) {
                    return Err(NnError::input("the model produced a non-finite value".to_string()));
                }
                if sum.is_empty() && best.is_empty() {
                    running = classes
                        && match config.accumulation {
                            Accumulation::Full => false,
                            Accumulation::RunningArgmax => true,
                            Accumulation::Auto => (out_channels as u128) * (np as u128) * 4 > (1u128 << 30),
                        };
                    if running {
                        check_alloc(np as u128, 6)?;
                        best = vec![f32::NEG_INFINITY; np];
                        best_class = vec![0; np];
                    } else {
                        check_alloc(np as u128 * (out_channels as u128 + 1), 4)?;
                        sum = vec![0.0; np * out_channels];
                        wsum = vec![0.0; np];
                    }
                }
                for z in 0..win[0] {
                    for y in 0..win[1] {
                        for x in 0..win[2] {
                            let v = (z * win[1] + y) * win[2] + x;
                            let g = ((z0 + z) * padded[1] + y0 + y) * padded[2] + x0 + x;
                            let wgt = weights[v];
                            if running {
                                for c in 0..out_channels {
                                    let s = mean[c * wn + v] * wgt;
                                    if s > best[g] {
                                        best[g] = s;
                                        best_class[g] = c as u16;
                                    }
                                }
                            } else {
                                wsum[g] += wgt;
                                for c in 0..out_channels {
                                    sum[c * np + g] += mean[c * wn + v] * wgt;
                                }
                            }
                        }
                    }
                }
                done += 1;
                progress(done, total);
            }
        }
    }
    // Crop the padding away.
    let crop_index = |z: usize, y: usize, x: usize| (z * padded[1] + y) * padded[2] + x;
    if classes {
        let mut labels = Vec::with_capacity(n);
        for z in 0..size[0] {
            for y in 0..size[1] {
                for x in 0..size[2] {
                    let g = crop_index(z, y, x);
                    labels.push(if running {
                        best_class[g]
                    } else {
                        let mut bc = 0;
                        let mut bv = f32::NEG_INFINITY;
                        for c in 0..out_channels {
                            if sum[c * np + g] > bv {
                                bv = sum[c * np + g];
                                bc = c;
                            }
                        }
                        bc as u16
                    });
                }
            }
        }
        Ok(Dense::Classes(labels))
    } else {
        let mut data = Vec::with_capacity(n * out_channels);
        for c in 0..out_channels {
            for z in 0..size[0] {
                for y in 0..size[1] {
                    for x in 0..size[2] {
                        let g = crop_index(z, y, x);
                        data.push(sum[c * np + g] / wsum[g].max(1e-12));
                    }
                }
            }
        }
        Ok(Dense::Values { channels: out_channels, data })
    }
}

/// What inference on a volume returns, on the input's grid.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // one value per inference: size does not matter
pub enum Prediction {
    /// A label map (segmentation).
    Labels(LabelVolume),
    /// Output images, one per channel (synthesis).
    Images(Vec<Volume<f32>>),
    /// Displacement components in mm along L, P, S (registration, ITK convention: fixed
    /// point `p` maps to `p + u(p)` in the moving image).
    Displacement([Volume<f32>; 3]),
    /// Class probabilities (classification).
    Classes(Vec<f32>),
}

/// How the model is fed and read: from a card, or the assumptions made for a bare ONNX file.
#[derive(Clone, Debug)]
pub struct InferenceSpec {
    /// Task.
    pub task: Task,
    /// Input channels expected (None: whatever is given).
    pub in_channels: Option<usize>,
    /// Spacing the model expects (None: the input's).
    pub spacing: Option<[f64; 3]>,
    /// Input normalization.
    pub normalization: Normalization,
    /// Output normalization to invert (synthesis).
    pub output_normalization: Option<Normalization>,
    /// Label id per class index.
    pub label_ids: Vec<u16>,
    /// Sliding-window settings.
    pub inference: InferenceConfig,
    /// Spatial extents must be multiples of this.
    pub size_multiple: usize,
    /// 2-D model (input must have depth 1).
    pub two_d: Option<bool>,
    /// Label ids kept to their largest 26-connected component (segmentation).
    pub largest_component: Vec<u16>,
}

impl InferenceSpec {
    /// The spec a model card describes.
    pub fn from_card(card: &ModelCard) -> Self {
        InferenceSpec {
            task: card.model.task,
            in_channels: Some(card.architecture.in_channels()),
            spacing: card.input.spacing,
            normalization: card.input.normalization,
            output_normalization: card.output.normalization,
            label_ids: (0..card.architecture.out_channels()).map(|c| card.label_id(c)).collect(),
            inference: card.inference.clone(),
            size_multiple: card.architecture.size_multiple(),
            two_d: Some(card.architecture.spatial_dims() == crate::ops::SpatialDims::D2),
            largest_component: card.output.largest_component.clone(),
        }
    }
}

/// Keeps only the largest 26-connected component of each label in `ids`; the rest of that
/// label becomes background.
pub fn keep_largest_components(labels: &mut LabelVolume, ids: &[u16]) -> Result<(), NnError> {
    use hounsfield_imgproc::components::{largest_component, Connectivity};
    for &id in ids {
        let mask = labels.as_volume().map(|&v| u8::from(v == id));
        if !mask.data().contains(&1) {
            continue;
        }
        let keep = largest_component(&mask, Connectivity::TwentySix)?;
        for (v, (&m, &k)) in
            labels.as_volume_mut().data_mut().iter_mut().zip(mask.data().iter().zip(keep.data()))
        {
            if m == 1 && k == 0 {
                *v = 0;
            }
        }
    }
    Ok(())
}

/// Runs a model on a volume: checks the channels, resamples to the model's spacing,
/// normalizes, runs the sliding window and maps the result back onto the input grid.
pub fn predict_volume(
    predictor: &dyn Predictor,
    spec: &InferenceSpec,
    channels: &[&Volume<f32>],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Prediction, NnError> {
    let first = channels.first().ok_or_else(|| NnError::input("no input image"))?;
    if let Some(c) = spec.in_channels {
        if channels.len() != c {
            return Err(NnError::input(format!(
                "the model takes {c} input channels, got {}",
                channels.len()
            )));
        }
    }
    for (i, v) in channels.iter().enumerate() {
        if !v.same_grid(first, 1e-6) {
            return Err(NnError::input(format!("input channel {i} is on another grid than channel 0")));
        }
        if let Some(p) = v.data().iter().position(|x| !x.is_finite()) {
            return Err(NnError::input(format!(
                "input channel {i} has a non-finite value at voxel index {p}"
            )));
        }
    }
    let is_2d = first.dims()[2] == 1;
    let model_2d = spec.two_d == Some(true);
    if spec.two_d == Some(false) && is_2d {
        return Err(NnError::input("the model is 3-D but the input is a 2-D image"));
    }
    if model_2d && spec.task == Task::Classification && !is_2d {
        return Err(NnError::input(format!(
            "the classifier is 2-D but the input has {} slices",
            first.dims()[2]
        )));
    }
    // A 2-D model on a volume runs slice by slice (windows one slice thick).
    let shape = if model_2d { WindowShape::Slices } else { WindowShape::Volumes };
    let in_grid = (first.dims(), *first.geometry());
    // Resample to the model's spacing (z kept for 2-D inputs).
    let (work_dims, work_geom) = match spec.spacing {
        Some(mut s) => {
            if is_2d || model_2d {
                // In-plane only: the slices stay where they are.
                s[2] = first.geometry().spacing[2];
            }
            grid_for_spacing(first.dims(), first.geometry(), s)?
        }
        None => in_grid,
    };
    let same = work_dims == in_grid.0 && work_geom.approx_eq(&in_grid.1, 1e-9);
    let mut data = Vec::with_capacity(channels.len() * work_dims.iter().product::<usize>());
    for v in channels {
        let mut d = if same {
            v.data().to_vec()
        } else {
            resample(v, work_dims, &work_geom, &IdentityTransform, Interpolation::Linear, 0.0)?.into_vec()
        };
        spec.normalization.apply(&mut d);
        data.extend_from_slice(&d);
    }
    let size = [work_dims[2], work_dims[1], work_dims[0]];
    match spec.task {
        Task::Classification => {
            let (o, _) = predictor.predict(data, [1, channels.len(), size[0], size[1], size[2]])?;
            let t = burn::tensor::Tensor::<1>::from_floats(o.as_slice(), &Device::flex());
            Ok(Prediction::Classes(tensor_to_vec(softmax(t, 0))))
        }
        Task::Segmentation => {
            let dense = sliding_window(
                predictor,
                &data,
                channels.len(),
                size,
                &spec.inference,
                true,
                spec.size_multiple,
                shape,
                progress,
            )?;
            let Dense::Classes(cls) = dense else {
                return Err(NnError::input("segmentation produced values".to_string()));
            };
            let ids: Vec<u16> =
                cls.iter().map(|&c| spec.label_ids.get(c as usize).copied().unwrap_or(c)).collect();
            let mut lab = LabelVolume::new(Volume::from_vec(work_dims, work_geom, ids)?);
            keep_largest_components(&mut lab, &spec.largest_component)?;
            Ok(Prediction::Labels(if same {
                lab
            } else {
                resample_labels(&lab, in_grid.0, &in_grid.1, &IdentityTransform, 0)?
            }))
        }
        Task::Synthesis | Task::Registration => {
            let dense = sliding_window(
                predictor,
                &data,
                channels.len(),
                size,
                &spec.inference,
                false,
                spec.size_multiple,
                shape,
                progress,
            )?;
            let Dense::Values { channels: k, data } = dense else {
                return Err(NnError::input("dense output expected".to_string()));
            };
            let n = work_dims.iter().product::<usize>();
            let mut vols = Vec::with_capacity(k);
            for c in 0..k {
                let mut d = data[c * n..(c + 1) * n].to_vec();
                if spec.task == Task::Synthesis {
                    if let Some(norm) = spec.output_normalization {
                        norm.invert(&mut d);
                    }
                }
                vols.push(Volume::from_vec(work_dims, work_geom, d)?);
            }
            if spec.task == Task::Registration {
                return Ok(Prediction::Displacement(displacement_mm(&vols, &work_geom, in_grid, same)?));
            }
            let back = vols
                .into_iter()
                .map(|v| {
                    if same {
                        Ok(v)
                    } else {
                        Ok(resample(
                            &v,
                            in_grid.0,
                            &in_grid.1,
                            &IdentityTransform,
                            Interpolation::Linear,
                            0.0,
                        )?)
                    }
                })
                .collect::<Result<Vec<_>, NnError>>()?;
            Ok(Prediction::Images(back))
        }
    }
}

/// Voxel displacements (x, y[, z] in voxels of `geom`) → world millimetre components
/// (L, P, S) on the input grid.
fn displacement_mm(
    vols: &[Volume<f32>],
    geom: &Geometry,
    in_grid: ([usize; 3], Geometry),
    same: bool,
) -> Result<[Volume<f32>; 3], NnError> {
    let m = geom.index_to_world_affine().m;
    let n = vols.first().map(|v| v.len()).unwrap_or(0);
    let mut comps = [vec![0f32; n], vec![0f32; n], vec![0f32; n]];
    for i in 0..n {
        let d = [
            vols.first().map_or(0.0, |v| v.data()[i] as f64),
            vols.get(1).map_or(0.0, |v| v.data()[i] as f64),
            vols.get(2).map_or(0.0, |v| v.data()[i] as f64),
        ];
        for (r, comp) in comps.iter_mut().enumerate() {
            comp[i] = (m[r][0] * d[0] + m[r][1] * d[1] + m[r][2] * d[2]) as f32;
        }
    }
    let dims = vols.first().map(|v| v.dims()).unwrap_or(in_grid.0);
    let mk = |c: Vec<f32>| -> Result<Volume<f32>, NnError> {
        let v = Volume::from_vec(dims, *geom, c)?;
        Ok(if same {
            v
        } else {
            resample(&v, in_grid.0, &in_grid.1, &IdentityTransform, Interpolation::Linear, 0.0)?
        })
    };
    let [a, b, c] = comps;
    Ok([mk(a)?, mk(b)?, mk(c)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Predicts class = 1 where the input exceeds 0.5 (logits ±(x − 0.5)·10).
    struct Threshold;
    impl Predictor for Threshold {
        fn predict(&self, input: Vec<f32>, shape: [usize; 5]) -> Result<(Vec<f32>, Vec<usize>), NnError> {
            let mut o: Vec<f32> = input.iter().map(|x| -(x - 0.5) * 10.0).collect();
            o.extend(input.iter().map(|x| (x - 0.5) * 10.0));
            Ok((o, vec![1, 2, shape[2], shape[3], shape[4]]))
        }
    }

    #[test]
    fn window_starts_cover_the_axis() {
        assert_eq!(window_starts(10, 10, 0.5), vec![0]);
        assert_eq!(window_starts(192, 96, 0.5), vec![0, 48, 96]);
        let s = window_starts(100, 32, 0.5);
        assert_eq!(*s.last().unwrap(), 68);
        assert!(s.windows(2).all(|w| w[1] - w[0] <= 16));
    }

    #[test]
    fn sliding_window_equals_whole_volume_for_a_pointwise_model() {
        let size = [5, 13, 11];
        let n: usize = size.iter().product();
        let input: Vec<f32> = (0..n).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
        let want: Vec<u16> = input.iter().map(|&x| (x > 0.5) as u16).collect();
        for acc in [Accumulation::Full, Accumulation::RunningArgmax] {
            for mirror in [Mirror::Off, Mirror::AllAxes] {
                let cfg = InferenceConfig {
                    window: Some([4, 8, 8]),
                    accumulation: acc,
                    mirror,
                    ..Default::default()
                };
                let d = sliding_window(
                    &Threshold,
                    &input,
                    1,
                    size,
                    &cfg,
                    true,
                    1,
                    WindowShape::Volumes,
                    &mut |_, _| {},
                )
                .unwrap();
                assert_eq!(d, Dense::Classes(want.clone()), "{acc:?} {mirror:?}");
                let d = sliding_window(
                    &Threshold,
                    &input,
                    1,
                    size,
                    &cfg,
                    true,
                    1,
                    WindowShape::Slices,
                    &mut |_, _| {},
                )
                .unwrap();
                assert_eq!(d, Dense::Classes(want.clone()), "{acc:?} {mirror:?}");
            }
        }
    }
}
