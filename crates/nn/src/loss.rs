//! Losses. Every function takes tensors `[batch, channels, z, y, x]` and returns a scalar
//! tensor (shape `[1]`) to minimize; autodiff flows through all of them.
//!
//! | loss | for | reference |
//! |---|---|---|
//! | [`dice`], [`cross_entropy`], [`dice_ce`], [`focal`] | segmentation (logits vs one-hot) | Milletari 2016; Isensee 2021; Lin 2017 |
//! | [`l1`], [`l2`], [`ssim`] | synthesis, denoising | Wang 2004 (SSIM) |
//! | [`ncc`], [`local_ncc`] | registration similarity | Avants 2008; Balakrishnan 2019 |
//! | [`gradient_l2`], [`jacobian_folding`] | displacement regularity | Balakrishnan 2019 |

use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::bridge::tensor_from_vec;

/// Numerical floor of denominators (keeps empty classes and flat images finite).
const EPS: f32 = 1e-5;

/// One-hot encoding of a label map `[b, z, y, x]` (Int) into `[b, classes, z, y, x]`.
/// Labels at or above `classes` give an all-zero vector.
pub fn one_hot(labels: Tensor<4, Int>, classes: usize) -> Tensor<5> {
    let [b, d, h, w] = labels.dims();
    let l: Tensor<5, Int> = labels.reshape([b, 1, d, h, w]);
    let parts: Vec<Tensor<5>> = (0..classes).map(|c| l.clone().equal_elem(c as i64).float()).collect();
    Tensor::cat(parts, 1)
}

/// Soft Dice loss (Milletari 2016) of softmax(`logits`) against the one-hot `target`,
/// `1 − mean over classes of 2|P∩T| / (|P| + |T|)`, sums over the batch and space ("batch
/// Dice", nnU-Net). The background class 0 is left out when there is more than one class.
pub fn dice(logits: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
    let c = logits.dims()[1];
    let p = softmax(logits, 1);
    let (p, t) = if c > 1 { (p.narrow(1, 1, c - 1), target.narrow(1, 1, c - 1)) } else { (p, target) };
    let k = p.dims()[1];
    let flat = |x: Tensor<5>| {
        let n = x.dims().iter().product::<usize>() / k;
        x.swap_dims(0, 1).reshape([k, n])
    };
    let (p, t) = (flat(p), flat(t));
    let inter = (p.clone() * t.clone()).sum_dim(1);
    let denom = p.sum_dim(1) + t.sum_dim(1);
    let d = inter.mul_scalar(2.0).add_scalar(EPS) / denom.add_scalar(EPS);
    d.mean().neg().add_scalar(1.0)
}

/// Cross-entropy of softmax(`logits`) against the one-hot `target`, mean over voxels.
pub fn cross_entropy(logits: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
    let lp = log_softmax(logits, 1);
    (lp * target).sum_dim(1).mean().neg()
}

/// Dice + cross-entropy, equally weighted (nnU-Net's default, Isensee 2021).
pub fn dice_ce(logits: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
    dice(logits.clone(), target.clone()) + cross_entropy(logits, target)
}

/// Focal loss (Lin 2017) with focusing parameter `gamma`: `−mean (1 − p_t)^γ log p_t`.
pub fn focal(logits: Tensor<5>, target: Tensor<5>, gamma: f32) -> Tensor<1> {
    let lp = log_softmax(logits, 1);
    let lpt = (lp * target).sum_dim(1);
    let pt = lpt.clone().exp();
    (pt.neg().add_scalar(1.0).clamp_min(0.0).powf_scalar(gamma) * lpt).mean().neg()
}

/// Mean absolute error.
pub fn l1(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    (a - b).abs().mean()
}

/// Mean squared error.
pub fn l2(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    (a - b).powf_scalar(2.0).mean()
}

