//! The Cartesian SENSE model and its direct reconstructions: zero-filled and CG-SENSE.
//!
//! The forward model of an image `x` is `y_c = M·F·(S_c·x)` for every coil `c` (Pruessmann
//! et al., "SENSE: sensitivity encoding for fast MRI", MRM 42:952, 1999): sensitivity `S_c`,
//! centred orthonormal FFT `F`, sampling mask `M`. [`SenseOp`] applies it, its adjoint
//! `Σ_c conj(S_c)·Fᴴ·M·y_c` and the normal operator `AᴴA`, one coil per task.
//! [`cg_sense`] solves `(AᴴA + λI)·x = Aᴴy` by conjugate gradients (Pruessmann et al.,
//! "Advances in sensitivity encoding with arbitrary k-space trajectories", MRM 46:638, 2001).

use std::ops::ControlFlow;
use std::sync::Arc;

use hounsfield_core::Volume;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::array::{CoilArray, Mask};
use super::coils::{coil_count, coil_images, combine, rss};
use super::fft::CenteredFft;
use crate::ct::iterative::{Callback, IterationInfo};
use crate::error::{invalid, ReconError};

/// The SENSE encoding operator `A = M·F·S` for one set of maps and one mask.
///
/// For 2-D grids of even size the normal operator takes a faster path: the centred FFT is
/// `F_c = s·C·F·C/√N` with `C` the ±1 chessboard and `F` the plain DFT (even sizes only), so
/// `F_cᴴ·M·F_c = C·Fᴴ·M·F·C/N`; the chessboard is folded into the maps once, the k-space stays
/// transposed between the forward and inverse transforms (rows, transpose, rows — and back),
/// and no shift is ever copied.
pub struct SenseOp<'a> {
    maps: &'a CoilArray,
    mask: &'a [f32],
    fft: CenteredFft,
    fast: Option<FastNormal>,
}

impl std::fmt::Debug for SenseOp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenseOp")
            .field("dims", &self.maps.dims())
            .field("fast", &self.fast.is_some())
            .finish()
    }
}

/// Precomputed pieces of the 2-D fast normal operator.
struct FastNormal {
    nx: usize,
    ny: usize,
    /// Maps times the chessboard, coil-major.
    maps: Vec<Complex32>,
    /// Mask transposed (`ky` fastest) and divided by `N`.
    mask_t: Vec<f32>,
    fx: (Arc<dyn Fft<f32>>, Arc<dyn Fft<f32>>),
    fy: (Arc<dyn Fft<f32>>, Arc<dyn Fft<f32>>),
}

impl FastNormal {
    fn new(maps: &CoilArray, mask: &[f32]) -> Option<Self> {
        let [nx, ny, nz, _] = maps.dims();
        if nz != 1 || nx % 2 != 0 || ny % 2 != 0 || nx < 4 || ny < 4 {
            return None;
        }
        let n = nx * ny;
        let chess = |i: usize| if (i % nx + i / nx) % 2 == 0 { 1.0f32 } else { -1.0 };
        let cm = maps
            .data()
            .chunks_exact(n)
            .flat_map(|m| m.iter().enumerate().map(move |(i, v)| v * chess(i)))
            .collect();
        let mut mask_t = vec![0.0f32; n];
        for y in 0..ny {
            for x in 0..nx {
                mask_t[y + ny * x] = mask[x + nx * y] / n as f32;
            }
        }
        let mut p = FftPlanner::<f32>::new();
        Some(Self {
            nx,
            ny,
            maps: cm,
            mask_t,
            fx: (p.plan_fft_forward(nx), p.plan_fft_inverse(nx)),
            fy: (p.plan_fft_forward(ny), p.plan_fft_inverse(ny)),
        })
    }

