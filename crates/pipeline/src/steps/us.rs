//! `ultrasound`: a simulated PICMUS-like acquisition (linear array, plane waves) of the
//! built-in cyst phantom and point targets, delay-and-sum B-mode images from one angle, from
//! all angles compounded, and with the coherence factor; contrast, CNR, speckle SNR and point
//! resolution against what the simulator predicts.

use hounsfield_metrics::ultrasound::{contrast, fwhm, speckle_snr, Scale};
use hounsfield_recon::us::simulate::labels as us_labels;
use hounsfield_recon::us::{
    beamform, image_volume, log_compress, predicted_fwhm_mm, simulate, Acquisition, BeamformOptions,
    ImageGrid, Method, PhantomKind, Probe, SimulateOptions, UsPhantom,
};

use super::{Step, StepError};
use crate::figure::{encode_png, render_view, View};
use crate::pipeline::StepContext;
use crate::study::{Figure, ImageKind, Study, StudyImage, Table};

/// The ultrasound step.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ultrasound {
    /// Plane waves over ±`max_angle_deg` (default 11).
    #[serde(default = "angles")]
    pub angles: usize,
    /// Largest steering angle, degrees (default 16).
    #[serde(default = "max_angle")]
    pub max_angle_deg: f64,
    /// Scatterers per mm² (default 50).
    #[serde(default = "density")]
    pub density: f64,
    /// Seed of scatterers and noise.
    #[serde(default)]
    pub seed: u64,
    /// Dynamic range of the B-mode images, dB (default 60).
    #[serde(default = "dynamic_range")]
    pub dynamic_range: f64,
    /// Prefix of the roles written: `<output>_single`, `_compound`, `_cf` (B-mode, dB).
    pub output: String,
}

fn angles() -> usize {
    11
}
fn max_angle() -> f64 {
    16.0
}
fn density() -> f64 {
    50.0
}
fn dynamic_range() -> f64 {
    60.0
}

impl Ultrasound {
    fn roles(&self) -> [String; 3] {
        let p = &self.output;
        [format!("{p}_single"), format!("{p}_compound"), format!("{p}_cf")]
    }
}

