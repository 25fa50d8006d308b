//! GRAPPA (Griswold et al., "Generalized autocalibrating partially parallel acquisitions",
//! MRM 47:1202, 2002): missing phase-encoding lines of every coil are linear combinations of
//! the acquired neighbours of all coils, with weights fitted on the fully sampled centre
//! (the auto-calibration signal, ACS).
//!
//! The mask must be a line mask (every `kx` of a `ky` line sampled or none, the same for
//! every `kz`) whose lines outside the ACS lie on a lattice `o + R·j` (as
//! [`super::sampling::equispaced_lines`] makes). For a missing line `y = a + r` (`a` on the
//! lattice, `0 < r < R`) the sources are the lattice lines `a + R·j`,
//! `j ∈ {−(B/2 − 1), …, B/2}` (`B` = [`GrappaOptions::blocks`]), each over `kx` offsets
//! `−W/2…W/2` (`W` = [`GrappaOptions::width`]) and every coil; one weight set per offset `r`,
//! fitted by Tikhonov-regularised least squares over every ACS position where sources and
//! target all lie in the ACS. Acquired samples are kept as they are.

use hounsfield_core::Volume;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;

use super::array::{CoilArray, Mask};
use super::sense::zero_filled;
use crate::error::{invalid, ReconError};

/// Options of [`grappa`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrappaOptions {
    /// The lattice spacing `R`; `None` detects it from the mask (default).
    pub acceleration: Option<usize>,
    /// Kernel width along `kx`, odd (default 5).
    pub width: usize,
    /// Source lines per kernel along `ky`, even (default 4).
    pub blocks: usize,
    /// Tikhonov weight relative to the mean diagonal of the source Gram matrix (default
    /// 0.001).
    pub lambda: f64,
}

impl Default for GrappaOptions {
    fn default() -> Self {
        Self { acceleration: None, width: 5, blocks: 4, lambda: 0.001 }
    }
}

/// The sampled `ky` lines of a line mask, or an error naming the first violation.
fn line_pattern(mask: &Mask) -> Result<Vec<bool>, ReconError> {
    let [nx, ny, nz] = mask.dims();
    let lines: Vec<bool> = (0..ny).map(|y| mask.data()[nx / 2 + nx * y] > 0.0).collect();
    for z in 0..nz {
        for (y, &on) in lines.iter().enumerate() {
            let row = &mask.data()[(z * ny + y) * nx..(z * ny + y + 1) * nx];
            if row.iter().any(|&v| (v > 0.0) != on) {
                return Err(invalid("mask", format!("GRAPPA needs a line mask (all or no kx of each ky line); line {y} of slice {z} is partial")));
            }
        }
    }
    Ok(lines)
}

