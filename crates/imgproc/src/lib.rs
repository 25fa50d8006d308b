//! Geometry-aware image operations: resampling and interpolation, Gaussian/gradient filters, intensity transforms, morphology, connected components, distance transforms, surface meshes.
//!
//! Every operation takes a [`Volume`](hounsfield_core::Volume) with its
//! [`Geometry`](hounsfield_core::Geometry) and keeps physical meaning: sigmas, radii and
//! distances are in millimetres (anisotropic spacing honoured), resampling maps world points
//! through a [`Transform`](hounsfield_core::Transform) with ITK's convention, and grid
//! operations (crop, flip, reorient, …) rewrite the geometry so that no voxel moves in the
//! world. Masks are `Volume<u8>` (non-zero = foreground); label maps are
//! [`LabelVolume`](hounsfield_core::LabelVolume)s and only ever resampled with nearest
//! neighbour. Work is spread over rayon's thread pool; errors are [`ImgprocError`].
//!
//! The main types: the [`Interpolator`](interpolate::Interpolator) trait (value and gradient
//! at a continuous index) with its nearest, linear and cubic B-spline implementations, chosen
//! by the [`Interpolation`](interpolate::Interpolation) enum; the
//! [`Connectivity`](components::Connectivity) and [`Axis`] enums; and the
//! [`Components`](components::Components) result of connected-component labelling.
//!
//! ```
//! use hounsfield_core::{AffineTransform, Geometry, Volume};
//! use hounsfield_imgproc::{distance, filter, interpolate::Interpolation, resample};
//!
//! // A 2 × 1 × 3 mm grid with one bright voxel.
//! let g = Geometry { spacing: [2.0, 1.0, 3.0], ..Geometry::default() };
//! let mut v = Volume::<f32>::zeros([20, 20, 10], g)?;
//! *v.get_mut(10, 10, 5).unwrap() = 100.0;
//!
//! // Smooth with σ = 2 mm on every axis (1, 2 and 2/3 voxels).
//! let smooth = filter::gaussian(&v, [2.0; 3])?;
//! assert!(smooth.get(10, 10, 5).unwrap() < &100.0);
//!
//! // Distances in mm from every voxel to the bright one.
//! let mask = v.map(|&x| (x > 0.0) as u8);
//! let d = distance::distance_to_foreground(&mask)?;
//! assert_eq!(*d.get(13, 10, 5).unwrap(), 6.0); // 3 voxels × 2 mm
//!
//! // Shift the image 4 mm towards +x (the transform maps output points to input points).
//! let t = AffineTransform::translation([-4.0, 0.0, 0.0]);
//! let moved = resample::resample(&v, v.dims(), v.geometry(), &t, Interpolation::Linear, 0.0)?;
//! assert_eq!(*moved.get(12, 10, 5).unwrap(), 100.0);
//! # Ok::<(), hounsfield_imgproc::ImgprocError>(())
//! ```
//!
//! | module | operations | notes |
//! |---|---|---|
//! | [`interpolate`] | nearest, linear, cubic B-spline sampling with gradients | half-voxel border as ITK; B-spline prefilter of Unser 1999 |
//! | [`resample`] | `resample`, `resample_with` (any interpolator), `resample_labels`, `resample_to_spacing` | ITK transform convention; affine fast path |
//! | [`filter`] | `gaussian` (σ in mm), `gradient_magnitude`, `gradient` (world frame) | equals scipy `gaussian_filter`; ≈ SimpleITK `SmoothingRecursiveGaussian` |
//! | [`intensity`] | window/level, clip, rescale, z-score, percentiles, histogram | NaN ignored by statistics; numpy definitions |
//! | [`morphology`] | erode, dilate, open, close (ball in voxels), hole filling 3-D and per slice | O(voxels) for any radius |
//! | [`components`] | connected components (6/18/26), largest, small-component removal, mL | sorted by size |
//! | [`distance`] | exact EDT in mm to foreground / background, signed distance | Felzenszwalb & Huttenlocher 2012 |
//! | [`grid`] | crop, pad, flip, permute, extract slice, reorient ("LPS", "RAS", …) | exact; world positions kept |
//! | [`mesh`] | marching-cubes surfaces of masks and label maps (world LPS mm, closed at the border) | Lorensen & Cline 1987, face-consistent ambiguity rule: watertight |
//! | [`speckle`] | speckle-reducing anisotropic diffusion (SRAD) of ultrasound envelopes | Yu & Acton 2002, their discretization |

pub mod components;
pub mod distance;
pub mod error;
pub mod field;
pub mod filter;
pub mod grid;
pub mod intensity;
pub mod interpolate;
mod lines;
pub mod mesh;
pub mod morphology;
pub mod resample;
pub mod speckle;

pub use error::ImgprocError;

/// An index axis of a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Index axis 0 (columns; fastest in memory).
    X,
    /// Index axis 1 (rows).
    Y,
    /// Index axis 2 (slices).
    Z,
}

impl Axis {
    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        match self {
            Axis::X => 0,
            Axis::Y => 1,
            Axis::Z => 2,
        }
    }
}
