//! Residual denoisers: DnCNN (Zhang 2017) and RED-CNN (Chen 2017).

use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig, ConvTranspose3d, ConvTranspose3dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::blocks::{conv, ConvNormAct, Norm};
use crate::ops::SpatialDims;
use crate::NnError;

/// DnCNN configuration (Zhang 2017: depth 17, 64 features, batch norm).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnCnnConfig {
    /// 2-D (the default) or 3-D.
    pub spatial_dims: SpatialDims,
    /// Image channels in and out (default 1).
    pub channels: usize,
    /// Convolution layers (default 17).
    pub depth: usize,
    /// Features per hidden layer (default 64).
    pub features: usize,
    /// Normalization of the hidden layers (default batch).
    pub norm: Norm,
}

impl Default for DnCnnConfig {
    fn default() -> Self {
        Self { spatial_dims: SpatialDims::D2, channels: 1, depth: 17, features: 64, norm: Norm::Batch }
    }
}

impl DnCnnConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.channels == 0 || self.features == 0 {
            return Err(NnError::config("model.channels/features", "must be at least 1"));
        }
        if !(3..=64).contains(&self.depth) {
            return Err(NnError::config("model.depth", "must be 3 to 64"));
        }
        Ok(())
    }

    /// Builds the network.
    pub fn init(&self, device: &Device) -> DnCnn {
        let d = self.spatial_dims;
        let f = self.features;
        let first = ConvNormAct::new(d, self.channels, f, 3, 1, Norm::None, true, device);
        let hidden =
            (0..self.depth - 2).map(|_| ConvNormAct::new(d, f, f, 3, 1, self.norm, true, device)).collect();
        DnCnn { first, hidden, last: conv(d, f, self.channels, 3, 1, true, device) }
    }
}

/// DnCNN: predicts the noise and subtracts it (residual learning).
#[derive(Module, Debug)]
pub struct DnCnn {
    pub(crate) first: ConvNormAct,
    pub(crate) hidden: Vec<ConvNormAct>,
    pub(crate) last: Conv3d,
}

impl DnCnn {
    /// The denoised image `x − noise(x)`.
    ///
    /// Shapes: `[b, c, z, y, x]` → same.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        // ReLU (not leaky) as Zhang 2017; ConvNormAct's slope 0.01 is close enough and keeps
        // one block type.
        let mut y = self.first.forward(x.clone());
        for h in &self.hidden {
            y = h.forward(y);
        }
        x - crate::cpu::conv(&self.last, y)
    }
}

/// RED-CNN configuration (Chen 2017: 5 + 5 layers, 96 features, 5×5 kernels, no padding).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedCnnConfig {
    /// 2-D (the default) or 3-D.
    pub spatial_dims: SpatialDims,
    /// Image channels in and out (default 1).
    pub channels: usize,
    /// Encoder layers (= decoder layers; default 5).
    pub layers: usize,
    /// Features (default 96).
    pub features: usize,
}

impl Default for RedCnnConfig {
    fn default() -> Self {
        Self { spatial_dims: SpatialDims::D2, channels: 1, layers: 5, features: 96 }
    }
}

impl RedCnnConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.channels == 0 || self.features == 0 {
            return Err(NnError::config("model.channels/features", "must be at least 1"));
        }
        if !(1..=16).contains(&self.layers) {
            return Err(NnError::config("model.layers", "must be 1 to 16"));
        }
        Ok(())
    }

    /// Builds the network.
    pub fn init(&self, device: &Device) -> RedCnn {
        let k = self.spatial_dims.kernel(5);
        let f = self.features;
        let encoder = (0..self.layers)
            .map(|i| Conv3dConfig::new([if i == 0 { self.channels } else { f }, f], k).init(device))
            .collect();
        let decoder = (0..self.layers)
            .map(|i| {
                ConvTranspose3dConfig::new([f, if i + 1 == self.layers { self.channels } else { f }], k)
                    .init(device)
            })
            .collect();
        RedCnn { encoder, decoder }
    }
}

/// RED-CNN: valid 5×5 convolutions down, transposed convolutions up, with symmetric
/// shortcuts every second layer and from the input to the output.
#[derive(Module, Debug)]
pub struct RedCnn {
    encoder: Vec<Conv3d>,
    decoder: Vec<ConvTranspose3d>,
}

impl RedCnn {
    /// The denoised image. Unlike Chen 2017 there is no ReLU after the last addition, so
    /// normalized (negative) intensities survive.
    ///
    /// Shapes: `[b, c, z, y, x]` → same; each extent must exceed 4 · layers (z too for 3-D).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let n = self.encoder.len();
        let mut feats = vec![x.clone()];
        let mut y = x;
        for c in &self.encoder {
            y = relu(crate::cpu::conv(c, y));
            feats.push(y.clone());
        }
        for (i, d) in self.decoder.iter().enumerate() {
            y = d.forward(y);
            // Decoder layer i mirrors encoder output n-1-i; add its input every second layer.
            let mirror = n - 1 - i;
            if mirror % 2 == 0 {
                y = y + feats[mirror].clone();
            }
            if i + 1 < n {
                y = relu(y);
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denoisers_keep_the_shape() {
        let dev = Device::flex();
        let x = Tensor::zeros([1, 1, 1, 24, 24], &dev);
        let d = DnCnnConfig { depth: 4, features: 8, ..Default::default() }.init(&dev);
        assert_eq!(d.forward(x.clone()).dims(), [1, 1, 1, 24, 24]);
        let r = RedCnnConfig { features: 8, ..Default::default() }.init(&dev);
        assert_eq!(r.forward(x).dims(), [1, 1, 1, 24, 24]);
    }
}
