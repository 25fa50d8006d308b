//! Binary morphology on masks (`Volume<u8>`, non-zero = foreground) with ellipsoidal ("ball")
//! structuring elements, and hole filling.
//!
//! The structuring element of radius `r = [rx, ry, rz]` voxels is every offset `d` with
//! `Σ (d_a / r_a)² ≤ 1` (an axis with radius 0 admits only `d_a = 0`). Dilation by it is a
//! threshold of an exact distance transform, `dilate(X) = { y : min_{x∈X} Σ ((y−x)_a / r_a)² ≤ 1 }`
//! (computed with the separable lower-envelope transform of [`crate::distance`] in integer
//! arithmetic, exact in f32 storage up to a squared-radius product of 2^24), so it costs
//! O(voxels) for any radius; erosion is the dual.
//!
//! **Border.** Voxels outside the image count as background for dilation and as foreground
//! for erosion (ITK's `BoundaryToForeground` default), so erosion never eats into an object
//! from the image edge and opening does not shift objects that touch it; [`close`] works on
//! a padded copy (ITK's `SafeBorder`). (scipy's
//! `binary_erosion` default `border_value=0` erodes from the edge instead.)
//!
//! Outputs are 0/1 masks.

use crate::distance::squared_distance;
use crate::grid::{crop, pad, permute};
use crate::{Axis, ImgprocError};
use hounsfield_core::{checked_voxels, Volume};
use rayon::prelude::*;

/// Radius in voxels per axis that best approximates `radius_mm` (mm) on a grid with
/// `spacing`: `round(radius_mm / spacing)` per axis.
pub fn radius_mm_to_voxels(radius_mm: f64, spacing: [f64; 3]) -> Result<[usize; 3], ImgprocError> {
    if !(radius_mm.is_finite() && radius_mm >= 0.0) || spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(ImgprocError::Morphology {
            reason: format!(
                "radius {radius_mm} mm and spacing {spacing:?} must be finite, non-negative / positive"
            ),
        });
    }
    let r = spacing.map(|s| (radius_mm / s).round());
    if r.iter().any(|v| *v > MAX_RADIUS as f64) {
        return Err(ImgprocError::Morphology {
            reason: format!(
                "radius {radius_mm} mm is more than {MAX_RADIUS} voxels on a grid with spacing {spacing:?}"
            ),
        });
    }
    Ok(r.map(|v| v as usize))
}

/// Largest radius per axis (keeps the integer distance arithmetic exact in f64).
const MAX_RADIUS: usize = 4096;

/// Integer weights `w_a = Π_{b≠a} r_b²` and threshold `Π r_a²` (over axes with `r > 0`) so
/// that `Σ w_a d_a² ≤ T ⟺ Σ (d_a / r_a)² ≤ 1` exactly.
fn weights(radius: [usize; 3]) -> Result<([Option<f64>; 3], f64), ImgprocError> {
    if radius.iter().any(|&r| r > MAX_RADIUS) {
        return Err(ImgprocError::Morphology {
            reason: format!("radius {radius:?} exceeds {MAX_RADIUS} voxels"),
        });
    }
    let sq: Vec<u128> = radius.iter().map(|&r| (r * r) as u128).collect();
    let t: u128 = sq.iter().filter(|&&s| s > 0).product();
    // Values up to T·(1 + dims²) must stay exact in f64 (< 2^53); the threshold test only
    // needs values near T, and larger ones remain larger after rounding.
    if t > 1 << 50 {
        return Err(ImgprocError::Morphology {
            reason: format!("radius {radius:?} is too large (product of squared radii above 2^50)"),
        });
    }
    let mut w = [None; 3];
    for a in 0..3 {
        if radius[a] > 0 {
            let p: u128 = (0..3).filter(|&b| b != a && radius[b] > 0).map(|b| sq[b]).product();
            w[a] = Some(p as f64);
        }
    }
    Ok((w, t as f64))
}

