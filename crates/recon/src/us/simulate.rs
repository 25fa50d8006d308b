//! Channel-data simulation: point scatterers in the imaging plane, a pulse-echo point-spread
//! approximation, speckle from random scatterers whose amplitude follows a label map.
//!
//! The model (documented so its predictions can be checked): a scatterer of amplitude `a` at
//! `p` contributes to element `e`'s trace
//!
//! `a · D(φ) · 10^(−α·f_c·d/20) · h(t − τ_tx(p) − |p − e|/c)`
//!
//! with `h(t) = exp(−t²/2σ²)·cos(2π f_c t)` the pulse-echo response (σ from the probe's
//! fractional bandwidth, [`Probe::pulse_sigma_us`]), `τ_tx` the transmit delay
//! ([`Transmit::delay_us`]: an ideal plane or focused front, no transmit diffraction),
//! `D(φ) = sinc(w·sin φ/λ)·cos φ` the receive directivity of an element of width `w` seen at
//! angle `φ` from its normal, `α` the attenuation in dB/cm/MHz applied at the centre frequency
//! over the round-trip path `d` (cm), and no geometric spreading. Scatterers lie in the image
//! plane (no elevation). This is the linear, first-order (Born) model Field II evaluates with
//! spatial impulse responses; it gives fully developed speckle at ≥ 10 scatterers per
//! resolution cell and point-spread functions whose widths [`predicted_fwhm_mm`] states.

use hounsfield_core::{Geometry, LabelVolume};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::probe::{Probe, Transmit};
use crate::error::{invalid, ReconError};

/// One point scatterer in the image plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scatterer {
    /// Lateral position, mm.
    pub x: f64,
    /// Depth, mm.
    pub z: f64,
    /// Reflection amplitude (signed).
    pub amplitude: f64,
}

/// Labels of the built-in phantoms' label maps.
pub mod labels {
    /// Speckle-generating background tissue (0 dB).
    pub const TISSUE: u16 = 1;
    /// Anechoic cyst (no scatterers).
    pub const CYST: u16 = 2;
    /// Hyperechoic inclusion (+6 dB).
    pub const HYPERECHOIC: u16 = 3;
}

/// A built-in phantom: a label map in the imaging plane (x lateral, y = depth, mm), the
/// echogenicity of each label, and isolated point targets.
#[derive(Clone, Debug)]
pub struct UsPhantom {
    /// Label map, `[nx, nz, 1]`; its x axis is lateral and its y axis depth (mm).
    pub labels: LabelVolume,
    /// Amplitude (linear, relative to tissue) per label id; labels not listed scatter nothing.
    pub echogenicity: Vec<(u16, f64)>,
    /// Point targets `(x, z)` in mm, each of amplitude `point_amplitude`.
    pub points: Vec<[f64; 2]>,
    /// Amplitude of the point targets relative to one tissue scatterer's standard deviation.
    pub point_amplitude: f64,
    /// Cysts and inclusions `(x, z, radius, label)` as drawn (for metrics).
    pub regions: Vec<([f64; 2], f64, u16)>,
}

/// Which built-in phantom.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PhantomKind {
    /// Speckle with two anechoic cysts and two +6 dB inclusions (contrast; PICMUS-like).
    #[default]
    Cysts,
    /// Point targets in an echo-free medium (resolution; PICMUS-like).
    Points,
}

impl UsPhantom {
    /// A PICMUS-like phantom over x ∈ [−18, 18] mm, z ∈ [5, 50] mm on a 0.1 mm label grid.
    pub fn builtin(kind: PhantomKind) -> Result<UsPhantom, ReconError> {
        let h = 0.1f64;
        let (x0, z0, x1, z1) = (-18.0f64, 5.0f64, 18.0f64, 50.0f64);
        let nx = ((x1 - x0) / h).round() as usize + 1;
        let nz = ((z1 - z0) / h).round() as usize + 1;
        let geometry = Geometry { origin: [x0, z0, 0.0], spacing: [h, h, 1.0], ..Geometry::default() };
        let mut labels = LabelVolume::background([nx, nz, 1], geometry)?;
        let (regions, points, echo) = match kind {
            PhantomKind::Cysts => (
                vec![
                    ([-7.0, 17.0], 3.0, labels::CYST),
                    ([7.0, 32.0], 4.0, labels::CYST),
                    ([7.0, 17.0], 3.0, labels::HYPERECHOIC),
                    ([-7.0, 32.0], 4.0, labels::HYPERECHOIC),
                ],
                Vec::new(),
                vec![(labels::TISSUE, 1.0), (labels::HYPERECHOIC, 2.0)],
            ),
            PhantomKind::Points => (
                Vec::new(),
                vec![[0.0, 10.0], [0.0, 20.0], [0.0, 30.0], [0.0, 40.0], [-10.0, 25.0], [10.0, 25.0]],
                Vec::new(),
            ),
        };
        let fill = if kind == PhantomKind::Cysts { labels::TISSUE } else { 0 };
        let data = labels.as_volume_mut().data_mut();
        for j in 0..nz {
            for i in 0..nx {
                let (x, z) = (x0 + i as f64 * h, z0 + j as f64 * h);
                let mut l = fill;
                for &([cx, cz], r, id) in &regions {
                    if (x - cx).powi(2) + (z - cz).powi(2) <= r * r {
                        l = id;
                    }
                }
                data[j * nx + i] = l;
            }
        }
        Ok(UsPhantom { labels, echogenicity: echo, points, point_amplitude: 30.0, regions })
    }

