//! Connected components of a mask (`Volume<u8>`, non-zero = foreground).
//!
//! Two-pass labelling with union-find (Wu, Otoo & Suzuki 2009, "Optimizing two-pass
//! connected-component labeling algorithms"): every foreground voxel is linked to its already
//! scanned neighbours, always attaching the larger root to the smaller so that each
//! component's root is its first voxel in x-fastest order. Slabs of slices are scanned in
//! parallel, their touching planes merged, and one final ordered pass resolves every voxel:
//! O(voxels · α).

use crate::ImgprocError;
use hounsfield_core::{check_alloc, Geometry, LabelVolume, Volume};
use rayon::prelude::*;

/// Which neighbours touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Connectivity {
    /// Faces only (6 neighbours).
    Six,
    /// Faces and edges (18 neighbours).
    Eighteen,
    /// Faces, edges and corners (26 neighbours; SimpleITK `fullyConnected=True`). The default:
    /// a voxel touching another at a corner belongs to the same object.
    #[default]
    TwentySix,
}

impl Connectivity {
    /// Offsets `(dx, dy, dz)` of the neighbours scanned before a voxel (half the
    /// neighbourhood: `dz < 0`, or `dz = 0, dy < 0`, or `dz = dy = 0, dx < 0`).
    fn backward(self) -> Vec<[isize; 3]> {
        let mut v = Vec::new();
        for dz in -1isize..=0 {
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let before = dz < 0 || (dz == 0 && dy < 0) || (dz == 0 && dy == 0 && dx < 0);
                    let nonzero = (dx != 0) as u8 + (dy != 0) as u8 + (dz != 0) as u8;
                    let max = match self {
                        Connectivity::Six => 1,
                        Connectivity::Eighteen => 2,
                        Connectivity::TwentySix => 3,
                    };
                    if before && nonzero <= max {
                        v.push([dx, dy, dz]);
                    }
                }
            }
        }
        v
    }
}

/// Labelled components: label `l` (1-based) is the `l`-th largest component.
#[derive(Clone, Debug, PartialEq)]
pub struct Components {
    /// Labels 1..=n in order of decreasing size (ties: the component whose first voxel in
    /// x-fastest order comes first); 0 = background.
    pub labels: LabelVolume,
    /// `sizes[l - 1]` is the number of voxels of label `l` (non-increasing).
    pub sizes: Vec<u64>,
}

impl Components {
    /// Number of components.
    pub fn count(&self) -> usize {
        self.sizes.len()
    }

    /// Volume of each component in millilitres (`sizes · voxel volume / 1000`; 1 mL = 1000 mm³).
    pub fn volumes_ml(&self) -> Vec<f64> {
        voxels_to_ml(&self.sizes, self.labels.geometry())
    }
}

/// Converts voxel counts to millilitres on a grid (1 mL = 1000 mm³).
pub fn voxels_to_ml(sizes: &[u64], geometry: &Geometry) -> Vec<f64> {
    let v = geometry.voxel_volume() / 1000.0;
    sizes.iter().map(|&s| s as f64 * v).collect()
}

/// Marker for background voxels in the parent array.
const NONE: u32 = u32::MAX;

/// Finds the root of `i` with path halving (parents always point to smaller indices).
#[inline]
fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        let gp = parent[p as usize];
        parent[i as usize] = gp;
        i = gp;
    }
    i
}

/// Links the components of `a` and `b`, keeping the smaller root.
#[inline]
fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra < rb {
        parent[rb as usize] = ra;
    } else if rb < ra {
        parent[ra as usize] = rb;
    }
}