/// Separable filtering of every channel with the 1-D kernel `k` along x, y and (when
/// `z > 1`) z, zero padding ("same" size).
fn separable(x: Tensor<5>, k: &[f32]) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    let n = k.len();
    let p = n / 2;
    let dev = x.device();
    let mut y = x.reshape([b * c, 1, d, h, w]);
    let axes: &[usize] = if d > 1 { &[4, 3, 2] } else { &[4, 3] };
    for &axis in axes {
        let mut shape = [1usize, 1, 1, 1, 1];
        shape[axis] = n;
        let weight = tensor_from_vec(k.to_vec(), shape, &dev);
        let mut padding = [(0, 0); 3];
        padding[axis - 2] = (p, p);
        let opts = ConvOptions { stride: [1; 3], padding, dilation: [1; 3], groups: 1 };
        y = burn::tensor::module::conv3d(y, weight, None, opts);
    }
    y.reshape([b, c, d, h, w])
}

/// 1 − SSIM (Wang 2004) with an 11-tap Gaussian window (σ = 1.5) and constants for
/// intensities spanning `data_range`; 2-D when `z = 1`, 3-D otherwise. Windows that reach
/// past the border average only the voxels inside.
pub fn ssim(a: Tensor<5>, b: Tensor<5>, data_range: f32) -> Tensor<1> {
    let g: Vec<f32> = (-5..=5).map(|i: i32| (-(i * i) as f32 / (2.0 * 1.5 * 1.5)).exp()).collect();
    let s: f32 = g.iter().sum();
    let g: Vec<f32> = g.iter().map(|v| v / s).collect();
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    // Normalized convolution: the zero padding's lost weight is divided out, so a window at
    // the border averages the voxels it covers (plain zero padding makes an image and its
    // negative look positively correlated at the edges).
    let w = separable(a.ones_like(), &g);
    let local = |x: Tensor<5>| separable(x, &g) / w.clone();
    let mu_a = local(a.clone());
    let mu_b = local(b.clone());
    let saa = local(a.clone() * a.clone()) - mu_a.clone() * mu_a.clone();
    let sbb = local(b.clone() * b.clone()) - mu_b.clone() * mu_b.clone();
    let sab = local(a * b) - mu_a.clone() * mu_b.clone();
    let num =
        (mu_a.clone() * mu_b.clone()).mul_scalar(2.0).add_scalar(c1) * sab.mul_scalar(2.0).add_scalar(c2);
    let den = (mu_a.clone() * mu_a + mu_b.clone() * mu_b).add_scalar(c1) * (saa + sbb).add_scalar(c2);
    (num / den).mean().neg().add_scalar(1.0)
}

/// −NCC: the negative global normalized cross-correlation per batch item, averaged.
pub fn ncc(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    let [bs, ..] = a.dims();
    let n = a.dims().iter().product::<usize>() / bs;
    let a = a.reshape([bs, n]);
    let b = b.reshape([bs, n]);
    let a = a.clone() - a.mean_dim(1);
    let b = b.clone() - b.mean_dim(1);
    let num = (a.clone() * b.clone()).sum_dim(1);
    let den = ((a.clone() * a).sum_dim(1) * (b.clone() * b).sum_dim(1)).add_scalar(EPS).sqrt();
    (num / den).mean().neg()
}

/// −LNCC: the negative local (squared) normalized cross-correlation over `window`-voxel
/// boxes (VoxelMorph's `NCC` loss, Balakrishnan 2019; window 9).
pub fn local_ncc(a: Tensor<5>, b: Tensor<5>, window: usize) -> Tensor<1> {
    let w = window.max(1) | 1;
    let box_ = vec![1.0f32; w];
    let dims = a.dims();
    let vol = if dims[2] > 1 { (w * w * w) as f32 } else { (w * w) as f32 };
    let sa = separable(a.clone(), &box_);
    let sb = separable(b.clone(), &box_);
    let saa = separable(a.clone() * a.clone(), &box_);
    let sbb = separable(b.clone() * b.clone(), &box_);
    let sab = separable(a * b, &box_);
    let cross = sab - (sa.clone() * sb.clone()).div_scalar(vol);
    let va = saa - (sa.clone() * sa).div_scalar(vol);
    let vb = sbb - (sb.clone() * sb).div_scalar(vol);
    let cc = cross.clone() * cross / (va * vb).add_scalar(EPS);
    cc.mean().neg()
}

