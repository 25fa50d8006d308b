//! The step kinds a pipeline file can name. Each is a struct read from the step's TOML table
//! (unknown fields are errors) that implements [`Step`].
//!
//! | kind | reads | writes | does |
//! |---|---|---|---|
//! | `load` | a file | `image` (and/or `labels`) | reads any supported image |
//! | `save` | `role` | a file | writes an image or label map (format by extension) |
//! | `label-stats` | `image`, `labels` | — | volume (mL) and intensity statistics per label |
//! | `phantom` | — | `image` (and `labels`) | seeded torso CT or head MR phantom with ground truth |
//! | `smooth` | `input` | `output` | Gaussian smoothing, σ in mm |
//! | `deform` | `image` (and `labels`) | `output` (and `output_labels`), `field` | random diffeomorphic deformation with its exact field |
//! | `ct-recon` | `input` (HU) | `<output>_fbp`, `_fbp_low`, `_tv_low`, `_drr` | fan-beam CT at full and low dose, FBP and TV, scores, DRR |
//! | `mri-recon` | `input` (MR) | `<output>_full`, `_zero_filled`, `_sense`, `_cs` | 8-coil k-space of a slice, 4× Poisson-disc undersampling, zero-filled, CG-SENSE and l1-wavelet CS with ESPIRiT maps, PSNR/SSIM |
//! | `segment` | `image` (and `truth`) | `output` | CT body and lungs, MR brain tissue (atlas mask), Otsu, multi-Otsu, a trained model (built-in or folder; card modality checked); Dice/HD95/ASSD against `truth_groups` |
//! | `ultrasound` | — | `<output>_single`, `_compound`, `_cf` | simulated plane-wave acquisition of the cyst and point phantoms; DAS from 1 angle, compounded, with coherence factor; CR, CNR, speckle SNR, FWHM |
//! | `register` | `fixed`, `moving` (and labels, `truth_field`) | `output` (and `output_labels`) | rigid/affine/B-spline/SyN registration; TRE against a known field, Dice, folding |

mod io_steps;
mod phantom;
mod process;
mod recon;
mod register;
mod segment;
mod stats;
mod us;

use std::error::Error;

use crate::pipeline::StepContext;
use crate::study::Study;

/// The error type steps return (wrapped with the step's id by the pipeline).
pub type StepError = Box<dyn Error + Send + Sync>;

/// One typed pipeline step.
pub trait Step: std::fmt::Debug + Send + Sync {
    /// The kind name used in pipeline files.
    fn kind(&self) -> &'static str;
    /// Roles read.
    fn inputs(&self) -> Vec<String>;
    /// Roles written.
    fn outputs(&self) -> Vec<String>;
    /// Runs the step.
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError>;
}

/// Every step kind, as pipeline files name them.
pub const KINDS: &[&str] = &[
    "load",
    "save",
    "label-stats",
    "phantom",
    "smooth",
    "deform",
    "ct-recon",
    "mri-recon",
    "register",
    "segment",
    "ultrasound",
];

fn typed<T: Step + serde::de::DeserializeOwned + 'static>(
    table: toml::Table,
) -> Result<Box<dyn Step>, String> {
    toml::Value::Table(table).try_into::<T>().map(|s| Box::new(s) as Box<dyn Step>).map_err(|e| e.to_string())
}

/// Builds the step of `kind` from its table (without `id` and `kind`). `None` when the kind
/// does not exist.
pub fn parse(kind: &str, table: toml::Table) -> Option<Result<Box<dyn Step>, String>> {
    Some(match kind {
        "load" => typed::<io_steps::Load>(table),
        "save" => typed::<io_steps::Save>(table),
        "label-stats" => typed::<stats::LabelStats>(table),
        "phantom" => typed::<phantom::PhantomStep>(table),
        "smooth" => typed::<process::Smooth>(table),
        "deform" => typed::<process::Deform>(table),
        "ct-recon" => typed::<recon::CtRecon>(table),
        "mri-recon" => typed::<recon::MriRecon>(table),
        "register" => typed::<register::RegisterStep>(table),
        "segment" => typed::<segment::SegmentStep>(table),
        "ultrasound" => typed::<us::Ultrasound>(table),
        _ => return None,
    })
}

/// A step error from a message.
pub(crate) fn fail(msg: impl Into<String>) -> StepError {
    msg.into().into()
}
