//! Modality contrast models: CT Hounsfield units and MR spin-echo signal per tissue, a smooth
//! multiplicative bias field, Gaussian (CT) and Rician (MR) noise, and SynthSeg-style random
//! contrasts.
//!
//! A contrast turns a label into an intensity through a lookup table ([`Contrast::table`]);
//! the renderer averages the table over each voxel's sub-samples (partial volume), and
//! [`Contrast::finish`] then adds what is not a per-tissue value: bias, blur and noise.
//!
//! # CT: Hounsfield units per tissue ([`ct_hu`])
//!
//! | tissue | HU | typical range and source |
//! |---|---:|---|
//! | air | −1000 | by definition of the scale (water 0, air −1000) |
//! | lung | −850 | aerated parenchyma −900…−800 at inspiration ¹ |
//! | fat | −100 | −120…−90 ¹ ² |
//! | muscle | +40 | +35…+55 ¹ ² |
//! | blood (heart, aorta, vessels; unenhanced) | +40 | +13…+50 ² |
//! | liver | +60 | 60 ± 6 ² |
//! | spleen | +45 | +40…+50 ¹ |
//! | kidney | +30 | +20…+45 ² |
//! | cortical bone | +1000 | +500…+1900 ² |
//! | cancellous bone | +300 | +300…+400 ² |
//! | soft tissue (bowel, discs) | +30 | +20…+40 ¹ |
//! | skin, scalp | +30 | soft tissue ¹ |
//! | CSF | +10 | 0…+15 ² |
//! | grey matter | +40 | +37…+45 ² |
//! | white matter | +30 | +20…+30 ² |
//! | lesion (brain) | +20 | hypodense oedema/demyelination, below white matter ¹ |
//! | nodule | +30 | solid soft-tissue nodule ¹ |
//!
//! ¹ Hofer, *CT Teaching Manual*, 4th ed., Thieme 2010, density tables. ² Buzug, *Computed
//! Tomography*, Springer 2008, §1 (HU scale of tissues); the same ranges are tabulated in
//! the Wikipedia article "Hounsfield scale".
//!
//! # MR: relaxation times and proton density ([`relaxation`])
//!
//! | tissue | T1 1.5 T | T2 1.5 T | T1 3 T | T2 3 T | PD | source |
//! |---|---:|---:|---:|---:|---:|---|
//! | air | — | — | — | — | 0 | no signal |
//! | lung | 1200 | 40 | 1300 | 35 | 0.2 | approximate ⁵ (low PD: ~20 % tissue) |
//! | fat | 343 | 58 | 382 | 68 | 0.9 | de Bazelaire ³ (subcutaneous fat) |
//! | muscle | 856 | 27 | 898 | 29 | 0.8 | de Bazelaire ³ |
//! | blood | 1441 | 290 | 1932 | 275 | 0.85 | Stanisz ⁴ |
//! | liver | 586 | 46 | 809 | 34 | 0.75 | de Bazelaire ³ |
//! | spleen | 1057 | 79 | 1328 | 61 | 0.8 | de Bazelaire ³ |
//! | kidney | 966 | 87 | 1142 | 76 | 0.85 | de Bazelaire ³ (cortex) |
//! | cortical bone | 1000 | 0.5 | 1000 | 0.4 | 0.05 | approximate: ultrashort T2, ~no signal |
//! | cancellous bone | 549 | 49 | 586 | 49 | 0.8 | de Bazelaire ³ (bone marrow) |
//! | soft tissue | 900 | 45 | 1100 | 40 | 0.8 | approximate: between muscle and spleen |
//! | skin, scalp | 600 | 50 | 700 | 45 | 0.8 | approximate: skin with subcutaneous fat |
//! | CSF | 2569 | 329 | 4300 | 1800 | 1.0 | BrainWeb ⁶ (1.5 T); 3 T approximate, water-like |
//! | grey matter | 833 | 83 | 1331 | 110 | 0.86 | BrainWeb ⁶ (1.5 T); Wansapura ⁷ (3 T) |
//! | white matter | 500 | 70 | 832 | 80 | 0.77 | BrainWeb ⁶ (1.5 T); Wansapura ⁷ (3 T) |
//! | lesion (brain) | 1300 | 120 | 1600 | 110 | 0.85 | approximate: T2-hyperintense lesion |
//! | nodule | 1000 | 80 | 1300 | 70 | 0.8 | approximate: solid tumour |
//!
//! T1, T2 in ms; PD relative to CSF = 1 (body values approximate relative water content).
//! ³ de Bazelaire et al., "MR imaging relaxation times of abdominal and pelvic tissues
//! measured in vivo at 3.0 T", Radiology 230:652–659 (2004), with their 1.5 T values.
//! ⁴ Stanisz et al., "T1, T2 relaxation and magnetization transfer in tissue at 3T", MRM
//! 54:507–512 (2005). ⁵ Lung T1 ≈ 1.2–1.3 s as reported by Stadler et al. (MRM 2005,
//! 1.5 T); T2 of the parenchyma is short and poorly defined, so the value is nominal.
//! ⁶ BrainWeb simulator tissue parameters, Kwan, Evans & Pike, IEEE TMI 18:1085–1097 (1999).
//! ⁷ Wansapura et al., "NMR relaxation times in the human brain at 3.0 tesla", JMRI
//! 9:531–538 (1999).
//!
//! # Sequences ([`MrWeighting::preset`])
//!
//! Spin echo, `S = PD · (1 − e^(−TR/T1)) · e^(−TE/T2)` (e.g. Haacke et al., *Magnetic
//! Resonance Imaging: Physical Principles and Sequence Design*, 1999, §8; valid for
//! TR ≫ TE). Presets: T1-weighted TR 500 / TE 15 ms, T2-weighted TR 4000 / TE 100 ms,
//! PD-weighted TR 3000 / TE 15 ms (the usual clinical spin-echo choices).

