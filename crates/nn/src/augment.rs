//! Patch sampling with foreground oversampling (nnU-Net, Isensee 2021) and on-the-fly
//! augmentation: random affine (rotation, scaling), elastic deformation, flips, gamma,
//! Gaussian noise, Gaussian blur, multiplicative bias field and random-contrast relabelling
//! (SynthSeg, Billot 2023). Every draw comes from the RNG passed in, so a seed reproduces
//! the batch exactly.
//!
//! Spatial augmentation samples the patch straight from the whole volume through one
//! coordinate map (affine · elastic · flip around the patch centre), so rotated patches
//! see real neighbouring tissue, not padding: images trilinear, labels nearest.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::Sample;
use crate::NnError;

/// `[augmentation]` of a training config: probabilities and ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Probability of flipping each spatial axis (default 0.5).
    pub flip_prob: f64,
    /// Probability of a random affine (default 0.2, nnU-Net).
    pub affine_prob: f64,
    /// Largest rotation about each axis, degrees (in-plane only for 2-D; default 15).
    pub rotation_deg: f64,
    /// Isotropic scale range (default `[0.85, 1.25]`).
    pub scale: [f64; 2],
    /// Probability of an elastic deformation (default 0).
    pub elastic_prob: f64,
    /// Elastic displacement standard deviation at the control points, voxels (default 2).
    pub elastic_voxels: f64,
    /// Probability of a gamma transform per channel (default 0.3).
    pub gamma_prob: f64,
    /// Gamma range (default `[0.7, 1.5]`).
    pub gamma: [f64; 2],
    /// Probability of additive Gaussian noise (default 0.15).
    pub noise_prob: f64,
    /// Largest noise σ as a fraction of the channel's standard deviation (default 0.1).
    pub noise_std: f64,
    /// Probability of Gaussian blur (default 0.2).
    pub blur_prob: f64,
    /// Blur σ range, voxels (default `[0.5, 1.0]`).
    pub blur_sigma: [f64; 2],
    /// Probability of a multiplicative smooth bias field (default 0.3).
    pub bias_prob: f64,
    /// Bias field strength: std of the log-field polynomial coefficients (default 0.3).
    pub bias_strength: f64,
    /// Probability of replacing the image by random intensities per label (SynthSeg-style
    /// domain randomization; segmentation only; default 0).
    pub relabel_prob: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            flip_prob: 0.5,
            affine_prob: 0.2,
            rotation_deg: 15.0,
            scale: [0.85, 1.25],
            elastic_prob: 0.0,
            elastic_voxels: 2.0,
            gamma_prob: 0.3,
            gamma: [0.7, 1.5],
            noise_prob: 0.15,
            noise_std: 0.1,
            blur_prob: 0.2,
            blur_sigma: [0.5, 1.0],
            bias_prob: 0.3,
            bias_strength: 0.3,
            relabel_prob: 0.0,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all.
    pub fn none() -> Self {
        Self {
            flip_prob: 0.0,
            affine_prob: 0.0,
            elastic_prob: 0.0,
            gamma_prob: 0.0,
            noise_prob: 0.0,
            blur_prob: 0.0,
            bias_prob: 0.0,
            relabel_prob: 0.0,
            ..Self::default()
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), NnError> {
        let probs = [
            ("flip_prob", self.flip_prob),
            ("affine_prob", self.affine_prob),
            ("elastic_prob", self.elastic_prob),
            ("gamma_prob", self.gamma_prob),
            ("noise_prob", self.noise_prob),
            ("blur_prob", self.blur_prob),
            ("bias_prob", self.bias_prob),
            ("relabel_prob", self.relabel_prob),
        ];
        for (name, p) in probs {
            if !(0.0..=1.0).contains(&p) {
                return Err(NnError::config(
                    format!("augmentation.{name}"),
                    format!("must be in [0, 1], got {p}"),
                ));
            }
        }
        let ranges = [("scale", self.scale), ("gamma", self.gamma), ("blur_sigma", self.blur_sigma)];
        for (name, [a, b]) in ranges {
            if !(a.is_finite() && b.is_finite() && a > 0.0 && a <= b) {
                return Err(NnError::config(
                    format!("augmentation.{name}"),
                    format!("needs 0 < min ≤ max, got [{a}, {b}]"),
                ));
            }
        }
        for (name, v) in [
            ("rotation_deg", self.rotation_deg),
            ("elastic_voxels", self.elastic_voxels),
            ("noise_std", self.noise_std),
            ("bias_strength", self.bias_strength),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(NnError::config(format!("augmentation.{name}"), format!("must be ≥ 0, got {v}")));
            }
        }
        Ok(())
    }
}

