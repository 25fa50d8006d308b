//! Physical geometry of a voxel grid: origin, spacing and direction in the LPS frame, in mm.

use crate::error::CoreError;
use crate::linalg::{self, Mat3, Vec3, IDENTITY3};
use serde::{Deserialize, Serialize};

/// Where a voxel grid sits in the patient's world (DICOM/ITK LPS frame, millimetres).
///
/// The world position of continuous index `(i, j, k)` is
/// `origin + direction · diag(spacing) · (i, j, k)`: the `direction` matrix is row-major and
/// its **columns** are the world unit vectors of the index axes (as in ITK and SimpleITK).
/// `origin` is the centre of voxel `(0, 0, 0)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// World position (mm, LPS) of the centre of voxel (0, 0, 0).
    pub origin: Vec3,
    /// Distance between voxel centres along each index axis (mm, > 0).
    pub spacing: Vec3,
    /// Row-major 3×3 matrix whose columns are the axis cosines of the index axes.
    pub direction: Mat3,
}

impl Default for Geometry {
    /// Origin 0, spacing 1 mm, identity direction.
    fn default() -> Self {
        Self { origin: [0.0; 3], spacing: [1.0; 3], direction: IDENTITY3 }
    }
}

/// A precomputed affine map `p ↦ m·p + t` between index and world space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine3 {
    /// Linear part (row-major).
    pub m: Mat3,
    /// Translation.
    pub t: Vec3,
}

impl Affine3 {
    /// Applies the map to `p`.
    #[inline]
    pub fn apply(&self, p: Vec3) -> Vec3 {
        linalg::add(linalg::mat_vec(&self.m, p), self.t)
    }

    /// Applies only the linear part (for vectors, not points).
    #[inline]
    pub fn apply_vector(&self, v: Vec3) -> Vec3 {
        linalg::mat_vec(&self.m, v)
    }

    /// `self ∘ other`: first `other`, then `self`.
    pub fn compose(&self, other: &Affine3) -> Affine3 {
        Affine3 { m: linalg::mat_mul(&self.m, &other.m), t: self.apply(other.t) }
    }

    /// The inverse map, or `None` when the linear part is singular.
    pub fn inverse(&self) -> Option<Affine3> {
        let mi = linalg::inverse(&self.m)?;
        let t = linalg::mat_vec(&mi, self.t);
        Some(Affine3 { m: mi, t: [-t[0], -t[1], -t[2]] })
    }
}

impl Geometry {
    /// A geometry with the given spacing, origin 0 and identity direction.
    pub fn with_spacing(spacing: Vec3) -> Self {
        Self { spacing, ..Self::default() }
    }

    /// Checks that every number is finite, spacing is positive and the direction matrix is
    /// orthonormal within 1e-4 (the tolerance ITK uses for DICOM orientation vectors, which are
    /// often written with 6 decimals).
    pub fn validate(&self) -> Result<(), CoreError> {
        self.validate_with(true)
    }

