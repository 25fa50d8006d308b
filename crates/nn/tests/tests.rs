//! Integration tests of hounsfield-nn.
//!
//! | module | covers |
//! |---|---|
//! | [`gradients`] | finite-difference checks of the spatial transformer and the losses |
//! | [`geometry`] | inference resamples to the model's spacing and puts outputs back on the input grid |
//! | [`model_files`] | card + weights round trip, checksum, card/weights mismatch, bad input |
//! | [`onnx`] | tract against onnxruntime within 1e-4, unsupported operators named |
//! | [`training`] | tiny trainings for every task on phantom data, reproducibility, resume |

mod common;
mod geometry;
mod gradients;
mod model_files;
mod onnx;
mod training;
