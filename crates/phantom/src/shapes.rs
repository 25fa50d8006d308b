//! Implicit solids in world space (mm, LPS) with exact membership tests and bounding boxes.
//!
//! Each [`Shape`] answers one question — is world point `p` inside? — exactly for its
//! definition, with no rasterisation, so the same solid sampled on any grid is the same
//! object. Rotations are given as matrices whose **columns** are the shape's local axes in
//! world coordinates (the convention of [`hounsfield_core::Geometry::direction`]).

use hounsfield_core::linalg::{self, Mat3, Vec3, IDENTITY3};

/// An axis-aligned box in world space (mm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aabb {
    /// Lower corner.
    pub min: Vec3,
    /// Upper corner.
    pub max: Vec3,
}

impl Aabb {
    /// The box that contains everything.
    pub const EVERYTHING: Aabb = Aabb { min: [f64::NEG_INFINITY; 3], max: [f64::INFINITY; 3] };

    /// The smallest box holding every point (empty input gives an inverted, empty box).
    pub fn from_points(points: impl IntoIterator<Item = Vec3>) -> Aabb {
        let mut b = Aabb { min: [f64::INFINITY; 3], max: [f64::NEG_INFINITY; 3] };
        for p in points {
            for (a, &c) in p.iter().enumerate() {
                b.min[a] = b.min[a].min(c);
                b.max[a] = b.max[a].max(c);
            }
        }
        b
    }

    /// A box around a centre with half-widths `r`.
    pub fn around(c: Vec3, r: Vec3) -> Aabb {
        Aabb { min: [c[0] - r[0], c[1] - r[1], c[2] - r[2]], max: [c[0] + r[0], c[1] + r[1], c[2] + r[2]] }
    }

    /// True when `p` lies in the closed box.
    #[inline]
    pub fn contains(&self, p: Vec3) -> bool {
        p[0] >= self.min[0]
            && p[0] <= self.max[0]
            && p[1] >= self.min[1]
            && p[1] <= self.max[1]
            && p[2] >= self.min[2]
            && p[2] <= self.max[2]
    }

    /// True when the two closed boxes overlap.
    #[inline]
    pub fn intersects(&self, o: &Aabb) -> bool {
        (0..3).all(|a| self.min[a] <= o.max[a] && o.min[a] <= self.max[a])
    }

    /// The box grown by `r` mm on every side.
    pub fn expanded(&self, r: f64) -> Aabb {
        Aabb {
            min: [self.min[0] - r, self.min[1] - r, self.min[2] - r],
            max: [self.max[0] + r, self.max[1] + r, self.max[2] + r],
        }
    }

    /// The smallest box holding both.
    pub fn union(&self, o: &Aabb) -> Aabb {
        let mut b = *self;
        for a in 0..3 {
            b.min[a] = b.min[a].min(o.min[a]);
            b.max[a] = b.max[a].max(o.max[a]);
        }
        b
    }

    /// The overlap of both (possibly empty: some `min > max`).
    pub fn intersection(&self, o: &Aabb) -> Aabb {
        let mut b = *self;
        for a in 0..3 {
            b.min[a] = b.min[a].max(o.min[a]);
            b.max[a] = b.max[a].min(o.max[a]);
        }
        b
    }

    /// True when the box holds no point.
    pub fn is_empty(&self) -> bool {
        (0..3).any(|a| self.min[a] > self.max[a])
    }
}

/// A rotation from Euler angles (radians) about x, then y, then z: `R = Rz · Ry · Rx` (ITK's
/// `Euler3DTransform` with `ComputeZYX` on; note [`hounsfield_core::AffineTransform::rigid_euler`]
/// follows ITK's default order instead).
pub fn rotation(angles: Vec3) -> Mat3 {
    let (sx, cx) = angles[0].sin_cos();
    let (sy, cy) = angles[1].sin_cos();
    let (sz, cz) = angles[2].sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
    linalg::mat_mul(&rz, &linalg::mat_mul(&ry, &rx))
}

/// An exponent with fast paths: integer powers use repeated multiplication instead of
/// `powf`, which matters because body-wall superquadrics are tested at nearly every voxel.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Exponent {
    Int(i32),
    Real(f64),
}

