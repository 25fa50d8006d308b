//! Binary STL output of triangle meshes (surface meshes of segmentations, from
//! [`hounsfield_imgproc::mesh`]).
//!
//! Layout (the de-facto standard of 3D Systems' format): an 80-byte header, a little-endian
//! `u32` triangle count, then per triangle the unit normal and the three vertices as
//! little-endian `f32` triples and a zero `u16` attribute byte count (50 bytes).
//!
//! STL has no units or coordinate frame. Hounsfield writes **millimetres in the patient LPS
//! frame** — the mesh's own coordinates, unchanged — and says so in the header, which
//! begins `SPACE=LPS`: 3D Slicer reads STL as LPS millimetres by default and looks for such
//! a `SPACE=` marker in the header (a RAS tool needs the first two coordinates negated).
//! Normals are those of the counter-clockwise winding, which for meshes made by marching
//! cubes here point outward. The file is written atomically ([`crate::atomic`]).
//!
//! ```no_run
//! use hounsfield_imgproc::mesh::label_meshes;
//! # fn labels() -> hounsfield_core::LabelVolume { unimplemented!() }
//! for m in label_meshes(&labels())? {
//!     hounsfield_io::stl::write(format!("label_{}.stl", m.label).as_ref(), &m.mesh)?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use hounsfield_core::check_alloc;
use hounsfield_imgproc::mesh::TriangleMesh;

/// The header written before the triangle count (padded with spaces to 80 bytes).
pub const HEADER: &str = "SPACE=LPS units=mm; binary STL written by Hounsfield";

/// Errors writing an STL file.
#[derive(Debug, thiserror::Error)]
pub enum StlError {
    /// The mesh cannot be written as binary STL (too many triangles, a vertex index out of
    /// range, a non-finite coordinate).
    #[error("cannot write this mesh as STL: {reason}")]
    Mesh {
        /// What is wrong.
        reason: String,
    },
    /// A size over the memory cap.
    #[error(transparent)]
    Core(#[from] hounsfield_core::CoreError),
    /// Writing the file failed.
    #[error("cannot write STL: {source}: {}", .path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The binary STL bytes of `mesh` (see the [module docs](self)).
pub fn to_bytes(mesh: &TriangleMesh) -> Result<Vec<u8>, StlError> {
    let n = mesh.triangles.len();
    if n > u32::MAX as usize {
        return Err(StlError::Mesh { reason: format!("{n} triangles; binary STL holds at most 2^32 - 1") });
    }
    if let Some(v) = mesh.vertices.iter().flatten().find(|x| !x.is_finite() || x.abs() > f32::MAX as f64) {
        return Err(StlError::Mesh { reason: format!("vertex coordinate {v} is not a finite f32") });
    }
    let size = check_alloc(84 + 50 * n as u128, 1)?;
    let mut out = Vec::with_capacity(size);
    let mut header = [b' '; 80];
    header[..HEADER.len()].copy_from_slice(HEADER.as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    let f32s = |out: &mut Vec<u8>, v: [f64; 3]| {
        for x in v {
            out.extend_from_slice(&(x as f32).to_le_bytes());
        }
    };
    for (t, tri) in mesh.triangles.iter().enumerate() {
        if let Some(bad) = tri.iter().find(|&&i| i as usize >= mesh.vertices.len()) {
            return Err(StlError::Mesh {
                reason: format!("triangle {t} uses vertex {bad} of {}", mesh.vertices.len()),
            });
        }
        f32s(&mut out, mesh.normal(t));
        for v in mesh.corners(t) {
            f32s(&mut out, v);
        }
        out.extend_from_slice(&[0, 0]);
    }
    Ok(out)
}

/// Writes `mesh` as binary STL at `path`, atomically.
pub fn write(path: &Path, mesh: &TriangleMesh) -> Result<(), StlError> {
    let bytes = to_bytes(mesh)?;
    crate::atomic::write_atomic(path, |w| w.write_all(&bytes))
        .map_err(|source| StlError::Write { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_triangle_layout() {
        let mesh = TriangleMesh {
            vertices: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]],
            triangles: vec![[0, 1, 2]],
        };
        let b = to_bytes(&mesh).unwrap();
        assert_eq!(b.len(), 84 + 50);
        assert!(b.starts_with(b"SPACE=LPS"));
        assert_eq!(u32::from_le_bytes([b[80], b[81], b[82], b[83]]), 1);
        let f = |o: usize| f32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        assert_eq!([f(84), f(88), f(92)], [0.0, 0.0, 1.0]); // normal +z
        assert_eq!([f(120), f(124), f(128)], [0.0, 2.0, 0.0]); // third vertex
        let bad = TriangleMesh { vertices: vec![[0.0; 3]], triangles: vec![[0, 0, 1]] };
        assert!(matches!(to_bytes(&bad), Err(StlError::Mesh { .. })));
    }
}
