//! Linear transforms in ITK's `MatrixOffsetTransformBase` parametrization:
//! `T(p) = M(θ)·(p − c) + c + t(θ)` with a fixed centre `c`.
//!
//! | kind | parameters (ITK order) | fixed parameters | ITK class |
//! |---|---|---|---|
//! | [`LinearKind::Translation2D`] | tx ty | — | `TranslationTransform_double_2_2` |
//! | [`LinearKind::Translation3D`] | tx ty tz | — | `TranslationTransform_double_3_3` |
//! | [`LinearKind::Euler2D`] | θ tx ty | cx cy | `Euler2DTransform_double_2_2` |
//! | [`LinearKind::Euler3D`] | θx θy θz tx ty tz | cx cy cz zyx | `Euler3DTransform_double_3_3` |
//! | [`LinearKind::Versor3D`] | vx vy vz tx ty tz | cx cy cz | `VersorRigid3DTransform_double_3_3` |
//! | [`LinearKind::Similarity2D`] | s θ tx ty | cx cy | `Similarity2DTransform_double_2_2` |
//! | [`LinearKind::Similarity3D`] | vx vy vz tx ty tz s | cx cy cz | `Similarity3DTransform_double_3_3` |
//! | [`LinearKind::Affine2D`] | m00 m01 m10 m11 tx ty | cx cy | `AffineTransform_double_2_2` |
//! | [`LinearKind::Affine3D`] | m00 … m22 tx ty tz | cx cy cz | `AffineTransform_double_3_3` |
//!
//! Euler angles are radians; the 3-D rotation is `Rz·Rx·Ry` (ITK's default; `Rz·Ry·Rx` when
//! the file's fourth fixed parameter, `ComputeZYX`, is 1). A versor is the vector part of a
//! unit quaternion whose scalar part is `√(1 − |v|²)` (ITK `Versor`). 2-D kinds act on world
//! `x, y` and leave `z` unchanged.

use hounsfield_core::linalg::{self, Mat3, Vec3, IDENTITY3};
use hounsfield_core::{Affine3, AffineTransform, Transform};

use crate::error::{bad_params, RegisterError};

/// Which linear transform family (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LinearKind {
    /// 2-D translation.
    Translation2D,
    /// 3-D translation.
    Translation3D,
    /// 2-D rigid: angle and translation.
    Euler2D,
    /// 3-D rigid with Euler angles (the default: ITK's and elastix's rigid transform).
    #[default]
    Euler3D,
    /// 3-D rigid with a versor (SimpleITK's usual rigid transform).
    Versor3D,
    /// 2-D similarity: isotropic scale, angle, translation.
    Similarity2D,
    /// 3-D similarity: versor, translation, isotropic scale.
    Similarity3D,
    /// 2-D affine.
    Affine2D,
    /// 3-D affine.
    Affine3D,
}

impl LinearKind {
    /// Number of parameters.
    pub fn num_parameters(self) -> usize {
        match self {
            LinearKind::Translation2D => 2,
            LinearKind::Translation3D | LinearKind::Euler2D => 3,
            LinearKind::Similarity2D => 4,
            LinearKind::Euler3D | LinearKind::Versor3D | LinearKind::Affine2D => 6,
            LinearKind::Similarity3D => 7,
            LinearKind::Affine3D => 12,
        }
    }

    /// 2 or 3.
    pub fn dimension(self) -> usize {
        match self {
            LinearKind::Translation2D
            | LinearKind::Euler2D
            | LinearKind::Similarity2D
            | LinearKind::Affine2D => 2,
            _ => 3,
        }
    }

    /// The identity's parameters.
    pub fn identity_parameters(self) -> Vec<f64> {
        match self {
            LinearKind::Similarity2D => vec![1.0, 0.0, 0.0, 0.0],
            LinearKind::Similarity3D => vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            LinearKind::Affine2D => vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            LinearKind::Affine3D => vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            k => vec![0.0; k.num_parameters()],
        }
    }

