//! VoxelMorph (Balakrishnan 2019): a U-Net maps (moving, fixed) to a displacement field;
//! a spatial transformer warps the moving image with it. With integration steps it is the
//! diffeomorphic variant (Dalca 2018): the U-Net predicts a stationary velocity field that
//! scaling and squaring turns into the displacement.

use crate::cpu::leaky_relu;
use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{Initializer, PaddingConfig3d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::blocks::Norm;
use super::unet::{UNet, UNetConfig};
use crate::ops::{integrate_velocity, warp, SpatialDims};
use crate::NnError;

/// VoxelMorph configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoxelMorphConfig {
    /// 2-D or 3-D (default 3).
    pub spatial_dims: SpatialDims,
    /// U-Net channels per level (default `[16, 32, 32, 32]`, VoxelMorph's encoder).
    pub unet_channels: Vec<usize>,
    /// Scaling-and-squaring steps; 0 predicts the displacement directly (default 7, Dalca
    /// 2018).
    pub integration_steps: u32,
    /// Normalization in the U-Net (default none, as VoxelMorph).
    pub norm: Norm,
}

impl Default for VoxelMorphConfig {
    fn default() -> Self {
        Self {
            spatial_dims: SpatialDims::D3,
            unet_channels: vec![16, 32, 32, 32],
            integration_steps: 7,
            norm: Norm::None,
        }
    }
}

impl VoxelMorphConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        self.unet().validate()?;
        if self.integration_steps > 16 {
            return Err(NnError::config("model.integration_steps", "must be 0 to 16"));
        }
        Ok(())
    }

    fn unet(&self) -> UNetConfig {
        UNetConfig {
            spatial_dims: self.spatial_dims,
            in_channels: 2,
            out_channels: self.unet_channels.first().copied().unwrap_or(16),
            channels: self.unet_channels.clone(),
            norm: self.norm,
            ..UNetConfig::default()
        }
    }

    /// Builds the network.
    pub fn init(&self, device: &Device) -> VoxelMorph {
        let d = self.spatial_dims;
        let f = self.unet_channels.first().copied().unwrap_or(16);
        let pad = match d {
            SpatialDims::D2 => PaddingConfig3d::Explicit(0, 1, 1),
            SpatialDims::D3 => PaddingConfig3d::Explicit(1, 1, 1),
        };
        // Balakrishnan 2019: the flow layer starts near zero (N(0, 1e-5)) so training
        // begins from the identity.
        let flow = Conv3dConfig::new([f, d.count()], d.kernel(3))
            .with_padding(pad)
            .with_initializer(Initializer::Normal { mean: 0.0, std: 1e-5 })
            .init(device);
        VoxelMorph { unet: self.unet().init(device), flow, steps: self.integration_steps }
    }
}

/// What [`VoxelMorph::forward`] returns.
#[derive(Clone, Debug)]
pub struct VoxelMorphOutput {
    /// The moving image warped onto the fixed one, `[b, c, z, y, x]`.
    pub warped: Tensor<5>,
    /// The displacement in voxels, `[b, k, z, y, x]` (channel 0 = x, 1 = y, 2 = z).
    pub displacement: Tensor<5>,
    /// The velocity field before integration (equal to the displacement without it).
    pub velocity: Tensor<5>,
}

/// VoxelMorph; see [`VoxelMorphConfig`].
#[derive(Module, Debug)]
pub struct VoxelMorph {
    unet: UNet,
    flow: Conv3d,
    steps: u32,
}

impl VoxelMorph {
    /// Registers `moving` to `fixed` (the ITK convention: `warped(p) = moving(p + u(p))`).
    ///
    /// Shapes: `moving`, `fixed` `[b, 1, z, y, x]` → warped `[b, 1, z, y, x]`, displacement
    /// `[b, k, z, y, x]`; extents multiples of 2^(levels−1).
    pub fn forward(&self, moving: Tensor<5>, fixed: Tensor<5>) -> VoxelMorphOutput {
        let h = leaky_relu(self.unet.forward(Tensor::cat(vec![moving.clone(), fixed], 1)), 0.2);
        let velocity = crate::cpu::conv(&self.flow, h);
        let displacement =
            if self.steps > 0 { integrate_velocity(velocity.clone(), self.steps) } else { velocity.clone() };
        VoxelMorphOutput { warped: warp(moving, displacement.clone()), displacement, velocity }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_near_identity() {
        let dev = Device::flex();
        let net = VoxelMorphConfig {
            unet_channels: vec![4, 8],
            spatial_dims: SpatialDims::D2,
            ..Default::default()
        }
        .init(&dev);
        let m = Tensor::random([1, 1, 1, 16, 16], burn::tensor::Distribution::Default, &dev);
        let out = net.forward(m.clone(), m.clone());
        assert_eq!(out.displacement.dims(), [1, 2, 1, 16, 16]);
        let diff: f32 = (out.warped - m).abs().max().into_scalar();
        // Flow weights ~1e-5 give displacements ≪ 0.01 voxel.
        assert!(diff < 1e-2, "{diff}");
    }
}
