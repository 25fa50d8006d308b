//! `label-stats`: per-label volume and intensity statistics.

use super::{Step, StepError};
use crate::pipeline::StepContext;
use crate::study::{Study, Table};

/// Volume (mL) and intensity statistics of an image inside each label.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelStats {
    /// Image role.
    pub image: String,
    /// Label-map role (same grid as the image).
    pub labels: String,
}

impl Step for LabelStats {
    fn kind(&self) -> &'static str {
        "label-stats"
    }
    fn inputs(&self) -> Vec<String> {
        vec![self.image.clone(), self.labels.clone()]
    }
    fn outputs(&self) -> Vec<String> {
        Vec::new()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let img = &study.image(&self.image)?.volume;
        let lab = study.labels(&self.labels)?;
        let stats = hounsfield_segment::stats::label_statistics(lab, Some(img))?;
        let mut table = Table {
            title: format!("`{}` inside `{}`", self.image, self.labels),
            header: ["label", "structure", "voxels", "volume (mL)", "mean", "sd", "min", "max"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for st in &stats {
            table.rows.push(vec![
                st.label.to_string(),
                hounsfield_phantom::label_name(st.label).map(|n| n.into_owned()).unwrap_or_default(),
                st.voxels.to_string(),
                format!("{:.2}", st.volume_ml),
                crate::report::fmt_value(st.mean),
                crate::report::fmt_value(st.sd),
                crate::report::fmt_value(st.min),
                crate::report::fmt_value(st.max),
            ]);
        }
        ctx.record.summary = format!("statistics of {} labels", table.rows.len());
        ctx.record.tables.push(table);
        Ok(())
    }
}
