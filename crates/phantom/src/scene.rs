//! Labelled scenes of [`Shape`]s and their rasterisation onto any voxel grid, with
//! supersampling for partial volume.
//!
//! A [`Scene`] is an ordered list of parts `(label, shape)` painted in order: the label at a
//! world point is the label of the **last** part containing it (0 when none does). An
//! optional warp (a [`DisplacementField`]) deforms the whole scene: the label at `p` is the
//! unwarped label at `p + u(p)`.
//!
//! Rendering evaluates the scene at voxel centres (or at `n³` sub-samples per voxel), in
//! parallel over z-slices. Parts are culled by bounding box per slice, then per row, so a
//! voxel only tests the few parts that can contain it; nothing is allocated per voxel.
//! Every voxel's value depends only on its position, so the result is the same for any
//! number of threads.

use hounsfield_core::linalg::Vec3;
use hounsfield_core::{checked_voxels, Affine3, DisplacementField, Geometry, LabelVolume, Volume};
use rayon::prelude::*;

use crate::error::{invalid, PhantomError};
use crate::shapes::{Aabb, Shape};

/// Largest supersampling factor (8³ = 512 sub-samples per voxel).
pub const MAX_SUPERSAMPLE: usize = 8;

/// A voxel grid: dimensions and geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// `[nx, ny, nz]`.
    pub dims: [usize; 3],
    /// Where the grid sits in the world (LPS, mm).
    pub geometry: Geometry,
}

impl Grid {
    /// A grid of `dims` with `geometry`.
    pub fn new(dims: [usize; 3], geometry: Geometry) -> Grid {
        Grid { dims, geometry }
    }

    /// The cube of `size³` voxels covering a field of view of `fov_mm` centred on the world
    /// origin, identity direction (LPS): spacing `fov_mm / size`, and the first voxel centre at
    /// `−fov_mm/2 + spacing/2`. Checks `size` against the memory cap (4-byte voxels).
    pub fn cube(size: usize, fov_mm: f64) -> Result<Grid, PhantomError> {
        checked_voxels([size; 3], 4)?;
        Grid::cube_unchecked(size, fov_mm)
    }

    pub(crate) fn cube_unchecked(size: usize, fov_mm: f64) -> Result<Grid, PhantomError> {
        if size == 0 {
            return Err(invalid("size", "must be at least 1"));
        }
        if !(fov_mm.is_finite() && fov_mm > 0.0) {
            return Err(invalid("fov_mm", format!("must be a positive number of mm, got {fov_mm}")));
        }
        let s = fov_mm / size as f64;
        let o = -fov_mm / 2.0 + s / 2.0;
        Ok(Grid {
            dims: [size; 3],
            geometry: Geometry { origin: [o; 3], spacing: [s; 3], ..Geometry::default() },
        })
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Always false for a valid grid (every extent ≥ 1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the geometry and that `bytes_per_voxel`-byte voxels fit under the memory cap.
    pub fn check(&self, bytes_per_voxel: usize) -> Result<usize, PhantomError> {
        self.geometry.validate()?;
        Ok(checked_voxels(self.dims, bytes_per_voxel.max(1))?)
    }

    /// The world-space box holding every voxel (voxel corners, not centres).
    pub fn world_bbox(&self) -> Aabb {
        let i2w = self.geometry.index_to_world_affine();
        index_box_to_world(&i2w, [-0.5; 3], self.dims.map(|d| d as f64 - 0.5))
    }
}

fn index_box_to_world(i2w: &Affine3, lo: Vec3, hi: Vec3) -> Aabb {
    let mut corners = [[0.0; 3]; 8];
    for (c, corner) in corners.iter_mut().enumerate() {
        let idx = [
            if c & 1 == 0 { lo[0] } else { hi[0] },
            if c & 2 == 0 { lo[1] } else { hi[1] },
            if c & 4 == 0 { lo[2] } else { hi[2] },
        ];
        *corner = i2w.apply(idx);
    }
    Aabb::from_points(corners)
}

/// How a supersampled voxel gets its label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelRule {
    /// The label at the voxel centre (default): labels are then the same with and without
    /// supersampling, and supersampling only smooths intensities.
    #[default]
    Centre,
    /// The most frequent label among the sub-samples (ties go to the label met first in
    /// sub-sample order, x fastest).
    Majority,
}

/// Options of [`Scene::render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Sub-samples per voxel edge, `1..=8` (default 1: the voxel centre only). `n` gives
    /// `n³` sub-samples on a regular lattice inside the voxel; intensities are their mean
    /// (partial volume).
    pub supersample: usize,
    /// How labels of supersampled voxels are chosen (default [`LabelRule::Centre`]).
    pub label_rule: LabelRule,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { supersample: 1, label_rule: LabelRule::Centre }
    }
}

