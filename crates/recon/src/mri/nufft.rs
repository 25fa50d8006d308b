//! Non-Cartesian MRI: a 2-D NUFFT by Kaiser–Bessel gridding, density compensation, and
//! gridding and CG-SENSE reconstructions of radial data.
//!
//! The NUFFT ([`Nufft`]) follows Beatty, Nishimura & Pauly ("Rapid gridding reconstruction
//! with a minimal oversampling ratio", IEEE TMI 24:799, 2005): the image is divided by the
//! kernel's Fourier transform (deapodisation), zero-padded to an `α`-times oversampled grid,
//! transformed by the centred FFT, and interpolated onto the trajectory with a Kaiser–Bessel
//! kernel of width `W` grid cells and shape `β = π·√(W²/α²·(α − ½)² − 0.8)` (their eq. 5).
//! The adjoint spreads samples with the same kernel, transforms back, crops and
//! deapodises — it is the exact adjoint, so `⟨A·x, y⟩ = ⟨x, Aᴴ·y⟩` to rounding. At Cartesian
//! points it reproduces the centred orthonormal FFT ([`super::fft`]) to about 10⁻³ (α = 2,
//! W = 6).
//!
//! Radial data are `coils × spokes × samples` (sample fastest), on a
//! [`super::sampling::Trajectory`] in cycles per field of view.

use hounsfield_core::{Geometry, Volume};
use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::array::CoilArray;
use super::fft::CenteredFft;
use super::sampling::Trajectory;
use super::sense::conjugate_gradient;
use crate::ct::iterative::Callback;
use crate::error::{invalid, ReconError};

/// Options of [`Nufft::new`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NufftOptions {
    /// Grid oversampling `α` (default 2).
    pub oversampling: f64,
    /// Kernel width `W` in oversampled grid cells (default 6).
    pub width: usize,
}

impl Default for NufftOptions {
    fn default() -> Self {
        Self { oversampling: 2.0, width: 6 }
    }
}

/// Modified Bessel function of the first kind, order 0 (Abramowitz & Stegun 9.8.1–2).
fn bessel_i0(x: f64) -> f64 {
    let ax = x.abs();
    if ax < 3.75 {
        let y = (x / 3.75).powi(2);
        1.0 + y
            * (3.515_622_9
                + y * (3.089_942_4
                    + y * (1.206_749_2 + y * (0.265_973_2 + y * (0.036_076_8 + y * 0.004_581_3)))))
    } else {
        let y = 3.75 / ax;
        (ax.exp() / ax.sqrt())
            * (0.398_942_28
                + y * (0.013_285_92
                    + y * (0.002_253_19
                        + y * (-0.001_575_65
                            + y * (0.009_162_81
                                + y * (-0.020_577_06
                                    + y * (0.026_355_37 + y * (-0.016_476_33 + y * 0.003_923_77))))))))
    }
}

/// A planned 2-D NUFFT for one trajectory and image size.
#[derive(Debug)]
pub struct Nufft {
    image: [usize; 2],
    grid: [usize; 2],
    width: usize,
    /// Per point: first grid index along x and y (wrapped later) and the kernel weights.
    start: Vec<[i64; 2]>,
    wx: Vec<f32>,
    wy: Vec<f32>,
    deapod: Vec<f32>,
    fft: CenteredFft,
}