/// A training patch: `[z, y, x]` voxels per channel, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// Input channels.
    pub images: Vec<Vec<f32>>,
    /// Class per voxel (segmentation).
    pub labels: Option<Vec<u16>>,
    /// Target image (synthesis).
    pub target: Option<Vec<f32>>,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; u1 in (0, 1] so the log is finite.
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn rot(axis: usize, a: f64) -> [[f64; 3]; 3] {
    let (c, s) = (a.cos(), a.sin());
    match axis {
        0 => [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
        1 => [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        _ => [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

fn mat_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// How foreground-centred patches pick their centre.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForegroundSampling {
    /// A random foreground voxel: classes get patches in proportion to their volume.
    #[default]
    Voxel,
    /// A class drawn uniformly from those present, then a random voxel of it (nnU-Net's
    /// oversampling): small structures get as many patches as large ones.
    Class,
}

/// The share of patches centred on foreground and how their centre is picked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Foreground {
    /// Probability that a patch is centred on foreground, `[0, 1]`.
    pub fraction: f64,
    /// How the centre is picked.
    pub sampling: ForegroundSampling,
}

impl Foreground {
    /// `fraction` of patches on a random foreground voxel.
    pub fn voxel(fraction: f64) -> Foreground {
        Foreground { fraction, sampling: ForegroundSampling::Voxel }
    }
}

/// Samples one patch of `size` (`[z, y, x]`; `z = 1` for 2-D models, which then take a
/// random slice) from `sample`, centred on foreground with probability `foreground.fraction`
/// (when the sample has labels with foreground) and anywhere otherwise, and augments it.
/// `augment = None` takes the centre patch, untouched (validation).
pub fn sample_patch(
    sample: &Sample,
    size: [usize; 3],
    foreground: Foreground,
    augment: Option<&AugmentConfig>,
    rng: &mut ChaCha8Rng,
) -> Patch {
    let [nx, ny, nz] = sample.dims;
    let two_d = size[0] == 1;
    // Centre (x, y, z) in voxels.
    let mut centre = [(nx as f64 - 1.0) / 2.0, (ny as f64 - 1.0) / 2.0, (nz as f64 - 1.0) / 2.0];
    if let Some(_aug) = augment {
        let fg = sample.labels.as_ref().filter(|_| rng.gen::<f64>() < foreground.fraction);
        let picked = fg.and_then(|l| {
            // The class to centre on: any foreground voxel alike, or first a class drawn
            // uniformly from those present (nnU-Net), so small organs get as many patches.
            let class = match foreground.sampling {
                ForegroundSampling::Voxel => None,
                ForegroundSampling::Class => {
                    let mut present: Vec<u16> = Vec::new();
                    for &c in l.iter().filter(|&&c| c > 0) {
                        if !present.contains(&c) {
                            present.push(c);
                        }
                    }
                    present.sort_unstable();
                    (!present.is_empty()).then(|| present[rng.gen_range(0..present.len())])
                }
            };
            let hit = |c: u16| match class {
                Some(k) => c == k,
                None => c > 0,
            };
            let count = l.iter().filter(|&&c| hit(c)).count();
            (count > 0).then(|| {
                let k = rng.gen_range(0..count);
                l.iter().enumerate().filter(|(_, &c)| hit(c)).nth(k).map(|(i, _)| i).unwrap_or(0)
            })
        });
        match picked {
            Some(i) => centre = [(i % nx) as f64, ((i / nx) % ny) as f64, (i / (nx * ny)) as f64],
            None => {
                // Uniform over positions that keep the patch inside where possible.
                let pick = |n: usize, w: usize, rng: &mut ChaCha8Rng| {
                    let half = w as f64 / 2.0 - 0.5;
                    if n > w {
                        rng.gen_range(half..=(n as f64 - 1.0 - half))
                    } else {
                        (n as f64 - 1.0) / 2.0
                    }
                };
                centre = [pick(nx, size[2], rng), pick(ny, size[1], rng), pick(nz, size[0], rng)];
            }
        }
        if two_d {
            centre[2] = centre[2].round();
        }
    } else if two_d {
        centre[2] = centre[2].round();
    }
    // The coordinate map: offset o (x, y, z) from the patch centre → m · o + centre.
    let mut m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut elastic: Option<(Vec<[f64; 3]>, usize)> = None;
    if let Some(a) = augment {
        if rng.gen::<f64>() < a.affine_prob {
            let r = a.rotation_deg.to_radians();
            let axes: &[usize] = if two_d { &[2] } else { &[0, 1, 2] };
            for &ax in axes {
                m = mat_mul(&rot(ax, rng.gen_range(-r..=r)), &m);
            }
            let s = rng.gen_range(a.scale[0]..=a.scale[1]);
            for row in m.iter_mut() {
                for v in row.iter_mut() {
                    *v *= s;
                }
            }
        }
        for (ax, n) in [(0usize, size[2]), (1, size[1]), (2, size[0])] {
            if n > 1 && rng.gen::<f64>() < a.flip_prob {
                for row in m.iter_mut() {
                    row[ax] = -row[ax];
                }
            }
        }
        if rng.gen::<f64>() < a.elastic_prob && a.elastic_voxels > 0.0 {
            // 5 control points per axis over the patch, trilinear in between.
            let g = 5;
            let pts = (0..g * g * g)
                .map(|_| {
                    let mut d = [normal(rng) * a.elastic_voxels, normal(rng) * a.elastic_voxels, 0.0];
                    if !two_d {
                        d[2] = normal(rng) * a.elastic_voxels;
                    }
                    d
                })
                .collect();
            elastic = Some((pts, g));
        }
    }
    let [pz, py, px] = size;
    let np = pz * py * px;
    let mut images = vec![vec![0f32; np]; sample.images.len()];
    let mut labels = sample.labels.as_ref().map(|_| vec![0u16; np]);
    let mut target = sample.target.as_ref().map(|_| vec![0f32; np]);
    let half = [(px as f64 - 1.0) / 2.0, (py as f64 - 1.0) / 2.0, (pz as f64 - 1.0) / 2.0];
    for z in 0..pz {
        for y in 0..py {
            for x in 0..px {
                let o = [x as f64 - half[0], y as f64 - half[1], z as f64 - half[2]];
                let mut q = [0.0; 3];
                for (r, qr) in q.iter_mut().enumerate() {
                    *qr = m[r][0] * o[0] + m[r][1] * o[1] + m[r][2] * o[2] + centre[r];
                }
                if let Some((pts, g)) = &elastic {
                    let d = interp_grid(
                        pts,
                        *g,
                        [
                            x as f64 / px.max(2) as f64,
                            y as f64 / py.max(2) as f64,
                            z as f64 / pz.max(2) as f64,
                        ],
                    );
                    for r in 0..3 {
                        q[r] += d[r];
                    }
                }
                let v = (z * py + y) * px + x;
                for (c, img) in sample.images.iter().enumerate() {
                    images[c][v] = trilinear(img, sample.dims, q);
                }
                if let (Some(l), Some(src)) = (labels.as_mut(), sample.labels.as_ref()) {
                    l[v] = nearest(src, sample.dims, q);
                }
                if let (Some(t), Some(src)) = (target.as_mut(), sample.target.as_ref()) {
                    t[v] = trilinear(src, sample.dims, q);
                }
            }
        }
    }
    if let Some(a) = augment {
        intensity(&mut images, labels.as_deref(), size, a, rng);
    }
    Patch { images, labels, target }
}

fn interp_grid(pts: &[[f64; 3]], g: usize, t: [f64; 3]) -> [f64; 3] {
    let f = |v: f64| {
        let p = (v.clamp(0.0, 1.0)) * (g - 1) as f64;
        let i = (p.floor() as usize).min(g - 2);
        (i, p - i as f64)
    };
    let ((ix, fx), (iy, fy), (iz, fz)) = (f(t[0]), f(t[1]), f(t[2]));
    let mut out = [0.0; 3];
    for dz in 0..2 {
        for dy in 0..2 {
            for dx in 0..2 {
                let w = (if dx == 1 { fx } else { 1.0 - fx })
                    * (if dy == 1 { fy } else { 1.0 - fy })
                    * (if dz == 1 { fz } else { 1.0 - fz });
                let p = pts[((iz + dz) * g + iy + dy) * g + ix + dx];
                for r in 0..3 {
                    out[r] += w * p[r];
                }
            }
        }
    }
    out
}

/// Trilinear sample at `q` (x, y, z); 0 outside the half-voxel border.
fn trilinear(v: &[f32], dims: [usize; 3], q: [f64; 3]) -> f32 {
    let [nx, ny, nz] = dims;
    if q.iter().zip(dims).any(|(&c, n)| c < -0.5 || c > n as f64 - 0.5) {
        return 0.0;
    }
    let cl = |c: f64, n: usize| c.clamp(0.0, (n - 1) as f64);
    let (x, y, z) = (cl(q[0], nx), cl(q[1], ny), cl(q[2], nz));
    let (x0, y0, z0) = (x.floor() as usize, y.floor() as usize, z.floor() as usize);
    let (x1, y1, z1) = ((x0 + 1).min(nx - 1), (y0 + 1).min(ny - 1), (z0 + 1).min(nz - 1));
    let (fx, fy, fz) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32, (z - z0 as f64) as f32);
    let at = |i: usize, j: usize, k: usize| v[(k * ny + j) * nx + i];
    let c00 = at(x0, y0, z0) * (1.0 - fx) + at(x1, y0, z0) * fx;
    let c10 = at(x0, y1, z0) * (1.0 - fx) + at(x1, y1, z0) * fx;
    let c01 = at(x0, y0, z1) * (1.0 - fx) + at(x1, y0, z1) * fx;
    let c11 = at(x0, y1, z1) * (1.0 - fx) + at(x1, y1, z1) * fx;
    let c0 = c00 * (1.0 - fy) + c10 * fy;
    let c1 = c01 * (1.0 - fy) + c11 * fy;
    c0 * (1.0 - fz) + c1 * fz
}

fn nearest(v: &[u16], dims: [usize; 3], q: [f64; 3]) -> u16 {
    let [nx, ny, nz] = dims;
    let r = |c: f64, n: usize| {
        let i = (c + 0.5).floor();
        (i >= 0.0 && i < n as f64).then_some(i as usize)
    };
    match (r(q[0], nx), r(q[1], ny), r(q[2], nz)) {
        (Some(i), Some(j), Some(k)) => v[(k * ny + j) * nx + i],
        _ => 0,
    }
}

/// Separable Gaussian blur of a `[z, y, x]` array (zero-flux borders by clamping).
fn blur(v: &mut [f32], size: [usize; 3], sigma: f64) {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32).collect();
    let s: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|x| x / s).collect();
    let [d, h, w] = size;
    let strides = [(w, 1usize, 2usize), (h, w, 1), (d, w * h, 0)];
    for (n, stride, _) in strides {
        if n < 2 {
            continue;
        }
        let src = v.to_vec();
        for (i, out) in v.iter_mut().enumerate() {
            let pos = (i / stride) % n;
            let base = i - pos * stride;
            let mut acc = 0.0;
            for (t, kv) in k.iter().enumerate() {
                let p = (pos as isize + t as isize - r).clamp(0, n as isize - 1) as usize;
                acc += kv * src[base + p * stride];
            }
            *out = acc;
        }
    }
}

