//! Applying a transform: images (any interpolation) and label maps (nearest neighbour) are
//! resampled onto a reference grid, `out(x) = moving(T(x))`; point sets are mapped point by
//! point.

use hounsfield_core::linalg::Vec3;
use hounsfield_core::{Geometry, LabelVolume, Scalar, Transform, Volume};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::{resample, resample_labels};

use crate::error::RegisterError;

/// `out(x) = moving(transform(x))` on the grid `dims` × `geometry` (usually the fixed image's),
/// with `interpolation`; points mapped outside the moving image take `default_value`.
pub fn warp_image<T: Scalar>(
    moving: &Volume<T>,
    transform: &dyn Transform,
    dims: [usize; 3],
    geometry: &Geometry,
    interpolation: Interpolation,
    default_value: T,
) -> Result<Volume<T>, RegisterError> {
    Ok(resample(moving, dims, geometry, transform, interpolation, default_value)?)
}

/// A label map carried onto the grid `dims` × `geometry` through `transform` (nearest
/// neighbour, background outside).
pub fn warp_labels(
    labels: &LabelVolume,
    transform: &dyn Transform,
    dims: [usize; 3],
    geometry: &Geometry,
) -> Result<LabelVolume, RegisterError> {
    Ok(resample_labels(labels, dims, geometry, transform, 0)?)
}

/// Maps fixed-space points to moving space.
pub fn transform_points(transform: &dyn Transform, points: &[Vec3]) -> Vec<Vec3> {
    points.iter().map(|p| transform.transform_point(*p)).collect()
}
