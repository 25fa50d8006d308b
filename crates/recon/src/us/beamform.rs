//! Delay-and-sum beamforming of channel data onto a Cartesian grid, with coherent compounding
//! over transmissions, dynamic receive aperture and apodization, and an optional coherence
//! factor.
//!
//! Steps (each one is what `bench/us_beamform_vs_numpy.py` repeats in NumPy):
//!
//! 1. **IQ demodulation.** Each trace's analytic signal by FFT (the spectrum's negative
//!    frequencies zeroed and its positive ones doubled, as `scipy.signal.hilbert`), then
//!    shifted to baseband: `iq(t) = a(t)·exp(−2πi f_c t)`.
//! 2. **Delays.** For pixel `p = (x, z)`, transmission `t` and element `e`:
//!    `τ = τ_tx(p) + |p − e|/c` ([`Transmit::delay_us`]).
//! 3. **Interpolation and phase rotation.** `iq` is interpolated linearly at `τ` (it varies
//!    slowly at baseband) and turned back to the analytic signal by `exp(2πi f_c τ)`.
//! 4. **Aperture.** Elements with `|x − x_e| ≤ z/(2F)` take part (F the receive f-number),
//!    weighted by the apodization window across that aperture.
//! 5. **Sum** over elements and transmissions (coherent compounding). With the coherence
//!    factor, the per-element sums over transmissions `s_e` give
//!    `CF = |Σ s_e|² / (N Σ |s_e|²)` (Hollman 1999), which multiplies the pixel.
//!
//! The grid is Cartesian (x lateral, z depth), so for a linear array there is no scan
//! conversion: pixels are where they are, in mm.

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::probe::{Probe, Transmit};
use crate::error::{check_finite, invalid, ReconError};

/// A Cartesian image grid: `nx` columns from `x0` by `dx`, `nz` rows from `z0` by `dz` (mm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageGrid {
    /// First column's lateral position, mm.
    pub x0: f64,
    /// Column spacing, mm.
    pub dx: f64,
    /// Columns.
    pub nx: usize,
    /// First row's depth, mm.
    pub z0: f64,
    /// Row spacing, mm.
    pub dz: f64,
    /// Rows.
    pub nz: usize,
}

impl ImageGrid {
    /// `nx × nz` pixels covering `[x_min, x_max] × [z_min, z_max]` (mm), ends included.
    pub fn spanning(x: [f64; 2], z: [f64; 2], nx: usize, nz: usize) -> Result<ImageGrid, ReconError> {
        if !x.iter().chain(&z).all(|v| v.is_finite()) || nx < 2 || nz < 2 || x[1] <= x[0] || z[1] <= z[0] {
            return Err(invalid(
                "image grid",
                format!("needs ≥ 2 × 2 pixels over a non-empty span, got {nx} × {nz} over x {x:?}, z {z:?}"),
            ));
        }
        if z[0] <= 0.0 {
            return Err(invalid(
                "image grid",
                format!("must lie in front of the probe (z > 0), starts at z = {} mm", z[0]),
            ));
        }
        Ok(ImageGrid {
            x0: x[0],
            dx: (x[1] - x[0]) / (nx - 1) as f64,
            nx,
            z0: z[0],
            dz: (z[1] - z[0]) / (nz - 1) as f64,
            nz,
        })
    }
}

/// Receive apodization across the active aperture.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Apodization {
    /// Uniform weights.
    Boxcar,
    /// Hann window (the default: low side lobes).
    #[default]
    Hann,
    /// Tukey window with the given taper fraction (0 = boxcar, 1 = Hann).
    Tukey(f64),
}

impl Apodization {
    /// Weight at `u ∈ [−½, ½]` across the aperture.
    #[inline]
    pub fn weight(&self, u: f64) -> f64 {
        let hann = |u: f64| 0.5 * (1.0 + (2.0 * std::f64::consts::PI * u).cos());
        match *self {
            Apodization::Boxcar => 1.0,
            Apodization::Hann => hann(u),
            Apodization::Tukey(a) => {
                let edge = 0.5 * (1.0 - a);
                if u.abs() <= edge || a <= 0.0 {
                    1.0
                } else {
                    // A Hann taper over the outer a/2 on each side.
                    0.5 * (1.0 + (std::f64::consts::PI * (u.abs() - edge) / (0.5 * a)).cos())
                }
            }
        }
    }
}

/// Beamformer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// Delay and sum.
    #[default]
    Das,
    /// Delay and sum weighted by the coherence factor.
    DasCoherenceFactor,
}

/// Options of [`beamform`].
#[derive(Clone, Debug, PartialEq)]
pub struct BeamformOptions {
    /// Receive f-number (default 1.5).
    pub f_number: f64,
    /// Apodization (default Hann).
    pub apodization: Apodization,
    /// Beamformer (default DAS).
    pub method: Method,
    /// Transmissions to compound, by index (default all).
    pub transmits: Option<Vec<usize>>,
}

