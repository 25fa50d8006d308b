//! Grid operations that keep the world position of every voxel: crop, pad, flip, permute,
//! slice extraction and reorientation to a canonical orientation code.
//!
//! Each one moves voxels between index positions and rewrites the [`Geometry`] so that
//! `index_to_world` of a voxel after the operation equals `index_to_world` of the same voxel
//! before: they change how the image is stored, never where anything is. None of them
//! interpolates, so they apply unchanged to label maps: every function takes any
//! [`GridImage`] (a [`Volume<T>`] of any voxel type, or a [`LabelVolume`]) and returns the
//! same type.

use crate::{Axis, ImgprocError};
use hounsfield_core::{checked_voxels, Geometry, LabelVolume, Scalar, Volume};
use rayon::prelude::*;

/// An image whose voxels can be moved between grid positions without changing their meaning:
/// a [`Volume<T>`] or a [`LabelVolume`]. The grid operations of this module are generic over
/// it so a label map stays a label map.
pub trait GridImage: Sized {
    /// The voxel type.
    type Voxel: Scalar;
    /// The voxels and geometry.
    fn grid_volume(&self) -> &Volume<Self::Voxel>;
    /// Wraps voxels moved by a grid operation back into `Self`.
    fn from_grid_volume(volume: Volume<Self::Voxel>) -> Self;
}

impl<T: Scalar> GridImage for Volume<T> {
    type Voxel = T;
    fn grid_volume(&self) -> &Volume<T> {
        self
    }
    fn from_grid_volume(volume: Volume<T>) -> Self {
        volume
    }
}

impl GridImage for LabelVolume {
    type Voxel = u16;
    fn grid_volume(&self) -> &Volume<u16> {
        self.as_volume()
    }
    fn from_grid_volume(volume: Volume<u16>) -> Self {
        LabelVolume::new(volume)
    }
}

/// The sub-volume of `size` voxels starting at voxel `start`. Its origin is the world position
/// of `start`, so every kept voxel stays where it was.
pub fn crop<I: GridImage>(img: &I, start: [usize; 3], size: [usize; 3]) -> Result<I, ImgprocError> {
    let vol = img.grid_volume();
    let dims = vol.dims();
    let fits = (0..3).all(|a| size[a] >= 1 && start[a].checked_add(size[a]).is_some_and(|e| e <= dims[a]));
    if !fits {
        return Err(ImgprocError::Crop { start, size, dims });
    }
    let n = checked_voxels(size, std::mem::size_of::<I::Voxel>())?;
    let mut out = Vec::with_capacity(n);
    let src = vol.data();
    for k in 0..size[2] {
        for j in 0..size[1] {
            let o = vol.offset(start[0], start[1] + j, start[2] + k);
            out.extend_from_slice(&src[o..o + size[0]]);
        }
    }
    let g = vol.geometry().shifted_to([start[0] as f64, start[1] as f64, start[2] as f64]);
    Ok(I::from_grid_volume(Volume::from_vec(size, g, out)?))
}

/// The volume with `before[a]` voxels of `value` added before index 0 and `after[a]` after
/// the last index along each axis. The origin moves to the world position of the first new
/// voxel (index `-before` of the input grid).
pub fn pad<I: GridImage>(
    img: &I,
    before: [usize; 3],
    after: [usize; 3],
    value: I::Voxel,
) -> Result<I, ImgprocError> {
    let vol = img.grid_volume();
    let d = vol.dims();
    let mut nd = [0usize; 3];
    for a in 0..3 {
        nd[a] = d[a]
            .checked_add(before[a])
            .and_then(|v| v.checked_add(after[a]))
            .ok_or(hounsfield_core::CoreError::InvalidDims { dims: d, reason: "padded size overflows" })?;
    }
    let g = vol.geometry().shifted_to([-(before[0] as f64), -(before[1] as f64), -(before[2] as f64)]);
    let mut out = Volume::filled(nd, g, value)?;
    let src = vol.data();
    let [nx, ny] = [nd[0], nd[1]];
    out.data_mut().par_chunks_mut(nx * ny).enumerate().for_each(|(k, slice)| {
        if k < before[2] || k >= before[2] + d[2] {
            return;
        }
        let sk = k - before[2];
        for j in 0..d[1] {
            let so = d[0] * (j + d[1] * sk);
            let o = before[0] + nx * (j + before[1]);
            slice[o..o + d[0]].copy_from_slice(&src[so..so + d[0]]);
        }
    });
    Ok(I::from_grid_volume(out))
}

