//! Surface meshes of masks and label maps by marching cubes (Lorensen & Cline 1987), in
//! world coordinates (LPS, mm).
//!
//! Each cube of eight neighbouring voxel centres is classified by which corners are inside
//! (the 256 cases of Lorensen & Cline); the surface crosses every cube edge whose two
//! corners differ, at the linearly interpolated level (for a binary mask at level 0.5, the
//! edge midpoint).
//!
//! **Watertight by construction.** The 256-case triangle table is not typed in: it is
//! generated once from the cube's six faces. On each face the crossings are joined into
//! segments that depend only on that face's four corners, and on the two *ambiguous* face
//! configurations (diagonal corners inside, the other two outside; Dürst 1988) the segments
//! always cut off the inside corners, which are never joined across the face. (The
//! asymptotic decider of Nielson & Hamann 1991 would choose per face from the bilinear
//! saddle, but for binary data the saddle sits exactly at the level 0.5, so a fixed rule is
//! needed anyway.) Two cubes sharing a face therefore make the same segments on it, so the
//! mesh has no cracks; the segments on a cube's surface close into loops that are
//! triangulated as fans. For unambiguous cases this is the polygon of the classic table;
//! interior ambiguities (Chernyaev 1995) are not resolved trilinearly, which can change the
//! topology of a saddle but never watertightness. Vertices are shared between triangles
//! (keyed by the cube edge they lie on), so for a closed mesh every edge belongs to exactly
//! two triangles, traversed in opposite directions.
//!
//! **Closed at the border.** Masks are padded with one layer of background on every side,
//! so an object touching the image border is closed off there (by a face half a voxel
//! outside the last voxel centre). **Outward normals**: triangles are wound
//! counter-clockwise seen from outside, also for left-handed grids (negative direction
//! determinant), so the divergence theorem gives a positive [`TriangleMesh::enclosed_volume`].
//!
//! ```
//! use hounsfield_core::{Geometry, LabelVolume};
//! use hounsfield_imgproc::mesh;
//!
//! let g = Geometry::with_spacing([0.5, 0.5, 2.0]);
//! let mut labels = LabelVolume::background([8, 8, 4], g)?;
//! for (i, v) in labels.as_volume_mut().data_mut().iter_mut().enumerate() {
//!     let (x, y) = (i % 8, i / 8 % 8);
//!     if (2..6).contains(&x) && (2..6).contains(&y) {
//!         *v = 3;
//!     }
//! }
//! let meshes = mesh::label_meshes(&labels)?;
//! assert_eq!(meshes.len(), 1);
//! assert_eq!(meshes[0].label, 3);
//! assert!(meshes[0].mesh.is_closed());
//! # Ok::<(), hounsfield_imgproc::ImgprocError>(())
//! ```

use std::collections::HashMap;
use std::sync::OnceLock;

use hounsfield_core::linalg::{cross, det, dot, norm, sub, Vec3};
use hounsfield_core::{CoreError, Geometry, LabelVolume, Volume};
use rayon::prelude::*;

use crate::ImgprocError;

/// An indexed triangle mesh in world coordinates (LPS, mm).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriangleMesh {
    /// Vertex positions (LPS, mm).
    pub vertices: Vec<Vec3>,
    /// Triangles as indices into `vertices`, counter-clockwise seen from outside.
    pub triangles: Vec<[u32; 3]>,
}

impl TriangleMesh {
    /// True when the mesh has no triangle.
    pub fn is_empty(&self) -> bool {
        self.triangles.is_empty()
    }

    /// The three corners of triangle `t` (panics if `t` is out of range).
    pub fn corners(&self, t: usize) -> [Vec3; 3] {
        let [a, b, c] = self.triangles[t];
        [self.vertices[a as usize], self.vertices[b as usize], self.vertices[c as usize]]
    }

    /// Unit normal of triangle `t` from its winding (outward for meshes made here), or zero
    /// for a degenerate triangle.
    pub fn normal(&self, t: usize) -> Vec3 {
        let [a, b, c] = self.corners(t);
        let n = cross(sub(b, a), sub(c, a));
        let l = norm(n);
        if l > 0.0 {
            [n[0] / l, n[1] / l, n[2] / l]
        } else {
            [0.0; 3]
        }
    }

    /// Total surface area (mm²).
    pub fn area(&self) -> f64 {
        (0..self.triangles.len())
            .map(|t| {
                let [a, b, c] = self.corners(t);
                norm(cross(sub(b, a), sub(c, a))) / 2.0
            })
            .sum()
    }

