//! Analytic reconstruction: filtered back-projection (FBP) for parallel and fan beams, and
//! FDK for circular cone beams, with Ram-Lak, Shepp-Logan, cosine, Hamming and Hann filters.
//!
//! The pipeline (Kak & Slaney 1988, *Principles of Computerized Tomographic Imaging*, ch. 3):
//!
//! 1. **Pre-weighting** of each projection value: 1 for parallel beams; `D_so/√(D_so² + s²)`
//!    for a flat fan (K&S eq. 3.138 with `s` on the virtual detector through the isocentre);
//!    `D_so·cos γ` for an equiangular fan (K&S eq. 3.117); `D_so/√(D_so² + s² + t²)` for FDK
//!    (Feldkamp, Davis & Kress 1984, J. Opt. Soc. Am. A 1(6):612, eq. 3) — times the
//!    **redundancy weight**: ½ for a full 360° scan (each line is measured twice), 1 for a
//!    parallel 180° scan, Parker's weights for fan and cone short scans (Parker 1982, Med.
//!    Phys. 9(2):254; arcs longer than 180° + fan angle use the widened-fan form of Wesarg et
//!    al. 2002, Med. Phys. 29(2):231, with `δ = (arc − 180°)/2`).
//! 2. **Filtering** of every detector row with the band-limited ramp computed from its
//!    spatial kernel `h(0) = 1/4τ², h(nτ) = −1/(nπτ)²` for odd `n` (K&S eq. 3.61; this removes
//!    the DC bias of a sampled `|ω|`), after zero padding to `max(64, 2^⌈log₂ 2n⌉)` samples,
//!    by real FFTs (realfft); the equiangular fan uses the kernel `h(nα)·(nα/sin nα)²` (K&S
//!    eq. 3.126). Windows are those of scikit-image's `iradon` (same formulas), so the
//!    filters agree sample for sample.
//! 3. **Voxel-driven back-projection** with linear interpolation along the detector (bilinear
//!    for cone beams), weighted by the view's angular step and `(D_so/U)²` (flat detectors,
//!    `U = D_so + x·d`) or `1/L²` (equiangular fan, `L` the source–voxel distance).
//!
//! Detector values outside the detector are zero along columns; along rows (FDK) the edge
//! rows are extended, which keeps the first and last slices of the cone out of the dark.
//! FDK reads projections in batches through a callback ([`fdk_streamed`]), so a 512³
//! reconstruction needs the volume plus a few projections of memory.

use std::f64::consts::PI;
use std::sync::Arc;

use hounsfield_core::Volume;
use rayon::prelude::*;
use realfft::{RealFftPlanner, RealToComplex};

use super::geometry::{Beam, DetectorShape, ScanGeometry, VolumeGrid};
use super::simd;
use crate::error::{check_finite, invalid, ReconError};

/// The apodisation window of the ramp filter (the names of scikit-image's `iradon`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Filter {
    /// The plain band-limited ramp (Ram-Lak). Sharpest, noisiest. Default.
    #[default]
    RamLak,
    /// Ramp × sinc (Shepp & Logan 1974).
    SheppLogan,
    /// Ramp × cosine.
    Cosine,
    /// Ramp × Hamming window.
    Hamming,
    /// Ramp × Hann window: the smoothest, good for low-dose data.
    Hann,
}

impl Filter {
    /// Every filter, for command-line help and tests.
    pub const ALL: [Filter; 5] =
        [Filter::RamLak, Filter::SheppLogan, Filter::Cosine, Filter::Hamming, Filter::Hann];

    /// The name used on the command line (`ram-lak`, `shepp-logan`, `cosine`, `hamming`, `hann`).
    pub fn name(self) -> &'static str {
        match self {
            Filter::RamLak => "ram-lak",
            Filter::SheppLogan => "shepp-logan",
            Filter::Cosine => "cosine",
            Filter::Hamming => "hamming",
            Filter::Hann => "hann",
        }
    }
}

/// Options of [`fbp`] and [`fdk`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FbpOptions {
    /// Ramp filter window (default Ram-Lak).
    pub filter: Filter,
    /// The grid to reconstruct on (default [`ScanGeometry::default_grid`]).
    pub grid: Option<VolumeGrid>,
    /// Which voxels to reconstruct (default the field of view).
    pub region: Region,
}

/// Which voxels an analytic reconstruction computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Region {
    /// Only voxels inside the field of view, the cylinder about the rotation axis that every
    /// view's detector covers (radius: the detector's half width for parallel beams,
    /// `D_so·sin γ_max` for fans and cones); the others are 0, as in scikit-image's
    /// `iradon(circle=True)` (default). They are seen by only some views, so their values
    /// are not reconstructions anyway, and skipping them saves a fifth of the work.
    #[default]
    FieldOfView,
    /// Every voxel of the grid.
    Everything,
}