/// The volume with index axis `axis` reversed: voxel `i` becomes voxel `n - 1 - i`, the axis'
/// direction column is negated and the origin moves to the old last voxel.
pub fn flip<I: GridImage>(img: &I, axis: Axis) -> I {
    let vol = img.grid_volume();
    let a = axis.index();
    let d = vol.dims();
    let mut start = [0.0; 3];
    start[a] = (d[a] - 1) as f64;
    let mut g = vol.geometry().shifted_to(start);
    for row in g.direction.iter_mut() {
        row[a] = -row[a];
    }
    let src = vol.data();
    let [nx, ny, nz] = d;
    let mut out = src.to_vec();
    out.par_chunks_mut(nx * ny).enumerate().for_each(|(k, slice)| {
        let sk = if a == 2 { nz - 1 - k } else { k };
        for j in 0..ny {
            let sj = if a == 1 { ny - 1 - j } else { j };
            let so = nx * (sj + ny * sk);
            let row = &mut slice[nx * j..nx * (j + 1)];
            row.copy_from_slice(&src[so..so + nx]);
            if a == 0 {
                row.reverse();
            }
        }
    });
    I::from_grid_volume(
        Volume::from_vec(d, g, out).unwrap_or_else(|_| unreachable!("same dimensions as the input")),
    )
}

/// The volume with its index axes reordered: axis `a` of the result is axis `order[a]` of the
/// input (as numpy `transpose` on x-fastest axes and ITK `PermuteAxesImageFilter`). Dimensions,
/// spacing and direction columns are permuted the same way; the origin stays.
pub fn permute<I: GridImage>(img: &I, order: [usize; 3]) -> Result<I, ImgprocError> {
    let vol = img.grid_volume();
    let mut seen = [false; 3];
    for &o in &order {
        if o > 2 || seen[o] {
            return Err(ImgprocError::Permute { order });
        }
        seen[o] = true;
    }
    let d = vol.dims();
    let g0 = vol.geometry();
    let nd = [d[order[0]], d[order[1]], d[order[2]]];
    let mut g = Geometry { origin: g0.origin, spacing: [0.0; 3], direction: [[0.0; 3]; 3] };
    for a in 0..3 {
        g.spacing[a] = g0.spacing[order[a]];
        for (r, row) in g.direction.iter_mut().enumerate() {
            row[a] = g0.direction[r][order[a]];
        }
    }
    // Input strides of the output axes.
    let stride_in = [1, d[0], d[0] * d[1]];
    let s = [stride_in[order[0]], stride_in[order[1]], stride_in[order[2]]];
    let src = vol.data();
    let n = checked_voxels(nd, std::mem::size_of::<I::Voxel>())?;
    let mut out = vec![I::Voxel::default(); n];
    out.par_chunks_mut(nd[0] * nd[1]).enumerate().for_each(|(k, slice)| {
        for (j, row) in slice.chunks_mut(nd[0]).enumerate() {
            let base = j * s[1] + k * s[2];
            for (i, v) in row.iter_mut().enumerate() {
                *v = src[base + i * s[0]];
            }
        }
    });
    Ok(I::from_grid_volume(Volume::from_vec(nd, g, out)?))
}

/// One slice across `axis` at `index`, as a depth-1 volume that stays in place in the world.
///
/// The in-plane axes keep their order (for `Axis::Y`: x then z) and become axes 0 and 1; the
/// slice normal (the old `axis`) becomes axis 2, so the direction's third column is the
/// normal. The origin is the world position of the slice's first voxel.
pub fn extract_slice<I: GridImage>(img: &I, axis: Axis, index: usize) -> Result<I, ImgprocError> {
    let a = axis.index();
    let d = img.grid_volume().dims();
    if index >= d[a] {
        return Err(ImgprocError::ExtractSlice { axis: a, index, len: d[a] });
    }
    let order = match axis {
        Axis::X => [1, 2, 0],
        Axis::Y => [0, 2, 1],
        Axis::Z => [0, 1, 2],
    };
    let mut start = [0usize; 3];
    let mut size = d;
    start[a] = index;
    size[a] = 1;
    let c = crop(img.grid_volume(), start, size)?;
    Ok(I::from_grid_volume(permute(&c, order)?))
}

