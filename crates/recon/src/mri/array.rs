//! The multi-coil data model: [`CoilArray`] (k-space, coil images, sensitivity maps) and the
//! Cartesian sampling [`Mask`].
//!
//! Every array is x-fastest like a [`Volume`]: sample `(x, y, z)` of coil `c` sits at
//! `x + nx·(y + ny·(z + nz·c))`, the layout of BART's first four dimensions (read-out,
//! phase 1, phase 2, coil), so a `.cfl` file maps onto it without reordering.
//!
//! **K-space axes.** A k-space array of `nx × ny × nz` samples corresponds to an image grid of
//! the same dimensions; its [`CoilArray::geometry`] *is that image grid* (origin, spacing,
//! direction; LPS, mm). Sample index `i` along axis `a` is the spatial frequency
//! `(i − n_a/2) / (n_a · spacing_a)` cycles/mm along the image's index axis `a`: index `n/2`
//! is DC, the convention of the centred FFT ([`super::fft`]) and of BART and fastMRI.

use hounsfield_core::{check_alloc, CoreError, Geometry, Volume};
use rustfft::num_complex::Complex32;

use crate::error::{invalid, ReconError};

/// A stack of complex 3-D grids, one per coil: k-space, coil images or sensitivity maps.
///
/// `dims` is `[nx, ny, nz, coils]`; storage is x-fastest, coil slowest. The geometry is the
/// image grid the array corresponds to (for k-space: the grid its inverse FFT lands on).
#[derive(Clone, Debug, PartialEq)]
pub struct CoilArray {
    dims: [usize; 4],
    geometry: Geometry,
    data: Vec<Complex32>,
}

impl CoilArray {
    /// An all-zero array (size checked against the memory cap).
    pub fn zeros(dims: [usize; 4], geometry: Geometry) -> Result<Self, ReconError> {
        let n = checked_len(dims)?;
        Ok(Self { dims, geometry, data: vec![Complex32::default(); n] })
    }

    /// Wraps `data` (x-fastest, coil slowest). Fails when the length does not match `dims`.
    pub fn from_vec(dims: [usize; 4], geometry: Geometry, data: Vec<Complex32>) -> Result<Self, ReconError> {
        let n = checked_len(dims)?;
        if n != data.len() {
            return Err(ReconError::BufferLength { what: "coil array", len: data.len(), expected: n });
        }
        Ok(Self { dims, geometry, data })
    }

    /// Wraps an array read from a BART `.cfl`: dimensions 0–2 are the grid, 3 the coils; any
    /// other dimension must be 1 (ESPIRiT maps beyond the first are refused: use `bart slice`).
    pub fn from_bart(dims: &[usize], data: Vec<[f32; 2]>, geometry: Geometry) -> Result<Self, ReconError> {
        if let Some((i, &d)) = dims.iter().enumerate().skip(4).find(|(_, &d)| d != 1) {
            return Err(invalid(
                "cfl dimensions",
                format!("dimension {i} has size {d}; only x, y, z and coil (0–3) may exceed 1"),
            ));
        }
        let d = |i: usize| dims.get(i).copied().unwrap_or(1);
        let data = data.into_iter().map(|[re, im]| Complex32::new(re, im)).collect();
        Self::from_vec([d(0), d(1), d(2), d(3)], geometry, data)
    }

    /// The BART view of the array: dimensions `[nx, ny, nz, coils]` and interleaved samples.
    pub fn to_bart(&self) -> (Vec<usize>, Vec<[f32; 2]>) {
        (self.dims.to_vec(), self.data.iter().map(|c| [c.re, c.im]).collect())
    }

    /// `[nx, ny, nz, coils]`.
    pub fn dims(&self) -> [usize; 4] {
        self.dims
    }

    /// `[nx, ny, nz]`: the grid of one coil.
    pub fn grid_dims(&self) -> [usize; 3] {
        [self.dims[0], self.dims[1], self.dims[2]]
    }

    /// Samples of one coil's grid.
    pub fn grid_len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// Number of coils.
    pub fn coils(&self) -> usize {
        self.dims[3]
    }

    /// The image grid the array corresponds to.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Replaces the geometry.
    pub fn set_geometry(&mut self, geometry: Geometry) {
        self.geometry = geometry;
    }

