//! ESPIRiT coil sensitivities by the eigenvalue method (Uecker et al., "ESPIRiT — an
//! eigenvalue approach to autocalibrating parallel MRI: where SENSE meets GRAPPA", MRM 71:990,
//! 2014), following BART `ecalib`'s defaults.
//!
//! 1. The calibration region is the fully sampled centre of k-space, at most
//!    [`EspiritOptions::calibration`] per axis (shrunk until every sample in it is acquired).
//! 2. The calibration matrix holds every `k × k (× k)` multi-coil patch of that region as a
//!    row; the eigenvectors of its Gram matrix with eigenvalue above
//!    [`EspiritOptions::threshold`] times the largest (singular value ratio √threshold, as in
//!    BART) span the signal subspace (§2.2 of the paper).
//! 3. Each subspace vector `w_n`, read as a kernel per coil, is transformed to image space on
//!    a `2k` grid, `g_n(x) = Σ_d w_n[d] e^{+2πi (d−k/2)·x}`, and the point-wise operator
//!    `M(x) = (1/K) Σ_n g_n(x) g_n(x)ᴴ` (K = kernel size) is formed there. Its entries are
//!    trigonometric polynomials of degree < k, so sinc interpolation to the full grid is
//!    exact (BART computes it the same way).
//! 4. At every pixel the dominant eigenvector of `M(x)` is the sensitivity (unit norm over
//!    coils) and its eigenvalue ≈ 1 inside the object; maps with eigenvalue ≤
//!    [`EspiritOptions::crop`] are set to zero (eq. 11's "crop").
//! 5. Eigenvectors carry an arbitrary phase per pixel; it is fixed so that the projection on
//!    the first principal component of the calibration data is real and positive (BART's
//!    default `rotphase`).
//!
//! The eigenvectors of the Gram matrix (size `K·coils`) come from a Householder
//! tridiagonalisation and implicit QL iteration of its real symmetric embedding
//! `[[Re, −Im], [Im, Re]]` (EISPACK `tred2`/`tql2`), whose eigenvalues come in equal pairs
//! for the vectors `w` and `i·w`.

use hounsfield_core::Volume;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::array::{CoilArray, Mask};
use super::coils::{align_phase, power_iteration, principal_coil};
use super::fft::CenteredFft;
use crate::error::{invalid, ReconError};

/// Options of [`espirit`]; the defaults are BART `ecalib`'s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EspiritOptions {
    /// Kernel width per axis (default 6, BART `-k`); 1 along axes of size 1.
    pub kernel: usize,
    /// Largest calibration region per axis (default 24, BART `-r`).
    pub calibration: usize,
    /// Eigenvalue ratio of the calibration Gram matrix above which a vector is kept in the
    /// signal subspace (default 0.001, BART `-t`).
    pub threshold: f64,
    /// Maps whose eigenvalue is at most this are zeroed (default 0.8, BART `-c`).
    pub crop: f32,
}

impl Default for EspiritOptions {
    fn default() -> Self {
        Self { kernel: 6, calibration: 24, threshold: 0.001, crop: 0.8 }
    }
}

/// What [`espirit`] returns.
#[derive(Clone, Debug)]
pub struct EspiritMaps {
    /// The sensitivities (unit norm over coils inside the support, zero outside).
    pub maps: CoilArray,
    /// The eigenvalue of every pixel's map (≈ 1 inside the object).
    pub eigenvalues: Volume<f32>,
    /// Calibration region used (`[cx, cy, cz]`).
    pub calibration: [usize; 3],
    /// Dimension of the signal subspace found.
    pub kernels: usize,
}

