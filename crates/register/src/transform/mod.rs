//! Transforms: every one maps **fixed-image points to moving-image points** (world LPS, mm),
//! the ITK convention of [`hounsfield_core::Transform`], so resampling the moving image
//! through a registration's transform onto the fixed grid aligns it with the fixed image.
//!
//! | type | what | parameters | ITK file |
//! |---|---|---|---|
//! | [`LinearTransform`] | translation, rigid (Euler, versor), similarity, affine; 2-D and 3-D | [`LinearKind`] | yes |
//! | [`BSplineTransform`] | cubic B-spline free-form deformation (Rueckert 1999) | coefficients | yes |
//! | [`DisplacementField`] | dense displacement | — | NIfTI vector image |
//! | [`StationaryVelocityField`] | `exp(v)` by scaling and squaring, exact inverse `exp(−v)` | — | NIfTI (the forward field) |
//! | [`AnyTransform::Composite`] | a chain, ITK `CompositeTransform` order | — | yes, when its parts are |
//!
//! [`ParametricTransform`] is what optimizers move: parameters and the Jacobian
//! `∂T(p)/∂θ` (as a transposed product). [`init`] gives centre-of-mass and geometric-centre
//! starting points.

pub mod bspline;
pub mod field;
pub mod init;
pub mod itk;
pub mod linear;

use std::path::Path;

use hounsfield_core::linalg::{self, Vec3};
use hounsfield_core::{Affine3, DisplacementField, Geometry, Transform};

pub use bspline::{BSplineTransform, BendingEnergy};
pub use field::StationaryVelocityField;
pub use linear::{LinearKind, LinearTransform};

use crate::error::{bad_params, RegisterError};

/// A transform with optimizable parameters.
pub trait ParametricTransform: Transform {
    /// Number of parameters.
    fn num_parameters(&self) -> usize;
    /// The parameters (ITK order).
    fn parameters(&self) -> Vec<f64>;
    /// Replaces the parameters.
    fn set_parameters(&mut self, p: &[f64]) -> Result<(), RegisterError>;
    /// `out[j] += Σ_c v_c · ∂T_c(p)/∂θ_j`: the transposed Jacobian at `p` applied to `v` (how a
    /// metric's derivative with respect to the mapped point becomes one with respect to the
    /// parameters).
    fn add_jacobian_transpose(&self, p: Vec3, v: Vec3, out: &mut [f64]);
}

impl ParametricTransform for LinearTransform {
    fn num_parameters(&self) -> usize {
        self.kind().num_parameters()
    }
    fn parameters(&self) -> Vec<f64> {
        LinearTransform::parameters(self).to_vec()
    }
    fn set_parameters(&mut self, p: &[f64]) -> Result<(), RegisterError> {
        LinearTransform::set_parameters(self, p)
    }
    fn add_jacobian_transpose(&self, p: Vec3, v: Vec3, out: &mut [f64]) {
        let q = linalg::sub(p, self.center());
        for (o, (dm, dt)) in out.iter_mut().zip(self.derivatives()) {
            *o += linalg::dot(v, linalg::add(linalg::mat_vec(&dm, q), dt));
        }
    }
}

impl ParametricTransform for BSplineTransform {
    fn num_parameters(&self) -> usize {
        self.coefficients().len()
    }
    fn parameters(&self) -> Vec<f64> {
        self.coefficients().to_vec()
    }
    fn set_parameters(&mut self, p: &[f64]) -> Result<(), RegisterError> {
        self.set_coefficients(p)
    }
    fn add_jacobian_transpose(&self, p: Vec3, v: Vec3, out: &mut [f64]) {
        if let Some(s) = self.support(p) {
            self.add_jacobian_transpose_at(&s, v, out);
        }
    }
}

/// Any transform Hounsfield reads, writes or produces.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // a handful per registration: size does not matter
pub enum AnyTransform {
    /// The identity (`IdentityTransform` in ITK files) of a dimension (2 or 3).
    Identity {
        /// 2 or 3.
        dimension: usize,
    },
    /// Translation, rigid, similarity or affine.
    Linear(LinearTransform),
    /// Cubic B-spline free-form deformation.
    BSpline(BSplineTransform),
    /// Dense displacement field.
    Field(DisplacementField),
    /// Stationary velocity field (the transform is its exponential).
    Velocity(StationaryVelocityField),
    /// A chain in ITK `CompositeTransform` order: `[T0, T1, …, Tn]` maps `p` to
    /// `T0(T1(…Tn(p)))` (the last one is applied first), the order of the transforms in an
    /// ITK composite file. A registration that refines an affine `A` with a deformation `D`
    /// gives `[A, D]`.
    Composite(Vec<AnyTransform>),
}