impl Nufft {
    /// Plans the transform between an image of `traj.image_dims` and the trajectory.
    pub fn new(traj: &Trajectory, options: &NufftOptions) -> Result<Self, ReconError> {
        traj.validate()?;
        let a = options.oversampling;
        if !(a.is_finite() && (1.25..=4.0).contains(&a)) {
            return Err(invalid("oversampling", format!("must be in 1.25..=4, got {a}")));
        }
        let wd = options.width;
        if !(2..=12).contains(&wd) {
            return Err(invalid("width", format!("must be 2..=12, got {wd}")));
        }
        let image = traj.image_dims;
        // Even oversampled grid sizes keep the centred FFT's DC at index g/2.
        let grid = image.map(|n| (((n as f64 * a) / 2.0).ceil() as usize) * 2);
        hounsfield_core::check_alloc(grid[0] as u128 * grid[1] as u128, 8)?;
        let w = wd as f64;
        let beta = std::f64::consts::PI * ((w * w / (a * a)) * (a - 0.5).powi(2) - 0.8).max(0.0).sqrt();
        let slots = wd + 1;
        hounsfield_core::check_alloc(traj.len() as u128 * 2 * slots as u128, 4)?;
        let kernel = |d: f64| {
            let t = 2.0 * d / w;
            if t.abs() > 1.0 {
                0.0
            } else {
                bessel_i0(beta * (1.0 - t * t).sqrt())
            }
        };
        let mut start = Vec::with_capacity(traj.len());
        let mut wx = Vec::with_capacity(traj.len() * slots);
        let mut wy = Vec::with_capacity(traj.len() * slots);
        for p in &traj.coords {
            let mut s = [0i64; 2];
            for ax in 0..2 {
                // Grid coordinate: k (cycles/FOV) × g/n, DC at g/2.
                let u = p[ax] as f64 * grid[ax] as f64 / image[ax] as f64 + (grid[ax] / 2) as f64;
                let j0 = (u - w / 2.0).ceil() as i64;
                s[ax] = j0;
                let dst = if ax == 0 { &mut wx } else { &mut wy };
                for k in 0..slots {
                    dst.push(kernel((j0 + k as i64) as f64 - u) as f32);
                }
            }
            start.push(s);
        }
        // Deapodisation: the kernel's continuous Fourier transform at each image pixel,
        // W·sinh(√(β² − (πWx/g)²))/√(…), times √(g²/n²) so grid points match the orthonormal FFT.
        let ft = |x: f64, g: f64| {
            let z = beta * beta - (std::f64::consts::PI * w * x / g).powi(2);
            if z > 0.0 {
                let r = z.sqrt();
                w * r.sinh() / r
            } else if z < 0.0 {
                let r = (-z).sqrt();
                w * r.sin() / r
            } else {
                w
            }
        };
        let norm = ((grid[0] * grid[1]) as f64 / (image[0] * image[1]) as f64).sqrt();
        let mut deapod = vec![0.0f32; image[0] * image[1]];
        for y in 0..image[1] {
            let cy = ft(y as f64 - (image[1] / 2) as f64, grid[1] as f64);
            for x in 0..image[0] {
                let cx = ft(x as f64 - (image[0] / 2) as f64, grid[0] as f64);
                deapod[x + image[0] * y] = (norm / (cx * cy)) as f32;
            }
        }
        Ok(Self {
            image,
            grid,
            width: wd,
            start,
            wx,
            wy,
            deapod,
            fft: CenteredFft::new([grid[0], grid[1], 1]),
        })
    }

    /// Points on the trajectory.
    pub fn samples(&self) -> usize {
        self.start.len()
    }

    /// Pixels in the image.
    pub fn image_len(&self) -> usize {
        self.image[0] * self.image[1]
    }

    /// Image → samples for one coil.
    pub fn forward(&self, image: &[Complex32], out: &mut [Complex32]) -> Result<(), ReconError> {
        self.check(image.len(), out.len())?;
        let [gx, gy] = self.grid;
        let [nx, ny] = self.image;
        let mut g = vec![Complex32::default(); gx * gy];
        let (ox, oy) = (gx / 2 - nx / 2, gy / 2 - ny / 2);
        for y in 0..ny {
            for x in 0..nx {
                g[(y + oy) * gx + x + ox] = image[x + nx * y] * self.deapod[x + nx * y];
            }
        }
        self.fft.forward(&mut g)?;
        let slots = self.width + 1;
        out.par_iter_mut().enumerate().for_each(|(p, o)| {
            let [sx, sy] = self.start[p];
            let wx = &self.wx[p * slots..(p + 1) * slots];
            let wy = &self.wy[p * slots..(p + 1) * slots];
            let mut acc = Complex32::default();
            for (b, &vy) in wy.iter().enumerate() {
                let row = (sy + b as i64).rem_euclid(gy as i64) as usize * gx;
                let mut r = Complex32::default();
                for (a, &vx) in wx.iter().enumerate() {
                    r += g[row + (sx + a as i64).rem_euclid(gx as i64) as usize] * vx;
                }
                acc += r * vy;
            }
            *o = acc;
        });
        Ok(())
    }

