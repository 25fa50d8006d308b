//! End-to-end tests of the `hounsfield` binary.

mod common;
mod demo;
mod errors;
mod io;
mod phantom;
mod recon;
