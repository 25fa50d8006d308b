//! Coil sensitivities: simulated birdcage maps, root-sum-of-squares, sensitivity-weighted
//! combination, and Walsh's adaptive estimate from the calibration region (ESPIRiT is in
//! [`super::espirit`]).

use hounsfield_core::{Geometry, Volume};
use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::array::CoilArray;
use super::fft::CenteredFft;
use crate::error::{invalid, ReconError};

/// Birdcage-like sensitivities for `coils` loops evenly spaced on a circle of radius 1.5×
/// the half field of view around the grid's centre (the model of sigpy's `birdcage_maps`):
/// coil `c` at angle `θ_c = 2πc/C` has `S_c = e^{i(φ_c − θ_c)} / r_c`, with `r_c` the distance
/// to the coil and `φ_c` the polar angle around it, so both magnitude and phase vary
/// smoothly. For 3-D grids the loops sit on the central plane and the distance includes z.
/// The maps are normalised to a root-sum-of-squares of 1 everywhere.
pub fn birdcage(dims: [usize; 3], coils: usize, geometry: Geometry) -> Result<CoilArray, ReconError> {
    if !(1..=128).contains(&coils) {
        return Err(invalid("coils", format!("must be 1..=128, got {coils}")));
    }
    let [nx, ny, nz] = dims;
    let mut out = CoilArray::zeros([nx, ny, nz, coils], geometry)?;
    let n = nx * ny * nz;
    let half = [nx, ny, nz].map(|d| (d as f64 / 2.0).max(1.0));
    let hxy = half[0].max(half[1]);
    out.data_mut().par_chunks_mut(n).enumerate().for_each(|(c, map)| {
        let theta = 2.0 * std::f64::consts::PI * c as f64 / coils as f64;
        let (cx, cy) = (1.5 * theta.cos(), 1.5 * theta.sin());
        for (i, v) in map.iter_mut().enumerate() {
            let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
            let px = (x as f64 - (nx / 2) as f64) / hxy - cx;
            let py = (y as f64 - (ny / 2) as f64) / hxy - cy;
            let pz = if nz > 1 { (z as f64 - (nz / 2) as f64) / hxy } else { 0.0 };
            let r = (px * px + py * py + pz * pz).sqrt();
            let phi = px.atan2(-py) - theta;
            let (s, co) = phi.sin_cos();
            *v = Complex32::new((co / r) as f32, (s / r) as f32);
        }
    });
    normalise_rss(&mut out);
    Ok(out)
}

/// Scales the maps so their root-sum-of-squares is 1 wherever it is non-zero.
fn normalise_rss(maps: &mut CoilArray) {
    let r = rss_raw(maps);
    let n = maps.grid_len();
    maps.data_mut().par_chunks_mut(n).for_each(|m| {
        for (v, &s) in m.iter_mut().zip(&r) {
            if s > 0.0 {
                *v /= s;
            }
        }
    });
}

fn rss_raw(a: &CoilArray) -> Vec<f32> {
    let n = a.grid_len();
    let mut acc = vec![0.0f32; n];
    for coil in a.data().chunks_exact(n) {
        acc.par_iter_mut().zip(coil).for_each(|(s, v)| *s += v.norm_sqr());
    }
    acc.par_iter_mut().for_each(|s| *s = s.sqrt());
    acc
}

/// Root-sum-of-squares over coils of coil images: `√Σ|x_c|²`, on the array's grid.
pub fn rss(images: &CoilArray) -> Result<Volume<f32>, ReconError> {
    Ok(Volume::from_vec(images.grid_dims(), *images.geometry(), rss_raw(images))?)
}

