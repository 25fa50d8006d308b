//! `segment`: classical segmentation of an image (CT lungs and body, MR brain tissue, Otsu,
//! multi-Otsu), scored against ground-truth labels when given (Dice, HD95, ASSD per label,
//! MONAI's definitions).

use std::collections::BTreeMap;

use hounsfield_core::LabelVolume;
use hounsfield_metrics::segmentation::{evaluate_masks, SegmentationOptions};
use hounsfield_segment::brain::{atlas_brain_mask, brain_tissue, BrainOptions, Weighting};
use hounsfield_segment::ct::{body_and_lungs, CtOptions};
use hounsfield_segment::threshold::{classify, multi_otsu, otsu_mask};

use hounsfield_nn::card::{check_modality, Model};
use hounsfield_nn::infer::{predict_volume, InferenceSpec, OwnedBurnPredictor, Prediction};

use super::{fail, Step, StepError};
use crate::figure::add_views;
use crate::models::builtin;
use crate::pipeline::StepContext;
use crate::study::{ImageKind, Study, Table};

/// Methods as pipeline files spell them.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentMethod {
    /// CT body (1) and lungs (2).
    CtLungs,
    /// MR brain tissue (1 CSF, 2 GM, 3 WM) inside an atlas-derived intracranial mask.
    Brain,
    /// Otsu's threshold (1 above).
    Otsu,
    /// Three-class multi-Otsu (0, 1, 2).
    MultiOtsu,
    /// A trained model (`model`: a built-in name or a model folder), its card's label ids.
    Model,
}

/// Segmentation of `image` into `output`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentStep {
    /// Image role.
    pub image: String,
    /// Method.
    pub method: SegmentMethod,
    /// MR weighting for `brain` (default T1).
    #[serde(default)]
    pub weighting: Weighting,
    /// For `model`: a model built into the binary (`torso-organs`, the default) or a model
    /// folder (card + weights).
    #[serde(default)]
    pub model: Option<String>,
    /// Role of the label map written.
    pub output: String,
    /// Ground-truth labels role (same grid) to score against.
    #[serde(default)]
    pub truth: Option<String>,
    /// For each output label (TOML key), the truth labels it should match (their union).
    #[serde(default)]
    pub truth_groups: BTreeMap<String, Vec<u16>>,
}

