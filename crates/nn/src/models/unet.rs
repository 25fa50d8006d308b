//! U-Net (Ronneberger 2015) in 2-D and 3-D (Çiçek 2016), configured as nnU-Net does
//! (Isensee 2021): strided-convolution down-sampling, instance norm, leaky ReLU, optional
//! residual units and deep supervision.

use crate::cpu::leaky_relu;
use burn::module::Module;
use burn::nn::conv::{Conv3d, ConvTranspose3d, ConvTranspose3dConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::blocks::{conv, ConvNormAct, Norm};
use crate::ops::{upsample2_linear, SpatialDims};
use crate::NnError;

/// How the decoder doubles the resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upsampling {
    /// A learned 2×2(×2) transposed convolution with stride 2 (the default, nnU-Net).
    #[default]
    TransposedConv,
    /// Bilinear/trilinear interpolation followed by a 1×1 convolution (no checkerboard
    /// artefacts).
    Linear,
}

/// The unit at each level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// `convs_per_level` convolutions in a row (the default).
    #[default]
    Plain,
    /// The same convolutions with an identity (or 1×1 projection) shortcut (He 2016).
    Residual,
}

/// Which outputs training sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Supervision {
    /// Only the full-resolution output (the default).
    #[default]
    Final,
    /// Also a 1×1 head at every coarser decoder level (nnU-Net deep supervision); inference
    /// still uses only the full-resolution one.
    Deep,
}

/// U-Net configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UNetConfig {
    /// 2-D or 3-D (default 3).
    pub spatial_dims: SpatialDims,
    /// Input channels (default 1).
    pub in_channels: usize,
    /// Output channels: classes for segmentation (default 2).
    pub out_channels: usize,
    /// Feature channels per level, finest first; the depth is its length and every level
    /// below the first halves the resolution with a stride-2 convolution (default
    /// `[16, 32, 64, 128]`).
    pub channels: Vec<usize>,
    /// Convolutions per level (default 2).
    pub convs_per_level: usize,
    /// Plain or residual units (default plain).
    pub unit: Unit,
    /// Normalization (default instance).
    pub norm: Norm,
    /// Decoder up-sampling (default transposed convolution).
    pub upsampling: Upsampling,
    /// Deep supervision (default off).
    pub supervision: Supervision,
}

impl Default for UNetConfig {
    fn default() -> Self {
        Self {
            spatial_dims: SpatialDims::D3,
            in_channels: 1,
            out_channels: 2,
            channels: vec![16, 32, 64, 128],
            convs_per_level: 2,
            unit: Unit::Plain,
            norm: Norm::Instance,
            upsampling: Upsampling::TransposedConv,
            supervision: Supervision::Final,
        }
    }
}

impl UNetConfig {
    /// A config with these channels per level and defaults otherwise.
    pub fn new(
        spatial_dims: SpatialDims,
        in_channels: usize,
        out_channels: usize,
        channels: Vec<usize>,
    ) -> Self {
        Self { spatial_dims, in_channels, out_channels, channels, ..Self::default() }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.in_channels == 0 || self.out_channels == 0 {
            return Err(NnError::config("model.in_channels/out_channels", "must be at least 1"));
        }
        if self.channels.is_empty() || self.channels.len() > 8 {
            return Err(NnError::config("model.channels", "needs 1 to 8 levels"));
        }
        if self.channels.iter().any(|&c| c == 0 || c > 4096) {
            return Err(NnError::config("model.channels", "each level needs 1 to 4096 channels"));
        }
        if self.convs_per_level == 0 || self.convs_per_level > 8 {
            return Err(NnError::config("model.convs_per_level", "must be 1 to 8"));
        }
        Ok(())
    }

    /// Builds the network.
    pub fn init(&self, device: &Device) -> UNet {
        let d = self.spatial_dims;
        let n = self.channels.len();
        let residual = self.unit == Unit::Residual;
        let mut encoders = Vec::with_capacity(n);
        let mut cin = self.in_channels;
        for (i, &c) in self.channels.iter().enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            encoders.push(Level::new(d, cin, c, stride, self.convs_per_level, self.norm, residual, device));
            cin = c;
        }
        let mut ups = Vec::new();
        let mut decoders = Vec::new();
        let mut heads = Vec::new();
        for i in (0..n.saturating_sub(1)).rev() {
            let (cfrom, cto) = (self.channels[i + 1], self.channels[i]);
            ups.push(match self.upsampling {
                Upsampling::TransposedConv => Up {
                    transposed: Some(
                        ConvTranspose3dConfig::new([cfrom, cto], d.kernel(2))
                            .with_stride(d.kernel(2))
                            .init(device),
                    ),
                    projection: None,
                    three: d == SpatialDims::D3,
                },
                Upsampling::Linear => Up {
                    transposed: None,
                    projection: Some(conv(d, cfrom, cto, 1, 1, true, device)),
                    three: d == SpatialDims::D3,
                },
            });
            decoders.push(Level::new(d, 2 * cto, cto, 1, self.convs_per_level, self.norm, residual, device));
            if self.supervision == Supervision::Deep || i == 0 {
                heads.push(conv(d, cto, self.out_channels, 1, 1, true, device));
            }
        }
        if n == 1 {
            heads.push(conv(d, self.channels[0], self.out_channels, 1, 1, true, device));
        }
        UNet { encoders, ups, decoders, heads }
    }
}