    /// ITK class name (double precision).
    pub fn itk_name(self) -> &'static str {
        match self {
            LinearKind::Translation2D => "TranslationTransform_double_2_2",
            LinearKind::Translation3D => "TranslationTransform_double_3_3",
            LinearKind::Euler2D => "Euler2DTransform_double_2_2",
            LinearKind::Euler3D => "Euler3DTransform_double_3_3",
            LinearKind::Versor3D => "VersorRigid3DTransform_double_3_3",
            LinearKind::Similarity2D => "Similarity2DTransform_double_2_2",
            LinearKind::Similarity3D => "Similarity3DTransform_double_3_3",
            LinearKind::Affine2D => "AffineTransform_double_2_2",
            LinearKind::Affine3D => "AffineTransform_double_3_3",
        }
    }

    /// True for the rotation-only (rigid) kinds.
    pub fn is_rigid(self) -> bool {
        matches!(self, LinearKind::Euler2D | LinearKind::Euler3D | LinearKind::Versor3D)
    }

    /// Indices of the translation parameters.
    fn translation_indices(self) -> &'static [usize] {
        match self {
            LinearKind::Translation2D => &[0, 1],
            LinearKind::Translation3D => &[0, 1, 2],
            LinearKind::Euler2D => &[1, 2],
            LinearKind::Euler3D | LinearKind::Versor3D | LinearKind::Similarity3D => &[3, 4, 5],
            LinearKind::Similarity2D => &[2, 3],
            LinearKind::Affine2D => &[4, 5],
            LinearKind::Affine3D => &[9, 10, 11],
        }
    }
}

/// A linear transform `T(p) = M(θ)·(p − c) + c + t(θ)` of one [`LinearKind`] (see the
/// [module docs](self) for the parameters). Maps fixed-image points to moving-image points.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearTransform {
    kind: LinearKind,
    params: Vec<f64>,
    center: Vec3,
    zyx: bool,
    matrix: Mat3,
}

fn rot_x(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
}
fn rot_y(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]
}
fn rot_z(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}
fn d_rot_x(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[0.0, 0.0, 0.0], [0.0, -s, -c], [0.0, c, -s]]
}
fn d_rot_y(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[-s, 0.0, c], [0.0, 0.0, 0.0], [-c, 0.0, -s]]
}
fn d_rot_z(a: f64) -> Mat3 {
    let (s, c) = a.sin_cos();
    [[-s, -c, 0.0], [c, -s, 0.0], [0.0, 0.0, 0.0]]
}
fn mul3(a: &Mat3, b: &Mat3, c: &Mat3) -> Mat3 {
    linalg::mat_mul(a, &linalg::mat_mul(b, c))
}
fn scaled(m: &Mat3, s: f64) -> Mat3 {
    m.map(|r| r.map(|v| v * s))
}

/// Rotation matrix of the unit quaternion `(w, x, y, z)`.
fn quat_matrix(w: f64, x: f64, y: f64, z: f64) -> Mat3 {
    [
        [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
        [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
        [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)],
    ]
}

/// Derivatives of [`quat_matrix`] with respect to the versor `(x, y, z)`, with `w = √(1 − |v|²)`
/// following (chain rule through `∂w/∂v_i = −v_i / w`).
fn d_versor_matrix(v: Vec3) -> [Mat3; 3] {
    let [x, y, z] = v;
    let w = (1.0 - (x * x + y * y + z * z)).max(1e-12).sqrt();
    let dx = [[0.0, y, z], [y, -2.0 * x, -w], [z, w, -2.0 * x]];
    let dy = [[-2.0 * y, x, w], [x, 0.0, z], [-w, z, -2.0 * y]];
    let dz = [[-2.0 * z, -w, x], [w, -2.0 * z, y], [x, y, 0.0]];
    let dw = [[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]];
    let total = |d: Mat3, vi: f64| {
        let mut m = [[0.0; 3]; 3];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] = 2.0 * (d[r][c] - dw[r][c] * vi / w);
            }
        }
        m
    };
    [total(dx, x), total(dy, y), total(dz, z)]
}

