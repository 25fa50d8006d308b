//! ResNet-18/34-style classifiers (He 2016) in 2-D and 3-D, with basic residual blocks.

use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::blocks::{conv, Norm, NormLayer};
use crate::ops::{global_avg_pool, max_pool2, SpatialDims};
use crate::NnError;

/// Blocks per stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResNetDepth {
    /// ResNet-18: 2, 2, 2, 2 basic blocks (the default).
    #[default]
    #[serde(rename = "18")]
    R18,
    /// ResNet-34: 3, 4, 6, 3 basic blocks.
    #[serde(rename = "34")]
    R34,
}

impl ResNetDepth {
    fn blocks(self) -> [usize; 4] {
        match self {
            ResNetDepth::R18 => [2, 2, 2, 2],
            ResNetDepth::R34 => [3, 4, 6, 3],
        }
    }
}

/// ResNet configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResNetConfig {
    /// 2-D or 3-D (default 3).
    pub spatial_dims: SpatialDims,
    /// Input channels (default 1).
    pub in_channels: usize,
    /// Classes (default 2).
    pub num_classes: usize,
    /// 18 or 34 (default 18).
    pub depth: ResNetDepth,
    /// Channels of the first stage; stages double it (default 64, as He 2016).
    pub width: usize,
    /// Normalization (default batch, as He 2016).
    pub norm: Norm,
}

impl Default for ResNetConfig {
    fn default() -> Self {
        Self {
            spatial_dims: SpatialDims::D3,
            in_channels: 1,
            num_classes: 2,
            depth: ResNetDepth::R18,
            width: 64,
            norm: Norm::Batch,
        }
    }
}

impl ResNetConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.in_channels == 0 || self.num_classes == 0 {
            return Err(NnError::config("model.in_channels/num_classes", "must be at least 1"));
        }
        if self.width == 0 || self.width > 1024 {
            return Err(NnError::config("model.width", "must be 1 to 1024"));
        }
        Ok(())
    }

    /// Builds the network.
    pub fn init(&self, device: &Device) -> ResNet {
        let d = self.spatial_dims;
        let w = self.width;
        let stem = conv(d, self.in_channels, w, 7, 2, false, device);
        let stem_norm = NormLayer::new(self.norm, w, device);
        let mut blocks = Vec::new();
        let mut cin = w;
        for (s, &count) in self.depth.blocks().iter().enumerate() {
            let cout = w << s;
            for b in 0..count {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock {
                    conv1: conv(d, cin, cout, 3, stride, false, device),
                    norm1: NormLayer::new(self.norm, cout, device),
                    conv2: conv(d, cout, cout, 3, 1, false, device),
                    norm2: NormLayer::new(self.norm, cout, device),
                    shortcut: (cin != cout || stride != 1)
                        .then(|| conv(d, cin, cout, 1, stride, false, device)),
                    shortcut_norm: (cin != cout || stride != 1)
                        .then(|| NormLayer::new(self.norm, cout, device)),
                });
                cin = cout;
            }
        }
        ResNet {
            stem,
            stem_norm,
            blocks,
            fc: LinearConfig::new(cin, self.num_classes).init(device),
            three: d == SpatialDims::D3,
        }
    }
}

/// The basic block: two 3×3(×3) convolutions and a shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv3d,
    norm1: NormLayer,
    conv2: Conv3d,
    norm2: NormLayer,
    shortcut: Option<Conv3d>,
    shortcut_norm: Option<NormLayer>,
}

impl BasicBlock {
    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = relu(self.norm1.forward(crate::cpu::conv(&self.conv1, x.clone())));
        let y = self.norm2.forward(crate::cpu::conv(&self.conv2, y));
        let s = match (&self.shortcut, &self.shortcut_norm) {
            (Some(c), Some(n)) => n.forward(crate::cpu::conv(c, x)),
            _ => x,
        };
        relu(y + s)
    }
}

/// A ResNet classifier; see [`ResNetConfig`].
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv3d,
    stem_norm: NormLayer,
    blocks: Vec<BasicBlock>,
    fc: Linear,
    three: bool,
}

impl ResNet {
    /// Class logits. The stem is a 7×7(×7) stride-2 convolution followed by 2× max pooling
    /// (a 2×2 window instead of He's 3×3, stride 2), then four stages, global average
    /// pooling and a linear layer.
    ///
    /// Shapes: `[b, in, z, y, x]` → `[b, classes]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        let d = if self.three { SpatialDims::D3 } else { SpatialDims::D2 };
        let mut y = max_pool2(relu(self.stem_norm.forward(crate::cpu::conv(&self.stem, x))), d);
        for b in &self.blocks {
            y = b.forward(y);
        }
        self.fc.forward(global_avg_pool(y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_shape() {
        let dev = Device::flex();
        let net =
            ResNetConfig { width: 4, spatial_dims: SpatialDims::D2, num_classes: 3, ..Default::default() }
                .init(&dev);
        assert_eq!(net.forward(Tensor::zeros([2, 1, 1, 32, 32], &dev)).dims(), [2, 3]);
        let net = ResNetConfig { width: 2, depth: ResNetDepth::R34, ..Default::default() }.init(&dev);
        assert_eq!(net.forward(Tensor::zeros([1, 1, 32, 32, 32], &dev)).dims(), [1, 2]);
    }
}