    /// Volume enclosed by a closed, outward-wound mesh (mm³), by the divergence theorem:
    /// the sum of the signed volumes of the tetrahedra (origin, a, b, c). Meaningless for a
    /// mesh that is not closed.
    pub fn enclosed_volume(&self) -> f64 {
        (0..self.triangles.len())
            .map(|t| {
                let [a, b, c] = self.corners(t);
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    /// True when every edge belongs to exactly two triangles that traverse it in opposite
    /// directions (a closed, consistently oriented surface). An empty mesh is closed.
    pub fn is_closed(&self) -> bool {
        let mut edges: HashMap<(u32, u32), i32> = HashMap::with_capacity(self.triangles.len() * 2);
        for tri in &self.triangles {
            for k in 0..3 {
                let (a, b) = (tri[k], tri[(k + 1) % 3]);
                if a == b {
                    return false;
                }
                let e = edges.entry((a.min(b), a.max(b))).or_insert(0);
                *e += if a < b { 1 } else { 1000 };
            }
        }
        // One traversal each way: 1 + 1000.
        edges.values().all(|&v| v == 1001)
    }
}

/// The surface of one label of a label map (see [`label_meshes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelMesh {
    /// The label value.
    pub label: u16,
    /// Its surface.
    pub mesh: TriangleMesh,
}

/// Corner offsets of the unit cube, in the numbering of Lorensen & Cline / Bourke.
const CORNERS: [[usize; 3]; 8] =
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]];

/// The 12 cube edges as corner pairs (the first corner is the lower one along the edge).
const EDGES: [[usize; 2]; 12] =
    [[0, 1], [3, 2], [4, 5], [7, 6], [0, 3], [1, 2], [4, 7], [5, 6], [0, 4], [1, 5], [3, 7], [2, 6]];

/// The six faces: corners in cyclic order, and the outward normal.
const FACES: [([usize; 4], [f64; 3]); 6] = [
    ([0, 1, 2, 3], [0.0, 0.0, -1.0]),
    ([4, 5, 6, 7], [0.0, 0.0, 1.0]),
    ([0, 1, 5, 4], [0.0, -1.0, 0.0]),
    ([3, 2, 6, 7], [0.0, 1.0, 0.0]),
    ([0, 3, 7, 4], [-1.0, 0.0, 0.0]),
    ([1, 2, 6, 5], [1.0, 0.0, 0.0]),
];

fn edge_between(a: usize, b: usize) -> usize {
    EDGES.iter().position(|e| (e[0] == a && e[1] == b) || (e[0] == b && e[1] == a)).unwrap_or(0)
}

fn corner_pos(c: usize) -> Vec3 {
    CORNERS[c].map(|x| x as f64)
}

fn edge_mid(e: usize) -> Vec3 {
    let (a, b) = (corner_pos(EDGES[e][0]), corner_pos(EDGES[e][1]));
    [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0, (a[2] + b[2]) / 2.0]
}

/// Triangles (as cube-edge triples) of one case, from the face rule described in the module
/// docs.
fn case_triangles(case: usize) -> Vec<[u8; 3]> {
    let inside = |c: usize| case >> c & 1 == 1;
    // next[e] = the crossing that follows crossing e along its loop.
    let mut next = [usize::MAX; 12];
    for (corners, n) in FACES {
        let crossing = |k: usize| {
            let (a, b) = (corners[k], corners[(k + 1) % 4]);
            (inside(a) != inside(b)).then(|| edge_between(a, b))
        };
        let mut segments: Vec<(usize, usize, usize)> = Vec::new(); // (edge, edge, inside corner)
        let crossings: Vec<usize> = (0..4).filter_map(crossing).collect();
        if crossings.len() == 2 {
            let c_in = corners.iter().copied().find(|&c| inside(c)).unwrap_or(0);
            segments.push((crossings[0], crossings[1], c_in));
        } else if crossings.len() == 4 {
            // Ambiguous face: cut off each inside corner on its own.
            for k in 0..4 {
                if inside(corners[k]) {
                    let before = edge_between(corners[(k + 3) % 4], corners[k]);
                    let after = edge_between(corners[k], corners[(k + 1) % 4]);
                    segments.push((before, after, corners[k]));
                }
            }
        }
        for (p, q, c_in) in segments {
            // Orient p → q so that, seen from outside the cube, the inside corner is on the
            // right: then the loops run clockwise around the inside region on the cube's
            // surface, which makes the fans counter-clockwise seen from the outside region.
            let (pp, qp, cp) = (edge_mid(p), edge_mid(q), corner_pos(c_in));
            let s = dot(n, cross(sub(qp, pp), sub(cp, pp)));
            if s < 0.0 {
                next[p] = q;
            } else {
                next[q] = p;
            }
        }
    }
    let mut done = [false; 12];
    let mut tris = Vec::new();
    for start in 0..12 {
        if next[start] == usize::MAX || done[start] {
            continue;
        }
        let mut lp = vec![start];
        done[start] = true;
        let mut e = next[start];
        while e != start && e != usize::MAX && !done[e] {
            done[e] = true;
            lp.push(e);
            e = next[e];
        }
        for k in 1..lp.len().saturating_sub(1) {
            tris.push([lp[0] as u8, lp[k] as u8, lp[k + 1] as u8]);
        }
    }
    tris
}

