//! Studies and pipelines: TOML-defined steps over a study, the built-in demo study, the HTML report.

pub mod demo;
pub mod error;
pub mod figure;
pub mod models;
pub mod pipeline;
pub mod plot;
pub mod report;
pub mod steps;
pub mod study;

pub use error::PipelineError;
pub use pipeline::{Observer, Pipeline, RunOptions, Silent, StepContext};
pub use study::{Figure, ImageKind, Metric, StepRecord, Study, StudyImage, Table};