/// Views FDK filters and back-projects at a time (memory: this many projections).
const FDK_BATCH: usize = 16;

/// The real frequency response (bins `0..=P/2`) of the windowed ramp for `P` padded samples
/// of unit spacing, or with `alpha` the equiangular kernel for angular pitch `alpha`.
fn filter_response(filter: Filter, p: usize, alpha: Option<f64>) -> Vec<f64> {
    let mut kernel = vec![0.0f64; p];
    for (i, k) in kernel.iter_mut().enumerate() {
        let n = if i <= p / 2 { i as i64 } else { i as i64 - p as i64 };
        *k = if n == 0 {
            0.25
        } else if n % 2 != 0 {
            let base = -1.0 / (PI * n as f64).powi(2);
            match alpha {
                // K&S eq. 3.126: the equiangular kernel is the ramp times (γ/sin γ)².
                Some(a) => base * ((n as f64 * a) / (n as f64 * a).sin()).powi(2),
                None => base,
            }
        } else {
            0.0
        };
    }
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(p);
    let mut spec = fft.make_output_vec();
    // The buffers come from the plan, so their lengths match.
    let _ = fft.process(&mut kernel, &mut spec);
    // scikit-image's windows on the full spectrum (bin k of P); a real filter of a real
    // signal acts through the mean of bins k and P − k.
    let window = |k: usize| -> f64 {
        let m = |k: usize| (k + p / 2) % p; // fftshift
        match filter {
            Filter::RamLak => 1.0,
            Filter::SheppLogan => {
                let f = if k <= p / 2 { k as f64 } else { k as f64 - p as f64 } / p as f64;
                let w = PI * f;
                if k == 0 {
                    1.0
                } else {
                    w.sin() / w
                }
            }
            Filter::Cosine => (PI * m(k) as f64 / p as f64).sin(),
            Filter::Hamming => 0.54 - 0.46 * (2.0 * PI * m(k) as f64 / (p - 1) as f64).cos(),
            Filter::Hann => 0.5 - 0.5 * (2.0 * PI * m(k) as f64 / (p - 1) as f64).cos(),
        }
    };
    (0..=p / 2).map(|k| spec[k].re * 0.5 * (window(k) + window((p - k) % p))).collect()
}

/// Filters detector rows in place (each `n` long) with a precomputed response.
struct RowFilter {
    n: usize,
    p: usize,
    response: Vec<f32>,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn realfft::ComplexToReal<f32>>,
}

impl RowFilter {
    fn new(filter: Filter, n: usize, tau: f64, alpha: Option<f64>) -> Self {
        let p = (2 * n).next_power_of_two().max(64);
        let scale = 1.0 / (p as f64 * tau);
        let response = filter_response(filter, p, alpha).into_iter().map(|h| (h * scale) as f32).collect();
        let mut planner = RealFftPlanner::<f32>::new();
        Self { n, p, response, fwd: planner.plan_fft_forward(p), inv: planner.plan_fft_inverse(p) }
    }

    /// Filters every `n`-long row of `rows` in parallel.
    fn apply(&self, rows: &mut [f32]) {
        rows.par_chunks_mut(self.n).for_each_init(
            || (self.fwd.make_input_vec(), self.fwd.make_output_vec()),
            |(buf, spec), row| {
                buf[..self.n].copy_from_slice(row);
                buf[self.n..].fill(0.0);
                // Lengths come from the plans: processing cannot fail.
                let _ = self.fwd.process(buf, spec);
                for (c, h) in spec.iter_mut().zip(&self.response) {
                    *c *= *h;
                }
                let _ = self.inv.process(spec, buf);
                row.copy_from_slice(&buf[..self.n]);
            },
        );
        debug_assert!(self.p >= 2 * self.n);
    }
}

/// Redundancy weights of a view for every detector column (see the [module docs](self)).
fn redundancy(scan: &ScanGeometry, view: usize, first: f64) -> Result<Vec<f32>, ReconError> {
    let n = scan.cols();
    let arc = scan.arc();
    let full = arc >= 2.0 * PI * (1.0 - 1e-6);
    if full {
        return Ok(vec![0.5; n]);
    }
    let theta = scan.angles()[view];
    let half_step = 0.5 * scan.view_weights()[view];
    let beta = theta - first + half_step;
    match scan.beam() {
        Beam::Parallel => {
            // Lines at θ and θ + π coincide: angles in the overlap of [0, arc) with itself
            // shifted by π are measured twice.
            let w = if arc > PI && (beta < arc - PI || beta >= PI) { 0.5 } else { 1.0 };
            Ok(vec![w; n])
        }
        Beam::Fan { .. } | Beam::Cone { .. } => {
            let delta = 0.5 * (arc - PI);
            let fan = scan.half_fan_angle();
            if delta < fan - 1e-9 {
                return Err(invalid(
                    "arc_deg",
                    format!(
                        "a short scan needs at least 180° plus the fan angle ({:.2}°), got {:.2}°",
                        180.0 + 2.0 * fan.to_degrees(),
                        arc.to_degrees()
                    ),
                ));
            }
            Ok((0..n)
                .map(|k| {
                    let gamma = gamma_of(scan, k as f64);
                    parker(beta, gamma, delta) as f32
                })
                .collect())
        }
    }
}