/// The 256-case triangle table, generated on first use.
fn table() -> &'static [Vec<[u8; 3]>] {
    static TABLE: OnceLock<Vec<Vec<[u8; 3]>>> = OnceLock::new();
    TABLE.get_or_init(|| (0..256).map(case_triangles).collect())
}

/// Marching cubes over the box of cubes whose lower corners run over `lo..hi` (padded
/// coordinates: voxel `x` has padded coordinate `x + 1`), sampling `inside` at voxel
/// indices; indices outside the image are background.
fn march(
    dims: [usize; 3],
    geometry: &Geometry,
    lo: [usize; 3],
    hi: [usize; 3],
    inside: &(dyn Fn(usize) -> bool + Sync),
) -> Result<TriangleMesh, ImgprocError> {
    let table = table();
    let [nx, ny, _] = dims;
    // Padded grid: nx + 2 corners per axis; corner p ↔ voxel p − 1.
    let (px, py) = (nx as u64 + 2, ny as u64 + 2);
    let value = |p: [usize; 3]| -> bool {
        if p.iter().zip(&dims).any(|(&c, &n)| c == 0 || c > n) {
            return false;
        }
        inside((p[0] - 1) + nx * ((p[1] - 1) + ny * (p[2] - 1)))
    };
    let affine = geometry.index_to_world_affine();
    let flip = det(&geometry.direction) < 0.0;
    let mut vertex_of: HashMap<u64, u32> = HashMap::new();
    let mut mesh = TriangleMesh::default();
    // One lookup per corner (8 per cube) rather than a cached layer of case indices: simple,
    // and only each label's bounding box is visited.
    for z in lo[2]..hi[2] {
        for y in lo[1]..hi[1] {
            for x in lo[0]..hi[0] {
                let mut case = 0usize;
                for (c, o) in CORNERS.iter().enumerate() {
                    if value([x + o[0], y + o[1], z + o[2]]) {
                        case |= 1 << c;
                    }
                }
                let tris = &table[case];
                if tris.is_empty() {
                    continue;
                }
                for t in tris {
                    let mut idx = [0u32; 3];
                    for (slot, &e) in idx.iter_mut().zip(t) {
                        let [a, b] = EDGES[e as usize];
                        let ca = [x + CORNERS[a][0], y + CORNERS[a][1], z + CORNERS[a][2]];
                        let axis = (0..3).find(|&k| CORNERS[a][k] != CORNERS[b][k]).unwrap_or(0);
                        let key = ((ca[2] as u64 * py + ca[1] as u64) * px + ca[0] as u64) * 3 + axis as u64;
                        let next_id = mesh.vertices.len();
                        *slot = *vertex_of.entry(key).or_insert_with(|| {
                            // Binary data: the level 0.5 crossing is the edge midpoint.
                            let mut p = [ca[0] as f64 - 1.0, ca[1] as f64 - 1.0, ca[2] as f64 - 1.0];
                            p[axis] += 0.5;
                            mesh.vertices.push(affine.apply(p));
                            next_id as u32
                        });
                    }
                    if flip {
                        idx.swap(1, 2);
                    }
                    mesh.triangles.push(idx);
                }
            }
        }
        if mesh.vertices.len() > u32::MAX as usize / 2 {
            return Err(CoreError::InvalidParameter {
                name: "mesh",
                reason: "more than 2^31 vertices; crop or downsample the mask first".into(),
            }
            .into());
        }
    }
    Ok(mesh)
}

/// Checks the geometry and that padded corner keys fit 64 bits.
fn check_grid(dims: [usize; 3], geometry: &Geometry) -> Result<(), ImgprocError> {
    geometry.validate_with(false)?;
    let corners: u128 = dims.iter().map(|&n| n as u128 + 2).product();
    if corners * 3 >= u64::MAX as u128 {
        return Err(CoreError::InvalidDims { dims, reason: "too large to mesh" }.into());
    }
    Ok(())
}

/// The surface of a mask (non-zero = inside) at level 0.5, in world coordinates (LPS, mm),
/// closed at the image border. An empty mask gives an empty mesh.
pub fn mask_mesh(mask: &Volume<u8>) -> Result<TriangleMesh, ImgprocError> {
    let dims = mask.dims();
    check_grid(dims, mask.geometry())?;
    let data = mask.data();
    let hi = [dims[0] + 1, dims[1] + 1, dims[2] + 1];
    march(dims, mask.geometry(), [0; 3], hi, &|i| data.get(i).is_some_and(|&v| v != 0))
}

