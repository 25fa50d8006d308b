//! The volume ↔ tensor bridge: voxels go into a `[batch, channel, z, y, x]` tensor and the
//! [`Geometry`] stays beside it, so every output tensor is put back on the grid it came from.
//!
//! A [`Volume`] stores x fastest, so its buffer *is* a row-major `[z, y, x]` array: the bridge
//! copies it without permuting. 2-D images (depth 1) become tensors with `z = 1`; every
//! network in this crate takes 5-D tensors and treats `z = 1` as 2-D.

use burn::tensor::{Device, Tensor, TensorData};
use hounsfield_core::{check_alloc, Geometry, Volume};

use crate::NnError;

/// A grid: dimensions (x, y, z) and the geometry that places it in the world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// Voxels along x, y, z.
    pub dims: [usize; 3],
    /// Origin, spacing, direction (LPS, mm).
    pub geometry: Geometry,
}

impl Grid {
    /// The grid of a volume.
    pub fn of<T>(v: &Volume<T>) -> Grid {
        Grid { dims: v.dims(), geometry: *v.geometry() }
    }

    /// Voxel count.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// True when the grid has no voxel (never for a grid taken from a volume).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor's spatial shape `[z, y, x]`.
    pub fn spatial(&self) -> [usize; 3] {
        [self.dims[2], self.dims[1], self.dims[0]]
    }
}

/// A tensor `[batch, channels, z, y, x]` with the grid its spatial axes live on.
#[derive(Clone, Debug)]
pub struct VolumeTensor {
    /// The voxels, shape `[batch, channels, z, y, x]`.
    pub tensor: Tensor<5>,
    /// Where they are.
    pub grid: Grid,
}

impl VolumeTensor {
    /// Stacks same-grid volumes as the channels of one batch item: shape `[1, C, z, y, x]`.
    ///
    /// Errors: no volume, grids that differ, a non-finite voxel (named by channel and
    /// index), or a size over the memory cap.
    pub fn from_channels(channels: &[&Volume<f32>], device: &Device) -> Result<Self, NnError> {
        let first = channels.first().ok_or_else(|| NnError::ToTensor { reason: "no volume given".into() })?;
        let grid = Grid::of(first);
        for (c, v) in channels.iter().enumerate().skip(1) {
            if !v.same_grid(first, 1e-6) {
                return Err(NnError::ToTensor {
                    reason: format!(
                        "channel {c} is on another grid (dims {:?} vs {:?}, or origin/spacing/direction differ)",
                        v.dims(),
                        first.dims()
                    ),
                });
            }
        }
        let n = grid.len();
        check_alloc(n as u128 * channels.len() as u128, 4)?;
        let mut data = Vec::with_capacity(n * channels.len());
        for (c, v) in channels.iter().enumerate() {
            if let Some(i) = v.data().iter().position(|x| !x.is_finite()) {
                let [nx, ny, _] = grid.dims;
                return Err(NnError::input(format!(
                    "channel {c} has a non-finite value ({}) at voxel ({}, {}, {})",
                    v.data()[i],
                    i % nx,
                    (i / nx) % ny,
                    i / (nx * ny)
                )));
            }
            data.extend_from_slice(v.data());
        }
        let [z, y, x] = grid.spatial();
        let tensor = Tensor::from_data(TensorData::new(data, [1, channels.len(), z, y, x]), device);
        Ok(VolumeTensor { tensor, grid })
    }

    /// A tensor on `grid`, checking that its spatial shape is the grid's.
    pub fn new(tensor: Tensor<5>, grid: Grid) -> Result<Self, NnError> {
        let d = tensor.dims();
        if [d[2], d[3], d[4]] != grid.spatial() {
            return Err(NnError::ToTensor {
                reason: format!("tensor spatial shape {:?} is not the grid's {:?}", &d[2..], grid.spatial()),
            });
        }
        Ok(VolumeTensor { tensor, grid })
    }

    /// Replaces the voxels by a network output on the same grid (any channel count): the
    /// geometry is carried over.
    pub fn with_tensor(&self, tensor: Tensor<5>) -> Result<Self, NnError> {
        VolumeTensor::new(tensor, self.grid)
    }

    /// The channels of batch item `b`, each a volume on the grid.
    pub fn to_volumes(&self, b: usize) -> Result<Vec<Volume<f32>>, NnError> {
        let [bs, c, ..] = self.tensor.dims();
        if b >= bs {
            return Err(NnError::ToTensor { reason: format!("batch item {b} of {bs}") });
        }
        let item = self.tensor.clone().narrow(0, b, 1);
        let data = tensor_to_vec(item);
        let n = self.grid.len();
        (0..c)
            .map(|ch| {
                Ok(Volume::from_vec(self.grid.dims, self.grid.geometry, data[ch * n..(ch + 1) * n].to_vec())?)
            })
            .collect()
    }
}

/// The values of any float tensor, row-major, as `f32`.
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    // A tensor made by this crate is always f32, and flex converts other float dtypes.
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// A float tensor from a row-major buffer.
pub fn tensor_from_vec<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_voxels_and_geometry() {
        let dev = Device::flex();
        let g = Geometry { origin: [1.0, -2.0, 3.5], spacing: [0.5, 0.7, 2.0], ..Geometry::default() };
        let v = Volume::from_vec([4, 3, 2], g, (0..24).map(|i| i as f32).collect()).unwrap();
        let w = v.map(|x| -x);
        let t = VolumeTensor::from_channels(&[&v, &w], &dev).unwrap();
        assert_eq!(t.tensor.dims(), [1, 2, 2, 3, 4]);
        // Voxel (i=3, j=1, k=1) is tensor element [0, 0, 1, 1, 3].
        let e = t.tensor.clone().narrow(2, 1, 1).narrow(3, 1, 1).narrow(4, 3, 1).narrow(1, 0, 1);
        assert_eq!(tensor_to_vec(e), vec![*v.get(3, 1, 1).unwrap()]);
        let back = t.to_volumes(0).unwrap();
        assert_eq!(back[0].data(), v.data());
        assert_eq!(back[1].data(), w.data());
        assert_eq!(back[1].geometry(), &g);
    }

    #[test]
    fn nan_and_grid_mismatch_are_errors() {
        let dev = Device::flex();
        let mut v = Volume::<f32>::zeros([4, 4, 1], Geometry::default()).unwrap();
        let other = Volume::<f32>::zeros([4, 4, 2], Geometry::default()).unwrap();
        assert!(matches!(VolumeTensor::from_channels(&[&v, &other], &dev), Err(NnError::ToTensor { .. })));
        v.data_mut()[5] = f32::NAN;
        let e = VolumeTensor::from_channels(&[&v], &dev).unwrap_err();
        assert!(e.to_string().contains("(1, 1, 0)"), "{e}");
    }
}