/// Fan angle of detector column `k` (radians).
fn gamma_of(scan: &ScanGeometry, k: f64) -> f64 {
    let u = scan.u_of(k);
    match scan.beam() {
        Beam::Parallel => 0.0,
        Beam::Fan { sdd, shape: DetectorShape::Equiangular, .. } => u / sdd,
        Beam::Fan { sdd, .. } | Beam::Cone { sdd, .. } => (u / sdd).atan(),
    }
}

/// Parker's weight (Parker 1982 eq. 12, written for the conjugate ray `(β + π + 2γ, −γ)`,
/// which is this crate's convention) for a scan over `[0, π + 2δ]`.
fn parker(beta: f64, gamma: f64, delta: f64) -> f64 {
    let s2 = |x: f64| x.sin().powi(2);
    if beta < 0.0 || beta > PI + 2.0 * delta {
        0.0
    } else if beta < 2.0 * (delta - gamma) {
        s2(PI / 4.0 * beta / (delta - gamma))
    } else if beta <= PI - 2.0 * gamma {
        1.0
    } else {
        s2(PI / 4.0 * (PI + 2.0 * delta - beta) / (delta + gamma))
    }
}

/// Per-view, per-element pre-weights times redundancy weights (see the [module docs](self)),
/// for the `cols × rows` projection of one view.
fn preweights(scan: &ScanGeometry, view: usize, first: f64) -> Result<Vec<f32>, ReconError> {
    let red = redundancy(scan, view, first)?;
    let (nc, nr) = (scan.cols(), scan.rows());
    let mut w = Vec::with_capacity(nc * nr);
    for r in 0..nr {
        for (k, &rw) in red.iter().enumerate() {
            let pre = match scan.beam() {
                Beam::Parallel => 1.0,
                Beam::Fan { sod, sdd, shape: DetectorShape::Flat } => {
                    let s = scan.u_of(k as f64) * sod / sdd;
                    sod / (sod * sod + s * s).sqrt()
                }
                Beam::Fan { sod, sdd, shape: DetectorShape::Equiangular } => {
                    sod * (scan.u_of(k as f64) / sdd).cos()
                }
                Beam::Cone { sod, sdd } => {
                    let s = scan.u_of(k as f64) * sod / sdd;
                    let t = scan.v_of(r as f64) * sod / sdd;
                    sod / (sod * sod + s * s + t * t).sqrt()
                }
            };
            w.push(rw * pre as f32);
        }
    }
    Ok(w)
}

fn row_filter(scan: &ScanGeometry, filter: Filter) -> RowFilter {
    match scan.beam() {
        Beam::Parallel => RowFilter::new(filter, scan.cols(), scan.col_spacing(), None),
        Beam::Fan { sdd, shape: DetectorShape::Equiangular, .. } => {
            let alpha = scan.col_spacing() / sdd;
            RowFilter::new(filter, scan.cols(), alpha, Some(alpha))
        }
        Beam::Fan { sod, sdd, .. } | Beam::Cone { sod, sdd } => {
            RowFilter::new(filter, scan.cols(), scan.col_spacing() * sod / sdd, None)
        }
    }
}

/// Weighted, filtered projections of a batch of views, `[view][row][col]`.
struct Batch {
    views: Vec<usize>,
    /// `(q[k], q[k+1] − q[k])` for linear interpolation with one load, times the view's
    /// angular weight (fan and cone beams; empty for 2-D parallel beams).
    pairs: Vec<[f32; 2]>,
    /// 2-D parallel beams: per view [`LINE_PAD`]`+ cols` values then as many slopes divided
    /// by 2¹⁶ (see [`simd::Line`]), zero past the last column (empty otherwise).
    lines: Vec<f32>,
}

/// Zeros after each view's values and slopes, so that the 8-wide loads of
/// [`simd::add_lines4`] starting at any column stay inside the view.
const LINE_PAD: usize = 8;

