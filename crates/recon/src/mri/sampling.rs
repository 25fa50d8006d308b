//! Sampling patterns: Cartesian masks and radial trajectories, all seeded.
//!
//! | pattern | function | reference |
//! |---|---|---|
//! | random phase-encode lines, fully sampled centre | [`random_lines`] | fastMRI `RandomMaskFunc` (Zbontar et al. 2018) |
//! | equispaced lines + centre (GRAPPA-ready) | [`equispaced_lines`] | Griswold et al. 2002 |
//! | 2-D variable-density Poisson disc + calibration square | [`poisson_disc`] | Lustig et al. 2007; BART `poisson` |
//! | radial spokes, uniform or golden angle | [`radial`] | Winkelmann et al. 2007 (golden angle) |
//!
//! Line masks undersample `ky` (axis 1, phase encoding) and keep every `kx` (read-out) and
//! every `kz`. The Poisson-disc mask undersamples the two phase-encoding axes of the grid:
//! `(kx, ky)` for a 2-D grid (`nz = 1`, the usual 2-D simulation), `(ky, kz)` for 3-D.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::array::Mask;
use crate::error::{invalid, ReconError};

fn check_accel(acceleration: f64) -> Result<(), ReconError> {
    if !(acceleration.is_finite() && (1.0..=64.0).contains(&acceleration)) {
        return Err(invalid("acceleration", format!("must be in 1..=64, got {acceleration}")));
    }
    Ok(())
}

fn check_fraction(f: f64) -> Result<(), ReconError> {
    if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
        return Err(invalid("center_fraction", format!("must be in [0, 1], got {f}")));
    }
    Ok(())
}

fn lines_to_mask(dims: [usize; 3], lines: &[bool]) -> Result<Mask, ReconError> {
    let [nx, ny, nz] = dims;
    let mut data = vec![0.0f32; hounsfield_core::checked_voxels(dims, 4)?];
    for z in 0..nz {
        for (y, &on) in lines.iter().enumerate() {
            if on {
                data[(z * ny + y) * nx..(z * ny + y + 1) * nx].fill(1.0);
            }
        }
    }
    Mask::from_vec(dims, data)
}

/// The centre block of `round(ny · center_fraction)` lines, as fastMRI places it.
fn centre_lines(ny: usize, center_fraction: f64) -> (usize, usize) {
    let low = ((ny as f64 * center_fraction).round() as usize).min(ny);
    let pad = (ny - low).div_ceil(2);
    (pad, low)
}