/// Fills the missing lines of `kspace` (see the [module docs](self)). `mask` = `None` takes
/// the pattern from the non-zero samples.
pub fn grappa(
    kspace: &CoilArray,
    mask: Option<&Mask>,
    options: &GrappaOptions,
) -> Result<CoilArray, ReconError> {
    kspace.check_finite("k-space")?;
    let mask = Mask::given_or_from(mask, kspace);
    let mask = &*mask;
    mask.require_grid(kspace)?;
    let (w, b) = (options.width, options.blocks);
    if w % 2 == 0 || !(1..=15).contains(&w) {
        return Err(invalid("width", format!("must be odd, 1..=15, got {w}")));
    }
    if b % 2 != 0 || !(2..=8).contains(&b) {
        return Err(invalid("blocks", format!("must be even, 2..=8, got {b}")));
    }
    if !(options.lambda.is_finite() && options.lambda >= 0.0) {
        return Err(invalid("lambda", format!("must be ≥ 0, got {}", options.lambda)));
    }
    let [nx, ny, nz, nc] = kspace.dims();
    let lines = line_pattern(mask)?;
    // ACS: the contiguous run of sampled lines through the centre.
    if !lines[ny / 2] {
        return Err(invalid("mask", "GRAPPA needs a fully sampled centre (ACS)"));
    }
    let (mut lo, mut hi) = (ny / 2, ny / 2);
    while lo > 0 && lines[lo - 1] {
        lo -= 1;
    }
    while hi + 1 < ny && lines[hi + 1] {
        hi += 1;
    }
    let outside: Vec<usize> = (0..ny).filter(|&y| lines[y] && (y < lo || y > hi)).collect();
    let r = match options.acceleration {
        Some(r) => r,
        None => {
            let mut counts = [0usize; 33];
            for p in outside.windows(2) {
                let g = p[1] - p[0];
                if g < counts.len() {
                    counts[g] += 1;
                }
            }
            (1..counts.len()).max_by_key(|&g| counts[g]).filter(|&g| counts[g] > 0).unwrap_or(1)
        }
    };
    if !(1..=16).contains(&r) {
        return Err(invalid("acceleration", format!("must be 1..=16, got {r}")));
    }
    if r == 1 {
        return match lines.iter().position(|&l| !l) {
            None => Ok(kspace.clone()),
            Some(y) => Err(invalid("mask", format!("GRAPPA found no regular line lattice (line {y} is missing; set the acceleration or use an equispaced mask)"))),
        };
    }
    let offset = {
        let mut counts = vec![0usize; r];
        for &y in &outside {
            counts[y % r] += 1;
        }
        (0..r).max_by_key(|&o| counts[o]).unwrap_or(0)
    };
    if let Some(y) = (0..ny).find(|&y| y % r == offset && !lines[y]) {
        return Err(invalid(
            "mask",
            format!("GRAPPA needs equispaced lines (every {r}th from {offset}); line {y} is missing"),
        ));
    }
    let js: Vec<isize> = (-(b as isize / 2 - 1)..=(b as isize / 2)).collect();
    let span = (js[js.len() - 1] - js[0]) as usize * r;
    if hi - lo < span + 1 {
        return Err(invalid(
            "mask",
            format!(
                "the ACS of {} lines is too narrow for a {b}-block kernel at R = {r} (needs {})",
                hi - lo + 1,
                span + 2
            ),
        ));
    }
    let hw = (w / 2) as isize;
    let ns = w * b * nc;
    let n = nx * ny * nz;
    let data = kspace.data();
    let at = |c: usize, x: isize, y: isize, z: usize| -> Complex32 {
        if x < 0 || y < 0 || x >= nx as isize || y >= ny as isize {
            Complex32::default()
        } else {
            data[c * n + (z * ny + y as usize) * nx + x as usize]
        }
    };
    let sources = |a: isize, x: isize, z: usize, out: &mut Vec<Complex32>| {
        out.clear();
        for c in 0..nc {
            for &j in &js {
                for dx in -hw..=hw {
                    out.push(at(c, x + dx, a + j * r as isize, z));
                }
            }
        }
    };
    // One weight set per target offset.
    let weights: Vec<Vec<Complex32>> = (1..r)
        .into_par_iter()
        .map(|off| {
            let mut g = vec![[0.0f64; 2]; ns * ns];
            let mut rhs = vec![[0.0f64; 2]; ns * nc];
            let mut s = Vec::with_capacity(ns);
            let (alo, ahi) = (lo as isize - js[0] * r as isize, hi as isize - js[js.len() - 1] * r as isize);
            for a in alo..=ahi {
                let t = a + off as isize;
                if t < lo as isize || t > hi as isize {
                    continue;
                }
                for z in 0..nz {
                    for x in hw..nx as isize - hw {
                        sources(a, x, z, &mut s);
                        for (i, si) in s.iter().enumerate() {
                            let ci = si.conj();
                            let row = &mut g[i * ns..(i + 1) * ns];
                            for (gv, sj) in row.iter_mut().zip(&s) {
                                let v = ci * sj;
                                gv[0] += v.re as f64;
                                gv[1] += v.im as f64;
                            }
                            for c in 0..nc {
                                let v = ci * at(c, x, t, z);
                                rhs[i * nc + c][0] += v.re as f64;
                                rhs[i * nc + c][1] += v.im as f64;
                            }
                        }
                    }
                }
            }
            let tr = (0..ns).map(|i| g[i * ns + i][0]).sum::<f64>() / ns as f64;
            for i in 0..ns {
                g[i * ns + i][0] += options.lambda * tr.max(f64::MIN_POSITIVE);
            }
            solve_hermitian(g, rhs, ns, nc)
                .map(|x| x.into_iter().map(|v| Complex32::new(v[0] as f32, v[1] as f32)).collect())
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("k-space", "the GRAPPA calibration system is singular (empty ACS?)"))?;
    // Fill the missing lines.
    let mut out = kspace.clone();
    let filled: Vec<(usize, usize, Vec<Complex32>)> = (0..ny)
        .filter(|&y| !lines[y])
        .flat_map(|y| (0..nz).map(move |z| (y, z)))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(y, z)| {
            let off = (y + r - offset) % r;
            let a = y as isize - off as isize;
            let wts = &weights[off - 1];
            let mut s = Vec::with_capacity(ns);
            let mut vals = vec![Complex32::default(); nx * nc];
            for x in 0..nx {
                sources(a, x as isize, z, &mut s);
                for c in 0..nc {
                    let mut v = Complex32::default();
                    for (i, si) in s.iter().enumerate() {
                        v += si * wts[i * nc + c];
                    }
                    vals[c * nx + x] = v;
                }
            }
            (y, z, vals)
        })
        .collect();
    for (y, z, vals) in filled {
        for c in 0..nc {
            let dst = c * n + (z * ny + y) * nx;
            out.data_mut()[dst..dst + nx].copy_from_slice(&vals[c * nx..(c + 1) * nx]);
        }
    }
    Ok(out)
}

/// GRAPPA then coil combination: with `maps` the sensitivity-weighted sum, else
/// root-sum-of-squares (GRAPPA's usual output).
pub fn grappa_recon(
    kspace: &CoilArray,
    mask: Option<&Mask>,
    maps: Option<&CoilArray>,
    options: &GrappaOptions,
) -> Result<Volume<Complex32>, ReconError> {
    let filled = grappa(kspace, mask, options)?;
    zero_filled(&filled, maps)
}

