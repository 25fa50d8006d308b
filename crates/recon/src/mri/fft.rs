//! Centred, orthonormal 1-, 2- and 3-D FFTs of complex `f32` grids, planned once.
//!
//! The forward transform of a grid `x` of `n` samples along an axis is
//! `X = fftshift(fft(ifftshift(x))) / √n` — numpy's
//! `fftshift(fftn(ifftshift(x), norm="ortho"))`, BART's `fftuc` — so index `n/2` is DC in
//! both domains, Parseval holds (`‖X‖ = ‖x‖`), and the inverse is the adjoint. Axes of size 1
//! are left alone, so one plan serves 2-D slices (`nz = 1`) and 3-D volumes.
//!
//! [`CenteredFft::forward`] and [`CenteredFft::inverse`] take any whole number of grids (one
//! per coil) and run in parallel: over grids when there are several, else over the lines of
//! each axis. Lines of the strided axes are gathered into contiguous blocks (16 at a time),
//! transformed by rustfft in one call, and scattered back, with the shift folded into the
//! copies.

use std::sync::Arc;

use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use crate::error::ReconError;

/// Transform direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Image → k-space, `e^{−2πi k x / n}` (default).
    #[default]
    Forward,
    /// K-space → image, `e^{+2πi k x / n}`.
    Inverse,
}

/// Lines transformed per rustfft call on strided axes.
const BLOCK: usize = 16;

/// A centred orthonormal FFT over grids of `[nx, ny, nz]`, planned once.
#[derive(Clone)]
pub struct CenteredFft {
    dims: [usize; 3],
    plans: [Option<PlanPair>; 3],
}

/// Forward and inverse plans of one axis.
type PlanPair = (Arc<dyn Fft<f32>>, Arc<dyn Fft<f32>>);

impl std::fmt::Debug for CenteredFft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CenteredFft").field("dims", &self.dims).finish()
    }
}

impl CenteredFft {
    /// Plans the transforms for grids of `dims` (every extent ≥ 1; axes of size 1 are not
    /// transformed).
    pub fn new(dims: [usize; 3]) -> Self {
        let mut planner = FftPlanner::<f32>::new();
        let plans = dims.map(|n| (n > 1).then(|| (planner.plan_fft_forward(n), planner.plan_fft_inverse(n))));
        Self { dims, plans }
    }

    /// The grid dimensions.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Samples in one grid.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Always false: a grid has at least one sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forward transform of every grid in `data` (a whole number of grids), in place.
    pub fn forward(&self, data: &mut [Complex32]) -> Result<(), ReconError> {
        self.apply(data, Direction::Forward)
    }

    /// Inverse transform of every grid in `data`, in place.
    pub fn inverse(&self, data: &mut [Complex32]) -> Result<(), ReconError> {
        self.apply(data, Direction::Inverse)
    }

    /// Transforms every grid in `data` in `direction`, in place.
    pub fn apply(&self, data: &mut [Complex32], direction: Direction) -> Result<(), ReconError> {
        let n = self.len();
        if data.is_empty() || data.len() % n != 0 {
            return Err(ReconError::BufferLength { what: "fft", len: data.len(), expected: n });
        }
        if data.len() > n {
            data.par_chunks_mut(n).for_each(|g| self.grid(g, direction, false));
        } else {
            self.grid(data, direction, true);
        }
        Ok(())
    }

    fn grid(&self, g: &mut [Complex32], direction: Direction, parallel: bool) {
        let [nx, ny, nz] = self.dims;
        for (axis, plan) in self.plans.iter().enumerate() {
            let Some((fwd, inv)) = plan else { continue };
            let fft = if direction == Direction::Forward { fwd } else { inv };
            match axis {
                0 => rows(g, nx, fft.as_ref(), parallel),
                1 => strided(g, ny, nx, fft.as_ref(), parallel),
                _ => strided(g, nz, nx * ny, fft.as_ref(), parallel),
            }
        }
    }
}

