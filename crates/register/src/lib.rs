//! Registration: transforms, similarity metrics, optimizers, rigid/affine, B-spline, diffeomorphic, learned.

pub mod apply;
pub mod diffeo;
mod engine;
pub mod error;
pub mod image;
pub mod metric;
pub mod optimizer;
pub mod parametric;
pub mod quality;
pub mod registration;
pub mod transform;

pub use error::RegisterError;
pub use registration::{register, Masks, Progress, Registration, RegistrationOptions, TransformType};