/// Parses an orientation code ("LPS", "RAS", "LPI", …) into, per index axis, the world axis
/// (0 = L/R, 1 = P/A, 2 = S/I) and whether the axis points toward the positive LPS letter.
fn parse_code(code: &str) -> Result<[(usize, bool); 3], ImgprocError> {
    let err = || ImgprocError::Reorient { code: code.to_string() };
    let letters: Vec<char> = code.chars().map(|c| c.to_ascii_uppercase()).collect();
    if letters.len() != 3 {
        return Err(err());
    }
    let mut out = [(0usize, true); 3];
    let mut used = [false; 3];
    for (a, c) in letters.iter().enumerate() {
        let (w, pos) = match c {
            'L' => (0, true),
            'R' => (0, false),
            'P' => (1, true),
            'A' => (1, false),
            'S' => (2, true),
            'I' => (2, false),
            _ => return Err(err()),
        };
        if used[w] {
            return Err(err());
        }
        used[w] = true;
        out[a] = (w, pos);
    }
    Ok(out)
}

/// The volume re-stored so that its orientation code is `target` ("LPS", "RAS", "LPI", …),
/// using only axis permutations and flips: exact, no interpolation, every voxel keeps its
/// world position (like SimpleITK `DICOMOrient`).
///
/// For an oblique grid the code names the nearest canonical orientation: index axes are
/// assigned to world axes by the permutation that maximises the summed absolute direction
/// cosines (so two axes never claim the same world axis, even at 45°), and an axis is
/// flipped when it points away from the target letter. The letters follow the LPS convention
/// of [`Geometry::orientation_code`]: the first letter is where increasing index 0 points.
pub fn reorient<I: GridImage>(img: &I, target: &str) -> Result<I, ImgprocError> {
    let vol = img.grid_volume();
    let want = parse_code(target)?;
    let dir = vol.geometry().direction;
    // assign[w] = input index axis that serves world axis w.
    const PERMS: [[usize; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let score = |p: &[usize; 3]| (0..3).map(|w| dir[w][p[w]].abs()).sum::<f64>();
    let mut best = PERMS[0];
    for p in PERMS.iter().skip(1) {
        if score(p) > score(&best) {
            best = *p;
        }
    }
    // Output axis a serves world axis want[a].0, taken from input axis best[want[a].0].
    let order = [best[want[0].0], best[want[1].0], best[want[2].0]];
    let mut out = if order == [0, 1, 2] { vol.clone() } else { permute(vol, order)? };
    for (a, &(w, positive)) in want.iter().enumerate() {
        let points_positive = out.geometry().direction[w][a] >= 0.0;
        if points_positive != positive {
            let axis = [Axis::X, Axis::Y, Axis::Z][a];
            out = flip(&out, axis);
        }
    }
    Ok(I::from_grid_volume(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::linalg::Vec3;

    fn oblique_vol() -> Volume<i32> {
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let g = Geometry {
            origin: [12.0, -7.5, 30.0],
            spacing: [0.7, 1.1, 2.5],
            direction: [[c, 0.0, -s], [0.0, -1.0, 0.0], [-s, 0.0, -c]],
        };
        let d = [5, 4, 3];
        Volume::from_vec(d, g, (0..60).collect()).unwrap()
    }

    fn close(a: Vec3, b: Vec3) -> bool {
        // 1e-9 mm: a few affine maps in f64 on coordinates of tens of mm.
        (0..3).all(|i| (a[i] - b[i]).abs() < 1e-9)
    }

    /// Every voxel value in `after` sits at the same world point as that value in `before`
    /// (values are unique voxel ids).
    fn assert_same_world(before: &Volume<i32>, after: &Volume<i32>) {
        let d = after.dims();
        for k in 0..d[2] {
            for j in 0..d[1] {
                for i in 0..d[0] {
                    let id = *after.get(i, j, k).unwrap();
                    if id < 0 {
                        continue;
                    }
                    let bd = before.dims();
                    let id = id as usize;
                    let (bi, bj, bk) = (id % bd[0], (id / bd[0]) % bd[1], id / (bd[0] * bd[1]));
                    let w0 = before.index_to_world(bi as f64, bj as f64, bk as f64);
                    let w1 = after.index_to_world(i as f64, j as f64, k as f64);
                    assert!(close(w0, w1), "voxel {id} moved: {w0:?} -> {w1:?}");
                }
            }
        }
    }

    #[test]
    fn crop_keeps_world_positions() {
        let v = oblique_vol();
        let c = crop(&v, [1, 2, 1], [3, 2, 2]).unwrap();
        assert_eq!(c.dims(), [3, 2, 2]);
        assert_same_world(&v, &c);
        assert!(matches!(crop(&v, [3, 0, 0], [3, 1, 1]), Err(ImgprocError::Crop { .. })));
        assert!(crop(&v, [0, 0, 0], [0, 1, 1]).is_err());
        assert!(crop(&v, [usize::MAX, 0, 0], [2, 1, 1]).is_err());
    }

    #[test]
    fn pad_keeps_world_positions() {
        let v = oblique_vol();
        let p = pad(&v, [2, 0, 1], [1, 3, 0], -1).unwrap();
        assert_eq!(p.dims(), [8, 7, 4]);
        assert_same_world(&v, &p);
        assert_eq!(p.data().iter().filter(|&&x| x >= 0).count(), 60);
        assert_eq!(*p.get(0, 0, 0).unwrap(), -1);
    }

    #[test]
    fn flip_keeps_world_positions() {
        let v = oblique_vol();
        for axis in [Axis::X, Axis::Y, Axis::Z] {
            let f = flip(&v, axis);
            assert_same_world(&v, &f);
            assert_eq!(flip(&f, axis), v);
        }
    }

    #[test]
    fn permute_keeps_world_positions() {
        let v = oblique_vol();
        for order in [[0, 1, 2], [2, 0, 1], [1, 0, 2], [2, 1, 0], [0, 2, 1], [1, 2, 0]] {
            let p = permute(&v, order).unwrap();
            assert_eq!(p.dims(), [v.dims()[order[0]], v.dims()[order[1]], v.dims()[order[2]]]);
            assert_same_world(&v, &p);
        }
        assert!(matches!(permute(&v, [0, 0, 1]), Err(ImgprocError::Permute { .. })));
        assert!(permute(&v, [0, 1, 3]).is_err());
    }

    #[test]
    fn slices_keep_world_positions_and_normal() {
        let v = oblique_vol();
        for (axis, idx) in [(Axis::X, 3), (Axis::Y, 1), (Axis::Z, 2)] {
            let s = extract_slice(&v, axis, idx).unwrap();
            assert_eq!(s.dims()[2], 1);
            assert_same_world(&v, &s);
            let n = s.geometry().axis_direction(2);
            let want = v.geometry().axis_direction(axis.index());
            assert!(close(n, want), "{axis:?}: normal {n:?} vs {want:?}");
        }
        assert!(matches!(extract_slice(&v, Axis::Z, 3), Err(ImgprocError::ExtractSlice { .. })));
    }

    #[test]
    fn reorient_reaches_target_code_and_keeps_world_positions() {
        let v = oblique_vol();
        assert_eq!(v.geometry().orientation_code(), "LAI");
        for code in ["LPS", "RAS", "LPI", "SAR", "ipl", "ASL"] {
            let r = reorient(&v, code).unwrap();
            assert_eq!(r.geometry().orientation_code(), code.to_ascii_uppercase());
            assert_same_world(&v, &r);
        }
        for bad in ["LP", "LLS", "LPX", "LPSR", ""] {
            assert!(matches!(reorient(&v, bad), Err(ImgprocError::Reorient { .. })), "{bad}");
        }
    }

    #[test]
    fn reorient_at_45_degrees_is_a_bijection() {
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let g = Geometry { direction: [[h, -h, 0.0], [h, h, 0.0], [0.0, 0.0, 1.0]], ..Geometry::default() };
        let v = Volume::from_vec([3, 2, 2], g, (0..12).collect()).unwrap();
        let r = reorient(&v, "RAS").unwrap();
        assert_same_world(&v, &r);
        assert_eq!(r.len(), 12);
    }

    #[test]
    fn label_maps_stay_label_maps_and_keep_world_positions() {
        let v = oblique_vol();
        let labels = LabelVolume::new(v.map(|&x| x as u16));
        // Back to the i32 ids assert_same_world reads; 65535 marks padding.
        let ids = |l: &LabelVolume| l.as_volume().map(|&x| if x == u16::MAX { -1 } else { x as i32 });
        let ops: [(&str, LabelVolume); 6] = [
            ("crop", crop(&labels, [1, 0, 1], [3, 4, 2]).unwrap()),
            ("pad", pad(&labels, [1, 2, 0], [0, 1, 2], u16::MAX).unwrap()),
            ("flip", flip(&labels, Axis::Y)),
            ("permute", permute(&labels, [2, 0, 1]).unwrap()),
            ("slice", extract_slice(&labels, Axis::X, 2).unwrap()),
            ("reorient", reorient(&labels, "RAS").unwrap()),
        ];
        for (name, out) in &ops {
            assert_same_world(&v, &ids(out));
            assert!(out.labels().iter().all(|&l| l == u16::MAX || (l as i32) < 60), "{name}");
        }
        assert_eq!(ops[5].1.geometry().orientation_code(), "RAS");
    }
}