/// Filtered back-projection of a parallel or fan-beam sinogram (also a stack of parallel
/// slices); for cone beams use [`fdk`]. Returns the image on `options.grid` (default
/// [`ScanGeometry::default_grid`]) in the sinogram's unit per mm (μ in mm⁻¹ from line
/// integrals).
pub fn fbp(
    sinogram: &Volume<f32>,
    scan: &ScanGeometry,
    options: &FbpOptions,
) -> Result<Volume<f32>, ReconError> {
    if matches!(scan.beam(), Beam::Cone { .. }) {
        return Err(ReconError::UnsupportedGeometry {
            method: "fbp",
            geometry: "cone",
            hint: "use fdk (--method fdk)",
        });
    }
    reconstruct(sinogram, scan, options, "fbp")
}

/// FDK reconstruction (Feldkamp, Davis & Kress 1984) of circular cone-beam projections held in
/// memory, with Parker weights for short scans. See [`fdk_streamed`] to stream them.
pub fn fdk(
    projections: &Volume<f32>,
    scan: &ScanGeometry,
    options: &FbpOptions,
) -> Result<Volume<f32>, ReconError> {
    if !matches!(scan.beam(), Beam::Cone { .. }) {
        return Err(ReconError::UnsupportedGeometry {
            method: "fdk",
            geometry: scan.kind().name(),
            hint: "use fbp (--method fbp)",
        });
    }
    reconstruct(projections, scan, options, "fdk")
}

fn reconstruct(
    sinogram: &Volume<f32>,
    scan: &ScanGeometry,
    options: &FbpOptions,
    what: &'static str,
) -> Result<Volume<f32>, ReconError> {
    scan.check_sinogram_dims(sinogram.dims())?;
    check_finite("sinogram", sinogram.data())?;
    let (nc, nv) = (scan.cols(), scan.views());
    let data = sinogram.data();
    let _ = what;
    backproject_streamed(scan, options, |view, out| {
        for (r, row) in out.chunks_exact_mut(nc).enumerate() {
            let start = (view + nv * r) * nc;
            row.copy_from_slice(&data[start..start + nc]);
        }
        Ok(())
    })
}

/// FDK with projections streamed from `read_view(view, buffer)`, which fills `buffer`
/// (`detector_rows × detector_count`, columns fastest) with view `view`'s line integrals.
/// Views are requested in order, 16 at a time, so memory is the volume plus a
/// batch of projections.
pub fn fdk_streamed(
    scan: &ScanGeometry,
    options: &FbpOptions,
    read_view: impl FnMut(usize, &mut [f32]) -> Result<(), String>,
) -> Result<Volume<f32>, ReconError> {
    if !matches!(scan.beam(), Beam::Cone { .. }) {
        return Err(ReconError::UnsupportedGeometry {
            method: "fdk",
            geometry: scan.kind().name(),
            hint: "use fbp (--method fbp)",
        });
    }
    backproject_streamed(scan, options, read_view)
}

fn backproject_streamed(
    scan: &ScanGeometry,
    options: &FbpOptions,
    mut read_view: impl FnMut(usize, &mut [f32]) -> Result<(), String>,
) -> Result<Volume<f32>, ReconError> {
    let grid = match options.grid {
        Some(g) => g,
        None => scan.default_grid()?,
    };
    let bp = Backprojector::new(scan, &grid, options.region)?;
    let mut volume = grid.zeros()?;
    let (nc, nr, nv) = (scan.cols(), scan.rows(), scan.views());
    let first = scan.angles().iter().copied().fold(f64::INFINITY, f64::min);
    let filter = row_filter(scan, options.filter);
    // 2-D sinograms are small: one batch. Cone beams stream.
    let batch = if scan.is_3d() { FDK_BATCH } else { nv };
    let per_view = nc * nr;
    hounsfield_core::check_alloc(batch as u128 * per_view as u128, 4)?;
    let mut start = 0;
    while start < nv {
        let views: Vec<usize> = (start..(start + batch).min(nv)).collect();
        let mut data = vec![0.0f32; views.len() * per_view];
        for (b, &v) in views.iter().enumerate() {
            let buf = &mut data[b * per_view..(b + 1) * per_view];
            read_view(v, buf).map_err(|reason| ReconError::ReadProjection { view: v, reason })?;
            check_finite("projection", buf)?;
        }
        let weights: Vec<Vec<f32>> =
            views.iter().map(|&v| preweights(scan, v, first)).collect::<Result<_, _>>()?;
        data.par_chunks_mut(per_view).zip(weights.par_iter()).for_each(|(p, w)| {
            for (x, w) in p.iter_mut().zip(w) {
                *x *= w;
            }
        });
        filter.apply(&mut data);
        let (mut pairs, mut lines) = (Vec::new(), Vec::new());
        if bp.parallel_2d() {
            // One detector row per view (2-D scans have one row).
            let stride = nc + LINE_PAD;
            lines = vec![0.0f32; 2 * stride * views.len()];
            lines.par_chunks_mut(2 * stride).zip(data.par_chunks(nc)).enumerate().for_each(|(b, (l, q))| {
                let w = scan.view_weights()[views[b]] as f32;
                let (vals, slopes) = l.split_at_mut(stride);
                for k in 0..nc {
                    let next = if k + 1 < nc { q[k + 1] } else { 0.0 };
                    vals[k] = w * q[k];
                    // Exact: a power-of-two scale.
                    slopes[k] = w * (next - q[k]) * (1.0 / 65536.0);
                }
            });
        } else {
            pairs = vec![[0.0f32; 2]; data.len()];
            pairs.par_chunks_mut(nc).zip(data.par_chunks(nc)).enumerate().for_each(|(line, (p, q))| {
                let w = scan.view_weights()[views[line / nr]] as f32;
                for k in 0..nc {
                    let next = if k + 1 < nc { q[k + 1] } else { 0.0 };
                    p[k] = [w * q[k], w * (next - q[k])];
                }
            });
        }
        drop(data);
        bp.accumulate(&Batch { views, pairs, lines }, volume.data_mut());
        start += batch;
    }
    Ok(volume)
}

