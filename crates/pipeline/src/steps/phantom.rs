//! `phantom`: a seeded torso or head phantom with its ground-truth labels.

use hounsfield_phantom::{
    label_name, Contrast, HeadOptions, LesionChoice, Modality, Phantom, RenderOptions, TorsoOptions,
};

use super::{Step, StepError};
use crate::figure::add_views;
use crate::pipeline::StepContext;
use crate::study::{ImageKind, Study, StudyImage, Table};

/// Which anatomy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anatomy {
    /// CT-like torso (400 mm field of view).
    #[default]
    Torso,
    /// MR-like head (220 mm field of view).
    Head,
}

/// The contrast, as pipeline files name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModalityName {
    /// CT in HU.
    Ct,
    /// T1-weighted spin echo.
    T1,
    /// T2-weighted spin echo.
    T2,
    /// Proton-density weighted spin echo.
    Pd,
    /// A random intensity per label (SynthSeg-style).
    Random,
}

impl ModalityName {
    fn modality(self) -> Modality {
        match self {
            ModalityName::Ct => Modality::Ct,
            ModalityName::T1 => Modality::T1,
            ModalityName::T2 => Modality::T2,
            ModalityName::Pd => Modality::Pd,
            ModalityName::Random => Modality::Random,
        }
    }
}

/// Generates a phantom image and its label map.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhantomStep {
    /// `torso` or `head`.
    pub anatomy: Anatomy,
    /// `ct`, `t1`, `t2`, `pd` or `random` (default: `ct` for the torso, `t1` for the head).
    #[serde(default)]
    pub modality: Option<ModalityName>,
    /// Voxels per side (size³ over the anatomy's field of view).
    #[serde(default = "default_size")]
    pub size: usize,
    /// Seed of the anatomy and its contrast.
    #[serde(default)]
    pub seed: u64,
    /// Lung nodules (torso only).
    #[serde(default)]
    pub nodules: usize,
    /// A white-matter lesion (head only).
    #[serde(default)]
    pub lesion: bool,
    /// Supersampling per axis for partial volume (1 = none).
    #[serde(default = "one")]
    pub supersample: usize,
    /// Role of the image.
    pub image: String,
    /// Role of the label map (optional).
    #[serde(default)]
    pub labels: Option<String>,
}

fn default_size() -> usize {
    96
}
fn one() -> usize {
    1
}

impl Step for PhantomStep {
    fn kind(&self) -> &'static str {
        "phantom"
    }
    fn inputs(&self) -> Vec<String> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<String> {
        std::iter::once(self.image.clone()).chain(self.labels.iter().cloned()).collect()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        hounsfield_core::checked_voxels([self.size; 3], 6)?;
        let phantom = match self.anatomy {
            Anatomy::Torso => {
                Phantom::torso(self.seed, &TorsoOptions { nodules: self.nodules, ..Default::default() })?
            }
            Anatomy::Head => Phantom::head(
                self.seed,
                &HeadOptions {
                    lesion: if self.lesion { LesionChoice::Random } else { LesionChoice::None },
                    ..Default::default()
                },
            )?,
        };
        let modality = self.modality.map(ModalityName::modality).unwrap_or(match self.anatomy {
            Anatomy::Torso => Modality::Ct,
            Anatomy::Head => Modality::T1,
        });
        let grid = phantom.grid(self.size)?;
        let opts = RenderOptions { supersample: self.supersample, ..Default::default() };
        (ctx.progress)(0.1);
        let r = phantom.render(&grid, &Contrast::for_modality(modality), &opts, self.seed)?;
        let kind = match modality {
            Modality::Ct => ImageKind::Ct,
            Modality::T1 | Modality::T2 | Modality::Pd => ImageKind::Mr,
            _ => ImageKind::Other,
        };
        let anatomy = match self.anatomy {
            Anatomy::Torso => "torso",
            Anatomy::Head => "head",
        };
        ctx.record.summary = format!(
            "{anatomy} phantom, {modality:?}, {n}³ voxels of {s:.2} mm, seed {seed}",
            n = self.size,
            s = grid_spacing(&r.image),
            seed = self.seed
        );
        // Ground-truth table: every label present, with its volume.
        let ml = r.image.geometry().voxel_volume() / 1000.0;
        let mut counts = vec![0u64; 65536];
        for &l in r.labels.data() {
            counts[l as usize] += 1;
        }
        let mut table = Table {
            title: "Ground-truth labels".into(),
            header: ["id", "structure", "volume (mL)"].map(String::from).to_vec(),
            rows: Vec::new(),
        };
        for (l, &c) in counts.iter().enumerate().skip(1).filter(|(_, &c)| c > 0) {
            table.rows.push(vec![
                l.to_string(),
                label_name(l as u16).map(|n| n.into_owned()).unwrap_or_default(),
                format!("{:.1}", c as f64 * ml),
            ]);
        }
        ctx.record.tables.push(table);
        if !phantom.nodules().is_empty() {
            let mut t = Table {
                title: "Lung nodules (ground truth)".into(),
                header: ["label", "class", "diameter (mm)", "centre (mm, LPS)"].map(String::from).to_vec(),
                rows: Vec::new(),
            };
            for n in phantom.nodules() {
                t.rows.push(vec![
                    n.label.to_string(),
                    format!("{:?}", n.class).to_lowercase(),
                    format!("{:.1}", n.diameter_mm),
                    format!("{:.1}, {:.1}, {:.1}", n.centre_mm[0], n.centre_mm[1], n.centre_mm[2]),
                ]);
            }
            ctx.record.tables.push(t);
        }
        add_views(ctx.record, &self.image, &r.image, kind, Some(&r.labels));
        if let Some(role) = &self.labels {
            study.insert_labels(role.clone(), r.labels);
        }
        study.insert_image(self.image.clone(), StudyImage { volume: r.image, kind });
        Ok(())
    }
}

fn grid_spacing(v: &hounsfield_core::Volume<f32>) -> f64 {
    v.geometry().spacing[0]
}