/// Forward differences of `u` `[b, k, z, y, x]` along x, y and (when `z > 1`) z.
fn diffs(u: Tensor<5>) -> Vec<Tensor<5>> {
    let [_, _, d, h, w] = u.dims();
    let mut out = Vec::new();
    for (axis, n) in [(4, w), (3, h), (2, d)] {
        if n > 1 {
            out.push(u.clone().narrow(axis, 1, n - 1) - u.clone().narrow(axis, 0, n - 1));
        }
    }
    out
}

/// Displacement smoothness: mean squared forward difference of every component along every
/// axis (VoxelMorph's `Grad('l2')`, Balakrishnan 2019).
pub fn gradient_l2(u: Tensor<5>) -> Tensor<1> {
    let ds = diffs(u);
    let n = ds.len().max(1) as f32;
    let mut it = ds.into_iter().map(|d| d.powf_scalar(2.0).mean());
    let first = it.next();
    match first {
        Some(f) => it.fold(f, |a, b| a + b).div_scalar(n),
        None => Tensor::zeros([1], &burn::tensor::Device::flex()),
    }
}

/// Folding penalty: mean of `max(0, −det J)` where `J = I + ∇u` by forward differences
/// (voxel units, channel 0 = x, 1 = y, 2 = z). Zero for any fold-free field.
pub fn jacobian_folding(u: Tensor<5>) -> Tensor<1> {
    let [_, k, d, h, w] = u.dims();
    if h < 2 || w < 2 {
        return Tensor::zeros([1], &u.device());
    }
    let three = k == 3 && d > 1;
    // Crop every difference to the common (n-1) extent.
    let (dz, dy, dx) = (if three { d - 1 } else { d }, h - 1, w - 1);
    let crop = |t: Tensor<5>| t.narrow(2, 0, dz).narrow(3, 0, dy).narrow(4, 0, dx);
    let gx = crop(u.clone().narrow(4, 1, w - 1) - u.clone().narrow(4, 0, w - 1));
    let gy = crop(u.clone().narrow(3, 1, h - 1) - u.clone().narrow(3, 0, h - 1));
    let comp = |g: &Tensor<5>, c: usize| g.clone().narrow(1, c, 1);
    let det = if three {
        let gz = crop(u.clone().narrow(2, 1, d - 1) - u.narrow(2, 0, d - 1));
        // J[i][j] = δij + ∂u_i/∂x_j; columns: gx, gy, gz.
        let j00 = comp(&gx, 0).add_scalar(1.0);
        let j01 = comp(&gy, 0);
        let j02 = comp(&gz, 0);
        let j10 = comp(&gx, 1);
        let j11 = comp(&gy, 1).add_scalar(1.0);
        let j12 = comp(&gz, 1);
        let j20 = comp(&gx, 2);
        let j21 = comp(&gy, 2);
        let j22 = comp(&gz, 2).add_scalar(1.0);
        j00 * (j11.clone() * j22.clone() - j12.clone() * j21.clone())
            - j01 * (j10.clone() * j22 - j12 * j20.clone())
            + j02 * (j10 * j21 - j11 * j20)
    } else {
        let j00 = comp(&gx, 0).add_scalar(1.0);
        let j01 = comp(&gy, 0);
        let j10 = comp(&gx, 1);
        let j11 = comp(&gy, 1).add_scalar(1.0);
        j00 * j11 - j01 * j10
    };
    relu(det.neg()).mean()
}

/// Segmentation loss choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentationLoss {
    /// Dice + cross-entropy (the default, nnU-Net).
    #[default]
    DiceCe,
    /// Soft Dice only.
    Dice,
    /// Cross-entropy only.
    CrossEntropy,
    /// Focal loss with γ = 2 (Lin 2017).
    Focal,
}

impl SegmentationLoss {
    /// Evaluates the loss of `logits` against one-hot `target`.
    pub fn eval(self, logits: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
        match self {
            SegmentationLoss::DiceCe => dice_ce(logits, target),
            SegmentationLoss::Dice => dice(logits, target),
            SegmentationLoss::CrossEntropy => cross_entropy(logits, target),
            SegmentationLoss::Focal => focal(logits, target, 2.0),
        }
    }
}

/// Image-to-image loss choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageLoss {
    /// Mean absolute error (the default: robust, sharp results).
    #[default]
    L1,
    /// Mean squared error.
    L2,
    /// 1 − SSIM with the data range of the normalized target (taken as 1).
    Ssim,
}

