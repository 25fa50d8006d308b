//! Exact Euclidean distance transforms in millimetres, anisotropic spacing, linear time.
//!
//! The squared distance is separable: one pass per axis computes, along every line, the lower
//! envelope of the parabolas `w·(q − p)² + f(p)` (Felzenszwalb & Huttenlocher 2012, "Distance
//! transforms of sampled functions", Algorithm 1), with `w` the squared spacing of that axis.
//! Lines run in parallel; each pass is O(voxels), so the whole transform is linear in the
//! number of voxels whatever the shapes. Distances are measured between voxel centres; the
//! direction matrix must be orthonormal (then it does not change distances).
//!
//! **No feature voxel.** Where there is nothing to measure to (no foreground voxel for
//! [`distance_to_foreground`], no background voxel for [`distance_to_background`]) every
//! distance is `f32::INFINITY`.

use crate::lines::for_each_line;
use crate::ImgprocError;
use hounsfield_core::{checked_voxels, Scalar, Volume};
use rayon::prelude::*;

/// Scratch of the 1-D lower-envelope pass (reused across lines).
pub(crate) struct Envelope {
    f: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Envelope {
    pub(crate) fn new(n: usize) -> Self {
        Self { f: vec![0.0; n], v: vec![0; n], z: vec![0.0; n + 1] }
    }

    /// Replaces `line[q]` by `min(cap, min_p w·(q − p)² + line[p])` (infinite samples are no
    /// parabola).
    pub(crate) fn run<S: Scalar>(&mut self, line: &mut [S], w: f64, cap: f64) {
        let n = line.len();
        let f = &mut self.f[..n];
        f.iter_mut().zip(line.iter()).for_each(|(a, b)| *a = b.to_f64());
        let Some(first) = f.iter().position(|x| x.is_finite()) else {
            return;
        };
        let (v, z) = (&mut self.v, &mut self.z);
        let mut k = 0usize;
        v[0] = first;
        z[0] = f64::NEG_INFINITY;
        z[1] = f64::INFINITY;
        // Intersection abscissa of the parabolas rooted at p < q (F&H eq. 3, written in a form
        // that avoids subtracting large squares).
        let cross =
            |f: &[f64], p: usize, q: usize| ((f[q] - f[p]) / (w * (q - p) as f64) + (q + p) as f64) * 0.5;
        for q in first + 1..n {
            if !f[q].is_finite() {
                continue;
            }
            let mut s = cross(f, v[k], q);
            while s <= z[k] {
                // z[0] = −∞, so k never goes below 0.
                k -= 1;
                s = cross(f, v[k], q);
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = f64::INFINITY;
        }
        let mut k = 0usize;
        for (q, out) in line.iter_mut().enumerate() {
            let qf = q as f64;
            while z[k + 1] < qf {
                k += 1;
            }
            let d = qf - v[k] as f64;
            *out = S::from_f64((w * d * d + f[v[k]]).min(cap));
        }
    }
}

/// Squared weighted distance from every voxel to the nearest voxel with `feature(i)` true:
/// `min Σ_a weights[a]·Δ_a²` over axes with `Some` weight; axes with `None` only connect
/// voxels with the same index along them. Infinite where no feature voxel is reachable.
/// Values above `cap` are stored as `cap` after every pass (for thresholds at or below
/// `cap − 1`, which this keeps exact while the stored numbers stay small).
pub(crate) fn squared_distance<S: Scalar>(
    dims: [usize; 3],
    weights: [Option<f64>; 3],
    cap: f64,
    feature: impl Fn(usize) -> bool + Sync,
) -> Result<Vec<S>, ImgprocError> {
    let n = checked_voxels(dims, std::mem::size_of::<S>())?;
    let inf = S::from_f64(f64::INFINITY);
    let zero = S::from_f64(0.0);
    let mut d: Vec<S> = (0..n).into_par_iter().map(|i| if feature(i) { zero } else { inf }).collect();
    for (axis, w) in weights.iter().enumerate() {
        let (Some(w), true) = (w, dims[axis] > 1) else { continue };
        let len = dims[axis];
        for_each_line(&mut d, dims, axis, || Envelope::new(len), |env, line| env.run(line, *w, cap));
    }
    Ok(d)
}

/// Fails unless the direction matrix is orthonormal (distances along sheared axes are not
/// separable).
fn check_geometry(mask: &Volume<u8>) -> Result<[Option<f64>; 3], ImgprocError> {
    mask.geometry().validate().map_err(|e| ImgprocError::Distance { reason: e.to_string() })?;
    let s = mask.geometry().spacing;
    Ok([Some(s[0] * s[0]), Some(s[1] * s[1]), Some(s[2] * s[2])])
}

fn sqrt_volume(mask: &Volume<u8>, mut d: Vec<f32>) -> Result<Volume<f32>, ImgprocError> {
    d.par_iter_mut().for_each(|v| *v = v.sqrt());
    Ok(mask.with_data(d)?)
}

/// Distance (mm) from every voxel to the nearest foreground (non-zero) voxel centre; 0 on the
/// foreground, `f32::INFINITY` everywhere when there is no foreground.
pub fn distance_to_foreground(mask: &Volume<u8>) -> Result<Volume<f32>, ImgprocError> {
    let w = check_geometry(mask)?;
    let m = mask.data();
    let d = squared_distance::<f32>(mask.dims(), w, f64::INFINITY, |i| m[i] != 0)?;
    sqrt_volume(mask, d)
}

/// Distance (mm) from every voxel to the nearest background (zero) voxel centre; 0 on the
/// background (the convention of `scipy.ndimage.distance_transform_edt`: the distance of
/// each non-zero voxel to the nearest zero voxel). `f32::INFINITY` everywhere when there is
/// no background.
pub fn distance_to_background(mask: &Volume<u8>) -> Result<Volume<f32>, ImgprocError> {
    let w = check_geometry(mask)?;
    let m = mask.data();
    let d = squared_distance::<f32>(mask.dims(), w, f64::INFINITY, |i| m[i] == 0)?;
    sqrt_volume(mask, d)
}

/// Signed distance (mm): outside the mask, the distance to the nearest foreground voxel
/// (positive); inside, minus the distance to the nearest background voxel (negative). No
/// voxel is 0: the surface lies between the last inside and the first outside voxel, which
/// are ≥ one spacing apart in value. An empty mask gives `+∞` everywhere, a full one `−∞`.
pub fn signed_distance(mask: &Volume<u8>) -> Result<Volume<f32>, ImgprocError> {
    let w = check_geometry(mask)?;
    let m = mask.data();
    let outside = squared_distance::<f32>(mask.dims(), w, f64::INFINITY, |i| m[i] != 0)?;
    let mut inside = squared_distance::<f32>(mask.dims(), w, f64::INFINITY, |i| m[i] == 0)?;
    inside.par_iter_mut().zip(outside.par_iter()).zip(m.par_iter()).for_each(|((i, o), &fg)| {
        *i = if fg != 0 { -i.sqrt() } else { o.sqrt() };
    });
    Ok(mask.with_data(inside)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn point_mask(dims: [usize; 3], sp: [f64; 3], p: [usize; 3]) -> Volume<u8> {
        let mut m = Volume::<u8>::zeros(dims, Geometry::with_spacing(sp)).unwrap();
        *m.get_mut(p[0], p[1], p[2]).unwrap() = 1;
        m
    }

    #[test]
    fn single_point_gives_exact_anisotropic_distances() {
        let sp = [0.7, 1.3, 2.9];
        let dims = [13, 11, 9];
        let p = [4, 7, 2];
        let d = distance_to_foreground(&point_mask(dims, sp, p)).unwrap();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let e = [(i as f64 - 4.0) * sp[0], (j as f64 - 7.0) * sp[1], (k as f64 - 2.0) * sp[2]];
                    let want = (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt();
                    // 1e-5 mm: f32 storage of squared distances up to ~500 mm².
                    assert!((*d.get(i, j, k).unwrap() as f64 - want).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn two_points_take_the_nearer_and_background_is_dual() {
        let sp = [1.0, 2.0, 0.5];
        let mut m = point_mask([20, 6, 5], sp, [2, 1, 1]);
        *m.get_mut(15, 4, 3).unwrap() = 1;
        let d = distance_to_foreground(&m).unwrap();
        let dist =
            |a: [f64; 3], b: [f64; 3]| ((0..3).map(|x| ((a[x] - b[x]) * sp[x]).powi(2)).sum::<f64>()).sqrt();
        for (i, j, k) in [(8, 2, 2), (9, 0, 4), (0, 5, 0), (19, 5, 4)] {
            let q = [i as f64, j as f64, k as f64];
            let want = dist(q, [2.0, 1.0, 1.0]).min(dist(q, [15.0, 4.0, 3.0]));
            // 1e-5 mm: f32 squared distances.
            assert!((*d.get(i, j, k).unwrap() as f64 - want).abs() < 1e-5);
        }
        // Inverting the mask swaps the two transforms.
        let inv = m.map(|&v| (v == 0) as u8);
        assert_eq!(distance_to_background(&inv).unwrap(), d);
        let s = signed_distance(&m).unwrap();
        // Inside the single voxel: the nearest background is one z step (0.5 mm) away.
        assert_eq!(*s.get(2, 1, 1).unwrap(), -0.5);
        assert_eq!(*s.get(8, 2, 2).unwrap(), *d.get(8, 2, 2).unwrap());
    }

    #[test]
    fn empty_and_full_masks_give_infinity() {
        let m = Volume::<u8>::zeros([4, 3, 2], Geometry::default()).unwrap();
        assert!(distance_to_foreground(&m).unwrap().data().iter().all(|v| *v == f32::INFINITY));
        assert!(distance_to_background(&m).unwrap().data().iter().all(|v| *v == 0.0));
        let full = m.map(|_| 1u8);
        assert!(distance_to_background(&full).unwrap().data().iter().all(|v| *v == f32::INFINITY));
        assert!(signed_distance(&full).unwrap().data().iter().all(|v| *v == f32::NEG_INFINITY));
    }

    #[test]
    fn sheared_grid_is_refused() {
        let g = Geometry {
            direction: [[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            ..Geometry::default()
        };
        let m = Volume::<u8>::zeros([2, 2, 2], g).unwrap();
        assert!(matches!(distance_to_foreground(&m), Err(ImgprocError::Distance { .. })));
    }
}
