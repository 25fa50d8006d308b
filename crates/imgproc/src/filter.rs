//! Gaussian smoothing with sigma in millimetres, and image gradients (central differences
//! in mm) as a magnitude or a world-frame vector field.
//!
//! **Gaussian semantics.** Each axis is convolved with a sampled Gaussian of standard
//! deviation `σ_mm / spacing` voxels, truncated at radius `⌊4σ + 0.5⌋` voxels and normalized
//! to sum 1, with the border voxel repeated outside the image (zero-flux Neumann). This is
//! `scipy.ndimage.gaussian_filter(sigma=σ_mm/spacing, truncate=4, mode='nearest')` exactly
//! (tested to f32 rounding), and the physical-units semantics of SimpleITK
//! `SmoothingRecursiveGaussian(sigma=σ_mm)` (sigma in mm, unit gain, replicated border): that
//! filter approximates the same continuous Gaussian with a 4th-order recursive filter
//! (Deriche 1993), and the two agree within 0.2 % of the image's intensity range, border
//! included (tested on white noise, the hardest case: 0.09 % measured, rms 0.016 %). SimpleITK `DiscreteGaussian` differs more for small sigmas because it uses
//! Lindeberg's Bessel-function kernel, not a sampled Gaussian.
//!
//! Filters compute in f32 and return `Volume<f32>` whatever the input type.

use crate::lines::rows_by_y;
use crate::ImgprocError;
use hounsfield_core::{checked_voxels, Scalar, Volume};
use rayon::prelude::*;

/// Optional smoothing before differentiation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Smoothing {
    /// Differentiate the image as it is.
    #[default]
    None,
    /// Smooth with [`gaussian`] first (sigma per axis, mm).
    Gaussian {
        /// Standard deviation per index axis in mm (0 leaves an axis unsmoothed).
        sigma_mm: [f64; 3],
    },
}

