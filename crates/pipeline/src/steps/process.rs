//! Image-processing steps: `smooth` and `deform`.

use hounsfield_phantom::deform::{warp_image, warp_labels};
use hounsfield_phantom::{random_deformation, DeformationOptions, Grid};

use super::{Step, StepError};
use crate::figure::add_views;
use crate::pipeline::StepContext;
use crate::study::{Study, StudyImage};

/// Gaussian smoothing with σ in mm.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smooth {
    /// Image role to read.
    pub input: String,
    /// Image role to write.
    pub output: String,
    /// σ in mm (all axes).
    pub sigma_mm: f64,
}

impl Step for Smooth {
    fn kind(&self) -> &'static str {
        "smooth"
    }
    fn inputs(&self) -> Vec<String> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<String> {
        vec![self.output.clone()]
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let img = study.image(&self.input)?;
        let out = hounsfield_imgproc::filter::gaussian(&img.volume, [self.sigma_mm; 3])?;
        let kind = img.kind;
        ctx.record.summary = format!("Gaussian smoothing of `{}`, σ = {} mm", self.input, self.sigma_mm);
        add_views(ctx.record, &self.output, &out, kind, None);
        study.insert_image(self.output.clone(), StudyImage { volume: out, kind });
        Ok(())
    }
}

/// A random smooth diffeomorphic deformation (stationary velocity field, scaling and
/// squaring) applied to an image and optionally its labels; the exact displacement field is
/// kept, so registration has ground truth.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deform {
    /// Image role to deform.
    pub image: String,
    /// Label role to deform with it (nearest neighbour).
    #[serde(default)]
    pub labels: Option<String>,
    /// Role of the deformed image.
    pub output: String,
    /// Role of the deformed labels (required with `labels`).
    #[serde(default)]
    pub output_labels: Option<String>,
    /// Role of the displacement field `u`: `deformed(x) = image(x + u(x))`.
    pub field: String,
    /// Largest velocity, mm.
    #[serde(default = "five")]
    pub magnitude_mm: f64,
    /// Seed.
    #[serde(default)]
    pub seed: u64,
}

fn five() -> f64 {
    5.0
}

impl Step for Deform {
    fn kind(&self) -> &'static str {
        "deform"
    }
    fn inputs(&self) -> Vec<String> {
        std::iter::once(self.image.clone()).chain(self.labels.iter().cloned()).collect()
    }
    fn outputs(&self) -> Vec<String> {
        [Some(self.output.clone()), self.output_labels.clone(), Some(self.field.clone())]
            .into_iter()
            .flatten()
            .collect()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        if self.labels.is_some() != self.output_labels.is_some() {
            return Err(super::fail("`labels` and `output_labels` go together"));
        }
        let img = study.image(&self.image)?.clone();
        let grid = Grid::new(img.volume.dims(), *img.volume.geometry());
        let d = random_deformation(
            &grid,
            &DeformationOptions { magnitude_mm: self.magnitude_mm, ..Default::default() },
            self.seed,
        )?;
        let moved = warp_image(&img.volume, &d.forward, img.volume.min_max_mean().0 as f32)?;
        let stats = hounsfield_metrics::registration::jacobian_stats(&d.forward)?;
        let max_disp = d
            .forward
            .data()
            .iter()
            .map(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt())
            .fold(0.0f32, f32::max);
        ctx.record.metric("max_displacement", max_disp as f64, "mm");
        ctx.record.metric("jacobian_min", stats.min, "");
        ctx.record.metric("jacobian_max", stats.max, "");
        ctx.record.metric("folding", 100.0 * stats.folding_fraction, "%");
        ctx.record.summary = format!(
            "random diffeomorphic deformation of `{}` (velocity ≤ {} mm, seed {}), max displacement {:.1} mm",
            self.image, self.magnitude_mm, self.seed, max_disp
        );
        let moved_labels = match (&self.labels, &self.output_labels) {
            (Some(l), Some(o)) => Some((o.clone(), warp_labels(study.labels(l)?, &d.forward, 0)?)),
            _ => None,
        };
        add_views(ctx.record, &self.output, &moved, img.kind, moved_labels.as_ref().map(|x| &x.1));
        if let Some((o, l)) = moved_labels {
            study.insert_labels(o, l);
        }
        study.insert_image(self.output.clone(), StudyImage { volume: moved, kind: img.kind });
        study.insert_field(self.field.clone(), d.forward);
        Ok(())
    }
}
