//! Integration tests of `hounsfield-phantom`, one binary:
//!
//! | module | what it checks |
//! |---|---|
//! | [`shapes`] | rendered label volumes against analytic solid volumes (partial volume included) |
//! | [`shepp_logan`] | region values, orientation, geometry and area/volume integrals of Shepp–Logan |
//! | [`contrast`] | HU and MR intensities per label against the tables, noise statistics, bias |
//! | [`deform`] | forward ∘ inverse = identity, positive Jacobians, warping |
//! | [`anatomy`] | nodules inside the lungs matching their metadata, lesion, grid independence |
//! | [`determinism`] | identical output for a seed, for 1 and 2 threads |
//! | [`dataset`] | every task's files, manifest and ground-truth conventions |
//! | [`peers`] | the 2-D Shepp–Logan against scikit-image's, pixel for pixel |

mod anatomy;
mod common;
mod contrast;
mod dataset;
mod deform;
mod determinism;
mod peers;
mod shapes;
mod shepp_logan;