impl ImageLoss {
    /// Evaluates the loss of `pred` against `target`.
    pub fn eval(self, pred: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
        match self {
            ImageLoss::L1 => l1(pred, target),
            ImageLoss::L2 => l2(pred, target),
            ImageLoss::Ssim => ssim(pred, target, 1.0),
        }
    }
}

/// Registration similarity choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimilarityLoss {
    /// Local NCC over 9-voxel windows (the default, VoxelMorph).
    #[default]
    LocalNcc,
    /// Global NCC.
    Ncc,
    /// Mean squared error (same-modality, same-scale images only).
    L2,
}

impl SimilarityLoss {
    /// Evaluates the dissimilarity of `warped` and `fixed`.
    pub fn eval(self, warped: Tensor<5>, fixed: Tensor<5>) -> Tensor<1> {
        match self {
            SimilarityLoss::LocalNcc => local_ncc(warped, fixed, 9),
            SimilarityLoss::Ncc => ncc(warped, fixed),
            SimilarityLoss::L2 => l2(warped, fixed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    #[test]
    fn segmentation_losses_reward_the_right_answer() {
        let dev = Device::flex();
        let labels: Tensor<4, Int> = Tensor::from_data([[[[0i64, 1, 2, 1], [2, 2, 0, 1]]]], &dev);
        let t = one_hot(labels, 3);
        assert_eq!(t.dims(), [1, 3, 1, 2, 4]);
        let good = t.clone().mul_scalar(20.0);
        let bad = t.clone().neg().mul_scalar(20.0);
        // Softmax of ±20 logits is within e^-20 of one-hot: losses within 1e-3 of ideal.
        assert!(scalar(dice(good.clone(), t.clone())) < 1e-3);
        assert!(scalar(dice(bad.clone(), t.clone())) > 0.9);
        assert!(scalar(cross_entropy(good.clone(), t.clone())) < 1e-3);
        assert!(scalar(focal(good.clone(), t.clone(), 2.0)) < 1e-3);
        assert!(scalar(dice_ce(bad, t.clone())) > scalar(dice_ce(good, t)));
    }

    #[test]
    fn image_losses() {
        let dev = Device::flex();
        let a = Tensor::<5>::random([1, 1, 1, 16, 16], Distribution::Default, &dev);
        assert!(scalar(l1(a.clone(), a.clone())).abs() < 1e-7);
        assert!((scalar(l2(a.clone(), a.clone().add_scalar(0.5))) - 0.25).abs() < 1e-6);
        // SSIM of an image with itself is 1 (up to the f32 rounding of the local variances).
        assert!(scalar(ssim(a.clone(), a.clone(), 1.0)).abs() < 1e-4);
        // 1 − a: same mean, perfectly anti-correlated structure, SSIM ≈ −1.
        assert!(scalar(ssim(a.clone(), a.clone().neg().add_scalar(1.0), 1.0)) > 1.5);
        assert!((scalar(ncc(a.clone(), a.clone().mul_scalar(3.0).add_scalar(1.0))) + 1.0).abs() < 1e-4);
        assert!((scalar(local_ncc(a.clone(), a.clone().mul_scalar(2.0), 5)) + 1.0).abs() < 1e-2);
    }

    #[test]
    fn regularizers() {
        let dev = Device::flex();
        let constant = Tensor::<5>::ones([1, 3, 4, 4, 4], &dev);
        assert_eq!(scalar(gradient_l2(constant.clone())), 0.0);
        assert_eq!(scalar(jacobian_folding(constant)), 0.0);
        // u_x = -2x folds space (det J = 1 - 2 < 0 everywhere).
        let mut v = vec![0f32; 3 * 64];
        for (i, x) in v.iter_mut().take(64).enumerate() {
            *x = -2.0 * (i % 4) as f32;
        }
        let folded = tensor_from_vec(v, [1, 3, 4, 4, 4], &dev);
        assert!((scalar(jacobian_folding(folded.clone())) - 1.0).abs() < 1e-6);
        assert!((scalar(gradient_l2(folded)) - 4.0 / 9.0).abs() < 1e-6);
    }
}
