//! Resampling onto a new grid through a [`Transform`], ITK's convention: the transform maps
//! each **output** grid point (world, mm) to the **input** image's world frame, where the
//! input is interpolated (ITK `ResampleImageFilter`, SimpleITK `Resample`).
//!
//! When `transform.as_affine()` is `Some`, output index → world → transform → input index is
//! composed into one [`Affine3`] and stepped along each output row (one multiply-add per
//! coordinate per voxel); other transforms are evaluated voxel by voxel. Rows run in parallel.

use crate::interpolate::{inside, BSplineInterpolator, Interpolation, LinearInterpolator, NearestInterpolator};
use crate::ImgprocError;
use hounsfield_core::{checked_voxels, Affine3, Geometry, LabelVolume, Scalar, Transform, Volume};
use rayon::prelude::*;

/// Resamples `vol` onto the grid `dims` × `geometry`: the output voxel at world point `p`
/// takes the input's interpolated value at `transform.transform_point(p)`, or
/// `default_value` where that point is outside the input (beyond the half-voxel border, see
/// [`crate::interpolate`]).
///
/// The output has the input's voxel type: interpolated values are rounded to nearest and
/// saturated for integer types ([`Scalar::from_f64`]). For label maps use
/// [`resample_labels`], which only ever takes nearest-neighbour values.
pub fn resample<T: Scalar>(
    vol: &Volume<T>,
    dims: [usize; 3],
    geometry: &Geometry,
    transform: &dyn Transform,
    interpolation: Interpolation,
    default_value: T,
) -> Result<Volume<T>, ImgprocError> {
    let n = checked_voxels(dims, std::mem::size_of::<T>())?;
    let grid = Grid::new(vol, dims, geometry, transform)?;
    let mut out = vec![default_value; n];
    match interpolation {
        Interpolation::Nearest => {
            let s = NearestInterpolator::new(vol);
            grid.fill(&mut out, default_value, |idx| s.voxel(idx));
        }
        Interpolation::Linear => {
            let s = LinearInterpolator::new(vol);
            let d = vol.dims();
            grid.fill(&mut out, default_value, |idx| {
                inside(d, idx).then(|| T::from_f64(s.value_unchecked_bounds(idx)))
            });
        }
        Interpolation::BSpline3 => {
            use crate::interpolate::Interpolator;
            let s = BSplineInterpolator::new(vol)?;
            grid.fill(&mut out, default_value, |idx| s.value(idx).map(T::from_f64));
        }
    }
    Ok(Volume::from_vec(dims, *geometry, out)?)
}

/// Resamples a label map (nearest neighbour only, so no label is ever invented); voxels that
/// fall outside the input get `default_label`.
pub fn resample_labels(
    labels: &LabelVolume,
    dims: [usize; 3],
    geometry: &Geometry,
    transform: &dyn Transform,
    default_label: u16,
) -> Result<LabelVolume, ImgprocError> {
    let v = resample(labels.as_volume(), dims, geometry, transform, Interpolation::Nearest, default_label)?;
    Ok(LabelVolume::new(v))
}

/// The grid with spacing `new_spacing` (mm) covering the same physical extent around the same
/// centre: `n' = round(n · s / s')` (at least 1) voxels per axis, same direction, and the
/// centre of the grid unchanged (the usual "resample to isotropic" step).
pub fn grid_for_spacing(
    dims: [usize; 3],
    geometry: &Geometry,
    new_spacing: [f64; 3],
) -> Result<([usize; 3], Geometry), ImgprocError> {
    if new_spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(ImgprocError::Resample {
            reason: format!("spacing must be positive and finite, got {new_spacing:?}"),
        });
    }
    let mut nd = [0usize; 3];
    for a in 0..3 {
        let n = (dims[a] as f64 * geometry.spacing[a] / new_spacing[a]).round().max(1.0);
        if n > (1u64 << 40) as f64 {
            return Err(ImgprocError::Resample {
                reason: format!("spacing {new_spacing:?} gives more than 2^40 voxels along axis {a}"),
            });
        }
        nd[a] = n as usize;
    }
    let centre = geometry.index_to_world([
        (dims[0] as f64 - 1.0) / 2.0,
        (dims[1] as f64 - 1.0) / 2.0,
        (dims[2] as f64 - 1.0) / 2.0,
    ]);
    let mut g = Geometry { spacing: new_spacing, ..*geometry };
    let half = g.index_to_world_affine().apply_vector([
        (nd[0] as f64 - 1.0) / 2.0,
        (nd[1] as f64 - 1.0) / 2.0,
        (nd[2] as f64 - 1.0) / 2.0,
    ]);
    g.origin = [centre[0] - half[0], centre[1] - half[1], centre[2] - half[2]];
    Ok((nd, g))
}