/// The versor (vector part of a unit quaternion with non-negative scalar part) of a rotation
/// matrix (Shepperd's method).
pub fn versor_from_matrix(m: &Mat3) -> Vec3 {
    let tr = m[0][0] + m[1][1] + m[2][2];
    let (w, x, y, z);
    if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        w = 0.25 * s;
        x = (m[2][1] - m[1][2]) / s;
        y = (m[0][2] - m[2][0]) / s;
        z = (m[1][0] - m[0][1]) / s;
    } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
        let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt() * 2.0;
        w = (m[2][1] - m[1][2]) / s;
        x = 0.25 * s;
        y = (m[0][1] + m[1][0]) / s;
        z = (m[0][2] + m[2][0]) / s;
    } else if m[1][1] > m[2][2] {
        let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt() * 2.0;
        w = (m[0][2] - m[2][0]) / s;
        x = (m[0][1] + m[1][0]) / s;
        y = 0.25 * s;
        z = (m[1][2] + m[2][1]) / s;
    } else {
        let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt() * 2.0;
        w = (m[1][0] - m[0][1]) / s;
        x = (m[0][2] + m[2][0]) / s;
        y = (m[1][2] + m[2][1]) / s;
        z = 0.25 * s;
    }
    let n = (w * w + x * x + y * y + z * z).sqrt();
    let sign = if w < 0.0 { -1.0 } else { 1.0 } / n;
    [x * sign, y * sign, z * sign]
}

/// Euler angles `(θx, θy, θz)` with `Rz·Rx·Ry = m` (ITK `Euler3DTransform::ComputeMatrixParameters`).
pub fn euler_from_matrix(m: &Mat3) -> Vec3 {
    let ax = m[2][1].clamp(-1.0, 1.0).asin();
    let (ay, az) = if ax.cos().abs() > 1e-12 {
        ((-m[2][0]).atan2(m[2][2]), (-m[0][1]).atan2(m[1][1]))
    } else {
        // Gimbal lock: put the whole rotation about z.
        (0.0, m[1][0].atan2(m[0][0]))
    };
    [ax, ay, az]
}

fn max_abs_diff(a: &Mat3, b: &Mat3) -> f64 {
    (0..9).map(|i| (a[i / 3][i % 3] - b[i / 3][i % 3]).abs()).fold(0.0, f64::max)
}

impl LinearTransform {
    /// A transform of `kind` with `params` (ITK order) about `center`. Fails when the count is
    /// wrong, a value is not finite, or a versor has norm ≥ 1.
    pub fn new(kind: LinearKind, params: Vec<f64>, center: Vec3) -> Result<Self, RegisterError> {
        let mut t = Self { kind, params: kind.identity_parameters(), center, zyx: false, matrix: IDENTITY3 };
        if center.iter().any(|v| !v.is_finite()) {
            return Err(bad_params(kind.itk_name(), format!("centre {center:?} is not finite")));
        }
        if kind.dimension() == 2 {
            t.center[2] = 0.0;
        }
        t.set_parameters(&params)?;
        Ok(t)
    }

    /// The identity of `kind` about `center`.
    pub fn identity(kind: LinearKind, center: Vec3) -> Self {
        let mut c = center;
        if kind.dimension() == 2 {
            c[2] = 0.0;
        }
        Self { kind, params: kind.identity_parameters(), center: c, zyx: false, matrix: IDENTITY3 }
    }

    /// A 3-D rigid transform from Euler angles (radians, ITK order `Rz·Rx·Ry`), translation and
    /// centre.
    pub fn euler3d(angles: Vec3, translation: Vec3, center: Vec3) -> Result<Self, RegisterError> {
        let p = vec![angles[0], angles[1], angles[2], translation[0], translation[1], translation[2]];
        Self::new(LinearKind::Euler3D, p, center)
    }