use hounsfield_core::{LabelVolume, Volume};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{invalid, PhantomError};
use crate::labels::{tissue_of, Tissue, MAX_LABEL};
use crate::rng::{normal, rng, sub_seed, tag, uniform};

/// CT number of a tissue in HU (table in the [module docs](self)).
pub const fn ct_hu(t: Tissue) -> f64 {
    match t {
        Tissue::Air => -1000.0,
        Tissue::Lung => -850.0,
        Tissue::Fat => -100.0,
        Tissue::Muscle => 40.0,
        Tissue::Blood => 40.0,
        Tissue::Liver => 60.0,
        Tissue::Spleen => 45.0,
        Tissue::Kidney => 30.0,
        Tissue::BoneCortical => 1000.0,
        Tissue::BoneCancellous => 300.0,
        Tissue::SoftTissue => 30.0,
        Tissue::Skin => 30.0,
        Tissue::Csf => 10.0,
        Tissue::GreyMatter => 40.0,
        Tissue::WhiteMatter => 30.0,
        Tissue::Lesion => 20.0,
        Tissue::Nodule => 30.0,
    }
}

/// Main magnetic field strength.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum FieldStrength {
    /// 1.5 T (default).
    #[default]
    T1_5,
    /// 3 T.
    T3,
}

/// MR tissue parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Relaxation {
    /// Longitudinal relaxation time (ms).
    pub t1_ms: f64,
    /// Transverse relaxation time (ms).
    pub t2_ms: f64,
    /// Proton density relative to CSF (= 1).
    pub pd: f64,
}

const fn rel(t1_ms: f64, t2_ms: f64, pd: f64) -> Relaxation {
    Relaxation { t1_ms, t2_ms, pd }
}

