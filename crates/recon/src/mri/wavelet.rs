//! Orthonormal multi-level Daubechies wavelet transforms of complex 2-D/3-D grids with
//! periodic boundaries (Daubechies, "Ten lectures on wavelets", 1992, table 6.1), the
//! sparsifying transform of l1-wavelet compressed sensing (Lustig et al. 2007).
//!
//! Levels follow Mallat's pyramid in place: at each level every axis whose current coarse
//! length is even and at least 32 is split into `[approximation | detail]` halves; the
//! transform stops when no axis splits. Periodic extension keeps the transform exactly
//! orthonormal, so soft-thresholding the detail coefficients is the proximal operator of
//! their l1 norm.

use rayon::prelude::*;
use rustfft::num_complex::Complex32;

/// Wavelet family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wavelet {
    /// Haar (2 taps).
    Haar,
    /// Daubechies with 2 vanishing moments, 4 taps (default; BART's `dau2`).
    #[default]
    Db2,
    /// Daubechies with 4 vanishing moments, 8 taps.
    Db4,
}

impl Wavelet {
    /// Decomposition low-pass filter `h` (orthonormal: `Σh² = 1`, `Σh = √2`).
    pub fn lowpass(self) -> &'static [f32] {
        match self {
            Wavelet::Haar => &[std::f32::consts::FRAC_1_SQRT_2, std::f32::consts::FRAC_1_SQRT_2],
            Wavelet::Db2 => &[0.482_962_9, 0.836_516_3, 0.224_143_87, -0.129_409_52],
            Wavelet::Db4 => &[
                0.230_377_81,
                0.714_846_57,
                0.630_880_8,
                -0.027_983_77,
                -0.187_034_81,
                0.030_841_38,
                0.032_883_01,
                -0.010_597_4,
            ],
        }
    }
}

/// Shortest coarse length an axis is split down to (BART's `minsize` of 16).
const MIN_COARSE: usize = 16;

/// A planned multi-level transform over grids of `dims`.
#[derive(Clone, Debug)]
pub struct WaveletTransform {
    dims: [usize; 3],
    h: Vec<f32>,
    g: Vec<f32>,
    /// Coarse-block extents before each level (the region each level transforms).
    levels: Vec<[usize; 3]>,
    coarse: [usize; 3],
}

impl WaveletTransform {
    /// Plans the levels for grids of `dims`.
    pub fn new(dims: [usize; 3], wavelet: Wavelet) -> Self {
        let h = wavelet.lowpass().to_vec();
        let l = h.len();
        // Quadrature mirror: g[k] = (−1)^k h[L−1−k].
        let g = (0..l).map(|k| if k % 2 == 0 { h[l - 1 - k] } else { -h[l - 1 - k] }).collect();
        let mut levels = Vec::new();
        let mut r = dims;
        loop {
            let split = r.map(|v| v % 2 == 0 && v / 2 >= MIN_COARSE);
            if !split.iter().any(|&s| s) {
                break;
            }
            levels.push(r);
            r = [0, 1, 2].map(|a| if split[a] { r[a] / 2 } else { r[a] });
        }
        Self { dims, h, g, levels, coarse: r }
    }

    /// Number of levels.
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// Extent of the final approximation block (not thresholded).
    pub fn coarse(&self) -> [usize; 3] {
        self.coarse
    }

    /// In-place forward transform of one grid.
    pub fn forward(&self, x: &mut [Complex32]) {
        for &r in &self.levels {
            for a in 0..3 {
                if r[a] % 2 == 0 && r[a] / 2 >= MIN_COARSE {
                    self.axis(x, r, a, true);
                }
            }
        }
    }

    /// In-place inverse transform of one grid.
    pub fn inverse(&self, x: &mut [Complex32]) {
        for &r in self.levels.iter().rev() {
            for a in (0..3).rev() {
                if r[a] % 2 == 0 && r[a] / 2 >= MIN_COARSE {
                    self.axis(x, r, a, false);
                }
            }
        }
    }

    /// True when coefficient `i` lies in the final approximation block.
    pub fn is_coarse(&self, i: usize) -> bool {
        let [nx, ny, _] = self.dims;
        let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
        x < self.coarse[0] && y < self.coarse[1] && z < self.coarse[2]
    }

