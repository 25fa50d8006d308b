//! Linear-array probes and acquisitions (which waves were sent, when recording started), read
//! from and written to TOML in SI units (Hz, m/s, mm for lengths on the probe face).
//!
//! ```toml
//! # L11-4v-like (the PICMUS probe)
//! elements = 128
//! pitch_mm = 0.3
//! element_width_mm = 0.27
//! centre_frequency_hz = 5.208e6
//! bandwidth = 0.67            # fractional, −6 dB of the pulse-echo spectrum
//! sampling_frequency_hz = 20.832e6
//! speed_of_sound_m_s = 1540.0
//!
//! [acquisition]               # optional: what `simulate us` recorded
//! start_time_s = 0.0
//! angles_deg = [-8.0, 0.0, 8.0]
//! ```
//!
//! Coordinates: `x` lateral (mm, element `e` at `(e − (N−1)/2)·pitch`), `z` depth (mm, 0 on the
//! probe face, positive into the body). Time 0 is when a plane wave's front crosses the array
//! centre (a focused wave's: when it leaves its virtual source's aperture centre); sample `k`
//! of a trace is at `start_time_s + k / sampling_frequency_hz`.

use serde::{Deserialize, Serialize};

use crate::error::{invalid, ReconError};

/// A linear-array probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Number of elements (channels).
    pub elements: usize,
    /// Centre-to-centre element distance, mm.
    pub pitch_mm: f64,
    /// Element width, mm (directivity; default 0.9 × pitch).
    #[serde(default)]
    pub element_width_mm: Option<f64>,
    /// Centre frequency of the pulse-echo response, Hz.
    pub centre_frequency_hz: f64,
    /// Fractional −6 dB bandwidth of the pulse-echo spectrum (0.67 = 67 %).
    pub bandwidth: f64,
    /// Sampling rate of the channel data, Hz.
    pub sampling_frequency_hz: f64,
    /// Speed of sound, m/s.
    pub speed_of_sound_m_s: f64,
    /// What was transmitted (absent in a bare probe description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition: Option<Acquisition>,
}

/// The transmissions of a recording, in the order of the data's third axis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acquisition {
    /// Time of the first sample of every trace, s.
    #[serde(default)]
    pub start_time_s: f64,
    /// Plane waves steered by these angles, degrees (positive towards +x).
    #[serde(default)]
    pub angles_deg: Vec<f64>,
    /// Focused waves instead: the focus of each, `[x, z]` in mm (`z < 0` is a diverging
    /// wave's virtual source behind the probe).
    #[serde(default)]
    pub foci_mm: Vec<[f64; 2]>,
}

/// One transmitted wave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transmit {
    /// A plane wave steered by `angle` radians.
    PlaneWave {
        /// Steering angle, radians.
        angle: f64,
    },
    /// A wave converging on (or, behind the probe, diverging from) a focus `[x, z]`, mm.
    Focused {
        /// The focus.
        focus: [f64; 2],
    },
}

impl Transmit {
    /// Transmit delay to point `(x, z)` in µs for a speed of sound `c` in mm/µs.
    #[inline]
    pub fn delay_us(&self, x: f64, z: f64, c: f64) -> f64 {
        match *self {
            Transmit::PlaneWave { angle } => (x * angle.sin() + z * angle.cos()) / c,
            Transmit::Focused { focus: [fx, fz] } => {
                // Virtual source model: the front leaves the aperture centre (fx, 0) at t = 0,
                // reaches the focus at |fz|/c, then travels on (or, for a diverging wave,
                // has been travelling from the virtual source since −|fz|/c).
                let r = ((x - fx).powi(2) + (z - fz).powi(2)).sqrt();
                if fz >= 0.0 {
                    if z >= fz {
                        (fz + r) / c
                    } else {
                        (fz - r) / c
                    }
                } else {
                    (r + fz) / c
                }
            }
        }
    }
}

