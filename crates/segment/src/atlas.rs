//! Atlas-based segmentation: each atlas (an image with its labels) is registered to the
//! subject with `hounsfield-register`, its labels are carried onto the subject's grid
//! (nearest neighbour), and several atlases vote.
//!
//! Voting ([`Voting`]):
//! - **majority**: the label most atlases give a voxel (ties: the lower label);
//! - **locally weighted** (Artaechevarria, Muñoz-Barrutia & Ortiz-de-Solórzano, IEEE TMI
//!   28:1266–1277, 2009, "local weighted voting" with inverse-distance weights): atlas `a`
//!   votes at `x` with weight `(MSD_a(x) + ε)^(−p)`, `MSD_a` the Gaussian-weighted local mean
//!   squared difference between the subject and the registered atlas image. Atlases and
//!   subject must share a modality (the intensities are compared).
//!
//! Votes are accumulated label by label with a running arg-max, so memory is a few images
//! whatever the number of labels.

use hounsfield_core::{LabelVolume, Volume};
use hounsfield_imgproc::filter::gaussian;
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_register::apply::{warp_image, warp_labels};
use hounsfield_register::{register, Masks, Progress, RegistrationOptions};
use rayon::prelude::*;

use crate::error::{invalid, SegmentError};

/// An atlas: an image and its label map on the same grid.
#[derive(Clone, Debug)]
pub struct Atlas {
    /// Intensity image.
    pub image: Volume<f32>,
    /// Labels on the image's grid.
    pub labels: LabelVolume,
}

/// How registered atlases vote.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Voting {
    /// Majority voting (the default).
    #[default]
    Majority,
    /// Locally weighted voting with weights `(MSD + ε)^(−power)` of the local mean squared
    /// difference in a Gaussian window of `sigma_mm`.
    LocallyWeighted {
        /// Gaussian window, mm (Artaechevarria et al. found 2–5 mm best; 3 is typical).
        sigma_mm: f64,
        /// Power p of the inverse weight (they used 1–2).
        power: f64,
    },
}

/// Options of [`atlas_segment`].
#[derive(Clone, Debug, Default)]
pub struct AtlasOptions {
    /// Registration of each atlas image (moving) to the subject (fixed).
    pub registration: RegistrationOptions,
    /// Label fusion.
    pub voting: Voting,
}

/// What [`atlas_segment`] returns.
#[derive(Clone, Debug)]
pub struct AtlasResult {
    /// The fused labels on the subject's grid.
    pub labels: LabelVolume,
    /// Each atlas's labels carried onto the subject's grid.
    pub propagated: Vec<LabelVolume>,
}

/// Registers every atlas to `subject`, propagates its labels, and fuses them.
/// `progress(atlas_index, registration_progress)` is called during the registrations.
pub fn atlas_segment(
    subject: &Volume<f32>,
    atlases: &[Atlas],
    opts: &AtlasOptions,
    progress: &mut dyn FnMut(usize, &Progress),
) -> Result<AtlasResult, SegmentError> {
    if atlases.is_empty() {
        return Err(invalid("atlases", "at least one atlas"));
    }
    if let Voting::LocallyWeighted { sigma_mm, power } = opts.voting {
        if !(sigma_mm.is_finite() && sigma_mm > 0.0 && power.is_finite() && power > 0.0) {
            return Err(invalid("voting", format!("sigma_mm {sigma_mm} and power {power} must be > 0")));
        }
    }
    let dims = subject.dims();
    let geometry = *subject.geometry();
    let mut propagated = Vec::with_capacity(atlases.len());
    let mut weights: Vec<Vec<f32>> = Vec::new();
    for (i, atlas) in atlases.iter().enumerate() {
        atlas.image.require_same_grid(atlas.labels.as_volume())?;
        let reg =
            register(subject, &atlas.image, Masks::default(), &opts.registration, &mut |p| progress(i, p))
                .map_err(|source| SegmentError::Register { atlas: i, source })?;
        let labels = warp_labels(&atlas.labels, &reg.transform, dims, &geometry)
            .map_err(|source| SegmentError::Register { atlas: i, source })?;
        if let Voting::LocallyWeighted { sigma_mm, power } = opts.voting {
            let warped =
                warp_image(&atlas.image, &reg.transform, dims, &geometry, Interpolation::Linear, 0.0)
                    .map_err(|source| SegmentError::Register { atlas: i, source })?;
            let sq: Vec<f32> =
                subject.data().par_iter().zip(warped.data()).map(|(a, b)| (a - b) * (a - b)).collect();
            let msd = gaussian(&subject.with_data(sq)?, [sigma_mm; 3])?;
            weights.push(local_weights(msd.data(), power));
        }
        propagated.push(labels);
    }
    let labels = fuse(&propagated, if weights.is_empty() { None } else { Some(&weights) })?;
    Ok(AtlasResult { labels, propagated })
}

/// `(msd + ε)^(−p)` with ε = 1e-3 × the mean MSD (so identical images do not divide by 0).
fn local_weights(msd: &[f32], power: f64) -> Vec<f32> {
    let mean = msd.iter().map(|&v| v as f64).sum::<f64>() / msd.len().max(1) as f64;
    let eps = (1e-3 * mean).max(1e-12);
    msd.par_iter().map(|&v| ((v.max(0.0) as f64 + eps).powf(-power)) as f32).collect()
}

/// Fuses label maps on one grid: per voxel the label with the largest (weighted) vote; ties go
/// to the lower label, and background (0) votes like any label.
pub fn fuse(maps: &[LabelVolume], weights: Option<&[Vec<f32>]>) -> Result<LabelVolume, SegmentError> {
    let Some(first) = maps.first() else { return Err(invalid("maps", "at least one label map")) };
    for m in maps {
        first.require_same_grid(m.as_volume())?;
    }
    let n = first.len();
    if let Some(w) = weights {
        if w.len() != maps.len() || w.iter().any(|w| w.len() != n) {
            return Err(invalid("weights", "one weight per voxel of every map"));
        }
    }
    let mut all: Vec<u16> = maps.iter().flat_map(|m| m.labels()).collect();
    all.insert(0, 0);
    all.sort_unstable();
    all.dedup();
    let mut best = vec![f32::NEG_INFINITY; n];
    let mut out = vec![0u16; n];
    let mut score = vec![0f32; n];
    for &l in &all {
        score.fill(0.0);
        for (a, m) in maps.iter().enumerate() {
            let w = weights.map(|w| &w[a]);
            score.par_iter_mut().zip(m.data().par_iter()).enumerate().for_each(|(o, (s, &v))| {
                if v == l {
                    *s += w.map_or(1.0, |w| w[o]);
                }
            });
        }
        // Labels ascend, so a strictly larger score is needed to replace a lower label.
        out.par_iter_mut().zip(best.par_iter_mut()).zip(score.par_iter()).for_each(|((o, b), &s)| {
            if s > *b {
                *b = s;
                *o = l;
            }
        });
    }
    Ok(LabelVolume::new(first.with_data(out)?))
}
