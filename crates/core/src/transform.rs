//! The `Transform` trait: a world→world point map (LPS, mm) shared by resampling and
//! registration, and the two transforms every crate needs (identity, affine).

use crate::geometry::Affine3;
use crate::linalg::{self, Mat3, Vec3, IDENTITY3};

/// A map from world points to world points (LPS, mm).
///
/// As in ITK, a transform used for resampling maps points of the **output** (fixed) grid to
/// points of the **input** (moving) image: the output voxel at world point `p` takes the input's
/// value at `transform_point(p)`.
pub trait Transform: Send + Sync + std::fmt::Debug {
    /// Maps one world point.
    fn transform_point(&self, p: Vec3) -> Vec3;

    /// The transform as an affine map when it is one (enables fast paths that step through the
    /// output grid incrementally). Default: `None`.
    fn as_affine(&self) -> Option<Affine3> {
        None
    }
}

impl<T: Transform + ?Sized> Transform for &T {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        (**self).transform_point(p)
    }
    fn as_affine(&self) -> Option<Affine3> {
        (**self).as_affine()
    }
}

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        (**self).transform_point(p)
    }
    fn as_affine(&self) -> Option<Affine3> {
        (**self).as_affine()
    }
}

impl<T: Transform + ?Sized> Transform for std::sync::Arc<T> {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        (**self).transform_point(p)
    }
    fn as_affine(&self) -> Option<Affine3> {
        (**self).as_affine()
    }
}

/// The identity map.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IdentityTransform;

impl Transform for IdentityTransform {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        p
    }
    fn as_affine(&self) -> Option<Affine3> {
        Some(Affine3 { m: IDENTITY3, t: [0.0; 3] })
    }
}

/// `p ↦ matrix · (p − center) + center + translation` (the ITK `MatrixOffsetTransformBase`
/// parametrization, so ITK transform files map one-to-one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineTransform {
    /// Linear part, row-major.
    pub matrix: Mat3,
    /// Translation (mm), applied after the linear part.
    pub translation: Vec3,
    /// Centre of rotation (mm).
    pub center: Vec3,
}

impl Default for AffineTransform {
    fn default() -> Self {
        Self { matrix: IDENTITY3, translation: [0.0; 3], center: [0.0; 3] }
    }
}

impl AffineTransform {
    /// A pure translation by `t` mm.
    pub fn translation(t: Vec3) -> Self {
        Self { translation: t, ..Self::default() }
    }

    /// From a linear part and translation with the centre at the origin.
    pub fn from_matrix(matrix: Mat3, translation: Vec3) -> Self {
        Self { matrix, translation, center: [0.0; 3] }
    }

    /// Rotation about `center` by Euler angles (radians) in ITK `Euler3DTransform`'s default
    /// order (`ComputeZYX` off): `R = Rz · Rx · Ry`, i.e. about y first, then x, then z;
    /// followed by `translation`. Parameters map one-to-one to ITK/SimpleITK/elastix Euler
    /// transforms.
    pub fn rigid_euler(angles: Vec3, translation: Vec3, center: Vec3) -> Self {
        let (sx, cx) = angles[0].sin_cos();
        let (sy, cy) = angles[1].sin_cos();
        let (sz, cz) = angles[2].sin_cos();
        let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
        let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
        let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
        let m = linalg::mat_mul(&rz, &linalg::mat_mul(&rx, &ry));
        Self { matrix: m, translation, center }
    }

    /// The equivalent `p ↦ m·p + t`.
    pub fn to_affine3(&self) -> Affine3 {
        let mc = linalg::mat_vec(&self.matrix, self.center);
        let t = [
            self.translation[0] + self.center[0] - mc[0],
            self.translation[1] + self.center[1] - mc[1],
            self.translation[2] + self.center[2] - mc[2],
        ];
        Affine3 { m: self.matrix, t }
    }