/// The largest fully sampled centred block of at most `max` per axis (1 along axes of size
/// 1): halved steps of 2 until every point in it is sampled.
pub fn calibration_region(mask: &Mask, max: usize) -> Result<[usize; 3], ReconError> {
    let dims = mask.dims();
    let mut size = dims.map(|d| if d == 1 { 1 } else { max.min(d) });
    loop {
        let lo = [0, 1, 2].map(|a| dims[a] / 2 - size[a] / 2);
        let full = (lo[2]..lo[2] + size[2]).all(|z| {
            (lo[1]..lo[1] + size[1])
                .all(|y| (lo[0]..lo[0] + size[0]).all(|x| mask.data()[x + dims[0] * (y + dims[1] * z)] > 0.0))
        });
        if full {
            return Ok(size);
        }
        if size.iter().zip(dims).all(|(&s, d)| s <= 2 || d == 1) {
            return Err(invalid("k-space", "no fully sampled calibration region at the centre"));
        }
        for a in 0..3 {
            if dims[a] > 1 && size[a] > 2 {
                size[a] -= 2;
            }
        }
    }
}

/// ESPIRiT sensitivity maps (one set) from the calibration region of `kspace`.
pub fn espirit(kspace: &CoilArray, options: &EspiritOptions) -> Result<EspiritMaps, ReconError> {
    kspace.check_finite("k-space")?;
    if !(1..=16).contains(&options.kernel) {
        return Err(invalid("kernel", format!("must be 1..=16, got {}", options.kernel)));
    }
    if !(options.threshold.is_finite() && (0.0..1.0).contains(&options.threshold)) {
        return Err(invalid("threshold", format!("must be in [0, 1), got {}", options.threshold)));
    }
    if !(options.crop.is_finite() && (0.0..1.0).contains(&options.crop)) {
        return Err(invalid("crop", format!("must be in [0, 1), got {}", options.crop)));
    }
    let dims = kspace.grid_dims();
    let c = kspace.coils();
    let n = kspace.grid_len();
    let cal = calibration_region(&Mask::from_kspace(kspace), options.calibration)?;
    let k = [0, 1, 2].map(|a| if dims[a] == 1 { 1 } else { options.kernel.min(cal[a]) });
    if (0..3).any(|a| dims[a] > 1 && cal[a] < options.kernel.min(dims[a])) {
        return Err(invalid(
            "k-space",
            format!("calibration region {cal:?} is smaller than the {}-wide kernel", options.kernel),
        ));
    }
    let kk = k[0] * k[1] * k[2];
    let nk = kk * c;
    hounsfield_core::check_alloc(4 * (nk * nk) as u128, 8)?;
    let lo = [0, 1, 2].map(|a| dims[a] / 2 - cal[a] / 2);
    let at =
        |cc: usize, x: usize, y: usize, z: usize| kspace.data()[cc * n + x + dims[0] * (y + dims[1] * z)];

    // Gram matrix H[a][b] = Σ_rows r_a·conj(r_b) of the calibration matrix: its eigenvectors
    // span the patches themselves (the row space, not its conjugate).
    let positions: Vec<[usize; 3]> = (0..=cal[2] - k[2])
        .flat_map(|z| (0..=cal[1] - k[1]).flat_map(move |y| (0..=cal[0] - k[0]).map(move |x| [x, y, z])))
        .collect();
    let rows: Vec<Vec<Complex32>> = positions
        .iter()
        .map(|p| {
            let mut r = Vec::with_capacity(nk);
            for cc in 0..c {
                for dz in 0..k[2] {
                    for dy in 0..k[1] {
                        for dx in 0..k[0] {
                            r.push(at(cc, lo[0] + p[0] + dx, lo[1] + p[1] + dy, lo[2] + p[2] + dz));
                        }
                    }
                }
            }
            r
        })
        .collect();
    let gram: Vec<Vec<[f64; 2]>> = (0..nk)
        .into_par_iter()
        .map(|a| {
            let mut row = vec![[0.0f64; 2]; nk];
            for r in &rows {
                let ra = r[a];
                for (b, out) in row.iter_mut().enumerate() {
                    let v = ra * r[b].conj();
                    out[0] += v.re as f64;
                    out[1] += v.im as f64;
                }
            }
            row
        })
        .collect();
    // Real symmetric embedding S = [[Re, −Im], [Im, Re]].
    let m = 2 * nk;
    let mut s = vec![0.0f64; m * m];
    for a in 0..nk {
        for b in 0..nk {
            let [re, im] = gram[a][b];
            s[a * m + b] = re;
            s[(a + nk) * m + b + nk] = re;
            s[a * m + b + nk] = -im;
            s[(a + nk) * m + b] = im;
        }
    }
    let (vals, vecs) = symmetric_eigen(s, m);
    // Descending; keep ratio > threshold. Pairs of equal eigenvalues belong to w and i·w.
    let top = vals.last().copied().unwrap_or(0.0);
    if top <= 0.0 {
        return Err(invalid("k-space", "the calibration region holds no signal"));
    }
    let kept: Vec<usize> = (0..m).rev().take_while(|&i| vals[i] / top > options.threshold).collect();
    let kept = &kept[..kept.len() - kept.len() % 2];

    // Image-space kernels on the 2k grid and the point-wise Gram matrix there.
    let low = k.map(|v| if v == 1 { 1 } else { 2 * v });
    let nl = low[0] * low[1] * low[2];
    let fft_low = CenteredFft::new(low);
    let unnorm = (nl as f32).sqrt();
    let pairs: Vec<(usize, usize)> = (0..c).flat_map(|i| (i..c).map(move |j| (i, j))).collect();
    let scale = 1.0 / (2.0 * kk as f64);
    let low_cov: Vec<Vec<[f64; 2]>> = kept
        .par_chunks(8)
        .map(|chunk| {
            let mut acc = vec![vec![[0.0f64; 2]; nl]; pairs.len()];
            let mut g = vec![Complex32::default(); nl * c];
            for &e in chunk {
                g.fill(Complex32::default());
                for cc in 0..c {
                    for dz in 0..k[2] {
                        for dy in 0..k[1] {
                            for dx in 0..k[0] {
                                let idx = ((cc * k[2] + dz) * k[1] + dy) * k[0] + dx;
                                let w =
                                    Complex32::new(vecs[e * m + idx] as f32, vecs[e * m + idx + nk] as f32);
                                let pz = low[2] / 2 - k[2] / 2 + dz;
                                let py = low[1] / 2 - k[1] / 2 + dy;
                                let px = low[0] / 2 - k[0] / 2 + dx;
                                g[cc * nl + px + low[0] * (py + low[1] * pz)] = w * unnorm;
                            }
                        }
                    }
                }
                // Infallible: g holds whole grids.
                let _ = fft_low.inverse(&mut g);
                for (pi, &(i, j)) in pairs.iter().enumerate() {
                    for (x, out) in acc[pi].iter_mut().enumerate() {
                        let v = g[i * nl + x] * g[j * nl + x].conj();
                        out[0] += v.re as f64;
                        out[1] += v.im as f64;
                    }
                }
            }
            acc
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                for (p, q) in x.iter_mut().zip(y) {
                    p[0] += q[0];
                    p[1] += q[1];
                }
            }
            a
        })
        .unwrap_or_else(|| vec![vec![[0.0; 2]; nl]; pairs.len()]);

    // Sinc interpolation of every entry to the full grid.
    let fft_full = CenteredFft::new(dims);
    let up = ((n as f64) / (nl as f64)).sqrt() as f32;
    let mut full = vec![Complex32::default(); n * pairs.len()];
    full.par_chunks_mut(n).zip(&low_cov).for_each(|(dst, src)| {
        let mut s: Vec<Complex32> =
            src.iter().map(|v| Complex32::new((v[0] * scale) as f32, (v[1] * scale) as f32)).collect();
        let _ = fft_low.forward(&mut s);
        for z in 0..low[2] {
            for y in 0..low[1] {
                for x in 0..low[0] {
                    let (fx, fy, fz) = (
                        dims[0] / 2 - low[0] / 2 + x,
                        dims[1] / 2 - low[1] / 2 + y,
                        dims[2] / 2 - low[2] / 2 + z,
                    );
                    dst[fx + dims[0] * (fy + dims[1] * fz)] = s[x + low[0] * (y + low[1] * z)] * up;
                }
            }
        }
    });
    // One grid per task: the FFT's inner parallelism is not needed.
    for g in full.chunks_mut(n) {
        fft_full.inverse(g)?;
    }

    // Point-wise dominant eigenvectors.
    let reference = principal_coil(kspace, options.calibration)?;
    let crop = options.crop;
    let per_pixel: Vec<(Vec<Complex32>, f32)> = (0..n)
        .into_par_iter()
        .map(|p| {
            let mut mm = vec![[0.0f64; 2]; c * c];
            for (pi, &(i, j)) in pairs.iter().enumerate() {
                let v = full[pi * n + p];
                mm[i * c + j] = [v.re as f64, v.im as f64];
                mm[j * c + i] = [v.re as f64, -v.im as f64];
            }
            // BART's orthogonal iteration for one map: 30 products from the first coil's unit
            // vector. Where the two largest eigenvalues nearly coincide (the edge of the field
            // of view, where aliased signal gives a second eigenvalue ≈ 1) the result depends
            // on the start and the count, so both are BART's.
            let mut start = vec![[0.0f64; 2]; c];
            start[0] = [1.0, 0.0];
            let (v, lambda) = power_iteration(&mm, c, start, 30);
            let lambda = lambda as f32;
            if lambda > crop {
                (align_phase(&v, &reference), lambda)
            } else {
                (vec![Complex32::default(); c], lambda)
            }
        })
        .collect();
    let mut maps = CoilArray::zeros(kspace.dims(), *kspace.geometry())?;
    let mut ev = vec![0.0f32; n];
    for (p, (v, l)) in per_pixel.into_iter().enumerate() {
        ev[p] = l;
        for (cc, x) in v.into_iter().enumerate() {
            maps.data_mut()[cc * n + p] = x;
        }
    }
    Ok(EspiritMaps {
        maps,
        eigenvalues: Volume::from_vec(dims, *kspace.geometry(), ev)?,
        calibration: cal,
        kernels: kept.len() / 2,
    })
}

