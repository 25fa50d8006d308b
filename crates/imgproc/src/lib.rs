//! Geometry-aware image operations: resampling and interpolation, Gaussian/gradient filters, intensity transforms, morphology, connected components, distance transforms.

pub mod components;
pub mod distance;
pub mod error;
pub mod filter;
pub mod grid;
pub mod intensity;
pub mod interpolate;
mod lines;
pub mod morphology;
pub mod resample;

pub use error::ImgprocError;

/// An index axis of a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Index axis 0 (columns; fastest in memory).
    X,
    /// Index axis 1 (rows).
    Y,
    /// Index axis 2 (slices).
    Z,
}

impl Axis {
    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        match self {
            Axis::X => 0,
            Axis::Y => 1,
            Axis::Z => 2,
        }
    }
}
