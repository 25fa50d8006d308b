//! Building blocks shared by the networks: convolution + normalization + activation.

use crate::cpu::leaky_relu;
use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, InstanceNorm, InstanceNormConfig, PaddingConfig3d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::ops::SpatialDims;

/// Feature normalization after each convolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// Instance normalization (the default; nnU-Net's choice, robust to batch size 1–2).
    #[default]
    Instance,
    /// Batch normalization (running statistics at inference).
    Batch,
    /// No normalization.
    None,
}

/// A normalization layer chosen by [`Norm`].
#[derive(Module, Debug)]
pub struct NormLayer {
    pub(crate) instance: Option<InstanceNorm>,
    pub(crate) batch: Option<BatchNorm>,
}

impl NormLayer {
    /// A layer for `channels` features.
    pub fn new(norm: Norm, channels: usize, device: &Device) -> Self {
        match norm {
            Norm::Instance => NormLayer {
                instance: Some(InstanceNormConfig::new(channels).with_affine(true).init(device)),
                batch: None,
            },
            Norm::Batch => {
                NormLayer { instance: None, batch: Some(BatchNormConfig::new(channels).init(device)) }
            }
            Norm::None => NormLayer { instance: None, batch: None },
        }
    }

    /// Shapes: `[b, c, z, y, x]` → same.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        if let Some(n) = &self.instance {
            n.forward(x)
        } else if let Some(n) = &self.batch {
            n.forward(x)
        } else {
            x
        }
    }
}

/// Convolution (`k`, stride `s`, "same" padding `k/2`) → normalization → leaky ReLU
/// (slope 0.01, nnU-Net) unless `act` is false.
#[derive(Module, Debug)]
pub struct ConvNormAct {
    /// The convolution.
    pub conv: Conv3d,
    /// The normalization.
    pub norm: NormLayer,
    /// Whether the activation is applied.
    pub act: bool,
}

impl ConvNormAct {
    /// A block from `cin` to `cout` channels.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dims: SpatialDims,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        norm: Norm,
        act: bool,
        device: &Device,
    ) -> Self {
        ConvNormAct {
            conv: conv(dims, cin, cout, k, stride, norm == Norm::None, device),
            norm: NormLayer::new(norm, cout, device),
            act,
        }
    }

    /// Shapes: `[b, cin, z, y, x]` → `[b, cout, z/s, y/s, x/s]` (z kept for 2-D).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = crate::cpu::conv(&self.conv, x);
        let slope = self.act.then_some(0.01);
        if let Some(n) = &self.norm.instance {
            return crate::cpu::instance_norm(n, y, slope);
        }
        let y = self.norm.forward(y);
        match slope {
            Some(a) => leaky_relu(y, a),
            None => y,
        }
    }
}

/// A convolution with "same" padding for odd `k` (`k/2` each side), stride `s` in-plane and,
/// for 3-D, along z.
pub fn conv(
    dims: SpatialDims,
    cin: usize,
    cout: usize,
    k: usize,
    s: usize,
    bias: bool,
    device: &Device,
) -> Conv3d {
    let p = k / 2;
    let (kernel, stride, pad) = match dims {
        SpatialDims::D2 => ([1, k, k], [1, s, s], PaddingConfig3d::Explicit(0, p, p)),
        SpatialDims::D3 => ([k, k, k], [s, s, s], PaddingConfig3d::Explicit(p, p, p)),
    };
    Conv3dConfig::new([cin, cout], kernel).with_stride(stride).with_padding(pad).with_bias(bias).init(device)
}