    /// All samples, x-fastest, coil slowest.
    pub fn data(&self) -> &[Complex32] {
        &self.data
    }

    /// Mutable samples.
    pub fn data_mut(&mut self) -> &mut [Complex32] {
        &mut self.data
    }

    /// Consumes the array and returns its samples.
    pub fn into_vec(self) -> Vec<Complex32> {
        self.data
    }

    /// The grid of coil `c` (`None` past the last coil).
    pub fn coil(&self, c: usize) -> Option<&[Complex32]> {
        let n = self.grid_len();
        self.data.get(c * n..(c + 1) * n)
    }

    /// Fails with [`ReconError::NonFiniteInput`] at the first NaN or infinite sample.
    pub fn check_finite(&self, what: &'static str) -> Result<(), ReconError> {
        match self.data.iter().position(|v| !(v.re.is_finite() && v.im.is_finite())) {
            Some(index) => Err(ReconError::NonFiniteInput { what, index }),
            None => Ok(()),
        }
    }

    /// Fails with a grid mismatch unless `other` has the same grid dimensions (`what` names
    /// the two arrays in the message).
    pub fn require_same_grid(&self, other: &CoilArray, what: &str) -> Result<(), ReconError> {
        if self.grid_dims() != other.grid_dims() {
            return Err(CoreError::GridMismatch(format!(
                "{what}: grids of {:?} and {:?} samples differ",
                self.grid_dims(),
                other.grid_dims()
            ))
            .into());
        }
        Ok(())
    }
}

fn checked_len(dims: [usize; 4]) -> Result<usize, ReconError> {
    if dims.contains(&0) {
        return Err(invalid("dimensions", format!("every extent must be at least 1, got {dims:?}")));
    }
    let n = dims.iter().fold(1u128, |a, &d| a.saturating_mul(d as u128));
    Ok(check_alloc(n, std::mem::size_of::<Complex32>())?)
}

/// A Cartesian sampling pattern over the k-space grid `[nx, ny, nz]` (x-fastest): 1 where a
/// sample was acquired, 0 where not. Weights between 0 and 1 are allowed (BART patterns may
/// carry them) and act as data weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    dims: [usize; 3],
    data: Vec<f32>,
}

impl Mask {
    /// Wraps weights (x-fastest). Fails on a length mismatch or a weight outside `[0, 1]`.
    pub fn from_vec(dims: [usize; 3], data: Vec<f32>) -> Result<Self, ReconError> {
        let n = hounsfield_core::checked_voxels(dims, 4)?;
        if n != data.len() {
            return Err(ReconError::BufferLength { what: "mask", len: data.len(), expected: n });
        }
        if let Some(index) = data.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(invalid(
                "mask",
                format!("weight {} at index {index} is outside [0, 1]", data[index]),
            ));
        }
        Ok(Self { dims, data })
    }

    /// A fully sampled pattern.
    pub fn full(dims: [usize; 3]) -> Result<Self, ReconError> {
        let n = hounsfield_core::checked_voxels(dims, 4)?;
        Ok(Self { dims, data: vec![1.0; n] })
    }

    /// `mask` when given, else the pattern of `kspace` ([`Mask::from_kspace`]): how every
    /// reconstruction treats a missing mask.
    pub fn given_or_from<'a>(mask: Option<&'a Mask>, kspace: &CoilArray) -> std::borrow::Cow<'a, Mask> {
        match mask {
            Some(m) => std::borrow::Cow::Borrowed(m),
            None => std::borrow::Cow::Owned(Mask::from_kspace(kspace)),
        }
    }

    /// The pattern of a k-space array: 1 where any coil holds a non-zero sample (what BART's
    /// `estimate_pattern` does when no pattern is given).
    pub fn from_kspace(kspace: &CoilArray) -> Self {
        let n = kspace.grid_len();
        let mut data = vec![0.0f32; n];
        for coil in kspace.data().chunks_exact(n) {
            for (m, v) in data.iter_mut().zip(coil) {
                if v.re != 0.0 || v.im != 0.0 {
                    *m = 1.0;
                }
            }
        }
        Self { dims: kspace.grid_dims(), data }
    }

    /// Reads a BART pattern: a complex array whose magnitude is the weight. A 2-D pattern
    /// stored over dimensions 1 and 2 (`bart poisson`'s layout, `1 × ny × nz`) is taken as is;
    /// transpose it with `bart transpose 0 2` for 2-D k-space of `nx × ny`.
    pub fn from_bart(dims: &[usize], data: &[[f32; 2]]) -> Result<Self, ReconError> {
        if let Some((i, &d)) = dims.iter().enumerate().skip(3).find(|(_, &d)| d != 1) {
            return Err(invalid(
                "mask dimensions",
                format!("dimension {i} has size {d}; a mask has 3 dimensions"),
            ));
        }
        let d = |i: usize| dims.get(i).copied().unwrap_or(1);
        Self::from_vec([d(0), d(1), d(2)], data.iter().map(|[re, im]| (re * re + im * im).sqrt()).collect())
    }

    /// `[nx, ny, nz]`.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Weights, x-fastest.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The fraction of the grid that is sampled (sum of weights over the number of points).
    pub fn fraction(&self) -> f64 {
        self.data.iter().map(|&v| v as f64).sum::<f64>() / self.data.len() as f64
    }

    /// Acceleration: points on the grid per sample taken (∞ for an empty mask).
    pub fn acceleration(&self) -> f64 {
        1.0 / self.fraction()
    }

    /// Fails with a grid mismatch unless the mask covers `kspace`'s grid.
    pub fn require_grid(&self, kspace: &CoilArray) -> Result<(), ReconError> {
        if self.dims != kspace.grid_dims() {
            return Err(CoreError::GridMismatch(format!(
                "mask of {:?} does not cover k-space of {:?} samples",
                self.dims,
                kspace.grid_dims()
            ))
            .into());
        }
        Ok(())
    }

    /// The mask as an image (0/1 weights) on `geometry`, for viewing.
    pub fn to_volume(&self, geometry: Geometry) -> Result<Volume<f32>, ReconError> {
        Ok(Volume::from_vec(self.dims, geometry, self.data.clone())?)
    }
}