/// Transforms contiguous rows of length `n`.
fn rows(g: &mut [Complex32], n: usize, fft: &dyn Fft<f32>, parallel: bool) {
    let h = n / 2;
    let scale = 1.0 / (n as f32).sqrt();
    let work = |chunk: &mut [Complex32], buf: &mut Vec<Complex32>, scratch: &mut Vec<Complex32>| {
        let m = chunk.len();
        buf.resize(m, Complex32::default());
        // ifftshift on the way in: a[j] = x[(j + h) mod n].
        for (src, dst) in chunk.chunks_exact(n).zip(buf.chunks_exact_mut(n)) {
            dst[..n - h].copy_from_slice(&src[h..]);
            dst[n - h..].copy_from_slice(&src[..h]);
        }
        scratch.resize(fft.get_inplace_scratch_len(), Complex32::default());
        fft.process_with_scratch(buf, scratch);
        // fftshift on the way out: out[k] = b[(k + n − h) mod n].
        for (src, dst) in buf.chunks_exact(n).zip(chunk.chunks_exact_mut(n)) {
            for (d, s) in dst[..h].iter_mut().zip(&src[n - h..]) {
                *d = s * scale;
            }
            for (d, s) in dst[h..].iter_mut().zip(&src[..n - h]) {
                *d = s * scale;
            }
        }
    };
    let rows_per_task = (4096 / n).max(1) * n;
    if parallel && g.len() > rows_per_task {
        g.par_chunks_mut(rows_per_task).for_each_init(|| (Vec::new(), Vec::new()), |(b, s), c| work(c, b, s));
    } else {
        let (mut b, mut s) = (Vec::new(), Vec::new());
        for c in g.chunks_mut(rows_per_task) {
            work(c, &mut b, &mut s);
        }
    }
}