    /// The inverse transform (same centre), or `None` when the matrix is singular.
    pub fn inverse(&self) -> Option<AffineTransform> {
        let inv = self.to_affine3().inverse()?;
        let mc = linalg::mat_vec(&inv.m, self.center);
        let translation = [
            inv.t[0] - self.center[0] + mc[0],
            inv.t[1] - self.center[1] + mc[1],
            inv.t[2] - self.center[2] + mc[2],
        ];
        Some(AffineTransform { matrix: inv.m, translation, center: self.center })
    }
}

impl Transform for AffineTransform {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        self.to_affine3().apply(p)
    }
    fn as_affine(&self) -> Option<Affine3> {
        Some(self.to_affine3())
    }
}

impl Transform for Affine3 {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        self.apply(p)
    }
    fn as_affine(&self) -> Option<Affine3> {
        Some(*self)
    }
}

/// Applies transforms in sequence: `ComposedTransform(vec![a, b])` maps `p` to `b(a(p))`.
#[derive(Debug, Default)]
pub struct ComposedTransform(pub Vec<Box<dyn Transform>>);

impl Transform for ComposedTransform {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        self.0.iter().fold(p, |q, t| t.transform_point(q))
    }
    fn as_affine(&self) -> Option<Affine3> {
        self.0
            .iter()
            .try_fold(Affine3 { m: IDENTITY3, t: [0.0; 3] }, |acc, t| Some(t.as_affine()?.compose(&acc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Vec3, b: Vec3, tol: f64) -> bool {
        (0..3).all(|i| (a[i] - b[i]).abs() < tol)
    }

    #[test]
    fn rotation_about_center_keeps_center_fixed() {
        let c = [10.0, -5.0, 2.0];
        let t = AffineTransform::rigid_euler([0.1, -0.2, 0.3], [0.0; 3], c);
        assert!(close(t.transform_point(c), c, 1e-12));
        // 90° about z maps +x to +y.
        let rz = AffineTransform::rigid_euler([0.0, 0.0, std::f64::consts::FRAC_PI_2], [0.0; 3], [0.0; 3]);
        assert!(close(rz.transform_point([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], 1e-12));
    }

    #[test]
    fn euler_order_is_itk_default() {
        // ITK Euler3DTransform with ComputeZYX off: R = Rz·Rx·Ry. Rotating (0,0,1) by 90° about y
        // gives (1,0,0); then 90° about x leaves it; the order is visible with y then x:
        // Ry(90°)·(0,1,0) = (0,1,0), Rx(90°)·(0,1,0) = (0,0,1).
        let h = std::f64::consts::FRAC_PI_2;
        let t = AffineTransform::rigid_euler([h, h, 0.0], [0.0; 3], [0.0; 3]);
        assert!(close(t.transform_point([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0], 1e-12));
        // With Rz·Ry·Rx it would be Ry(Rx(0,1,0)) = Ry(0,0,1) = (1,0,0).
    }

    #[test]
    fn inverse_undoes_transform() {
        let t = AffineTransform {
            matrix: [[1.1, 0.2, 0.0], [0.0, 0.9, 0.1], [0.05, 0.0, 1.2]],
            translation: [3.0, -2.0, 1.0],
            center: [5.0, 6.0, 7.0],
        };
        let inv = t.inverse().unwrap();
        let p = [1.0, 2.0, 3.0];
        assert!(close(inv.transform_point(t.transform_point(p)), p, 1e-12));
    }

    #[test]
    fn composition_order() {
        let a: Box<dyn Transform> = Box::new(AffineTransform::translation([1.0, 0.0, 0.0]));
        let b: Box<dyn Transform> = Box::new(AffineTransform::rigid_euler(
            [0.0, 0.0, std::f64::consts::FRAC_PI_2],
            [0.0; 3],
            [0.0; 3],
        ));
        let c = ComposedTransform(vec![a, b]);
        // translate first to (1,0,0), then rotate to (0,1,0).
        assert!(close(c.transform_point([0.0; 3]), [0.0, 1.0, 0.0], 1e-12));
        assert!(close(c.as_affine().unwrap().apply([0.0; 3]), [0.0, 1.0, 0.0], 1e-12));
    }
}
