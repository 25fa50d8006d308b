//! Starting points for linear registration (ITK `CenteredTransformInitializer`): the centre
//! of rotation is put at the fixed image's centre and the translation maps it onto the
//! moving image's centre, either the centre of the grid (geometry) or the intensity centre
//! of mass (moments).

use hounsfield_core::linalg::Vec3;
use hounsfield_core::{Geometry, Volume};

use super::{LinearKind, LinearTransform};
use crate::error::RegisterError;

/// How a linear registration starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Initialization {
    /// Identity map, rotation centre at the fixed image's grid centre.
    Identity,
    /// Grid centres aligned (the default: robust to intensity differences between modalities,
    /// as ITK's `CenteredTransformInitializer` in geometry mode).
    #[default]
    Geometry,
    /// Intensity centres of mass aligned (ITK's moments mode): better when the anatomy is off
    /// centre in one field of view; intensities are shifted to start at 0 first, so CT (negative
    /// HU) works.
    Moments,
}

/// The world position of the centre of the grid (the middle of the voxel centres).
pub fn geometric_center(dims: [usize; 3], geometry: &Geometry) -> Vec3 {
    geometry.index_to_world([
        (dims[0] as f64 - 1.0) / 2.0,
        (dims[1] as f64 - 1.0) / 2.0,
        (dims[2] as f64 - 1.0) / 2.0,
    ])
}

/// The intensity-weighted centre of mass (mm) of `vol` inside `mask` (non-zero voxels), with
/// weights `v − min` (min over the masked voxels) so that negative intensities are allowed.
/// Fails on an empty mask or a constant image.
pub fn center_of_mass(
    vol: &Volume<f32>,
    mask: Option<&Volume<u8>>,
    which: &'static str,
) -> Result<Vec3, RegisterError> {
    if let Some(m) = mask {
        vol.require_same_grid(m)?;
    }
    let inside = |o: usize| mask.is_none_or(|m| m.data()[o] != 0);
    let d = vol.data();
    let lo = (0..d.len())
        .filter(|&o| inside(o))
        .map(|o| d[o] as f64)
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    if !lo.is_finite() {
        return Err(RegisterError::EmptyMask { which, detail: String::new() });
    }
    let [nx, ny, _] = vol.dims();
    let (mut s, mut sw) = ([0.0f64; 3], 0.0f64);
    for (o, &v) in d.iter().enumerate() {
        let w = v as f64 - lo;
        if !inside(o) || w.is_nan() || w <= 0.0 {
            continue;
        }
        let idx = [(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64];
        for a in 0..3 {
            s[a] += w * idx[a];
        }
        sw += w;
    }
    if sw <= 0.0 {
        return Err(RegisterError::ConstantImage { which, value: lo });
    }
    Ok(vol.geometry().index_to_world(s.map(|v| v / sw)))
}

/// The starting transform of `kind`: centre at the fixed image's centre (grid centre, or
/// centre of mass with [`Initialization::Moments`]) and translation onto the moving image's.
pub fn initial_transform(
    kind: LinearKind,
    fixed: &Volume<f32>,
    moving: &Volume<f32>,
    init: Initialization,
    fixed_mask: Option<&Volume<u8>>,
    moving_mask: Option<&Volume<u8>>,
) -> Result<LinearTransform, RegisterError> {
    let (cf, cm) = match init {
        Initialization::Identity => {
            let c = geometric_center(fixed.dims(), fixed.geometry());
            (c, c)
        }
        Initialization::Geometry => (
            geometric_center(fixed.dims(), fixed.geometry()),
            geometric_center(moving.dims(), moving.geometry()),
        ),
        Initialization::Moments => {
            (center_of_mass(fixed, fixed_mask, "fixed")?, center_of_mass(moving, moving_mask, "moving")?)
        }
    };
    let mut t = LinearTransform::identity(kind, cf);
    let shift = [cm[0] - cf[0], cm[1] - cf[1], if kind.dimension() == 2 { 0.0 } else { cm[2] - cf[2] }];
    let mut p = t.parameters().to_vec();
    let idx: &[usize] = match kind {
        LinearKind::Translation2D | LinearKind::Translation3D => &[0, 1, 2],
        LinearKind::Euler2D => &[1, 2],
        LinearKind::Similarity2D => &[2, 3],
        LinearKind::Affine2D => &[4, 5],
        LinearKind::Affine3D => &[9, 10, 11],
        _ => &[3, 4, 5],
    };
    for (k, &i) in idx.iter().enumerate().take(kind.dimension()) {
        p[i] = shift[k];
    }
    t.set_parameters(&p)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Transform;

    #[test]
    fn moments_align_centres_of_mass() {
        let g = Geometry { origin: [-10.0, 0.0, 5.0], spacing: [2.0, 1.0, 1.0], ..Geometry::default() };
        let mut f = Volume::<f32>::filled([10, 10, 10], g, -1000.0).unwrap();
        let mut m = f.clone();
        *f.get_mut(2, 3, 4).unwrap() = 0.0;
        *m.get_mut(5, 3, 4).unwrap() = 0.0;
        let t = initial_transform(LinearKind::Euler3D, &f, &m, Initialization::Moments, None, None).unwrap();
        let cf = f.index_to_world(2.0, 3.0, 4.0);
        let cm = m.index_to_world(5.0, 3.0, 4.0);
        let q = t.transform_point(cf);
        // 1e-9 mm: a weighted mean of one voxel.
        assert!((0..3).all(|a| (q[a] - cm[a]).abs() < 1e-9), "{q:?} vs {cm:?}");
        let empty = Volume::<u8>::zeros([10, 10, 10], g).unwrap();
        assert!(matches!(center_of_mass(&f, Some(&empty), "fixed"), Err(RegisterError::EmptyMask { .. })));
        let flat = Volume::<f32>::filled([10, 10, 10], g, 3.0).unwrap();
        assert!(matches!(center_of_mass(&flat, None, "moving"), Err(RegisterError::ConstantImage { .. })));
    }
}
