//! Integration tests of hounsfield-recon, one binary:
//!
//! - [`conformance`]: every projector × geometry passes the adjoint test and projects a point
//!   where its geometry says.
//! - [`analytic`]: FBP/FDK of exact ellipsoid sinograms against the sampled phantom.
//! - [`skimage`]: a scikit-image `radon` sinogram, read from NIfTI with the minimal geometry
//!   file, reconstructs to the phantom in the same orientation, as well as `iradon` does.
//! - [`iterative`]: SIRT, SART, CGLS, TV behave (residuals fall, TV beats FBP on sparse views,
//!   callbacks stop).
//! - [`pet`]: MLEM/OSEM recover activity, attenuation correction matters.
//! - [`us`]: ultrasound point targets at the predicted resolution, speckle contrast, compounding,
//!   typed errors.
//! - [`mri`]: centred FFT vs numpy, ESPIRiT and `pics` vs BART, SENSE/CS/GRAPPA/radial on
//!   the head phantom, typed errors.

mod analytic;
mod common;
mod conformance;
mod iterative;
mod mri;
mod pet;
mod skimage;
mod us;