impl Default for BeamformOptions {
    fn default() -> Self {
        Self { f_number: 1.5, apodization: Apodization::Hann, method: Method::Das, transmits: None }
    }
}

/// A beamformed image: complex (analytic) pixel values, x fastest, and the coherence factor
/// when asked for.
#[derive(Clone, Debug)]
pub struct Beamformed {
    /// The grid.
    pub grid: ImageGrid,
    /// Pixel values (re, im), `nx·nz`, x fastest.
    pub iq: Vec<[f32; 2]>,
    /// Coherence factor per pixel (DAS-CF only; already applied to `iq`).
    pub coherence: Option<Vec<f32>>,
}

impl Beamformed {
    /// The envelope `|iq|` per pixel.
    pub fn envelope(&self) -> Vec<f32> {
        self.iq.iter().map(|[r, i]| r.hypot(*i)).collect()
    }
}

/// Checks that channel data of `dims` (`[samples, elements, transmissions]`) fit `probe`.
pub fn check_channel_data(probe: &Probe, dims: [usize; 3]) -> Result<Vec<Transmit>, ReconError> {
    probe.validate()?;
    let transmits = probe.transmits();
    if transmits.is_empty() {
        return Err(invalid(
            "probe",
            "has no [acquisition] listing the transmitted waves (angles_deg or foci_mm)",
        ));
    }
    if dims[1] != probe.elements {
        return Err(invalid(
            "probe",
            format!("describes {} elements, the channel data have {} channels", probe.elements, dims[1]),
        ));
    }
    if dims[2] != transmits.len() {
        return Err(invalid(
            "probe",
            format!("lists {} transmissions, the channel data hold {}", transmits.len(), dims[2]),
        ));
    }
    if dims[0] < 2 {
        return Err(invalid("channel data", format!("need ≥ 2 samples per trace, got {}", dims[0])));
    }
    Ok(transmits)
}

/// Baseband IQ data of real traces (`[samples, elements, transmissions]`, samples fastest),
/// same layout; the first sample is at `t0_us`.
pub fn iq_demodulate(rf: &[f32], dims: [usize; 3], probe: &Probe, t0_us: f64) -> Vec<[f32; 2]> {
    let ns = dims[0];
    let fs = probe.fs_mhz();
    let fc = probe.fc_mhz();
    let mut planner = FftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(ns);
    let inv = planner.plan_fft_inverse(ns);
    let mut out = vec![[0f32; 2]; rf.len()];
    // Baseband rotation per sample, shared by every trace.
    let rot: Vec<Complex<f64>> = (0..ns)
        .map(|k| {
            let ph = -2.0 * std::f64::consts::PI * fc * (t0_us + k as f64 / fs);
            Complex::new(ph.cos(), ph.sin())
        })
        .collect();
    out.par_chunks_mut(ns).zip(rf.par_chunks(ns)).for_each_init(
        || vec![Complex::new(0.0, 0.0); ns],
        |buf, (o, x)| {
            for (b, &v) in buf.iter_mut().zip(x) {
                *b = Complex::new(v as f64, 0.0);
            }
            fwd.process(buf);
            // Analytic signal: keep DC (and Nyquist), double positive, zero negative frequencies.
            let half = ns / 2;
            for (k, b) in buf.iter_mut().enumerate() {
                let h = if k == 0 || (ns % 2 == 0 && k == half) {
                    1.0
                } else if k < ns.div_ceil(2) {
                    2.0
                } else {
                    0.0
                };
                *b *= h / ns as f64;
            }
            inv.process(buf);
            for ((o, b), r) in o.iter_mut().zip(buf.iter()).zip(&rot) {
                let v = b * r;
                *o = [v.re as f32, v.im as f32];
            }
        },
    );
    out
}

