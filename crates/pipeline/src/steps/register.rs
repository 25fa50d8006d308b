//! `register`: a moving image registered to a fixed one (rigid, affine, B-spline or the
//! diffeomorphic method), scored against a known deformation (TRE), by the Dice of warped
//! labels and by folding.

use hounsfield_core::linalg::Vec3;
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_register::metric::MetricKind;
use hounsfield_register::quality::assess;
use hounsfield_register::{register, Masks, RegistrationOptions, TransformType};

use super::{fail, Step, StepError};
use crate::figure::add_views;
use crate::pipeline::StepContext;
use crate::study::{Study, StudyImage, Table};

/// Transform names as pipeline files spell them.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransformName {
    /// Translation only.
    Translation,
    /// Rotation and translation.
    Rigid,
    /// Rigid, then affine.
    Affine,
    /// Rigid, affine, then a B-spline free-form deformation.
    Bspline,
    /// Rigid, affine, then the symmetric diffeomorphic method.
    Syn,
}

/// Metric names as pipeline files spell them.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricName {
    /// Mean squared difference.
    Mse,
    /// Normalized cross-correlation.
    Ncc,
    /// Mattes mutual information (multimodal).
    Mi,
}

/// Registration of `moving` to `fixed`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterStep {
    /// Fixed image role.
    pub fixed: String,
    /// Moving image role.
    pub moving: String,
    /// Transform to estimate.
    pub transform: TransformName,
    /// Metric of the linear and B-spline stages (default Mattes MI).
    #[serde(default)]
    pub metric: Option<MetricName>,
    /// Labels of the fixed image (with `moving_labels`: Dice before and after).
    #[serde(default)]
    pub fixed_labels: Option<String>,
    /// Labels of the moving image.
    #[serde(default)]
    pub moving_labels: Option<String>,
    /// The true displacement `u` with `fixed(x) = moving(x + u(x))` (a `deform` step's
    /// `field` when `fixed` is its `output` and `moving` its `image`): TRE on landmarks.
    #[serde(default)]
    pub truth_field: Option<String>,
    /// Role of the warped moving image.
    pub output: String,
    /// Role of the warped moving labels (with `moving_labels`).
    #[serde(default)]
    pub output_labels: Option<String>,
}

