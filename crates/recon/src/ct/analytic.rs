//! Exact line integrals of ellipsoid phantoms: ground-truth sinograms that no projector of
//! ours computed (Kak & Slaney 1988 §3.2 give the 2-D ellipse case; the 3-D chord is the same
//! quadratic).

use rayon::prelude::*;

use super::geometry::ScanGeometry;
use crate::error::ReconError;

/// An ellipsoid of constant value in world coordinates (LPS, mm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ellipsoid {
    /// Centre (mm).
    pub centre: [f64; 3],
    /// Semi-axes along the ellipsoid's own x, y, z (mm).
    pub semi_axes: [f64; 3],
    /// Rotation about z (radians), from world +x towards world +y.
    pub phi: f64,
    /// Value added inside.
    pub value: f64,
}

impl Ellipsoid {
    /// Length (mm) of the chord of the line `p + t·dir` (unit `dir`) through the ellipsoid.
    pub fn chord(&self, p: [f64; 3], dir: [f64; 3]) -> f64 {
        let (s, c) = self.phi.sin_cos();
        let q = [p[0] - self.centre[0], p[1] - self.centre[1], p[2] - self.centre[2]];
        // Into the ellipsoid's frame (rotate by −φ), then scale to the unit sphere.
        let to = |v: [f64; 3]| {
            [
                (c * v[0] + s * v[1]) / self.semi_axes[0],
                (-s * v[0] + c * v[1]) / self.semi_axes[1],
                v[2] / self.semi_axes[2],
            ]
        };
        let (pp, dd) = (to(q), to(dir));
        let a = dd[0] * dd[0] + dd[1] * dd[1] + dd[2] * dd[2];
        let b = pp[0] * dd[0] + pp[1] * dd[1] + pp[2] * dd[2];
        let cc = pp[0] * pp[0] + pp[1] * pp[1] + pp[2] * pp[2] - 1.0;
        let disc = b * b - a * cc;
        if disc <= 0.0 || a == 0.0 {
            0.0
        } else {
            2.0 * disc.sqrt() / a
        }
    }

    /// True when `p` lies inside.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let (s, c) = self.phi.sin_cos();
        let q = [p[0] - self.centre[0], p[1] - self.centre[1], p[2] - self.centre[2]];
        let x = (c * q[0] + s * q[1]) / self.semi_axes[0];
        let y = (-s * q[0] + c * q[1]) / self.semi_axes[1];
        let z = q[2] / self.semi_axes[2];
        x * x + y * y + z * z <= 1.0
    }
}

/// The ten ellipsoids of the modified Shepp–Logan head (Toft's attenuation values, the 3-D
/// extents of `hounsfield_phantom::shepp_logan::SHEPP_LOGAN`) placed as that crate places its
/// phantom: phantom unit `(x, y, z)` at world `R·(x, −y, z)` mm with `R = fov_mm/2`, so that
/// sampled phantoms and these analytic projections describe the same object. With
/// `three_d = false` the ellipsoids are infinite cylinders along z (the 2-D phantom in every
/// slice; use only with 2-D scans, whose rays stay in one plane).
pub fn shepp_logan_ellipsoids(fov_mm: f64, three_d: bool) -> Vec<Ellipsoid> {
    // (value, x0, y0, z0, a, b, c, φ°): Toft's modified table, z from Schabel's phantom3d.
    const T: [[f64; 8]; 10] = [
        [1.0, 0.0, 0.0, 0.0, 0.69, 0.92, 0.81, 0.0],
        [-0.8, 0.0, -0.0184, 0.0, 0.6624, 0.874, 0.78, 0.0],
        [-0.2, 0.22, 0.0, 0.0, 0.11, 0.31, 0.22, -18.0],
        [-0.2, -0.22, 0.0, 0.0, 0.16, 0.41, 0.28, 18.0],
        [0.1, 0.0, 0.35, -0.15, 0.21, 0.25, 0.41, 0.0],
        [0.1, 0.0, 0.1, 0.25, 0.046, 0.046, 0.05, 0.0],
        [0.1, 0.0, -0.1, 0.25, 0.046, 0.046, 0.05, 0.0],
        [0.1, -0.08, -0.605, 0.0, 0.046, 0.023, 0.05, 0.0],
        [0.1, 0.0, -0.606, 0.0, 0.023, 0.023, 0.02, 0.0],
        [0.1, 0.06, -0.605, 0.0, 0.023, 0.046, 0.02, 0.0],
    ];
    let r = fov_mm / 2.0;
    T.iter()
        .map(|t| Ellipsoid {
            centre: [r * t[1], -r * t[2], if three_d { r * t[3] } else { 0.0 }],
            semi_axes: [r * t[4], r * t[5], if three_d { r * t[6] } else { f64::INFINITY }],
            // The world y axis is the phantom's −y: a counter-clockwise φ becomes −φ.
            phi: -t[7].to_radians(),
            value: t[0],
        })
        .collect()
}

/// The exact sinogram of a sum of ellipsoids for `scan` (layout of
/// [`ScanGeometry::sinogram_dims`]), each value the line integral along the ray through the
/// centre of the detector element.
pub fn sinogram(scan: &ScanGeometry, ellipsoids: &[Ellipsoid]) -> Result<Vec<f32>, ReconError> {
    let n = hounsfield_core::check_alloc(scan.sinogram_len() as u128, 4)?;
    let mut out = vec![0.0f32; n];
    let (nc, nv) = (scan.cols(), scan.views());
    out.par_chunks_mut(nc).enumerate().for_each(|(line, row)| {
        let (view, r) = (line % nv, line / nv);
        view_row(scan, ellipsoids, view, r, row);
    });
    Ok(out)
}

/// One detector row of one view (`detector_count` values).
pub fn view_row(scan: &ScanGeometry, ellipsoids: &[Ellipsoid], view: usize, row: usize, out: &mut [f32]) {
    let f = scan.frame(view);
    for (k, o) in out.iter_mut().enumerate() {
        let (p, dir) = scan.ray(&f, k as f64, row as f64);
        *o = ellipsoids.iter().map(|e| e.value * e.chord(p, dir)).sum::<f64>() as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chord_of_a_sphere_and_a_rotated_ellipse() {
        let e = Ellipsoid { centre: [1.0, 2.0, 3.0], semi_axes: [5.0; 3], phi: 0.3, value: 1.0 };
        // Through the centre: the diameter; at distance 3 from it: 2·√(25 − 9) = 8.
        assert!((e.chord([1.0, -10.0, 3.0], [0.0, 1.0, 0.0]) - 10.0).abs() < 1e-12);
        assert!((e.chord([4.0, -10.0, 3.0], [0.0, 1.0, 0.0]) - 8.0).abs() < 1e-12);
        let e = Ellipsoid {
            centre: [0.0; 3],
            semi_axes: [4.0, 1.0, 1.0],
            phi: std::f64::consts::FRAC_PI_2,
            value: 1.0,
        };
        // Rotated by 90°, the long axis lies along y.
        assert!((e.chord([0.0, -10.0, 0.0], [0.0, 1.0, 0.0]) - 8.0).abs() < 1e-12);
        assert!(e.contains([0.0, 3.5, 0.0]) && !e.contains([3.5, 0.0, 0.0]));
    }
}
