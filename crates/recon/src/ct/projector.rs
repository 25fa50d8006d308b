//! The [`Projector`] trait (forward projection `A` and its exact adjoint `Aᵀ`) and its CPU
//! implementation, [`JosephProjector`].
//!
//! Every iterative method in [`super::iterative`] and [`crate::pet`] talks to a `Projector`
//! only, so a GPU implementation can slot in behind the trait. Buffers are plain `f32` slices:
//! volumes x-fastest on the projector's [`VolumeGrid`], sinograms in the layout of
//! [`ScanGeometry::sinogram_dims`] (`[columns, views, rows]`, x-fastest). Values are line
//! integrals in the volume's unit × mm (μ in mm⁻¹ gives dimensionless line integrals).

use hounsfield_core::{Affine3, Volume};
use rayon::prelude::*;

use super::geometry::{Beam, ScanGeometry, ViewFrame, VolumeGrid};
use super::simd;
use crate::error::ReconError;

/// The voxel-by-voxel step of [`Projector::back_views_combine`]: `(volume, Aᵀy, Aᵀ1)`, three
/// slices of equal length covering the same voxels.
pub type Combine<'a> = dyn Fn(&mut [f32], &[f32], &[f32]) + Sync + 'a;

/// A linear X-ray transform between a volume grid and a scan's sinogram.
///
/// `forward_views` writes `A_v x` for the listed views into their part of a full-size
/// sinogram (other views untouched); `back_views` overwrites the volume with
/// `Σ_{v ∈ views} A_vᵀ y_v`. Implementations must be exact adjoints: `⟨Ax, y⟩ = ⟨x, Aᵀy⟩` up
/// to rounding (the conformance suite checks 1e-4 relative).
pub trait Projector: Send + Sync {
    /// The scan geometry.
    fn scan(&self) -> &ScanGeometry;

    /// The volume grid.
    fn grid(&self) -> &VolumeGrid;

    /// Forward-projects `volume` for the listed views into `sinogram` (full size).
    fn forward_views(&self, volume: &[f32], sinogram: &mut [f32], views: &[usize]) -> Result<(), ReconError>;

    /// Back-projects (adjoint) the listed views of `sinogram` into `volume`, overwriting it.
    fn back_views(&self, sinogram: &[f32], volume: &mut [f32], views: &[usize]) -> Result<(), ReconError>;

    /// Row sums `A_v 1` (the total weight of each ray) of the listed views into their part of
    /// a full-size `sums` (other views untouched). The default forward-projects a volume of
    /// ones; an implementation may compute them without reading a volume.
    fn row_sums_views(&self, sums: &mut [f32], views: &[usize]) -> Result<(), ReconError> {
        let n = hounsfield_core::check_alloc(self.grid().len() as u128, 4)?;
        self.forward_views(&vec![1.0f32; n], sums, views)
    }

    /// Back-projects the listed views of `sinogram` (`Aᵀy`) and of a sinogram of ones (the
    /// column sums `Aᵀ1`) and hands both with `volume` to `combine(volume, aty, at1)`, which
    /// must work voxel by voxel: an implementation may call it once per block of voxels, with
    /// the matching parts of the three, while the block is in cache. SART's update runs
    /// here. The default makes two full back-projections and one call.
    fn back_views_combine(
        &self,
        sinogram: &[f32],
        volume: &mut [f32],
        views: &[usize],
        combine: &Combine<'_>,
    ) -> Result<(), ReconError> {
        let n = hounsfield_core::check_alloc(self.grid().len() as u128 * 2, 4)?;
        let (mut aty, mut at1) = (vec![0.0f32; n / 2], vec![0.0f32; n / 2]);
        self.back_views(sinogram, &mut aty, views)?;
        let m = hounsfield_core::check_alloc(self.scan().sinogram_len() as u128, 4)?;
        self.back_views(&vec![1.0f32; m], &mut at1, views)?;
        combine(volume, &aty, &at1);
        Ok(())
    }

    /// `A x` for every view.
    fn forward(&self, volume: &[f32], sinogram: &mut [f32]) -> Result<(), ReconError> {
        let all: Vec<usize> = (0..self.scan().views()).collect();
        self.forward_views(volume, sinogram, &all)
    }

    /// `Aᵀ y` for every view.
    fn back(&self, sinogram: &[f32], volume: &mut [f32]) -> Result<(), ReconError> {
        let all: Vec<usize> = (0..self.scan().views()).collect();
        self.back_views(sinogram, volume, &all)
    }

    /// Forward-projects a volume on the projector's grid into a new sinogram volume.
    fn project(&self, volume: &Volume<f32>) -> Result<Volume<f32>, ReconError> {
        let grid = self.grid();
        if volume.dims() != grid.dims || !volume.geometry().approx_eq(&grid.geometry, 1e-6) {
            return Err(hounsfield_core::CoreError::GridMismatch(format!(
                "volume {:?} is not on the projector's grid {:?}",
                volume.dims(),
                grid.dims
            ))
            .into());
        }
        let n = hounsfield_core::check_alloc(self.scan().sinogram_len() as u128, 4)?;
        let mut sino = vec![0.0f32; n];
        self.forward(volume.data(), &mut sino)?;
        self.scan().sinogram_volume(sino)
    }

    /// Back-projects (adjoint) a sinogram volume into a new volume on the projector's grid.
    fn backproject(&self, sinogram: &Volume<f32>) -> Result<Volume<f32>, ReconError> {
        self.scan().check_sinogram_dims(sinogram.dims())?;
        let mut v = self.grid().zeros()?;
        self.back(sinogram.data(), v.data_mut())?;
        Ok(v)
    }
}