    /// Samples → image for one coil (the exact adjoint of [`Nufft::forward`]).
    pub fn adjoint(&self, samples: &[Complex32], image: &mut [Complex32]) -> Result<(), ReconError> {
        self.check(image.len(), samples.len())?;
        let [gx, gy] = self.grid;
        let [nx, ny] = self.image;
        let mut g = vec![Complex32::default(); gx * gy];
        let slots = self.width + 1;
        for (p, v) in samples.iter().enumerate() {
            let [sx, sy] = self.start[p];
            let wx = &self.wx[p * slots..(p + 1) * slots];
            let wy = &self.wy[p * slots..(p + 1) * slots];
            for (b, &vy) in wy.iter().enumerate() {
                let row = (sy + b as i64).rem_euclid(gy as i64) as usize * gx;
                let vr = v * vy;
                for (a, &vx) in wx.iter().enumerate() {
                    g[row + (sx + a as i64).rem_euclid(gx as i64) as usize] += vr * vx;
                }
            }
        }
        self.fft.inverse(&mut g)?;
        let (ox, oy) = (gx / 2 - nx / 2, gy / 2 - ny / 2);
        for y in 0..ny {
            for x in 0..nx {
                image[x + nx * y] = g[(y + oy) * gx + x + ox] * self.deapod[x + nx * y];
            }
        }
        Ok(())
    }

    fn check(&self, image: usize, samples: usize) -> Result<(), ReconError> {
        if image != self.image_len() {
            return Err(ReconError::BufferLength { what: "image", len: image, expected: self.image_len() });
        }
        if samples != self.samples() {
            return Err(ReconError::BufferLength { what: "samples", len: samples, expected: self.samples() });
        }
        Ok(())
    }

    /// Pipe & Menon's iterative density compensation (MRM 41:179, 1999):
    /// `w ← w / (C ∗ (C ∗ w))` evaluated at the samples, `iterations` times from `w = 1`, then
    /// scaled so that gridding `Aᴴ·(w ⊙ A·x)` returns a smooth test image `x` at its own
    /// level (least squares).
    pub fn density_compensation(&self, iterations: usize) -> Result<Vec<f32>, ReconError> {
        let [gx, gy] = self.grid;
        let slots = self.width + 1;
        let m = self.samples();
        let mut w = vec![1.0f32; m];
        for _ in 0..iterations {
            let mut g = vec![0.0f32; gx * gy];
            for (p, &wp) in w.iter().enumerate() {
                let [sx, sy] = self.start[p];
                for b in 0..slots {
                    let row = (sy + b as i64).rem_euclid(gy as i64) as usize * gx;
                    for a in 0..slots {
                        g[row + (sx + a as i64).rem_euclid(gx as i64) as usize] +=
                            wp * self.wx[p * slots + a] * self.wy[p * slots + b];
                    }
                }
            }
            w.par_iter_mut().enumerate().for_each(|(p, wp)| {
                let [sx, sy] = self.start[p];
                let mut d = 0.0f32;
                for b in 0..slots {
                    let row = (sy + b as i64).rem_euclid(gy as i64) as usize * gx;
                    for a in 0..slots {
                        d += g[row + (sx + a as i64).rem_euclid(gx as i64) as usize]
                            * self.wx[p * slots + a]
                            * self.wy[p * slots + b];
                    }
                }
                if d > 0.0 {
                    *wp /= d;
                }
            });
        }
        // Calibrate the overall level on a smooth disc.
        let [nx, ny] = self.image;
        let test: Vec<Complex32> = (0..nx * ny)
            .map(|i| {
                let (x, y) = ((i % nx) as f64 - (nx / 2) as f64, (i / nx) as f64 - (ny / 2) as f64);
                let r2 = (x / (0.3 * nx as f64)).powi(2) + (y / (0.3 * ny as f64)).powi(2);
                Complex32::new((-r2).exp() as f32, 0.0)
            })
            .collect();
        let mut k = vec![Complex32::default(); m];
        self.forward(&test, &mut k)?;
        k.iter_mut().zip(&w).for_each(|(v, &wi)| *v *= wi);
        let mut back = vec![Complex32::default(); nx * ny];
        self.adjoint(&k, &mut back)?;
        let num: f64 = back.iter().zip(&test).map(|(b, t)| (b.re * t.re + b.im * t.im) as f64).sum();
        let den: f64 = back.iter().map(|b| b.norm_sqr() as f64).sum();
        let s = if den > 0.0 { (num / den) as f32 } else { 1.0 };
        w.iter_mut().for_each(|v| *v *= s);
        Ok(w)
    }
}

/// Radial (non-Cartesian) multi-coil data: `coils` blocks of `trajectory.len()` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct RadialData {
    /// Where every sample was taken.
    pub trajectory: Trajectory,
    /// Coils.
    pub coils: usize,
    /// Samples, trajectory order, coil slowest.
    pub data: Vec<Complex32>,
}