impl Probe {
    /// An L11-4v-like probe, the one of the PICMUS challenge: 128 elements at 0.3 mm,
    /// 5.208 MHz, 67 % bandwidth, sampled at 20.832 MHz, 1540 m/s.
    pub fn l11_4v() -> Probe {
        Probe {
            elements: 128,
            pitch_mm: 0.3,
            element_width_mm: Some(0.27),
            centre_frequency_hz: 5.208e6,
            bandwidth: 0.67,
            sampling_frequency_hz: 20.832e6,
            speed_of_sound_m_s: 1540.0,
            acquisition: None,
        }
    }

    /// Parses and validates a probe description.
    pub fn from_toml_str(text: &str) -> Result<Probe, ReconError> {
        let p: Probe =
            toml::from_str(text).map_err(|e| ReconError::ParseGeometry(e.message().to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// The description as TOML.
    pub fn to_toml_string(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks every value is physical: positive sizes and speeds, a bandwidth in (0, 2], and a
    /// sampling rate above twice the centre frequency (Nyquist).
    pub fn validate(&self) -> Result<(), ReconError> {
        let positive = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(name, format!("must be positive and finite, got {v}")))
            }
        };
        if self.elements == 0 || self.elements > 65_536 {
            return Err(invalid("elements", format!("must be 1 to 65536, got {}", self.elements)));
        }
        positive("pitch_mm", self.pitch_mm)?;
        if let Some(w) = self.element_width_mm {
            positive("element_width_mm", w)?;
        }
        positive("centre_frequency_hz", self.centre_frequency_hz)?;
        positive("sampling_frequency_hz", self.sampling_frequency_hz)?;
        positive("speed_of_sound_m_s", self.speed_of_sound_m_s)?;
        if !(self.bandwidth > 0.0 && self.bandwidth <= 2.0) {
            return Err(invalid(
                "bandwidth",
                format!("must be a fraction in (0, 2], got {}", self.bandwidth),
            ));
        }
        if self.sampling_frequency_hz <= 2.0 * self.centre_frequency_hz {
            return Err(invalid(
                "sampling_frequency_hz",
                format!(
                    "{} Hz is at or below the Nyquist rate of the centre frequency ({} Hz)",
                    self.sampling_frequency_hz,
                    2.0 * self.centre_frequency_hz
                ),
            ));
        }
        if let Some(a) = &self.acquisition {
            if !a.start_time_s.is_finite() {
                return Err(invalid("acquisition.start_time_s", "must be finite"));
            }
            if !a.angles_deg.is_empty() && !a.foci_mm.is_empty() {
                return Err(invalid("acquisition", "give `angles_deg` or `foci_mm`, not both"));
            }
            if let Some(x) = a.angles_deg.iter().find(|x| !(x.is_finite() && x.abs() < 90.0)) {
                return Err(invalid("acquisition.angles_deg", format!("{x} is not in (−90, 90)")));
            }
            if let Some(f) = a.foci_mm.iter().find(|f| !(f[0].is_finite() && f[1].is_finite() && f[1] != 0.0))
            {
                return Err(invalid(
                    "acquisition.foci_mm",
                    format!("{f:?} is not a finite focus off the probe face"),
                ));
            }
        }
        Ok(())
    }

    /// Speed of sound in mm/µs.
    pub fn c_mm_us(&self) -> f64 {
        self.speed_of_sound_m_s * 1e-3
    }

    /// Sampling rate in samples per µs (MHz).
    pub fn fs_mhz(&self) -> f64 {
        self.sampling_frequency_hz * 1e-6
    }

    /// Centre frequency in MHz.
    pub fn fc_mhz(&self) -> f64 {
        self.centre_frequency_hz * 1e-6
    }

    /// Wavelength at the centre frequency, mm.
    pub fn wavelength_mm(&self) -> f64 {
        self.c_mm_us() / self.fc_mhz()
    }

    /// Lateral position of element `e`, mm.
    #[inline]
    pub fn element_x(&self, e: usize) -> f64 {
        (e as f64 - (self.elements as f64 - 1.0) / 2.0) * self.pitch_mm
    }

    /// The transmissions of the acquisition (empty without one).
    pub fn transmits(&self) -> Vec<Transmit> {
        match &self.acquisition {
            None => Vec::new(),
            Some(a) if !a.foci_mm.is_empty() => {
                a.foci_mm.iter().map(|&focus| Transmit::Focused { focus }).collect()
            }
            Some(a) => a.angles_deg.iter().map(|d| Transmit::PlaneWave { angle: d.to_radians() }).collect(),
        }
    }

    /// Time of the first sample, µs.
    pub fn start_time_us(&self) -> f64 {
        self.acquisition.as_ref().map_or(0.0, |a| a.start_time_s * 1e6)
    }

    /// Standard deviation (µs) of the Gaussian envelope of the pulse-echo response whose −6 dB
    /// spectrum is `bandwidth × fc` wide: the amplitude spectrum `exp(−f²/(2σ_f²))` falls to
    /// one half at `σ_f·√(2 ln 2)`, so `σ_f = bandwidth·fc / (2√(2 ln 2))` and `σ_t = 1/(2π σ_f)`.
    pub fn pulse_sigma_us(&self) -> f64 {
        let sigma_f = self.bandwidth * self.fc_mhz() / (2.0 * (2.0 * std::f64::consts::LN_2).sqrt());
        1.0 / (2.0 * std::f64::consts::PI * sigma_f)
    }

    /// Plane-wave angles spread evenly over `[−max, max]` degrees (one angle: 0).
    pub fn plane_wave_angles_deg(count: usize, max_deg: f64) -> Vec<f64> {
        match count {
            0 => Vec::new(),
            1 => vec![0.0],
            n => (0..n).map(|i| -max_deg + 2.0 * max_deg * i as f64 / (n - 1) as f64).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_validation() {
        let mut p = Probe::l11_4v();
        p.acquisition =
            Some(Acquisition { start_time_s: 1e-6, angles_deg: vec![-5.0, 0.0, 5.0], foci_mm: vec![] });
        let back = Probe::from_toml_str(&p.to_toml_string()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.transmits().len(), 3);
        let bad = |f: &dyn Fn(&mut Probe)| {
            let mut q = Probe::l11_4v();
            f(&mut q);
            q.validate().unwrap_err().to_string()
        };
        assert!(bad(&|q| q.speed_of_sound_m_s = -1540.0).contains("speed_of_sound_m_s"));
        assert!(bad(&|q| q.sampling_frequency_hz = 8e6).contains("Nyquist"));
        assert!(bad(&|q| q.elements = 0).contains("elements"));
        assert!(Probe::from_toml_str("elements = 4\nbogus = 1").is_err());
    }

    #[test]
    fn plane_wave_delay_is_the_front_crossing_time() {
        // 0°: depth / c. 30° at (x, 0): x·sin30°/c (the front reaches +x later).
        let c = 1.54;
        assert!((Transmit::PlaneWave { angle: 0.0 }.delay_us(3.0, 15.4, c) - 10.0).abs() < 1e-12);
        let t = Transmit::PlaneWave { angle: 30f64.to_radians() }.delay_us(1.54, 0.0, c);
        assert!((t - 0.5).abs() < 1e-12);
        // Focused at (0, 20): the focus is reached at 20/c; points beyond it later, before it earlier.
        let f = Transmit::Focused { focus: [0.0, 20.0] };
        assert!((f.delay_us(0.0, 20.0, c) - 20.0 / c).abs() < 1e-12);
        assert!((f.delay_us(0.0, 30.0, c) - 30.0 / c).abs() < 1e-12);
        assert!((f.delay_us(0.0, 10.0, c) - 10.0 / c).abs() < 1e-12);
    }

    #[test]
    fn pulse_sigma_gives_the_stated_bandwidth() {
        // The spectrum of exp(−t²/2σ²) is ∝ exp(−2π²σ²f²); at f = bw·fc/2 it must be one half.
        let p = Probe::l11_4v();
        let s = p.pulse_sigma_us();
        let f = p.bandwidth * p.fc_mhz() / 2.0;
        let h = (-2.0 * std::f64::consts::PI.powi(2) * s * s * f * f).exp();
        assert!((h - 0.5).abs() < 1e-12, "{h}");
    }
}