    /// One analysis (or synthesis) step along axis `a` for every line of the block `r`.
    fn axis(&self, x: &mut [Complex32], r: [usize; 3], a: usize, analysis: bool) {
        let [nx, ny, _] = self.dims;
        let stride = [1, nx, nx * ny][a];
        let n = r[a];
        let half = n / 2;
        let (h, g) = (&self.h, &self.g);
        let l = h.len();
        // Lines: every position of the block with coordinate 0 along `a`.
        let others: Vec<usize> = (0..3).filter(|&b| b != a).collect();
        let (b0, b1) = (others[0], others[1]);
        let st = [1, nx, nx * ny];
        let starts: Vec<usize> =
            (0..r[b1]).flat_map(|j| (0..r[b0]).map(move |i| i * st[b0] + j * st[b1])).collect();
        let lines: Vec<Vec<Complex32>> = starts
            .par_iter()
            .map(|&s| {
                let line: Vec<Complex32> = (0..n).map(|k| x[s + k * stride]).collect();
                let mut out = vec![Complex32::default(); n];
                if analysis {
                    for i in 0..half {
                        let (mut lo, mut hi) = (Complex32::default(), Complex32::default());
                        for k in 0..l {
                            let v = line[(2 * i + k) % n];
                            lo += v * h[k];
                            hi += v * g[k];
                        }
                        out[i] = lo;
                        out[half + i] = hi;
                    }
                } else {
                    for i in 0..half {
                        let (lo, hi) = (line[i], line[half + i]);
                        for k in 0..l {
                            out[(2 * i + k) % n] += lo * h[k] + hi * g[k];
                        }
                    }
                }
                out
            })
            .collect();
        for (&s, line) in starts.iter().zip(lines) {
            for (k, v) in line.into_iter().enumerate() {
                x[s + k * stride] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_orthonormal() {
        for w in [Wavelet::Haar, Wavelet::Db2, Wavelet::Db4] {
            let h = w.lowpass();
            let s2: f32 = h.iter().map(|v| v * v).sum();
            let s: f32 = h.iter().sum();
            // The published coefficients to 7–8 significant digits.
            assert!((s2 - 1.0).abs() < 1e-6 && (s - std::f32::consts::SQRT_2).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn perfect_reconstruction_and_energy() {
        for (dims, w) in
            [([64, 48, 1], Wavelet::Db2), ([32, 32, 16], Wavelet::Db4), ([30, 17, 1], Wavelet::Haar)]
        {
            let t = WaveletTransform::new(dims, w);
            let n = dims.iter().product::<usize>();
            let x: Vec<Complex32> = (0..n)
                .map(|i| Complex32::new(((i * 7919) % 101) as f32 / 50.0, ((i * 31) % 13) as f32))
                .collect();
            let mut y = x.clone();
            t.forward(&mut y);
            let e = |v: &[Complex32]| v.iter().map(|c| c.norm_sqr() as f64).sum::<f64>();
            // Orthonormal: energy kept to f32 precision.
            assert!((e(&x) - e(&y)).abs() < 1e-5 * e(&x), "{dims:?}");
            t.inverse(&mut y);
            assert!(x.iter().zip(&y).all(|(a, b)| (a - b).norm() < 1e-4), "{dims:?}");
        }
        // 64 → 32 → 16 along x; 48 → 24 along y (12 would be under the 16-sample minimum).
        let t = WaveletTransform::new([64, 48, 1], Wavelet::Db2);
        assert_eq!((t.levels(), t.coarse()), (2, [16, 24, 1]));
    }

    #[test]
    fn constants_have_no_detail() {
        // Every wavelet's high-pass filter sums to zero: a constant lives in the coarse block.
        let t = WaveletTransform::new([64, 64, 1], Wavelet::Db2);
        let mut y = vec![Complex32::new(1.0, 0.5); 4096];
        t.forward(&mut y);
        let detail: f32 = y.iter().enumerate().filter(|(i, _)| !t.is_coarse(*i)).map(|(_, v)| v.norm()).sum();
        assert!(detail < 1e-3, "{detail}");
    }
}