impl RadialData {
    /// Checks the sizes and that every sample is finite.
    pub fn validate(&self) -> Result<(), ReconError> {
        let expected = self.trajectory.len() * self.coils;
        if self.data.len() != expected || self.coils == 0 {
            return Err(ReconError::BufferLength { what: "radial data", len: self.data.len(), expected });
        }
        if let Some(index) = self.data.iter().position(|v| !(v.re.is_finite() && v.im.is_finite())) {
            return Err(ReconError::NonFiniteInput { what: "radial data", index });
        }
        Ok(())
    }
}

/// Simulates radial multi-coil data of `image` seen through `maps` (exact NUFFT of the
/// coil images).
pub fn simulate_radial(
    image: &Volume<Complex32>,
    maps: &CoilArray,
    trajectory: &Trajectory,
    options: &NufftOptions,
) -> Result<RadialData, ReconError> {
    let [nx, ny, nz] = image.dims();
    if nz != 1 || [nx, ny] != trajectory.image_dims || maps.grid_dims() != [nx, ny, 1] {
        return Err(hounsfield_core::CoreError::GridMismatch(format!(
            "image {:?}, maps {:?} and trajectory image {:?} must share one 2-D grid",
            image.dims(),
            maps.grid_dims(),
            trajectory.image_dims
        ))
        .into());
    }
    let op = Nufft::new(trajectory, options)?;
    let n = nx * ny;
    let m = op.samples();
    let mut data = vec![Complex32::default(); m * maps.coils()];
    data.par_chunks_mut(m).zip(maps.data().par_chunks(n)).try_for_each(|(d, s)| {
        let coil: Vec<Complex32> = s.iter().zip(image.data()).map(|(s, x)| s * x).collect();
        op.forward(&coil, d)
    })?;
    Ok(RadialData { trajectory: trajectory.clone(), coils: maps.coils(), data })
}

/// Gridding reconstruction: density-compensated adjoint NUFFT of every coil (Pipe–Menon
/// weights, 10 iterations), combined with `maps` when given, else by root-sum-of-squares.
pub fn gridding(
    data: &RadialData,
    maps: Option<&CoilArray>,
    geometry: Geometry,
    options: &NufftOptions,
) -> Result<Volume<Complex32>, ReconError> {
    data.validate()?;
    let op = Nufft::new(&data.trajectory, options)?;
    let dcf = op.density_compensation(10)?;
    let [nx, ny] = data.trajectory.image_dims;
    let n = nx * ny;
    let m = op.samples();
    let mut images = CoilArray::zeros([nx, ny, 1, data.coils], geometry)?;
    images.data_mut().par_chunks_mut(n).zip(data.data.par_chunks(m)).try_for_each(|(img, d)| {
        let w: Vec<Complex32> = d.iter().zip(&dcf).map(|(v, &w)| v * w).collect();
        op.adjoint(&w, img)
    })?;
    match maps {
        Some(s) => {
            if s.dims() != images.dims() {
                return Err(hounsfield_core::CoreError::GridMismatch(format!(
                    "maps of {:?} for radial data of {:?}",
                    s.dims(),
                    images.dims()
                ))
                .into());
            }
            super::coils::combine(&images, s)
        }
        None => Ok(super::coils::rss(&images)?.map(|&v| Complex32::new(v, 0.0))),
    }
}