/// Voxel-driven back-projection with precomputed per-view frames; see [`Backprojector::accumulate`].
struct Backprojector {
    scan: ScanGeometry,
    grid: VolumeGrid,
    /// Radius (mm) of the reconstructed cylinder (infinite: everything).
    fov: f64,
    /// 2-D parallel beams: per view the detector column of pixel `(i, j)` is
    /// `a + j·b + i·c` (empty otherwise).
    columns: Vec<[f64; 3]>,
    /// The AVX2 kernels may run (see [`simd`]).
    simd: bool,
}

impl Backprojector {
    fn new(scan: &ScanGeometry, grid: &VolumeGrid, region: Region) -> Result<Self, ReconError> {
        let d = grid.geometry.direction;
        // The column/weight arrays are shared by all slices of a voxel row: the x and y index
        // axes must lie in the axial plane and z along the rotation axis.
        let axial =
            d[2][0].abs() < 1e-9 && d[2][1].abs() < 1e-9 && d[0][2].abs() < 1e-9 && d[1][2].abs() < 1e-9;
        if !axial {
            return Err(invalid(
                "grid",
                "analytic reconstruction needs an axial grid (z index axis along ±z)",
            ));
        }
        if !scan.is_3d() && grid.dims[2] != 1 {
            return Err(invalid("grid", format!("a 2-D scan reconstructs one slice, not {}", grid.dims[2])));
        }
        let fov = match region {
            Region::Everything => f64::INFINITY,
            Region::FieldOfView => {
                let n = scan.cols() as f64;
                let edge = scan.u_of(-0.5).abs().min(scan.u_of(n - 0.5).abs());
                match scan.beam() {
                    Beam::Parallel => edge,
                    Beam::Fan { sod, sdd, shape: DetectorShape::Equiangular } => {
                        sod * (edge / sdd).min(PI / 2.0).sin()
                    }
                    Beam::Fan { sod, sdd, .. } | Beam::Cone { sod, sdd } => sod * (edge / sdd).atan().sin(),
                }
            }
        };
        let mut bp =
            Self { scan: scan.clone(), grid: *grid, fov, columns: Vec::new(), simd: simd::avx2_available() };
        if bp.parallel_2d() {
            // The column is linear in the pixel indices: one frame per view, not per row.
            let g = &grid.geometry;
            let ax = g.axis_direction(0).map(|c| c * g.spacing[0]);
            let ay = g.axis_direction(1).map(|c| c * g.spacing[1]);
            let iso = scan.isocentre();
            let p00 = [g.origin[0] - iso[0], g.origin[1] - iso[1]];
            let nc = scan.cols();
            let c_half = (nc / 2) as f64;
            let du = scan.col_spacing();
            let u_off = scan.u_of(c_half);
            bp.columns = (0..scan.views())
                .map(|v| {
                    let e = scan.frame(v).e_u;
                    let dot = |p: [f64; 2]| p[0] * e[0] + p[1] * e[1];
                    [(dot(p00) - u_off) / du + c_half, dot([ay[0], ay[1]]) / du, dot([ax[0], ax[1]]) / du]
                })
                .collect();
        }
        Ok(bp)
    }

    /// A 2-D parallel-beam reconstruction (one slice, one detector row): [`Self::parallel_row`].
    fn parallel_2d(&self) -> bool {
        self.grid.dims[2] == 1 && !self.scan.is_3d() && matches!(self.scan.beam(), Beam::Parallel)
    }