impl Transform for AnyTransform {
    fn transform_point(&self, p: Vec3) -> Vec3 {
        match self {
            AnyTransform::Identity { .. } => p,
            AnyTransform::Linear(t) => t.transform_point(p),
            AnyTransform::BSpline(t) => t.transform_point(p),
            AnyTransform::Field(t) => t.transform_point(p),
            AnyTransform::Velocity(t) => t.transform_point(p),
            AnyTransform::Composite(v) => v.iter().rev().fold(p, |q, t| t.transform_point(q)),
        }
    }
    fn as_affine(&self) -> Option<Affine3> {
        match self {
            AnyTransform::Identity { .. } => Some(Affine3 { m: linalg::IDENTITY3, t: [0.0; 3] }),
            AnyTransform::Linear(t) => Some(t.to_affine3()),
            AnyTransform::Composite(v) => {
                v.iter().rev().try_fold(Affine3 { m: linalg::IDENTITY3, t: [0.0; 3] }, |acc, t| {
                    Some(t.as_affine()?.compose(&acc))
                })
            }
            _ => None,
        }
    }
}

impl From<LinearTransform> for AnyTransform {
    fn from(t: LinearTransform) -> Self {
        AnyTransform::Linear(t)
    }
}
impl From<BSplineTransform> for AnyTransform {
    fn from(t: BSplineTransform) -> Self {
        AnyTransform::BSpline(t)
    }
}
impl From<DisplacementField> for AnyTransform {
    fn from(t: DisplacementField) -> Self {
        AnyTransform::Field(t)
    }
}
impl From<StationaryVelocityField> for AnyTransform {
    fn from(t: StationaryVelocityField) -> Self {
        AnyTransform::Velocity(t)
    }
}

impl AnyTransform {
    /// `outer ∘ inner`: first `inner`, then `outer` (a flattened composite `[outer, inner]`).
    pub fn compose(outer: AnyTransform, inner: AnyTransform) -> AnyTransform {
        let mut v = Vec::new();
        for t in [outer, inner] {
            match t {
                AnyTransform::Composite(c) => v.extend(c),
                AnyTransform::Identity { .. } => {}
                t => v.push(t),
            }
        }
        match v.len() {
            0 => AnyTransform::Identity { dimension: 3 },
            1 => v.pop().unwrap_or(AnyTransform::Identity { dimension: 3 }),
            _ => AnyTransform::Composite(v),
        }
    }

    /// Chains transforms listed in the order they act on a point: the first one is applied to
    /// the point first (the reverse of the composite order).
    pub fn chain(in_application_order: Vec<AnyTransform>) -> AnyTransform {
        in_application_order
            .into_iter()
            .fold(AnyTransform::Identity { dimension: 3 }, |acc, t| AnyTransform::compose(t, acc))
    }

    /// The spatial dimension when known (2 or 3); dense fields report 3 unless their grid is a
    /// single slice.
    pub fn dimension(&self) -> usize {
        match self {
            AnyTransform::Identity { dimension } => *dimension,
            AnyTransform::Linear(t) => t.dimension(),
            AnyTransform::BSpline(t) => t.dimension(),
            AnyTransform::Field(f) => {
                if f.dims()[2] == 1 {
                    2
                } else {
                    3
                }
            }
            AnyTransform::Velocity(v) => {
                if v.velocity().dims()[2] == 1 {
                    2
                } else {
                    3
                }
            }
            AnyTransform::Composite(c) => c.iter().map(|t| t.dimension()).max().unwrap_or(3),
        }
    }

    /// True when every part is linear (the whole map is affine).
    pub fn is_linear(&self) -> bool {
        self.as_affine().is_some()
    }

    /// The inverse map when it is known exactly: linear transforms, stationary velocity fields
    /// and composites of them. B-splines and plain displacement fields have no closed-form
    /// inverse (an error says so).
    pub fn inverse(&self) -> Result<AnyTransform, RegisterError> {
        Ok(match self {
            AnyTransform::Identity { dimension } => AnyTransform::Identity { dimension: *dimension },
            AnyTransform::Linear(t) => AnyTransform::Linear(t.inverse()?),
            AnyTransform::Velocity(v) => AnyTransform::Velocity(v.inverse()),
            AnyTransform::Composite(c) => {
                AnyTransform::Composite(c.iter().rev().map(|t| t.inverse()).collect::<Result<_, _>>()?)
            }
            AnyTransform::BSpline(t) => {
                return Err(bad_params(t.itk_name(), "a B-spline deformation has no closed-form inverse"))
            }
            AnyTransform::Field(_) => {
                return Err(bad_params(
                    "displacement field",
                    "a displacement field has no closed-form inverse",
                ))
            }
        })
    }

