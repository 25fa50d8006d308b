//! `ct-recon`: simulate a fan-beam CT scan of a slice at full and low dose, reconstruct with
//! FBP and TV, score against the truth, and make a radiograph (DRR).

use hounsfield_recon::ct::demo_reconstruction;

use super::{Step, StepError};
use crate::figure::{add_views, auto_window, encode_png, render_view, View};
use crate::pipeline::StepContext;
use crate::study::{Figure, ImageKind, Study, StudyImage, Table};

/// CT reconstruction of the middle axial slice of a HU volume.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtRecon {
    /// HU volume (the truth): its middle axial slice is scanned, the whole volume is X-rayed.
    pub input: String,
    /// Views over 360°.
    #[serde(default = "views")]
    pub views: usize,
    /// Photons per ray of the low-dose scan.
    #[serde(default = "dose")]
    pub dose: f64,
    /// Noise seed.
    #[serde(default)]
    pub seed: u64,
    /// Role prefix of the outputs: `<prefix>_fbp`, `<prefix>_fbp_low`, `<prefix>_tv_low`,
    /// `<prefix>_drr`.
    pub output: String,
}

fn views() -> usize {
    360
}
fn dose() -> f64 {
    2e4
}

impl CtRecon {
    fn roles(&self) -> [String; 4] {
        let p = &self.output;
        [format!("{p}_fbp"), format!("{p}_fbp_low"), format!("{p}_tv_low"), format!("{p}_drr")]
    }
}

impl Step for CtRecon {
    fn kind(&self) -> &'static str {
        "ct-recon"
    }
    fn inputs(&self) -> Vec<String> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<String> {
        self.roles().to_vec()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let truth = study.image(&self.input)?.volume.clone();
        (ctx.progress)(0.05);
        let r = demo_reconstruction(&truth, self.views, self.dose, self.seed)?;
        let mut t = Table {
            title: "Reconstruction against the phantom (inside the field of view)".into(),
            header: ["reconstruction", "RMSE (HU)", "PSNR (dB)", "SSIM"].map(String::from).to_vec(),
            rows: Vec::new(),
        };
        for s in &r.scores {
            t.rows.push(vec![
                s.name.to_string(),
                format!("{:.1}", s.rmse_hu),
                format!("{:.2}", s.psnr_db),
                format!("{:.4}", s.ssim),
            ]);
            let key = s.name.replace(' ', "_");
            ctx.record.metric(format!("rmse_{key}"), s.rmse_hu, "HU");
            ctx.record.metric(format!("psnr_{key}"), s.psnr_db, "dB");
            ctx.record.metric(format!("ssim_{key}"), s.ssim, "");
        }
        ctx.record.tables.push(t);
        ctx.record.summary = format!(
            "fan-beam CT of the middle axial slice of `{}`: {} views, full dose and {:.0e} photons/ray; FBP and TV",
            self.input, self.views, self.dose
        );
        add_views(ctx.record, "truth (scanned slice)", &r.reference_hu, ImageKind::Ct, None);
        let [fbp, fbp_low, tv_low, drr] = self.roles();
        add_views(ctx.record, &fbp, &r.fbp_full_hu, ImageKind::Ct, None);
        add_views(ctx.record, &fbp_low, &r.fbp_low_hu, ImageKind::Ct, None);
        add_views(ctx.record, &tv_low, &r.tv_low_hu, ImageKind::Ct, None);
        // Sinograms and the radiograph are not patient-space images: render them as stored.
        // The sinogram is shown as stored (detector columns across, views down); the DRR lies
        // in a coronal plane, so it is shown as a coronal view (superior up, patient left right).
        for (title, img, view) in [
            ("low-dose sinogram", &r.sinogram_low, View::Axial),
            ("DRR (antero-posterior)", &r.drr, View::Coronal),
        ] {
            let w = auto_window(img, ImageKind::Other);
            if let Ok(png) = render_view(img, None, view, Some(0), w, 0.0).and_then(|x| encode_png(&x)) {
                ctx.record.figures.push(Figure::Png { title: title.into(), png });
            }
        }
        for (role, v, kind) in [
            (fbp, r.fbp_full_hu, ImageKind::Ct),
            (fbp_low, r.fbp_low_hu, ImageKind::Ct),
            (tv_low, r.tv_low_hu, ImageKind::Ct),
            (drr, r.drr, ImageKind::Other),
        ] {
            study.insert_image(role, StudyImage { volume: v, kind });
        }
        Ok(())
    }
}