    /// The pixels `i` of the voxel row starting at offset `p` (mm from the isocentre, in the
    /// axial plane) with step `ax` that lie inside the field of view, or `None`.
    fn fov_range(&self, p: [f64; 2], ax: [f64; 3], nx: usize) -> Option<(usize, usize)> {
        if !self.fov.is_finite() {
            return Some((0, nx - 1));
        }
        // |p + i·a|² ≤ R²: a quadratic in i.
        let (a, b, c) = (
            ax[0] * ax[0] + ax[1] * ax[1],
            2.0 * (p[0] * ax[0] + p[1] * ax[1]),
            p[0] * p[0] + p[1] * p[1] - self.fov * self.fov,
        );
        if a <= 0.0 {
            return if c <= 0.0 { Some((0, nx - 1)) } else { None };
        }
        let disc = b * b - 4.0 * a * c;
        if disc < 0.0 {
            return None;
        }
        let (r0, r1) = ((-b - disc.sqrt()) / (2.0 * a), (-b + disc.sqrt()) / (2.0 * a));
        let lo = r0.ceil().max(0.0);
        let hi = r1.floor().min((nx - 1) as f64);
        if lo > hi {
            None
        } else {
            Some((lo as usize, hi as usize))
        }
    }

    /// Adds the batch's back-projection to `volume`, in parallel over blocks of slices (3-D)
    /// or rows (2-D).
    fn accumulate(&self, batch: &Batch, volume: &mut [f32]) {
        let [nx, ny, nz] = self.grid.dims;
        let threads = rayon::current_num_threads().max(1);
        let (chunk, rows_per, slices_per) = if nz > 1 {
            // Slabs of up to 32 slices share each voxel column's detector column and weight.
            let kb = nz.div_ceil(2 * threads).clamp(1, 32);
            (nx * ny * kb, ny, kb)
        } else {
            let jb = ny.div_ceil(8 * threads).max(1);
            (nx * jb, jb, 1)
        };
        volume.par_chunks_mut(chunk).enumerate().for_each_init(
            || Scratch {
                params: Vec::new(),
                k: vec![0; nx],
                fr: vec![0.0; nx],
                w: vec![0.0; nx],
                rs: vec![0.0; nx],
            },
            |scratch, (c, block)| {
                let (k0, j0) = if nz > 1 { (c * slices_per, 0) } else { (0, c * rows_per) };
                self.block(batch, block, k0, j0, scratch);
            },
        );
    }

    /// One image row `j` of a 2-D parallel-beam back-projection: the detector column is
    /// linear in the pixel index, computed in 16.16 fixed point (integer steps, no
    /// float-to-int conversion per pixel; error below `nx·2⁻¹⁷` column), four views per pass
    /// so each pixel is loaded and stored once per four views, eight pixels at a time where
    /// AVX2 is available ([`simd::add_lines4`]).
    fn parallel_row(&self, batch: &Batch, out: &mut [f32], j: usize, fov: (usize, usize), s: &mut Scratch) {
        const ONE: f64 = 65536.0;
        let nx = out.len();
        let nc = self.scan.cols();
        let stride = nc + LINE_PAD;
        s.params.clear();
        for (b, &view) in batch.views.iter().enumerate() {
            let [a, bj, dc] = self.columns[view];
            let c0 = a + j as f64 * bj;
            if let Some((lo, hi)) = linear_range(c0, dc, (nc - 1) as f64, nx) {
                let (lo, hi) = (lo.max(fov.0), hi.min(fov.1));
                if lo > hi {
                    continue;
                }
                s.params.push(ViewLine {
                    c0: (c0 * ONE).round() as i64,
                    dc: (dc * ONE).round() as i64,
                    lo,
                    hi,
                    b,
                });
            }
        }
        let line = |p: &ViewLine, from: usize| {
            let l = &batch.lines[p.b * 2 * stride..][..2 * stride];
            let (vals, slopes) = l.split_at(stride);
            simd::Line { vals, slopes, c: p.c0 + from as i64 * p.dc, dc: p.dc }
        };
        let single = |p: &ViewLine, out: &mut [f32], lo: usize, hi: usize| {
            let l = line(p, lo);
            let mut c = l.c;
            for o in &mut out[lo..=hi] {
                // The clamp keeps a coordinate rounded just off either end on the detector.
                let cc = c.clamp(0, ((nc - 1) as i64) << 16);
                let k = (cc >> 16) as usize;
                if let (Some(&v), Some(&d)) = (l.vals.get(k), l.slopes.get(k)) {
                    *o += v + (cc & 0xFFFF) as f32 * d;
                }
                c += l.dc;
            }
        };
        for group in s.params.chunks(4) {
            if let [p0, p1, p2, p3] = group {
                let lo = p0.lo.max(p1.lo).max(p2.lo).max(p3.lo);
                let hi = p0.hi.min(p1.hi).min(p2.hi).min(p3.hi);
                if lo <= hi {
                    // Columns past the detector read the zero padding.
                    let lines = [line(p0, lo), line(p1, lo), line(p2, lo), line(p3, lo)];
                    simd::add_lines4(&mut out[lo..=hi], &lines, self.simd);
                    for p in group {
                        if p.lo < lo {
                            single(p, out, p.lo, lo - 1);
                        }
                        if p.hi > hi {
                            single(p, out, hi + 1, p.hi);
                        }
                    }
                    continue;
                }
            }
            for p in group {
                single(p, out, p.lo, p.hi);
            }
        }
    }

