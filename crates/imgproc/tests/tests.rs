//! Integration tests of hounsfield-imgproc against tools nobody here wrote: scipy, numpy and
//! SimpleITK, run through the reference Python that `scripts/setup.sh` installs
//! (HOUNSFIELD_PYTHON). Every comparison uses the same 40×37×23 grid with anisotropic
//! spacing and an oblique direction (`common::test_geometry`).
//!
//! | module | compares with |
//! |---|---|
//! | `distance` | `scipy.ndimage.distance_transform_edt(sampling=…)` |
//! | `resample` | SimpleITK `ResampleImageFilter` (nearest, linear, B-spline; affine transform) |
//! | `filter` | `scipy.ndimage.gaussian_filter`, SimpleITK `SmoothingRecursiveGaussian`, `GradientMagnitude`, `Gradient` |
//! | `components` | SimpleITK `ConnectedComponent` + `RelabelComponent`, `scipy.ndimage.label` |
//! | `morphology` | `scipy.ndimage.binary_dilation`/`binary_erosion`/`binary_fill_holes` |
//! | `intensity` | `numpy.nanpercentile`, `numpy.histogram`, numpy mean/std |
//! | `grid` | SimpleITK `DICOMOrient` |
//! | `mesh` | scikit-image `measure.marching_cubes` (area, triangle count) |

mod common;

mod components;
mod distance;
mod filter;
mod grid;
mod intensity;
mod mesh;
mod morphology;
mod resample;