    /// A 2-D rigid transform: angle (radians, counter-clockwise from +x towards +y), translation
    /// and centre (x, y).
    pub fn euler2d(angle: f64, translation: [f64; 2], center: [f64; 2]) -> Result<Self, RegisterError> {
        Self::new(
            LinearKind::Euler2D,
            vec![angle, translation[0], translation[1]],
            [center[0], center[1], 0.0],
        )
    }

    /// A translation (2-D when `dimension == 2`: `t[2]` must be 0).
    pub fn translation(t: Vec3, dimension: usize) -> Result<Self, RegisterError> {
        if dimension == 2 {
            if t[2] != 0.0 {
                return Err(bad_params("TranslationTransform_double_2_2", "a 2-D translation has no z"));
            }
            Self::new(LinearKind::Translation2D, vec![t[0], t[1]], [0.0; 3])
        } else {
            Self::new(LinearKind::Translation3D, t.to_vec(), [0.0; 3])
        }
    }

    /// Sets whether a 3-D Euler rotation is `Rz·Ry·Rx` (ITK `ComputeZYX` on) instead of the
    /// default `Rz·Rx·Ry`. Ignored by other kinds.
    pub fn set_compute_zyx(&mut self, zyx: bool) {
        self.zyx = zyx && self.kind == LinearKind::Euler3D;
        self.update_matrix();
    }

    /// Whether the Euler rotation order is `Rz·Ry·Rx`.
    pub fn compute_zyx(&self) -> bool {
        self.zyx
    }

    /// The kind.
    pub fn kind(&self) -> LinearKind {
        self.kind
    }

    /// 2 or 3.
    pub fn dimension(&self) -> usize {
        self.kind.dimension()
    }

    /// The parameters (ITK order).
    pub fn parameters(&self) -> &[f64] {
        &self.params
    }

    /// The centre of rotation (mm).
    pub fn center(&self) -> Vec3 {
        self.center
    }

    /// Moves the centre, keeping the map itself unchanged (the translation absorbs the move).
    pub fn set_center_keeping_map(&mut self, center: Vec3) {
        let mut c = center;
        if self.dimension() == 2 {
            c[2] = 0.0;
        }
        let a = self.to_affine3();
        self.center = c;
        // t = A(c) − c with the same M.
        let ac = a.apply(c);
        let t = linalg::sub(ac, c);
        for (k, &i) in self.kind.translation_indices().iter().enumerate() {
            self.params[i] = t[k];
        }
    }

    /// Replaces the parameters (count must match; a versor must have norm < 1).
    pub fn set_parameters(&mut self, p: &[f64]) -> Result<(), RegisterError> {
        let kind = self.kind;
        if p.len() != kind.num_parameters() {
            return Err(bad_params(
                kind.itk_name(),
                format!("{} parameters, expected {}", p.len(), kind.num_parameters()),
            ));
        }
        if p.iter().any(|v| !v.is_finite()) {
            return Err(bad_params(kind.itk_name(), "a parameter is not finite"));
        }
        if matches!(kind, LinearKind::Versor3D | LinearKind::Similarity3D) {
            let n2 = p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
            if n2 >= 1.0 {
                return Err(bad_params(kind.itk_name(), format!("versor norm {} is not below 1", n2.sqrt())));
            }
        }
        self.params.copy_from_slice(p);
        self.update_matrix();
        Ok(())
    }

