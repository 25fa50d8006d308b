//! Integration tests of hounsfield-metrics against reference tools (scikit-image, MONAI).
//! Needs the reference Python installed by `scripts/setup.sh`.

mod common;
mod image;
mod segmentation;
