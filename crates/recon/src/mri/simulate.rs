//! Simulated multi-coil k-space of an image (e.g. a slice of the head phantom with its
//! T1/T2/PD contrast): `y_c = M·(F·(S_c·x) + n_c)` with complex white Gaussian noise `n_c`.
//!
//! The FFT of a pixel image is exact for that pixel image (the "inverse crime" of
//! reconstructing on the simulation grid); render the phantom with supersampling
//! (partial volume) to soften it.

use hounsfield_core::Volume;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::array::{CoilArray, Mask};
use super::fft::CenteredFft;
use crate::error::{check_finite, invalid, ReconError};

/// Options of [`simulate_kspace`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KspaceNoise {
    /// Standard deviation of the Gaussian noise on each of the real and imaginary channels of
    /// every coil, as a fraction of the image's largest magnitude (default 0.005; the
    /// orthonormal FFT makes it the same in the coil images). 0 = noise-free.
    pub sigma: f64,
    /// Seed of the noise (one stream per coil, so the result does not depend on threads).
    pub seed: u64,
}

impl Default for KspaceNoise {
    fn default() -> Self {
        Self { sigma: 0.005, seed: 0 }
    }
}

/// Multi-coil k-space of `image` through `maps` (same grid), noise added, then sampled by
/// `mask` (`None` = fully sampled). The k-space geometry is the image's.
pub fn simulate_kspace(
    image: &Volume<f32>,
    maps: &CoilArray,
    mask: Option<&Mask>,
    noise: &KspaceNoise,
) -> Result<CoilArray, ReconError> {
    check_finite("image", image.data())?;
    if image.dims() != maps.grid_dims() {
        return Err(hounsfield_core::CoreError::GridMismatch(format!(
            "image of {:?} and maps of {:?}",
            image.dims(),
            maps.grid_dims()
        ))
        .into());
    }
    if let Some(m) = mask {
        if m.dims() != image.dims() {
            return Err(hounsfield_core::CoreError::GridMismatch(format!(
                "mask of {:?} and image of {:?}",
                m.dims(),
                image.dims()
            ))
            .into());
        }
    }
    if !(noise.sigma.is_finite() && noise.sigma >= 0.0) {
        return Err(invalid("noise", format!("must be a finite number ≥ 0, got {}", noise.sigma)));
    }
    let peak = image.data().iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let sd = (noise.sigma * peak as f64) as f32;
    let n = image.len();
    let mut k = CoilArray::zeros(maps.dims(), *image.geometry())?;
    k.data_mut().par_chunks_mut(n).zip(maps.data().par_chunks(n)).for_each(|(kc, s)| {
        kc.iter_mut().zip(s).zip(image.data()).for_each(|((k, s), &x)| *k = s * x);
    });
    CenteredFft::new(image.dims()).forward(k.data_mut())?;
    add_noise_chunks(k.data_mut(), n, sd as f64, noise.seed);
    if let Some(m) = mask {
        k.data_mut().par_chunks_mut(n).for_each(|kc| kc.iter_mut().zip(m.data()).for_each(|(v, &w)| *v *= w));
    }
    Ok(k)
}

/// Adds complex white Gaussian noise of standard deviation `sigma` (absolute, per real and
/// imaginary channel) to `data`, one seeded stream per block of `chunk` samples.
fn add_noise_chunks(data: &mut [Complex32], chunk: usize, sigma: f64, seed: u64) {
    if sigma <= 0.0 {
        return;
    }
    data.par_chunks_mut(chunk.max(1)).enumerate().for_each(|(c, kc)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(c as u64);
        for v in kc.iter_mut() {
            // Box–Muller: two independent standard normals per uniform pair.
            let u1: f64 = 1.0 - rng.gen::<f64>();
            let u2: f64 = rng.gen::<f64>();
            let r = (-2.0 * u1.ln()).sqrt() * sigma;
            let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
            *v += Complex32::new((r * c) as f32, (r * s) as f32);
        }
    });
}

/// Adds complex white Gaussian noise of standard deviation `sigma` (absolute, per real and
/// imaginary channel) to any samples (e.g. radial data), seeded.
pub fn add_noise(data: &mut [Complex32], sigma: f64, seed: u64) -> Result<(), ReconError> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(invalid("noise", format!("must be a finite number ≥ 0, got {sigma}")));
    }
    add_noise_chunks(data, 1 << 16, sigma, seed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::coils::{birdcage, coil_images, combine};
    use hounsfield_core::Geometry;

    #[test]
    fn noise_free_data_invert_to_the_image_and_noise_has_its_level() {
        let img =
            Volume::from_vec([16, 16, 1], Geometry::default(), (0..256).map(|i| (i % 7) as f32).collect())
                .unwrap();
        let maps = birdcage([16, 16, 1], 4, Geometry::default()).unwrap();
        let k = simulate_kspace(&img, &maps, None, &KspaceNoise { sigma: 0.0, seed: 0 }).unwrap();
        let back = combine(&coil_images(&k).unwrap(), &maps).unwrap();
        // FFT round trip in f32.
        assert!(back
            .data()
            .iter()
            .zip(img.data())
            .all(|(a, &b)| (a.re - b).abs() < 1e-4 && a.im.abs() < 1e-4));
        let zero = Volume::from_vec([64, 64, 1], Geometry::default(), vec![0.0; 4096]).unwrap();
        let mut one = zero.clone();
        one.data_mut()[0] = 1.0;
        let maps = birdcage([64, 64, 1], 2, Geometry::default()).unwrap();
        let k = simulate_kspace(&one, &maps, None, &KspaceNoise { sigma: 0.1, seed: 3 }).unwrap();
        let k0 = simulate_kspace(&one, &maps, None, &KspaceNoise { sigma: 0.0, seed: 3 }).unwrap();
        let var: f64 = k.data().iter().zip(k0.data()).map(|(a, b)| (a - b).norm_sqr() as f64).sum::<f64>()
            / (2.0 * k.data().len() as f64);
        // 16384 complex samples: the variance estimate is within a few per cent of 0.01.
        assert!((var - 0.01).abs() < 0.0005, "{var}");
        assert_eq!(k, simulate_kspace(&one, &maps, None, &KspaceNoise { sigma: 0.1, seed: 3 }).unwrap());
        assert!(simulate_kspace(
            &zero,
            &birdcage([8, 8, 1], 2, Geometry::default()).unwrap(),
            None,
            &KspaceNoise::default()
        )
        .is_err());
    }
}