/// Eigen-decomposition of a real symmetric `n × n` matrix (row-major): eigenvalues ascending
/// and the eigenvectors as rows of the returned matrix (EISPACK `tred2` + `tql2`, as in
/// JAMA's `EigenvalueDecomposition`).
pub(crate) fn symmetric_eigen(a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = a;
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    if n == 0 {
        return (d, v);
    }
    // Householder reduction to tridiagonal form (V row-major, V[i][j] = v[i*n+j]).
    for j in 0..n {
        d[j] = v[(n - 1) * n + j];
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for dk in d.iter().take(i) {
            scale += dk.abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[(i - 1) * n + j];
                v[i * n + j] = 0.0;
                v[j * n + i] = 0.0;
            }
        } else {
            for dk in d.iter_mut().take(i) {
                *dk /= scale;
                h += *dk * *dk;
            }
            let f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for ej in e.iter_mut().take(i) {
                *ej = 0.0;
            }
            for j in 0..i {
                let f = d[j];
                v[j * n + i] = f;
                let mut g = e[j] + v[j * n + j] * f;
                for k in j + 1..i {
                    g += v[k * n + j] * d[k];
                    e[k] += v[k * n + j] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let f = d[j];
                let g = e[j];
                for k in j..i {
                    v[k * n + j] -= f * e[k] + g * d[k];
                }
                d[j] = v[(i - 1) * n + j];
                v[i * n + j] = 0.0;
            }
        }
        d[i] = h;
    }
    for i in 0..n - 1 {
        v[(n - 1) * n + i] = v[i * n + i];
        v[i * n + i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[k * n + i + 1] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[k * n + i + 1] * v[k * n + j];
                }
                for k in 0..=i {
                    v[k * n + j] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[k * n + i + 1] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[(n - 1) * n + j];
        v[(n - 1) * n + j] = 0.0;
    }
    v[(n - 1) * n + n - 1] = 1.0;
    e[0] = 0.0;
    // From here on the eigenvectors are columns of V; transpose so rotations touch rows.
    let mut w = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            w[j * n + i] = v[i * n + j];
        }
    }
    drop(v);
    // Implicit QL on the tridiagonal matrix.
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n {
            if e[m].abs() <= eps * tst1 {
                break;
            }
            m += 1;
        }
        if m == n {
            m = n - 1;
        }
        if m > l {
            for _iter in 0..100 {
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let h = g - d[l];
                for di in d.iter_mut().skip(l + 2) {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let mut c = 1.0;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0;
                let mut s2 = 0.0;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    let h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (head, tail) = w.split_at_mut((i + 1) * n);
                    let ri = &mut head[i * n..];
                    let ri1 = &mut tail[..n];
                    for (a, b) in ri.iter_mut().zip(ri1.iter_mut()) {
                        let hh = *b;
                        *b = s * *a + c * hh;
                        *a = c * *a - s * hh;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    // Sort ascending (selection sort on values, swapping eigenvector rows).
    for i in 0..n.saturating_sub(1) {
        let mut k = i;
        let mut p = d[i];
        for (j, &dj) in d.iter().enumerate().skip(i + 1) {
            if dj < p {
                k = j;
                p = dj;
            }
        }
        if k != i {
            d[k] = d[i];
            d[i] = p;
            for j in 0..n {
                w.swap(i * n + j, k * n + j);
            }
        }
    }
    (d, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::coils::birdcage;
    use crate::mri::fft::CenteredFft;
    use hounsfield_core::Geometry;

    #[test]
    fn symmetric_eigen_solves_a_known_matrix() {
        // A random symmetric matrix: A·v = λ·v for every pair, vectors orthonormal.
        let n = 7;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = ((i * 31 + j * 17) % 11) as f64 - 5.0;
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        let (vals, vecs) = symmetric_eigen(a.clone(), n);
        assert!(vals.windows(2).all(|w| w[0] <= w[1]));
        for (k, &l) in vals.iter().enumerate() {
            let v = &vecs[k * n..(k + 1) * n];
            for i in 0..n {
                let av: f64 = (0..n).map(|j| a[i * n + j] * v[j]).sum();
                // Double precision on a 7×7 matrix of small integers.
                assert!((av - l * v[i]).abs() < 1e-10);
            }
            let norm: f64 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
    }

    /// A disc object seen by birdcage coils: ESPIRiT finds the true maps (up to the phase
    /// per pixel, removed by aligning each estimate to the truth).
    #[test]
    fn recovers_birdcage_maps_inside_the_object() {
        let (nx, c) = (48, 6);
        let truth = birdcage([nx, nx, 1], c, Geometry::default()).unwrap();
        let n = nx * nx;
        let obj: Vec<f32> = (0..n)
            .map(|i| {
                let (x, y) = ((i % nx) as f32 - 24.0, (i / nx) as f32 - 24.0);
                if x * x + y * y < 18.0 * 18.0 {
                    1.0 + 0.3 * (x / 18.0)
                } else {
                    0.0
                }
            })
            .collect();
        let mut k = truth.clone();
        k.data_mut().chunks_mut(n).for_each(|m| m.iter_mut().zip(&obj).for_each(|(v, &o)| *v *= o));
        CenteredFft::new([nx, nx, 1]).forward(k.data_mut()).unwrap();
        let r = espirit(&k, &EspiritOptions::default()).unwrap();
        assert_eq!(r.calibration, [24, 24, 1]);
        let (mut err, mut tot) = (0.0f64, 0.0f64);
        for p in 0..n {
            let (x, y) = ((p % nx) as f32 - 24.0, (p / nx) as f32 - 24.0);
            if x * x + y * y >= 15.0 * 15.0 {
                continue;
            }
            assert!(r.eigenvalues.data()[p] > 0.95, "eigenvalue {} at {p}", r.eigenvalues.data()[p]);
            let t: Vec<Complex32> = (0..c).map(|cc| truth.data()[cc * n + p]).collect();
            let e: Vec<Complex32> = (0..c).map(|cc| r.maps.data()[cc * n + p]).collect();
            let e = align_phase(&e, &t);
            for (a, b) in e.iter().zip(&t) {
                err += (a - b).norm_sqr() as f64;
                tot += b.norm_sqr() as f64;
            }
        }
        // The birdcage maps are smooth but not band-limited to the 6-wide kernel: a few per
        // cent of their energy lies outside what ESPIRiT can represent.
        let nrmse = (err / tot).sqrt();
        assert!(nrmse < 0.05, "nrmse {nrmse}");
    }
}