/// Joseph's ray-driven projector (Joseph 1982, IEEE TMI 1(3):192): each ray steps through
/// the slabs of the volume perpendicular to the index axis it is most parallel to and
/// interpolates (bi)linearly within each slab; the weight of a step is the path length in mm
/// per slab. The adjoint uses the same weights, so the pair is matched.
///
/// Multi-threaded with rayon: the forward projection over detector lines, the adjoint over
/// blocks of slices (each block owns its voxels and visits only the rays that can reach it,
/// so no locks, no per-thread volume copies, and results do not depend on the thread
/// count). Memory beyond the caller's buffers: none.
#[derive(Clone, Debug)]
pub struct JosephProjector {
    scan: ScanGeometry,
    grid: VolumeGrid,
    w2i: Affine3,
    i2w: Affine3,
    /// 2-D scan on a one-slice image: the ray stays in the slice (z index forced to 0).
    planar: bool,
    divergent: bool,
    /// Every view's frame (one sine and cosine per view, not per call).
    frames: Vec<ViewFrame>,
}

/// A ray in continuous index space, parametrised by the slab index `s` along `main`.
#[derive(Clone, Copy, Debug)]
struct Ray {
    main: usize,
    /// Index coordinates at slab `s`: `c0 + s·g` (`g[main] = 1`).
    c0: [f64; 3],
    g: [f64; 3],
    /// mm of path per slab.
    step: f64,
    /// Slab range allowed by the source position (divergent beams: only in front of it).
    s_min: f64,
    s_max: f64,
}

impl JosephProjector {
    /// A projector between `grid` and `scan`. A 2-D scan (one detector row, not a cone) needs
    /// a one-slice grid, whose slice is taken to be the scan plane.
    pub fn new(scan: &ScanGeometry, grid: &VolumeGrid) -> Result<Self, ReconError> {
        let planar = !scan.is_3d();
        if planar && grid.dims[2] != 1 {
            return Err(crate::error::invalid(
                "volume",
                format!(
                    "a 2-D {} scan needs a one-slice image, got {} slices (use detector_rows for a stack)",
                    scan.kind().name(),
                    grid.dims[2]
                ),
            ));
        }
        let w2i = grid.geometry.world_to_index_affine()?;
        let i2w = grid.geometry.index_to_world_affine();
        let divergent = !matches!(scan.beam(), Beam::Parallel);
        let frames = (0..scan.views()).map(|v| scan.frame(v)).collect();
        Ok(Self { scan: scan.clone(), grid: *grid, w2i, i2w, planar, divergent, frames })
    }

    fn strides(&self) -> [usize; 3] {
        let d = self.grid.dims;
        [1, d[0], d[0] * d[1]]
    }

    fn ray(&self, f: &ViewFrame, k: usize, r: usize) -> Option<Ray> {
        let (p, dir) = self.scan.ray(f, k as f64, r as f64);
        let mut a = self.w2i.apply(p);
        let mut b = self.w2i.apply_vector(dir);
        if self.planar {
            a[2] = 0.0;
            b[2] = 0.0;
        }
        let mut main = 0;
        for ax in 1..3 {
            if b[ax].abs() > b[main].abs() {
                main = ax;
            }
        }
        let bm = b[main];
        if bm.abs() < 1e-12 {
            return None;
        }
        let g = [b[0] / bm, b[1] / bm, b[2] / bm];
        let c0 = [a[0] - a[main] * g[0], a[1] - a[main] * g[1], a[2] - a[main] * g[2]];
        // Index change per mm along the ray is |b_main|: the step is its inverse (dir is a unit
        // vector in mm).
        let step = 1.0 / bm.abs();
        let (s_min, s_max) = if self.divergent {
            if bm > 0.0 {
                (a[main], f64::INFINITY)
            } else {
                (f64::NEG_INFINITY, a[main])
            }
        } else {
            (f64::NEG_INFINITY, f64::INFINITY)
        };
        Some(Ray { main, c0, g, step, s_min, s_max })
    }

    /// Calls `f(offset, weight)` for every voxel the ray reaches inside `lo..hi` (per axis),
    /// weights without the step length.
    #[inline(always)]
    fn visit(&self, ray: &Ray, lo: [usize; 3], hi: [usize; 3], mut f: impl FnMut(usize, f32)) {
        let m = ray.main;
        let (o1, o2) = others(m);
        let Some((s0, s1)) = slab_range(ray, lo, hi) else { return };
        let st = self.strides();
        let (lo1, hi1, lo2, hi2) = (lo[o1] as isize, hi[o1] as isize, lo[o2] as isize, hi[o2] as isize);
        let (c1, g1, c2, g2) = (ray.c0[o1], ray.g[o1], ray.c0[o2], ray.g[o2]);
        // Rays in a plane of voxel centres (every 2-D scan, parallel stacks on their slices)
        // interpolate along one axis only.
        if g2 == 0.0 && c2.fract() == 0.0 {
            let k2 = c2 as isize;
            if k2 < lo2 || k2 >= hi2 {
                return;
            }
            let base2 = k2 as usize * st[o2];
            // 16.16 fixed point: integer steps, no float-to-int conversion per step (error
            // below 2⁻¹⁷ voxel per step, the same for A and Aᵀ, which stay exact adjoints).
            const ONE: f64 = 65536.0;
            let gf = (g1 * ONE).round() as i64;
            // Anchored at slab 0 so every block of the adjoint steps through the same values.
            let mut cf = (c1 * ONE).round() as i64 + s0 as i64 * gf;
            let span = (hi1 - lo1) as usize;
            for s in s0..=s1 {
                let i = (cf >> 16) as isize;
                let w = (cf & 0xFFFF) as f32 * (1.0 / 65536.0);
                let base = s * st[m] + base2;
                // The unsigned compare covers both ends (i < lo wraps to a huge number).
                if ((i - lo1) as usize) < span {
                    f(base + i as usize * st[o1], 1.0 - w);
                }
                if ((i + 1 - lo1) as usize) < span {
                    f(base + (i + 1) as usize * st[o1], w);
                }
                cf += gf;
            }
            return;
        }
        for s in s0..=s1 {
            let sf = s as f64;
            let (a, b) = (c1 + sf * g1, c2 + sf * g2);
            let (i, j) = ((a + 1.0) as isize - 1, (b + 1.0) as isize - 1);
            let (wa, wb) = ((a - i as f64) as f32, (b - j as f64) as f32);
            let base = s * st[m];
            let in1 = [i >= lo1 && i < hi1, i + 1 >= lo1 && i + 1 < hi1];
            let in2 = [j >= lo2 && j < hi2, j + 1 >= lo2 && j + 1 < hi2];
            let w1 = [1.0 - wa, wa];
            let w2 = [1.0 - wb, wb];
            for (dj, &ok2) in in2.iter().enumerate() {
                if !ok2 {
                    continue;
                }
                let b2 = base + (j + dj as isize) as usize * st[o2];
                for (di, &ok1) in in1.iter().enumerate() {
                    if ok1 {
                        f(b2 + (i + di as isize) as usize * st[o1], w1[di] * w2[dj]);
                    }
                }
            }
        }
    }