/// The sensitivity-weighted combination `Σ conj(S_c)·x_c / Σ|S_c|²` (Roemer et al. 1990),
/// zero where the maps vanish. With maps of unit root-sum-of-squares this is the adjoint of
/// the coil expansion.
pub fn combine(images: &CoilArray, maps: &CoilArray) -> Result<Volume<Complex32>, ReconError> {
    images.require_same_grid(maps, "coil images and sensitivity maps")?;
    if images.coils() != maps.coils() {
        return Err(coil_count(maps.coils(), images.coils()));
    }
    let n = images.grid_len();
    let mut num = vec![Complex32::default(); n];
    let mut den = vec![0.0f32; n];
    for (x, s) in images.data().chunks_exact(n).zip(maps.data().chunks_exact(n)) {
        num.par_iter_mut().zip(den.par_iter_mut()).zip(x.par_iter().zip(s)).for_each(|((a, d), (x, s))| {
            *a += s.conj() * x;
            *d += s.norm_sqr();
        });
    }
    num.par_iter_mut().zip(&den).for_each(|(a, &d)| *a = if d > 0.0 { *a / d } else { Complex32::default() });
    Ok(Volume::from_vec(images.grid_dims(), *images.geometry(), num)?)
}

pub(crate) fn coil_count(maps: usize, data: usize) -> ReconError {
    hounsfield_core::CoreError::GridMismatch(format!("the maps have {maps} coils, the k-space {data}")).into()
}

/// The coil images of a k-space array (inverse centred FFT of every coil).
pub fn coil_images(kspace: &CoilArray) -> Result<CoilArray, ReconError> {
    let mut out = kspace.clone();
    CenteredFft::new(kspace.grid_dims()).inverse(out.data_mut())?;
    Ok(out)
}

/// Options of [`walsh`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WalshOptions {
    /// Side of the central k-space block the low-resolution coil images are made from
    /// (default 24).
    pub calibration: usize,
    /// Side of the square (cube in 3-D) neighbourhood the coil covariance is averaged over,
    /// in pixels (default 7).
    pub window: usize,
}

impl Default for WalshOptions {
    fn default() -> Self {
        Self { calibration: 24, window: 7 }
    }
}

/// Walsh's adaptive estimate (Walsh, Gmitro & Marcellin 2000): low-resolution coil images
/// from the central k-space block (Hann-windowed to limit ringing), their coil covariance
/// averaged over a sliding window, and at every pixel the dominant eigenvector of that
/// covariance, with the phase of its projection on the first principal coil removed. The
/// maps have unit norm over coils.
pub fn walsh(kspace: &CoilArray, options: &WalshOptions) -> Result<CoilArray, ReconError> {
    kspace.check_finite("k-space")?;
    if options.window == 0 || options.window > 64 {
        return Err(invalid("window", format!("must be 1..=64, got {}", options.window)));
    }
    if options.calibration < 2 {
        return Err(invalid("calibration", format!("must be at least 2, got {}", options.calibration)));
    }
    let dims = kspace.grid_dims();
    let c = kspace.coils();
    let n = kspace.grid_len();
    // Hann-windowed central block, everything else zero.
    let mut low = kspace.clone();
    let half =
        [0, 1, 2].map(|a| if dims[a] == 1 { 0.0 } else { options.calibration.min(dims[a]) as f64 / 2.0 });
    let window: Vec<f32> = (0..n)
        .map(|i| {
            let p = [i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1])];
            let mut w = 1.0f64;
            for a in 0..3 {
                if dims[a] > 1 {
                    let d = (p[a] as f64 - (dims[a] / 2) as f64) / half[a];
                    w *= if d.abs() < 1.0 { 0.5 * (1.0 + (std::f64::consts::PI * d).cos()) } else { 0.0 };
                }
            }
            w as f32
        })
        .collect();
    low.data_mut().par_chunks_mut(n).for_each(|k| k.iter_mut().zip(&window).for_each(|(v, &w)| *v *= w));
    CenteredFft::new(dims).inverse(low.data_mut())?;
    // Packed upper-triangle covariance images, box-filtered.
    let pairs: Vec<(usize, usize)> = (0..c).flat_map(|i| (i..c).map(move |j| (i, j))).collect();
    let cov: Vec<Vec<Complex32>> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (a, b) = (&low.data()[i * n..(i + 1) * n], &low.data()[j * n..(j + 1) * n]);
            let prod: Vec<Complex32> = a.iter().zip(b).map(|(x, y)| x * y.conj()).collect();
            box_filter(&prod, dims, options.window)
        })
        .collect();
    let reference = principal_coil(kspace, options.calibration)?;
    let mut maps = CoilArray::zeros(kspace.dims(), *kspace.geometry())?;
    let vecs: Vec<Vec<Complex32>> = (0..n)
        .into_par_iter()
        .map(|p| {
            let mut m = vec![[0.0f64; 2]; c * c];
            for (k, &(i, j)) in pairs.iter().enumerate() {
                let v = cov[k][p];
                m[i * c + j] = [v.re as f64, v.im as f64];
                m[j * c + i] = [v.re as f64, -v.im as f64];
            }
            let (v, _) = dominant_eigenvector(&m, c, 30);
            align_phase(&v, &reference)
        })
        .collect();
    for (p, v) in vecs.iter().enumerate() {
        for (ci, x) in v.iter().enumerate() {
            maps.data_mut()[ci * n + p] = *x;
        }
    }
    Ok(maps)
}

