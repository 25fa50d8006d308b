//! End-to-end tests of the `hounsfield` binary.

mod common;
mod errors;
mod phantom;