/// Resamples `vol` to `new_spacing` (mm) over the same physical extent and centre (see
/// [`grid_for_spacing`]); voxels outside the input (at most half a new voxel at the edges)
/// get `T::default()` (0).
pub fn resample_to_spacing<T: Scalar>(
    vol: &Volume<T>,
    new_spacing: [f64; 3],
    interpolation: Interpolation,
) -> Result<Volume<T>, ImgprocError> {
    let (dims, g) = grid_for_spacing(vol.dims(), vol.geometry(), new_spacing)?;
    resample(vol, dims, &g, &hounsfield_core::IdentityTransform, interpolation, T::default())
}

/// [`resample_to_spacing`] for label maps (nearest neighbour; background outside).
pub fn resample_labels_to_spacing(labels: &LabelVolume, new_spacing: [f64; 3]) -> Result<LabelVolume, ImgprocError> {
    let (dims, g) = grid_for_spacing(labels.dims(), labels.geometry(), new_spacing)?;
    resample_labels(labels, dims, &g, &hounsfield_core::IdentityTransform, 0)
}

/// The output grid and the map from output index to input index.
struct Grid<'a> {
    dims: [usize; 3],
    out_i2w: Affine3,
    in_w2i: Affine3,
    transform: &'a dyn Transform,
    /// Output index → input index when the transform is affine.
    fast: Option<Affine3>,
}

impl<'a> Grid<'a> {
    fn new<T>(
        vol: &Volume<T>,
        dims: [usize; 3],
        geometry: &Geometry,
        transform: &'a dyn Transform,
    ) -> Result<Self, ImgprocError> {
        geometry.validate_with(false).map_err(|e| ImgprocError::Resample { reason: format!("output grid: {e}") })?;
        let in_w2i = vol
            .geometry()
            .world_to_index_affine()
            .map_err(|e| ImgprocError::Resample { reason: format!("input grid: {e}") })?;
        let out_i2w = geometry.index_to_world_affine();
        let fast = transform.as_affine().map(|a| in_w2i.compose(&a.compose(&out_i2w)));
        Ok(Self { dims, out_i2w, in_w2i, transform, fast })
    }