impl Exponent {
    fn new(e: f64) -> Exponent {
        if e.fract() == 0.0 && (1.0..=16.0).contains(&e) {
            Exponent::Int(e as i32)
        } else {
            Exponent::Real(e)
        }
    }
    /// `|x|^e`.
    #[inline]
    fn pow_abs(self, x: f64) -> f64 {
        match self {
            Exponent::Int(2) => x * x,
            Exponent::Int(n) => x.abs().powi(n),
            Exponent::Real(e) => x.abs().powf(e),
        }
    }
}

/// A plane wave on the unit sphere, `amplitude · sin(frequency · (u · direction) + phase)`,
/// summed to make radially modulated (folded) surfaces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wave {
    /// Unit vector the wave travels along.
    pub direction: Vec3,
    /// Angular frequency over `u · direction ∈ [−1, 1]`.
    pub frequency: f64,
    /// Phase (radians).
    pub phase: f64,
    /// Amplitude, as a fraction of the normalised radius.
    pub amplitude: f64,
}

/// A solid in world space. Build with the constructor functions; test with
/// [`Shape::contains`]; [`Shape::bbox`] bounds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    kind: Kind,
    bbox: Aabb,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Ellipsoid {
        centre: Vec3,
        world_to_local: Mat3,
        inv_axes: Vec3,
    },
    Superquadric {
        centre: Vec3,
        world_to_local: Mat3,
        inv_axes: Vec3,
        r: Exponent,
        t_over_r: Exponent,
        t: Exponent,
    },
    TaperedCapsule {
        a: Vec3,
        d: Vec3,
        inv_len2: f64,
        ra: f64,
        rb: f64,
    },
    Modulated {
        centre: Vec3,
        world_to_local: Mat3,
        inv_axes: Vec3,
        base: f64,
        amp_sum: f64,
        waves: Vec<Wave>,
    },
    SmoothSpheres {
        spheres: Vec<(Vec3, f64)>,
        k: f64,
    },
    HalfSpace {
        normal: Vec3,
        offset: f64,
    },
    Intersection(Vec<Shape>),
}

/// Half-widths of the axis-aligned box around a rotated box with half-widths `h`.
fn rotated_half_widths(rot: &Mat3, h: Vec3) -> Vec3 {
    let mut r = [0.0; 3];
    for (a, ra) in r.iter_mut().enumerate() {
        *ra = (0..3).map(|c| rot[a][c].abs() * h[c]).sum();
    }
    r
}

fn check_rotation(rot: &Mat3) -> bool {
    let rtr = linalg::mat_mul(&linalg::transpose(rot), rot);
    // 1e-6: rotations built from sin/cos are orthonormal to ~1e-15; anything worse is a bug.
    (0..3).all(|i| (0..3).all(|j| (rtr[i][j] - IDENTITY3[i][j]).abs() < 1e-6))
}

impl Shape {
    /// The ellipsoid `Σ (qᵢ/aᵢ)² ≤ 1` with `q = Rᵀ(p − centre)`: semi-axes `semi_axes` (mm)
    /// along the columns of `rotation`.
    /// Non-positive semi-axes or a non-orthonormal rotation give an empty shape (nothing
    /// inside) rather than a panic.
    pub fn ellipsoid(centre: Vec3, semi_axes: Vec3, rotation: Mat3) -> Shape {
        if semi_axes.iter().any(|&a| a.is_nan() || a <= 0.0) || !check_rotation(&rotation) {
            return Shape::empty();
        }
        let bbox = Aabb::around(centre, rotated_half_widths(&rotation, semi_axes));
        Shape {
            kind: Kind::Ellipsoid {
                centre,
                world_to_local: linalg::transpose(&rotation),
                inv_axes: semi_axes.map(|a| 1.0 / a),
            },
            bbox,
        }
    }

    /// A sphere.
    pub fn sphere(centre: Vec3, radius: f64) -> Shape {
        Shape::ellipsoid(centre, [radius; 3], IDENTITY3)
    }

    /// The superquadric `(|x/a|^r + |y/b|^r)^(t/r) + |z/c|^t ≤ 1` in the local frame
    /// (Barr 1981, "Superquadrics and angle-preserving transformations", IEEE CG&A 1(1)):
    /// `r` shapes the cross-section (2 = ellipse, larger = boxier), `t` the profile along
    /// local z (2 = ellipsoid, large = flat-ended cylinder). Exponents below 1 (non-convex
    /// stars) are refused (empty shape).
    pub fn superquadric(centre: Vec3, semi_axes: Vec3, rotation: Mat3, r: f64, t: f64) -> Shape {
        let bad = |e: f64| !(e.is_finite() && e >= 1.0);
        if semi_axes.iter().any(|&a| a.is_nan() || a <= 0.0) || bad(r) || bad(t) || !check_rotation(&rotation)
        {
            return Shape::empty();
        }
        let bbox = Aabb::around(centre, rotated_half_widths(&rotation, semi_axes));
        Shape {
            kind: Kind::Superquadric {
                centre,
                world_to_local: linalg::transpose(&rotation),
                inv_axes: semi_axes.map(|a| 1.0 / a),
                r: Exponent::new(r),
                t_over_r: Exponent::new(t / r),
                t: Exponent::new(t),
            },
            bbox,
        }
    }

