//! DenseNet-121-style classifier (Huang 2017): dense blocks of BN-ReLU-1×1-BN-ReLU-3×3
//! layers whose outputs are concatenated, and compressing transitions.

use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::blocks::{conv, Norm, NormLayer};
use crate::ops::{avg_pool2, global_avg_pool, max_pool2, SpatialDims};
use crate::NnError;

/// DenseNet configuration (defaults: DenseNet-121, 2-D).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenseNetConfig {
    /// 2-D (the default) or 3-D.
    pub spatial_dims: SpatialDims,
    /// Input channels (default 1).
    pub in_channels: usize,
    /// Classes (default 2).
    pub num_classes: usize,
    /// Growth rate k (default 32).
    pub growth: usize,
    /// Layers per dense block (default `[6, 12, 24, 16]`, DenseNet-121).
    pub blocks: Vec<usize>,
    /// Bottleneck width factor: the 1×1 convolution has `bn_size · k` channels (default 4).
    pub bn_size: usize,
    /// Channels of the stem (default 64).
    pub stem_channels: usize,
    /// Normalization (default batch).
    pub norm: Norm,
}

impl Default for DenseNetConfig {
    fn default() -> Self {
        Self {
            spatial_dims: SpatialDims::D2,
            in_channels: 1,
            num_classes: 2,
            growth: 32,
            blocks: vec![6, 12, 24, 16],
            bn_size: 4,
            stem_channels: 64,
            norm: Norm::Batch,
        }
    }
}

impl DenseNetConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.in_channels == 0 || self.num_classes == 0 || self.growth == 0 || self.bn_size == 0 {
            return Err(NnError::config(
                "model",
                "in_channels, num_classes, growth and bn_size must be at least 1",
            ));
        }
        if self.blocks.is_empty() || self.blocks.len() > 6 || self.blocks.iter().any(|&b| b == 0 || b > 128) {
            return Err(NnError::config("model.blocks", "needs 1 to 6 blocks of 1 to 128 layers"));
        }
        Ok(())
    }

    /// Builds the network.
    pub fn init(&self, device: &Device) -> DenseNet {
        let d = self.spatial_dims;
        let k = self.growth;
        let mut c = self.stem_channels;
        let stem = conv(d, self.in_channels, c, 7, 2, false, device);
        let stem_norm = NormLayer::new(self.norm, c, device);
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for (bi, &n) in self.blocks.iter().enumerate() {
            let mut layers = Vec::new();
            for _ in 0..n {
                layers.push(DenseLayer {
                    norm1: NormLayer::new(self.norm, c, device),
                    conv1: conv(d, c, self.bn_size * k, 1, 1, false, device),
                    norm2: NormLayer::new(self.norm, self.bn_size * k, device),
                    conv2: conv(d, self.bn_size * k, k, 3, 1, false, device),
                });
                c += k;
            }
            blocks.push(DenseBlock { layers });
            if bi + 1 < self.blocks.len() {
                // Compression θ = 0.5.
                transitions.push(Transition {
                    norm: NormLayer::new(self.norm, c, device),
                    conv: conv(d, c, c / 2, 1, 1, false, device),
                });
                c /= 2;
            }
        }
        DenseNet {
            stem,
            stem_norm,
            blocks,
            transitions,
            final_norm: NormLayer::new(self.norm, c, device),
            fc: LinearConfig::new(c, self.num_classes).init(device),
            three: d == SpatialDims::D3,
        }
    }
}

/// One dense layer.
#[derive(Module, Debug)]
pub struct DenseLayer {
    norm1: NormLayer,
    conv1: Conv3d,
    norm2: NormLayer,
    conv2: Conv3d,
}

/// A dense block.
#[derive(Module, Debug)]
pub struct DenseBlock {
    layers: Vec<DenseLayer>,
}

/// A transition: BN-ReLU-1×1 convolution, then 2× average pooling.
#[derive(Module, Debug)]
pub struct Transition {
    norm: NormLayer,
    conv: Conv3d,
}

/// A DenseNet classifier; see [`DenseNetConfig`].
#[derive(Module, Debug)]
pub struct DenseNet {
    stem: Conv3d,
    stem_norm: NormLayer,
    blocks: Vec<DenseBlock>,
    transitions: Vec<Transition>,
    final_norm: NormLayer,
    fc: Linear,
    three: bool,
}

impl DenseNet {
    /// Class logits.
    ///
    /// Shapes: `[b, in, z, y, x]` → `[b, classes]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        let d = if self.three { SpatialDims::D3 } else { SpatialDims::D2 };
        let mut y = max_pool2(relu(self.stem_norm.forward(crate::cpu::conv(&self.stem, x))), d);
        for (i, block) in self.blocks.iter().enumerate() {
            for l in &block.layers {
                let h = crate::cpu::conv(&l.conv1, relu(l.norm1.forward(y.clone())));
                let h = crate::cpu::conv(&l.conv2, relu(l.norm2.forward(h)));
                y = Tensor::cat(vec![y, h], 1);
            }
            if let Some(t) = self.transitions.get(i) {
                y = avg_pool2(crate::cpu::conv(&t.conv, relu(t.norm.forward(y))), d);
            }
        }
        self.fc.forward(global_avg_pool(relu(self.final_norm.forward(y))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_shape() {
        let dev = Device::flex();
        let c = DenseNetConfig {
            growth: 4,
            blocks: vec![2, 2],
            stem_channels: 8,
            num_classes: 3,
            ..Default::default()
        };
        assert_eq!(c.init(&dev).forward(Tensor::zeros([2, 1, 1, 32, 32], &dev)).dims(), [2, 3]);
    }
}