/// One resolution level: convolutions, optionally with a shortcut.
#[derive(Module, Debug)]
pub struct Level {
    pub(crate) convs: Vec<ConvNormAct>,
    pub(crate) shortcut: Option<Conv3d>,
    pub(crate) residual: bool,
}

impl Level {
    #[allow(clippy::too_many_arguments)]
    fn new(
        d: SpatialDims,
        cin: usize,
        cout: usize,
        stride: usize,
        count: usize,
        norm: Norm,
        residual: bool,
        device: &Device,
    ) -> Self {
        let convs = (0..count)
            .map(|j| {
                let (a, s) = if j == 0 { (cin, stride) } else { (cout, 1) };
                // In a residual unit the last activation comes after the addition.
                ConvNormAct::new(d, a, cout, 3, s, norm, !(residual && j + 1 == count), device)
            })
            .collect();
        let shortcut =
            (residual && (cin != cout || stride != 1)).then(|| conv(d, cin, cout, 1, stride, false, device));
        Level { convs, shortcut, residual }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let mut y = x.clone();
        for c in &self.convs {
            y = c.forward(y);
        }
        if self.residual {
            let s = match &self.shortcut {
                Some(p) => crate::cpu::conv(p, x),
                None => x,
            };
            leaky_relu(y + s, 0.01)
        } else {
            y
        }
    }
}

/// Decoder up-sampling.
#[derive(Module, Debug)]
pub struct Up {
    pub(crate) transposed: Option<ConvTranspose3d>,
    pub(crate) projection: Option<Conv3d>,
    pub(crate) three: bool,
}

impl Up {
    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        if let Some(t) = &self.transposed {
            return t.forward(x);
        }
        let d = if self.three { SpatialDims::D3 } else { SpatialDims::D2 };
        let y = upsample2_linear(x, d);
        match &self.projection {
            Some(p) => crate::cpu::conv(p, y),
            None => y,
        }
    }
}

/// A U-Net; see [`UNetConfig`].
#[derive(Module, Debug)]
pub struct UNet {
    pub(crate) encoders: Vec<Level>,
    pub(crate) ups: Vec<Up>,
    pub(crate) decoders: Vec<Level>,
    pub(crate) heads: Vec<Conv3d>,
}

impl UNet {
    /// Full-resolution logits.
    ///
    /// Shapes: `[b, in, z, y, x]` → `[b, out, z, y, x]`; every spatial extent (except z = 1
    /// for 2-D) must be a multiple of 2^(levels−1).
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let (feature, _) = self.decode(x, false);
        let head = self.heads.last().map(|h| crate::cpu::conv(h, feature.clone()));
        head.unwrap_or(feature)
    }

    /// Every supervised output, full resolution first, then each coarser decoder level
    /// (only the first when supervision is `final`).
    ///
    /// Shapes: `[b, in, z, y, x]` → `[b, out, z/2^l, y/2^l, x/2^l]` for l = 0, 1, …
    pub fn forward_deep(&self, x: Tensor<5>) -> Vec<Tensor<5>> {
        let (last, mut coarse) = self.decode(x, true);
        let mut outs = Vec::new();
        if let Some(h) = self.heads.last() {
            outs.push(crate::cpu::conv(h, last));
        }
        // heads[..len-1] belong to coarser levels, coarsest first.
        coarse.reverse();
        for (h, f) in self.heads.iter().rev().skip(1).zip(coarse) {
            outs.push(crate::cpu::conv(h, f));
        }
        outs
    }

    fn decode(&self, x: Tensor<5>, keep: bool) -> (Tensor<5>, Vec<Tensor<5>>) {
        let mut skips = Vec::with_capacity(self.encoders.len());
        let mut y = x;
        for e in &self.encoders {
            y = e.forward(y);
            skips.push(y.clone());
        }
        skips.pop();
        let mut coarse = Vec::new();
        let n = self.ups.len();
        for (j, (up, dec)) in self.ups.iter().zip(&self.decoders).enumerate() {
            let skip = skips.pop().unwrap_or_else(|| y.clone());
            let u = up.forward(y);
            y = dec.forward(Tensor::cat(vec![u, skip], 1));
            if keep && j + 1 < n {
                coarse.push(y.clone());
            }
        }
        (y, coarse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_2d_3d_and_deep_supervision() {
        let dev = Device::flex();
        let c = UNetConfig {
            channels: vec![4, 8, 16],
            unit: Unit::Residual,
            upsampling: Upsampling::Linear,
            supervision: Supervision::Deep,
            out_channels: 3,
            ..UNetConfig::default()
        };
        let net = c.init(&dev);
        let y = net.forward(Tensor::zeros([1, 1, 8, 16, 8], &dev));
        assert_eq!(y.dims(), [1, 3, 8, 16, 8]);
        let deep = net.forward_deep(Tensor::zeros([1, 1, 8, 16, 8], &dev));
        assert_eq!(
            deep.iter().map(|t| t.dims()).collect::<Vec<_>>(),
            vec![[1, 3, 8, 16, 8], [1, 3, 4, 8, 4]]
        );
        let c2 = UNetConfig { spatial_dims: SpatialDims::D2, norm: Norm::Batch, ..c };
        let y = c2.init(&dev).forward(Tensor::zeros([2, 1, 1, 16, 16], &dev));
        assert_eq!(y.dims(), [2, 3, 1, 16, 16]);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        assert!(UNetConfig { channels: vec![], ..Default::default() }.validate().is_err());
        assert!(UNetConfig { in_channels: 0, ..Default::default() }.validate().is_err());
    }
}