    /// A tube segment from `a` to `b` whose radius goes linearly from `ra` to `rb`: the
    /// points within `r(s)` of the segment point `a + s(b − a)` nearest to them, with
    /// `s ∈ [0, 1]`. Its ends are spheres, so consecutive segments of a polyline join
    /// without gaps.
    pub fn tapered_capsule(a: Vec3, b: Vec3, ra: f64, rb: f64) -> Shape {
        if !(ra > 0.0 && rb > 0.0) {
            return Shape::empty();
        }
        let d = linalg::sub(b, a);
        let len2 = linalg::dot(d, d);
        let bbox = Aabb::around(a, [ra; 3]).union(&Aabb::around(b, [rb; 3]));
        let inv_len2 = if len2 > 0.0 { 1.0 / len2 } else { 0.0 };
        Shape { kind: Kind::TaperedCapsule { a, d, inv_len2, ra, rb }, bbox }
    }

    /// A radially modulated ellipsoid: with `q = Rᵀ(p − centre) / semi_axes`, `ρ = |q|`,
    /// `u = q/ρ`, the point is inside when `ρ ≤ base + Σ wₖ(u)` for the [`Wave`]s `wₖ`. A
    /// folded cortex is such a surface (the folds are the waves).
    pub fn modulated_ellipsoid(
        centre: Vec3,
        semi_axes: Vec3,
        rotation: Mat3,
        base: f64,
        waves: Vec<Wave>,
    ) -> Shape {
        let amp_sum: f64 = waves.iter().map(|w| w.amplitude.abs()).sum();
        if semi_axes.iter().any(|&a| a.is_nan() || a <= 0.0)
            || base.is_nan()
            || base <= 0.0
            || !check_rotation(&rotation)
        {
            return Shape::empty();
        }
        let reach = base + amp_sum;
        let bbox = Aabb::around(centre, rotated_half_widths(&rotation, semi_axes.map(|a| a * reach)));
        Shape {
            kind: Kind::Modulated {
                centre,
                world_to_local: linalg::transpose(&rotation),
                inv_axes: semi_axes.map(|a| 1.0 / a),
                base,
                amp_sum,
                waves,
            },
            bbox,
        }
    }

    /// The smooth union of spheres `(centre, radius)`: the set where the quadratic smooth
    /// minimum (Quílez, "smooth minimum", iquilezles.org) of the spheres' signed distances is
    /// ≤ 0. `smoothing` (mm) is the blend width; 0 gives the plain union. Lobulated nodules
    /// are built this way.
    pub fn smooth_spheres(spheres: Vec<(Vec3, f64)>, smoothing: f64) -> Shape {
        let spheres: Vec<_> = spheres.into_iter().filter(|(_, r)| *r > 0.0).collect();
        if spheres.is_empty() {
            return Shape::empty();
        }
        let k = smoothing.max(0.0);
        // Each fold of the smooth minimum lowers the distance by at most k/4.
        let grow = k / 4.0 * (spheres.len() - 1) as f64;
        let bbox = spheres
            .iter()
            .map(|&(c, r)| Aabb::around(c, [r + grow; 3]))
            .reduce(|a, b| a.union(&b))
            .unwrap_or(Aabb::EVERYTHING);
        Shape { kind: Kind::SmoothSpheres { spheres, k }, bbox }
    }

    /// The half-space `normal · p ≤ offset` (unbounded; use inside [`Shape::intersection`]).
    pub fn half_space(normal: Vec3, offset: f64) -> Shape {
        let n = linalg::norm(normal);
        if n.is_nan() || n <= 0.0 {
            return Shape::empty();
        }
        let normal = normal.map(|v| v / n);
        Shape { kind: Kind::HalfSpace { normal, offset: offset / n }, bbox: Aabb::EVERYTHING }
    }