/// Non-Cartesian CG-SENSE (Pruessmann et al. 2001): conjugate gradients on
/// `Σ_c S_cᴴ·Aᴴ·A·S_c·x = Σ_c S_cᴴ·Aᴴ·y_c` from zero, `iterations` steps.
pub fn cg_sense_radial(
    data: &RadialData,
    maps: &CoilArray,
    iterations: usize,
    options: &NufftOptions,
    callback: Callback<'_>,
) -> Result<Volume<Complex32>, ReconError> {
    data.validate()?;
    let [nx, ny] = data.trajectory.image_dims;
    if maps.dims() != [nx, ny, 1, data.coils] {
        return Err(hounsfield_core::CoreError::GridMismatch(format!(
            "maps of {:?} for radial data of {nx}×{ny} and {} coils",
            maps.dims(),
            data.coils
        ))
        .into());
    }
    maps.check_finite("sensitivity maps")?;
    if iterations == 0 || iterations > 100_000 {
        return Err(invalid("iterations", format!("must be 1..=100000, got {iterations}")));
    }
    let op = Nufft::new(&data.trajectory, options)?;
    let n = nx * ny;
    let m = op.samples();
    let adjoint = |y: &[Complex32], out: &mut [Complex32]| -> Result<(), ReconError> {
        let parts: Vec<Vec<Complex32>> = y
            .par_chunks(m)
            .zip(maps.data().par_chunks(n))
            .map(|(yc, s)| {
                let mut img = vec![Complex32::default(); n];
                op.adjoint(yc, &mut img)?;
                img.iter_mut().zip(s).for_each(|(v, s)| *v *= s.conj());
                Ok(img)
            })
            .collect::<Result<_, ReconError>>()?;
        out.fill(Complex32::default());
        for p in parts {
            out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
        }
        Ok(())
    };
    let mut b = vec![Complex32::default(); n];
    adjoint(&data.data, &mut b)?;
    let mut normal = |x: &[Complex32], out: &mut [Complex32]| -> Result<(), ReconError> {
        let mut k = vec![Complex32::default(); m * data.coils];
        k.par_chunks_mut(m).zip(maps.data().par_chunks(n)).try_for_each(|(kc, s)| {
            let coil: Vec<Complex32> = s.iter().zip(x).map(|(s, x)| s * x).collect();
            op.forward(&coil, kc)
        })?;
        adjoint(&k, out)
    };
    let mut x = vec![Complex32::default(); n];
    conjugate_gradient(&mut normal, &b, &mut x, iterations, 1e-6, callback)?;
    Ok(Volume::from_vec([nx, ny, 1], *maps.geometry(), x)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::sampling::{radial, RadialOrdering};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, seed: u64) -> Vec<Complex32> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| Complex32::new(r.gen_range(-1.0..1.0), r.gen_range(-1.0..1.0))).collect()
    }

    #[test]
    fn bessel_matches_tabulated_values() {
        // A&S table 9.8: I0(1) = 1.266066, I0(5) = 27.239872 (polynomial error < 2e-7 rel.).
        assert!((bessel_i0(1.0) - 1.266_065_9).abs() < 1e-6);
        assert!((bessel_i0(5.0) / 27.239_871_8 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn adjoint_test() {
        let t = radial(32, 64, 21, RadialOrdering::GoldenAngle).unwrap();
        let op = Nufft::new(&t, &NufftOptions::default()).unwrap();
        let x = random(32 * 32, 1);
        let y = random(t.len(), 2);
        let mut ax = vec![Complex32::default(); t.len()];
        let mut ahy = vec![Complex32::default(); 32 * 32];
        op.forward(&x, &mut ax).unwrap();
        op.adjoint(&y, &mut ahy).unwrap();
        let a: Complex32 = ax.iter().zip(&y).map(|(p, q)| q.conj() * p).sum();
        let b: Complex32 = x.iter().zip(&ahy).map(|(p, q)| q.conj() * p).sum();
        // Same kernel weights both ways: equal up to f32 rounding of ~1000-term sums.
        assert!((a - b).norm() < 1e-4 * a.norm(), "{a} vs {b}");
    }

    #[test]
    fn matches_the_fft_on_cartesian_points() {
        let n = 32;
        let coords: Vec<[f32; 2]> =
            (0..n * n).map(|i| [(i % n) as f32 - 16.0, (i / n) as f32 - 16.0]).collect();
        let t = Trajectory { samples: n, spokes: n, image_dims: [n, n], coords };
        let op = Nufft::new(&t, &NufftOptions::default()).unwrap();
        let x: Vec<Complex32> = (0..n * n)
            .map(|i| {
                let (a, b) = ((i % n) as f32 - 16.0, (i / n) as f32 - 16.0);
                Complex32::new((-(a * a + b * b) / 40.0).exp(), 0.1 * a / 16.0)
            })
            .collect();
        let mut k = vec![Complex32::default(); n * n];
        op.forward(&x, &mut k).unwrap();
        let mut f = x.clone();
        CenteredFft::new([n, n, 1]).forward(&mut f).unwrap();
        let err: f32 = k.iter().zip(&f).map(|(a, b)| (a - b).norm_sqr()).sum::<f32>().sqrt();
        let tot: f32 = f.iter().map(|b| b.norm_sqr()).sum::<f32>().sqrt();
        // Beatty 2005 fig. 3: W = 6 at α = 2 leaves aliasing around 1e-4 of the signal.
        assert!(err / tot < 1e-3, "relative error {}", err / tot);
    }
}
