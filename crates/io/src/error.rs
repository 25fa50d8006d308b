//! The crate's error type: one variant per format, each wrapping that format's own error.

use std::path::PathBuf;

use crate::{
    dicom::DicomError, fastmri::FastMriError, metaimage::MetaImageError, nifti::NiftiError, nrrd::NrrdError,
    raster::RasterError, seg::SegError, stl::StlError,
};

/// Any error from reading or writing an image file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A DICOM file or series could not be read or written.
    #[error(transparent)]
    Dicom(#[from] DicomError),
    /// A NIfTI file could not be read or written.
    #[error(transparent)]
    Nifti(#[from] NiftiError),
    /// An NRRD file could not be read or written.
    #[error(transparent)]
    Nrrd(#[from] NrrdError),
    /// A MetaImage file could not be read or written.
    #[error(transparent)]
    MetaImage(#[from] MetaImageError),
    /// A fastMRI / ISMRMRD HDF5 k-space file could not be read.
    #[error(transparent)]
    FastMri(#[from] FastMriError),
    /// A PNG/JPEG file could not be read or written.
    #[error(transparent)]
    Raster(#[from] RasterError),
    /// A DICOM SEG could not be written.
    #[error(transparent)]
    Seg(#[from] SegError),
    /// An STL file could not be written.
    #[error(transparent)]
    Stl(#[from] StlError),
    /// The path's format could not be recognised from its extension or content.
    #[error("unrecognised image format (supported: DICOM, .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, .png, .jpg): {}", .0.display())]
    UnknownFormat(PathBuf),
    /// The format can be read but not written (or the reverse).
    #[error("{format} cannot be {what} here: {}", .path.display())]
    Unsupported {
        /// Format name.
        format: &'static str,
        /// "read" or "written".
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{op} failed: {source}: {}", .path.display())]
    Fs {
        /// What was being done ("open", "create", …).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A volume that cannot be stored in the chosen format (type, shape, geometry).
    #[error(transparent)]
    Core(#[from] hounsfield_core::CoreError),
}
