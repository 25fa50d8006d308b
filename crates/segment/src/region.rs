//! Seeded region growing: confidence-connected flood fill, as ITK's
//! `ConfidenceConnectedImageFilter` (and SimpleITK's `ConfidenceConnected`) computes it.

use std::collections::VecDeque;

use hounsfield_core::{Scalar, Volume};

use crate::error::{invalid, SegmentError};

/// Options of [`confidence_connected`]; `Default` equals SimpleITK's defaults.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfidenceOptions {
    /// Half-width k of the interval `mean ± k·sd` (default 4.5).
    pub multiplier: f64,
    /// Re-estimations of mean and sd from the grown region (default 4).
    pub iterations: usize,
    /// Radius in voxels of the box around each seed that gives the first estimate (default 1).
    pub initial_radius: usize,
}

impl Default for ConfidenceOptions {
    fn default() -> Self {
        Self { multiplier: 4.5, iterations: 4, initial_radius: 1 }
    }
}

/// Grows a region from `seeds` (voxel indices): the first interval is `mean ± k·sd` of the
/// seeds' neighbourhoods (box of `initial_radius`, edge voxels repeated at the border —
/// ITK's zero-flux Neumann condition), widened to contain every seed's value; the region is
/// the set of voxels face-connected (6-neighbours) to a seed whose value lies in the interval
/// (inclusive); then `iterations` times the mean and sample sd are re-estimated from the
/// region and it is grown again from the seeds. Returns a 0/1 mask.
///
/// With several seeds the first mean is the average of the boxes' means and the variance is
/// pooled over all their voxels, as ITK computes it; each re-estimation stops early when the
/// region's variance vanishes.
pub fn confidence_connected<T: Scalar>(
    vol: &Volume<T>,
    seeds: &[[usize; 3]],
    opts: &ConfidenceOptions,
) -> Result<Volume<u8>, SegmentError> {
    let dims = vol.dims();
    if seeds.is_empty() {
        return Err(invalid("seeds", "at least one seed"));
    }
    if let Some(s) = seeds.iter().find(|s| (0..3).any(|a| s[a] >= dims[a])) {
        return Err(invalid("seeds", format!("seed {s:?} is outside the image of {dims:?} voxels")));
    }
    if !(opts.multiplier.is_finite() && opts.multiplier >= 0.0) {
        return Err(invalid("multiplier", format!("{} is not a finite number ≥ 0", opts.multiplier)));
    }
    if opts.initial_radius > 64 {
        return Err(invalid("initial_radius", format!("{} voxels is more than 64", opts.initial_radius)));
    }
    let data = vol.data();
    let value = |s: &[usize; 3]| data[vol.offset(s[0], s[1], s[2])].to_f64();
    let box_stats = |s: &[usize; 3]| {
        // An axis of extent 1 has no neighbours: a 2-D image gets a 2-D box.
        let r = |a: usize| if dims[a] > 1 { opts.initial_radius as isize } else { 0 };
        let (mut sum, mut sum2, mut n) = (0.0, 0.0, 0.0);
        for dz in -r(2)..=r(2) {
            for dy in -r(1)..=r(1) {
                for dx in -r(0)..=r(0) {
                    let c = |a: usize, d: isize| (s[a] as isize + d).clamp(0, dims[a] as isize - 1) as usize;
                    let v = data[vol.offset(c(0, dx), c(1, dy), c(2, dz))].to_f64();
                    sum += v;
                    sum2 += v * v;
                    n += 1.0;
                }
            }
        }
        (sum, sum2, n)
    };
    // ITK pools the boxes: the mean is the average of the box means, the variance is taken
    // over every box value about that mean (n − 1 in the denominator).
    let (mut mean, mut sum2, mut n) = (0.0, 0.0, 0.0);
    for s in seeds {
        let (a, b, m) = box_stats(s);
        mean += a / m;
        sum2 += b;
        n += m;
    }
    mean /= seeds.len() as f64;
    let var = if n > 1.0 { (sum2 - mean * mean * n) / (n - 1.0) } else { 0.0 };
    let seed_lo = seeds.iter().map(value).fold(f64::INFINITY, f64::min);
    let seed_hi = seeds.iter().map(value).fold(f64::NEG_INFINITY, f64::max);
    // The interval always holds the seeds' values; its ends are converted to the voxel type
    // as ITK's `static_cast` does before comparing.
    let interval = |mean: f64, var: f64| {
        let sd = var.max(0.0).sqrt();
        let lo = (mean - opts.multiplier * sd).min(seed_lo);
        let hi = (mean + opts.multiplier * sd).max(seed_hi);
        (cast_like::<T>(lo), cast_like::<T>(hi))
    };
    let (mut lo, mut hi) = interval(mean, var);
    let mut mask = vec![0u8; data.len()];
    flood(vol, seeds, lo, hi, &mut mask);
    for _ in 0..opts.iterations {
        let (mut s, mut s2, mut n) = (0.0, 0.0, 0.0f64);
        for (v, &m) in data.iter().zip(&mask) {
            if m != 0 {
                let v = v.to_f64();
                s += v;
                s2 += v * v;
                n += 1.0;
            }
        }
        if n == 0.0 {
            break;
        }
        let mean = s / n;
        let var = (s2 - s * s / n) / (n - 1.0);
        // ITK stops when the region has no spread left (or a single voxel: NaN).
        if var.is_nan() || var.abs() <= 1e-12 * mean.abs().max(1.0) {
            break;
        }
        (lo, hi) = interval(mean, var);
        mask.iter_mut().for_each(|m| *m = 0);
        flood(vol, seeds, lo, hi, &mut mask);
    }
    Ok(vol.with_data(mask)?)
}

/// `x` converted to the voxel type as C++'s `static_cast` does (floats round to the type's
/// precision, integers truncate toward zero and saturate), back in f64.
fn cast_like<T: Scalar>(x: f64) -> f64 {
    if T::NAME.starts_with("float") {
        T::from_f64(x).to_f64()
    } else {
        T::from_f64(x.trunc()).to_f64()
    }
}

/// 6-connected flood fill from the seeds whose value is in `[lo, hi]`.
fn flood<T: Scalar>(vol: &Volume<T>, seeds: &[[usize; 3]], lo: f64, hi: f64, mask: &mut [u8]) {
    let [nx, ny, nz] = vol.dims();
    let data = vol.data();
    let inside = |o: usize| {
        let v = data[o].to_f64();
        v >= lo && v <= hi
    };
    let mut queue = VecDeque::new();
    for s in seeds {
        let o = vol.offset(s[0], s[1], s[2]);
        if mask[o] == 0 && inside(o) {
            mask[o] = 1;
            queue.push_back(o);
        }
    }
    let plane = nx * ny;
    while let Some(o) = queue.pop_front() {
        let (i, j, k) = (o % nx, (o / nx) % ny, o / plane);
        for n in crate::face_neighbours(o, [i, j, k], [nx, ny, nz]).into_iter().flatten() {
            if mask[n] == 0 && inside(n) {
                mask[n] = 1;
                queue.push_back(n);
            }
        }
    }
}