    /// `C·Fᴴ·M·F·C·(S'·x)` for one coil into `w` (`t` is scratch of the same size).
    fn coil(
        &self,
        s: &[Complex32],
        x: &[Complex32],
        w: &mut [Complex32],
        t: &mut [Complex32],
        scratch: &mut Vec<Complex32>,
    ) {
        let (nx, ny) = (self.nx, self.ny);
        let need = [&self.fx.0, &self.fx.1, &self.fy.0, &self.fy.1]
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        scratch.resize(need, Complex32::default());
        w.iter_mut().zip(s).zip(x).for_each(|((w, s), x)| *w = s * x);
        self.fx.0.process_with_scratch(w, scratch);
        transpose(w, t, nx, ny);
        self.fy.0.process_with_scratch(t, scratch);
        t.iter_mut().zip(&self.mask_t).for_each(|(v, &m)| *v *= m);
        self.fy.1.process_with_scratch(t, scratch);
        transpose(t, w, ny, nx);
        self.fx.1.process_with_scratch(w, scratch);
        w.iter_mut().zip(s).for_each(|(w, s)| *w *= s.conj());
    }
}

/// `dst[x·rows + y] = src[y·cols + x]` for a `rows × cols` (row-major) `src`, in 32² tiles.
fn transpose(src: &[Complex32], dst: &mut [Complex32], cols: usize, rows: usize) {
    const T: usize = 32;
    for y0 in (0..rows).step_by(T) {
        for x0 in (0..cols).step_by(T) {
            for y in y0..(y0 + T).min(rows) {
                for x in x0..(x0 + T).min(cols) {
                    dst[x * rows + y] = src[y * cols + x];
                }
            }
        }
    }
}

impl<'a> SenseOp<'a> {
    /// The operator for `maps` (coils × grid) and a mask on the same grid.
    pub fn new(maps: &'a CoilArray, mask: &'a Mask) -> Result<Self, ReconError> {
        if mask.dims() != maps.grid_dims() {
            return Err(hounsfield_core::CoreError::GridMismatch(format!(
                "mask of {:?} and sensitivity maps of {:?} samples",
                mask.dims(),
                maps.grid_dims()
            ))
            .into());
        }
        maps.check_finite("sensitivity maps")?;
        let fast = FastNormal::new(maps, mask.data());
        Ok(Self { maps, mask: mask.data(), fft: CenteredFft::new(maps.grid_dims()), fast })
    }

    /// Samples in the image.
    pub fn image_len(&self) -> usize {
        self.maps.grid_len()
    }

    /// Samples in the (multi-coil) k-space.
    pub fn kspace_len(&self) -> usize {
        self.maps.data().len()
    }

    /// The largest eigenvalue's upper bound `max_x Σ_c |S_c(x)|²` (the FFT is unitary and the
    /// mask at most 1): the Lipschitz constant of the data term's gradient.
    pub fn norm_bound(&self) -> f32 {
        let n = self.image_len();
        let mut acc = vec![0.0f32; n];
        for m in self.maps.data().chunks_exact(n) {
            acc.iter_mut().zip(m).for_each(|(a, s)| *a += s.norm_sqr());
        }
        acc.into_iter().fold(0.0, f32::max)
    }

    fn check(&self, what: &'static str, len: usize, expected: usize) -> Result<(), ReconError> {
        if len != expected {
            return Err(ReconError::BufferLength { what, len, expected });
        }
        Ok(())
    }

    /// `y = A·x` (`y` holds every coil's k-space).
    pub fn forward(&self, x: &[Complex32], y: &mut [Complex32]) -> Result<(), ReconError> {
        let n = self.image_len();
        self.check("image", x.len(), n)?;
        self.check("k-space", y.len(), self.kspace_len())?;
        y.par_chunks_mut(n).zip(self.maps.data().par_chunks(n)).for_each(|(yc, s)| {
            yc.iter_mut().zip(s).zip(x).for_each(|((o, s), x)| *o = s * x);
            let _ = self.fft.forward(yc);
            yc.iter_mut().zip(self.mask).for_each(|(o, &m)| *o *= m);
        });
        Ok(())
    }