    /// The points inside every one of `shapes`. Children are tested in order and the test
    /// stops at the first miss, so list the cheap, most-rejecting shapes first.
    pub fn intersection(shapes: Vec<Shape>) -> Shape {
        let bbox = shapes.iter().fold(Aabb::EVERYTHING, |b, s| b.intersection(&s.bbox));
        Shape { kind: Kind::Intersection(shapes), bbox }
    }

    /// A shape with nothing inside.
    pub fn empty() -> Shape {
        let bbox = Aabb { min: [f64::INFINITY; 3], max: [f64::NEG_INFINITY; 3] };
        Shape { kind: Kind::Intersection(Vec::new()), bbox }
    }

    /// The axis-aligned box that holds the shape (may be unbounded for half-spaces).
    pub fn bbox(&self) -> Aabb {
        self.bbox
    }

    /// True when world point `p` (mm) is inside the shape (boundary included).
    #[inline]
    pub fn contains(&self, p: Vec3) -> bool {
        if !self.bbox.contains(p) {
            return false;
        }
        self.contains_unbounded(p)
    }

    fn contains_unbounded(&self, p: Vec3) -> bool {
        match &self.kind {
            Kind::Ellipsoid { centre, world_to_local, inv_axes } => {
                let q = linalg::mat_vec(world_to_local, linalg::sub(p, *centre));
                let (x, y, z) = (q[0] * inv_axes[0], q[1] * inv_axes[1], q[2] * inv_axes[2]);
                x * x + y * y + z * z <= 1.0
            }
            Kind::Superquadric { centre, world_to_local, inv_axes, r, t_over_r, t } => {
                let q = linalg::mat_vec(world_to_local, linalg::sub(p, *centre));
                let (x, y, z) = (q[0] * inv_axes[0], q[1] * inv_axes[1], q[2] * inv_axes[2]);
                if x.abs() > 1.0 || y.abs() > 1.0 || z.abs() > 1.0 {
                    return false;
                }
                let xy = r.pow_abs(x) + r.pow_abs(y);
                if xy > 1.0 {
                    return false;
                }
                t_over_r.pow_abs(xy) + t.pow_abs(z) <= 1.0
            }
            Kind::TaperedCapsule { a, d, inv_len2, ra, rb } => {
                let ap = linalg::sub(p, *a);
                let s = (linalg::dot(ap, *d) * inv_len2).clamp(0.0, 1.0);
                let r = ra + s * (rb - ra);
                let e = [ap[0] - s * d[0], ap[1] - s * d[1], ap[2] - s * d[2]];
                linalg::dot(e, e) <= r * r
            }
            Kind::Modulated { centre, world_to_local, inv_axes, base, amp_sum, waves } => {
                let q = linalg::mat_vec(world_to_local, linalg::sub(p, *centre));
                let q = [q[0] * inv_axes[0], q[1] * inv_axes[1], q[2] * inv_axes[2]];
                let rho = linalg::norm(q);
                if rho > base + amp_sum {
                    return false;
                }
                if rho <= base - amp_sum {
                    return true;
                }
                let u = if rho > 0.0 { q.map(|v| v / rho) } else { [0.0, 0.0, 1.0] };
                // Sum the waves until the rest cannot change the answer: exact, and most
                // points away from the surface decide after a few waves.
                let d = rho - base;
                let (mut m, mut rest) = (0.0, *amp_sum);
                for w in waves {
                    m += w.amplitude * (w.frequency * linalg::dot(u, w.direction) + w.phase).sin();
                    rest -= w.amplitude.abs();
                    if d <= m - rest {
                        return true;
                    }
                    if d > m + rest {
                        return false;
                    }
                }
                d <= m
            }
            Kind::SmoothSpheres { spheres, k } => {
                let mut d = f64::INFINITY;
                for &(c, r) in spheres {
                    let di = linalg::norm(linalg::sub(p, c)) - r;
                    d = smooth_min(d, di, *k);
                }
                d <= 0.0
            }
            Kind::HalfSpace { normal, offset } => linalg::dot(*normal, p) <= *offset,
            Kind::Intersection(shapes) => !shapes.is_empty() && shapes.iter().all(|s| s.contains(p)),
        }
    }
}