/// T1, T2 and PD of a tissue at a field strength (table in the [module docs](self)).
pub const fn relaxation(t: Tissue, field: FieldStrength) -> Relaxation {
    let at3 = matches!(field, FieldStrength::T3);
    match t {
        Tissue::Air => rel(1000.0, 1.0, 0.0),
        Tissue::Lung => {
            if at3 {
                rel(1300.0, 35.0, 0.2)
            } else {
                rel(1200.0, 40.0, 0.2)
            }
        }
        Tissue::Fat => {
            if at3 {
                rel(382.0, 68.0, 0.9)
            } else {
                rel(343.0, 58.0, 0.9)
            }
        }
        Tissue::Muscle => {
            if at3 {
                rel(898.0, 29.0, 0.8)
            } else {
                rel(856.0, 27.0, 0.8)
            }
        }
        Tissue::Blood => {
            if at3 {
                rel(1932.0, 275.0, 0.85)
            } else {
                rel(1441.0, 290.0, 0.85)
            }
        }
        Tissue::Liver => {
            if at3 {
                rel(809.0, 34.0, 0.75)
            } else {
                rel(586.0, 46.0, 0.75)
            }
        }
        Tissue::Spleen => {
            if at3 {
                rel(1328.0, 61.0, 0.8)
            } else {
                rel(1057.0, 79.0, 0.8)
            }
        }
        Tissue::Kidney => {
            if at3 {
                rel(1142.0, 76.0, 0.85)
            } else {
                rel(966.0, 87.0, 0.85)
            }
        }
        Tissue::BoneCortical => {
            if at3 {
                rel(1000.0, 0.4, 0.05)
            } else {
                rel(1000.0, 0.5, 0.05)
            }
        }
        Tissue::BoneCancellous => {
            if at3 {
                rel(586.0, 49.0, 0.8)
            } else {
                rel(549.0, 49.0, 0.8)
            }
        }
        Tissue::SoftTissue => {
            if at3 {
                rel(1100.0, 40.0, 0.8)
            } else {
                rel(900.0, 45.0, 0.8)
            }
        }
        Tissue::Skin => {
            if at3 {
                rel(700.0, 45.0, 0.8)
            } else {
                rel(600.0, 50.0, 0.8)
            }
        }
        Tissue::Csf => {
            if at3 {
                rel(4300.0, 1800.0, 1.0)
            } else {
                rel(2569.0, 329.0, 1.0)
            }
        }
        Tissue::GreyMatter => {
            if at3 {
                rel(1331.0, 110.0, 0.86)
            } else {
                rel(833.0, 83.0, 0.86)
            }
        }
        Tissue::WhiteMatter => {
            if at3 {
                rel(832.0, 80.0, 0.77)
            } else {
                rel(500.0, 70.0, 0.77)
            }
        }
        Tissue::Lesion => {
            if at3 {
                rel(1600.0, 110.0, 0.85)
            } else {
                rel(1300.0, 120.0, 0.85)
            }
        }
        Tissue::Nodule => {
            if at3 {
                rel(1300.0, 70.0, 0.8)
            } else {
                rel(1000.0, 80.0, 0.8)
            }
        }
    }
}

/// Spin-echo timing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SpinEcho {
    /// Repetition time (ms).
    pub tr_ms: f64,
    /// Echo time (ms).
    pub te_ms: f64,
}

/// The spin-echo signal `S = PD · (1 − e^(−TR/T1)) · e^(−TE/T2)` (unitless, ≤ PD).
pub fn spin_echo(r: Relaxation, seq: SpinEcho) -> f64 {
    if r.pd == 0.0 {
        return 0.0;
    }
    r.pd * (1.0 - (-seq.tr_ms / r.t1_ms).exp()) * (-seq.te_ms / r.t2_ms).exp()
}

/// MR contrast weighting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum MrWeighting {
    /// T1-weighted: short TR, short TE (default).
    #[default]
    T1,
    /// T2-weighted: long TR, long TE.
    T2,
    /// Proton-density-weighted: long TR, short TE.
    Pd,
}

impl MrWeighting {
    /// The spin-echo preset of the weighting (see the [module docs](self)).
    pub const fn preset(self) -> SpinEcho {
        match self {
            MrWeighting::T1 => SpinEcho { tr_ms: 500.0, te_ms: 15.0 },
            MrWeighting::T2 => SpinEcho { tr_ms: 4000.0, te_ms: 100.0 },
            MrWeighting::Pd => SpinEcho { tr_ms: 3000.0, te_ms: 15.0 },
        }
    }
}