    fn update_matrix(&mut self) {
        let p = &self.params;
        self.matrix = match self.kind {
            LinearKind::Translation2D | LinearKind::Translation3D => IDENTITY3,
            LinearKind::Euler2D => rot_z(p[0]),
            LinearKind::Euler3D if self.zyx => mul3(&rot_z(p[2]), &rot_y(p[1]), &rot_x(p[0])),
            LinearKind::Euler3D => mul3(&rot_z(p[2]), &rot_x(p[0]), &rot_y(p[1])),
            LinearKind::Versor3D | LinearKind::Similarity3D => {
                let w = (1.0 - (p[0] * p[0] + p[1] * p[1] + p[2] * p[2])).max(0.0).sqrt();
                let r = quat_matrix(w, p[0], p[1], p[2]);
                if self.kind == LinearKind::Similarity3D {
                    scaled(&r, p[6])
                } else {
                    r
                }
            }
            LinearKind::Similarity2D => {
                let mut m = scaled(&rot_z(p[1]), p[0]);
                m[2][2] = 1.0;
                m
            }
            LinearKind::Affine2D => [[p[0], p[1], 0.0], [p[2], p[3], 0.0], [0.0, 0.0, 1.0]],
            LinearKind::Affine3D => [[p[0], p[1], p[2]], [p[3], p[4], p[5]], [p[6], p[7], p[8]]],
        };
    }

    /// The linear part `M`.
    pub fn matrix(&self) -> Mat3 {
        self.matrix
    }

    /// The translation `t` (3-D; z is 0 for 2-D kinds).
    pub fn translation_vector(&self) -> Vec3 {
        let mut t = [0.0; 3];
        for (k, &i) in self.kind.translation_indices().iter().enumerate() {
            t[k] = self.params[i];
        }
        t
    }

    /// The same map as a core [`AffineTransform`] (matrix, translation, centre).
    pub fn to_affine(&self) -> AffineTransform {
        AffineTransform { matrix: self.matrix, translation: self.translation_vector(), center: self.center }
    }

    /// The equivalent `p ↦ A·p + b`.
    pub fn to_affine3(&self) -> Affine3 {
        self.to_affine().to_affine3()
    }

    /// The transform of `kind` equal to `affine` (same centre), or an error when `affine` is
    /// not of that family (e.g. a shear asked for as a rigid transform; tolerance 1e-6 on the
    /// matrix entries) or has the wrong dimension.
    pub fn from_affine(kind: LinearKind, affine: &AffineTransform) -> Result<Self, RegisterError> {
        let m = affine.matrix;
        let t = affine.translation;
        let name = kind.itk_name();
        if kind.dimension() == 2 {
            let planar =
                m[2][2] == 1.0 && m[0][2] == 0.0 && m[1][2] == 0.0 && m[2][0] == 0.0 && m[2][1] == 0.0;
            if !planar || t[2].abs() > 1e-9 {
                return Err(bad_params(name, "the transform moves points out of the x–y plane"));
            }
        }
        let det2 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        let params = match kind {
            LinearKind::Translation2D => vec![t[0], t[1]],
            LinearKind::Translation3D => t.to_vec(),
            LinearKind::Euler2D => vec![m[1][0].atan2(m[0][0]), t[0], t[1]],
            LinearKind::Euler3D => {
                let a = euler_from_matrix(&m);
                vec![a[0], a[1], a[2], t[0], t[1], t[2]]
            }
            LinearKind::Versor3D => {
                let v = versor_from_matrix(&m);
                vec![v[0], v[1], v[2], t[0], t[1], t[2]]
            }
            LinearKind::Similarity2D => {
                let s = det2.abs().sqrt();
                vec![s, m[1][0].atan2(m[0][0]), t[0], t[1]]
            }
            LinearKind::Similarity3D => {
                let s = linalg::det(&m).abs().cbrt();
                if s <= 0.0 {
                    return Err(bad_params(name, "the matrix is singular"));
                }
                let v = versor_from_matrix(&scaled(&m, 1.0 / s));
                vec![v[0], v[1], v[2], t[0], t[1], t[2], s]
            }
            LinearKind::Affine2D => vec![m[0][0], m[0][1], m[1][0], m[1][1], t[0], t[1]],
            LinearKind::Affine3D => {
                let mut p: Vec<f64> = m.iter().flatten().copied().collect();
                p.extend_from_slice(&t);
                p
            }
        };
        let out = Self::new(kind, params, affine.center)?;
        let err = max_abs_diff(&out.matrix, &m);
        if err > 1e-6 {
            return Err(bad_params(
                name,
                format!("the matrix {m:?} is not of this family (closest differs by {err:.2e})"),
            ));
        }
        Ok(out)
    }