/// Quadratic polynomial smooth minimum with blend width `k` (Quílez): equals `min(a, b)` when
/// `|a − b| ≥ k`, and is at most `k/4` below it.
#[inline]
fn smooth_min(a: f64, b: f64, k: f64) -> f64 {
    if k <= 0.0 || !a.is_finite() {
        return a.min(b);
    }
    let h = (k - (a - b).abs()).max(0.0) / k;
    a.min(b) - h * h * k * 0.25
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    #[test]
    fn rotated_ellipsoid_membership() {
        // Long axis (10 mm) along world y after 90° about z.
        let e = Shape::ellipsoid([1.0, 2.0, 3.0], [10.0, 2.0, 2.0], rotation([0.0, 0.0, FRAC_PI_2]));
        assert!(e.contains([1.0, 11.9, 3.0]));
        assert!(!e.contains([1.0, 12.1, 3.0]));
        assert!(!e.contains([5.0, 2.0, 3.0]));
        let b = e.bbox();
        // 1e-9: bbox half-widths from cos(90°) ≈ 6e-17 times 10 mm.
        assert!((b.max[1] - 12.0).abs() < 1e-9 && (b.max[0] - 3.0).abs() < 1e-9);
    }

    #[test]
    fn superquadric_limits() {
        // r = t = 2 is the ellipsoid.
        let s = Shape::superquadric([0.0; 3], [3.0, 4.0, 5.0], IDENTITY3, 2.0, 2.0);
        let e = Shape::ellipsoid([0.0; 3], [3.0, 4.0, 5.0], IDENTITY3);
        for p in [[2.9, 0.0, 0.0], [1.5, 2.0, 2.5], [2.0, 2.5, 2.5], [0.0, 0.0, 5.01]] {
            assert_eq!(s.contains(p), e.contains(p), "{p:?}");
        }
        // A large t makes a flat-ended cylinder: the corner region is inside.
        let c = Shape::superquadric([0.0; 3], [1.0, 1.0, 10.0], IDENTITY3, 2.0, 16.0);
        assert!(c.contains([0.6, 0.6, 9.0]));
        assert!(!c.contains([0.75, 0.75, 0.0]));
    }

    #[test]
    fn capsule_and_smooth_union() {
        let c = Shape::tapered_capsule([0.0; 3], [10.0, 0.0, 0.0], 2.0, 1.0);
        assert!(c.contains([0.0, 1.99, 0.0]));
        assert!(c.contains([-1.99, 0.0, 0.0]));
        assert!(!c.contains([10.0, 1.01, 0.0]));
        assert!(c.contains([5.0, 1.49, 0.0]));
        assert!(!c.contains([5.0, 1.51, 0.0]));
        let u = Shape::smooth_spheres(vec![([0.0; 3], 1.0), ([3.0, 0.0, 0.0], 1.0)], 3.0);
        // Midpoint: both distances 0.5, h = 1, smooth min 0.5 − 3/4 < 0: the blend fills it.
        assert!(u.contains([1.5, 0.0, 0.0]));
        let plain = Shape::smooth_spheres(vec![([0.0; 3], 1.0), ([3.0, 0.0, 0.0], 1.0)], 0.0);
        assert!(!plain.contains([1.5, 0.0, 0.0]));
    }

    #[test]
    fn intersection_with_half_space() {
        let s =
            Shape::intersection(vec![Shape::sphere([0.0; 3], 5.0), Shape::half_space([0.0, 0.0, 2.0], 2.0)]);
        assert!(s.contains([0.0, 0.0, 0.9]));
        assert!(!s.contains([0.0, 0.0, 1.1]));
        assert!(Shape::empty().bbox().is_empty());
        assert!(!Shape::empty().contains([0.0; 3]));
        assert!(!Shape::ellipsoid([0.0; 3], [0.0, 1.0, 1.0], IDENTITY3).contains([0.0; 3]));
    }

    #[test]
    fn modulated_surface_follows_the_wave() {
        let w = Wave { direction: [0.0, 0.0, 1.0], frequency: FRAC_PI_2, phase: 0.0, amplitude: 0.2 };
        let s = Shape::modulated_ellipsoid([0.0; 3], [10.0; 3], IDENTITY3, 1.0, vec![w]);
        // Along +z, u·d = 1: radius 1 + 0.2·sin(π/2) = 1.2 → 12 mm; along −z 8 mm.
        assert!(s.contains([0.0, 0.0, 11.9]) && !s.contains([0.0, 0.0, 12.1]));
        assert!(s.contains([0.0, 0.0, -7.9]) && !s.contains([0.0, 0.0, -8.1]));
    }
}
