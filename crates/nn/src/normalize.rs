//! Intensity normalization recorded in a model card and applied identically in training and
//! inference.

use serde::{Deserialize, Serialize};

use crate::NnError;

/// How intensities are mapped before they reach the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Normalization {
    /// Per image: subtract the mean, divide by the standard deviation (the default; MR and
    /// other unitless intensities, nnU-Net's non-CT scheme).
    #[default]
    ZScore,
    /// Clip to `[min, max]` and map linearly to `[0, 1]` (CT in HU: fixed, invertible).
    Clip {
        /// Lower bound (e.g. −1000 HU).
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Leave intensities as they are.
    None,
}

impl Normalization {
    /// Checks the parameters.
    pub fn validate(&self, field: &str) -> Result<(), NnError> {
        if let Normalization::Clip { min, max } = *self {
            if !(min.is_finite() && max.is_finite() && max > min) {
                return Err(NnError::config(
                    field,
                    format!("clip needs finite min < max, got {min} and {max}"),
                ));
            }
        }
        Ok(())
    }

    /// Normalizes `v` in place.
    pub fn apply(&self, v: &mut [f32]) {
        match *self {
            Normalization::ZScore => {
                let n = v.len().max(1) as f64;
                let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
                let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
                // A flat image keeps unit scale rather than dividing by ~0.
                let sd = if var > 1e-12 { var.sqrt() } else { 1.0 };
                v.iter_mut().for_each(|x| *x = ((*x as f64 - mean) / sd) as f32);
            }
            Normalization::Clip { min, max } => {
                let s = 1.0 / (max - min);
                v.iter_mut().for_each(|x| *x = (((*x as f64).clamp(min, max) - min) * s) as f32);
            }
            Normalization::None => {}
        }
    }

    /// Maps normalized values back to the original scale where the map is fixed (clip);
    /// z-score and none return the values unchanged.
    pub fn invert(&self, v: &mut [f32]) {
        if let Normalization::Clip { min, max } = *self {
            v.iter_mut().for_each(|x| *x = (*x as f64 * (max - min) + min) as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zscore_and_clip() {
        let mut v = vec![1.0, 2.0, 3.0, 4.0];
        Normalization::ZScore.apply(&mut v);
        let mean: f32 = v.iter().sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6);
        let mut c = vec![-2000.0, 0.0, 3000.0];
        let n = Normalization::Clip { min: -1000.0, max: 1000.0 };
        n.apply(&mut c);
        assert_eq!(c, vec![0.0, 0.5, 1.0]);
        n.invert(&mut c);
        assert_eq!(c, vec![-1000.0, 0.0, 1000.0]);
        assert!(Normalization::Clip { min: 1.0, max: 1.0 }.validate("x").is_err());
    }
}