/// fastMRI's random line mask: `round(ny · center_fraction)` central `ky` lines, and every
/// other line with the probability that makes the expected acceleration `acceleration`.
pub fn random_lines(
    dims: [usize; 3],
    acceleration: f64,
    center_fraction: f64,
    seed: u64,
) -> Result<Mask, ReconError> {
    check_accel(acceleration)?;
    check_fraction(center_fraction)?;
    let ny = dims[1];
    let (pad, low) = centre_lines(ny, center_fraction);
    let prob = if ny > low {
        ((ny as f64 / acceleration - low as f64) / (ny - low) as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut lines: Vec<bool> = (0..ny).map(|_| rng.gen::<f64>() < prob).collect();
    lines[pad..pad + low].fill(true);
    lines_to_mask(dims, &lines)
}

/// Equispaced lines `offset + R·j` (offset drawn from the seed) plus the centre block: the
/// regular lattice GRAPPA needs. The acceleration of the whole mask is below `R` by the
/// centre lines.
pub fn equispaced_lines(
    dims: [usize; 3],
    r: usize,
    center_fraction: f64,
    seed: u64,
) -> Result<Mask, ReconError> {
    if !(1..=32).contains(&r) {
        return Err(invalid("acceleration", format!("must be an integer in 1..=32, got {r}")));
    }
    check_fraction(center_fraction)?;
    let ny = dims[1];
    let (pad, low) = centre_lines(ny, center_fraction);
    let offset = ChaCha8Rng::seed_from_u64(seed).gen_range(0..r);
    let mut lines: Vec<bool> = (0..ny).map(|y| y % r == offset).collect();
    lines[pad..pad + low].fill(true);
    lines_to_mask(dims, &lines)
}

/// Options of [`poisson_disc`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoissonOptions {
    /// Target acceleration over the whole grid, calibration square included (default 4).
    pub acceleration: f64,
    /// Side of the fully sampled central square in samples (default 24, BART `-C`).
    pub calibration: usize,
    /// How much sparser the edge is than the centre: the exclusion radius grows as
    /// `r₀·(1 + variable_density·ρ)` with `ρ` the normalised distance from the centre (0 at
    /// DC, 1 at the edge of the inscribed ellipse). 0 gives uniform density (default 1).
    pub variable_density: f64,
}

impl Default for PoissonOptions {
    fn default() -> Self {
        Self { acceleration: 4.0, calibration: 24, variable_density: 1.0 }
    }
}

/// A 2-D variable-density Poisson-disc mask (Lustig, Donoho & Pauly 2007, §"Designing
/// incoherent sampling"): points are visited in a seeded random order and kept when no kept
/// point lies within the local exclusion radius; the base radius is bisected until the mask
/// reaches the target acceleration (within 2 %). The central calibration square is always
/// sampled. Undersampled plane: `(kx, ky)` when `nz = 1`, else `(ky, kz)` (every `kx` kept).
pub fn poisson_disc(dims: [usize; 3], options: &PoissonOptions, seed: u64) -> Result<Mask, ReconError> {
    check_accel(options.acceleration)?;
    let vd = options.variable_density;
    if !(vd.is_finite() && (0.0..=10.0).contains(&vd)) {
        return Err(invalid("variable_density", format!("must be in 0..=10, got {vd}")));
    }
    hounsfield_core::checked_voxels(dims, 4)?;
    let (a, b) = if dims[2] == 1 { (dims[0], dims[1]) } else { (dims[1], dims[2]) };
    let cal = options.calibration.min(a).min(b);
    let target = ((a * b) as f64 / options.acceleration).round() as usize;
    let mut order: Vec<u32> = (0..(a * b) as u32).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let (ca, cb) = ((a / 2) as f64, (b / 2) as f64);
    let rho: Vec<f32> = (0..a * b)
        .map(|i| {
            let (x, y) = ((i % a) as f64 - ca, (i / a) as f64 - cb);
            ((x / ca.max(1.0)).powi(2) + (y / cb.max(1.0)).powi(2)).sqrt() as f32
        })
        .collect();
    let in_cal = |i: usize| {
        let (x, y) = (i % a, i / a);
        x + cal / 2 >= a / 2
            && x < a / 2 + cal.div_ceil(2)
            && y + cal / 2 >= b / 2
            && y < b / 2 + cal.div_ceil(2)
    };
    let build = |r0: f64| -> Vec<bool> {
        let mut on = vec![false; a * b];
        for (i, o) in on.iter_mut().enumerate() {
            *o = in_cal(i);
        }
        let rmax = r0 * (1.0 + vd * 1.5);
        let reach = rmax.ceil() as isize;
        for &p in &order {
            let p = p as usize;
            if on[p] {
                continue;
            }
            let r = r0 * (1.0 + vd * rho[p] as f64);
            let (x, y) = ((p % a) as isize, (p / a) as isize);
            let rr = r * r;
            let reach = (r.ceil() as isize).min(reach);
            let mut free = true;
            'search: for dy in -reach..=reach {
                let yy = y + dy;
                if yy < 0 || yy >= b as isize {
                    continue;
                }
                for dx in -reach..=reach {
                    let xx = x + dx;
                    if xx < 0 || xx >= a as isize || ((dx * dx + dy * dy) as f64) >= rr {
                        continue;
                    }
                    if on[yy as usize * a + xx as usize] {
                        free = false;
                        break 'search;
                    }
                }
            }
            if free {
                on[p] = true;
            }
        }
        on
    };
    // Bisect the base radius: a larger radius keeps fewer points.
    let (mut lo, mut hi) = (0.5f64, (a.max(b) as f64).max(1.0));
    let mut best = build(lo);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let m = build(mid);
        let count = m.iter().filter(|&&v| v).count();
        let better = (count as f64 - target as f64).abs()
            < (best.iter().filter(|&&v| v).count() as f64 - target as f64).abs();
        if better {
            best = m;
        }
        if count > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if (best.iter().filter(|&&v| v).count() as f64 - target as f64).abs() <= 0.02 * target as f64 {
            break;
        }
    }
    let [nx, ny, nz] = dims;
    let mut data = vec![0.0f32; nx * ny * nz];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let i = if nz == 1 { x + a * y } else { y + a * z };
                if best[i] {
                    data[x + nx * (y + ny * z)] = 1.0;
                }
            }
        }
    }
    Mask::from_vec(dims, data)
}

