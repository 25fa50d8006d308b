//! `Volume<T>`, `LabelVolume`, `Geometry` (origin, spacing, direction; LPS, mm, f64), index↔world, the `Transform` trait, shared error vocabulary. No I/O, no ML.
//!
//! Every image in Hounsfield is a [`Volume`]: voxels stored x-fastest (column, row, slice)
//! plus the [`Geometry`] that places the grid in the patient's world (DICOM/ITK LPS frame,
//! millimetres). A 2-D image is a volume of depth 1. Label maps are [`LabelVolume`]s (`u16`,
//! 0 = background). Readers that do not know the voxel type in advance return an
//! [`AnyVolume`]. A [`Transform`] maps world points to world points; resampling and
//! registration share it.
//!
//! ```
//! use hounsfield_core::{Geometry, Volume};
//!
//! let g = Geometry { origin: [-100.0, -100.0, 50.0], spacing: [0.5, 0.5, 2.0], ..Geometry::default() };
//! let v = Volume::<i16>::zeros([400, 400, 30], g).unwrap();
//! // The centre of voxel (10, 20, 3), in mm (LPS).
//! assert_eq!(v.index_to_world(10.0, 20.0, 3.0), [-95.0, -90.0, 56.0]);
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`geometry`] | [`Geometry`], [`Affine3`] index↔world maps |
//! | [`volume`] | [`Volume`], [`LabelVolume`], [`AnyVolume`], the [`Scalar`] voxel types |
//! | [`field`] | [`DisplacementField`], a dense vector field usable as a [`Transform`] |
//! | [`transform`] | [`Transform`], [`IdentityTransform`], [`AffineTransform`], [`ComposedTransform`] |
//! | [`error`] | [`CoreError`] and the memory cap ([`check_alloc`]) |
//! | [`linalg`] | 3×3 matrix helpers |

pub mod error;
pub mod field;
pub mod geometry;
pub mod linalg;
pub mod transform;
pub mod volume;

pub use error::{check_alloc, checked_voxels, memory_cap, set_memory_cap, CoreError, DEFAULT_MEMORY_CAP};
pub use field::DisplacementField;
pub use geometry::{Affine3, Geometry};
pub use transform::{AffineTransform, ComposedTransform, IdentityTransform, Transform};
pub use volume::{AnyVolume, LabelVolume, Scalar, Volume};
