//! Simulated CT data: sinograms of any volume, photon (Poisson) noise for a given dose, and
//! digitally reconstructed radiographs (DRR).
//!
//! # Attenuation
//!
//! CT volumes hold Hounsfield units; projectors integrate linear attenuation μ (mm⁻¹). The
//! conversion is `μ = μ_water·(1 + HU/1000)`, clamped at 0 (air), with `μ_water` for the
//! chosen effective energy: [`MU_WATER_70KEV`] by default, water's attenuation at 70 keV
//! (NIST XCOM: μ/ρ = 0.1929 cm²/g, ρ = 1 g/cm³), the effective energy of a 120 kVp
//! spectrum. Line integrals are then dimensionless and reconstructions come back in mm⁻¹
//! ([`mu_to_hu`] converts back).
//!
//! # Noise
//!
//! A ray with line integral `p` receives `I = Poisson(I₀·e^{−p})` photons from `I₀` emitted
//! (the dose), and the measured line integral is `−ln(I/I₀)`; rays with no photon count as
//! one (`ln 0` is undefined; scanners clamp the same way). Each detector line draws from its
//! own ChaCha8 stream (`seed`, line index), so the result is the same for any thread count.

use hounsfield_core::{Geometry, Volume};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::geometry::{GeometrySpec, ScanGeometry, VolumeGrid};
use super::projector::{JosephProjector, Projector};
use crate::error::{invalid, ReconError};

/// Linear attenuation of water at 70 keV in mm⁻¹ (NIST XCOM 0.1929 cm²/g).
pub const MU_WATER_70KEV: f64 = 0.01929;

/// Linear attenuation of water at 511 keV (PET annihilation photons) in mm⁻¹ (NIST XCOM
/// 0.0960 cm²/g).
pub const MU_WATER_511KEV: f64 = 0.00960;

/// `μ = μ_water·(1 + HU/1000)`, clamped at 0.
pub fn hu_to_mu(volume: &Volume<f32>, mu_water: f64) -> Volume<f32> {
    let k = mu_water as f32;
    volume.map(|&h| (k * (1.0 + h / 1000.0)).max(0.0))
}

/// `HU = 1000·(μ/μ_water − 1)`.
pub fn mu_to_hu(volume: &Volume<f32>, mu_water: f64) -> Volume<f32> {
    let k = mu_water as f32;
    volume.map(|&m| 1000.0 * (m / k - 1.0))
}

/// What a volume handed to the simulator holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Intensity {
    /// Hounsfield units, converted with `mu_water` (default).
    #[default]
    Hu,
    /// Linear attenuation in mm⁻¹ (used as is).
    Attenuation,
}

/// The dose of a simulated scan.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Dose {
    /// Exact line integrals (default).
    #[default]
    Noiseless,
    /// `I₀` photons per ray (e.g. 1e5 for a routine dose, 1e4 for low dose).
    Photons(f64),
}

/// Options of [`simulate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulateOptions {
    /// What the volume holds (default HU).
    pub intensity: Intensity,
    /// Water's attenuation at the effective energy, mm⁻¹ (default [`MU_WATER_70KEV`]).
    pub mu_water: f64,
    /// Dose (default noiseless).
    pub dose: Dose,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        Self { intensity: Intensity::Hu, mu_water: MU_WATER_70KEV, dose: Dose::Noiseless, seed: 0 }
    }
}

/// The sinogram of `volume` (on its own grid) for `scan`, with photon noise for the dose.
pub fn simulate(
    volume: &Volume<f32>,
    scan: &ScanGeometry,
    options: &SimulateOptions,
) -> Result<Volume<f32>, ReconError> {
    if !(options.mu_water.is_finite() && options.mu_water > 0.0) {
        return Err(invalid("mu_water", format!("must be positive, got {}", options.mu_water)));
    }
    crate::error::check_finite("volume", volume.data())?;
    let mu = match options.intensity {
        Intensity::Hu => hu_to_mu(volume, options.mu_water),
        Intensity::Attenuation => volume.clone(),
    };
    let p = JosephProjector::new(scan, &VolumeGrid::of(volume)?)?;
    let mut sino = p.project(&mu)?;
    if let Dose::Photons(i0) = options.dose {
        add_photon_noise(sino.data_mut(), scan.cols(), i0, options.seed)?;
    }
    Ok(sino)
}

/// Replaces line integrals by noisy ones for `i0` photons per ray (see the
/// [module docs](self#noise)); `line` values per random stream.
pub fn add_photon_noise(sinogram: &mut [f32], line: usize, i0: f64, seed: u64) -> Result<(), ReconError> {
    if !(1.0..=1e12).contains(&i0) {
        return Err(invalid("dose", format!("photons per ray must be 1..=1e12, got {i0}")));
    }
    let line = line.max(1);
    let ln_i0 = i0.ln();
    sinogram.par_chunks_mut(line).enumerate().for_each(|(l, vals)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(l as u64);
        for v in vals {
            let mean = i0 * (-(*v as f64)).exp();
            let n = poisson(&mut rng, mean).max(1.0);
            *v = (ln_i0 - n.ln()) as f32;
        }
    });
    Ok(())
}

