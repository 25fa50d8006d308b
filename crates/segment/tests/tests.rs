//! Integration tests of hounsfield-segment: phantoms with known labels, and scikit-image and
//! SimpleITK run on the same arrays (reference Python from `scripts/setup.sh`).

mod classical;
mod common;