/// The normalized half kernel `w[0..=r]` (`w[k]` for offsets ±k) of a sampled Gaussian with
/// standard deviation `sigma` voxels truncated at `⌊4σ + 0.5⌋` (scipy's `_gaussian_kernel1d`).
fn half_kernel(sigma: f64) -> Vec<f32> {
    let r = (4.0 * sigma + 0.5) as usize;
    let w: Vec<f64> = (0..=r).map(|k| (-0.5 * (k * k) as f64 / (sigma * sigma)).exp()).collect();
    let sum: f64 = w[0] + 2.0 * w[1..].iter().sum::<f64>();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Gaussian smoothing with standard deviation `sigma_mm` (mm) along each index axis (0 skips an
/// axis); see the module docs for the exact kernel and border. Separable: one pass per axis.
pub fn gaussian<T: Scalar>(vol: &Volume<T>, sigma_mm: [f64; 3]) -> Result<Volume<f32>, ImgprocError> {
    let dims = vol.dims();
    let sp = vol.geometry().spacing;
    let mut kernels: [Option<Vec<f32>>; 3] = [None, None, None];
    for a in 0..3 {
        let s = sigma_mm[a];
        if !(s.is_finite() && s >= 0.0) {
            return Err(ImgprocError::Filter {
                filter: "gaussian",
                reason: format!("sigma must be finite and non-negative, got {sigma_mm:?} mm"),
            });
        }
        let px = s / sp[a];
        if px > 1e4 {
            return Err(ImgprocError::Filter {
                filter: "gaussian",
                reason: format!("sigma {s} mm is {px:.0} voxels along axis {a} (at most 10000)"),
            });
        }
        // A kernel of radius 0 is the identity.
        if px > 0.0 && (4.0 * px + 0.5) as usize > 0 {
            kernels[a] = Some(half_kernel(px));
        }
    }
    let n = checked_voxels(dims, 4)?;
    let mut a: Vec<f32> = Vec::with_capacity(n);
    match &kernels[0] {
        Some(w) => {
            a.resize(n, 0.0);
            pass_x(vol.data(), &mut a, dims, w);
        }
        None => a.extend(vol.data().iter().map(|v| v.to_f64() as f32)),
    }
    let mut b: Vec<f32> = Vec::new();
    if let Some(w) = &kernels[1] {
        b.resize(n, 0.0);
        pass_y(&a, &mut b, dims, w);
        std::mem::swap(&mut a, &mut b);
    }
    if let Some(w) = &kernels[2] {
        b.resize(n, 0.0);
        pass_z(&a, &mut b, dims, w);
        std::mem::swap(&mut a, &mut b);
    }
    Ok(Volume::from_vec(dims, *vol.geometry(), a)?)
}

/// `out = w[0]·c + Σₖ w[k]·(lo(k) + hi(k))` over a row, vectorizable across the row.
#[inline(always)]
fn accumulate<'r>(
    out: &mut [f32],
    w: &[f32],
    centre: &[f32],
    pair: impl Fn(usize) -> (&'r [f32], &'r [f32]),
) {
    let w0 = w[0];
    out.iter_mut().zip(centre).for_each(|(o, c)| *o = w0 * c);
    for (k, &wk) in w.iter().enumerate().skip(1) {
        let (lo, hi) = pair(k);
        for ((o, l), h) in out.iter_mut().zip(lo).zip(hi) {
            *o += wk * (l + h);
        }
    }
}

fn pass_x<T: Scalar>(src: &[T], dst: &mut [f32], dims: [usize; 3], w: &[f32]) {
    let nx = dims[0];
    let r = w.len() - 1;
    dst.par_chunks_mut(nx).zip(src.par_chunks(nx)).for_each_init(
        || vec![0.0f32; nx + 2 * r],
        |pad, (out, row)| {
            // Repeat the border voxel r times on each side (zero-flux Neumann).
            let (first, last) = (row[0].to_f64() as f32, row[nx - 1].to_f64() as f32);
            pad[..r].fill(first);
            pad[r + nx..].fill(last);
            pad[r..r + nx].iter_mut().zip(row).for_each(|(p, v)| *p = v.to_f64() as f32);
            let pad = &pad[..];
            accumulate(out, w, &pad[r..r + nx], |k| (&pad[r - k..r - k + nx], &pad[r + k..r + k + nx]));
        },
    );
}

fn pass_y(src: &[f32], dst: &mut [f32], dims: [usize; 3], w: &[f32]) {
    let [nx, ny, _] = dims;
    dst.par_chunks_mut(nx * ny).zip(src.par_chunks(nx * ny)).for_each(|(out, slice)| {
        let row = |j: isize| {
            let j = j.clamp(0, ny as isize - 1) as usize;
            &slice[nx * j..nx * (j + 1)]
        };
        for (j, o) in out.chunks_mut(nx).enumerate() {
            let j = j as isize;
            accumulate(o, w, row(j), |k| (row(j - k as isize), row(j + k as isize)));
        }
    });
}

fn pass_z(src: &[f32], dst: &mut [f32], dims: [usize; 3], w: &[f32]) {
    let [nx, ny, nz] = dims;
    // One task per y: it walks z with a sliding window of rows that stays in cache.
    rows_by_y(dst, dims).into_par_iter().enumerate().for_each(|(y, mut rows)| {
        let row = |z: isize| {
            let z = z.clamp(0, nz as isize - 1) as usize;
            let o = nx * (y + ny * z);
            &src[o..o + nx]
        };
        for (z, o) in rows.iter_mut().enumerate() {
            let z = z as isize;
            accumulate(o, w, row(z), |k| (row(z - k as isize), row(z + k as isize)));
        }
    });
}

/// Central-difference derivatives along the index axes, per mm: `(f[i+1] − f[i−1]) / (2 s)`,
/// with the border voxel repeated outside (ITK's `DerivativeOperator` with zero-flux Neumann
/// boundaries). Returns the f32 image that was differentiated and the three derivatives.
fn index_derivatives<T: Scalar>(
    vol: &Volume<T>,
    smoothing: Smoothing,
) -> Result<(Vec<f32>, [Vec<f32>; 3]), ImgprocError> {
    let dims = vol.dims();
    let n = checked_voxels(dims, 16)?;
    let f: Vec<f32> = match smoothing {
        Smoothing::None => vol.data().par_iter().map(|v| v.to_f64() as f32).collect(),
        Smoothing::Gaussian { sigma_mm } => gaussian(vol, sigma_mm)
            .map_err(|e| ImgprocError::Filter { filter: "gradient", reason: e.to_string() })?
            .into_vec(),
    };
    let [nx, ny, nz] = dims;
    let sp = vol.geometry().spacing;
    let mut d = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
    let [dx, dy, dz] = &mut d;
    let (hx, hy, hz) = ((0.5 / sp[0]) as f32, (0.5 / sp[1]) as f32, (0.5 / sp[2]) as f32);
    dx.par_chunks_mut(nx).zip(dy.par_chunks_mut(nx)).zip(dz.par_chunks_mut(nx)).enumerate().for_each(
        |(r, ((ox, oy), oz))| {
            let (j, k) = (r % ny, r / ny);
            let row = |j: usize, k: usize| &f[nx * (j + ny * k)..nx * (j + ny * k) + nx];
            let c = row(j, k);
            for i in 0..nx {
                let (a, b) = (c[i.saturating_sub(1)], c[(i + 1).min(nx - 1)]);
                ox[i] = (b - a) * hx;
            }
            let (ym, yp) = (row(j.saturating_sub(1), k), row((j + 1).min(ny - 1), k));
            oy.iter_mut().zip(ym.iter().zip(yp)).for_each(|(o, (a, b))| *o = (b - a) * hy);
            let (zm, zp) = (row(j, k.saturating_sub(1)), row(j, (k + 1).min(nz - 1)));
            oz.iter_mut().zip(zm.iter().zip(zp)).for_each(|(o, (a, b))| *o = (b - a) * hz);
        },
    );
    Ok((f, d))
}

/// Gradient magnitude (intensity per mm) by central differences in mm, optionally after
/// Gaussian smoothing (SimpleITK `GradientMagnitude` with image spacing; with smoothing, like
/// `GradientMagnitudeRecursiveGaussian` up to the Gaussian's approximation, see the module docs).
pub fn gradient_magnitude<T: Scalar>(
    vol: &Volume<T>,
    smoothing: Smoothing,
) -> Result<Volume<f32>, ImgprocError> {
    let (_, [dx, dy, dz]) = index_derivatives(vol, smoothing)?;
    let mut m = dx;
    m.par_iter_mut().zip(dy.par_iter().zip(dz.par_iter())).for_each(|(x, (y, z))| {
        *x = (*x * *x + y * y + z * z).sqrt();
    });
    Ok(vol.with_data(m)?)
}

/// The gradient as a world-frame vector field: three volumes holding `∂f/∂x`, `∂f/∂y`,
/// `∂f/∂z` in LPS world axes (intensity per mm). Central differences in mm along the index
/// axes (see [`gradient_magnitude`]) are rotated by the direction matrix (exactly: multiplied
/// by `(direction · diag(spacing))⁻ᵀ`), like SimpleITK `Gradient(useImageDirection=True)`.
pub fn gradient<T: Scalar>(vol: &Volume<T>, smoothing: Smoothing) -> Result<[Volume<f32>; 3], ImgprocError> {
    let (_, [mut d0, mut d1, mut d2]) = index_derivatives(vol, smoothing)?;
    // Derivatives per mm along index axis a are g_a = ∂f/∂i_a / s_a; the world gradient is
    // M⁻ᵀ (∂f/∂i) = (D⁻ᵀ) g, which is D g for an orthonormal direction D.
    let g = vol.geometry();
    let w2i = g.world_to_index_affine()?;
    let mut r = [[0.0f32; 3]; 3];
    for (w, row) in r.iter_mut().enumerate() {
        for (a, v) in row.iter_mut().enumerate() {
            // (M⁻ᵀ)[w][a] · s_a.
            *v = (w2i.m[a][w] * g.spacing[a]) as f32;
        }
    }
    d0.par_iter_mut().zip(d1.par_iter_mut().zip(d2.par_iter_mut())).for_each(|(a, (b, c))| {
        let (x, y, z) = (*a, *b, *c);
        *a = r[0][0] * x + r[0][1] * y + r[0][2] * z;
        *b = r[1][0] * x + r[1][1] * y + r[1][2] * z;
        *c = r[2][0] * x + r[2][1] * y + r[2][2] * z;
    });
    Ok([vol.with_data(d0)?, vol.with_data(d1)?, vol.with_data(d2)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    #[test]
    fn impulse_response_is_the_sampled_gaussian_in_mm() {
        let sp = [0.5, 1.0, 2.0];
        let sigma = [1.5, 2.0, 3.0];
        let dims = [41, 31, 21];
        let mut v = Volume::<f32>::zeros(dims, Geometry::with_spacing(sp)).unwrap();
        *v.get_mut(20, 15, 10).unwrap() = 1.0;
        let g = gaussian(&v, sigma).unwrap();
        // Analytic: product of normalized sampled 1-D Gaussians with σ/spacing voxels.
        let norm = |s: f64| {
            let r = (4.0 * s + 0.5) as i64;
            (-r..=r).map(|k| (-0.5 * (k * k) as f64 / (s * s)).exp()).sum::<f64>()
        };
        let s = [sigma[0] / sp[0], sigma[1] / sp[1], sigma[2] / sp[2]];
        let (n0, n1, n2) = (norm(s[0]), norm(s[1]), norm(s[2]));
        let mut total = 0.0;
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let d = [i as f64 - 20.0, j as f64 - 15.0, k as f64 - 10.0];
                    let inside = (0..3).all(|a| d[a].abs() <= (4.0 * s[a] + 0.5).floor());
                    let want = if inside {
                        (0..3).map(|a| (-0.5 * d[a] * d[a] / (s[a] * s[a])).exp()).product::<f64>()
                            / (n0 * n1 * n2)
                    } else {
                        0.0
                    };
                    let got = *g.get(i, j, k).unwrap() as f64;
                    // 1e-8: f32 products of three weights of at most ~0.27.
                    assert!((got - want).abs() < 1e-8, "({i},{j},{k}): {got} vs {want}");
                    total += got;
                }
            }
        }
        // Unit gain: 1e-5 for the f32 sum of 27k terms.
        assert!((total - 1.0).abs() < 1e-5);
    }

    #[test]
    fn constant_stays_constant_and_zero_sigma_is_identity() {
        let v = Volume::<i16>::filled([6, 5, 4], Geometry::default(), 100).unwrap();
        let g = gaussian(&v, [3.0, 3.0, 3.0]).unwrap();
        // 1e-4: f32 weights summing to 1 within a few ulps, times 100.
        assert!(g.data().iter().all(|x| (x - 100.0).abs() < 1e-4));
        let r = Volume::from_vec([3, 1, 1], Geometry::default(), vec![1.0f32, -2.0, 5.0]).unwrap();
        assert_eq!(gaussian(&r, [0.0; 3]).unwrap(), r);
        assert!(gaussian(&r, [-1.0, 0.0, 0.0]).is_err());
        assert!(gaussian(&r, [f64::NAN, 0.0, 0.0]).is_err());
    }

    #[test]
    fn gradient_of_a_world_ramp_is_its_slope() {
        let (c, s) = (0.5f64.cos(), 0.5f64.sin());
        let g = Geometry {
            origin: [3.0, -4.0, 1.0],
            spacing: [0.7, 1.2, 2.5],
            direction: [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        };
        let a = [0.4, -1.1, 0.25];
        let dims = [9, 8, 7];
        let mut data = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    data.push((a[0] * p[0] + a[1] * p[1] + a[2] * p[2]) as f32);
                }
            }
        }
        let v = Volume::from_vec(dims, g, data).unwrap();
        let gr = gradient(&v, Smoothing::None).unwrap();
        let gm = gradient_magnitude(&v, Smoothing::None).unwrap();
        let norm = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
        // Interior voxels only: at the border the repeated voxel halves the difference.
        for k in 1..dims[2] - 1 {
            for j in 1..dims[1] - 1 {
                for i in 1..dims[0] - 1 {
                    for w in 0..3 {
                        // 1e-4: f32 differences of values of magnitude ~10.
                        let got = *gr[w].get(i, j, k).unwrap() as f64;
                        assert!((got - a[w]).abs() < 1e-4, "axis {w}: {got} vs {}", a[w]);
                    }
                    assert!((*gm.get(i, j, k).unwrap() as f64 - norm).abs() < 1e-4);
                }
            }
        }
        // Border along x: (f[1] − f[0]) / (2 s), half the slope along index axis 0.
        let m0 = *gm.get(0, 3, 3).unwrap() as f64;
        assert!(m0 < norm);
    }
}