    /// Where a ray in a plane of voxel centres runs: `None` when it is not such a ray,
    /// `Some(None)` when it misses the grid, else its plane index along the third axis and
    /// its first and last slab (shared by [`Self::planar_sum`] and [`Self::planar_weight`]).
    #[inline(always)]
    fn planar_span(&self, ray: &Ray) -> Option<Option<(usize, usize, usize)>> {
        let (_, o2) = others(ray.main);
        let (c2, g2) = (ray.c0[o2], ray.g[o2]);
        let dims = self.grid.dims;
        if g2 != 0.0 || c2.fract() != 0.0 {
            return None;
        }
        let k2 = c2 as isize;
        if k2 < 0 || k2 >= dims[o2] as isize {
            return Some(None);
        }
        Some(self.planar_slabs(ray, [0; 3], dims).map(|(s0, s1)| (k2 as usize, s0, s1)))
    }

    /// The forward sum of a ray in a plane of voxel centres over the whole grid (the 2-D
    /// case, see [`Self::visit`]), with the same 16.16 fixed-point weights as `visit` and two
    /// partial sums (one would serialise every step on the latency of an add); `None` when the
    /// ray is not of that kind.
    #[inline(always)]
    fn planar_sum(&self, ray: &Ray, x: &[f32]) -> Option<f32> {
        let (o1, o2) = others(ray.main);
        let dims = self.grid.dims;
        let Some((k2, s0, s1)) = self.planar_span(ray)? else { return Some(0.0) };
        let st = self.strides();
        let (sm, s_1) = (st[ray.main], st[o1]);
        let base2 = k2 * st[o2];
        const ONE: f64 = 65536.0;
        let (c1, g1) = (ray.c0[o1], ray.g[o1]);
        let gf = (g1 * ONE).round() as i64;
        // Anchored at slab 0 so every block of the adjoint steps through the same values.
        let mut cf = (c1 * ONE).round() as i64 + s0 as i64 * gf;
        let span = dims[o1];
        let sample = |s: usize, cf: i64| -> f32 {
            let i = (cf >> 16) as isize;
            let w = (cf & 0xFFFF) as f32 * (1.0 / 65536.0);
            let base = s * sm + base2;
            let a = if (i as usize) < span {
                x.get(base + i as usize * s_1).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            let j = i + 1;
            let b = if (j as usize) < span {
                x.get(base + j as usize * s_1).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            a + w * (b - a)
        };
        let (mut a0, mut a1) = (0.0f32, 0.0f32);
        let mut s = s0;
        while s < s1 {
            a0 += sample(s, cf);
            a1 += sample(s + 1, cf + gf);
            cf += 2 * gf;
            s += 2;
        }
        if s == s1 {
            a0 += sample(s, cf);
        }
        Some(a0 + a1)
    }

    /// [`Self::planar_sum`] of a volume of ones, without reading one: a step whose two
    /// voxels are both inside the grid weighs exactly 1, so only the steps at either end of
    /// the ray, where one of them is outside, are summed one by one. `None` when the ray is
    /// not in a plane of voxel centres.
    fn planar_weight(&self, ray: &Ray) -> Option<f32> {
        let (o1, _) = others(ray.main);
        let dims = self.grid.dims;
        let Some((_, s0, s1)) = self.planar_span(ray)? else { return Some(0.0) };
        const ONE: f64 = 65536.0;
        let gf = (ray.g[o1] * ONE).round() as i64;
        // The same 16.16 coordinates as planar_sum.
        let c0 = (ray.c0[o1] * ONE).round() as i64;
        let span = dims[o1] as isize;
        // The weight of step s, and whether both of its voxels are inside.
        let step = |s: usize| -> (f32, bool) {
            let cf = c0 + s as i64 * gf;
            let i = (cf >> 16) as isize;
            let w = (cf & 0xFFFF) as f32 * (1.0 / 65536.0);
            let (a, b) = (i >= 0 && i < span, i + 1 >= 0 && i + 1 < span);
            let v = match (a, b) {
                (true, true) => 1.0,
                (true, false) => 1.0 - w,
                (false, true) => w,
                (false, false) => 0.0,
            };
            (v, a && b)
        };
        let (mut sum, mut first, mut last) = (0.0f32, s0, s1 + 1);
        while first < last {
            let (v, inside) = step(first);
            if inside {
                break;
            }
            sum += v;
            first += 1;
        }
        while last > first {
            let (v, inside) = step(last - 1);
            if inside {
                break;
            }
            sum += v;
            last -= 1;
        }
        // The coordinate is monotonic in s, so every step between is inside.
        Some(sum + (last - first) as f32)
    }

    /// The adjoint of [`Self::planar_sum`] for the voxels in `lo..hi`, which `chunk` holds
    /// from linear offset `base` on; false when the ray is not in a plane of voxel centres.
    /// With `SUMS`, also adds the weights times `step` to `sums` (same layout as `chunk`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn planar_scatter<const SUMS: bool>(
        &self,
        ray: &Ray,
        val: f32,
        step: f32,
        lo: [usize; 3],
        hi: [usize; 3],
        chunk: &mut [f32],
        sums: &mut [f32],
        base: usize,
    ) -> bool {
        let (o1, o2) = others(ray.main);
        let (c2, g2) = (ray.c0[o2], ray.g[o2]);
        if g2 != 0.0 || c2.fract() != 0.0 {
            return false;
        }
        let k2 = c2 as isize;
        if k2 < lo[o2] as isize || k2 >= hi[o2] as isize {
            return true;
        }
        let Some((s0, s1)) = self.planar_slabs(ray, lo, hi) else { return true };
        let st = self.strides();
        let (sm, s_1) = (st[ray.main], st[o1]);
        let base2 = k2 as usize * st[o2];
        const ONE: f64 = 65536.0;
        let (c1, g1) = (ray.c0[o1], ray.g[o1]);
        let gf = (g1 * ONE).round() as i64;
        let mut cf = (c1 * ONE).round() as i64 + s0 as i64 * gf;
        let (lo1, span) = (lo[o1] as isize, hi[o1] - lo[o1]);
        for s in s0..=s1 {
            let i = (cf >> 16) as isize;
            let w = (cf & 0xFFFF) as f32 * (1.0 / 65536.0);
            let at = (s * sm + base2).wrapping_sub(base);
            if ((i - lo1) as usize) < span {
                let k = at.wrapping_add(i as usize * s_1);
                if let Some(x) = chunk.get_mut(k) {
                    *x += (1.0 - w) * val;
                }
                if SUMS {
                    if let Some(x) = sums.get_mut(k) {
                        *x += (1.0 - w) * step;
                    }
                }
            }
            if ((i + 1 - lo1) as usize) < span {
                let k = at.wrapping_add((i + 1) as usize * s_1);
                if let Some(x) = chunk.get_mut(k) {
                    *x += w * val;
                }
                if SUMS {
                    if let Some(x) = sums.get_mut(k) {
                        *x += w * step;
                    }
                }
            }
            cf += gf;
        }
        true
    }

    /// [`slab_range`] for a ray in a plane of voxel centres, for parallel beams widened by
    /// a slab at either end (within `lo..hi`): the fixed-point steps' own index checks then
    /// decide, so a step the floating-point range rounds away cannot differ from what the
    /// pixel-driven adjoint ([`simd::joseph_adjoint_run`]) gives the same pixel.
    #[inline(always)]
    fn planar_slabs(&self, ray: &Ray, lo: [usize; 3], hi: [usize; 3]) -> Option<(usize, usize)> {
        let (s0, s1) = slab_range(ray, lo, hi)?;
        if self.divergent {
            return Some((s0, s1));
        }
        let m = ray.main;
        Some((s0.saturating_sub(1).max(lo[m]), (s1 + 1).min(hi[m] - 1)))
    }

    fn check_buffers(&self, volume: usize, sinogram: usize, views: &[usize]) -> Result<(), ReconError> {
        if volume != self.grid.len() {
            return Err(ReconError::BufferLength { what: "volume", len: volume, expected: self.grid.len() });
        }
        let n = self.scan.sinogram_len();
        if sinogram != n {
            return Err(ReconError::BufferLength { what: "sinogram", len: sinogram, expected: n });
        }
        let nv = self.scan.views();
        if let Some(&view) = views.iter().find(|&&v| v >= nv) {
            return Err(ReconError::ViewIndex { view, views: nv });
        }
        Ok(())
    }

    /// Detector column and row ranges (half-open) whose rays can reach the index box
    /// `lo..hi` in view `view`, from the projections of the box's corners grown by one voxel
    /// (projection maps the convex box onto a convex region; interpolation reaches one voxel).
    fn detector_window(&self, view: usize, lo: [usize; 3], hi: [usize; 3]) -> ([usize; 2], [usize; 2]) {
        let (nc, nr) = (self.scan.cols(), self.scan.rows());
        let full = ([0, nc], [0, nr]);
        let (mut kmin, mut kmax, mut rmin, mut rmax) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for corner in 0..8 {
            let mut idx = [0.0; 3];
            for a in 0..3 {
                let (l, h) = (lo[a] as f64 - 1.0, hi[a] as f64);
                idx[a] = if corner >> a & 1 == 0 { l } else { h };
            }
            if self.planar {
                idx[2] = 0.0;
            }
            let mut p = self.i2w.apply(idx);
            if self.planar {
                p[2] = self.scan.isocentre()[2];
            }
            match self.scan.project_point(view, p) {
                Some((k, r)) => {
                    kmin = kmin.min(k);
                    kmax = kmax.max(k);
                    rmin = rmin.min(r);
                    rmax = rmax.max(r);
                }
                None => return full,
            }
        }
        let clamp = |lo: f64, hi: f64, n: usize| -> [usize; 2] {
            let a = (lo.floor() - 1.0).max(0.0);
            let b = (hi.ceil() + 2.0).min(n as f64);
            if a >= b {
                [0, 0]
            } else {
                [a as usize, b as usize]
            }
        };
        let rows = if nr == 1 || self.planar { [0, nr] } else { clamp(rmin, rmax, nr) };
        (clamp(kmin, kmax, nc), rows)
    }
}

impl Projector for JosephProjector {
    fn scan(&self) -> &ScanGeometry {
        &self.scan
    }