    /// Scatterers: `density` per mm² spread uniformly over the label map with normal random
    /// amplitudes (Rayleigh speckle) scaled by their label's echogenicity, plus the point
    /// targets. Seeded.
    pub fn scatterers(&self, density_per_mm2: f64, seed: u64) -> Result<Vec<Scatterer>, ReconError> {
        if !(density_per_mm2.is_finite() && density_per_mm2 >= 0.0) {
            return Err(invalid("density", format!("must be ≥ 0 per mm², got {density_per_mm2}")));
        }
        let [nx, nz, _] = self.labels.dims();
        let g = self.labels.geometry();
        let (w, d) = ((nx - 1) as f64 * g.spacing[0], (nz - 1) as f64 * g.spacing[1]);
        let count = (density_per_mm2 * w * d).round();
        if count > 5e7 {
            return Err(invalid("density", format!("{count} scatterers is more than 5·10⁷")));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let data = self.labels.as_volume().data();
        let mut out = Vec::with_capacity(count as usize + self.points.len());
        for _ in 0..count as usize {
            let (u, v): (f64, f64) = (rng.gen(), rng.gen());
            let amp = normal(&mut rng);
            let (i, j) = ((u * (nx - 1) as f64).round() as usize, (v * (nz - 1) as f64).round() as usize);
            let l = data[j * nx + i];
            if let Some(&(_, e)) = self.echogenicity.iter().find(|(id, _)| *id == l) {
                out.push(Scatterer { x: g.origin[0] + u * w, z: g.origin[1] + v * d, amplitude: amp * e });
            }
        }
        out.extend(self.points.iter().map(|&[x, z]| Scatterer { x, z, amplitude: self.point_amplitude }));
        Ok(out)
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.gen::<f64>().max(1e-300);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Options of [`simulate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulateOptions {
    /// Samples per trace (default: enough for the deepest scatterer).
    pub samples: Option<usize>,
    /// Attenuation, dB/cm/MHz (default 0.5, soft tissue).
    pub attenuation_db_cm_mhz: f64,
    /// Signal-to-noise ratio of the channel data, dB relative to its RMS (default 40; `None`:
    /// noise-free).
    pub snr_db: Option<f64>,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        Self { samples: None, attenuation_db_cm_mhz: 0.5, snr_db: Some(40.0), seed: 0 }
    }
}

/// Channel data of `transmits` by `probe` from `scatterers`: `[samples, elements, transmits]`,
/// samples fastest, first sample at t = 0 (the probe's acquisition is not consulted; the
/// caller records `transmits` in it).
pub fn simulate(
    probe: &Probe,
    transmits: &[Transmit],
    scatterers: &[Scatterer],
    options: &SimulateOptions,
) -> Result<(Vec<f32>, [usize; 3]), ReconError> {
    probe.validate()?;
    if transmits.is_empty() {
        return Err(invalid("transmits", "at least one transmission is needed"));
    }
    if !(options.attenuation_db_cm_mhz.is_finite() && options.attenuation_db_cm_mhz >= 0.0) {
        return Err(invalid(
            "attenuation",
            format!("must be ≥ 0 dB/cm/MHz, got {}", options.attenuation_db_cm_mhz),
        ));
    }
    if let Some(s) = scatterers
        .iter()
        .find(|s| !(s.x.is_finite() && s.z.is_finite() && s.z > 0.0 && s.amplitude.is_finite()))
    {
        return Err(invalid("scatterers", format!("{s:?} is not a finite point in front of the probe")));
    }
    let c = probe.c_mm_us();
    let fs = probe.fs_mhz();
    let fc = probe.fc_mhz();
    let sigma = probe.pulse_sigma_us();
    let half = 4.0 * sigma;
    let ne = probe.elements;
    let ns = match options.samples {
        Some(n) if n > 0 => n,
        Some(_) => return Err(invalid("samples", "must be ≥ 1")),
        None => {
            let far = probe.element_x(0).abs() + scatterers.iter().map(|s| s.x.abs()).fold(0.0, f64::max);
            let deep = scatterers.iter().map(|s| s.z).fold(0.0, f64::max);
            let t = transmits.iter().map(|t| t.delay_us(far, deep, c).max(deep / c)).fold(0.0, f64::max)
                + (far * far + deep * deep).sqrt() / c
                + half;
            (t * fs).ceil() as usize + 1
        }
    };
    let nt = transmits.len();
    hounsfield_core::check_alloc((ns * ne * nt) as u128, 4)?;
    // The pulse, tabulated 64 times finer than the sampling and interpolated linearly (its
    // largest second derivative bounds the error below 1e-3 of the peak).
    let per = 64.0 * fs;
    let nt_tab = (2.0 * half * per).ceil() as usize + 2;
    let table: Vec<f32> = (0..nt_tab)
        .map(|i| {
            let t = i as f64 / per - half;
            ((-t * t / (2.0 * sigma * sigma)).exp() * (2.0 * std::f64::consts::PI * fc * t).cos()) as f32
        })
        .collect();
    let lambda = probe.wavelength_mm();
    let width = probe.element_width_mm.unwrap_or(0.9 * probe.pitch_mm);
    // Amplitude loss per mm of path: α dB/cm/MHz × fc MHz / 10 mm/cm, as a natural exponent.
    let att = options.attenuation_db_cm_mhz * fc / 10.0 * std::f64::consts::LN_10 / 20.0;
    let mut rf = vec![0f32; ns * ne * nt];
    for (t, tx) in transmits.iter().enumerate() {
        // Per scatterer: transmit delay and transmit-path attenuation.
        let pre: Vec<(f64, f64)> = scatterers
            .iter()
            .map(|s| {
                let tau = tx.delay_us(s.x, s.z, c);
                let path = (tau * c).max(s.z);
                (tau, s.amplitude * (-att * path).exp())
            })
            .collect();
        rf[t * ns * ne..(t + 1) * ns * ne].par_chunks_mut(ns).enumerate().for_each(|(e, trace)| {
            let xe = probe.element_x(e);
            for (s, &(tau_tx, a)) in scatterers.iter().zip(&pre) {
                let dx = s.x - xe;
                let r = (dx * dx + s.z * s.z).sqrt();
                let sin_phi = dx / r;
                let arg = std::f64::consts::PI * width * sin_phi / lambda;
                let sinc = if arg.abs() < 1e-9 { 1.0 } else { arg.sin() / arg };
                let amp = a * sinc * (s.z / r) * (-att * r).exp();
                let tau = tau_tx + r / c;
                let k0 = ((tau - half) * fs).ceil().max(0.0) as usize;
                let k1 = (((tau + half) * fs).floor() as usize).min(ns.saturating_sub(1));
                for (k, v) in trace.iter_mut().enumerate().take(k1 + 1).skip(k0) {
                    let u = (k as f64 / fs - tau + half) * per;
                    let i = u as usize;
                    if i + 1 < table.len() {
                        let f = (u - i as f64) as f32;
                        *v += (amp as f32) * (table[i] + f * (table[i + 1] - table[i]));
                    }
                }
            }
        });
    }
    if let Some(snr) = options.snr_db {
        if !snr.is_finite() {
            return Err(invalid("snr", "must be finite"));
        }
        let rms = (rf.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / rf.len().max(1) as f64).sqrt();
        let sd = rms * 10f64.powf(-snr / 20.0);
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x5eed_0005);
        for v in rf.iter_mut() {
            *v += (normal(&mut rng) * sd) as f32;
        }
    }
    Ok((rf, [ns, ne, nt]))
}

/// Full widths at half maximum (mm, −6 dB of the envelope) the model predicts for a point
/// imaged by one 0° plane wave and a receive f-number `f_number` with a boxcar (`hann =
/// false`) or Hann aperture: axial `c·σ·2√(2 ln 2)/2` (the pulse envelope's FWHM in time,
/// halved for the round trip); lateral `1.207·λ·F` (boxcar: |sinc| falls to one half at
/// ±0.603 λF) or `2.00·λ·F` (Hann: its −6 dB main-lobe width, Harris 1978), the one-way
/// receive focus of an aperture `z/F` wide, since a plane wave does not focus laterally. Holds
/// where the aperture `z/F` fits on the probe.
pub fn predicted_fwhm_mm(probe: &Probe, f_number: f64, hann: bool) -> (f64, f64) {
    let axial = probe.c_mm_us() * probe.pulse_sigma_us() * 2.0 * (2.0 * std::f64::consts::LN_2).sqrt() / 2.0;
    let k = if hann { 2.00 } else { 1.207 };
    (axial, k * probe.wavelength_mm() * f_number)
}