    fn block(&self, batch: &Batch, block: &mut [f32], k0: usize, j0: usize, s: &mut Scratch) {
        let [nx, ny, nz] = self.grid.dims;
        let g = &self.grid.geometry;
        let iso = self.scan.isocentre();
        let (nc, nr) = (self.scan.cols(), self.scan.rows());
        let per_view = nc * nr;
        let rows_in_block = if nz > 1 { ny } else { block.len() / nx };
        let slices_in_block = block.len() / (nx * rows_in_block);
        let flat_2d = nz == 1 && (nr == 1 || !self.scan.is_3d());
        // World offset from the isocentre of voxel (i, j, k) = p00 + i·ax + j·ay + k·az.
        let ax = g.axis_direction(0).map(|c| c * g.spacing[0]);
        let ay = g.axis_direction(1).map(|c| c * g.spacing[1]);
        let az_z = g.direction[2][2] * g.spacing[2];
        let p00 = [g.origin[0] - iso[0], g.origin[1] - iso[1], g.origin[2] - iso[2]];
        let c_half = (nc / 2) as f64;
        let r_half = (nr / 2) as f64;
        let (du, dv) = (self.scan.col_spacing(), self.scan.row_spacing());
        let u_off = self.scan.u_of(c_half);
        let v_off = self.scan.v_of(r_half);
        let cmax = (nc - 1) as f64;
        let rmax = (nr - 1) as f32;
        let r0 = (r_half - v_off / dv) as f32;
        let beam = self.scan.beam();
        for jj in 0..rows_in_block {
            let j = j0 + jj;
            let py = [p00[0] + j as f64 * ay[0], p00[1] + j as f64 * ay[1]];
            let Some((f0, f1)) = self.fov_range(py, ax, nx) else { continue };
            if self.parallel_2d() {
                self.parallel_row(batch, &mut block[jj * nx..][..nx], j, (f0, f1), s);
                continue;
            }
            for (b, &view) in batch.views.iter().enumerate() {
                let pairs = &batch.pairs[b * per_view..(b + 1) * per_view];
                let f = self.scan.frame(view);
                // a = offset·e_u and the depth term offset·d, both linear in i.
                let a0 = py[0] * f.e_u[0] + py[1] * f.e_u[1];
                let da = ax[0] * f.e_u[0] + ax[1] * f.e_u[1];
                let b0 = py[0] * f.d[0] + py[1] * f.d[1];
                let db = ax[0] * f.d[0] + ax[1] * f.d[1];
                if flat_2d {
                    let out = &mut block[jj * nx..][..nx];
                    let line = &pairs[..nc];
                    for (i, o) in out.iter_mut().enumerate().take(f1 + 1).skip(f0) {
                        let (col, w) = fan_col_weight(beam, a0 + i as f64 * da, b0 + i as f64 * db);
                        let col = (col - u_off) / du + c_half;
                        if !(0.0..=cmax).contains(&col) {
                            continue;
                        }
                        let k = (col as usize).min(nc - 1);
                        let fr = (col - k as f64) as f32;
                        let p = line[k];
                        *o += w as f32 * (p[0] + fr * p[1]);
                    }
                    continue;
                }
                let mut any = false;
                for i in 0..nx {
                    let a = a0 + i as f64 * da;
                    let (u, w, rs) = match beam {
                        Beam::Parallel => (a, 1.0, 1.0 / dv),
                        Beam::Cone { sod, sdd } => {
                            let depth = sod + b0 + i as f64 * db;
                            (sdd * a / depth, (sod / depth).powi(2), sdd / (depth * dv))
                        }
                        Beam::Fan { .. } => {
                            let (u, w) = fan_col_weight(beam, a, b0 + i as f64 * db);
                            (u, w, 0.0)
                        }
                    };
                    let col = (u - u_off) / du + c_half;
                    let ok = (0.0..=cmax).contains(&col) && w.is_finite() && (f0..=f1).contains(&i);
                    // Columns off the detector get weight 0 and a harmless index: the slice
                    // loop below then runs without a branch.
                    let kc = if ok { col.floor() } else { 0.0 };
                    s.k[i] = kc as u32;
                    s.fr[i] = if ok { (col - kc) as f32 } else { 0.0 };
                    s.w[i] = if ok { w as f32 } else { 0.0 };
                    s.rs[i] = rs as f32;
                    any |= ok;
                }
                if !any {
                    continue;
                }
                for kk in 0..slices_in_block {
                    let k = k0 + kk;
                    let zrel = (p00[2] + k as f64 * az_z) as f32;
                    let out = &mut block[(kk * rows_in_block + jj) * nx..][..nx];
                    let cols = s.k.iter().zip(&s.fr).zip(&s.w).zip(&s.rs);
                    for (o, (((&kc, &fr), &w), &rs)) in out.iter_mut().zip(cols) {
                        // r ∈ [0, nr − 1] after the clamp, so the truncation is a floor.
                        let r = (rs * zrel + r0).clamp(0.0, rmax);
                        let rr = r as i32 as usize;
                        let fv = r - rr as f32;
                        let at = rr * nc + kc as usize;
                        let below = if rr + 1 < nr { at + nc } else { at };
                        let (Some(p), Some(q)) = (pairs.get(at), pairs.get(below)) else { continue };
                        let top = p[0] + fr * p[1];
                        let bot = q[0] + fr * q[1];
                        *o += w * (top + fv * (bot - top));
                    }
                }
            }
        }
    }
}