    fn grid(&self) -> &VolumeGrid {
        &self.grid
    }

    fn forward_views(&self, volume: &[f32], sinogram: &mut [f32], views: &[usize]) -> Result<(), ReconError> {
        self.check_buffers(volume.len(), sinogram.len(), views)?;
        self.forward_impl(volume, sinogram, views, simd::avx2_available());
        Ok(())
    }

    fn back_views(&self, sinogram: &[f32], volume: &mut [f32], views: &[usize]) -> Result<(), ReconError> {
        self.check_buffers(volume.len(), sinogram.len(), views)?;
        self.back_impl::<false>(sinogram, volume, views, None);
        Ok(())
    }

    /// Row sums without reading a volume: inside the grid the two interpolation weights of a
    /// step add up to exactly 1, so only the steps at the grid's edge need their weights.
    fn row_sums_views(&self, sums: &mut [f32], views: &[usize]) -> Result<(), ReconError> {
        self.check_buffers(self.grid.len(), sums.len(), views)?;
        let (lo, hi) = ([0; 3], self.grid.dims);
        self.for_each_ray(sums, views, |ray| {
            if let Some(v) = self.planar_weight(ray) {
                return v;
            }
            let mut acc = 0.0f32;
            self.visit(ray, lo, hi, |_, w| acc += w);
            acc
        });
        Ok(())
    }