    /// Fills `out` row by row in parallel with `sample(input index)` or `default`.
    fn fill<T: Scalar>(&self, out: &mut [T], default: T, sample: impl Fn([f64; 3]) -> Option<T> + Sync) {
        let [nx, ny, _] = self.dims;
        out.par_chunks_mut(nx).enumerate().for_each(|(r, row)| {
            let (j, k) = ((r % ny) as f64, (r / ny) as f64);
            match &self.fast {
                Some(m) => {
                    let base = m.apply([0.0, j, k]);
                    let step = [m.m[0][0], m.m[1][0], m.m[2][0]];
                    for (i, o) in row.iter_mut().enumerate() {
                        let fi = i as f64;
                        let idx = [base[0] + fi * step[0], base[1] + fi * step[1], base[2] + fi * step[2]];
                        *o = sample(idx).unwrap_or(default);
                    }
                }
                None => {
                    for (i, o) in row.iter_mut().enumerate() {
                        let p = self.out_i2w.apply([i as f64, j, k]);
                        let idx = self.in_w2i.apply(self.transform.transform_point(p));
                        *o = sample(idx).unwrap_or(default);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::{AffineTransform, IdentityTransform};

    fn ramp(dims: [usize; 3], g: Geometry, a: [f64; 3], c: f64) -> Volume<f64> {
        let mut v = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    v.push(c + a[0] * p[0] + a[1] * p[1] + a[2] * p[2]);
                }
            }
        }
        Volume::from_vec(dims, g, v).unwrap()
    }

    /// A transform that is affine but does not say so: exercises the per-voxel path.
    #[derive(Debug)]
    struct Opaque(AffineTransform);
    impl Transform for Opaque {
        fn transform_point(&self, p: [f64; 3]) -> [f64; 3] {
            self.0.transform_point(p)
        }
    }

    #[test]
    fn shifted_linear_ramp_is_reproduced_exactly() {
        let (c, s) = (0.2f64.cos(), 0.2f64.sin());
        let g = Geometry {
            origin: [-10.0, 5.0, 2.0],
            spacing: [0.8, 1.1, 2.0],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        };
        let a = [0.5, -0.25, 1.5];
        let input = ramp([30, 28, 12], g, a, 7.0);
        let shift = [1.3, -0.7, 0.9];
        let t = AffineTransform::translation(shift);
        let out_g = Geometry { origin: [-8.0, 7.0, 4.0], spacing: [1.0, 1.0, 1.5], ..Geometry::default() };
        let dims = [12, 10, 8];
        for tr in [&t as &dyn Transform, &Opaque(t)] {
            for interp in [Interpolation::Linear, Interpolation::BSpline3] {
                let r = resample(&input, dims, &out_g, tr, interp, f64::NAN).unwrap();
                let w2i = g.world_to_index_affine().unwrap();
                let mut checked = 0;
                for k in 0..dims[2] {
                    for j in 0..dims[1] {
                        for i in 0..dims[0] {
                            let p = out_g.index_to_world([i as f64, j as f64, k as f64]);
                            let q = [p[0] + shift[0], p[1] + shift[1], p[2] + shift[2]];
                            let idx = w2i.apply(q);
                            let v = *r.get(i, j, k).unwrap();
                            // Inside the outermost voxel centres the trilinear interpolant of
                            // a linear ramp is the ramp itself.
                            let d = input.dims();
                            let deep = (0..3).all(|x| idx[x] >= 0.0 && idx[x] <= d[x] as f64 - 1.0);
                            if interp == Interpolation::Linear && deep {
                                let want = 7.0 + a[0] * q[0] + a[1] * q[1] + a[2] * q[2];
                                // 1e-9: a few f64 affine maps and one trilinear blend.
                                assert!((v - want).abs() < 1e-9, "{i} {j} {k}: {v} vs {want}");
                                checked += 1;
                            }
                            if !inside(d, idx) {
                                assert!(v.is_nan());
                            }
                        }
                    }
                }
                if interp == Interpolation::Linear {
                    assert!(checked > 300, "only {checked} voxels checked");
                }
            }
        }
    }

    #[test]
    fn identity_onto_own_grid_is_a_copy_for_every_interpolator() {
        let g = Geometry { origin: [1.0, 2.0, 3.0], spacing: [0.5, 0.7, 1.3], ..Geometry::default() };
        let data: Vec<i16> = (0..7 * 6 * 5).map(|i| ((i * 37) % 101) as i16 - 50).collect();
        let v = Volume::from_vec([7, 6, 5], g, data).unwrap();
        for interp in [Interpolation::Nearest, Interpolation::Linear, Interpolation::BSpline3] {
            let r = resample(&v, v.dims(), &g, &IdentityTransform, interp, 0).unwrap();
            assert_eq!(r, v, "{interp:?}");
        }
    }

    #[test]
    fn integer_outputs_round_and_saturate() {
        let v = Volume::from_vec([2, 1, 1], Geometry::default(), vec![0u8, 255]).unwrap();
        let g = Geometry { spacing: [0.25, 1.0, 1.0], ..Geometry::default() };
        let r = resample(&v, [5, 1, 1], &g, &IdentityTransform, Interpolation::Linear, 7).unwrap();
        // 0.25 · 255 = 63.75 → 64; 0.5 · 255 = 127.5 → 128 (round half away from zero).
        assert_eq!(r.data(), &[0, 64, 128, 191, 255]);
        let b = resample(&v, [5, 1, 1], &g, &IdentityTransform, Interpolation::BSpline3, 7).unwrap();
        // Interpolating spline: exact at the two samples.
        assert_eq!((b.data()[0], b.data()[4]), (0, 255));
    }

    #[test]
    fn labels_keep_their_values() {
        let g = Geometry::default();
        let l = LabelVolume::new(Volume::from_vec([4, 1, 1], g, vec![0u16, 3, 3, 9]).unwrap());
        let og = Geometry { origin: [-1.0, 0.0, 0.0], spacing: [0.5, 1.0, 1.0], ..g };
        let r = resample_labels(&l, [10, 1, 1], &og, &IdentityTransform, 65535).unwrap();
        assert_eq!(r.as_volume().data(), &[65535, 0, 0, 3, 3, 3, 3, 9, 9, 65535]);
    }

    #[test]
    fn resample_to_spacing_keeps_centre_and_extent() {
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let g = Geometry {
            origin: [5.0, -3.0, 10.0],
            spacing: [0.6, 0.6, 3.0],
            direction: [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        };
        let v = ramp([50, 40, 10], g, [0.1, 0.2, -0.3], 1.0).cast::<f32>();
        let r = resample_to_spacing(&v, [1.5, 1.5, 1.5], Interpolation::Linear).unwrap();
        assert_eq!(r.dims(), [20, 16, 20]);
        let c0 = v.index_to_world(24.5, 19.5, 4.5);
        let c1 = r.index_to_world(9.5, 7.5, 9.5);
        for a in 0..3 {
            // 1e-9 mm: affine maps in f64.
            assert!((c0[a] - c1[a]).abs() < 1e-9);
        }
        assert_eq!(r.geometry().direction, g.direction);
        assert!(resample_to_spacing(&v, [0.0, 1.0, 1.0], Interpolation::Linear).is_err());
        let l = LabelVolume::new(v.map(|&x| (x > 5.0) as u16));
        let rl = resample_labels_to_spacing(&l, [1.5, 1.5, 1.5]).unwrap();
        assert_eq!(rl.labels(), vec![1]);
    }

    #[test]
    fn oversized_output_is_refused() {
        let v = Volume::from_vec([1, 1, 1], Geometry::default(), vec![1.0f32]).unwrap();
        let r = resample(&v, [1 << 20, 1 << 20, 1 << 20], &Geometry::default(), &IdentityTransform, Interpolation::Linear, 0.0);
        assert!(matches!(r, Err(ImgprocError::Core(_))));
    }
}