/// CT options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CtOptions {
    /// Standard deviation of white Gaussian noise added after partial-volume averaging
    /// (HU; default 0 = noise-free). Clinical CT has ~10–20 HU in soft tissue.
    pub noise_sd_hu: f64,
}

/// MR options.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MrOptions {
    /// Spin-echo timing (default the T1-weighted preset).
    pub sequence: SpinEcho,
    /// Field strength the relaxation times are taken at (default 1.5 T).
    pub field: FieldStrength,
    /// Strength of the multiplicative bias field (default 0 = none): the log of the field is
    /// a random quadratic polynomial of the position normalised to the grid's extent, with
    /// coefficients of standard deviation `bias_strength / 3`, so 0.3 gives roughly ±30 %
    /// intensity variation across the field of view.
    pub bias_strength: f64,
    /// Rician noise level (default 0 = none): the standard deviation of the Gaussian noise on
    /// each of the real and imaginary channels, as a fraction of the brightest tissue signal.
    pub noise: f64,
}

impl Default for MrOptions {
    fn default() -> Self {
        Self::weighted(MrWeighting::T1)
    }
}

impl MrOptions {
    /// Noise-free, bias-free options with the preset timing of `w` at 1.5 T.
    pub fn weighted(w: MrWeighting) -> Self {
        Self { sequence: w.preset(), field: FieldStrength::T1_5, bias_strength: 0.0, noise: 0.0 }
    }
}

/// SynthSeg-style random contrast (Billot et al., "SynthSeg: segmentation of brain MRI
/// scans of any contrast and resolution without retraining", Medical Image Analysis 86,
/// 102789, 2023): every label, background included, gets a random mean intensity in
/// `[0, 1]` and a random within-label standard deviation; then an optional random blur, bias
/// field, gamma and noise. Each `*_max` is the upper end of the uniform range the amount is
/// drawn from; 0 turns the step off.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RandomContrastOptions {
    /// Within-label noise standard deviation, drawn per label from `[0, max]` (default 0.03).
    pub within_label_sd_max: f64,
    /// Gaussian blur σ in voxels, drawn per axis from `[0, max]` (default 1.0).
    pub blur_max_voxels: f64,
    /// Bias-field strength drawn from `[0, max]` (as in [`MrOptions::bias_strength`];
    /// default 0.3).
    pub bias_strength_max: f64,
    /// Standard deviation of `ln γ` for a gamma transform of the normalised image
    /// (default 0.25).
    pub gamma_sd: f64,
    /// White-noise standard deviation drawn from `[0, max]` (default 0.03).
    pub noise_sd_max: f64,
}

impl Default for RandomContrastOptions {
    fn default() -> Self {
        Self {
            within_label_sd_max: 0.03,
            blur_max_voxels: 1.0,
            bias_strength_max: 0.3,
            gamma_sd: 0.25,
            noise_sd_max: 0.03,
        }
    }
}

impl RandomContrastOptions {
    /// Random intensities per label only: no within-label noise, blur, bias, gamma or noise.
    pub fn plain() -> Self {
        Self {
            within_label_sd_max: 0.0,
            blur_max_voxels: 0.0,
            bias_strength_max: 0.0,
            gamma_sd: 0.0,
            noise_sd_max: 0.0,
        }
    }
}

/// Modality choice (what the CLI's `--modality` selects).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Modality {
    /// CT in HU (default).
    #[default]
    Ct,
    /// T1-weighted spin-echo MR.
    T1,
    /// T2-weighted spin-echo MR.
    T2,
    /// Proton-density-weighted spin-echo MR.
    Pd,
    /// SynthSeg-style random contrast.
    Random,
}

/// How labels become intensities.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Contrast {
    /// CT, HU.
    Ct(CtOptions),
    /// Spin-echo MR.
    Mr(MrOptions),
    /// Random per-label contrast.
    Random(RandomContrastOptions),
}

impl Default for Contrast {
    /// Noise-free CT.
    fn default() -> Self {
        Contrast::Ct(CtOptions::default())
    }
}