    fn back_views_combine(
        &self,
        sinogram: &[f32],
        volume: &mut [f32],
        views: &[usize],
        combine: &Combine<'_>,
    ) -> Result<(), ReconError> {
        self.check_buffers(volume.len(), sinogram.len(), views)?;
        self.back_impl::<true>(sinogram, volume, views, Some(combine));
        Ok(())
    }
}

impl JosephProjector {
    /// [`Projector::forward_views`] on checked buffers; `simd` (only true when
    /// [`simd::avx2_available`] said so) lets 2-D parallel-beam rays go eight at a time
    /// through [`simd::joseph_forward8`], which gives the same sums as the scalar code.
    fn forward_impl(&self, volume: &[f32], sinogram: &mut [f32], views: &[usize], simd: bool) {
        let (lo, hi) = ([0; 3], self.grid.dims);
        let one = |ray: &Ray| -> f32 {
            if let Some(v) = self.planar_sum(ray, volume) {
                return v;
            }
            // Four partial sums taken in turn: one sum would serialise every step on the
            // latency of a floating-point add.
            let mut acc = [0.0f32; 4];
            let mut t = 0usize;
            self.visit(ray, lo, hi, |off, w| {
                if let Some(x) = volume.get(off) {
                    acc[t & 3] += w * x;
                }
                t += 1;
            });
            (acc[0] + acc[1]) + (acc[2] + acc[3])
        };
        let grouped = simd && self.planar && !self.divergent;
        self.for_each_chunk(sinogram, views, |rays, out| {
            let mut k = 0;
            while k < rays.len() {
                if grouped && k + 8 <= rays.len() {
                    if let Some(v) = self.forward8(&rays[k..k + 8], volume) {
                        for (r, o) in out[k..k + 8].iter_mut().enumerate() {
                            *o = rays[k + r].map_or(0.0, |ray| v[r] * ray.step as f32);
                        }
                        k += 8;
                        continue;
                    }
                }
                out[k] = rays[k].map_or(0.0, |ray| one(&ray) * ray.step as f32);
                k += 1;
            }
        });
    }

    /// The forward sums (without the step) of eight rays of one 2-D parallel-beam view by
    /// [`simd::joseph_forward8`], when all eight lie in the slice with one main axis and one
    /// fixed-point slope; else `None`.
    fn forward8(&self, rays: &[Option<Ray>], x: &[f32]) -> Option<[f32; 8]> {
        const ONE: f64 = 65536.0;
        let first = rays.first().copied().flatten()?;
        let main = first.main;
        let (o1, o2) = others(main);
        if main == 2 || rays.len() != 8 {
            return None;
        }
        let gf = (first.g[o1] * ONE).round() as i64;
        let dims = self.grid.dims;
        let mut grp = simd::RayGroup { c: [0; 8], g: gf, s0: [1; 8], s1: [0; 8] };
        for (r, ray) in rays.iter().enumerate() {
            let ray = (*ray)?;
            if ray.main != main
                || (ray.g[o1] * ONE).round() as i64 != gf
                || ray.g[o2] != 0.0
                || ray.c0[o2] != 0.0
            {
                return None;
            }
            // As planar_sum: the fixed-point start and the slabs it sums.
            grp.c[r] = (ray.c0[o1] * ONE).round() as i64;
            if let Some((s0, s1)) = self.planar_slabs(&ray, [0; 3], dims) {
                (grp.s0[r], grp.s1[r]) = (s0, s1);
            }
        }
        let st = self.strides();
        simd::joseph_forward8(x, &grp, st[main], st[o1], dims[o1], dims[main], true)
    }

    /// Writes `f(ray) · step` for every ray of the listed views into its sinogram element
    /// (0 for a ray parallel to every slab), in parallel over detector lines and chunks of
    /// columns (SART projects one view at a time).
    fn for_each_ray(&self, sinogram: &mut [f32], views: &[usize], f: impl Fn(&Ray) -> f32 + Sync) {
        self.for_each_chunk(sinogram, views, |rays, out| {
            for (ray, o) in rays.iter().zip(out) {
                *o = ray.map_or(0.0, |ray| f(&ray) * ray.step as f32);
            }
        });
    }