/// `{ y : weighted squared distance to a voxel with feature(x) ≤ T }` as a 0/1 mask, or its
/// complement when `complement` is true.
fn threshold(
    mask: &Volume<u8>,
    radius: [usize; 3],
    complement: bool,
    feature: impl Fn(usize) -> bool + Sync,
) -> Result<Volume<u8>, ImgprocError> {
    let (w, t) = weights(radius)?;
    // Stored distances are capped at T + 1 (which keeps every `≤ T` decision), so for the
    // usual radii they are integers below 2^24 and f32 holds them exactly: half the memory
    // traffic of f64.
    let out: Vec<u8> = if t + 1.0 < (1u32 << 24) as f64 {
        let d = squared_distance::<f32>(mask.dims(), w, t + 1.0, feature)?;
        d.par_iter().map(|&v| ((v as f64 <= t) != complement) as u8).collect()
    } else {
        let d = squared_distance::<f64>(mask.dims(), w, t + 1.0, feature)?;
        d.par_iter().map(|&v| ((v <= t) != complement) as u8).collect()
    };
    Ok(mask.with_data(out)?)
}

/// Dilation by the ball of `radius` voxels per axis (outside the image is background).
pub fn dilate(mask: &Volume<u8>, radius: [usize; 3]) -> Result<Volume<u8>, ImgprocError> {
    let m = mask.data();
    threshold(mask, radius, false, |i| m[i] != 0)
}

/// Erosion by the ball of `radius` voxels per axis (outside the image is foreground): the
/// voxels whose ball holds no background voxel of the image.
pub fn erode(mask: &Volume<u8>, radius: [usize; 3]) -> Result<Volume<u8>, ImgprocError> {
    let m = mask.data();
    threshold(mask, radius, true, |i| m[i] == 0)
}

/// Opening: erosion then dilation (removes parts thinner than the ball).
pub fn open(mask: &Volume<u8>, radius: [usize; 3]) -> Result<Volume<u8>, ImgprocError> {
    dilate(&erode(mask, radius)?, radius)
}

/// Closing: dilation then erosion (fills gaps narrower than the ball). Computed on the mask
/// padded by the radius (ITK's `SafeBorder`), so objects near the edge are closed as if the
/// image went on, and a convex object stays exactly itself.
pub fn close(mask: &Volume<u8>, radius: [usize; 3]) -> Result<Volume<u8>, ImgprocError> {
    let padded = pad(mask, radius, radius, 0)?;
    let closed = erode(&dilate(&padded, radius)?, radius)?;
    let c = crop(&closed, radius, mask.dims())?;
    Ok(mask.with_data(c.into_vec())?)
}

