//! Conversion between [`AnyTransform`] and the entries of an ITK text transform file
//! ([`hounsfield_io::itk_transform`]).
//!
//! | ITK class (`_double_` or `_float_`, `_2_2` or `_3_3`) | becomes |
//! |---|---|
//! | `IdentityTransform` | [`AnyTransform::Identity`] |
//! | `TranslationTransform` | [`LinearKind::Translation2D`] / [`LinearKind::Translation3D`] |
//! | `Euler2DTransform`, `Rigid2DTransform` | [`LinearKind::Euler2D`] |
//! | `Euler3DTransform` (with `ComputeZYX`) | [`LinearKind::Euler3D`] |
//! | `VersorRigid3DTransform` | [`LinearKind::Versor3D`] |
//! | `Similarity2DTransform`, `Similarity3DTransform` | [`LinearKind::Similarity2D`] / [`LinearKind::Similarity3D`] |
//! | `AffineTransform`, `MatrixOffsetTransformBase` | [`LinearKind::Affine2D`] / [`LinearKind::Affine3D`] |
//! | `BSplineTransform`, `BSplineDeformableTransform` (order 3) | [`BSplineTransform`] |
//! | `CompositeTransform` followed by its parts | [`AnyTransform::Composite`] |
//!
//! A file holding several transforms without a composite header is read as a composite of
//! them in file order. Any other class is a [`RegisterError::UnknownTransformType`].

use std::path::Path;

use hounsfield_io::itk_transform::ItkTransformEntry;

use super::{AnyTransform, BSplineTransform, LinearKind, LinearTransform};
use crate::error::{bad_params, RegisterError};

/// The class name without template arguments, and the dimension (`Euler3DTransform_double_3_3`
/// → `("Euler3DTransform", 3)`).
fn split_name(name: &str) -> (&str, Option<usize>) {
    let mut parts = name.split('_');
    let base = parts.next().unwrap_or(name);
    let rest: Vec<&str> = parts.collect();
    let dim = match rest.as_slice() {
        [_, a, b] if a == b => a.parse().ok(),
        _ => None,
    };
    (base, dim)
}

fn unknown(name: &str, path: Option<&Path>) -> RegisterError {
    RegisterError::UnknownTransformType { type_name: name.to_owned(), path: path.map(Path::to_path_buf) }
}

/// One non-composite entry.
fn from_entry(e: &ItkTransformEntry, path: Option<&Path>) -> Result<AnyTransform, RegisterError> {
    let (base, dim) = split_name(&e.type_name);
    let dim = match dim {
        Some(d @ (2 | 3)) => d,
        _ => return Err(unknown(&e.type_name, path)),
    };
    let fixed = &e.fixed_parameters;
    let center = |n: usize| -> Result<[f64; 3], RegisterError> {
        if fixed.len() < n {
            return Err(bad_params(&e.type_name, format!("{} fixed parameters, expected {n}", fixed.len())));
        }
        let mut c = [0.0; 3];
        c[..n].copy_from_slice(&fixed[..n]);
        Ok(c)
    };
    let linear = |kind: LinearKind| -> Result<AnyTransform, RegisterError> {
        let c = if matches!(kind, LinearKind::Translation2D | LinearKind::Translation3D) {
            [0.0; 3]
        } else {
            center(dim)?
        };
        let t = LinearTransform::new(kind, e.parameters.clone(), c)
            .map_err(|err| bad_params(&e.type_name, err.to_string()))?;
        Ok(AnyTransform::Linear(t))
    };
    match (base, dim) {
        ("IdentityTransform", d) => Ok(AnyTransform::Identity { dimension: d }),
        ("TranslationTransform", 2) => linear(LinearKind::Translation2D),
        ("TranslationTransform", 3) => linear(LinearKind::Translation3D),
        ("Euler2DTransform" | "Rigid2DTransform", 2) => linear(LinearKind::Euler2D),
        ("Euler3DTransform", 3) => {
            let mut t = match linear(LinearKind::Euler3D)? {
                AnyTransform::Linear(t) => t,
                other => return Ok(other),
            };
            if fixed.get(3).is_some_and(|&z| z != 0.0) {
                t.set_compute_zyx(true);
            }
            Ok(AnyTransform::Linear(t))
        }
        ("VersorRigid3DTransform", 3) => linear(LinearKind::Versor3D),
        ("Similarity2DTransform", 2) => linear(LinearKind::Similarity2D),
        ("Similarity3DTransform", 3) => linear(LinearKind::Similarity3D),
        ("AffineTransform" | "MatrixOffsetTransformBase", 2) => linear(LinearKind::Affine2D),
        ("AffineTransform" | "MatrixOffsetTransformBase", 3) => linear(LinearKind::Affine3D),
        ("BSplineTransform" | "BSplineDeformableTransform", d) => {
            Ok(AnyTransform::BSpline(BSplineTransform::from_itk(d, &e.parameters, fixed)?))
        }
        _ => Err(unknown(&e.type_name, path)),
    }
}