impl Contrast {
    /// The noise-free, bias-free contrast of a modality (random contrast with the default
    /// augmentations).
    pub fn for_modality(m: Modality) -> Contrast {
        match m {
            Modality::Ct => Contrast::Ct(CtOptions::default()),
            Modality::T1 => Contrast::Mr(MrOptions::weighted(MrWeighting::T1)),
            Modality::T2 => Contrast::Mr(MrOptions::weighted(MrWeighting::T2)),
            Modality::Pd => Contrast::Mr(MrOptions::weighted(MrWeighting::Pd)),
            Modality::Random => Contrast::Random(RandomContrastOptions::default()),
        }
    }

    /// Checks the numeric options.
    pub fn validate(&self) -> Result<(), PhantomError> {
        let nonneg = |name: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(invalid(name, format!("must be a finite number ≥ 0, got {v}")))
            }
        };
        match self {
            Contrast::Ct(o) => nonneg("noise", o.noise_sd_hu),
            Contrast::Mr(o) => {
                nonneg("noise", o.noise)?;
                nonneg("bias", o.bias_strength)?;
                if !(o.sequence.tr_ms > 0.0 && o.sequence.te_ms >= 0.0 && o.sequence.tr_ms.is_finite()) {
                    return Err(invalid(
                        "sequence",
                        format!("needs TR > 0 and TE ≥ 0, got {:?}", o.sequence),
                    ));
                }
                Ok(())
            }
            Contrast::Random(o) => {
                nonneg("within_label_sd_max", o.within_label_sd_max)?;
                nonneg("blur_max_voxels", o.blur_max_voxels)?;
                nonneg("bias_strength_max", o.bias_strength_max)?;
                nonneg("gamma_sd", o.gamma_sd)?;
                nonneg("noise_sd_max", o.noise_sd_max)
            }
        }
    }

    /// The intensity of each label id `0..=MAX_LABEL` before bias, blur and noise. `seed`
    /// draws the random contrast's intensities (unused otherwise).
    pub fn table(&self, seed: u64) -> Vec<f32> {
        let tissue = |id: usize| tissue_of(id as u16).unwrap_or(Tissue::Air);
        match self {
            Contrast::Ct(_) => (0..=MAX_LABEL as usize).map(|id| ct_hu(tissue(id)) as f32).collect(),
            Contrast::Mr(o) => (0..=MAX_LABEL as usize)
                .map(|id| spin_echo(relaxation(tissue(id), o.field), o.sequence) as f32)
                .collect(),
            Contrast::Random(_) => {
                let mut r = rng(seed, tag::RANDOM_CONTRAST);
                (0..=MAX_LABEL as usize).map(|_| r.gen::<f32>()).collect()
            }
        }
    }

    /// Adds what is not a per-tissue value to a rendered image: bias field, Rician noise
    /// (MR), Gaussian noise (CT), within-label variation, blur, bias, gamma and noise
    /// (random). `labels` is the label map on the same grid; `seed` draws every random
    /// quantity (per-slice noise streams, so the result does not depend on thread count).
    pub fn finish(
        &self,
        image: &mut Volume<f32>,
        labels: &LabelVolume,
        seed: u64,
    ) -> Result<(), PhantomError> {
        self.validate()?;
        image.require_same_grid(labels)?;
        match self {
            Contrast::Ct(o) => add_gaussian_noise(image, o.noise_sd_hu, sub_seed(seed, tag::NOISE)),
            Contrast::Mr(o) => {
                if o.bias_strength > 0.0 {
                    apply_bias(image, o.bias_strength, sub_seed(seed, tag::BIAS));
                }
                if o.noise > 0.0 {
                    let top = self.table(seed).iter().copied().fold(0f32, f32::max) as f64;
                    add_rician_noise(image, o.noise * top, sub_seed(seed, tag::NOISE));
                }
            }
            Contrast::Random(o) => {
                let mut r = rng(seed, tag::RANDOM_CONTRAST);
                // Skip the table's draws so the augmentations use fresh numbers.
                for _ in 0..=MAX_LABEL {
                    let _: f32 = r.gen();
                }
                let sds: Vec<f64> =
                    (0..=MAX_LABEL).map(|_| uniform(&mut r, 0.0, o.within_label_sd_max)).collect();
                let blur = [0; 3].map(|_| uniform(&mut r, 0.0, o.blur_max_voxels));
                let bias = uniform(&mut r, 0.0, o.bias_strength_max);
                let gamma = (o.gamma_sd * normal(&mut r)).exp();
                let noise = uniform(&mut r, 0.0, o.noise_sd_max);
                if o.within_label_sd_max > 0.0 {
                    add_label_noise(image, labels, &sds, sub_seed(seed, tag::NOISE ^ 0x100));
                }
                let sp = image.geometry().spacing;
                if blur.iter().any(|&b| b > 0.0) {
                    *image = hounsfield_imgproc::filter::gaussian(image, [0, 1, 2].map(|a| blur[a] * sp[a]))?;
                }
                if bias > 0.0 {
                    apply_bias(image, bias, sub_seed(seed, tag::BIAS));
                }
                normalise_gamma(image, gamma);
                add_gaussian_noise(image, noise, sub_seed(seed, tag::NOISE));
            }
        }
        Ok(())
    }
}