/// Mean over a `w`-wide box (clipped at the edges), separably along each axis of size > 1.
fn box_filter(x: &[Complex32], dims: [usize; 3], w: usize) -> Vec<Complex32> {
    let mut cur = x.to_vec();
    let strides = [1, dims[0], dims[0] * dims[1]];
    let r = (w / 2) as isize;
    for a in 0..3 {
        let n = dims[a];
        if n == 1 {
            continue;
        }
        let mut next = vec![Complex32::default(); cur.len()];
        for (i, out) in next.iter_mut().enumerate() {
            let k = ((i / strides[a]) % n) as isize;
            let base = i - k as usize * strides[a];
            let (lo, hi) = ((k - r).max(0), (k + r).min(n as isize - 1));
            let mut s = Complex32::default();
            for j in lo..=hi {
                s += cur[base + j as usize * strides[a]];
            }
            *out = s / (hi - lo + 1) as f32;
        }
        cur = next;
    }
    cur
}

/// The first principal component over coils of the central `calibration`-wide k-space
/// block: the reference whose phase the maps are aligned to (BART `ecalib`'s default phase
/// rotation).
pub(crate) fn principal_coil(kspace: &CoilArray, calibration: usize) -> Result<Vec<Complex32>, ReconError> {
    let dims = kspace.grid_dims();
    let c = kspace.coils();
    let n = kspace.grid_len();
    let lo = dims.map(|d| (d / 2).saturating_sub(calibration / 2));
    let hi = [0, 1, 2].map(|a| (lo[a] + calibration).min(dims[a]));
    let mut m = vec![[0.0f64; 2]; c * c];
    for z in lo[2]..hi[2] {
        for y in lo[1]..hi[1] {
            for x in lo[0]..hi[0] {
                let p = x + dims[0] * (y + dims[1] * z);
                for i in 0..c {
                    let a = kspace.data()[i * n + p];
                    for j in 0..c {
                        let b = kspace.data()[j * n + p];
                        let v = a * b.conj();
                        m[i * c + j][0] += v.re as f64;
                        m[i * c + j][1] += v.im as f64;
                    }
                }
            }
        }
    }
    let (v, _) = dominant_eigenvector(&m, c, 100);
    if v.iter().all(|x| x.norm_sqr() == 0.0) {
        return Err(invalid("k-space", "the calibration region holds no signal"));
    }
    Ok(v)
}

/// Multiplies `v` by the unit phase that makes `Σ conj(ref_c)·v_c` real and positive.
pub(crate) fn align_phase(v: &[Complex32], reference: &[Complex32]) -> Vec<Complex32> {
    let p: Complex32 = v.iter().zip(reference).map(|(a, r)| r.conj() * a).sum();
    let m = p.norm();
    if m > 0.0 {
        let u = p.conj() / m;
        v.iter().map(|a| a * u).collect()
    } else {
        v.to_vec()
    }
}