/// Per-voxel dense component ids (0 = background, 1.. in order of first voxel) and the size
/// of each id (`sizes[id - 1]`).
fn label_raw(mask: &Volume<u8>, connectivity: Connectivity) -> Result<(Vec<u32>, Vec<u64>), ImgprocError> {
    let [nx, ny, nz] = mask.dims();
    let n = mask.len();
    if n >= NONE as usize {
        return Err(ImgprocError::Core(hounsfield_core::CoreError::InvalidParameter {
            name: "mask",
            reason: format!("{n} voxels exceed the 2^32 − 1 labelling limit"),
        }));
    }
    check_alloc(n as u128, 4)?;
    let m = mask.data();
    let offs = connectivity.backward();
    let sxy = nx * ny;
    // Phase 1: slabs of slices in parallel, each linking only within itself (every parent
    // index stays inside the slab, so the slabs' parent ranges are disjoint).
    let threads = rayon::current_num_threads().max(1);
    let slab = nz.div_ceil(threads * 4).max(1);
    let mut parent = vec![NONE; n];
    parent.par_chunks_mut(slab * sxy).enumerate().for_each(|(s, par)| {
        let z0 = s * slab;
        let base = z0 * sxy;
        let zs = par.len() / sxy;
        for z in 0..zs {
            for y in 0..ny {
                for x in 0..nx {
                    let gi = base + x + nx * (y + ny * z);
                    if m[gi] == 0 {
                        continue;
                    }
                    let li = (gi - base) as u32;
                    par[li as usize] = li;
                    for o in &offs {
                        let (qx, qy, qz) = (x as isize + o[0], y as isize + o[1], z as isize + o[2]);
                        if qx < 0 || qy < 0 || qz < 0 || qx >= nx as isize || qy >= ny as isize {
                            continue;
                        }
                        let lq = qx as usize + nx * (qy as usize + ny * qz as usize);
                        if m[base + lq] != 0 {
                            union(par, li, lq as u32);
                        }
                    }
                }
            }
        }
        // Local parents → global indices.
        par.iter_mut().for_each(|p| {
            if *p != NONE {
                *p += base as u32;
            }
        });
    });
    // Phase 2: merge across each slab boundary (the first plane of a slab with the plane
    // before it), sequentially on the global array.
    let zoffs: Vec<&[isize; 3]> = offs.iter().filter(|o| o[2] < 0).collect();
    for z in (slab..nz).step_by(slab) {
        for y in 0..ny {
            for x in 0..nx {
                let i = x + nx * (y + ny * z);
                if m[i] == 0 {
                    continue;
                }
                for o in &zoffs {
                    let (qx, qy) = (x as isize + o[0], y as isize + o[1]);
                    if qx < 0 || qy < 0 || qx >= nx as isize || qy >= ny as isize {
                        continue;
                    }
                    let q = qx as usize + nx * (qy as usize + ny * (z - 1));
                    if m[q] != 0 {
                        union(&mut parent, i as u32, q as u32);
                    }
                }
            }
        }
    }
    // Phase 3: one ordered pass. A voxel's parent is smaller and already resolved to its
    // dense id, so `parent[i] = id(parent[i])`; roots (parent[i] == i) take the next id.
    let mut sizes: Vec<u64> = Vec::new();
    for i in 0..n {
        let p = parent[i];
        if p == NONE {
            parent[i] = 0;
            continue;
        }
        let id = if p as usize == i {
            sizes.push(0);
            sizes.len() as u32
        } else {
            parent[p as usize]
        };
        parent[i] = id;
        sizes[id as usize - 1] += 1;
    }
    Ok((parent, sizes))
}

/// Order of the dense ids by decreasing size, ties by first voxel: `rank[id - 1]` is the new
/// 1-based label of id.
fn ranks(sizes: &[u64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..sizes.len() as u32).collect();
    // Stable sort: equal sizes keep first-voxel order.
    order.sort_by(|&a, &b| sizes[b as usize].cmp(&sizes[a as usize]));
    let mut rank = vec![0u32; sizes.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32 + 1;
    }
    rank
}

/// Labels the connected components of `mask` 1..=n by decreasing size (ties: first voxel in
/// x-fastest order first). Fails with [`ImgprocError::TooManyComponents`] above 65535
/// components (a `u16` label map); [`largest_component`] and [`remove_small_components`]
/// have no such limit.
pub fn connected_components(
    mask: &Volume<u8>,
    connectivity: Connectivity,
) -> Result<Components, ImgprocError> {
    let (ids, sizes) = label_raw(mask, connectivity)?;
    if sizes.len() > u16::MAX as usize {
        return Err(ImgprocError::TooManyComponents { count: sizes.len() });
    }
    let rank = ranks(&sizes);
    let labels: Vec<u16> =
        ids.par_iter().map(|&id| if id == 0 { 0 } else { rank[id as usize - 1] as u16 }).collect();
    let mut sorted = sizes;
    sorted.sort_by(|a, b| b.cmp(a));
    Ok(Components { labels: LabelVolume::new(mask.with_data(labels)?), sizes: sorted })
}

/// The largest connected component as a 0/1 mask (ties: the one whose first voxel comes
/// first); all zeros when the mask is empty.
pub fn largest_component(mask: &Volume<u8>, connectivity: Connectivity) -> Result<Volume<u8>, ImgprocError> {
    let (ids, sizes) = label_raw(mask, connectivity)?;
    let best = sizes.iter().enumerate().fold(None, |b: Option<(usize, u64)>, (i, &s)| match b {
        Some((_, bs)) if bs >= s => b,
        _ => Some((i, s)),
    });
    let keep = best.map_or(0, |(i, _)| i as u32 + 1);
    let out: Vec<u8> = ids.par_iter().map(|&id| (id != 0 && id == keep) as u8).collect();
    Ok(mask.with_data(out)?)
}