    /// The same map as another kind of the same dimension: always possible towards more
    /// general kinds (translation → rigid → similarity → affine), otherwise only when the map
    /// belongs to the narrower family.
    pub fn convert(&self, kind: LinearKind) -> Result<Self, RegisterError> {
        if kind.dimension() != self.dimension() {
            return Err(bad_params(
                kind.itk_name(),
                format!("cannot convert a {}-D transform to {}-D", self.dimension(), kind.dimension()),
            ));
        }
        Self::from_affine(kind, &self.to_affine())
    }

    /// The inverse map as the same kind (every family here is a group), or an error for a
    /// singular matrix.
    pub fn inverse(&self) -> Result<Self, RegisterError> {
        let inv = self
            .to_affine()
            .inverse()
            .ok_or_else(|| bad_params(self.kind.itk_name(), "the matrix is singular; no inverse"))?;
        // Euler angles of the inverse come in the default order (`ComputeZYX` off).
        Self::from_affine(self.kind, &inv)
    }

    /// `∂M/∂θ_j` and `∂t/∂θ_j` for every parameter `j`: `∂T(p)/∂θ_j = ∂M/∂θ_j·(p − c) + ∂t/∂θ_j`.
    pub fn derivatives(&self) -> Vec<(Mat3, Vec3)> {
        let p = &self.params;
        let z = [[0.0; 3]; 3];
        let unit = |k: usize| {
            let mut e = [0.0; 3];
            e[k] = 1.0;
            e
        };
        let mut out: Vec<(Mat3, Vec3)> = Vec::with_capacity(p.len());
        match self.kind {
            LinearKind::Translation2D | LinearKind::Translation3D => {}
            LinearKind::Euler2D => out.push((d_rot_z(p[0]), [0.0; 3])),
            LinearKind::Euler3D => {
                let (rx, ry, rz) = (rot_x(p[0]), rot_y(p[1]), rot_z(p[2]));
                let (dx, dy, dz) = (d_rot_x(p[0]), d_rot_y(p[1]), d_rot_z(p[2]));
                if self.zyx {
                    out.push((mul3(&rz, &ry, &dx), [0.0; 3]));
                    out.push((mul3(&rz, &dy, &rx), [0.0; 3]));
                    out.push((mul3(&dz, &ry, &rx), [0.0; 3]));
                } else {
                    out.push((mul3(&rz, &dx, &ry), [0.0; 3]));
                    out.push((mul3(&rz, &rx, &dy), [0.0; 3]));
                    out.push((mul3(&dz, &rx, &ry), [0.0; 3]));
                }
            }
            LinearKind::Versor3D | LinearKind::Similarity3D => {
                let s = if self.kind == LinearKind::Similarity3D { p[6] } else { 1.0 };
                for d in d_versor_matrix([p[0], p[1], p[2]]) {
                    out.push((scaled(&d, s), [0.0; 3]));
                }
            }
            LinearKind::Similarity2D => {
                out.push((rot_z(p[1]), [0.0; 3]));
                // The scale's derivative has no z part.
                out[0].0[2][2] = 0.0;
                out.push((scaled(&d_rot_z(p[1]), p[0]), [0.0; 3]));
            }
            LinearKind::Affine2D => {
                for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let mut m = z;
                    m[r][c] = 1.0;
                    out.push((m, [0.0; 3]));
                }
            }
            LinearKind::Affine3D => {
                for k in 0..9 {
                    let mut m = z;
                    m[k / 3][k % 3] = 1.0;
                    out.push((m, [0.0; 3]));
                }
            }
        }
        let nt = self.kind.translation_indices().len();
        for k in 0..nt {
            out.push((z, unit(k)));
        }
        if self.kind == LinearKind::Similarity3D {
            // The scale's derivative comes last (ITK order): ∂(sR)/∂s = R.
            let w = (1.0 - (p[0] * p[0] + p[1] * p[1] + p[2] * p[2])).max(0.0).sqrt();
            out.push((quat_matrix(w, p[0], p[1], p[2]), [0.0; 3]));
        }
        out
    }

    /// ITK fixed parameters (centre, plus `ComputeZYX` for Euler 3-D).
    pub fn itk_fixed_parameters(&self) -> Vec<f64> {
        let c = self.center;
        match self.kind {
            LinearKind::Translation2D | LinearKind::Translation3D => vec![],
            LinearKind::Euler3D => vec![c[0], c[1], c[2], if self.zyx { 1.0 } else { 0.0 }],
            k if k.dimension() == 2 => vec![c[0], c[1]],
            _ => c.to_vec(),
        }
    }

    /// RMS over `points` of `|∂T/∂θ_j|` for every parameter: how far (mm) points move per unit
    /// of each parameter, the scale ITK's `RegistrationParameterScalesFromJacobian` uses.
    pub fn jacobian_scales(&self, points: &[Vec3]) -> Vec<f64> {
        let d = self.derivatives();
        let n = points.len().max(1) as f64;
        d.iter()
            .map(|(dm, dt)| {
                let s: f64 = points
                    .iter()
                    .map(|p| {
                        let q = linalg::add(linalg::mat_vec(dm, linalg::sub(*p, self.center)), *dt);
                        linalg::dot(q, q)
                    })
                    .sum();
                (s / n).sqrt().max(1e-12)
            })
            .collect()
    }
}

