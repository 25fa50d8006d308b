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

/// Per-label accumulator: count, sum, sum of squares, min, max.
#[derive(Clone, Copy)]
struct Acc {
    n: u64,
    sum: f64,
    sum2: f64,
    min: f64,
    max: f64,
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
        img.require_same_grid(lab.as_volume())?;
        let empty = Acc { n: 0, sum: 0.0, sum2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY };
        let mut acc = vec![empty; 65536];
        for (&v, &l) in img.data().iter().zip(lab.data()) {
            if l == 0 || v.is_nan() {
                continue;
            }
            let a = &mut acc[l as usize];
            let v = v as f64;
            a.n += 1;
            a.sum += v;
            a.sum2 += v * v;
            a.min = a.min.min(v);
            a.max = a.max.max(v);
        }
        let ml = img.geometry().voxel_volume() / 1000.0;
        let mut table = Table {
            title: format!("`{}` inside `{}`", self.image, self.labels),
            header: ["label", "structure", "voxels", "volume (mL)", "mean", "sd", "min", "max"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for (l, a) in acc.iter().enumerate().filter(|(_, a)| a.n > 0) {
            let mean = a.sum / a.n as f64;
            let sd = (a.sum2 / a.n as f64 - mean * mean).max(0.0).sqrt();
            table.rows.push(vec![
                l.to_string(),
                hounsfield_phantom::label_name(l as u16).map(|n| n.into_owned()).unwrap_or_default(),
                a.n.to_string(),
                format!("{:.2}", a.n as f64 * ml),
                crate::report::fmt_value(mean),
                crate::report::fmt_value(sd),
                crate::report::fmt_value(a.min),
                crate::report::fmt_value(a.max),
            ]);
        }
        ctx.record.summary = format!("statistics of {} labels", table.rows.len());
        ctx.record.tables.push(table);
        Ok(())
    }
}