/// Transforms lines of length `n` whose samples are `stride` apart: `g` is a sequence of
/// blocks of `n · stride` samples, each holding `stride` interleaved lines.
fn strided(g: &mut [Complex32], n: usize, stride: usize, fft: &dyn Fft<f32>, parallel: bool) {
    let h = n / 2;
    let scale = 1.0 / (n as f32).sqrt();
    let block_len = n * stride;
    let work = |block: &mut [Complex32], buf: &mut Vec<Complex32>, scratch: &mut Vec<Complex32>| {
        scratch.resize(fft.get_inplace_scratch_len(), Complex32::default());
        let mut p0 = 0;
        while p0 < stride {
            let b = BLOCK.min(stride - p0);
            buf.resize(b * n, Complex32::default());
            for j in 0..n {
                let src = ((j + h) % n) * stride + p0;
                for (l, v) in block[src..src + b].iter().enumerate() {
                    buf[l * n + j] = *v;
                }
            }
            fft.process_with_scratch(&mut buf[..b * n], scratch);
            for k in 0..n {
                let dst = k * stride + p0;
                let sk = (k + n - h) % n;
                for (l, v) in block[dst..dst + b].iter_mut().enumerate() {
                    *v = buf[l * n + sk] * scale;
                }
            }
            p0 += b;
        }
    };
    if parallel && g.len() > block_len {
        g.par_chunks_mut(block_len).for_each_init(|| (Vec::new(), Vec::new()), |(b, s), c| work(c, b, s));
    } else if parallel && stride >= 2 * BLOCK {
        // One block (a 2-D image's columns): split the columns between threads through
        // disjoint column ranges of a transposed copy.
        let mut t = vec![Complex32::default(); block_len];
        for j in 0..n {
            for p in 0..stride {
                t[p * n + j] = g[j * stride + p];
            }
        }
        t.par_chunks_mut(n * BLOCK).for_each_init(
            || vec![Complex32::default(); fft.get_inplace_scratch_len()],
            |scratch, lines| {
                let mut tmp = vec![Complex32::default(); n];
                for line in lines.chunks_exact_mut(n) {
                    tmp[..n - h].copy_from_slice(&line[h..]);
                    tmp[n - h..].copy_from_slice(&line[..h]);
                    line.copy_from_slice(&tmp);
                }
                fft.process_with_scratch(lines, scratch);
                for line in lines.chunks_exact_mut(n) {
                    for (k, d) in tmp.iter_mut().enumerate() {
                        *d = line[(k + n - h) % n] * scale;
                    }
                    line.copy_from_slice(&tmp);
                }
            },
        );
        for j in 0..n {
            for p in 0..stride {
                g[j * stride + p] = t[p * n + j];
            }
        }
    } else {
        let (mut b, mut s) = (Vec::new(), Vec::new());
        for c in g.chunks_mut(block_len) {
            work(c, &mut b, &mut s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, seed: u64) -> Vec<Complex32> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| Complex32::new(r.gen_range(-1.0..1.0), r.gen_range(-1.0..1.0))).collect()
    }

    /// The definition, summed directly in f64: X[k] = Σ x[j] e^{∓2πi (k−n/2)(j−n/2)/n} / √n
    /// per axis (n/2 rounded down, numpy's fftshift convention).
    fn naive(x: &[Complex32], dims: [usize; 3], sign: f64) -> Vec<Complex32> {
        let mut cur: Vec<(f64, f64)> = x.iter().map(|c| (c.re as f64, c.im as f64)).collect();
        let strides = [1, dims[0], dims[0] * dims[1]];
        for a in 0..3 {
            let n = dims[a];
            if n == 1 {
                continue;
            }
            let c = (n / 2) as f64;
            let mut next = vec![(0.0, 0.0); cur.len()];
            for (i, out) in next.iter_mut().enumerate() {
                let k = (i / strides[a]) % n;
                let base = i - k * strides[a];
                for j in 0..n {
                    let v = cur[base + j * strides[a]];
                    let ph = sign * 2.0 * std::f64::consts::PI * (k as f64 - c) * (j as f64 - c) / n as f64;
                    let (s, co) = ph.sin_cos();
                    out.0 += v.0 * co - v.1 * s;
                    out.1 += v.0 * s + v.1 * co;
                }
                let sc = 1.0 / (n as f64).sqrt();
                out.0 *= sc;
                out.1 *= sc;
            }
            cur = next;
        }
        cur.iter().map(|&(re, im)| Complex32::new(re as f32, im as f32)).collect()
    }

    #[test]
    fn matches_the_definition_for_even_and_odd_sizes() {
        for dims in [[8, 6, 1], [5, 7, 1], [4, 3, 6], [16, 1, 1], [1, 9, 1]] {
            let n: usize = dims.iter().product();
            let x = random(2 * n, 7);
            let plan = CenteredFft::new(dims);
            let mut y = x.clone();
            plan.forward(&mut y).unwrap();
            for g in 0..2 {
                let want = naive(&x[g * n..(g + 1) * n], dims, -1.0);
                for (a, b) in y[g * n..].iter().zip(&want) {
                    // f32 FFT vs f64 sums of ≤ 16 terms: errors ~1e-6.
                    assert!((a - b).norm() < 1e-5, "{dims:?}");
                }
            }
            plan.inverse(&mut y).unwrap();
            for (a, b) in y.iter().zip(&x) {
                assert!((a - b).norm() < 1e-5, "{dims:?} round trip");
            }
        }
    }

    #[test]
    fn orthonormal_and_dc_at_the_centre() {
        let dims = [64, 48, 1];
        let plan = CenteredFft::new(dims);
        let x = random(64 * 48, 3);
        let mut y = x.clone();
        plan.forward(&mut y).unwrap();
        let e = |v: &[Complex32]| v.iter().map(|c| c.norm_sqr() as f64).sum::<f64>();
        // Parseval: relative error of f32 accumulation over 3072 samples.
        assert!((e(&x) - e(&y)).abs() / e(&x) < 1e-5);
        // A constant image is a single DC sample at (n/2, n/2) of height √N.
        let mut c = vec![Complex32::new(1.0, 0.0); 64 * 48];
        plan.forward(&mut c).unwrap();
        assert!((c[32 + 64 * 24].re - (3072f32).sqrt()).abs() < 1e-3);
        assert!(c.iter().enumerate().all(|(i, v)| i == 32 + 64 * 24 || v.norm() < 1e-3));
    }

    #[test]
    fn single_large_image_parallel_path_agrees() {
        let dims = [128, 96, 1];
        let x = random(128 * 96, 5);
        let plan = CenteredFft::new(dims);
        let mut one = x.clone();
        plan.forward(&mut one).unwrap();
        let mut two = [x.clone(), x].concat();
        plan.forward(&mut two).unwrap();
        // Same arithmetic on both paths.
        assert_eq!(&two[..one.len()], &one[..]);
        assert!(matches!(plan.forward(&mut one[..100]), Err(ReconError::BufferLength { .. })));
    }
}