    /// `x = Aᴴ·y`. `work` (one k-space's length) is overwritten.
    pub fn adjoint(
        &self,
        y: &[Complex32],
        x: &mut [Complex32],
        work: &mut [Complex32],
    ) -> Result<(), ReconError> {
        let n = self.image_len();
        self.check("k-space", y.len(), self.kspace_len())?;
        self.check("work", work.len(), self.kspace_len())?;
        self.check("image", x.len(), n)?;
        work.par_chunks_mut(n).zip(y.par_chunks(n)).zip(self.maps.data().par_chunks(n)).for_each(
            |((w, yc), s)| {
                w.iter_mut().zip(yc).zip(self.mask).for_each(|((w, y), &m)| *w = y * m);
                let _ = self.fft.inverse(w);
                w.iter_mut().zip(s).for_each(|(w, s)| *w *= s.conj());
            },
        );
        self.sum_coils(work, x);
        Ok(())
    }

    /// `out = AᴴA·x`. `work` (one k-space's length) is overwritten.
    pub fn normal(
        &self,
        x: &[Complex32],
        out: &mut [Complex32],
        work: &mut [Complex32],
    ) -> Result<(), ReconError> {
        let n = self.image_len();
        self.check("image", x.len(), n)?;
        self.check("image", out.len(), n)?;
        self.check("work", work.len(), self.kspace_len())?;
        if let Some(f) = &self.fast {
            work.par_chunks_mut(n).zip(f.maps.par_chunks(n)).for_each_init(
                || (vec![Complex32::default(); n], Vec::new()),
                |(t, scratch), (w, s)| f.coil(s, x, w, t, scratch),
            );
            self.sum_coils(work, out);
            return Ok(());
        }
        work.par_chunks_mut(n).zip(self.maps.data().par_chunks(n)).for_each(|(w, s)| {
            w.iter_mut().zip(s).zip(x).for_each(|((w, s), x)| *w = s * x);
            let _ = self.fft.forward(w);
            w.iter_mut().zip(self.mask).for_each(|(w, &m)| *w *= m);
            let _ = self.fft.inverse(w);
            w.iter_mut().zip(s).for_each(|(w, s)| *w *= s.conj());
        });
        self.sum_coils(work, out);
        Ok(())
    }

    fn sum_coils(&self, work: &[Complex32], x: &mut [Complex32]) {
        let n = self.image_len();
        let c = self.maps.coils();
        x.par_chunks_mut(4096).enumerate().for_each(|(b, xs)| {
            let o = b * 4096;
            xs.fill(Complex32::default());
            for ci in 0..c {
                let src = &work[ci * n + o..ci * n + o + xs.len()];
                xs.iter_mut().zip(src).for_each(|(a, b)| *a += b);
            }
        });
    }
}

/// `Re⟨a, b⟩` in f64.
pub(crate) fn dot_re(a: &[Complex32], b: &[Complex32]) -> f64 {
    a.par_iter().zip(b).map(|(x, y)| (x.re as f64) * (y.re as f64) + (x.im as f64) * (y.im as f64)).sum()
}

/// `‖a‖²` in f64.
pub(crate) fn norm_sq(a: &[Complex32]) -> f64 {
    a.par_iter().map(|x| x.norm_sqr() as f64).sum()
}

/// Options of [`cg_sense`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CgOptions {
    /// Iterations (default 30, BART `pics`'s default).
    pub iterations: usize,
    /// Tikhonov weight `λ` in `(AᴴA + λI)x = Aᴴy`, relative to the data scaled as in
    /// [`super::cs::data_scale`] (default 0: plain CG-SENSE).
    pub lambda: f32,
    /// Stop when the residual norm falls below this fraction of `‖Aᴴy‖` (default 1e-6).
    pub tolerance: f64,
}

impl Default for CgOptions {
    fn default() -> Self {
        Self { iterations: 30, lambda: 0.0, tolerance: 1e-6 }
    }
}

/// A linear operator applied in place: `op(x, y)` writes `A·x` into `y`.
pub(crate) type LinearOp<'a> = dyn FnMut(&[Complex32], &mut [Complex32]) -> Result<(), ReconError> + 'a;