impl Transform for LinearTransform {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        let q = linalg::mat_vec(&self.matrix, linalg::sub(p, self.center));
        let t = self.translation_vector();
        [q[0] + self.center[0] + t[0], q[1] + self.center[1] + t[1], q[2] + self.center[2] + t[2]]
    }
    fn as_affine(&self) -> Option<Affine3> {
        Some(self.to_affine3())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Vec3, b: Vec3, tol: f64) -> bool {
        (0..3).all(|i| (a[i] - b[i]).abs() < tol)
    }

    fn all_kinds() -> Vec<LinearTransform> {
        let c = [3.0, -2.0, 5.0];
        vec![
            LinearTransform::new(LinearKind::Translation2D, vec![1.0, -2.0], c).unwrap(),
            LinearTransform::new(LinearKind::Translation3D, vec![1.0, -2.0, 0.5], c).unwrap(),
            LinearTransform::new(LinearKind::Euler2D, vec![0.3, 1.0, -2.0], c).unwrap(),
            LinearTransform::new(LinearKind::Euler3D, vec![0.1, -0.2, 0.3, 1.0, 2.0, 3.0], c).unwrap(),
            LinearTransform::new(LinearKind::Versor3D, vec![0.1, -0.2, 0.15, 1.0, 2.0, 3.0], c).unwrap(),
            LinearTransform::new(LinearKind::Similarity2D, vec![1.1, 0.3, 1.0, -2.0], c).unwrap(),
            LinearTransform::new(LinearKind::Similarity3D, vec![0.1, -0.2, 0.15, 1.0, 2.0, 3.0, 0.9], c)
                .unwrap(),
            LinearTransform::new(LinearKind::Affine2D, vec![1.1, 0.1, -0.2, 0.9, 1.0, 2.0], c).unwrap(),
            LinearTransform::new(
                LinearKind::Affine3D,
                vec![1.1, 0.1, 0.0, -0.2, 0.9, 0.05, 0.02, 0.0, 1.05, 1.0, 2.0, 3.0],
                c,
            )
            .unwrap(),
        ]
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for t in all_kinds() {
            let d = t.derivatives();
            assert_eq!(d.len(), t.kind().num_parameters(), "{:?}", t.kind());
            let p = [7.0, -4.0, if t.dimension() == 2 { 0.0 } else { 2.5 }];
            for (j, (dm, dt)) in d.iter().enumerate() {
                let h = 1e-6;
                let mut a = t.clone();
                let mut b = t.clone();
                let mut pa = t.parameters().to_vec();
                let mut pb = pa.clone();
                pa[j] += h;
                pb[j] -= h;
                a.set_parameters(&pa).unwrap();
                b.set_parameters(&pb).unwrap();
                let fd = linalg::sub(a.transform_point(p), b.transform_point(p)).map(|v| v / (2.0 * h));
                let an = linalg::add(linalg::mat_vec(dm, linalg::sub(p, t.center())), *dt);
                // 1e-7: central differences with h = 1e-6 on values of order 10 (h² error and
                // rounding ~1e-10 / 1e-6).
                assert!(close(fd, an, 1e-7), "{:?} param {j}: {fd:?} vs {an:?}", t.kind());
            }
        }
    }

    #[test]
    fn euler3d_equals_core_rigid_euler_and_conversions_round_trip() {
        let t = LinearTransform::euler3d([0.1, -0.2, 0.3], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]).unwrap();
        let core = AffineTransform::rigid_euler([0.1, -0.2, 0.3], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);
        let p = [10.0, -3.0, 2.0];
        // 1e-12: the same products in f64.
        assert!(close(t.transform_point(p), core.transform_point(p), 1e-12));
        for kind in [LinearKind::Versor3D, LinearKind::Similarity3D, LinearKind::Affine3D] {
            let c = t.convert(kind).unwrap();
            // 1e-10 mm: quaternion extraction in f64.
            assert!(close(c.transform_point(p), t.transform_point(p), 1e-10), "{kind:?}");
            let back = c.convert(LinearKind::Euler3D).unwrap();
            for (a, b) in back.parameters().iter().zip(t.parameters()) {
                assert!((a - b).abs() < 1e-10);
            }
        }
        // A shear is not rigid.
        let aff = LinearTransform::new(
            LinearKind::Affine3D,
            vec![1.0, 0.2, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            [0.0; 3],
        )
        .unwrap();
        assert!(aff.convert(LinearKind::Euler3D).is_err());
        assert!(aff.convert(LinearKind::Euler2D).is_err());
    }

    #[test]
    fn inverse_and_center_moves_keep_the_map() {
        for t in all_kinds() {
            let inv = t.inverse().unwrap();
            let p = [1.0, 2.0, if t.dimension() == 2 { 0.0 } else { 3.0 }];
            // 1e-9 mm: an inverse 3×3 in f64 and a decomposition.
            assert!(close(inv.transform_point(t.transform_point(p)), p, 1e-9), "{:?}", t.kind());
            let mut m = t.clone();
            m.set_center_keeping_map([-7.0, 8.0, 1.0]);
            assert!(close(m.transform_point(p), t.transform_point(p), 1e-9), "{:?}", t.kind());
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(LinearTransform::new(LinearKind::Euler3D, vec![0.0; 5], [0.0; 3]).is_err());
        assert!(
            LinearTransform::new(LinearKind::Versor3D, vec![0.8, 0.8, 0.0, 0.0, 0.0, 0.0], [0.0; 3]).is_err()
        );
        assert!(LinearTransform::new(LinearKind::Translation3D, vec![f64::NAN, 0.0, 0.0], [0.0; 3]).is_err());
        let mut t = LinearTransform::identity(LinearKind::Euler3D, [0.0; 3]);
        t.set_compute_zyx(true);
        t.set_parameters(&[0.1, 0.2, 0.3, 0.0, 0.0, 0.0]).unwrap();
        let m = mul3(&rot_z(0.3), &rot_y(0.2), &rot_x(0.1));
        assert!(max_abs_diff(&t.matrix(), &m) < 1e-15);
    }
}
