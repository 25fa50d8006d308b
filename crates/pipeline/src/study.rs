//! A `Study`: the images, label maps and results a pipeline reads and writes, by role name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use hounsfield_core::{DisplacementField, LabelVolume, Volume};

use crate::error::PipelineError;

/// What an image shows, which decides its default display window and which steps accept it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// CT in Hounsfield units (default window: soft tissue, W 400 / L 40).
    Ct,
    /// MR, unitless (default window: 1st–99th percentile).
    Mr,
    /// Anything else (default window: 1st–99th percentile).
    #[default]
    Other,
}

/// An image of a study with what it shows.
#[derive(Clone, Debug)]
pub struct StudyImage {
    /// Voxels (f32) and geometry.
    pub volume: Volume<f32>,
    /// CT, MR or other.
    pub kind: ImageKind,
}

/// A table in a step's results.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Table {
    /// Title shown above the table.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells, already formatted.
    pub rows: Vec<Vec<String>>,
}

/// A figure in a step's results.
#[derive(Clone, Debug)]
pub enum Figure {
    /// A PNG image (a slice with overlay, a radiograph).
    Png {
        /// Caption.
        title: String,
        /// Encoded PNG bytes.
        png: Vec<u8>,
    },
    /// An SVG plot (made with plotters).
    Svg {
        /// Caption.
        title: String,
        /// SVG document.
        svg: String,
    },
}

/// One named number a step measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Metric {
    /// Name, e.g. `dice_liver`.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit, e.g. `mm`, `HU`, `dB`, or empty.
    pub unit: String,
}

/// What one step did: timings, metrics, tables, figures and files.
#[derive(Clone, Debug, Default)]
pub struct StepRecord {
    /// The step's id.
    pub id: String,
    /// The step's kind (`phantom`, `smooth`, …).
    pub kind: String,
    /// One-line description of what the step did.
    pub summary: String,
    /// Wall time.
    pub duration: Duration,
    /// Roles the step read.
    pub inputs: Vec<String>,
    /// Roles the step wrote.
    pub outputs: Vec<String>,
    /// Measured numbers.
    pub metrics: Vec<Metric>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Figures.
    pub figures: Vec<Figure>,
    /// Files written (relative to the output folder when inside it).
    pub files: Vec<PathBuf>,
}

impl StepRecord {
    /// Adds a metric.
    pub fn metric(&mut self, name: impl Into<String>, value: f64, unit: impl Into<String>) {
        self.metrics.push(Metric { name: name.into(), value, unit: unit.into() });
    }
}

/// Images, label maps, displacement fields and step records, by role name.
#[derive(Debug, Default)]
pub struct Study {
    images: BTreeMap<String, StudyImage>,
    labels: BTreeMap<String, LabelVolume>,
    fields: BTreeMap<String, DisplacementField>,
    /// What each executed step did, in execution order.
    pub records: Vec<StepRecord>,
}

impl Study {
    /// An empty study.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an image.
    pub fn insert_image(&mut self, role: impl Into<String>, image: StudyImage) {
        self.images.insert(role.into(), image);
    }

    /// Adds or replaces a label map.
    pub fn insert_labels(&mut self, role: impl Into<String>, labels: LabelVolume) {
        self.labels.insert(role.into(), labels);
    }

    /// Adds or replaces a displacement field.
    pub fn insert_field(&mut self, role: impl Into<String>, field: DisplacementField) {
        self.fields.insert(role.into(), field);
    }

    /// The image of a role.
    pub fn image(&self, role: &str) -> Result<&StudyImage, PipelineError> {
        self.images.get(role).ok_or_else(|| PipelineError::MissingRole { role: role.into(), what: "image" })
    }

    /// The label map of a role.
    pub fn labels(&self, role: &str) -> Result<&LabelVolume, PipelineError> {
        self.labels
            .get(role)
            .ok_or_else(|| PipelineError::MissingRole { role: role.into(), what: "label map" })
    }

    /// The displacement field of a role.
    pub fn field(&self, role: &str) -> Result<&DisplacementField, PipelineError> {
        self.fields
            .get(role)
            .ok_or_else(|| PipelineError::MissingRole { role: role.into(), what: "displacement field" })
    }

    /// True when any image, label map or field has this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.images.contains_key(role) || self.labels.contains_key(role) || self.fields.contains_key(role)
    }

    /// Image roles, sorted.
    pub fn image_roles(&self) -> impl Iterator<Item = &str> {
        self.images.keys().map(String::as_str)
    }

    /// Label roles, sorted.
    pub fn label_roles(&self) -> impl Iterator<Item = &str> {
        self.labels.keys().map(String::as_str)
    }
}
