//! End-to-end tests of the `hounsfield` binary.

mod common;
mod demo;
mod errors;
mod io;
mod mri;
mod nn;
mod phantom;
mod recon;
mod register;
mod segment;
mod us;