/// Beamforms channel data `rf` (`[samples, elements, transmissions]`, samples fastest) recorded
/// by `probe` (whose `[acquisition]` lists the transmissions and start time) onto `grid`.
pub fn beamform(
    rf: &[f32],
    dims: [usize; 3],
    probe: &Probe,
    grid: &ImageGrid,
    options: &BeamformOptions,
) -> Result<Beamformed, ReconError> {
    let transmits = check_channel_data(probe, dims)?;
    if rf.len() != dims.iter().product::<usize>() {
        return Err(invalid(
            "channel data",
            format!("hold {} values, {dims:?} needs {}", rf.len(), dims.iter().product::<usize>()),
        ));
    }
    check_finite("channel data", rf)?;
    if !(options.f_number.is_finite() && options.f_number > 0.0) {
        return Err(invalid("f-number", format!("must be positive, got {}", options.f_number)));
    }
    if let Apodization::Tukey(a) = options.apodization {
        if !(0.0..=1.0).contains(&a) {
            return Err(invalid("tukey", format!("taper must be in [0, 1], got {a}")));
        }
    }
    let chosen: Vec<usize> = match &options.transmits {
        None => (0..transmits.len()).collect(),
        Some(v) => {
            if v.is_empty() {
                return Err(invalid("transmits", "select at least one"));
            }
            if let Some(&t) = v.iter().find(|&&t| t >= transmits.len()) {
                return Err(invalid(
                    "transmits",
                    format!("index {t} is outside the {} recorded", transmits.len()),
                ));
            }
            v.clone()
        }
    };
    let (ns, ne) = (dims[0], dims[1]);
    let c = probe.c_mm_us();
    let fs = probe.fs_mhz();
    let fc = probe.fc_mhz();
    let t0 = probe.start_time_us();
    // The deepest row must be reachable: its earliest echo (nearest element, earliest
    // transmission) has to fall inside the traces.
    let z_max = grid.z0 + (grid.nz - 1) as f64 * grid.dz;
    let x_mid = grid.x0 + (grid.nx - 1) as f64 * grid.dx / 2.0;
    let earliest =
        chosen.iter().map(|&t| transmits[t].delay_us(x_mid, z_max, c)).fold(f64::INFINITY, f64::min)
            + z_max / c;
    if (earliest - t0) * fs > (ns - 1) as f64 {
        let reach = ((ns - 1) as f64 / fs + t0) * c / 2.0;
        return Err(invalid(
            "image grid",
            format!(
                "reaches {z_max:.1} mm deep, but the channel data ({ns} samples) stop at about {reach:.1} mm"
            ),
        ));
    }
    hounsfield_core::check_alloc((rf.len() as u128) * 2 + (grid.nx * grid.nz) as u128 * 2, 4)?;
    let iq = iq_demodulate(rf, dims, probe, t0);
    let two_pi_fc = 2.0 * std::f64::consts::PI * fc;
    let ex: Vec<f64> = (0..ne).map(|e| probe.element_x(e)).collect();
    let cf = options.method == Method::DasCoherenceFactor;
    let mut out = vec![[0f32; 2]; grid.nx * grid.nz];
    let mut coherence = if cf { vec![0f32; grid.nx * grid.nz] } else { Vec::new() };
    // Rows in parallel; per-row scratch: per element its delay in samples, weight × receive
    // phase, and (CF) the per-element sums over transmissions.
    let row = |j: usize, orow: &mut [[f32; 2]], crow: &mut [f32]| {
        let z = grid.z0 + j as f64 * grid.dz;
        let half = z / (2.0 * options.f_number);
        let mut rx_s = vec![0f64; ne];
        let mut wrot = vec![[0f32; 2]; ne];
        let mut acc = vec![Complex::<f32>::new(0.0, 0.0); ne];
        for i in 0..grid.nx {
            let x = grid.x0 + i as f64 * grid.dx;
            // Active aperture: elements within z/(2F) of x.
            let lo = ex.partition_point(|&xe| xe < x - half);
            let hi = ex.partition_point(|&xe| xe <= x + half);
            if lo >= hi {
                continue;
            }
            for e in lo..hi {
                let dx = x - ex[e];
                let r = (dx * dx + z * z).sqrt() / c;
                rx_s[e] = r * fs;
                let w = options.apodization.weight(if half > 0.0 { -dx / (2.0 * half) } else { 0.0 });
                let ph = two_pi_fc * r;
                wrot[e] = [(w * ph.cos()) as f32, (w * ph.sin()) as f32];
            }
            if cf {
                acc[lo..hi].iter_mut().for_each(|a| *a = Complex::new(0.0, 0.0));
            }
            let mut total = Complex::<f32>::new(0.0, 0.0);
            for &t in &chosen {
                let tau_tx = transmits[t].delay_us(x, z, c);
                let base = (tau_tx - t0) * fs;
                let ph = two_pi_fc * tau_tx;
                let rot_tx = Complex::new(ph.cos() as f32, ph.sin() as f32);
                let traces = &iq[t * ns * ne..(t + 1) * ns * ne];
                let mut sum = Complex::<f32>::new(0.0, 0.0);
                for e in lo..hi {
                    let s = base + rx_s[e];
                    if s < 0.0 {
                        continue;
                    }
                    let k = s as usize;
                    if k + 1 >= ns {
                        continue;
                    }
                    let f = (s - k as f64) as f32;
                    let tr = &traces[e * ns..(e + 1) * ns];
                    let (a, b) = (tr[k], tr[k + 1]);
                    let v = Complex::new(a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]));
                    let term = v * Complex::new(wrot[e][0], wrot[e][1]);
                    if cf {
                        acc[e] += term * rot_tx;
                    } else {
                        sum += term;
                    }
                }
                total += sum * rot_tx;
            }
            if cf {
                let s: Complex<f32> = acc[lo..hi].iter().sum();
                let energy: f32 = acc[lo..hi].iter().map(|a| a.norm_sqr()).sum();
                let n = (hi - lo) as f32;
                let factor = if energy > 0.0 { s.norm_sqr() / (n * energy) } else { 0.0 };
                crow[i] = factor;
                total = s * factor;
            }
            orow[i] = [total.re, total.im];
        }
    };
    if cf {
        out.par_chunks_mut(grid.nx)
            .zip(coherence.par_chunks_mut(grid.nx))
            .enumerate()
            .for_each(|(j, (o, c))| row(j, o, c));
    } else {
        out.par_chunks_mut(grid.nx).enumerate().for_each(|(j, o)| row(j, o, &mut []));
    }
    Ok(Beamformed { grid: *grid, iq: out, coherence: cf.then_some(coherence) })
}