/// A Poisson variate: multiplication of uniforms below mean 10, Hörmann's PTRS (transformed
/// rejection with squeeze; Hörmann 1993, Insurance Math. Econom. 12:39) above.
pub fn poisson<R: Rng>(rng: &mut R, mean: f64) -> f64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0.0;
    }
    if mean < 10.0 {
        let l = (-mean).exp();
        let mut k = 0.0;
        let mut p: f64 = rng.gen();
        while p > l {
            k += 1.0;
            p *= rng.gen::<f64>();
        }
        return k;
    }
    let slam = mean.sqrt();
    let loglam = mean.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.gen::<f64>() - 0.5;
        let v: f64 = rng.gen();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + mean + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln() <= -mean + k * loglam - ln_factorial(k) {
            return k;
        }
    }
}

/// `ln k!` (exact sum below 20, Stirling's series above; error < 1e-10).
fn ln_factorial(k: f64) -> f64 {
    if k < 20.0 {
        (2..=(k as u64)).map(|i| (i as f64).ln()).sum()
    } else {
        let x = k + 1.0;
        (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
            - 1.0 / (360.0 * x.powi(3))
    }
}

/// What a DRR pixel shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DrrOutput {
    /// The line integral `∫μ` (dimensionless): bone bright, air dark, as on film (default).
    #[default]
    LineIntegral,
    /// The transmitted fraction `e^{−∫μ}`.
    Transmission,
}

/// Options of [`drr`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrrOptions {
    /// Water's attenuation at the effective energy, mm⁻¹ (default [`MU_WATER_70KEV`]).
    pub mu_water: f64,
    /// What the pixels hold (default line integrals).
    pub output: DrrOutput,
}

impl Default for DrrOptions {
    fn default() -> Self {
        Self { mu_water: MU_WATER_70KEV, output: DrrOutput::LineIntegral }
    }
}

/// The digitally reconstructed radiograph of a CT volume (HU) for view `view` of a cone-beam
/// scan: a one-slice image of `detector_count × detector_rows` pixels whose geometry is the
/// detector itself in the patient's world — origin the world position (mm) of the top-left
/// pixel, column axis `e_u`, row axis `−z` (row 0 is the most superior row, as radiographs
/// are displayed), third axis the ray direction `d`, spacing the detector pitch.
pub fn drr(
    ct_hu: &Volume<f32>,
    scan: &ScanGeometry,
    view: usize,
    options: &DrrOptions,
) -> Result<Volume<f32>, ReconError> {
    if !matches!(scan.beam(), super::geometry::Beam::Cone { .. }) {
        return Err(ReconError::UnsupportedGeometry {
            method: "drr",
            geometry: scan.kind().name(),
            hint: "a radiograph needs a cone-beam geometry (kind = \"cone\")",
        });
    }
    let nv = scan.views();
    let angle = *scan.angles().get(view).ok_or(ReconError::ViewIndex { view, views: nv })?;
    let one = ScanGeometry::from_spec(GeometrySpec {
        views: None,
        arc_deg: None,
        start_deg: None,
        angles_deg: Some(vec![angle.to_degrees()]),
        ..scan.spec().clone()
    })?;
    let sino = simulate(ct_hu, &one, &SimulateOptions { mu_water: options.mu_water, ..Default::default() })?;
    let (nc, nr) = (one.cols(), one.rows());
    let src = sino.data();
    let mut img = Vec::with_capacity(nc * nr);
    for r in (0..nr).rev() {
        let row = &src[r * nc..(r + 1) * nc];
        match options.output {
            DrrOutput::LineIntegral => img.extend_from_slice(row),
            DrrOutput::Transmission => img.extend(row.iter().map(|p| (-p).exp())),
        }
    }
    let f = one.frame(0);
    let (sod, sdd) = match one.beam() {
        super::geometry::Beam::Cone { sod, sdd } => (sod, sdd),
        _ => (0.0, 0.0),
    };
    let c = one.isocentre();
    let (u0, vtop) = (one.u_of(0.0), one.v_of((nr - 1) as f64));
    let origin = [0, 1, 2].map(|a| c[a] + (sdd - sod) * f.d[a] + u0 * f.e_u[a] + vtop * f.e_v[a]);
    let direction = [[f.e_u[0], 0.0, f.d[0]], [f.e_u[1], 0.0, f.d[1]], [f.e_u[2], -1.0, f.d[2]]];
    let geometry = Geometry { origin, spacing: [one.col_spacing(), one.row_spacing(), 1.0], direction };
    Ok(Volume::from_vec([nc, nr, 1], geometry, img)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_and_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for mean in [0.5, 4.0, 37.0, 1e4] {
            let n = 20_000;
            let xs: Vec<f64> = (0..n).map(|_| poisson(&mut rng, mean)).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
            // 5 standard errors of the mean (√(mean/n)) and ~5 of the variance.
            assert!((m - mean).abs() < 5.0 * (mean / n as f64).sqrt(), "{mean}: mean {m}");
            assert!((v / mean - 1.0).abs() < 0.05, "{mean}: var {v}");
        }
    }

    #[test]
    fn noise_is_reproducible_and_unbiased_at_high_dose() {
        let mut a = vec![1.5f32; 4096];
        let mut b = a.clone();
        add_photon_noise(&mut a, 64, 1e5, 7).unwrap();
        add_photon_noise(&mut b, 64, 1e5, 7).unwrap();
        assert_eq!(a, b);
        let m = a.iter().map(|&v| v as f64).sum::<f64>() / a.len() as f64;
        // σ(p) = 1/√(I₀e^{−p}) ≈ 0.0067 per ray; the mean of 4096 is within 5e-4.
        assert!((m - 1.5).abs() < 5e-4, "{m}");
        assert!(add_photon_noise(&mut a, 64, f64::NAN, 0).is_err());
    }
}