/// MRI reconstruction of the middle axial slice of an MR volume: simulated multi-coil
/// k-space, Poisson-disc undersampling, zero-filled, CG-SENSE and l1-wavelet CS.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MriRecon {
    /// MR volume (the truth): its middle axial slice is "scanned".
    pub input: String,
    /// Simulated receive coils.
    #[serde(default = "coils")]
    pub coils: usize,
    /// Undersampling factor of the Poisson-disc mask.
    #[serde(default = "acceleration")]
    pub acceleration: f64,
    /// Mask and noise seed.
    #[serde(default)]
    pub seed: u64,
    /// Role prefix of the outputs: `<prefix>_full`, `<prefix>_zero_filled`, `<prefix>_sense`,
    /// `<prefix>_cs`.
    pub output: String,
}

fn coils() -> usize {
    8
}
fn acceleration() -> f64 {
    4.0
}

impl MriRecon {
    fn roles(&self) -> [String; 4] {
        let p = &self.output;
        [format!("{p}_full"), format!("{p}_zero_filled"), format!("{p}_sense"), format!("{p}_cs")]
    }
}

impl Step for MriRecon {
    fn kind(&self) -> &'static str {
        "mri-recon"
    }
    fn inputs(&self) -> Vec<String> {
        vec![self.input.clone()]
    }
    fn outputs(&self) -> Vec<String> {
        self.roles().to_vec()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let truth = study.image(&self.input)?.volume.clone();
        (ctx.progress)(0.05);
        let r = hounsfield_recon::mri::demo_reconstruction(&truth, self.coils, self.acceleration, self.seed)?;
        let mut t = Table {
            title: "Reconstruction against the fully sampled image".into(),
            header: ["reconstruction", "PSNR (dB)", "SSIM"].map(String::from).to_vec(),
            rows: Vec::new(),
        };
        for s in &r.scores {
            t.rows.push(vec![s.name.to_string(), format!("{:.2}", s.psnr_db), format!("{:.4}", s.ssim)]);
            let key = s.name.replace([' ', '-'], "_");
            ctx.record.metric(format!("psnr_{key}"), s.psnr_db, "dB");
            ctx.record.metric(format!("ssim_{key}"), s.ssim, "");
        }
        ctx.record.tables.push(t);
        ctx.record.summary = format!(
            "{} simulated coils, k-space of the middle axial slice of `{}` undersampled {:.1}× (Poisson disc); \
             ESPIRiT maps from the undersampled data; zero-filled, CG-SENSE and l1-wavelet CS",
            self.coils,
            self.input,
            r.mask.acceleration()
        );
        let [full, zf, sense, cs] = self.roles();
        add_views(ctx.record, &full, &r.reference, ImageKind::Mr, None);
        if let Ok(mask) =
            hounsfield_core::Volume::from_vec(r.mask.dims(), *r.reference.geometry(), r.mask.data().to_vec())
        {
            let w = auto_window(&mask, ImageKind::Other);
            if let Ok(png) =
                render_view(&mask, None, View::Axial, Some(0), w, 0.0).and_then(|x| encode_png(&x))
            {
                ctx.record.figures.push(Figure::Png { title: "sampling mask (k-space)".into(), png });
            }
        }
        add_views(ctx.record, &zf, &r.zero_filled, ImageKind::Mr, None);
        add_views(ctx.record, &sense, &r.sense, ImageKind::Mr, None);
        add_views(ctx.record, &cs, &r.cs, ImageKind::Mr, None);
        for (role, v) in [(full, r.reference), (zf, r.zero_filled), (sense, r.sense), (cs, r.cs)] {
            study.insert_image(role, StudyImage { volume: v, kind: ImageKind::Mr });
        }
        Ok(())
    }
}
