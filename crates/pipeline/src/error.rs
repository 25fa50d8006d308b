//! Errors of pipelines and their steps.

/// Why a pipeline could not be read or run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The TOML is malformed or a step has an invalid field.
    #[error("pipeline file, line {line}: {message}")]
    Parse {
        /// 1-based line in the pipeline file (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A step names a kind that does not exist.
    #[error("pipeline file, line {line}: step `{id}` has unknown kind `{kind}` (known kinds: {known})")]
    UnknownStepKind {
        /// 1-based line of the step.
        line: usize,
        /// The step's id.
        id: String,
        /// The kind given.
        kind: String,
        /// The kinds that exist.
        known: String,
    },
    /// Two steps share an id, or two steps write the same role.
    #[error("pipeline file, line {line}: {message}")]
    Duplicate {
        /// 1-based line of the second occurrence.
        line: usize,
        /// What is duplicated.
        message: String,
    },
    /// A step reads a role that neither the study nor any step provides.
    #[error("step `{step}` needs `{role}`, which no step produces and the study does not have")]
    MissingInput {
        /// The step's id.
        step: String,
        /// The missing role.
        role: String,
    },
    /// The steps' inputs and outputs form a cycle.
    #[error("the pipeline's steps form a cycle: {0}")]
    Cycle(String),
    /// A role was looked up that the study does not hold.
    #[error("the study has no {what} `{role}`")]
    MissingRole {
        /// The role.
        role: String,
        /// "image", "label map" or "displacement field".
        what: &'static str,
    },
    /// A step failed while running.
    #[error("step `{id}` ({kind}) failed: {source}")]
    Step {
        /// The step's id.
        id: String,
        /// The step's kind.
        kind: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing the report or an output failed.
    #[error(transparent)]
    Io(#[from] hounsfield_io::IoError),
    /// Invalid volumes or parameters.
    #[error(transparent)]
    Core(#[from] hounsfield_core::CoreError),
}