fn intensity(
    images: &mut [Vec<f32>],
    labels: Option<&[u16]>,
    size: [usize; 3],
    a: &AugmentConfig,
    rng: &mut ChaCha8Rng,
) {
    let [d, h, w] = size;
    if let Some(l) = labels {
        if rng.gen::<f64>() < a.relabel_prob {
            let k = l.iter().copied().max().unwrap_or(0) as usize + 1;
            for img in images.iter_mut() {
                let means: Vec<f32> = (0..k).map(|_| rng.gen::<f32>()).collect();
                let sd = rng.gen_range(0.0..0.05f32);
                for (v, &c) in img.iter_mut().zip(l) {
                    *v = means[c as usize] + sd * normal(rng) as f32;
                }
            }
        }
    }
    for img in images.iter_mut() {
        if rng.gen::<f64>() < a.bias_prob {
            let c: Vec<f64> = (0..10).map(|_| normal(rng) * a.bias_strength).collect();
            let min = img.iter().cloned().fold(f32::INFINITY, f32::min);
            for z in 0..d {
                for y in 0..h {
                    for x in 0..w {
                        let (u, v, t) = (
                            x as f64 / w.max(2) as f64 - 0.5,
                            y as f64 / h.max(2) as f64 - 0.5,
                            if d > 1 { z as f64 / d as f64 - 0.5 } else { 0.0 },
                        );
                        // Second-order polynomial log-field.
                        let lf = c[1] * u
                            + c[2] * v
                            + c[3] * t
                            + c[4] * u * u
                            + c[5] * v * v
                            + c[6] * t * t
                            + c[7] * u * v
                            + c[8] * u * t
                            + c[9] * v * t;
                        let i = (z * h + y) * w + x;
                        img[i] = (img[i] - min) * lf.exp() as f32 + min;
                    }
                }
            }
        }
        if rng.gen::<f64>() < a.gamma_prob {
            let g = rng.gen_range(a.gamma[0]..=a.gamma[1]) as f32;
            let (lo, hi) =
                img.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            if hi > lo {
                img.iter_mut().for_each(|v| *v = lo + (hi - lo) * ((*v - lo) / (hi - lo)).powf(g));
            }
        }
        if rng.gen::<f64>() < a.blur_prob {
            let s = rng.gen_range(a.blur_sigma[0]..=a.blur_sigma[1]);
            blur(img, size, s);
        }
        if rng.gen::<f64>() < a.noise_prob {
            let n = img.len().max(1) as f64;
            let mean = img.iter().map(|&v| v as f64).sum::<f64>() / n;
            let sd = (img.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-6);
            let s = rng.gen_range(0.0..=a.noise_std) * sd;
            img.iter_mut().for_each(|v| *v += (normal(rng) * s) as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample() -> Sample {
        let dims = [20, 16, 12];
        let n = 20 * 16 * 12;
        let img: Vec<f32> = (0..n).map(|i| (i % 20) as f32).collect();
        let lab: Vec<u16> = (0..n).map(|i| ((i % 20) > 15) as u16).collect();
        Sample { id: "a".into(), dims, images: vec![img], labels: Some(lab), target: None, class: None }
    }

    #[test]
    fn centre_patch_is_a_crop() {
        let s = sample();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let p = sample_patch(&s, [4, 8, 8], Foreground::voxel(0.0), None, &mut rng);
        // Centre x = 9.5, patch half 3.5 → x from 6 to 13.
        assert_eq!(&p.images[0][..8], &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]);
    }

    #[test]
    fn foreground_oversampling_and_determinism() {
        let s = sample();
        let a = AugmentConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let p1 = sample_patch(&s, [1, 4, 4], Foreground::voxel(1.0), Some(&AugmentConfig::none()), &mut rng);
        assert!(p1.labels.as_ref().unwrap().contains(&1), "patch centred on foreground");
        let q1 =
            sample_patch(&s, [4, 8, 8], Foreground::voxel(0.33), Some(&a), &mut ChaCha8Rng::seed_from_u64(3));
        let q2 =
            sample_patch(&s, [4, 8, 8], Foreground::voxel(0.33), Some(&a), &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(q1, q2);
        assert!(q1.images[0].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn class_balanced_sampling_reaches_small_classes() {
        // Class 1 fills 4 of 20 columns, class 2 a single voxel: by voxel, class 2 is the centre
        // of 1 in 769 foreground patches; by class, of about half of them.
        let mut s = sample();
        let labels = s.labels.as_mut().unwrap();
        labels[5] = 2;
        let centred_on_2 = |sampling| {
            let fg = Foreground { fraction: 1.0, sampling };
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            (0..200)
                .filter(|_| {
                    let p = sample_patch(&s, [1, 1, 1], fg, Some(&AugmentConfig::none()), &mut rng);
                    p.labels.unwrap()[0] == 2
                })
                .count()
        };
        let by_class = centred_on_2(ForegroundSampling::Class);
        let by_voxel = centred_on_2(ForegroundSampling::Voxel);
        // Binomial(200, 0.5): 70..130 is beyond 4 standard deviations (7.1) either side.
        assert!((70..=130).contains(&by_class), "class sampling hit class 2 {by_class} times");
        assert!(by_voxel <= 3, "voxel sampling hit class 2 {by_voxel} times");
    }

    #[test]
    fn every_augmentation_runs_and_labels_stay_labels() {
        let s = sample();
        let a = AugmentConfig {
            affine_prob: 1.0,
            elastic_prob: 1.0,
            gamma_prob: 1.0,
            noise_prob: 1.0,
            blur_prob: 1.0,
            bias_prob: 1.0,
            relabel_prob: 1.0,
            ..AugmentConfig::default()
        };
        a.validate().unwrap();
        let p =
            sample_patch(&s, [6, 8, 8], Foreground::voxel(0.5), Some(&a), &mut ChaCha8Rng::seed_from_u64(1));
        assert!(p.images[0].iter().all(|v| v.is_finite()));
        assert!(p.labels.unwrap().iter().all(|&l| l <= 1));
        assert!(AugmentConfig { gamma: [2.0, 1.0], ..Default::default() }.validate().is_err());
    }
}