/// Detector `u` (mm) and back-projection weight of a voxel at offset `a` along `e_u` and `b`
/// along `d` from the isocentre, for fan beams (K&S eqs. 3.120 and 3.146).
#[inline]
fn fan_col_weight(beam: Beam, a: f64, b: f64) -> (f64, f64) {
    match beam {
        Beam::Fan { sod, sdd, shape: DetectorShape::Equiangular } => {
            let depth = sod + b;
            (sdd * a.atan2(depth), 1.0 / (a * a + depth * depth))
        }
        Beam::Fan { sod, sdd, .. } | Beam::Cone { sod, sdd } => {
            let depth = sod + b;
            (sdd * a / depth, (sod / depth).powi(2))
        }
        Beam::Parallel => (a, 1.0),
    }
}

/// The indices `i` in `0..n` with `0 ≤ c0 + i·dc ≤ cmax`, or `None`.
fn linear_range(c0: f64, dc: f64, cmax: f64, n: usize) -> Option<(usize, usize)> {
    let (lo, hi) = if dc.abs() < 1e-12 {
        if (0.0..=cmax).contains(&c0) {
            (0.0, (n - 1) as f64)
        } else {
            return None;
        }
    } else {
        let (a, b) = ((0.0 - c0) / dc, (cmax - c0) / dc);
        if a < b {
            (a, b)
        } else {
            (b, a)
        }
    };
    let lo = lo.ceil().max(0.0);
    let hi = hi.floor().min((n - 1) as f64);
    if lo > hi {
        None
    } else {
        Some((lo as usize, hi as usize))
    }
}

/// One view's detector line for a row of pixels: column `c0 + i·dc` (16.16 fixed point) for
/// `i` in `lo..=hi`, batch slot `b`.
struct ViewLine {
    c0: i64,
    dc: i64,
    lo: usize,
    hi: usize,
    b: usize,
}

struct Scratch {
    params: Vec<ViewLine>,
    k: Vec<u32>,
    fr: Vec<f32>,
    w: Vec<f32>,
    rs: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parker_weights_sum_to_one_over_conjugate_rays() {
        let delta = 0.3;
        for &(beta, gamma) in &[(0.1, 0.05), (0.4, -0.2), (1.0, 0.1), (2.9, -0.25), (0.02, 0.29)] {
            let w1 = parker(beta, gamma, delta);
            let w2 = parker(beta + PI + 2.0 * gamma, -gamma, delta);
            // 1e-12: sin² + cos² in f64.
            assert!((w1 + w2 - 1.0).abs() < 1e-12, "{beta} {gamma}: {w1} + {w2}");
        }
    }

    #[test]
    fn ramp_response_matches_the_analytic_ramp() {
        // At bin k of P the sampled band-limited ramp is ≈ k/P (cycles per sample), exactly
        // 1/4 − Σ… at DC.
        let h = filter_response(Filter::RamLak, 256, None);
        for k in [16usize, 64, 100] {
            // 2e-3: the spatial kernel is truncated to P samples (K&S fig. 3.13 shows the same
            // small deviation).
            assert!((h[k] - k as f64 / 256.0).abs() < 2e-3, "{k}: {}", h[k]);
        }
        assert!(h[0] > 0.0 && h[0] < 2e-3);
    }
}
