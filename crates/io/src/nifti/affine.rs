//! NIfTI's voxel→world affines (RAS) to and from [`Geometry`] (LPS).
//!
//! The choice of affine, units and what the writer stores are documented on
//! [`crate::nifti`] ("Geometry").

use hounsfield_core::linalg::{self, Mat3, Vec3};
use hounsfield_core::Geometry;

use super::header::Header;

/// NIfTI's RAS frame to LPS and back: x and y change sign.
const FLIP: [f64; 3] = [-1.0, -1.0, 1.0];

/// How the geometry was chosen (for messages and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Sform,
    Qform,
    Pixdim,
}

/// Spacing along index axis `k` from `pixdim`: a single-slice axis with an unset (≤ 0 or
/// non-finite) spacing gets 1 mm, as 2-D files often leave `pixdim[3] = 0`.
fn pixdim_spacing(h: &Header, dims: [usize; 3], k: usize) -> Result<f64, String> {
    let p = h.pixdim[k + 1];
    if p.is_finite() && p > 0.0 {
        Ok(p)
    } else if dims[k] == 1 {
        Ok(1.0)
    } else {
        Err(format!("pixdim[{}] = {p} is not a positive spacing", k + 1))
    }
}

/// Rotation matrix of the unit quaternion with vector part (b, c, d), as `nifti_quatern_to_mat44`
/// computes it: a = sqrt(1 − b² − c² − d²), renormalising when rounding made that negative.
pub(crate) fn quatern_to_rotation(q: [f64; 3]) -> Mat3 {
    let [mut b, mut c, mut d] = q;
    let s = b * b + c * c + d * d;
    let a = if 1.0 - s < 1e-7 {
        let inv = 1.0 / s.sqrt();
        b *= inv;
        c *= inv;
        d *= inv;
        0.0
    } else {
        (1.0 - s).sqrt()
    };
    [
        [a * a + b * b - c * c - d * d, 2.0 * (b * c - a * d), 2.0 * (b * d + a * c)],
        [2.0 * (b * c + a * d), a * a + c * c - b * b - d * d, 2.0 * (c * d - a * b)],
        [2.0 * (b * d - a * c), 2.0 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ]
}

/// The RAS affine (linear part, translation) the header asks for, in the file's units.
pub(crate) fn ras_affine(h: &Header, dims: [usize; 3]) -> Result<(Mat3, Vec3, Method), String> {
    if h.sform_code > 0 {
        let mut m = [[0.0; 3]; 3];
        let mut t = [0.0; 3];
        for r in 0..3 {
            m[r] = [h.srow[r][0], h.srow[r][1], h.srow[r][2]];
            t[r] = h.srow[r][3];
        }
        if m.iter().flatten().chain(t.iter()).any(|v| !v.is_finite()) {
            return Err(format!("non-finite sform {:?}", h.srow));
        }
        fill_flat_axes(&mut m, dims);
        return Ok((m, t, Method::Sform));
    }
    let sp = [pixdim_spacing(h, dims, 0)?, pixdim_spacing(h, dims, 1)?, pixdim_spacing(h, dims, 2)?];
    if h.qform_code > 0 {
        if h.quatern.iter().chain(h.qoffset.iter()).any(|v| !v.is_finite()) {
            return Err(format!("non-finite qform: quaternion {:?}, offset {:?}", h.quatern, h.qoffset));
        }
        let r = quatern_to_rotation(h.quatern);
        // qfac = pixdim[0]: −1 flips the third axis; anything else (0 included) means +1.
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [sp[0], sp[1], sp[2] * qfac];
        let mut m = r;
        for row in m.iter_mut() {
            for (c, v) in row.iter_mut().enumerate() {
                *v *= scale[c];
            }
        }
        return Ok((m, h.qoffset, Method::Qform));
    }
    Ok(([[sp[0], 0.0, 0.0], [0.0, sp[1], 0.0], [0.0, 0.0, sp[2]]], [0.0; 3], Method::Pixdim))
}

/// A single-slice axis whose sform column is zero (some 2-D writers) gets the unit normal of
/// the other two columns, so the grid stays non-degenerate.
fn fill_flat_axes(m: &mut Mat3, dims: [usize; 3]) {
    for k in 0..3 {
        let col = [m[0][k], m[1][k], m[2][k]];
        if dims[k] == 1 && linalg::norm(col) == 0.0 {
            let a = [m[0][(k + 1) % 3], m[1][(k + 1) % 3], m[2][(k + 1) % 3]];
            let b = [m[0][(k + 2) % 3], m[1][(k + 2) % 3], m[2][(k + 2) % 3]];
            let n = linalg::cross(a, b);
            let len = linalg::norm(n);
            if len > 0.0 {
                for (r, row) in m.iter_mut().enumerate() {
                    row[k] = n[r] / len;
                }
            }
        }
    }
}

/// Scale from the `xyzt_units` space code to mm.
pub(crate) fn unit_scale(xyzt_units: u8) -> f64 {
    match xyzt_units & 0x07 {
        1 => 1000.0, // NIFTI_UNITS_METER
        3 => 1e-3,   // NIFTI_UNITS_MICRON
        _ => 1.0,    // NIFTI_UNITS_MM, or unknown taken as mm
    }
}

/// LPS geometry of a RAS affine in mm: `spacing[k]` is the length of column k and
/// `direction`'s column k its unit vector.
pub(crate) fn geometry_from_ras(m: &Mat3, t: Vec3) -> Result<Geometry, String> {
    let mut g = Geometry::default();
    for k in 0..3 {
        let col = [FLIP[0] * m[0][k], FLIP[1] * m[1][k], FLIP[2] * m[2][k]];
        let s = linalg::norm(col);
        if !(s.is_finite() && s > 0.0) {
            return Err(format!("affine column {k} has zero or non-finite length: {m:?}"));
        }
        g.spacing[k] = s;
        for (row, c) in g.direction.iter_mut().zip(col) {
            row[k] = c / s;
        }
    }
    g.origin = [FLIP[0] * t[0], FLIP[1] * t[1], FLIP[2] * t[2]];
    g.validate_with(false).map_err(|e| e.to_string())?;
    Ok(g)
}

/// The header's geometry in LPS mm, and the method that gave it.
pub(crate) fn geometry(h: &Header, dims: [usize; 3]) -> Result<(Geometry, Method), String> {
    let (mut m, mut t, method) = ras_affine(h, dims)?;
    let u = unit_scale(h.xyzt_units);
    for r in 0..3 {
        for v in m[r].iter_mut() {
            *v *= u;
        }
        t[r] *= u;
    }
    Ok((geometry_from_ras(&m, t)?, method))
}

/// What the writer stores: sform rows, quaternion (b, c, d), qoffset, qfac and pixdim[1..4].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Xforms {
    pub srow: [[f64; 4]; 3],
    pub quatern: [f64; 3],
    pub qoffset: Vec3,
    pub qfac: f64,
    pub spacing: Vec3,
}