/// The geometry BART-made data gets: isotropic `spacing` mm, identity direction, and the
/// centre pixel (index `n/2`, the DC pixel of the centred FFT) at the world origin.
pub fn centred_geometry(dims: [usize; 3], spacing: f64) -> Geometry {
    Geometry {
        origin: [0, 1, 2].map(|a| -((dims[a] / 2) as f64) * spacing),
        spacing: [spacing; 3],
        ..Geometry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bart_layout_round_trips() {
        let data: Vec<[f32; 2]> = (0..24).map(|i| [i as f32, 1.0]).collect();
        let a = CoilArray::from_bart(&[2, 3, 1, 4, 1, 1], data.clone(), Geometry::default()).unwrap();
        assert_eq!(a.dims(), [2, 3, 1, 4]);
        assert_eq!(a.coil(1).unwrap()[0], Complex32::new(6.0, 1.0));
        assert_eq!(a.to_bart().1, data);
        assert!(CoilArray::from_bart(&[2, 3, 1, 2, 2], data.clone(), Geometry::default()).is_err());
        assert!(matches!(
            CoilArray::from_bart(&[5, 5], data, Geometry::default()),
            Err(ReconError::BufferLength { .. })
        ));
    }

    #[test]
    fn masks_validate_and_count() {
        assert!(Mask::from_vec([2, 2, 1], vec![1.0, 0.0, 2.0, 0.0]).is_err());
        let m = Mask::from_vec([2, 2, 1], vec![1.0, 0.0, 1.0, 0.0]).unwrap();
        assert_eq!(m.acceleration(), 2.0);
        let mut k = CoilArray::zeros([2, 2, 1, 2], Geometry::default()).unwrap();
        k.data_mut()[4 + 3] = Complex32::new(0.0, 1.0);
        assert_eq!(Mask::from_kspace(&k).data(), &[0.0, 0.0, 0.0, 1.0]);
        assert!(m.require_grid(&CoilArray::zeros([2, 3, 1, 1], Geometry::default()).unwrap()).is_err());
    }

    #[test]
    fn centred_geometry_puts_dc_pixel_at_origin() {
        let g = centred_geometry([256, 255, 1], 0.5);
        let w = g.index_to_world([128.0, 127.0, 0.0]);
        assert_eq!(w, [0.0, 0.0, 0.0]);
    }
}