/// A generator for slice `k`'s noise: one ChaCha stream per slice, so slices can be filled
/// in any order by any thread.
fn slice_rng(seed: u64, k: usize) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(k as u64);
    r
}

fn add_gaussian_noise(image: &mut Volume<f32>, sd: f64, seed: u64) {
    if sd <= 0.0 {
        return;
    }
    let plane = image.dims()[0] * image.dims()[1];
    image.data_mut().par_chunks_mut(plane).enumerate().for_each(|(k, sl)| {
        let mut r = slice_rng(seed, k);
        for v in sl {
            *v = (*v as f64 + sd * normal(&mut r)) as f32;
        }
    });
}

/// Magnitude of the signal plus complex Gaussian noise: `|S + n₁ + i n₂|`, which is
/// Rician-distributed (Gudbjartsson & Patz, MRM 34:910–914, 1995).
fn add_rician_noise(image: &mut Volume<f32>, sd: f64, seed: u64) {
    if sd <= 0.0 {
        return;
    }
    let plane = image.dims()[0] * image.dims()[1];
    image.data_mut().par_chunks_mut(plane).enumerate().for_each(|(k, sl)| {
        let mut r = slice_rng(seed, k);
        for v in sl {
            let re = *v as f64 + sd * normal(&mut r);
            let im = sd * normal(&mut r);
            *v = (re * re + im * im).sqrt() as f32;
        }
    });
}

fn add_label_noise(image: &mut Volume<f32>, labels: &LabelVolume, sds: &[f64], seed: u64) {
    let plane = image.dims()[0] * image.dims()[1];
    let ls = labels.data();
    image.data_mut().par_chunks_mut(plane).enumerate().for_each(|(k, sl)| {
        let mut r = slice_rng(seed, k);
        for (o, v) in sl.iter_mut().enumerate() {
            let sd = sds.get(ls[k * plane + o] as usize).copied().unwrap_or(0.0);
            *v = (*v as f64 + sd * normal(&mut r)) as f32;
        }
    });
}

/// Rescales to `[0, 1]` and applies `v^γ`.
fn normalise_gamma(image: &mut Volume<f32>, gamma: f64) {
    let (lo, hi, _) = image.min_max_mean();
    let range = hi - lo;
    image.data_mut().par_iter_mut().for_each(|v| {
        let x = if range > 0.0 { ((*v as f64 - lo) / range).clamp(0.0, 1.0) } else { 0.0 };
        *v = x.powf(gamma) as f32;
    });
}

/// The multiplicative bias field of strength `strength` at every voxel (see
/// [`MrOptions::bias_strength`]). Positions are normalised to `[−1, 1]` over the grid's world
/// extent, so the same field of view gives the same field at any resolution.
pub fn bias_field(
    labels_grid: &crate::scene::Grid,
    strength: f64,
    seed: u64,
) -> Result<Volume<f32>, PhantomError> {
    let mut v = Volume::filled(labels_grid.dims, labels_grid.geometry, 1f32)?;
    apply_bias(&mut v, strength, seed);
    Ok(v)
}

