//! Networks: Config → `init(&device)` → `forward`, every tensor `[batch, channels, z, y, x]`
//! (2-D networks take `z = 1` and use `1 × k × k` kernels, so one implementation serves both).
//!
//! | config | network | paper |
//! |---|---|---|
//! | [`UNetConfig`] | U-Net 2-D/3-D: depth, channels, residual units, instance/batch norm, transposed-conv or linear up-sampling, deep supervision | Ronneberger 2015; Çiçek 2016; Isensee 2021 (nnU-Net) |
//! | [`ResNetConfig`] | ResNet-18/34-style classifier 2-D/3-D | He 2016 |
//! | [`DenseNetConfig`] | DenseNet-121-style classifier (2-D; 3-D works too) | Huang 2017 |
//! | [`DnCnnConfig`] | DnCNN residual denoiser | Zhang 2017 |
//! | [`RedCnnConfig`] | RED-CNN residual encoder-decoder denoiser | Chen 2017 |
//! | [`VoxelMorphConfig`] | VoxelMorph registration network with a spatial transformer and scaling-and-squaring integration | Balakrishnan 2019; Dalca 2018 |
//!
//! [`ModelConfig`] is the tagged union written in training configs and model cards;
//! [`Network`] the matching initialized module.

mod blocks;
mod denoise;
mod densenet;
mod resnet;
mod unet;
mod voxelmorph;

pub use blocks::{ConvNormAct, Norm, NormLayer};
pub use denoise::{DnCnn, DnCnnConfig, RedCnn, RedCnnConfig};
pub use densenet::{DenseNet, DenseNetConfig};
pub use resnet::{ResNet, ResNetConfig, ResNetDepth};
pub use unet::{Level, Supervision, UNet, UNetConfig, Unit, Up, Upsampling};
pub use voxelmorph::{VoxelMorph, VoxelMorphConfig, VoxelMorphOutput};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::ops::SpatialDims;
use crate::NnError;

/// What a network computes, which decides how its output is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// Per-voxel class logits `[b, classes, z, y, x]`.
    VoxelLogits,
    /// Per-voxel values (an image) `[b, c, z, y, x]`.
    Image,
    /// Per-image class logits `[b, classes]`.
    ClassLogits,
    /// A displacement field `[b, k, z, y, x]` (registration).
    Displacement,
}

/// Any network of this crate, as written in a training config or a model card (TOML table
/// with `architecture = "unet"`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// U-Net.
    Unet(UNetConfig),
    /// ResNet classifier.
    Resnet(ResNetConfig),
    /// DenseNet classifier.
    Densenet(DenseNetConfig),
    /// DnCNN denoiser.
    Dncnn(DnCnnConfig),
    /// RED-CNN denoiser.
    RedCnn(RedCnnConfig),
    /// VoxelMorph registration network.
    Voxelmorph(VoxelMorphConfig),
}

impl ModelConfig {
    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<(), NnError> {
        match self {
            ModelConfig::Unet(c) => c.validate(),
            ModelConfig::Resnet(c) => c.validate(),
            ModelConfig::Densenet(c) => c.validate(),
            ModelConfig::Dncnn(c) => c.validate(),
            ModelConfig::RedCnn(c) => c.validate(),
            ModelConfig::Voxelmorph(c) => c.validate(),
        }
    }

    /// Builds the network (validating first).
    pub fn init(&self, device: &Device) -> Result<Network, NnError> {
        self.validate()?;
        Ok(match self {
            ModelConfig::Unet(c) => Network::Unet(c.init(device)),
            ModelConfig::Resnet(c) => Network::Resnet(c.init(device)),
            ModelConfig::Densenet(c) => Network::Densenet(c.init(device)),
            ModelConfig::Dncnn(c) => Network::Dncnn(c.init(device)),
            ModelConfig::RedCnn(c) => Network::RedCnn(c.init(device)),
            ModelConfig::Voxelmorph(c) => Network::Voxelmorph(c.init(device)),
        })
    }