impl RenderOptions {
    /// Options with `n` sub-samples per voxel edge and the default label rule.
    pub fn supersampled(n: usize) -> Self {
        Self { supersample: n, ..Self::default() }
    }
}

/// One painted part of a scene.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// Label written where this part is the last one containing the point.
    pub label: u16,
    /// The solid.
    pub shape: Shape,
}

/// Labels and intensity images rendered from a scene.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The label map.
    pub labels: LabelVolume,
    /// One image per intensity table, in the order the tables were given.
    pub images: Vec<Volume<f32>>,
}

/// An ordered list of labelled shapes, optionally warped (see the [module docs](self)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    parts: Vec<Part>,
    warp: Option<(DisplacementField, f64)>,
}

impl Scene {
    /// An empty scene (everything background).
    pub fn new() -> Scene {
        Scene::default()
    }

    /// Paints `shape` with `label` over everything painted before.
    pub fn push(&mut self, label: u16, shape: Shape) {
        if !shape.bbox().is_empty() {
            self.parts.push(Part { label, shape });
        }
    }

    /// Paints the parts of `other` (in their order) under everything painted from part
    /// `index` on: what a later part covers stays that part's. An `index` past the end
    /// appends. `other`'s warp is ignored.
    pub fn insert_under(&mut self, index: usize, other: Scene) {
        let at = index.min(self.parts.len());
        self.parts.splice(at..at, other.parts);
    }

    /// The parts in painting order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Warps the scene by `field`: afterwards the label at `p` is the unwarped label at
    /// `p + u(p)` (the field's displacement, trilinear, constant outside its grid).
    pub fn set_warp(&mut self, field: DisplacementField) {
        let max = field
            .data()
            .iter()
            .map(|v| ((v[0] as f64).powi(2) + (v[1] as f64).powi(2) + (v[2] as f64).powi(2)).sqrt())
            .fold(0.0, f64::max);
        self.warp = Some((field, max));
    }

    /// The warp, if any.
    pub fn warp(&self) -> Option<&DisplacementField> {
        self.warp.as_ref().map(|(f, _)| f)
    }

    /// The largest label painted (0 for an empty scene).
    pub fn max_label(&self) -> u16 {
        self.parts.iter().map(|p| p.label).max().unwrap_or(0)
    }

    /// The label at world point `p` (mm), warp applied.
    pub fn label_at(&self, p: Vec3) -> u16 {
        let q = match &self.warp {
            Some((f, _)) => {
                let u = f.displacement_at(p);
                [p[0] + u[0], p[1] + u[1], p[2] + u[2]]
            }
            None => p,
        };
        self.label_at_unwarped(q)
    }

    /// The label at world point `p` ignoring the warp.
    pub fn label_at_unwarped(&self, p: Vec3) -> u16 {
        self.parts.iter().rev().find(|part| part.shape.contains(p)).map_or(0, |part| part.label)
    }

    /// The point whose warped label comes from unwarped point `q`: the solution `p` of
    /// `p + u(p) = q` (fixed-point iteration, which converges because a diffeomorphic warp's
    /// displacement has a Jacobian of norm below 1). Without a warp, `q` itself.
    pub fn warped_position(&self, q: Vec3) -> Vec3 {
        match &self.warp {
            Some((f, _)) => crate::deform::invert_point(f, q),
            None => q,
        }
    }