/// The mask without the components smaller than `min_voxels` voxels (0/1 output).
pub fn remove_small_components(
    mask: &Volume<u8>,
    connectivity: Connectivity,
    min_voxels: u64,
) -> Result<Volume<u8>, ImgprocError> {
    let (ids, sizes) = label_raw(mask, connectivity)?;
    let out: Vec<u8> =
        ids.par_iter().map(|&id| (id != 0 && sizes[id as usize - 1] >= min_voxels) as u8).collect();
    Ok(mask.with_data(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(dims: [usize; 3], on: &[[usize; 3]]) -> Volume<u8> {
        let mut m = Volume::<u8>::zeros(dims, Geometry::with_spacing([0.5, 1.0, 2.0])).unwrap();
        for p in on {
            *m.get_mut(p[0], p[1], p[2]).unwrap() = 1;
        }
        m
    }

    #[test]
    fn neighbourhood_sizes() {
        assert_eq!(Connectivity::Six.backward().len(), 3);
        assert_eq!(Connectivity::Eighteen.backward().len(), 9);
        assert_eq!(Connectivity::TwentySix.backward().len(), 13);
    }

    #[test]
    fn diagonal_voxels_depend_on_connectivity() {
        // Two voxels sharing an edge, and a third touching the second at a corner.
        let m = mask([4, 4, 4], &[[0, 0, 0], [1, 1, 0], [2, 2, 1]]);
        let c6 = connected_components(&m, Connectivity::Six).unwrap();
        assert_eq!(c6.sizes, vec![1, 1, 1]);
        assert_eq!(*c6.labels.get(0, 0, 0).unwrap(), 1);
        let c18 = connected_components(&m, Connectivity::Eighteen).unwrap();
        assert_eq!(c18.sizes, vec![2, 1]);
        let c26 = connected_components(&m, Connectivity::TwentySix).unwrap();
        assert_eq!(c26.sizes, vec![3]);
    }

    #[test]
    fn blobs_are_ordered_by_size_then_first_voxel() {
        let dims = [10, 8, 12];
        let mut on = Vec::new();
        // Blob A: 2 voxels, first in scan order. Blob B: 5 voxels spanning many slices (crosses
        // the slab boundaries). Blob C: 2 voxels, later.
        on.extend([[0, 0, 0], [1, 0, 0]]);
        on.extend((0..5).map(|z| [5, 5, 2 * z + 1]).collect::<Vec<_>>());
        on.extend([[5, 5, 2], [5, 5, 4], [5, 5, 6], [5, 5, 8]]);
        on.extend([[9, 7, 11], [8, 7, 11]]);
        let m = mask(dims, &on);
        let c = connected_components(&m, Connectivity::Six).unwrap();
        assert_eq!(c.sizes, vec![9, 2, 2]);
        assert_eq!(*c.labels.get(5, 5, 1).unwrap(), 1);
        assert_eq!(*c.labels.get(1, 0, 0).unwrap(), 2);
        assert_eq!(*c.labels.get(8, 7, 11).unwrap(), 3);
        // 9 voxels of 0.5 × 1 × 2 mm = 9 mm³ = 0.009 mL.
        assert!((c.volumes_ml()[0] - 0.009).abs() < 1e-12);
        let l = largest_component(&m, Connectivity::Six).unwrap();
        assert_eq!(l.data().iter().map(|&v| v as u64).sum::<u64>(), 9);
        let r = remove_small_components(&m, Connectivity::Six, 3).unwrap();
        assert_eq!(r, l);
    }

    #[test]
    fn u_shape_merges_across_slabs() {
        // A U in the x-z plane: two columns joined only at the last slice.
        let dims = [5, 1, 16];
        let mut on: Vec<[usize; 3]> = Vec::new();
        for z in 0..16 {
            on.push([0, 0, z]);
            on.push([4, 0, z]);
        }
        on.extend([[1, 0, 15], [2, 0, 15], [3, 0, 15]]);
        let c = connected_components(&mask(dims, &on), Connectivity::Six).unwrap();
        assert_eq!(c.sizes, vec![35]);
    }

    #[test]
    fn empty_mask() {
        let m = mask([3, 3, 3], &[]);
        let c = connected_components(&m, Connectivity::default()).unwrap();
        assert_eq!(c.count(), 0);
        assert!(largest_component(&m, Connectivity::default()).unwrap().data().iter().all(|&v| v == 0));
    }
}
