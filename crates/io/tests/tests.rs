//! Integration tests of hounsfield-io against files and tools nobody here wrote.
//! Needs the sample data and reference tools installed by `scripts/setup.sh`.

mod cfl;
mod common;
mod dicom;
mod dicom_fuzz;
mod dicom_series;
mod dicom_write;
mod fastmri;
mod metaimage;
mod nifti;
mod nifti_peers;
mod nrrd;
mod raster;
mod seg;
mod stl;