/// Solves the Hermitian positive-definite system `A·X = B` (`A` n×n, `B` n×m, row-major
/// `[re, im]`) by Cholesky factorisation; `None` when `A` is not positive definite.
fn solve_hermitian(mut a: Vec<[f64; 2]>, mut b: Vec<[f64; 2]>, n: usize, m: usize) -> Option<Vec<[f64; 2]>> {
    let mul = |x: [f64; 2], y: [f64; 2]| [x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0]];
    let conj = |x: [f64; 2]| [x[0], -x[1]];
    // A = L·Lᴴ, L stored in the lower triangle.
    for j in 0..n {
        let mut d = a[j * n + j][0];
        for k in 0..j {
            let l = a[j * n + k];
            d -= l[0] * l[0] + l[1] * l[1];
        }
        // Not positive (or NaN): the matrix is not positive definite.
        if d.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = [d, 0.0];
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                let p = mul(a[i * n + k], conj(a[j * n + k]));
                s[0] -= p[0];
                s[1] -= p[1];
            }
            a[i * n + j] = [s[0] / d, s[1] / d];
        }
    }
    for col in 0..m {
        // Forward: L·y = b.
        for i in 0..n {
            let mut s = b[i * m + col];
            for k in 0..i {
                let p = mul(a[i * n + k], b[k * m + col]);
                s[0] -= p[0];
                s[1] -= p[1];
            }
            let d = a[i * n + i][0];
            b[i * m + col] = [s[0] / d, s[1] / d];
        }
        // Backward: Lᴴ·x = y.
        for i in (0..n).rev() {
            let mut s = b[i * m + col];
            for k in i + 1..n {
                let p = mul(conj(a[k * n + i]), b[k * m + col]);
                s[0] -= p[0];
                s[1] -= p[1];
            }
            let d = a[i * n + i][0];
            b[i * m + col] = [s[0] / d, s[1] / d];
        }
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::coils::birdcage;
    use crate::mri::fft::CenteredFft;
    use crate::mri::sampling::{equispaced_lines, random_lines};
    use hounsfield_core::Geometry;

    #[test]
    fn cholesky_solves_a_hermitian_system() {
        // A = [[4, 1−i], [1+i, 3]], x = [1, i]: b = A·x.
        let a = vec![[4.0, 0.0], [1.0, -1.0], [1.0, 1.0], [3.0, 0.0]];
        let b = vec![[4.0 + 1.0, 1.0], [1.0, 1.0 + 3.0]];
        let x = solve_hermitian(a, b, 2, 1).unwrap();
        assert!((x[0][0] - 1.0).abs() < 1e-12 && x[0][1].abs() < 1e-12);
        assert!(x[1][0].abs() < 1e-12 && (x[1][1] - 1.0).abs() < 1e-12);
        assert!(solve_hermitian(vec![[0.0, 0.0]], vec![[1.0, 0.0]], 1, 1).is_none());
    }

    #[test]
    fn fills_equispaced_lines_and_refuses_random_ones() {
        let (nx, nc) = (64, 8);
        let maps = birdcage([nx, nx, 1], nc, Geometry::default()).unwrap();
        let n = nx * nx;
        let obj: Vec<f32> = (0..n)
            .map(|i| {
                let (x, y) = ((i % nx) as f32 - 32.0, (i / nx) as f32 - 32.0);
                if x * x + y * y < 400.0 {
                    1.0 + x / 40.0
                } else {
                    0.0
                }
            })
            .collect();
        let mut full = maps.clone();
        full.data_mut().chunks_mut(n).for_each(|m| m.iter_mut().zip(&obj).for_each(|(v, &o)| *v *= o));
        CenteredFft::new([nx, nx, 1]).forward(full.data_mut()).unwrap();
        let mask = equispaced_lines([nx, nx, 1], 3, 0.375, 0).unwrap();
        let mut under = full.clone();
        under
            .data_mut()
            .chunks_mut(n)
            .for_each(|k| k.iter_mut().zip(mask.data()).for_each(|(v, &m)| *v *= m));
        let filled = grappa(&under, Some(&mask), &GrappaOptions::default()).unwrap();
        let err: f64 = filled.data().iter().zip(full.data()).map(|(a, b)| (a - b).norm_sqr() as f64).sum();
        let miss: f64 = under.data().iter().zip(full.data()).map(|(a, b)| (a - b).norm_sqr() as f64).sum();
        // 8 coils, R = 3, a sharp-edged disc (not band-limited, so a 5 × 4 kernel cannot be
        // exact): GRAPPA restores about 90 % of the missing energy; 80 % is the bar.
        assert!(err < 0.2 * miss, "residual {:.2e} of {:.2e}", err, miss);
        // A random line mask has no lattice: a typed error.
        let bad = random_lines([nx, nx, 1], 3.0, 0.375, 1).unwrap();
        assert!(grappa(&under, Some(&bad), &GrappaOptions::default()).is_err());
    }
}
