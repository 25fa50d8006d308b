//! Speckle reduction: speckle-reducing anisotropic diffusion (SRAD; Yu & Acton 2002, IEEE TIP
//! 11(11):1260), slice by slice on the envelope (linear amplitude) of ultrasound images.
//!
//! Each iteration, per pixel with its four in-plane neighbours (replicated at the border):
//! the instantaneous coefficient of variation
//! `q² = (½|∇I|²/I² − (∇²I/I)²/16) / (1 + ∇²I/(4I))²` is compared with the speckle's own
//! `q0²`, the diffusion coefficient `c = 1 / (1 + (q² − q0²)/(q0²(1 + q0²)))` (clamped to
//! [0, 1]) is near 1 in homogeneous speckle and near 0 at edges, and
//! `I ← I + λ/4 · (c_S·∂_S I + c·∂_N I + c_E·∂_E I + c·∂_W I)` (the discretization of Yu & Acton's
//! reference code). The speckle scale follows their exponential schedule
//! `q0(t) = q0·exp(−ρ t)`, `t = λ × iteration`, unless a homogeneous region gives it.

use hounsfield_core::Volume;
use rayon::prelude::*;

use crate::error::ImgprocError;

/// Where the speckle scale `q0` comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SpeckleScale {
    /// `q0(t) = q0·exp(−ρ t)` (Yu & Acton: q0 = 1, ρ = 1/6).
    Decay {
        /// Initial value.
        q0: f64,
        /// Decay rate per unit time.
        rho: f64,
    },
    /// The coefficient of variation of a homogeneous region `[x0, x1) × [y0, y1)` (pixels),
    /// recomputed every iteration.
    Region {
        /// Columns.
        x: [usize; 2],
        /// Rows.
        y: [usize; 2],
    },
}

/// Options of [`srad`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SradOptions {
    /// Iterations (default 50).
    pub iterations: usize,
    /// Time step λ, ≤ 1 for stability (default 0.5).
    pub lambda: f64,
    /// Speckle scale (default the exponential decay from 1 with ρ = 1/6).
    pub scale: SpeckleScale,
}

impl Default for SradOptions {
    fn default() -> Self {
        Self { iterations: 50, lambda: 0.5, scale: SpeckleScale::Decay { q0: 1.0, rho: 1.0 / 6.0 } }
    }
}

fn bad(reason: impl Into<String>) -> ImgprocError {
    ImgprocError::Filter { filter: "srad", reason: reason.into() }
}

/// SRAD of an envelope image (positive values), each z slice on its own. Values ≤ 0 are
/// raised to the smallest positive value first (the coefficient of variation divides by
/// them).
pub fn srad(envelope: &Volume<f32>, options: &SradOptions) -> Result<Volume<f32>, ImgprocError> {
    if !(options.lambda > 0.0 && options.lambda <= 1.0) {
        return Err(bad(format!("lambda must be in (0, 1], got {}", options.lambda)));
    }
    if options.iterations > 100_000 {
        return Err(bad(format!("{} iterations is absurd", options.iterations)));
    }
    let [nx, ny, _] = envelope.dims();
    if nx < 2 || ny < 2 {
        return Err(bad(format!("needs slices of at least 2 × 2 pixels, got {nx} × {ny}")));
    }
    if let Some(i) = envelope.data().iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("non-finite value at index {i}")));
    }
    match options.scale {
        SpeckleScale::Decay { q0, rho } if !(q0 > 0.0 && rho >= 0.0 && q0.is_finite() && rho.is_finite()) => {
            return Err(bad(format!("decay needs q0 > 0 and rho ≥ 0, got {q0}, {rho}")));
        }
        SpeckleScale::Region { x, y } if !(x[0] < x[1] && x[1] <= nx && y[0] < y[1] && y[1] <= ny) => {
            return Err(bad(format!("region {x:?} × {y:?} is not inside {nx} × {ny}")));
        }
        _ => {}
    }
    let floor = envelope.data().iter().copied().filter(|&v| v > 0.0).fold(f32::INFINITY, f32::min);
    let floor = if floor.is_finite() { floor } else { 1.0 };
    let mut out = envelope.map(|&v| v.max(floor));
    let n = nx * ny;
    out.data_mut().par_chunks_mut(n).for_each(|slice| {
        let mut c = vec![0f32; n];
        let mut next = vec![0f32; n];
        for it in 0..options.iterations {
            let q0s = match options.scale {
                SpeckleScale::Decay { q0, rho } => {
                    let q = q0 * (-rho * options.lambda * it as f64).exp();
                    q * q
                }
                SpeckleScale::Region { x, y } => {
                    let (mut s, mut s2, mut k) = (0.0f64, 0.0f64, 0usize);
                    for j in y[0]..y[1] {
                        for &v in &slice[j * nx + x[0]..j * nx + x[1]] {
                            s += v as f64;
                            s2 += (v as f64).powi(2);
                            k += 1;
                        }
                    }
                    let m = s / k as f64;
                    ((s2 / k as f64 - m * m).max(0.0) / (m * m)).max(1e-12)
                }
            };
            // Index with the border replicated, and a pixel with its differences to its
            // north, south, west and east neighbours.
            let idx = |i: isize, j: isize| {
                (j.clamp(0, ny as isize - 1) as usize) * nx + i.clamp(0, nx as isize - 1) as usize
            };
            let diffs = |i: isize, j: isize| {
                let v = slice[idx(i, j)];
                let d = |a: isize, b: isize| slice[idx(a, b)] - v;
                (v, d(i, j - 1), d(i, j + 1), d(i - 1, j), d(i + 1, j))
            };
            for j in 0..ny as isize {
                for i in 0..nx as isize {
                    let (v, dn, ds, dw, de) = diffs(i, j);
                    let g2 = ((dn * dn + ds * ds + dw * dw + de * de) / (v * v)) as f64;
                    let l = ((dn + ds + dw + de) / v) as f64;
                    let num = 0.5 * g2 - l * l / 16.0;
                    let den = (1.0 + 0.25 * l).powi(2);
                    let q2 = num / den;
                    let cv = 1.0 / (1.0 + (q2 - q0s) / (q0s * (1.0 + q0s)));
                    c[j as usize * nx + i as usize] = cv.clamp(0.0, 1.0) as f32;
                }
            }
            let cat = |i: isize, j: isize| c[idx(i, j)];
            for j in 0..ny as isize {
                for i in 0..nx as isize {
                    let (v, dn, ds, dw, de) = diffs(i, j);
                    let cc = cat(i, j);
                    let d = cc * dn + cat(i, j + 1) * ds + cc * dw + cat(i + 1, j) * de;
                    next[j as usize * nx + i as usize] = (v + (options.lambda as f32 / 4.0) * d).max(floor);
                }
            }
            slice.copy_from_slice(&next);
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    #[test]
    fn flat_images_stay_flat_and_bad_options_fail() {
        let v = Volume::from_vec([8, 6, 2], Geometry::default(), vec![3.0f32; 96]).unwrap();
        let s = srad(&v, &SradOptions::default()).unwrap();
        assert!(s.data().iter().all(|&x| (x - 3.0).abs() < 1e-6));
        assert!(srad(&v, &SradOptions { lambda: 2.0, ..Default::default() }).is_err());
        let region =
            SradOptions { scale: SpeckleScale::Region { x: [0, 9], y: [0, 2] }, ..Default::default() };
        assert!(srad(&v, &region).is_err());
    }
}