impl Step for Ultrasound {
    fn kind(&self) -> &'static str {
        "ultrasound"
    }
    fn inputs(&self) -> Vec<String> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<String> {
        self.roles().to_vec()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let mut probe = Probe::l11_4v();
        probe.acquisition = Some(Acquisition {
            angles_deg: Probe::plane_wave_angles_deg(self.angles, self.max_angle_deg),
            ..Default::default()
        });
        let centre = self.angles / 2;
        let start = std::time::Instant::now();
        // Cysts: speckle, two anechoic cysts, two +6 dB inclusions.
        let phantom = UsPhantom::builtin(PhantomKind::Cysts)?;
        let scat = phantom.scatterers(self.density, self.seed)?;
        let sim = SimulateOptions { seed: self.seed, ..Default::default() };
        let (rf, dims) = simulate(&probe, &probe.transmits(), &scat, &sim)?;
        (ctx.progress)(0.5);
        let grid = ImageGrid::spanning([-18.0, 18.0], [5.0, 50.0], 361, 451)?;
        let variants = [
            ("1 angle (0°)", BeamformOptions { transmits: Some(vec![centre]), ..Default::default() }),
            ("compounded", BeamformOptions::default()),
            (
                "compounded, coherence factor",
                BeamformOptions { method: Method::DasCoherenceFactor, ..Default::default() },
            ),
        ];
        // One column per cyst or inclusion of the phantom, in its order.
        let region_name = |&([x, z], r, l): &([f64; 2], f64, u16)| {
            let what = if l == us_labels::CYST { "cyst" } else { "+6 dB" };
            format!("{what} {r} mm at ({x}, {z}): CR{}", if l == us_labels::CYST { " / CNR" } else { "" })
        };
        let mut header = vec!["beamforming".to_string()];
        header.extend(phantom.regions.iter().map(region_name));
        header.push("speckle SNR".into());
        let mut t = Table {
            title: format!("Cyst phantom, {} scatterers: contrast (CR, dB), CNR and speckle SNR", scat.len()),
            header,
            rows: Vec::new(),
        };
        let mut images = Vec::new();
        for (k, (name, o)) in variants.iter().enumerate() {
            let b = beamform(&rf, dims, &probe, &grid, o)?;
            let env = image_volume(&grid, b.envelope())?;
            let mut row = vec![(*name).to_string()];
            let (mut cyst4, mut inclusion4) = (None, None);
            for &([x, z], r, l) in &phantom.regions {
                let c = contrast(&env, Scale::Linear, [x, z], 0.75 * r, (1.25 * r, 1.6 * r))?;
                if l == us_labels::CYST {
                    row.push(format!("{:.1} / {:.2}", c.cr_db, c.cnr));
                } else {
                    row.push(format!("{:.2}", c.cr_db));
                }
                if r == 4.0 {
                    *(if l == us_labels::CYST { &mut cyst4 } else { &mut inclusion4 }) = Some(c);
                }
            }
            row.push(format!("{:.2}", speckle_snr(&env, Scale::Linear, [0.0, 24.5], 2.5)?));
            t.rows.push(row);
            let key = ["single", "compound", "cf"][k];
            if let Some(c) = cyst4 {
                ctx.record.metric(format!("cnr_cyst4_{key}"), c.cnr, "");
            }
            if let Some(c) = inclusion4 {
                ctx.record.metric(format!("cr_inclusion4_{key}"), c.cr_db, "dB");
            }
            images.push(image_volume(&grid, log_compress(&b.envelope(), self.dynamic_range)?)?);
        }
        ctx.record.tables.push(t);
        (ctx.progress)(0.8);
        // Points: resolution with one angle against the model's prediction, and compounded.
        let points = UsPhantom::builtin(PhantomKind::Points)?;
        let pscat = points.scatterers(0.0, self.seed)?;
        let (prf, pdims) =
            simulate(&probe, &probe.transmits(), &pscat, &SimulateOptions { snr_db: None, ..sim })?;
        let (pred_ax, pred_lat) = predicted_fwhm_mm(&probe, 1.5, true);
        let mut r = Table {
            title: format!(
                "Point targets: FWHM (mm); the model predicts axial {pred_ax:.3}, lateral {pred_lat:.3} for one 0° wave"
            ),
            header: ["target (x, z) mm", "1 angle lateral", "1 angle axial", "compounded lateral", "compounded axial"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for &[x, z] in &points.points {
            let g = ImageGrid::spanning([x - 2.5, x + 2.5], [z - 1.5, z + 1.5], 201, 121)?;
            let mut row = vec![format!("({x}, {z})")];
            for o in [variants[0].1.clone(), variants[1].1.clone()] {
                let env = image_volume(&g, beamform(&prf, pdims, &probe, &g, &o)?.envelope())?;
                let f = fwhm(&env, Scale::Linear, [x, z], 1.0)?;
                row.push(format!("{:.3}", f.lateral_mm));
                row.push(format!("{:.3}", f.axial_mm));
            }
            r.rows.push(row);
        }
        ctx.record.tables.push(r);
        let seconds = start.elapsed().as_secs_f64();
        ctx.record.metric("seconds", seconds, "s");
        ctx.record.summary = format!(
            "L11-4v-like probe (128 elements, 5.2 MHz), {} plane waves over ±{}°, {} samples per trace; \
             DAS with Hann apodization, F 1.5; simulated and beamformed in {seconds:.1} s",
            self.angles, self.max_angle_deg, dims[0]
        );
        for (role, (img, (name, _))) in self.roles().into_iter().zip(images.into_iter().zip(&variants)) {
            // B-mode in dB: a fixed window over the dynamic range.
            if let Ok(png) = render_view(
                &img,
                None,
                View::Axial,
                Some(0),
                (self.dynamic_range, -self.dynamic_range / 2.0),
                0.0,
            )
            .and_then(|x| encode_png(&x))
            {
                ctx.record
                    .figures
                    .push(Figure::Png { title: format!("B-mode, {name} ({} dB)", self.dynamic_range), png });
            }
            study.insert_image(role, StudyImage { volume: img, kind: ImageKind::Other });
        }
        Ok(())
    }
}