    /// Like [`Geometry::validate`] but, with `require_orthonormal = false`, accepts any
    /// non-singular direction matrix (sheared grids, e.g. NIfTI sforms).
    pub fn validate_with(&self, require_orthonormal: bool) -> Result<(), CoreError> {
        let all = self.origin.iter().chain(self.spacing.iter()).chain(self.direction.iter().flatten());
        if all.clone().any(|v| !v.is_finite()) {
            return Err(CoreError::InvalidGeometry(format!("non-finite value in {self:?}")));
        }
        if self.spacing.iter().any(|&s| s <= 0.0) {
            return Err(CoreError::InvalidGeometry(format!(
                "spacing must be positive, got {:?}",
                self.spacing
            )));
        }
        if linalg::inverse(&self.direction).is_none() {
            return Err(CoreError::InvalidGeometry(format!(
                "singular direction matrix {:?}",
                self.direction
            )));
        }
        if require_orthonormal {
            let dtd = linalg::mat_mul(&linalg::transpose(&self.direction), &self.direction);
            for (i, row) in dtd.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    if (v - IDENTITY3[i][j]).abs() > 1e-4 {
                        return Err(CoreError::InvalidGeometry(format!(
                            "direction matrix is not orthonormal: {:?}",
                            self.direction
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The index→world map `origin + direction · diag(spacing) · idx`.
    pub fn index_to_world_affine(&self) -> Affine3 {
        let mut m = self.direction;
        for row in m.iter_mut() {
            for (c, v) in row.iter_mut().enumerate() {
                *v *= self.spacing[c];
            }
        }
        Affine3 { m, t: self.origin }
    }

    /// The world→index map. Fails when the geometry is degenerate.
    pub fn world_to_index_affine(&self) -> Result<Affine3, CoreError> {
        self.index_to_world_affine()
            .inverse()
            .ok_or_else(|| CoreError::InvalidGeometry(format!("degenerate geometry {self:?}")))
    }

    /// World position (mm, LPS) of continuous index `idx`.
    #[inline]
    pub fn index_to_world(&self, idx: Vec3) -> Vec3 {
        self.index_to_world_affine().apply(idx)
    }

    /// Continuous index of world point `p`. For many points, build
    /// [`Geometry::world_to_index_affine`] once instead.
    pub fn world_to_index(&self, p: Vec3) -> Result<Vec3, CoreError> {
        Ok(self.world_to_index_affine()?.apply(p))
    }

    /// World direction (unit vector) of index axis `axis` (0, 1 or 2).
    pub fn axis_direction(&self, axis: usize) -> Vec3 {
        [self.direction[0][axis], self.direction[1][axis], self.direction[2][axis]]
    }

    /// Volume of one voxel in mm³ (the absolute determinant of direction · diag(spacing)).
    pub fn voxel_volume(&self) -> f64 {
        linalg::det(&self.index_to_world_affine().m).abs()
    }

    /// True when both geometries agree within `tol` mm on origin and spacing and within `tol`
    /// on every direction cosine.
    pub fn approx_eq(&self, other: &Geometry, tol: f64) -> bool {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol);
        close(&self.origin, &other.origin)
            && close(&self.spacing, &other.spacing)
            && close(self.direction.as_flattened(), other.direction.as_flattened())
    }

    /// The geometry of the same grid after keeping only voxels from index `start` on: the new
    /// origin is the world position of `start`, so every kept voxel stays where it was.
    pub fn shifted_to(&self, start: [f64; 3]) -> Geometry {
        Geometry { origin: self.index_to_world(start), ..*self }
    }

    /// Direction as 9 numbers, row-major (the order `hounsfield info` prints).
    pub fn direction_row_major(&self) -> [f64; 9] {
        let d = &self.direction;
        [d[0][0], d[0][1], d[0][2], d[1][0], d[1][1], d[1][2], d[2][0], d[2][1], d[2][2]]
    }

    /// The orientation code of the grid (e.g. `"LPS"` for identity direction, `"RAS"` for a
    /// NIfTI-style flipped grid): for each index axis, the world letter its positive direction
    /// points toward most.
    pub fn orientation_code(&self) -> String {
        const POS: [char; 3] = ['L', 'P', 'S'];
        const NEG: [char; 3] = ['R', 'A', 'I'];
        (0..3)
            .map(|axis| {
                let v = self.axis_direction(axis);
                let (w, _) =
                    v.iter()
                        .enumerate()
                        .fold((0, -1.0), |best, (w, c)| if c.abs() > best.1 { (w, c.abs()) } else { best });
                if v[w] >= 0.0 {
                    POS[w]
                } else {
                    NEG[w]
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oblique() -> Geometry {
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        Geometry {
            origin: [-10.0, 20.5, 3.0],
            spacing: [0.5, 0.8, 2.5],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    #[test]
    fn index_world_round_trip() {
        let g = oblique();
        g.validate().unwrap();
        let idx = [3.25, -1.0, 7.5];
        let w = g.index_to_world(idx);
        let back = g.world_to_index(w).unwrap();
        for a in 0..3 {
            // 1e-12: two affine maps in f64 on numbers of magnitude ~100.
            assert!((back[a] - idx[a]).abs() < 1e-12);
        }
    }

    #[test]
    fn index_axis_moves_along_its_direction_column_by_spacing() {
        let g = oblique();
        let p0 = g.index_to_world([0.0, 0.0, 0.0]);
        let p1 = g.index_to_world([0.0, 1.0, 0.0]);
        let d = linalg::sub(p1, p0);
        assert!((linalg::norm(d) - 0.8).abs() < 1e-12);
        let dir = g.axis_direction(1);
        for a in 0..3 {
            assert!((d[a] / 0.8 - dir[a]).abs() < 1e-12);
        }
        assert_eq!(p0, g.origin);
        assert!((g.voxel_volume() - 0.5 * 0.8 * 2.5).abs() < 1e-12);
    }

    #[test]
    fn invalid_geometries_are_rejected() {
        let mut g = Geometry::default();
        g.spacing[1] = 0.0;
        assert!(g.validate().is_err());
        let mut g = Geometry::default();
        g.origin[2] = f64::INFINITY;
        assert!(g.validate().is_err());
        let mut g = Geometry::default();
        g.direction[2] = [0.0, 0.0, 0.0];
        assert!(g.validate().is_err());
        let mut g = Geometry::default();
        g.direction[0][1] = 0.5; // sheared: non-singular but not orthonormal
        assert!(g.validate().is_err());
        assert!(g.validate_with(false).is_ok());
    }

    #[test]
    fn orientation_codes() {
        assert_eq!(Geometry::default().orientation_code(), "LPS");
        let ras = Geometry {
            direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
            ..Default::default()
        };
        assert_eq!(ras.orientation_code(), "RAS");
    }
}