    /// The displacement `T(x) − x` sampled at every voxel of a grid.
    pub fn to_field(
        &self,
        dims: [usize; 3],
        geometry: &Geometry,
    ) -> Result<DisplacementField, RegisterError> {
        field::sample_transform(self, dims, geometry)
    }

    /// Maps points (e.g. fixed-image landmarks to the moving image).
    pub fn transform_points(&self, points: &[Vec3]) -> Vec<Vec3> {
        points.iter().map(|p| self.transform_point(*p)).collect()
    }

    /// Reads a transform: an ITK text file (`.tfm`, `.txt`, anything else) or a displacement
    /// field as a NIfTI vector image in the ITK/ANTs convention (`.nii`, `.nii.gz`).
    pub fn read(path: &Path) -> Result<AnyTransform, RegisterError> {
        if is_nifti(path) {
            let comps = hounsfield_io::nifti::read_vector_field(path)?;
            Ok(AnyTransform::Field(DisplacementField::from_components(&comps)?))
        } else {
            let entries = hounsfield_io::itk_transform::read(path)?;
            itk::from_entries(&entries, Some(path))
        }
    }

    /// Writes a transform: ITK text for linear and B-spline transforms and their composites,
    /// a NIfTI vector image (ITK/ANTs convention) for a `.nii`/`.nii.gz` path (dense fields
    /// are written as they are; a velocity field as its exponential; others are refused: sample
    /// them with [`AnyTransform::to_field`] first).
    pub fn write(&self, path: &Path) -> Result<(), RegisterError> {
        if is_nifti(path) {
            let field = match self {
                AnyTransform::Field(f) => f,
                AnyTransform::Velocity(v) => v.forward(),
                _ => {
                    return Err(RegisterError::ExportTransform {
                        reason: "only a dense field can be written as a NIfTI vector image; sample the \
                                 transform on a grid first (to_field)"
                            .into(),
                    })
                }
            };
            hounsfield_io::nifti::write_vector_field(path, &field.to_components())?;
            Ok(())
        } else {
            let entries = itk::to_entries(self)?;
            hounsfield_io::itk_transform::write(path, &entries)?;
            Ok(())
        }
    }
}

/// True for `.nii` and `.nii.gz` names.
pub(crate) fn is_nifti(path: &Path) -> bool {
    let n = path.file_name().map(|s| s.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    n.ends_with(".nii") || n.ends_with(".nii.gz")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_applies_the_last_transform_first_like_itk() {
        // SimpleITK: CompositeTransform([Translation(1,2,3), Euler(z = 90°)]) maps (1,0,0) to
        // (1, 3, 3): the rotation first.
        let t = LinearTransform::translation([1.0, 2.0, 3.0], 3).unwrap();
        let r =
            LinearTransform::euler3d([0.0, 0.0, std::f64::consts::FRAC_PI_2], [0.0; 3], [0.0; 3]).unwrap();
        let c = AnyTransform::Composite(vec![t.into(), r.into()]);
        let q = c.transform_point([1.0, 0.0, 0.0]);
        // 1e-12: two f64 maps.
        assert!(
            (q[0] - 1.0).abs() < 1e-12 && (q[1] - 3.0).abs() < 1e-12 && (q[2] - 3.0).abs() < 1e-12,
            "{q:?}"
        );
        let a = c.as_affine().unwrap().apply([1.0, 0.0, 0.0]);
        assert!((a[1] - 3.0).abs() < 1e-12);
        let inv = c.inverse().unwrap();
        let back = inv.transform_point(q);
        assert!((back[0] - 1.0).abs() < 1e-12 && back[1].abs() < 1e-12 && back[2].abs() < 1e-12);
    }

    #[test]
    fn chain_lists_application_order() {
        let t = AnyTransform::from(LinearTransform::translation([1.0, 0.0, 0.0], 3).unwrap());
        let s = AnyTransform::from(
            LinearTransform::new(
                LinearKind::Affine3D,
                vec![2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                [0.0; 3],
            )
            .unwrap(),
        );
        // Translate first, then scale x by 2: 0 → 1 → 2.
        let c = AnyTransform::chain(vec![t, s]);
        assert_eq!(c.transform_point([0.0; 3])[0], 2.0);
    }
}