/// Conjugate gradients on a Hermitian positive semi-definite operator: solves `op(x) = b`
/// from the `x` given; the callback's residual is `‖b − op(x)‖`.
pub(crate) fn conjugate_gradient(
    op: &mut LinearOp<'_>,
    b: &[Complex32],
    x: &mut [Complex32],
    iterations: usize,
    tolerance: f64,
    callback: Callback<'_>,
) -> Result<(), ReconError> {
    let n = b.len();
    let mut r = vec![Complex32::default(); n];
    let mut q = vec![Complex32::default(); n];
    op(x, &mut q)?;
    r.par_iter_mut().zip(b).zip(&q).for_each(|((r, b), q)| *r = b - q);
    let mut p = r.clone();
    let mut rr = norm_sq(&r);
    let stop = tolerance * tolerance * norm_sq(b);
    for it in 1..=iterations {
        if rr <= stop || rr == 0.0 {
            break;
        }
        op(&p, &mut q)?;
        let pq = dot_re(&p, &q);
        if pq <= 0.0 {
            break;
        }
        let alpha = (rr / pq) as f32;
        x.par_iter_mut().zip(&p).for_each(|(x, p)| *x += p * alpha);
        r.par_iter_mut().zip(&q).for_each(|(r, q)| *r -= q * alpha);
        let rr_new = norm_sq(&r);
        let beta = (rr_new / rr) as f32;
        p.par_iter_mut().zip(&r).for_each(|(p, r)| *p = r + *p * beta);
        rr = rr_new;
        let info = IterationInfo { iteration: it, iterations, residual: rr.sqrt() };
        if let ControlFlow::Break(()) = callback(&info) {
            break;
        }
    }
    Ok(())
}

/// Checks that k-space, maps and mask describe the same acquisition.
pub(crate) fn check_problem(kspace: &CoilArray, maps: &CoilArray, mask: &Mask) -> Result<(), ReconError> {
    kspace.require_same_grid(maps, "k-space and sensitivity maps")?;
    if kspace.coils() != maps.coils() {
        return Err(coil_count(maps.coils(), kspace.coils()));
    }
    mask.require_grid(kspace)?;
    kspace.check_finite("k-space")?;
    maps.check_finite("sensitivity maps")
}

/// CG-SENSE: `(AᴴA + λI)·x = Aᴴy` from zero, with the data scaled to unit image level
/// first ([`super::cs::data_scale`], so `λ` means the same for any data) and the result
/// scaled back. `mask` = `None` takes the pattern from the non-zero samples.
pub fn cg_sense(
    kspace: &CoilArray,
    maps: &CoilArray,
    mask: Option<&Mask>,
    options: &CgOptions,
    callback: Callback<'_>,
) -> Result<Volume<Complex32>, ReconError> {
    let mask = Mask::given_or_from(mask, kspace);
    let mask = &*mask;
    check_problem(kspace, maps, mask)?;
    if options.iterations == 0 || options.iterations > 100_000 {
        return Err(invalid("iterations", format!("must be 1..=100000, got {}", options.iterations)));
    }
    if !(options.lambda.is_finite() && options.lambda >= 0.0) {
        return Err(invalid("lambda", format!("must be a finite number ≥ 0, got {}", options.lambda)));
    }
    let op = SenseOp::new(maps, mask)?;
    let scale = super::cs::data_scale(kspace, mask)?;
    let y: Vec<Complex32> = kspace.data().par_iter().map(|v| v / scale).collect();
    let n = op.image_len();
    let mut work = vec![Complex32::default(); op.kspace_len()];
    let mut b = vec![Complex32::default(); n];
    op.adjoint(&y, &mut b, &mut work)?;
    let mut x = vec![Complex32::default(); n];
    let lambda = options.lambda;
    let mut normal = |v: &[Complex32], out: &mut [Complex32]| -> Result<(), ReconError> {
        op.normal(v, out, &mut work)?;
        if lambda > 0.0 {
            out.par_iter_mut().zip(v).for_each(|(o, v)| *o += v * lambda);
        }
        Ok(())
    };
    conjugate_gradient(&mut normal, &b, &mut x, options.iterations, options.tolerance, callback)?;
    x.par_iter_mut().for_each(|v| *v *= scale);
    Ok(Volume::from_vec(kspace.grid_dims(), *kspace.geometry(), x)?)
}

