//! MRI reconstruction (stub header; replaced below).

pub mod array;
pub mod coils;
pub mod cs;
pub mod espirit;
pub mod fft;
pub mod sampling;
pub mod sense;
pub mod wavelet;

pub use array::{centred_geometry, CoilArray, Mask};
pub use fft::{CenteredFft, Direction};
pub use rustfft::num_complex::Complex32;