/// The nearest orthogonal matrix (polar decomposition by Higham's iteration
/// X ← (X + X⁻ᵀ)/2, as `nifti_mat33_polar` does).
pub(crate) fn polar(m: &Mat3) -> Mat3 {
    let mut x = *m;
    for _ in 0..100 {
        let Some(inv) = linalg::inverse(&x) else { return x };
        let it = linalg::transpose(&inv);
        let mut next = [[0.0; 3]; 3];
        let mut change = 0.0f64;
        for r in 0..3 {
            for c in 0..3 {
                next[r][c] = 0.5 * (x[r][c] + it[r][c]);
                change = change.max((next[r][c] - x[r][c]).abs());
            }
        }
        x = next;
        if change < 1e-15 {
            break;
        }
    }
    x
}

/// Quaternion (b, c, d) with a ≥ 0 of a proper rotation, `nifti_mat44_to_quatern`'s branches
/// (Shepperd's method: divide by the largest of the four candidates).
pub(crate) fn rotation_to_quatern(r: &Mat3) -> [f64; 3] {
    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let trace1 = r11 + r22 + r33 + 1.0;
    let (a, b, c, d);
    if trace1 > 0.5 {
        a = 0.5 * trace1.sqrt();
        b = 0.25 * (r32 - r23) / a;
        c = 0.25 * (r13 - r31) / a;
        d = 0.25 * (r21 - r12) / a;
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r12 + r21) / b;
            d = 0.25 * (r13 + r31) / b;
            a = 0.25 * (r32 - r23) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r12 + r21) / c;
            d = 0.25 * (r23 + r32) / c;
            a = 0.25 * (r13 - r31) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r13 + r31) / d;
            c = 0.25 * (r23 + r32) / d;
            a = 0.25 * (r21 - r12) / d;
        }
    }
    if a < 0.0 {
        [-b, -c, -d]
    } else {
        [b, c, d]
    }
}

