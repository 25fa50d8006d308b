//! The models the project ships, embedded in the binary so that the demo, pipelines and
//! `hounsfield segment --method model` find them without any set-up. Each is also a folder
//! under the repository's `models/` (card, weights, the command that trained it); the bytes
//! here are those files, checked against the card's SHA-256 when loaded.

use std::path::Path;

use hounsfield_nn::card::Model;
use hounsfield_nn::infer::OwnedBurnPredictor;
use hounsfield_nn::{Device, NnError};

/// One embedded model: its name (the folder name under `models/`), card text and weights.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinModel {
    /// Name, as pipelines and the CLI spell it.
    pub name: &'static str,
    /// What it does, one line.
    pub summary: &'static str,
    /// `model.toml`.
    pub card: &'static str,
    /// The weights file the card names.
    pub weights: &'static [u8],
}

/// Every embedded model.
pub const BUILTIN: &[BuiltinModel] = &[BuiltinModel {
    name: "torso-organs",
    summary: "3-D U-Net: lungs, heart, aorta, liver, spleen, kidneys, vertebral bodies on CT",
    card: include_str!("../../../models/torso-organs/model.toml"),
    weights: include_bytes!("../../../models/torso-organs/weights.bpk"),
}];

/// The embedded model called `name`.
pub fn builtin(name: &str) -> Option<&'static BuiltinModel> {
    BUILTIN.iter().find(|m| m.name == name)
}

impl BuiltinModel {
    /// Loads it (checksum and architecture checked) as a predictor; its card is
    /// `.model.card`.
    pub fn load(&self) -> Result<OwnedBurnPredictor, NnError> {
        let device = Device::flex();
        let origin = Path::new("<built-in>").join(self.name);
        let model = Model::from_memory(self.card, self.weights, &origin, &device)?;
        Ok(OwnedBurnPredictor { model, device })
    }
}