    /// Renders the label map only.
    pub fn render_labels(&self, grid: &Grid, opts: &RenderOptions) -> Result<LabelVolume, PhantomError> {
        Ok(self.render(grid, opts, &[])?.labels)
    }

    /// Renders labels and one intensity image per table. `tables[t][label]` is the
    /// intensity of a sub-sample with that label; each voxel's intensity is the mean over
    /// its sub-samples (partial volume). Every table must cover [`Scene::max_label`].
    pub fn render(
        &self,
        grid: &Grid,
        opts: &RenderOptions,
        tables: &[&[f32]],
    ) -> Result<Rendered, PhantomError> {
        let n = opts.supersample;
        if n == 0 || n > MAX_SUPERSAMPLE {
            return Err(invalid("supersample", format!("must be 1..={MAX_SUPERSAMPLE}, got {n}")));
        }
        let max_label = self.max_label();
        for (index, t) in tables.iter().enumerate() {
            if t.len() <= max_label as usize {
                return Err(PhantomError::RenderTable { index, len: t.len(), max_label });
            }
        }
        let nt = tables.len();
        let nvox = grid.check(2 + 4 * nt)?;
        let [nx, ny, _] = grid.dims;
        let plane = nx * ny;
        let mut labels = vec![0u16; nvox];
        let ctx = Ctx::new(self, grid, opts, tables);
        if nt == 0 {
            labels.par_chunks_mut(plane).enumerate().for_each(|(k, ls)| ctx.slice(k, ls, &mut []));
            let labels = LabelVolume::new(Volume::from_vec(grid.dims, grid.geometry, labels)?);
            return Ok(Rendered { labels, images: Vec::new() });
        }
        let mut inter = vec![0f32; nvox * nt];
        labels
            .par_chunks_mut(plane)
            .zip(inter.par_chunks_mut(plane * nt))
            .enumerate()
            .for_each(|(k, (ls, is))| ctx.slice(k, ls, is));
        let images = if nt == 1 {
            vec![Volume::from_vec(grid.dims, grid.geometry, inter)?]
        } else {
            (0..nt)
                .map(|t| {
                    Volume::from_vec(
                        grid.dims,
                        grid.geometry,
                        inter.iter().skip(t).step_by(nt).copied().collect(),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let labels = LabelVolume::new(Volume::from_vec(grid.dims, grid.geometry, labels)?);
        Ok(Rendered { labels, images })
    }
}

/// Everything a slice worker needs, shared read-only.
struct Ctx<'a> {
    scene: &'a Scene,
    dims: [usize; 3],
    i2w: Affine3,
    offsets: Vec<f64>,
    rule: LabelRule,
    tables: &'a [&'a [f32]],
    halo: f64,
}

impl<'a> Ctx<'a> {
    fn new(scene: &'a Scene, grid: &Grid, opts: &RenderOptions, tables: &'a [&'a [f32]]) -> Self {
        let n = opts.supersample;
        let offsets = (0..n).map(|s| (s as f64 + 0.5) / n as f64 - 0.5).collect();
        // Bounding boxes are in unwarped space: grow the query boxes by the largest
        // displacement (plus a hair for the trilinear interpolation's rounding).
        let halo = scene.warp.as_ref().map_or(0.0, |(_, m)| m + 1e-6);
        Ctx {
            scene,
            dims: grid.dims,
            i2w: grid.geometry.index_to_world_affine(),
            offsets,
            rule: opts.label_rule,
            tables,
            halo,
        }
    }

    #[inline]
    fn label(&self, cands: &[usize], idx: Vec3) -> u16 {
        let p = self.i2w.apply(idx);
        let q = match &self.scene.warp {
            Some((f, _)) => {
                let u = f.displacement_at(p);
                [p[0] + u[0], p[1] + u[1], p[2] + u[2]]
            }
            None => p,
        };
        let parts = &self.scene.parts;
        for &c in cands {
            let part = &parts[c];
            if part.shape.contains(q) {
                return part.label;
            }
        }
        0
    }

    fn slice(&self, k: usize, labels: &mut [u16], images: &mut [f32]) {
        let [nx, ny, _] = self.dims;
        let nt = self.tables.len();
        let kf = k as f64;
        let slice_box = index_box_to_world(
            &self.i2w,
            [-0.5, -0.5, kf - 0.5],
            [nx as f64 - 0.5, ny as f64 - 0.5, kf + 0.5],
        )
        .expanded(self.halo);
        // Reverse painting order: the first hit is the last painted.
        let slice_cands: Vec<usize> = (0..self.scene.parts.len())
            .rev()
            .filter(|&c| self.scene.parts[c].shape.bbox().intersects(&slice_box))
            .collect();
        let mut row = Vec::with_capacity(slice_cands.len());
        let mut counts: Vec<(u16, u32)> = Vec::new();
        let mut sums = vec![0f64; nt];
        let ns = self.offsets.len();
        let inv = 1.0 / (ns * ns * ns) as f64;
        for j in 0..ny {
            let jf = j as f64;
            let row_box = index_box_to_world(
                &self.i2w,
                [-0.5, jf - 0.5, kf - 0.5],
                [nx as f64 - 0.5, jf + 0.5, kf + 0.5],
            )
            .expanded(self.halo);
            row.clear();
            row.extend(
                slice_cands
                    .iter()
                    .copied()
                    .filter(|&c| self.scene.parts[c].shape.bbox().intersects(&row_box)),
            );
            for i in 0..nx {
                let o = i + nx * j;
                let centre = [i as f64, jf, kf];
                if ns == 1 {
                    let l = self.label(&row, centre);
                    labels[o] = l;
                    for (t, table) in self.tables.iter().enumerate() {
                        images[o * nt + t] = table[l as usize];
                    }
                    continue;
                }
                sums.iter_mut().for_each(|s| *s = 0.0);
                counts.clear();
                for &oz in &self.offsets {
                    for &oy in &self.offsets {
                        for &ox in &self.offsets {
                            let l = self.label(&row, [centre[0] + ox, centre[1] + oy, centre[2] + oz]);
                            for (s, table) in sums.iter_mut().zip(self.tables) {
                                *s += table[l as usize] as f64;
                            }
                            if self.rule == LabelRule::Majority {
                                match counts.iter_mut().find(|(cl, _)| *cl == l) {
                                    Some((_, c)) => *c += 1,
                                    None => counts.push((l, 1)),
                                }
                            }
                        }
                    }
                }
                labels[o] = match self.rule {
                    LabelRule::Centre => self.label(&row, centre),
                    LabelRule::Majority => {
                        let mut best = (0u16, 0u32);
                        for &(l, c) in &counts {
                            if c > best.1 {
                                best = (l, c);
                            }
                        }
                        best.0
                    }
                };
                for (t, s) in sums.iter().enumerate() {
                    images[o * nt + t] = (s * inv) as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::linalg::IDENTITY3;

    fn two_spheres() -> Scene {
        let mut s = Scene::new();
        s.push(1, Shape::sphere([0.0; 3], 6.0));
        s.push(2, Shape::sphere([3.0, 0.0, 0.0], 2.0));
        s
    }

    #[test]
    fn last_painted_wins() {
        let s = two_spheres();
        assert_eq!(s.label_at([3.0, 0.0, 0.0]), 2);
        assert_eq!(s.label_at([-3.0, 0.0, 0.0]), 1);
        assert_eq!(s.label_at([9.0, 0.0, 0.0]), 0);
        assert_eq!(s.max_label(), 2);
    }

    #[test]
    fn render_matches_point_queries() {
        let s = two_spheres();
        let g = Grid::cube(16, 16.0).unwrap();
        let r = s.render(&g, &RenderOptions::default(), &[&[0.0, 10.0, 20.0]]).unwrap();
        let i2w = g.geometry.index_to_world_affine();
        for k in 0..16 {
            for j in 0..16 {
                for i in 0..16 {
                    let p = i2w.apply([i as f64, j as f64, k as f64]);
                    let l = *r.labels.get(i, j, k).unwrap();
                    assert_eq!(l, s.label_at(p));
                    assert_eq!(*r.images[0].get(i, j, k).unwrap(), 10.0 * l as f32);
                }
            }
        }
    }

    #[test]
    fn supersampling_averages_and_keeps_centre_labels() {
        // A half-space boundary through voxel centres' midpoints: x ≤ 0 inside.
        let mut s = Scene::new();
        s.push(
            1,
            Shape::intersection(vec![
                Shape::sphere([0.0; 3], 100.0),
                Shape::half_space([1.0, 0.0, 0.0], 0.0),
            ]),
        );
        let g =
            Grid { dims: [2, 1, 1], geometry: Geometry { origin: [-0.5, 0.0, 0.0], ..Geometry::default() } };
        let r = s.render(&g, &RenderOptions::supersampled(4), &[&[0.0, 1.0]]).unwrap();
        assert_eq!(r.labels.data(), &[1, 0]);
        assert_eq!(r.images[0].data(), &[1.0, 0.0]);
        // Shift by a quarter voxel: the second voxel is a quarter inside.
        let g =
            Grid { dims: [2, 1, 1], geometry: Geometry { origin: [-0.75, 0.0, 0.0], ..Geometry::default() } };
        let r = s.render(&g, &RenderOptions::supersampled(4), &[&[0.0, 1.0], &[5.0, 1.0]]).unwrap();
        assert_eq!(r.images[0].data(), &[1.0, 0.25]);
        assert_eq!(r.images[1].data(), &[1.0, 4.0]);
        let maj = RenderOptions { supersample: 4, label_rule: LabelRule::Majority };
        assert_eq!(s.render_labels(&g, &maj).unwrap().data(), &[1, 0]);
    }

    #[test]
    fn bad_options_are_errors() {
        let s = two_spheres();
        let g = Grid::cube(4, 4.0).unwrap();
        assert!(matches!(
            s.render(&g, &RenderOptions::supersampled(0), &[]),
            Err(PhantomError::InvalidParameter { name: "supersample", .. })
        ));
        assert!(matches!(
            s.render(&g, &RenderOptions::default(), &[&[0.0, 1.0]]),
            Err(PhantomError::RenderTable { .. })
        ));
        assert!(Grid::cube(0, 10.0).is_err());
        assert!(Grid::cube(1 << 22, 10.0).is_err());
    }

    #[test]
    fn warp_moves_the_scene() {
        let mut s = Scene::new();
        s.push(1, Shape::sphere([0.0; 3], 2.0));
        // Constant displacement (+5, 0, 0): label at p comes from p + 5, so the sphere
        // appears at x = −5.
        let g = Geometry { origin: [-20.0; 3], spacing: [10.0; 3], direction: IDENTITY3 };
        let mut f = DisplacementField::zeros([5, 5, 5], g).unwrap();
        f.data_mut().iter_mut().for_each(|v| *v = [5.0, 0.0, 0.0]);
        s.set_warp(f);
        assert_eq!(s.label_at([-5.0, 0.0, 0.0]), 1);
        assert_eq!(s.label_at([0.0, 0.0, 0.0]), 0);
        let p = s.warped_position([0.0; 3]);
        // 1e-9: the fixed point of a constant field is exact after one step.
        assert!((p[0] + 5.0).abs() < 1e-9);
        let grid = Grid::cube(20, 20.0).unwrap();
        let l = s.render_labels(&grid, &RenderOptions::default()).unwrap();
        let i2w = grid.geometry.index_to_world_affine();
        for (o, &v) in l.data().iter().enumerate() {
            let p = i2w.apply([(o % 20) as f64, ((o / 20) % 20) as f64, (o / 400) as f64]);
            assert_eq!(v, s.label_at(p));
        }
    }
}