/// Fills holes in 3-D: background voxels not connected to the image border through
/// background (6-connectivity, faces, the dual of 26-connected foreground) become foreground,
/// as `scipy.ndimage.binary_fill_holes` with its default structure.
pub fn fill_holes(mask: &Volume<u8>) -> Result<Volume<u8>, ImgprocError> {
    let dims = mask.dims();
    let n = checked_voxels(dims, 5)?;
    if n > u32::MAX as usize {
        return Err(ImgprocError::Morphology { reason: format!("{n} voxels exceed the 2^32 fill limit") });
    }
    let [nx, ny, nz] = dims;
    let m = mask.data();
    // 1 = foreground or not yet reached; 0 = background reached from the border.
    let mut out: Vec<u8> = vec![1; n];
    let mut stack: Vec<u32> = Vec::new();
    let seed = |i: usize, out: &mut Vec<u8>, stack: &mut Vec<u32>| {
        if m[i] == 0 && out[i] == 1 {
            out[i] = 0;
            stack.push(i as u32);
        }
    };
    for k in 0..nz {
        for j in 0..ny {
            let edge_row = k == 0 || k == nz - 1 || j == 0 || j == ny - 1;
            let base = nx * (j + ny * k);
            if edge_row {
                (0..nx).for_each(|i| seed(base + i, &mut out, &mut stack));
            } else {
                seed(base, &mut out, &mut stack);
                seed(base + nx - 1, &mut out, &mut stack);
            }
        }
    }
    let sxy = nx * ny;
    while let Some(i) = stack.pop() {
        let i = i as usize;
        let (x, y, z) = (i % nx, (i / nx) % ny, i / sxy);
        let mut visit = |j: usize| {
            if m[j] == 0 && out[j] == 1 {
                out[j] = 0;
                stack.push(j as u32);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < nx {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - nx);
        }
        if y + 1 < ny {
            visit(i + nx);
        }
        if z > 0 {
            visit(i - sxy);
        }
        if z + 1 < nz {
            visit(i + sxy);
        }
    }
    Ok(mask.with_data(out)?)
}

/// Fills holes slice by slice: in every 2-D slice across `axis`, background pixels not
/// 4-connected to the slice's border through background become foreground. Fills contours
/// that are closed in-plane but open through the slices (e.g. a vessel lumen).
pub fn fill_holes_slices(mask: &Volume<u8>, axis: Axis) -> Result<Volume<u8>, ImgprocError> {
    // Bring the slice normal to z, fill z-slices in parallel, and put the axes back.
    let (order, back) = match axis {
        Axis::X => ([1, 2, 0], [2, 0, 1]),
        Axis::Y => ([0, 2, 1], [0, 2, 1]),
        Axis::Z => ([0, 1, 2], [0, 1, 2]),
    };
    let p = if axis == Axis::Z { mask.clone() } else { permute(mask, order)? };
    let [nx, ny, _] = p.dims();
    let mut out = p.clone();
    out.data_mut()
        .par_chunks_mut(nx * ny)
        .zip(p.data().par_chunks(nx * ny))
        .for_each_init(Vec::<u32>::new, |stack, (o, s)| fill_slice(s, o, nx, ny, stack));
    let out = if axis == Axis::Z { out } else { permute(&out, back)? };
    // The round trip through permute restores the grid exactly; keep the caller's geometry.
    Ok(mask.with_data(out.into_vec())?)
}

/// 2-D hole filling of one slice `s` into `o` (4-connected background flood from the border).
fn fill_slice(s: &[u8], o: &mut [u8], nx: usize, ny: usize, stack: &mut Vec<u32>) {
    o.fill(1);
    stack.clear();
    for j in 0..ny {
        for i in 0..nx {
            let edge = i == 0 || j == 0 || i == nx - 1 || j == ny - 1;
            let p = i + nx * j;
            if edge && s[p] == 0 && o[p] == 1 {
                o[p] = 0;
                stack.push(p as u32);
            }
        }
    }
    while let Some(p) = stack.pop() {
        let p = p as usize;
        let (x, y) = (p % nx, p / nx);
        let nb = [
            (x > 0).then(|| p - 1),
            (x + 1 < nx).then(|| p + 1),
            (y > 0).then(|| p - nx),
            (y + 1 < ny).then(|| p + nx),
        ];
        for q in nb.into_iter().flatten() {
            if s[q] == 0 && o[q] == 1 {
                o[q] = 0;
                stack.push(q as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn boxed(dims: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> Volume<u8> {
        let mut m = Volume::<u8>::zeros(dims, Geometry::default()).unwrap();
        for k in lo[2]..=hi[2] {
            for j in lo[1]..=hi[1] {
                for i in lo[0]..=hi[0] {
                    *m.get_mut(i, j, k).unwrap() = 1;
                }
            }
        }
        m
    }

    /// Reference dilation by brute force over the structuring element.
    fn brute_dilate(m: &Volume<u8>, r: [usize; 3]) -> Volume<u8> {
        let d = m.dims();
        let r = r.map(|v| v as isize);
        let mut out = m.map(|_| 0u8);
        for k in 0..d[2] as isize {
            for j in 0..d[1] as isize {
                for i in 0..d[0] as isize {
                    let mut hit = false;
                    for dz in -r[2]..=r[2] {
                        for dy in -r[1]..=r[1] {
                            for dx in -r[0]..=r[0] {
                                let q = |dd: isize, rr: isize| {
                                    if rr == 0 {
                                        0.0
                                    } else {
                                        (dd * dd) as f64 / (rr * rr) as f64
                                    }
                                };
                                let inside_se = (r[0] > 0 || dx == 0)
                                    && (r[1] > 0 || dy == 0)
                                    && (r[2] > 0 || dz == 0)
                                    && q(dx, r[0]) + q(dy, r[1]) + q(dz, r[2]) <= 1.0 + 1e-12;
                                let (x, y, z) = (i + dx, j + dy, k + dz);
                                if inside_se
                                    && (0..d[0] as isize).contains(&x)
                                    && (0..d[1] as isize).contains(&y)
                                    && (0..d[2] as isize).contains(&z)
                                    && *m.get(x as usize, y as usize, z as usize).unwrap() != 0
                                {
                                    hit = true;
                                }
                            }
                        }
                    }
                    *out.get_mut(i as usize, j as usize, k as usize).unwrap() = hit as u8;
                }
            }
        }
        out
    }

    #[test]
    fn dilation_matches_the_structuring_element_exactly() {
        let mut m = boxed([17, 15, 11], [6, 6, 5], [8, 7, 5]);
        *m.get_mut(1, 1, 1).unwrap() = 1;
        for r in [[1, 1, 1], [3, 2, 1], [5, 0, 2], [0, 0, 0], [2, 4, 3]] {
            assert_eq!(dilate(&m, r).unwrap(), brute_dilate(&m, r), "radius {r:?}");
        }
    }

    #[test]
    fn box_erosion_dilation_opening_closing() {
        // A 7×7×5 box eroded by a radius-1 ball loses one layer on each face: 5×5×3.
        let m = boxed([12, 12, 9], [2, 2, 2], [8, 8, 6]);
        let e = erode(&m, [1, 1, 1]).unwrap();
        assert_eq!(e, boxed([12, 12, 9], [3, 3, 3], [7, 7, 5]));
        // Opening with a ball that fits keeps the box's faces but rounds its edges: the
        // centre of each face stays, the corners go.
        let o = open(&m, [2, 2, 2]).unwrap();
        assert_eq!(*o.get(5, 5, 2).unwrap(), 1);
        assert_eq!(*o.get(2, 2, 2).unwrap(), 0);
        // Closing a box changes nothing.
        assert_eq!(close(&m, [2, 2, 2]).unwrap(), m);
        // Erosion does not eat in from the image edge (outside counts as foreground).
        let full = m.map(|_| 1u8);
        assert_eq!(erode(&full, [3, 3, 3]).unwrap(), full);
    }

    #[test]
    fn large_radius_dilation_of_a_point_is_the_exact_ellipse() {
        // Radii 70 × 60: the squared-radius product 17 640 000 is above 2^24, so the f64 path runs.
        let (ry, rz) = (70i64, 60i64);
        let mut m = Volume::<u8>::zeros([1, 151, 131], Geometry::default()).unwrap();
        *m.get_mut(0, 75, 65).unwrap() = 1;
        let d = dilate(&m, [0, ry as usize, rz as usize]).unwrap();
        for k in 0..131i64 {
            for j in 0..151i64 {
                let (dy, dz) = (j - 75, k - 65);
                // Integer form of (dy/ry)² + (dz/rz)² ≤ 1.
                let want = dy * dy * rz * rz + dz * dz * ry * ry <= ry * ry * rz * rz;
                assert_eq!(*d.get(0, j as usize, k as usize).unwrap() == 1, want, "({j}, {k})");
            }
        }
        // And a radius whose product fits f32 gives the same ellipse as the f64 path would.
        let d = dilate(&m, [0, 7, 6]).unwrap();
        assert_eq!(
            d.data().iter().filter(|&&v| v == 1).count(),
            brute_dilate(&m, [0, 7, 6]).data().iter().filter(|&&v| v == 1).count()
        );
    }

    #[test]
    fn radius_in_mm() {
        assert_eq!(radius_mm_to_voxels(3.0, [0.5, 1.0, 2.5]).unwrap(), [6, 3, 1]);
        assert!(radius_mm_to_voxels(-1.0, [1.0; 3]).is_err());
        assert!(radius_mm_to_voxels(1.0, [0.0, 1.0, 1.0]).is_err());
        assert!(dilate(&boxed([3, 3, 3], [1; 3], [1; 3]), [5000, 1, 1]).is_err());
    }

    #[test]
    fn holes_are_filled_in_3d_and_per_slice() {
        // A hollow box: the cavity fills in 3-D.
        let shell = boxed([9, 9, 9], [1, 1, 1], [7, 7, 7]);
        let mut hollow = shell.clone();
        for k in 2..=6 {
            for j in 2..=6 {
                for i in 2..=6 {
                    *hollow.get_mut(i, j, k).unwrap() = 0;
                }
            }
        }
        assert_eq!(fill_holes(&hollow).unwrap(), shell);
        // A tube along z (open ends): no 3-D hole, but every z-slice has one.
        let mut tube = boxed([9, 9, 6], [1, 1, 0], [7, 7, 5]);
        for k in 0..6 {
            for j in 3..=5 {
                for i in 3..=5 {
                    *tube.get_mut(i, j, k).unwrap() = 0;
                }
            }
        }
        assert_eq!(fill_holes(&tube).unwrap(), tube);
        let filled = boxed([9, 9, 6], [1, 1, 0], [7, 7, 5]);
        assert_eq!(fill_holes_slices(&tube, Axis::Z).unwrap(), filled);
        // Across x or y the tube's slices are open: nothing to fill.
        assert_eq!(fill_holes_slices(&tube, Axis::X).unwrap(), tube);
        assert_eq!(fill_holes_slices(&tube, Axis::Y).unwrap(), tube);
    }
}