    /// Hands `f` the rays (`None` for a ray parallel to every slab) of each chunk of
    /// adjacent detector columns of the listed views, with the chunk's sinogram elements, in
    /// parallel over detector lines and chunks.
    fn for_each_chunk(
        &self,
        sinogram: &mut [f32],
        views: &[usize],
        f: impl Fn(&[Option<Ray>], &mut [f32]) + Sync,
    ) {
        let (nc, nv) = (self.scan.cols(), self.scan.views());
        let mut wanted = vec![false; nv];
        for &v in views {
            wanted[v] = true;
        }
        // Lines of the sinogram are (view, row) pairs.
        let mut lines: Vec<(usize, &mut [f32])> =
            sinogram.chunks_mut(nc).enumerate().filter(|(line, _)| wanted[line % nv]).collect();
        const CHUNK: usize = 32;
        lines.par_iter_mut().for_each(|(line, out)| {
            let (view, row) = (*line % nv, *line / nv);
            let fr = &self.frames[view];
            out.par_chunks_mut(CHUNK).enumerate().for_each(|(chunk, out)| {
                let mut rays = [None; CHUNK];
                for (dk, r) in rays.iter_mut().enumerate().take(out.len()) {
                    *r = self.ray(fr, chunk * CHUNK + dk, row);
                }
                f(&rays[..out.len()], out);
            });
        });
    }

    /// The rays of `view` as a pixel-driven table ([`simd::RayTable`]) with values
    /// `y·step` from `sinogram`, when the view is a 2-D parallel-beam one whose rays all lie
    /// in the slice with one main axis, one slope and one step, at least a pixel apart;
    /// else `None` (the ray-driven scatter then runs).
    fn ray_table(&self, view: usize, sinogram: &[f32]) -> Option<RayTable> {
        if !self.planar || self.divergent {
            return None;
        }
        let nc = self.scan.cols();
        let line = sinogram.get(view * nc..(view + 1) * nc)?;
        let f = &self.frames[view];
        let first = self.ray(f, 0, 0)?;
        let (main, step) = (first.main, first.step);
        let (o1, o2) = others(main);
        const ONE: f64 = 65536.0;
        let gf = (first.g[o1] * ONE).round() as i64;
        if main == 2 || first.g[o2] != 0.0 || first.c0[o2] != 0.0 {
            return None;
        }
        let mut pos = Vec::with_capacity(nc + simd::TABLE_PAD_BEFORE + simd::TABLE_PAD_AFTER);
        let mut val = Vec::with_capacity(pos.capacity());
        pos.resize(simd::TABLE_PAD_BEFORE, -simd::FAR);
        val.resize(simd::TABLE_PAD_BEFORE, 0.0);
        for (k, &y) in line.iter().enumerate() {
            let r = self.ray(f, k, 0)?;
            let same = r.main == main && r.step == step && (r.g[o1] * ONE).round() as i64 == gf;
            let p = (r.c0[o1] * ONE).round();
            if !same || r.g[o2] != 0.0 || r.c0[o2] != 0.0 || p.abs() >= (1 << 29) as f64 {
                return None;
            }
            pos.push(p as i32);
            val.push(y * step as f32);
        }
        let real = simd::TABLE_PAD_BEFORE..simd::TABLE_PAD_BEFORE + nc;
        if pos[real.start] > pos[real.end - 1] {
            pos[real.clone()].reverse();
            val[real.clone()].reverse();
        }
        // At least a pixel apart: at most two rays within a pixel of any point.
        if pos[real.clone()].windows(2).any(|w| (w[1] as i64 - w[0] as i64) < ONE as i64) {
            return None;
        }
        let spread = (pos[real.end - 1] - pos[real.start]) as f64;
        let inv_spacing = if nc > 1 { (nc - 1) as f64 / spread } else { 1.0 / ONE };
        pos.resize(pos.len() + simd::TABLE_PAD_AFTER, simd::FAR);
        val.resize(val.len() + simd::TABLE_PAD_AFTER, 0.0);
        // Points at least a pixel from every ray (at or beyond these) receive nothing.
        let band = (pos[real.start] as i64 - ONE as i64, pos[real.end - 1] as i64 + ONE as i64);
        Some(RayTable {
            first: pos[real.start] as f64,
            inv_spacing,
            pos,
            val,
            main,
            gf,
            step: step as f32,
            band,
        })
    }

