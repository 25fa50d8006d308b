//! Dense displacement fields: a vector (mm, LPS) per voxel of a grid, usable as a
//! [`Transform`].

use crate::error::{checked_voxels, CoreError};
use crate::geometry::{Affine3, Geometry};
use crate::linalg::Vec3;
use crate::transform::Transform;
use crate::volume::Volume;

/// A displacement field on a grid: `transform_point(p) = p + u(p)`, with `u` in mm in world
/// (LPS) coordinates and trilinearly interpolated between voxel centres. Outside the grid the
/// displacement is taken from the nearest border voxel (constant extrapolation), so the map
/// stays continuous.
///
/// Components are stored as one interleaved `Vec<[f32; 3]>`, x-fastest, so a lookup touches
/// one cache line per corner.
#[derive(Clone, Debug, PartialEq)]
pub struct DisplacementField {
    dims: [usize; 3],
    geometry: Geometry,
    data: Vec<[f32; 3]>,
    w2i: Affine3,
}

impl DisplacementField {
    /// A zero field on the grid (size checked against the memory cap).
    pub fn zeros(dims: [usize; 3], geometry: Geometry) -> Result<Self, CoreError> {
        let n = checked_voxels(dims, 12)?;
        Self::from_vec(dims, geometry, vec![[0.0; 3]; n])
    }

    /// Wraps interleaved vectors (x-fastest).
    pub fn from_vec(dims: [usize; 3], geometry: Geometry, data: Vec<[f32; 3]>) -> Result<Self, CoreError> {
        let check = Volume::from_vec(dims, geometry, vec![(); data.len()])?;
        let w2i = check.geometry().world_to_index_affine()?;
        Ok(Self { dims, geometry, data, w2i })
    }

    /// From three component volumes (x, y, z displacement in mm, LPS) on one grid.
    pub fn from_components(c: &[Volume<f32>; 3]) -> Result<Self, CoreError> {
        c[0].require_same_grid(&c[1])?;
        c[0].require_same_grid(&c[2])?;
        let data = (0..c[0].len()).map(|i| [c[0].data()[i], c[1].data()[i], c[2].data()[i]]).collect();
        Self::from_vec(c[0].dims(), *c[0].geometry(), data)
    }

    /// The three component volumes (x, y, z).
    pub fn to_components(&self) -> [Volume<f32>; 3] {
        let comp = |k: usize| {
            Volume::from_vec(self.dims, self.geometry, self.data.iter().map(|v| v[k]).collect())
                .expect("length matches dims by construction")
        };
        [comp(0), comp(1), comp(2)]
    }

    /// Dimensions.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Grid geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Vectors, x-fastest.
    pub fn data(&self) -> &[[f32; 3]] {
        &self.data
    }

    /// Mutable vectors, x-fastest.
    pub fn data_mut(&mut self) -> &mut [[f32; 3]] {
        &mut self.data
    }

    /// Displacement (mm) at continuous index `idx`, trilinear, clamped to the grid.
    #[inline]
    pub fn displacement_at_index(&self, idx: Vec3) -> Vec3 {
        let [nx, ny, nz] = self.dims;
        let mut base = [0usize; 3];
        let mut frac = [0.0f64; 3];
        for a in 0..3 {
            let n = self.dims[a];
            let x = idx[a].clamp(0.0, (n - 1) as f64);
            let b = (x.floor() as usize).min(n.saturating_sub(2));
            base[a] = b;
            frac[a] = if n > 1 { x - b as f64 } else { 0.0 };
        }
        let step = [usize::from(nx > 1), if ny > 1 { nx } else { 0 }, if nz > 1 { nx * ny } else { 0 }];
        let o = base[0] + nx * (base[1] + ny * base[2]);
        let mut out = [0.0f64; 3];
        for dz in 0..2 {
            let wz = if dz == 0 { 1.0 - frac[2] } else { frac[2] };
            for dy in 0..2 {
                let wy = if dy == 0 { 1.0 - frac[1] } else { frac[1] };
                for dx in 0..2 {
                    let wx = if dx == 0 { 1.0 - frac[0] } else { frac[0] };
                    let w = wx * wy * wz;
                    if w == 0.0 {
                        continue;
                    }
                    let v = self.data[o + dx * step[0] + dy * step[1] + dz * step[2]];
                    out[0] += w * v[0] as f64;
                    out[1] += w * v[1] as f64;
                    out[2] += w * v[2] as f64;
                }
            }
        }
        out
    }

    /// Displacement (mm) at world point `p`.
    #[inline]
    pub fn displacement_at(&self, p: Vec3) -> Vec3 {
        self.displacement_at_index(self.w2i.apply(p))
    }
}

impl Transform for DisplacementField {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        let u = self.displacement_at(p);
        [p[0] + u[0], p[1] + u[1], p[2] + u[2]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_field_is_interpolated_exactly() {
        let g = Geometry { origin: [10.0, -5.0, 2.0], spacing: [2.0, 1.0, 3.0], ..Geometry::default() };
        let dims = [5, 4, 3];
        let mut f = DisplacementField::zeros(dims, g).unwrap();
        // u(p) = (0.1 x, -0.2 y + 1, 0.05 z) in world coordinates.
        let u = |p: Vec3| [0.1 * p[0], -0.2 * p[1] + 1.0, 0.05 * p[2]];
        for k in 0..3 {
            for j in 0..4 {
                for i in 0..5 {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    let v = u(p);
                    f.data_mut()[i + 5 * (j + 4 * k)] = [v[0] as f32, v[1] as f32, v[2] as f32];
                }
            }
        }
        let p = g.index_to_world([1.3, 2.7, 0.4]);
        let q = f.transform_point(p);
        let e = u(p);
        for a in 0..3 {
            // 1e-5: f32 storage of values of magnitude ~2.
            assert!((q[a] - p[a] - e[a]).abs() < 1e-5, "{a}: {} vs {}", q[a] - p[a], e[a]);
        }
        let comps = f.to_components();
        assert_eq!(DisplacementField::from_components(&comps).unwrap(), f);
    }

    #[test]
    fn outside_the_grid_clamps() {
        let mut f = DisplacementField::zeros([2, 1, 1], Geometry::default()).unwrap();
        f.data_mut()[1] = [4.0, 0.0, 0.0];
        assert_eq!(f.displacement_at([10.0, 0.0, 0.0]), [4.0, 0.0, 0.0]);
        assert_eq!(f.displacement_at([-3.0, 7.0, 0.0]), [0.0, 0.0, 0.0]);
        assert_eq!(f.displacement_at([0.5, 0.0, 0.0]), [2.0, 0.0, 0.0]);
    }
}