fn apply_bias(image: &mut Volume<f32>, strength: f64, seed: u64) {
    let grid = crate::scene::Grid::new(image.dims(), *image.geometry());
    let b = grid.world_bbox();
    let centre: [f64; 3] = std::array::from_fn(|a| 0.5 * (b.min[a] + b.max[a]));
    let half: [f64; 3] = std::array::from_fn(|a| (0.5 * (b.max[a] - b.min[a])).max(1e-9));
    let mut r = rng(seed, tag::BIAS);
    // Coefficients of x, y, z, x², y², z², xy, xz, yz.
    let c: [f64; 9] = std::array::from_fn(|_| strength / 3.0 * normal(&mut r));
    let i2w = image.geometry().index_to_world_affine();
    let [nx, ny, _] = image.dims();
    image.data_mut().par_chunks_mut(nx * ny).enumerate().for_each(|(k, sl)| {
        for j in 0..ny {
            for i in 0..nx {
                let p = i2w.apply([i as f64, j as f64, k as f64]);
                let [x, y, z] = [0, 1, 2].map(|a| (p[a] - centre[a]) / half[a]);
                let l = c[0] * x
                    + c[1] * y
                    + c[2] * z
                    + c[3] * x * x
                    + c[4] * y * y
                    + c[5] * z * z
                    + c[6] * x * y
                    + c[7] * x * z
                    + c[8] * y * z;
                let v = &mut sl[i + nx * j];
                *v = (*v as f64 * l.exp()) as f32;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_echo_by_hand() {
        // White matter, 1.5 T, T1w: 0.77 · (1 − e^(−500/500)) · e^(−15/70).
        let s = spin_echo(relaxation(Tissue::WhiteMatter, FieldStrength::T1_5), MrWeighting::T1.preset());
        let hand = 0.77 * (1.0 - (-1.0f64).exp()) * (-15.0f64 / 70.0).exp();
        // 1e-12: the same three operations in f64.
        assert!((s - hand).abs() < 1e-12);
        // 0.77 · 0.632121 · 0.807118 = 0.392851 (computed by hand).
        assert!((s - 0.392_851).abs() < 1e-5, "{s}");
        assert_eq!(spin_echo(relaxation(Tissue::Air, FieldStrength::T3), MrWeighting::T2.preset()), 0.0);
    }

    #[test]
    fn weightings_order_brain_tissues() {
        let s = |t, w: MrWeighting| spin_echo(relaxation(t, FieldStrength::T1_5), w.preset());
        use Tissue::*;
        // T1w: WM > GM > CSF; T2w: CSF > GM > WM — the textbook appearance.
        assert!(s(WhiteMatter, MrWeighting::T1) > s(GreyMatter, MrWeighting::T1));
        assert!(s(GreyMatter, MrWeighting::T1) > s(Csf, MrWeighting::T1));
        assert!(s(Csf, MrWeighting::T2) > s(GreyMatter, MrWeighting::T2));
        assert!(s(GreyMatter, MrWeighting::T2) > s(WhiteMatter, MrWeighting::T2));
        let s3 = |t| spin_echo(relaxation(t, FieldStrength::T3), MrWeighting::T1.preset());
        assert!(s3(WhiteMatter) > s3(GreyMatter) && s3(GreyMatter) > s3(Csf));
        assert!(s(Fat, MrWeighting::T1) > s(Muscle, MrWeighting::T1));
    }

    #[test]
    fn validate_rejects_negative_noise() {
        assert!(Contrast::Ct(CtOptions { noise_sd_hu: -1.0 }).validate().is_err());
        let mr = MrOptions { noise: f64::NAN, ..MrOptions::default() };
        assert!(Contrast::Mr(mr).validate().is_err());
        assert!(Contrast::for_modality(Modality::Random).validate().is_ok());
    }
}