/// The zero-filled reconstruction: inverse FFT of every coil (unsampled points are zero),
/// combined with the maps when given (`Σ conj(S_c)·x_c / Σ|S_c|²`), else by
/// root-sum-of-squares (a magnitude image, returned with zero phase).
pub fn zero_filled(kspace: &CoilArray, maps: Option<&CoilArray>) -> Result<Volume<Complex32>, ReconError> {
    kspace.check_finite("k-space")?;
    let images = coil_images(kspace)?;
    match maps {
        Some(m) => combine(&images, m),
        None => Ok(rss(&images)?.map(|&v| Complex32::new(v, 0.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::iterative::no_callback;
    use crate::mri::coils::birdcage;
    use crate::mri::sampling::{random_lines, PoissonOptions};
    use hounsfield_core::Geometry;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, seed: u64) -> Vec<Complex32> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| Complex32::new(r.gen_range(-1.0..1.0), r.gen_range(-1.0..1.0))).collect()
    }

    #[test]
    fn adjoint_and_normal_are_consistent() {
        let maps = birdcage([24, 20, 1], 4, Geometry::default()).unwrap();
        let mask = random_lines([24, 20, 1], 2.0, 0.2, 0).unwrap();
        let op = SenseOp::new(&maps, &mask).unwrap();
        let x = random(480, 1);
        let y = random(4 * 480, 2);
        let mut ax = vec![Complex32::default(); 4 * 480];
        let mut ahy = vec![Complex32::default(); 480];
        let mut work = vec![Complex32::default(); 4 * 480];
        op.forward(&x, &mut ax).unwrap();
        op.adjoint(&y, &mut ahy, &mut work).unwrap();
        let lhs: Complex32 = ax.iter().zip(&y).map(|(a, b)| b.conj() * a).sum();
        let rhs: Complex32 = x.iter().zip(&ahy).map(|(a, b)| b.conj() * a).sum();
        // ⟨Ax, y⟩ = ⟨x, Aᴴy⟩ up to f32 rounding of ~2000-term sums.
        assert!((lhs - rhs).norm() < 1e-3 * lhs.norm(), "{lhs} vs {rhs}");
        let mut n1 = vec![Complex32::default(); 480];
        op.normal(&x, &mut n1, &mut work).unwrap();
        let mut n2 = vec![Complex32::default(); 480];
        op.adjoint(&ax, &mut n2, &mut work).unwrap();
        assert!(n1.iter().zip(&n2).all(|(a, b)| (a - b).norm() < 1e-5));
        assert!(op.norm_bound() <= 1.0 + 1e-5);
    }

    #[test]
    fn cg_sense_recovers_noise_free_data() {
        let dims = [32, 32, 1];
        let maps = birdcage(dims, 8, Geometry::default()).unwrap();
        let o = PoissonOptions { acceleration: 3.0, calibration: 8, variable_density: 1.0 };
        let mask = crate::mri::sampling::poisson_disc(dims, &o, 1).unwrap();
        let truth: Vec<Complex32> = (0..1024)
            .map(|i| {
                let (x, y) = ((i % 32) as f32 - 16.0, (i / 32) as f32 - 16.0);
                Complex32::new(if x * x + y * y < 150.0 { 1.0 + x / 40.0 } else { 0.0 }, 0.0)
            })
            .collect();
        let op = SenseOp::new(&maps, &mask).unwrap();
        let mut y = vec![Complex32::default(); 8 * 1024];
        op.forward(&truth, &mut y).unwrap();
        let k = CoilArray::from_vec([32, 32, 1, 8], Geometry::default(), y).unwrap();
        let o = CgOptions { iterations: 100, ..Default::default() };
        let x = cg_sense(&k, &maps, Some(&mask), &o, &mut no_callback).unwrap();
        let err: f32 = x.data().iter().zip(&truth).map(|(a, b)| (a - b).norm_sqr()).sum::<f32>().sqrt();
        let tot: f32 = truth.iter().map(|b| b.norm_sqr()).sum::<f32>().sqrt();
        // 8 coils at R = 3, noise-free: SENSE is well posed, CG converges to the truth.
        assert!(err / tot < 1e-2, "relative error {}", err / tot);
        // Bad input is a typed error.
        let short = Mask::full([32, 16, 1]).unwrap();
        assert!(matches!(cg_sense(&k, &maps, Some(&short), &o, &mut no_callback), Err(ReconError::Core(_))));
    }
}