/// Dominant eigenvector (unit norm) and eigenvalue of a Hermitian positive semi-definite
/// `c × c` matrix (row-major `[re, im]` pairs) by power iteration from its strongest column
/// (`iterations` products: the result after the first is that column, normalised).
pub(crate) fn dominant_eigenvector(m: &[[f64; 2]], c: usize, iterations: usize) -> (Vec<Complex32>, f64) {
    let j0 = (0..c).max_by(|&a, &b| m[a * c + a][0].total_cmp(&m[b * c + b][0])).unwrap_or(0);
    let v: Vec<[f64; 2]> = (0..c).map(|i| m[i * c + j0]).collect();
    power_iteration(m, c, v, iterations)
}

/// Power iteration from `v` (`iterations` products with `m`), as [`dominant_eigenvector`].
pub(crate) fn power_iteration(
    m: &[[f64; 2]],
    c: usize,
    mut v: Vec<[f64; 2]>,
    iterations: usize,
) -> (Vec<Complex32>, f64) {
    let mut w = vec![[0.0f64; 2]; c];
    let norm = |v: &[[f64; 2]]| v.iter().map(|x| x[0] * x[0] + x[1] * x[1]).sum::<f64>().sqrt();
    let mut nv = norm(&v);
    if nv == 0.0 {
        return (vec![Complex32::default(); c], 0.0);
    }
    for _ in 0..iterations {
        for x in v.iter_mut() {
            x[0] /= nv;
            x[1] /= nv;
        }
        for i in 0..c {
            let (mut re, mut im) = (0.0, 0.0);
            for j in 0..c {
                let a = m[i * c + j];
                let b = v[j];
                re += a[0] * b[0] - a[1] * b[1];
                im += a[0] * b[1] + a[1] * b[0];
            }
            w[i] = [re, im];
        }
        std::mem::swap(&mut v, &mut w);
        nv = norm(&v);
        if nv == 0.0 {
            return (vec![Complex32::default(); c], 0.0);
        }
    }
    // v = M·u with ‖u‖ = 1 and u ≈ v/‖v‖: the eigenvalue is ‖v‖.
    let out = v.iter().map(|x| Complex32::new((x[0] / nv) as f32, (x[1] / nv) as f32)).collect();
    (out, nv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birdcage_maps_are_smooth_and_normalised() {
        let m = birdcage([32, 32, 1], 8, Geometry::default()).unwrap();
        let r = rss(&m).unwrap();
        // Normalised to 1 (f32 rounding).
        assert!(r.data().iter().all(|&v| (v - 1.0).abs() < 1e-5));
        // Coil 0 sits at +x: stronger on the right edge than on the left.
        let c0 = m.coil(0).unwrap();
        assert!(c0[31 + 32 * 16].norm() > 2.0 * c0[32 * 16].norm());
        assert!(birdcage([4, 4, 1], 0, Geometry::default()).is_err());
    }

    #[test]
    fn combine_inverts_the_coil_expansion() {
        let maps = birdcage([16, 16, 1], 4, Geometry::default()).unwrap();
        let img: Vec<Complex32> = (0..256).map(|i| Complex32::new(i as f32, -(i as f32) / 2.0)).collect();
        let mut coils = maps.clone();
        coils.data_mut().chunks_mut(256).for_each(|c| c.iter_mut().zip(&img).for_each(|(s, x)| *s *= x));
        let back = combine(&coils, &maps).unwrap();
        for (a, b) in back.data().iter().zip(&img) {
            // Relative f32 error of a 4-term sum.
            assert!((a - b).norm() <= 1e-5 * b.norm().max(1.0));
        }
    }

    #[test]
    fn power_iteration_finds_the_top_eigenvector() {
        // diag(1, 3) rotated: eigenvector for 3 is (1, i)/√2.
        let m = [[2.0, 0.0], [0.0, -1.0], [0.0, 1.0], [2.0, 0.0]];
        let (v, l) = dominant_eigenvector(&m, 2, 50);
        assert!((l - 3.0).abs() < 1e-9);
        let r = v[1] / v[0];
        assert!((r - Complex32::new(0.0, 1.0)).norm() < 1e-5, "{v:?}");
    }
}