/// Time-gain compensation: multiplies each row of an envelope on `grid` by the amplitude that
/// attenuation of `alpha_db_cm_mhz` took from echoes at its depth over the round trip,
/// `10^(α·f_c·2z/20)` with `z` in cm (what a scanner's TGC does, here exactly matched to a
/// known attenuation).
pub fn time_gain_compensate(
    envelope: &mut [f32],
    grid: &ImageGrid,
    probe: &Probe,
    alpha_db_cm_mhz: f64,
) -> Result<(), ReconError> {
    if !(alpha_db_cm_mhz.is_finite() && alpha_db_cm_mhz >= 0.0) {
        return Err(invalid("tgc", format!("must be ≥ 0 dB/cm/MHz, got {alpha_db_cm_mhz}")));
    }
    if envelope.len() != grid.nx * grid.nz {
        return Err(invalid(
            "envelope",
            format!("holds {} pixels, the grid {}", envelope.len(), grid.nx * grid.nz),
        ));
    }
    for (j, row) in envelope.chunks_mut(grid.nx).enumerate() {
        let z_cm = (grid.z0 + j as f64 * grid.dz) / 10.0;
        let gain = 10f64.powf(alpha_db_cm_mhz * probe.fc_mhz() * 2.0 * z_cm / 20.0) as f32;
        row.iter_mut().for_each(|v| *v *= gain);
    }
    Ok(())
}

/// Log compression: `20·log10(env / max)` clipped to `[−dynamic_range, 0]` dB.
pub fn log_compress(envelope: &[f32], dynamic_range_db: f64) -> Result<Vec<f32>, ReconError> {
    if !(dynamic_range_db.is_finite() && dynamic_range_db > 0.0) {
        return Err(invalid("dynamic range", format!("must be positive dB, got {dynamic_range_db}")));
    }
    let max = envelope.iter().fold(0f32, |m, &v| m.max(v));
    let floor = -dynamic_range_db as f32;
    Ok(envelope
        .iter()
        .map(|&v| if max > 0.0 && v > 0.0 { (20.0 * (v / max).log10()).max(floor) } else { floor })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilbert_of_a_cosine_is_a_complex_exponential() {
        // cos(2π f t) → exp(2πi f t); at baseband with f = fc: a constant 1.
        let mut p = Probe::l11_4v();
        let fs = p.fs_mhz();
        let fc = p.fc_mhz();
        p.elements = 1;
        let n = 256;
        // An integer number of periods so the FFT sees no edge.
        let f = (fc * n as f64 / fs).round() * fs / n as f64;
        p.centre_frequency_hz = f * 1e6;
        let rf: Vec<f32> =
            (0..n).map(|k| (2.0 * std::f64::consts::PI * f * k as f64 / fs).cos() as f32).collect();
        let iq = iq_demodulate(&rf, [n, 1, 1], &p, 0.0);
        for v in &iq {
            assert!((v[0] - 1.0).abs() < 1e-5 && v[1].abs() < 1e-5, "{v:?}");
        }
    }

    #[test]
    fn apodization_windows() {
        assert_eq!(Apodization::Boxcar.weight(0.4), 1.0);
        assert!((Apodization::Hann.weight(0.0) - 1.0).abs() < 1e-12);
        assert!(Apodization::Hann.weight(0.5).abs() < 1e-12);
        assert_eq!(Apodization::Tukey(0.5).weight(0.2), 1.0);
        assert!(Apodization::Tukey(0.5).weight(0.5).abs() < 1e-12);
        assert!((Apodization::Tukey(1.0).weight(0.3) - Apodization::Hann.weight(0.3)).abs() < 1e-12);
    }
}