/// Landmarks: every `stride`-th voxel of the fixed labels that is not background, in mm.
fn landmarks(labels: &hounsfield_core::LabelVolume, stride: usize) -> Vec<Vec3> {
    let [nx, ny, _] = labels.dims();
    let g = labels.geometry();
    labels
        .as_volume()
        .data()
        .iter()
        .enumerate()
        .filter(|&(o, &l)| l != 0 && o % stride == 0)
        .map(|(o, _)| g.index_to_world([(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64]))
        .collect()
}

impl Step for RegisterStep {
    fn kind(&self) -> &'static str {
        "register"
    }
    fn inputs(&self) -> Vec<String> {
        [Some(&self.fixed), Some(&self.moving), self.fixed_labels.as_ref(), self.moving_labels.as_ref()]
            .into_iter()
            .flatten()
            .chain(self.truth_field.as_ref())
            .cloned()
            .collect()
    }
    fn outputs(&self) -> Vec<String> {
        std::iter::once(self.output.clone()).chain(self.output_labels.clone()).collect()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        if self.output_labels.is_some() && self.moving_labels.is_none() {
            return Err(fail("`output_labels` needs `moving_labels`"));
        }
        let fixed = study.image(&self.fixed)?;
        let moving = study.image(&self.moving)?;
        let (fixed_kind, moving_kind) = (fixed.kind, moving.kind);
        let (fixed, moving) = (fixed.volume.clone(), moving.volume.clone());
        let transform = match self.transform {
            TransformName::Translation => TransformType::Translation,
            TransformName::Rigid => TransformType::Rigid,
            TransformName::Affine => TransformType::Affine,
            TransformName::Bspline => TransformType::BSpline,
            TransformName::Syn => TransformType::Syn,
        };
        let metric = match self.metric {
            Some(MetricName::Mse) => MetricKind::MeanSquares,
            Some(MetricName::Ncc) => MetricKind::Correlation,
            Some(MetricName::Mi) | None => MetricKind::MattesMutualInformation,
        };
        let opts = RegistrationOptions { transform, metric, ..Default::default() };
        let progress = ctx.progress;
        let r = register(&fixed, &moving, Masks::default(), &opts, &mut |p| {
            // Stages and levels in equal shares; within a level, by iteration.
            let within = (p.iteration as f64 / p.iterations.max(1) as f64).min(1.0);
            let level = (p.level as f64 + within) / p.levels.max(1) as f64;
            progress(((p.stage_index as f64 + level) / p.stages.max(1) as f64).min(0.95));
        })?;
        let dims = fixed.dims();
        let g = *fixed.geometry();
        let labels = match (&self.fixed_labels, &self.moving_labels) {
            (Some(f), Some(m)) => Some((study.labels(f)?, study.labels(m)?)),
            _ => None,
        };
        let (fixed_points, moving_points) = match (&self.truth_field, &self.fixed_labels) {
            (Some(u), Some(fl)) => {
                use hounsfield_core::Transform;
                let field = study.field(u)?;
                let f = landmarks(study.labels(fl)?, 97);
                let m = f.iter().map(|x| field.transform_point(*x)).collect::<Vec<_>>();
                (f, m)
            }
            (Some(_), None) => return Err(fail("`truth_field` needs `fixed_labels` to place landmarks")),
            _ => (Vec::new(), Vec::new()),
        };
        let lm = (!fixed_points.is_empty()).then_some((fixed_points.as_slice(), moving_points.as_slice()));
        let q = assess(&r.transform, dims, &g, lm, labels)?;
        let before = match labels {
            Some((f, m)) => Some(hounsfield_register::quality::dice_per_label(f, m)?),
            None => None,
        };
        let tre_before = match lm {
            Some((f, m)) => {
                Some(hounsfield_metrics::registration::tre(f, m, &hounsfield_core::IdentityTransform)?)
            }
            None => None,
        };

        let mut t = Table {
            title: format!("{} registration of `{}` to `{}`", opts.transform.name(), self.moving, self.fixed),
            header: ["measure", "before", "after"].map(String::from).to_vec(),
            rows: Vec::new(),
        };
        if let (Some(after), Some(b)) = (&q.tre, &tre_before) {
            t.rows.push(vec!["mean TRE (mm)".into(), format!("{:.2}", b.mean), format!("{:.2}", after.mean)]);
            t.rows.push(vec!["max TRE (mm)".into(), format!("{:.2}", b.max), format!("{:.2}", after.max)]);
            ctx.record.metric("tre_mean", after.mean, "mm");
            ctx.record.metric("tre_mean_before", b.mean, "mm");
            ctx.record.metric("tre_max", after.max, "mm");
        }
        if let Some(b) = &before {
            let mean_before = b.iter().map(|d| d.dice).sum::<f64>() / b.len().max(1) as f64;
            t.rows.push(vec![
                "mean Dice of labels".into(),
                format!("{mean_before:.3}"),
                format!("{:.3}", q.mean_dice),
            ]);
            ctx.record.metric("dice_mean", q.mean_dice, "");
            ctx.record.metric("dice_mean_before", mean_before, "");
        }
        t.rows.push(vec!["folding voxels (%)".into(), "—".into(), format!("{:.3}", q.folding_percent)]);
        t.rows.push(vec![
            "Jacobian determinant min / max".into(),
            "—".into(),
            format!("{:.3} / {:.3}", q.jacobian.min, q.jacobian.max),
        ]);
        t.rows.push(vec!["time (s)".into(), "—".into(), format!("{:.2}", r.seconds)]);
        ctx.record.metric("folding_percent", q.folding_percent, "%");
        ctx.record.metric("seconds", r.seconds, "s");
        ctx.record.tables.push(t);
        ctx.record.summary = format!(
            "`{}` registered to `{}`: {}, {:?}; TRE and Dice against the known deformation and labels",
            self.moving,
            self.fixed,
            opts.transform.name(),
            opts.metric
        );

        let warped = r.warp(&moving, dims, &g, Interpolation::Linear)?;
        let warped_labels = match (&self.moving_labels, &self.output_labels) {
            (Some(m), Some(_)) => {
                Some(hounsfield_register::apply::warp_labels(study.labels(m)?, &r.transform, dims, &g)?)
            }
            _ => None,
        };
        add_views(ctx.record, &format!("fixed `{}`", self.fixed), &fixed, fixed_kind, None);
        add_views(ctx.record, &format!("moving `{}` before", self.moving), &moving, moving_kind, None);
        add_views(
            ctx.record,
            &format!("`{}` registered (fixed labels over it)", self.output),
            &warped,
            moving_kind,
            labels.map(|(f, _)| f),
        );
        study.insert_image(self.output.clone(), StudyImage { volume: warped, kind: moving_kind });
        if let (Some(role), Some(l)) = (&self.output_labels, warped_labels) {
            study.insert_labels(role.clone(), l);
        }
        Ok(())
    }
}