/// The sform and qform that store `g` (LPS, mm) in RAS.
pub(crate) fn xforms(g: &Geometry) -> Xforms {
    let a = g.index_to_world_affine();
    let mut srow = [[0.0; 4]; 3];
    let mut d_ras = [[0.0; 3]; 3];
    for r in 0..3 {
        for c in 0..3 {
            srow[r][c] = FLIP[r] * a.m[r][c];
            d_ras[r][c] = FLIP[r] * g.direction[r][c];
        }
        srow[r][3] = FLIP[r] * a.t[r];
    }
    let mut rot = polar(&d_ras);
    let qfac = if linalg::det(&rot) < 0.0 {
        for row in rot.iter_mut() {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    Xforms {
        srow,
        quatern: rotation_to_quatern(&rot),
        qoffset: [srow[0][3], srow[1][3], srow[2][3]],
        qfac,
        spacing: g.spacing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_diff(a: &Mat3, b: &Mat3) -> f64 {
        a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    fn rot_z(deg: f64) -> Mat3 {
        let (s, c) = deg.to_radians().sin_cos();
        [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    }

    #[test]
    fn quaternion_round_trip_covers_every_branch() {
        // Rotations by 0°, 90°, 180° about each axis and an oblique one hit all four branches.
        let mut mats = vec![linalg::IDENTITY3, rot_z(30.0), rot_z(180.0)];
        mats.push([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]); // 180° about x
        mats.push([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]); // 180° about y
        mats.push(linalg::mat_mul(&rot_z(40.0), &[[1.0, 0.0, 0.0], [0.0, 0.6, -0.8], [0.0, 0.8, 0.6]]));
        for m in mats {
            let q = rotation_to_quatern(&m);
            let back = quatern_to_rotation(q);
            // 1e-12: a few f64 products and a square root.
            assert!(max_diff(&back, &m) < 1e-12, "{m:?} -> {q:?} -> {back:?}");
        }
    }

    #[test]
    fn polar_keeps_rotations_and_fixes_shear() {
        let r = rot_z(25.0);
        let p = polar(&r);
        // 1e-14: one Higham step on an orthogonal matrix changes it by rounding only.
        assert!(max_diff(&p, &r) < 1e-14);
        let sheared = [[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let p = polar(&sheared);
        let ptp = linalg::mat_mul(&linalg::transpose(&p), &p);
        // 1e-12: the iteration stops at a change below 1e-15 per entry.
        assert!(max_diff(&ptp, &linalg::IDENTITY3) < 1e-12);
    }

    #[test]
    fn xforms_store_the_lps_geometry_in_ras() {
        let g = Geometry { origin: [10.0, -20.0, 5.0], spacing: [0.5, 0.8, 3.0], direction: rot_z(30.0) };
        let x = xforms(&g);
        // RAS origin: x and y negated.
        assert_eq!(x.qoffset, [-10.0, 20.0, 5.0]);
        let (m, t) = (
            [
                [x.srow[0][0], x.srow[0][1], x.srow[0][2]],
                [x.srow[1][0], x.srow[1][1], x.srow[1][2]],
                [x.srow[2][0], x.srow[2][1], x.srow[2][2]],
            ],
            x.qoffset,
        );
        let back = geometry_from_ras(&m, t).unwrap();
        // 1e-12: f64 arithmetic on numbers of magnitude ≤ 20.
        assert!(back.approx_eq(&g, 1e-12), "{back:?}");
        // The qform (rotation · diag(spacing · qfac)) is the same map.
        let r = quatern_to_rotation(x.quatern);
        for row in 0..3 {
            for c in 0..3 {
                let s = if c == 2 { x.spacing[c] * x.qfac } else { x.spacing[c] };
                // 1e-12: quaternion round trip in f64 (see above) times spacings ≤ 3.
                assert!((r[row][c] * s - m[row][c]).abs() < 1e-12);
            }
        }
    }
}