/// The surface of one label (voxels equal to `label`) at level 0.5 of its indicator, like
/// [`mask_mesh`]. Only the label's bounding box (plus one voxel) is visited.
pub fn label_mesh(labels: &LabelVolume, label: u16) -> Result<TriangleMesh, ImgprocError> {
    let dims = labels.dims();
    check_grid(dims, labels.geometry())?;
    let boxes = bounding_boxes(labels);
    match boxes.get(&label) {
        Some(b) => mesh_box(labels, label, b),
        None => Ok(TriangleMesh::default()),
    }
}

/// One surface per non-zero label present, ascending by label (computed in parallel).
pub fn label_meshes(labels: &LabelVolume) -> Result<Vec<LabelMesh>, ImgprocError> {
    let dims = labels.dims();
    check_grid(dims, labels.geometry())?;
    let mut boxes: Vec<(u16, [usize; 6])> =
        bounding_boxes(labels).into_iter().filter(|(l, _)| *l != 0).collect();
    boxes.sort_by_key(|(l, _)| *l);
    boxes
        .par_iter()
        .map(|(label, b)| Ok(LabelMesh { label: *label, mesh: mesh_box(labels, *label, b)? }))
        .collect()
}

fn mesh_box(labels: &LabelVolume, label: u16, b: &[usize; 6]) -> Result<TriangleMesh, ImgprocError> {
    let data = labels.data();
    // Voxel v has padded coordinate v + 1; cubes with lower corner from (min + 1) − 1 to
    // (max + 1) cover every cube touching the label.
    let lo = [b[0], b[1], b[2]];
    let hi = [b[3] + 2, b[4] + 2, b[5] + 2];
    march(labels.dims(), labels.geometry(), lo, hi, &|i| data.get(i) == Some(&label))
}

/// Bounding box (min x, y, z, max x, y, z) of every label present, background included.
fn bounding_boxes(labels: &LabelVolume) -> HashMap<u16, [usize; 6]> {
    let [nx, ny, _] = labels.dims();
    let mut boxes: HashMap<u16, [usize; 6]> = HashMap::new();
    for (i, &l) in labels.data().iter().enumerate() {
        let (x, y, z) = (i % nx, i / nx % ny, i / (nx * ny));
        let b = boxes.entry(l).or_insert([x, y, z, x, y, z]);
        for (k, v) in [x, y, z].into_iter().enumerate() {
            b[k] = b[k].min(v);
            b[k + 3] = b[k + 3].max(v);
        }
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_closes_into_loops_with_the_classic_polygon_count() {
        let t = table();
        assert!(t[0].is_empty() && t[255].is_empty());
        // One corner inside: one triangle (case 1 of Lorensen & Cline).
        assert_eq!(t[1].len(), 1);
        // Two adjacent corners: a quad.
        assert_eq!(t[0b11].len(), 2);
        // Two corners on a face diagonal: separated, two triangles.
        assert_eq!(t[0b101].len(), 2);
        for (case, tris) in t.iter().enumerate() {
            // Every crossing edge is used by the case's triangles.
            let crossing = EDGES.iter().filter(|[a, b]| (case >> a & 1) != (case >> b & 1)).count();
            let used: std::collections::HashSet<u8> = tris.iter().flatten().copied().collect();
            assert_eq!(used.len(), crossing, "case {case}");
        }
    }

    #[test]
    fn single_voxel_is_a_closed_octahedron() {
        let mut m = Volume::<u8>::zeros([3, 3, 3], Geometry::default()).unwrap();
        *m.get_mut(1, 1, 1).unwrap() = 1;
        let mesh = mask_mesh(&m).unwrap();
        assert_eq!(mesh.vertices.len(), 6);
        assert_eq!(mesh.triangles.len(), 8);
        assert!(mesh.is_closed());
        // Octahedron with half-diagonals 0.5: volume 4/3 · 0.5³ = 1/6.
        assert!((mesh.enclosed_volume() - 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn full_image_is_closed_at_the_border_and_left_handed_grids_stay_outward() {
        let g = Geometry {
            direction: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            spacing: [2.0, 1.0, 3.0],
            ..Geometry::default()
        };
        let m = Volume::<u8>::filled([4, 3, 2], g, 1).unwrap();
        let mesh = mask_mesh(&m).unwrap();
        assert!(mesh.is_closed());
        assert!(mesh.enclosed_volume() > 0.0);
    }
}