    /// The adjoint into `volume`, or with `SUMS` the adjoint and the column sums into
    /// per-block scratch handed to `combine` with the block of `volume`.
    fn back_impl<const SUMS: bool>(
        &self,
        sinogram: &[f32],
        volume: &mut [f32],
        views: &[usize],
        combine: Option<&Combine<'_>>,
    ) {
        let [nx, ny, nz] = self.grid.dims;
        let (nc, nv) = (self.scan.cols(), self.scan.views());
        // Blocks along the slowest axis with more than one voxel own contiguous memory.
        let (axis, n_axis, plane) = if nz > 1 { (2, nz, nx * ny) } else { (1, ny, nx) };
        let threads = rayon::current_num_threads().max(1);
        let n_blocks = n_axis.min(2 * threads).max(1);
        let per = n_axis.div_ceil(n_blocks);
        // The pixel-driven adjoint pays when it also gives the column sums (with them it is
        // ~15 % faster than scattering both); alone the scatter is faster.
        let tables: Vec<Option<RayTable>> =
            views.iter().map(|&v| if SUMS { self.ray_table(v, sinogram) } else { None }).collect();
        let simd = simd::avx2_available();
        // Accumulates block `b` into `out` (and `sums` with SUMS), both zero on entry.
        let block = |b: usize, out: &mut [f32], sums: &mut [f32]| {
            let base = b * per * plane;
            let mut lo = [0usize; 3];
            let mut hi = self.grid.dims;
            lo[axis] = b * per;
            hi[axis] = (b * per + per).min(n_axis);
            for (&view, table) in views.iter().zip(&tables) {
                if let Some(t) = table {
                    // Pixel-driven: row j of the slice, pixel i sits at q = t·2¹⁶ − s·g on
                    // the ray axis (t the index across the rays, s along them).
                    let rt = simd::RayTable {
                        pos: &t.pos,
                        val: &t.val,
                        first: t.first,
                        inv_spacing: t.inv_spacing,
                    };
                    for (jj, row) in out.chunks_exact_mut(nx).enumerate() {
                        let j = (lo[1] + jj) as i64;
                        let (q0, dq) = if t.main == 1 { (-j * t.gf, 1 << 16) } else { (j << 16, -t.gf) };
                        let srow = if SUMS { &mut sums[jj * nx..(jj + 1) * nx] } else { &mut [][..] };
                        // Only the pixels within a pixel of a ray (a superset, widened by a
                        // pixel): the rest would add exact zeros.
                        let (a, b) = band_run(t.band, q0, dq, nx);
                        if a >= b {
                            continue;
                        }
                        let srow = if SUMS { &mut srow[a..b] } else { srow };
                        let q = q0 + a as i64 * dq;
                        simd::joseph_adjoint_run::<SUMS>(&mut row[a..b], srow, &rt, q, dq, t.step, simd);
                    }
                    continue;
                }
                let f = &self.frames[view];
                let ([k0, k1], [r0, r1]) = self.detector_window(view, lo, hi);
                for row in r0..r1 {
                    let line = &sinogram[(view + nv * row) * nc..(view + nv * row + 1) * nc];
                    for (k, &y) in line.iter().enumerate().take(k1).skip(k0) {
                        if y == 0.0 && !SUMS {
                            continue;
                        }
                        let Some(ray) = self.ray(f, k, row) else { continue };
                        let step = ray.step as f32;
                        let val = y * step;
                        if self.planar_scatter::<SUMS>(&ray, val, step, lo, hi, out, sums, base) {
                            continue;
                        }
                        self.visit(&ray, lo, hi, |off, w| {
                            let k = off.wrapping_sub(base);
                            if let Some(x) = out.get_mut(k) {
                                *x += w * val;
                            }
                            if SUMS {
                                if let Some(x) = sums.get_mut(k) {
                                    *x += w * step;
                                }
                            }
                        });
                    }
                }
            }
        };
        match combine {
            Some(combine) if SUMS => {
                volume.par_chunks_mut(per * plane).enumerate().for_each(|(b, chunk)| {
                    let (mut aty, mut at1) = (vec![0.0f32; chunk.len()], vec![0.0f32; chunk.len()]);
                    block(b, &mut aty, &mut at1);
                    combine(chunk, &aty, &at1);
                });
            }
            _ => volume.par_chunks_mut(per * plane).enumerate().for_each(|(b, chunk)| {
                chunk.fill(0.0);
                block(b, chunk, &mut []);
            }),
        }
    }
}

/// An owned [`simd::RayTable`] with what places the pixels on it: the view's main axis,
/// its slope per slab (16.16) and step (mm per slab).
struct RayTable {
    pos: Vec<i32>,
    val: Vec<f32>,
    first: f64,
    inv_spacing: f64,
    main: usize,
    gf: i64,
    step: f32,
    /// Positions (16.16) at or beyond which a point is at least a pixel from every ray.
    band: (i64, i64),
}

/// The pixels `a..b` of a run of `n` (pixel `p` at `q0 + p·dq`, 16.16) that can lie strictly
/// inside `band`, widened by a pixel at either end; every other pixel lies outside it.
fn band_run(band: (i64, i64), q0: i64, dq: i64, n: usize) -> (usize, usize) {
    if dq == 0 {
        return if q0 > band.0 && q0 < band.1 { (0, n) } else { (0, 0) };
    }
    let (u, v) = ((band.0 - q0) as f64 / dq as f64, (band.1 - q0) as f64 / dq as f64);
    let (lo, hi) = (u.min(v).floor() - 1.0, u.max(v).ceil() + 2.0);
    let clamp = |t: f64| t.clamp(0.0, n as f64) as usize;
    (clamp(lo), clamp(hi))
}

/// The two index axes other than `m`.
#[inline(always)]
fn others(m: usize) -> (usize, usize) {
    match m {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    }
}

/// The slabs `s0..=s1` where the ray can reach voxels inside `lo..hi` (interpolation reaches
/// one voxel, so the other coordinates must lie in `(lo − 1, hi)`), or `None`.
#[inline(always)]
fn slab_range(ray: &Ray, lo: [usize; 3], hi: [usize; 3]) -> Option<(usize, usize)> {
    let m = ray.main;
    let (o1, o2) = others(m);
    let mut smin = (lo[m] as f64).max(ray.s_min);
    let mut smax = ((hi[m] - 1) as f64).min(ray.s_max);
    for o in [o1, o2] {
        let (c, g) = (ray.c0[o], ray.g[o]);
        let (l, h) = (lo[o] as f64 - 1.0, hi[o] as f64);
        if g == 0.0 {
            if c <= l || c >= h {
                return None;
            }
        } else {
            let (a, b) = ((l - c) / g, (h - c) / g);
            let (a, b) = if a < b { (a, b) } else { (b, a) };
            smin = smin.max(a);
            smax = smax.min(b);
        }
    }
    if smin > smax {
        return None;
    }
    let (s0, s1) = (smin.ceil() as usize, smax.floor() as usize);
    Some((s0, s1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::geometry::DetectorShape;
    use rand::{Rng, SeedableRng};

    fn adjoint_gap(p: &dyn Projector, seed: u64) -> f64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<f32> = (0..p.grid().len()).map(|_| rng.gen::<f32>()).collect();
        let y: Vec<f32> = (0..p.scan().sinogram_len()).map(|_| rng.gen::<f32>()).collect();
        let mut ax = vec![0.0; y.len()];
        let mut aty = vec![0.0; x.len()];
        p.forward(&x, &mut ax).unwrap();
        p.back(&y, &mut aty).unwrap();
        let l: f64 = ax.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
        let r: f64 = x.iter().zip(&aty).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!(l > 0.0);
        (l - r).abs() / l.abs()
    }

    #[test]
    fn joseph_is_its_own_adjoint_in_2d() {
        let grid = VolumeGrid::centred([24, 20, 1], [1.3, 1.1, 1.0], [0.5, -0.7, 0.0]).unwrap();
        let geoms = [
            ScanGeometry::parallel(17, 180.0, 31, 1.0).unwrap(),
            ScanGeometry::fan(13, 360.0, 29, 2.0, 60.0, 110.0, DetectorShape::Flat).unwrap(),
            ScanGeometry::fan(11, 250.0, 33, 2.0, 60.0, 100.0, DetectorShape::Equiangular).unwrap(),
        ];
        for (i, g) in geoms.iter().enumerate() {
            let p = JosephProjector::new(g, &grid).unwrap();
            // 1e-4: f32 accumulation over ~10⁴ products, compared in f64.
            let gap = adjoint_gap(&p, i as u64);
            assert!(gap < 1e-4, "{:?}: {gap}", g.kind());
        }
    }

    #[test]
    fn avx2_and_scalar_forward_projections_agree() {
        if !simd::avx2_available() {
            eprintln!("no AVX2 on this CPU: only the scalar path runs");
            return;
        }
        // Both main axes, rays partly off the grid, odd sizes (groups of eight that do not
        // fill a chunk), pixels smaller and larger than the detector elements, and a grid
        // large enough for the load-and-permute and row-tile paths.
        let cases = [
            ([53usize, 47, 1], [1.0, 1.0, 1.0], [0.3, -0.2, 0.0], 61usize, 1.0, 37usize),
            ([40, 64, 1], [0.7, 0.9, 1.0], [1.5, 0.0, 0.0], 75, 1.1, 23),
            ([128, 128, 1], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 128, 1.0, 45),
            ([96, 80, 1], [1.2, 1.2, 1.0], [-3.0, 2.0, 0.0], 90, 1.3, 31),
        ];
        for (n, &(dims, spacing, centre, cols, pitch, views)) in cases.iter().enumerate() {
            let grid = VolumeGrid::centred(dims, spacing, centre).unwrap();
            let scan = ScanGeometry::parallel(views, 180.0, cols, pitch).unwrap();
            let p = JosephProjector::new(&scan, &grid).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
            let x: Vec<f32> = (0..grid.len()).map(|_| rng.gen::<f32>() - 0.2).collect();
            let all: Vec<usize> = (0..views).collect();
            let (mut a, mut b) = (vec![0.0f32; scan.sinogram_len()], vec![0.0f32; scan.sinogram_len()]);
            p.forward_impl(&x, &mut a, &all, true);
            p.forward_impl(&x, &mut b, &all, false);
            let big = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                // 1e-5 relative (another summation order), plus a little of the largest
                // value for sums that nearly cancel.
                assert!((u - v).abs() <= 1e-5 * v.abs() + 1e-6 * big, "case {n}, element {i}: {u} vs {v}");
            }
        }
    }

    #[test]
    fn pixel_driven_combine_matches_two_back_projections() {
        // A square grid wider than the detector (pixels outside every ray's reach in some
        // views), both main axes.
        let grid = VolumeGrid::centred([72, 72, 1], [1.0; 3], [0.0; 3]).unwrap();
        let scan = ScanGeometry::parallel(29, 180.0, 60, 1.0).unwrap();
        let p = JosephProjector::new(&scan, &grid).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let y: Vec<f32> = (0..scan.sinogram_len()).map(|_| rng.gen::<f32>()).collect();
        let ones = vec![1.0f32; y.len()];
        for view in [0usize, 5, 11, 14, 22] {
            let (mut aty, mut at1) = (vec![0.0f32; grid.len()], vec![0.0f32; grid.len()]);
            p.back_views(&y, &mut aty, &[view]).unwrap();
            p.back_views(&ones, &mut at1, &[view]).unwrap();
            for (want, pick_sums) in [(&aty, false), (&at1, true)] {
                let mut got = vec![0.0f32; grid.len()];
                p.back_views_combine(&y, &mut got, &[view], &|x, a, s| {
                    x.copy_from_slice(if pick_sums { s } else { a });
                })
                .unwrap();
                let big = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                for (i, (u, v)) in got.iter().zip(want.iter()).enumerate() {
                    assert!(
                        (u - v).abs() <= 1e-5 * big,
                        "view {view}, sums {pick_sums}, pixel {i}: {u} vs {v}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_buffers_are_errors() {
        let grid = VolumeGrid::centred([8, 8, 1], [1.0; 3], [0.0; 3]).unwrap();
        let g = ScanGeometry::parallel(4, 180.0, 8, 1.0).unwrap();
        let p = JosephProjector::new(&g, &grid).unwrap();
        let mut s = vec![0.0; 31];
        assert!(matches!(
            p.forward(&[0.0; 64], &mut s),
            Err(ReconError::BufferLength { what: "sinogram", .. })
        ));
        let mut s = vec![0.0; 32];
        assert!(matches!(
            p.forward_views(&[0.0; 64], &mut s, &[4]),
            Err(ReconError::ViewIndex { view: 4, .. })
        ));
        let grid3 = VolumeGrid::centred([8, 8, 2], [1.0; 3], [0.0; 3]).unwrap();
        assert!(JosephProjector::new(&g, &grid3).is_err());
    }
}