impl Step for SegmentStep {
    fn kind(&self) -> &'static str {
        "segment"
    }
    fn inputs(&self) -> Vec<String> {
        std::iter::once(self.image.clone()).chain(self.truth.clone()).collect()
    }
    fn outputs(&self) -> Vec<String> {
        vec![self.output.clone()]
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let img = study.image(&self.image)?;
        let (image, kind) = (img.volume.clone(), img.kind);
        let progress = ctx.progress;
        let start = std::time::Instant::now();
        let numbered = |names: &[&str]| -> Vec<(u16, String)> {
            names.iter().enumerate().map(|(i, n)| (i as u16 + 1, (*n).to_string())).collect()
        };
        let (labels, names): (LabelVolume, Vec<(u16, String)>) = match self.method {
            SegmentMethod::CtLungs => {
                (body_and_lungs(&image, &CtOptions::default())?.to_labels()?, numbered(&["body", "lungs"]))
            }
            SegmentMethod::Brain => {
                let mask = atlas_brain_mask(&image, self.weighting, &mut |p| {
                    let level = p.level as f64 / p.levels.max(1) as f64;
                    progress((p.stage_index as f64 + level) / p.stages.max(1) as f64 * 0.8)
                })?;
                let opts = BrainOptions { weighting: self.weighting, ..Default::default() };
                (
                    brain_tissue(&image, &mask, &opts)?.labels,
                    numbered(&["CSF", "grey matter", "white matter"]),
                )
            }
            SegmentMethod::Otsu => (
                LabelVolume::new(otsu_mask(&image, 256, None)?.1.map(|&v| u16::from(v))),
                numbered(&["above Otsu"]),
            ),
            SegmentMethod::MultiOtsu => {
                (classify(&image, &multi_otsu(&image, 3, 256, None)?)?, numbered(&["middle", "bright"]))
            }
            SegmentMethod::Model => model_labels(self.model.as_deref(), &image, kind, progress)?,
        };
        let seconds = start.elapsed().as_secs_f64();
        let mut t = Table {
            title: format!("`{}` segmented ({:?})", self.image, self.method),
            header: ["label", "structure", "volume (mL)", "Dice", "HD95 (mm)", "ASSD (mm)"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        let truth = self.truth.as_ref().map(|r| study.labels(r)).transpose()?;
        let ml = image.geometry().voxel_volume() / 1000.0;
        for (l, name) in &names {
            let l = *l;
            let mask = labels.map(|&v| u8::from(v == l));
            let volume = mask.data().iter().filter(|&&v| v != 0).count() as f64 * ml;
            let mut row = vec![l.to_string(), name.clone(), format!("{volume:.1}")];
            match (truth, self.truth_groups.get(&l.to_string())) {
                (Some(truth), Some(group)) => {
                    let reference = truth.map(|v| u8::from(group.contains(v)));
                    let m = evaluate_masks(&mask, &reference, &SegmentationOptions::default())?;
                    row.extend([
                        format!("{:.3}", m.dice),
                        format!("{:.2}", m.hd95),
                        format!("{:.2}", m.assd),
                    ]);
                    let key = name.replace(' ', "_").to_lowercase();
                    ctx.record.metric(format!("dice_{key}"), m.dice, "");
                    ctx.record.metric(format!("hd95_{key}"), m.hd95, "mm");
                }
                (None, Some(_)) => return Err(fail("`truth_groups` needs `truth`")),
                _ => row.extend(["—", "—", "—"].map(String::from)),
            }
            t.rows.push(row);
        }
        ctx.record.metric("seconds", seconds, "s");
        ctx.record.tables.push(t);
        ctx.record.summary = format!(
            "`{}` segmented by {:?} into `{}` in {seconds:.2} s",
            self.image, self.method, self.output
        );
        add_views(
            ctx.record,
            &format!("`{}` with `{}`", self.image, self.output),
            &image,
            kind,
            Some(&labels),
        );
        study.insert_labels(self.output.clone(), labels);
        Ok(())
    }
}

/// Runs a trained segmentation model (built-in name or folder; default `torso-organs`) on
/// `image` after checking its card's modality, and names the labels from the card.
fn model_labels(
    model: Option<&str>,
    image: &hounsfield_core::Volume<f32>,
    kind: ImageKind,
    progress: &dyn Fn(f64),
) -> Result<(LabelVolume, Vec<(u16, String)>), StepError> {
    let name = model.unwrap_or("torso-organs");
    let path = std::path::Path::new(name);
    let predictor = match builtin(name).filter(|_| !path.exists()) {
        Some(b) => b.load()?,
        None => {
            let device = hounsfield_nn::Device::flex();
            OwnedBurnPredictor { model: Model::load(path, &device)?, device }
        }
    };
    let card = predictor.model.card.clone();
    let declared = match kind {
        ImageKind::Ct => Some("CT"),
        ImageKind::Mr => Some("MR"),
        ImageKind::Other => None,
    };
    check_modality(&card, declared, image.data())?;
    let spec = InferenceSpec::from_card(&card);
    let pred = predict_volume(&predictor, &spec, &[image], &mut |done, total| {
        progress(done as f64 / total.max(1) as f64)
    })?;
    let Prediction::Labels(labels) = pred else {
        return Err(fail(format!("model `{name}` is not a segmentation model")));
    };
    let names = card
        .output
        .label_ids
        .iter()
        .filter(|&&id| id != 0)
        .map(|&id| {
            let n = card.output.labels.get(&id.to_string()).cloned().unwrap_or_else(|| format!("label {id}"));
            (id, n)
        })
        .collect();
    Ok((labels, names))
}
