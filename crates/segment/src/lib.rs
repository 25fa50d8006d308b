//! Segmentation: classical, atlas-based, deep; post-processing; label statistics.
//!
//! Every function takes volumes with their geometry and returns masks (`Volume<u8>`, 0/1) or
//! label maps ([`LabelVolume`](hounsfield_core::LabelVolume)) on the input's grid.
//!
//! | module | methods |
//! |---|---|
//! | [`threshold`] | fixed ranges, CT presets (air, lung, fat, soft tissue, bone), Otsu, multi-Otsu (scikit-image's definitions) |
//! | [`region`] | seeded region growing: confidence connected (ITK's definition) |
//! | [`watershed`] | marker-based watershed (scikit-image's flooding order) |
//! | [`ct`] | classical CT body and lung segmentation |
//! | [`brain`] | MR brain tissue (CSF, GM, WM): Gaussian mixture + Potts MRF (FAST/Atropos-like) |
//! | [`atlas`] | atlas registration and label propagation; majority and locally weighted voting |
//! | [`stats`] | per-label volume (mL) and intensity statistics |
//!
//! Deep segmentation runs trained models through `hounsfield-nn` (`hounsfield segment
//! --method model`); connected components, hole filling and morphology for post-processing
//! live in `hounsfield-imgproc`.
//!
//! ```
//! use hounsfield_core::{Geometry, Volume};
//! use hounsfield_segment::threshold::{classify, otsu};
//!
//! let img = Volume::from_vec([4, 1, 1], Geometry::default(), vec![0.0f32, 0.0, 9.0, 10.0]).unwrap();
//! let t = otsu(&img, 256, None).unwrap(); // foreground is v > t
//! assert!(t > 0.0 && t < 9.0);
//! let classes = classify(&img, &[t]).unwrap();
//! assert_eq!(classes.data(), &[0, 0, 1, 1]);
//! ```

pub mod atlas;
pub mod brain;
pub mod ct;
mod error;
pub mod region;
pub mod stats;
pub mod threshold;
pub mod watershed;

pub use error::SegmentError;

/// The face neighbours (6-connectivity) of voxel `o` = `(i, j, k)` on a grid of `dims`, in the
/// order −z, −y, −x, +x, +y, +z (scikit-image's raveled-offset order), `None` off the grid.
#[inline]
pub(crate) fn face_neighbours(
    o: usize,
    [i, j, k]: [usize; 3],
    [nx, ny, nz]: [usize; 3],
) -> [Option<usize>; 6] {
    let plane = nx * ny;
    [
        (k > 0).then(|| o - plane),
        (j > 0).then(|| o - nx),
        (i > 0).then(|| o - 1),
        (i + 1 < nx).then(|| o + 1),
        (j + 1 < ny).then(|| o + nx),
        (k + 1 < nz).then(|| o + plane),
    ]
}
