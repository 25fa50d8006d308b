//! Seeded randomness. Every random draw in the crate comes from a [`ChaCha8Rng`] whose seed
//! is derived from the caller's seed and a fixed stream tag, so results are reproducible and
//! do not depend on how many threads run.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix, so distinct
/// inputs give distinct, well-spread seeds.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed for sub-stream `tag` of `seed` (e.g. one per case, one per purpose).
pub(crate) fn sub_seed(seed: u64, tag: u64) -> u64 {
    mix(seed ^ mix(tag.wrapping_add(0x5eed)))
}

/// A generator for sub-stream `tag` of `seed`.
pub(crate) fn rng(seed: u64, tag: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(sub_seed(seed, tag))
}

/// Stream tags, one per purpose, so adding draws to one purpose never shifts another.
pub(crate) mod tag {
    pub const TORSO: u64 = 1;
    pub const HEAD: u64 = 2;
    pub const NODULES: u64 = 3;
    pub const LESION: u64 = 4;
    pub const ANATOMY_WARP: u64 = 5;
    pub const NOISE: u64 = 6;
    pub const BIAS: u64 = 7;
    pub const RANDOM_CONTRAST: u64 = 8;
    pub const DATASET: u64 = 9;
    pub const LANDMARKS: u64 = 10;
    pub const REGISTRATION: u64 = 11;
    pub const VELOCITY: u64 = 12;
}

/// A standard normal draw (Box–Muller; one of the pair is discarded so each call consumes a
/// fixed number of draws).
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A uniform draw in `[lo, hi)` (or `lo` when the range is empty).
pub(crate) fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

/// A uniformly distributed unit vector.
pub(crate) fn unit_vector(rng: &mut impl Rng) -> [f64; 3] {
    let z = uniform(rng, -1.0, 1.0);
    let phi = uniform(rng, 0.0, std::f64::consts::TAU);
    let s = (1.0 - z * z).max(0.0).sqrt();
    [s * phi.cos(), s * phi.sin(), z]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        assert_ne!(sub_seed(7, 1), sub_seed(7, 2));
        assert_ne!(sub_seed(7, 1), sub_seed(8, 1));
        let a: Vec<u64> = (0..4).map(|_| rng(3, 1).gen()).collect();
        assert!(a.iter().all(|&x| x == a[0]));
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut r = rng(1, 1);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut r)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // 0.04 / 0.05: five standard errors of the mean (0.007) and variance (0.010) at n = 20 000.
        assert!(mean.abs() < 0.04 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    }
}