    /// Input channels the network takes (VoxelMorph: 2, moving and fixed).
    pub fn in_channels(&self) -> usize {
        match self {
            ModelConfig::Unet(c) => c.in_channels,
            ModelConfig::Resnet(c) => c.in_channels,
            ModelConfig::Densenet(c) => c.in_channels,
            ModelConfig::Dncnn(c) => c.channels,
            ModelConfig::RedCnn(c) => c.channels,
            ModelConfig::Voxelmorph(_) => 2,
        }
    }

    /// Output channels (classes for classifiers).
    pub fn out_channels(&self) -> usize {
        match self {
            ModelConfig::Unet(c) => c.out_channels,
            ModelConfig::Resnet(c) => c.num_classes,
            ModelConfig::Densenet(c) => c.num_classes,
            ModelConfig::Dncnn(c) => c.channels,
            ModelConfig::RedCnn(c) => c.channels,
            ModelConfig::Voxelmorph(c) => c.spatial_dims.count(),
        }
    }

    /// 2-D or 3-D.
    pub fn spatial_dims(&self) -> SpatialDims {
        match self {
            ModelConfig::Unet(c) => c.spatial_dims,
            ModelConfig::Resnet(c) => c.spatial_dims,
            ModelConfig::Densenet(c) => c.spatial_dims,
            ModelConfig::Dncnn(c) => c.spatial_dims,
            ModelConfig::RedCnn(c) => c.spatial_dims,
            ModelConfig::Voxelmorph(c) => c.spatial_dims,
        }
    }

    /// What the output means.
    pub fn output_kind(&self) -> OutputKind {
        match self {
            ModelConfig::Unet(_) => OutputKind::VoxelLogits,
            ModelConfig::Resnet(_) | ModelConfig::Densenet(_) => OutputKind::ClassLogits,
            ModelConfig::Dncnn(_) | ModelConfig::RedCnn(_) => OutputKind::Image,
            ModelConfig::Voxelmorph(_) => OutputKind::Displacement,
        }
    }

    /// The factor every spatial extent of an input must be a multiple of (U-Net: 2^(levels−1)).
    pub fn size_multiple(&self) -> usize {
        match self {
            ModelConfig::Unet(c) => 1 << (c.channels.len() - 1),
            ModelConfig::Voxelmorph(c) => 1 << (c.unet_channels.len() - 1),
            _ => 1,
        }
    }

    /// The smallest spatial extent the network takes.
    pub fn min_size(&self) -> usize {
        match self {
            ModelConfig::RedCnn(c) => 4 * c.layers + 1,
            ModelConfig::Resnet(_) => 32,
            ModelConfig::Densenet(c) => 1 << (c.blocks.len() + 1),
            other => other.size_multiple(),
        }
    }
}

/// An initialized network of any architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Network {
    /// U-Net.
    Unet(UNet),
    /// ResNet classifier.
    Resnet(ResNet),
    /// DenseNet classifier.
    Densenet(DenseNet),
    /// DnCNN denoiser.
    Dncnn(DnCnn),
    /// RED-CNN denoiser.
    RedCnn(RedCnn),
    /// VoxelMorph.
    Voxelmorph(VoxelMorph),
}

impl Network {
    /// The forward pass for dense outputs: segmentation logits, denoised image, or the
    /// registration displacement (input channels 0 = moving, 1 = fixed).
    ///
    /// Shapes: `[b, in, z, y, x]` → `[b, out, z, y, x]`. Classifiers return their logits
    /// broadcast to `[b, classes, 1, 1, 1]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            Network::Unet(m) => m.forward(x),
            Network::Dncnn(m) => m.forward(x),
            Network::RedCnn(m) => m.forward(x),
            Network::Voxelmorph(m) => {
                let moving = x.clone().narrow(1, 0, 1);
                let fixed = x.narrow(1, 1, 1);
                m.forward(moving, fixed).displacement
            }
            Network::Resnet(m) => {
                let l = m.forward(x);
                let [b, c] = l.dims();
                l.reshape([b, c, 1, 1, 1])
            }
            Network::Densenet(m) => {
                let l = m.forward(x);
                let [b, c] = l.dims();
                l.reshape([b, c, 1, 1, 1])
            }
        }
    }
}