/// The transform an ITK file's entries describe (see the [module docs](self)).
pub fn from_entries(
    entries: &[ItkTransformEntry],
    path: Option<&Path>,
) -> Result<AnyTransform, RegisterError> {
    let is_composite = |e: &ItkTransformEntry| split_name(&e.type_name).0 == "CompositeTransform";
    let parts: Vec<&ItkTransformEntry> = match entries.split_first() {
        Some((first, rest)) if is_composite(first) => rest.iter().collect(),
        _ => entries.iter().collect(),
    };
    if let Some(nested) = parts.iter().find(|e| is_composite(e)) {
        return Err(bad_params(
            &nested.type_name,
            "nested composite headers are not supported (ITK writes them flat)",
        ));
    }
    let mut ts = parts.into_iter().map(|e| from_entry(e, path)).collect::<Result<Vec<_>, _>>()?;
    let composite = entries.first().is_some_and(is_composite);
    match ts.len() {
        0 => Ok(AnyTransform::Composite(Vec::new())),
        1 if !composite => Ok(ts.remove(0)),
        _ => Ok(AnyTransform::Composite(ts)),
    }
}

/// The ITK entries of a transform (a composite header first for a composite). Dense fields
/// cannot be stored in the text format (an [`RegisterError::ExportTransform`] says what to do).
pub fn to_entries(t: &AnyTransform) -> Result<Vec<ItkTransformEntry>, RegisterError> {
    let entry = |type_name: String, parameters: Vec<f64>, fixed_parameters: Vec<f64>| ItkTransformEntry {
        type_name,
        parameters,
        fixed_parameters,
    };
    Ok(match t {
        AnyTransform::Composite(parts) => {
            let d = t.dimension();
            let mut out = vec![entry(format!("CompositeTransform_double_{d}_{d}"), vec![], vec![])];
            for p in parts {
                let sub = to_entries(p)?;
                // A nested composite is written flat, as ITK does.
                let skip = usize::from(matches!(p, AnyTransform::Composite(_)));
                out.extend(sub.into_iter().skip(skip));
            }
            out
        }
        AnyTransform::Identity { dimension } => {
            vec![entry(format!("IdentityTransform_double_{dimension}_{dimension}"), vec![], vec![])]
        }
        AnyTransform::Linear(l) => {
            vec![entry(l.kind().itk_name().to_owned(), l.parameters().to_vec(), l.itk_fixed_parameters())]
        }
        AnyTransform::BSpline(b) => {
            vec![entry(b.itk_name().to_owned(), b.coefficients().to_vec(), b.itk_fixed_parameters())]
        }
        AnyTransform::Field(_) | AnyTransform::Velocity(_) => {
            return Err(RegisterError::ExportTransform {
                reason: "a dense displacement or velocity field cannot be stored in an ITK text transform \
                         file; write it as a NIfTI vector image (.nii.gz)"
                    .into(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Transform;
    use hounsfield_io::itk_transform::parse;

    #[test]
    fn reads_what_simpleitk_writes() {
        let text = "#Insight Transform File V1.0\n#Transform 0\nTransform: CompositeTransform_double_3_3\n\
                    #Transform 1\nTransform: TranslationTransform_double_3_3\nParameters: 1 2 3\nFixedParameters: \n\
                    #Transform 2\nTransform: Euler3DTransform_double_3_3\nParameters: 0 0 1.5707963267948966 0 0 0\n\
                    FixedParameters: 0 0 0 0\n";
        let t = from_entries(&parse(text).unwrap(), None).unwrap();
        let q = t.transform_point([1.0, 0.0, 0.0]);
        // SimpleITK gives (1, 3, 3) for this file. 1e-12: f64 rotation by π/2.
        assert!((q[0] - 1.0).abs() < 1e-12 && (q[1] - 3.0).abs() < 1e-12 && (q[2] - 3.0).abs() < 1e-12);
        let back = from_entries(&to_entries(&t).unwrap(), None).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn unknown_types_and_bad_counts_are_typed_errors() {
        let text = "#Insight Transform File V1.0\nTransform: ThinPlateSplineKernelTransform_double_3_3\nParameters: 1\n";
        let e = from_entries(&parse(text).unwrap(), Some(Path::new("t.tfm"))).unwrap_err();
        assert!(matches!(e, RegisterError::UnknownTransformType { .. }), "{e}");
        assert!(e.to_string().contains("ThinPlateSplineKernelTransform") && e.to_string().contains("t.tfm"));
        let text = "#Insight Transform File V1.0\nTransform: Euler3DTransform_double_3_3\nParameters: 1 2\nFixedParameters: 0 0 0\n";
        let e = from_entries(&parse(text).unwrap(), None).unwrap_err();
        assert!(matches!(e, RegisterError::TransformParameters { .. }), "{e}");
        let text = "#Insight Transform File V1.0\nTransform: Euler3DTransform_double_3_3\nParameters: 0 0 0 1 2 3\nFixedParameters: 0\n";
        assert!(from_entries(&parse(text).unwrap(), None).is_err());
    }
}