/// Angular ordering of radial spokes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RadialOrdering {
    /// Spoke `s` at `π·s/spokes`: equal spacing over a half turn (default).
    #[default]
    Uniform,
    /// Spoke `s` at `s · 111.246°` (the golden angle `π/φ`; Winkelmann et al. 2007): any
    /// run of consecutive spokes covers k-space nearly uniformly.
    GoldenAngle,
}

/// A non-Cartesian trajectory: `samples` points along each of `spokes` lines, sample
/// fastest. Coordinates are in cycles per field of view of an image of `image_dims`
/// (BART's convention): a Cartesian sample `(i, j)` of the centred FFT sits at
/// `(i − nx/2, j − ny/2)`, so `k ∈ [−n/2, n/2)` covers the image's bandwidth.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Points per spoke (read-out).
    pub samples: usize,
    /// Spokes.
    pub spokes: usize,
    /// The image grid the coordinates refer to (`[nx, ny]`).
    pub image_dims: [usize; 2],
    /// `[kx, ky]` of every point, sample fastest then spoke.
    pub coords: Vec<[f32; 2]>,
}

impl Trajectory {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.coords.len()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.coords.is_empty()
    }

    /// BART's layout `3 × samples × spokes` (kx, ky, kz = 0 as real parts), for `bart pics -t`.
    pub fn to_bart(&self) -> (Vec<usize>, Vec<[f32; 2]>) {
        let data = self.coords.iter().flat_map(|&[x, y]| [[x, 0.0], [y, 0.0], [0.0, 0.0]]).collect();
        (vec![3, self.samples, self.spokes], data)
    }

    /// Reads BART's `3 × samples × spokes` layout (real parts; kz must be 0).
    pub fn from_bart(dims: &[usize], data: &[[f32; 2]], image_dims: [usize; 2]) -> Result<Self, ReconError> {
        let d = |i: usize| dims.get(i).copied().unwrap_or(1);
        if d(0) != 3 || dims.iter().skip(3).any(|&v| v != 1) || data.len() != 3 * d(1) * d(2) {
            return Err(invalid(
                "trajectory",
                format!("needs BART dimensions 3 × samples × spokes, got {dims:?}"),
            ));
        }
        let coords = data.chunks_exact(3).map(|p| [p[0][0], p[1][0]]).collect::<Vec<_>>();
        let t = Trajectory { samples: d(1), spokes: d(2), image_dims, coords };
        t.validate()?;
        Ok(t)
    }

    /// Checks that every coordinate is finite and inside `[−n/2, n/2]`.
    pub fn validate(&self) -> Result<(), ReconError> {
        for (i, p) in self.coords.iter().enumerate() {
            for a in 0..2 {
                let h = self.image_dims[a] as f32 / 2.0;
                if !(p[a].is_finite() && p[a] >= -h && p[a] <= h) {
                    return Err(invalid(
                        "trajectory",
                        format!("point {i} has k = {:?} outside ±{h} cycles/FOV", p),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Radial spokes through the centre for an `n × n` image: `samples` points per spoke from
/// `−n/2` in steps of `n / samples` (2n samples is the usual two-fold read-out
/// oversampling), spoke angles per `ordering`.
pub fn radial(
    n: usize,
    samples: usize,
    spokes: usize,
    ordering: RadialOrdering,
) -> Result<Trajectory, ReconError> {
    if !(2..=8192).contains(&n) || !(2..=65536).contains(&samples) || !(1..=65536).contains(&spokes) {
        return Err(invalid(
            "radial",
            format!("needs n 2..=8192, samples 2..=65536, spokes ≥ 1; got {n}, {samples}, {spokes}"),
        ));
    }
    hounsfield_core::check_alloc(samples as u128 * spokes as u128, 8)?;
    let golden = std::f64::consts::PI * (2.0 / (1.0 + 5f64.sqrt()));
    let step = n as f64 / samples as f64;
    let mut coords = Vec::with_capacity(samples * spokes);
    for s in 0..spokes {
        let angle = match ordering {
            RadialOrdering::Uniform => std::f64::consts::PI * s as f64 / spokes as f64,
            RadialOrdering::GoldenAngle => (golden * s as f64) % (2.0 * std::f64::consts::PI),
        };
        let (sn, cs) = angle.sin_cos();
        for i in 0..samples {
            let r = -(n as f64) / 2.0 + step * i as f64;
            coords.push([(r * cs) as f32, (r * sn) as f32]);
        }
    }
    Ok(Trajectory { samples, spokes, image_dims: [n, n], coords })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_lines_follow_fastmri() {
        let m = random_lines([64, 256, 1], 4.0, 0.08, 1).unwrap();
        let lines: Vec<bool> = (0..256).map(|y| m.data()[y * 64] == 1.0).collect();
        // Every kx of a sampled line is sampled.
        assert!((0..256)
            .all(|y| m.data()[y * 64..(y + 1) * 64].iter().all(|&v| v == if lines[y] { 1.0 } else { 0.0 })));
        // round(256·0.08) = 20 centre lines from (256−20+1)/2 = 118.
        assert!(lines[118..138].iter().all(|&v| v));
        // Expected acceleration 4: 64 lines on average; 256 Bernoulli draws give sd ≈ 6.5.
        let n = lines.iter().filter(|&&v| v).count();
        assert!((44..=84).contains(&n), "{n}");
        assert_eq!(m, random_lines([64, 256, 1], 4.0, 0.08, 1).unwrap());
        assert_ne!(m, random_lines([64, 256, 1], 4.0, 0.08, 2).unwrap());
        assert!(random_lines([4, 4, 1], 0.5, 0.1, 0).is_err());
    }

    #[test]
    fn equispaced_lines_are_a_lattice() {
        let m = equispaced_lines([8, 100, 1], 4, 0.1, 3).unwrap();
        let on: Vec<usize> = (0..100).filter(|&y| m.data()[y * 8] == 1.0).collect();
        let off = on.iter().find(|&&y| !(45..55).contains(&y)).unwrap() % 4;
        assert!((0..100).all(|y| y % 4 != off || on.contains(&y)));
        assert!((45..55).all(|y| on.contains(&y)));
    }

    #[test]
    fn poisson_disc_hits_the_target_and_keeps_calibration() {
        let o = PoissonOptions { acceleration: 5.0, calibration: 16, variable_density: 1.0 };
        let m = poisson_disc([128, 128, 1], &o, 4).unwrap();
        // The bisection stops within 2 % of the target count, or at the closest it found.
        assert!((m.acceleration() - 5.0).abs() < 0.25, "{}", m.acceleration());
        for y in 56..72 {
            for x in 56..72 {
                assert_eq!(m.data()[x + 128 * y], 1.0);
            }
        }
        // Variable density: the centre quarter is denser than the rim.
        let dens = |r0: f64, r1: f64| {
            let (mut s, mut n) = (0.0, 0.0);
            for y in 0..128 {
                for x in 0..128 {
                    let r = (((x as f64 - 64.0) / 64.0).powi(2) + ((y as f64 - 64.0) / 64.0).powi(2)).sqrt();
                    if r >= r0 && r < r1 {
                        s += m.data()[x + 128 * y] as f64;
                        n += 1.0;
                    }
                }
            }
            s / n
        };
        assert!(dens(0.2, 0.4) > 1.5 * dens(0.7, 0.9));
        assert_eq!(m, poisson_disc([128, 128, 1], &o, 4).unwrap());
    }

    #[test]
    fn radial_spokes_pass_through_the_centre() {
        let t = radial(64, 128, 10, RadialOrdering::Uniform).unwrap();
        assert_eq!(t.len(), 1280);
        assert_eq!(t.coords[64], [0.0, 0.0]);
        assert_eq!(t.coords[0], [-32.0, 0.0]);
        t.validate().unwrap();
        let g = radial(64, 128, 3, RadialOrdering::GoldenAngle).unwrap();
        let ang = (g.coords[128 + 127][1] as f64).atan2(g.coords[128 + 127][0] as f64);
        assert!((ang.to_degrees() - 111.246).abs() < 0.5, "{}", ang.to_degrees());
        let (d, v) = t.to_bart();
        assert_eq!(Trajectory::from_bart(&d, &v, [64, 64]).unwrap(), t);
    }
}
