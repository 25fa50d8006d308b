//! Anatomical phantoms: the [`Phantom`] type, its options and metadata, and helpers shared by
//! the torso and head builders (random variation, tubes along splines, branching trees).
//!
//! A phantom is a [`Scene`] in world millimetres (LPS: +x toward the patient's left, +y
//! posterior, +z superior) centred on the world origin, so it can be sampled onto any grid.
//! [`Phantom::grid`] gives the standard cube: `size³` voxels over the phantom's field of
//! view ([`TORSO_FOV_MM`], [`HEAD_FOV_MM`]).

use hounsfield_core::linalg::{self, Vec3};
use hounsfield_core::{DisplacementField, LabelVolume, Volume};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::contrast::Contrast;
use crate::deform::{compose, invert_point, random_deformation, DeformationOptions};
use crate::error::{invalid, PhantomError};
use crate::labels::MAX_NODULES;
use crate::rng::{normal, rng, tag, uniform};
use crate::scene::{Grid, RenderOptions, Scene};
use crate::shapes::Shape;

/// Field of view of the torso phantom: a 400 mm cube centred on the origin (chest and upper
/// abdomen, from the lung apices to the kidneys).
pub const TORSO_FOV_MM: f64 = 400.0;

/// Field of view of the head phantom: a 220 mm cube centred on the origin.
pub const HEAD_FOV_MM: f64 = 220.0;

/// Which anatomy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnatomyKind {
    /// Chest and upper abdomen, CT-like (default).
    #[default]
    Torso,
    /// Head, MR-like.
    Head,
}

impl AnatomyKind {
    /// The field of view (mm) of [`Phantom::grid`].
    pub const fn fov_mm(self) -> f64 {
        match self {
            AnatomyKind::Torso => TORSO_FOV_MM,
            AnatomyKind::Head => HEAD_FOV_MM,
        }
    }

    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            AnatomyKind::Torso => "torso",
            AnatomyKind::Head => "head",
        }
    }
}

/// Nodule malignancy class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoduleClass {
    /// Smooth, round, 4–10 mm.
    Benign,
    /// Lobulated or spiculated, 10–30 mm.
    Malignant,
}

impl NoduleClass {
    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            NoduleClass::Benign => "benign",
            NoduleClass::Malignant => "malignant",
        }
    }
}

/// Nodule morphology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoduleShape {
    /// A sphere (benign).
    Round,
    /// A smooth union of lobes (malignant).
    Lobulated,
    /// A core with radiating spicules (malignant).
    Spiculated,
}

impl NoduleShape {
    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            NoduleShape::Round => "round",
            NoduleShape::Lobulated => "lobulated",
            NoduleShape::Spiculated => "spiculated",
        }
    }
}

/// Which nodule classes to draw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum NoduleClassChoice {
    /// Each nodule is benign or malignant with probability ½ (default).
    #[default]
    Random,
    /// All benign.
    Benign,
    /// All malignant.
    Malignant,
}

/// Which lung.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Patient's right (−x).
    Right,
    /// Patient's left (+x).
    Left,
}

impl Side {
    /// Lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Right => "right",
            Side::Left => "left",
        }
    }
}

/// One lung nodule: what a diagnosis task needs as ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NoduleInfo {
    /// Its label id (instance id, from [`crate::labels::NODULE_LABEL_BASE`]).
    pub label: u16,
    /// Centre in world mm (LPS), after the phantom's deformation if any.
    pub centre_mm: Vec3,
    /// Nominal diameter, mm: the sphere's for round nodules, the body's without spicules
    /// for spiculated ones, the envelope's for lobulated ones.
    pub diameter_mm: f64,
    /// Radius of a sphere about the (undeformed) centre that holds the whole nodule,
    /// spicules included, mm.
    pub extent_radius_mm: f64,
    /// Benign or malignant.
    pub class: NoduleClass,
    /// Morphology.
    pub shape: NoduleShape,
    /// Which lung.
    pub lung: Side,
}

/// The optional brain lesion.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LesionInfo {
    /// Its label id ([`crate::labels::Label::Lesion`]).
    pub label: u16,
    /// Centre in world mm (LPS), after the phantom's deformation if any.
    pub centre_mm: Vec3,
    /// Semi-axes of the ellipsoid, mm.
    pub semi_axes_mm: Vec3,
}

/// Options of [`Phantom::torso`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TorsoOptions {
    /// Number of lung nodules (default 0; at most [`MAX_NODULES`]).
    pub nodules: usize,
    /// Their classes (default random).
    pub nodule_class: NoduleClassChoice,
    /// Scale of the random anatomical variation (default 1; 0 gives the mean anatomy).
    pub variability: f64,
    /// Magnitude (mm) of a random smooth diffeomorphic deformation of the whole anatomy
    /// (default 0 = none; see [`DeformationOptions::magnitude_mm`]).
    pub deform_mm: f64,
}

impl Default for TorsoOptions {
    fn default() -> Self {
        Self { nodules: 0, nodule_class: NoduleClassChoice::Random, variability: 1.0, deform_mm: 0.0 }
    }
}

/// Whether the head has a lesion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum LesionChoice {
    /// No lesion (default).
    #[default]
    None,
    /// One ellipsoidal white-matter lesion, 4–12 mm semi-axes, at a random position.
    Random,
}

/// Options of [`Phantom::head`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HeadOptions {
    /// Lesion or not (default none).
    pub lesion: LesionChoice,
    /// Scale of the random anatomical variation (default 1; 0 gives the mean anatomy).
    pub variability: f64,
    /// Magnitude (mm) of a random smooth deformation of the whole anatomy (default 0).
    pub deform_mm: f64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self { lesion: LesionChoice::None, variability: 1.0, deform_mm: 0.0 }
    }
}

/// What a phantom is, as JSON metadata.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhantomInfo {
    /// Torso or head.
    pub kind: AnatomyKind,
    /// The seed it was built from.
    pub seed: u64,
    /// Field of view of [`Phantom::grid`], mm.
    pub fov_mm: f64,
    /// Magnitude of the anatomy's deformation, mm (0 = none).
    pub deform_mm: f64,
    /// Lung nodules (torso).
    pub nodules: Vec<NoduleInfo>,
    /// Brain lesion (head), if any.
    pub lesion: Option<LesionInfo>,
}

/// An image and its label map on one grid.
#[derive(Clone, Debug, PartialEq)]
pub struct PhantomImage {
    /// Intensities (HU for CT; unitless for MR and random contrast).
    pub image: Volume<f32>,
    /// Labels (see [`crate::labels`]).
    pub labels: LabelVolume,
}

/// A randomly varied anatomical phantom with its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct Phantom {
    kind: AnatomyKind,
    seed: u64,
    deform_mm: f64,
    scene: Scene,
    nodules: Vec<NoduleInfo>,
    lesion: Option<LesionInfo>,
}

impl Phantom {
    /// A torso (CT-like) built from `seed` (see [`crate::torso`] for the anatomy).
    pub fn torso(seed: u64, opts: &TorsoOptions) -> Result<Phantom, PhantomError> {
        check_common(opts.variability, opts.deform_mm)?;
        if opts.nodules > MAX_NODULES {
            return Err(invalid("nodules", format!("at most {MAX_NODULES}, got {}", opts.nodules)));
        }
        let (scene, nodules) = crate::torso::build(seed, opts)?;
        let mut p = Phantom {
            kind: AnatomyKind::Torso,
            seed,
            deform_mm: opts.deform_mm,
            scene,
            nodules,
            lesion: None,
        };
        p.deform(opts.deform_mm)?;
        Ok(p)
    }

    /// A head (MR-like) built from `seed` (see [`crate::head`] for the anatomy).
    pub fn head(seed: u64, opts: &HeadOptions) -> Result<Phantom, PhantomError> {
        check_common(opts.variability, opts.deform_mm)?;
        let (scene, lesion) = crate::head::build(seed, opts)?;
        let mut p = Phantom {
            kind: AnatomyKind::Head,
            seed,
            deform_mm: opts.deform_mm,
            scene,
            nodules: Vec::new(),
            lesion,
        };
        p.deform(opts.deform_mm)?;
        Ok(p)
    }

    /// Builds either anatomy with default options except the deformation.
    pub fn of_kind(kind: AnatomyKind, seed: u64, deform_mm: f64) -> Result<Phantom, PhantomError> {
        match kind {
            AnatomyKind::Torso => Phantom::torso(seed, &TorsoOptions { deform_mm, ..Default::default() }),
            AnatomyKind::Head => Phantom::head(seed, &HeadOptions { deform_mm, ..Default::default() }),
        }
    }

    /// Warps the scene by a random diffeomorphism defined on a fixed 32³ grid over the field
    /// of view (so it is the same at every output resolution), and moves the metadata.
    fn deform(&mut self, mm: f64) -> Result<(), PhantomError> {
        if mm <= 0.0 {
            return Ok(());
        }
        let fov = self.kind.fov_mm();
        let grid = Grid::cube_unchecked(32, fov)?;
        let opts = DeformationOptions { magnitude_mm: mm, control_spacing_mm: fov / 4.0 };
        let d = random_deformation(&grid, &opts, crate::rng::sub_seed(self.seed, tag::ANATOMY_WARP))?;
        self.scene.set_warp(d.forward);
        for n in &mut self.nodules {
            n.centre_mm = self.scene.warped_position(n.centre_mm);
        }
        if let Some(l) = &mut self.lesion {
            l.centre_mm = self.scene.warped_position(l.centre_mm);
        }
        Ok(())
    }

    /// The same anatomy additionally warped by `field`: the new phantom's label at `y` is
    /// this one's label at `y + u(y)` (`field` is composed with the anatomy's own
    /// deformation and resampled on `field`'s grid). Nodule and lesion centres move to where
    /// the map sends them. The registration dataset renders moving images this way.
    pub fn warped(&self, field: &DisplacementField) -> Result<Phantom, PhantomError> {
        let combined = match self.scene.warp() {
            Some(w) => compose(w, field)?,
            None => field.clone(),
        };
        let mut p = self.clone();
        p.scene.set_warp(combined);
        for n in &mut p.nodules {
            n.centre_mm = invert_point(field, n.centre_mm);
        }
        if let Some(l) = &mut p.lesion {
            l.centre_mm = invert_point(field, l.centre_mm);
        }
        Ok(p)
    }

    /// Torso or head.
    pub fn kind(&self) -> AnatomyKind {
        self.kind
    }

    /// The seed it was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The labelled shapes (and the deformation, if any).
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// Lung nodules (empty for the head).
    pub fn nodules(&self) -> &[NoduleInfo] {
        &self.nodules
    }

    /// The lesion (head), if any.
    pub fn lesion(&self) -> Option<&LesionInfo> {
        self.lesion.as_ref()
    }

    /// Field of view of [`Phantom::grid`], mm.
    pub fn fov_mm(&self) -> f64 {
        self.kind.fov_mm()
    }

    /// The standard grid: `size³` voxels covering the field of view (spacing
    /// `fov_mm / size`, identity direction, centred on the origin). Checked against the
    /// memory cap.
    pub fn grid(&self, size: usize) -> Result<Grid, PhantomError> {
        Grid::cube(size, self.fov_mm())
    }

    /// Metadata as a serialisable value.
    pub fn info(&self) -> PhantomInfo {
        PhantomInfo {
            kind: self.kind,
            seed: self.seed,
            fov_mm: self.fov_mm(),
            deform_mm: self.deform_mm,
            nodules: self.nodules.clone(),
            lesion: self.lesion,
        }
    }

    /// The label map on `grid`.
    pub fn render_labels(&self, grid: &Grid, opts: &RenderOptions) -> Result<LabelVolume, PhantomError> {
        self.scene.render_labels(grid, opts)
    }

    /// Image and labels on `grid` with one contrast; `seed` draws the contrast's random parts
    /// (noise, bias, random intensities).
    pub fn render(
        &self,
        grid: &Grid,
        contrast: &Contrast,
        opts: &RenderOptions,
        seed: u64,
    ) -> Result<PhantomImage, PhantomError> {
        let (mut images, labels) = self.render_many(grid, std::slice::from_ref(contrast), opts, seed)?;
        let image = images.pop().ok_or_else(|| invalid("contrast", "no image rendered"))?;
        Ok(PhantomImage { image, labels })
    }

    /// Several aligned images (one per contrast) and the labels, from one pass over the
    /// scene. Contrast `i` draws its random parts from a sub-stream `i` of `seed`.
    pub fn render_many(
        &self,
        grid: &Grid,
        contrasts: &[Contrast],
        opts: &RenderOptions,
        seed: u64,
    ) -> Result<(Vec<Volume<f32>>, LabelVolume), PhantomError> {
        for c in contrasts {
            c.validate()?;
        }
        let seeds: Vec<u64> =
            (0..contrasts.len()).map(|i| crate::rng::sub_seed(seed, 1000 + i as u64)).collect();
        let tables: Vec<Vec<f32>> = contrasts.iter().zip(&seeds).map(|(c, &s)| c.table(s)).collect();
        let refs: Vec<&[f32]> = tables.iter().map(|t| t.as_slice()).collect();
        let mut r = self.scene.render(grid, opts, &refs)?;
        for ((img, c), &s) in r.images.iter_mut().zip(contrasts).zip(&seeds) {
            c.finish(img, &r.labels, s)?;
        }
        Ok((r.images, r.labels))
    }
}

fn check_common(variability: f64, deform_mm: f64) -> Result<(), PhantomError> {
    if !(variability.is_finite() && (0.0..=3.0).contains(&variability)) {
        return Err(invalid("variability", format!("must be in 0..=3, got {variability}")));
    }
    if !(deform_mm.is_finite() && (0.0..=50.0).contains(&deform_mm)) {
        return Err(invalid("deform_mm", format!("must be in 0..=50 mm, got {deform_mm}")));
    }
    Ok(())
}

/// Random variation of anatomical parameters, scaled by the variability setting.
pub(crate) struct Vary {
    pub rng: ChaCha8Rng,
    pub amount: f64,
}

impl Vary {
    pub fn new(seed: u64, stream: u64, amount: f64) -> Vary {
        Vary { rng: rng(seed, stream), amount }
    }
    /// A standard normal draw clipped to ±2 (so extreme draws stay anatomical).
    fn z(&mut self) -> f64 {
        normal(&mut self.rng).clamp(-2.0, 2.0)
    }
    /// A factor around 1 with relative standard deviation `sd`.
    pub fn scale(&mut self, sd: f64) -> f64 {
        1.0 + self.amount * sd * self.z()
    }
    /// An offset (mm) with standard deviation `sd`.
    pub fn shift(&mut self, sd: f64) -> f64 {
        self.amount * sd * self.z()
    }
    /// An angle (radians) with standard deviation `sd_deg` degrees.
    pub fn angle(&mut self, sd_deg: f64) -> f64 {
        self.amount * sd_deg.to_radians() * self.z()
    }
    /// `mean` plus a uniform variation of ±`half` (scaled by the variability).
    pub fn around(&mut self, mean: f64, half: f64) -> f64 {
        mean + self.amount * uniform(&mut self.rng, -half, half)
    }
}

/// Uniform Catmull–Rom spline through `points` (ends repeated), `per` samples per span.
pub(crate) fn catmull_rom(points: &[Vec3], per: usize) -> Vec<(Vec3, f64)> {
    let n = points.len();
    let mut out = Vec::new();
    if n < 2 {
        return points.iter().map(|&p| (p, 0.0)).collect();
    }
    for s in 0..n - 1 {
        let p0 = points[s.saturating_sub(1)];
        let p1 = points[s];
        let p2 = points[s + 1];
        let p3 = points[(s + 2).min(n - 1)];
        let steps = if s == n - 2 { per + 1 } else { per };
        for q in 0..steps {
            let t = q as f64 / per as f64;
            let (t2, t3) = (t * t, t * t * t);
            let c = |a: usize| {
                0.5 * (2.0 * p1[a]
                    + (-p0[a] + p2[a]) * t
                    + (2.0 * p0[a] - 5.0 * p1[a] + 4.0 * p2[a] - p3[a]) * t2
                    + (-p0[a] + 3.0 * p1[a] - 3.0 * p2[a] + p3[a]) * t3)
            };
            out.push(([c(0), c(1), c(2)], s as f64 + t));
        }
    }
    out
}

/// Paints a tube along a Catmull–Rom spline through `points`, with radius interpolated
/// linearly between the per-point `radii`, as a chain of tapered capsules.
pub(crate) fn tube(scene: &mut Scene, label: u16, points: &[Vec3], radii: &[f64], per: usize) {
    let samples = catmull_rom(points, per);
    let radius = |t: f64| {
        let i = (t.floor() as usize).min(radii.len().saturating_sub(2));
        let f = t - i as f64;
        match (radii.get(i), radii.get(i + 1)) {
            (Some(a), Some(b)) => a + f * (b - a),
            (Some(a), None) => *a,
            _ => 1.0,
        }
    };
    for w in samples.windows(2) {
        let ((a, ta), (b, tb)) = (w[0], w[1]);
        scene.push(label, Shape::tapered_capsule(a, b, radius(ta), radius(tb)));
    }
}

/// Rotates `v` about unit `axis` by `angle` (Rodrigues).
pub(crate) fn rotate_about(v: Vec3, axis: Vec3, angle: f64) -> Vec3 {
    let (s, c) = angle.sin_cos();
    let kxv = linalg::cross(axis, v);
    let kdv = linalg::dot(axis, v);
    [0, 1, 2].map(|a| v[a] * c + kxv[a] * s + axis[a] * kdv * (1.0 - c))
}

/// A unit vector perpendicular to unit `d`, at a random angle around it.
pub(crate) fn random_perpendicular(rng: &mut impl Rng, d: Vec3) -> Vec3 {
    let helper = if d[0].abs() < 0.9 { [1.0, 0.0, 0.0] } else { [0.0, 1.0, 0.0] };
    let e1 = normalise(linalg::cross(d, helper));
    let e2 = linalg::cross(d, e1);
    let a = uniform(rng, 0.0, std::f64::consts::TAU);
    [0, 1, 2].map(|i| e1[i] * a.cos() + e2[i] * a.sin())
}

pub(crate) fn normalise(v: Vec3) -> Vec3 {
    let n = linalg::norm(v);
    if n > 0.0 {
        v.map(|c| c / n)
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// Parameters of a random branching tree of tubes.
pub(crate) struct TreeSpec {
    pub length: f64,
    pub radius: f64,
    pub generations: u32,
    pub length_ratio: f64,
    pub radius_ratio: f64,
    pub min_angle_deg: f64,
    pub max_angle_deg: f64,
    /// Weight (0..1) pulling each child toward a random target point of the bound ahead of
    /// it, so the tree spreads through the whole organ instead of curling up.
    pub attract: f64,
}

/// Grows a binary tree of tapered capsules from `start` along `dir`, keeping every branch
/// end inside `bound` (an end outside is pulled back along its branch).
pub(crate) fn grow_tree(
    scene: &mut Scene,
    label: u16,
    rng: &mut impl Rng,
    spec: &TreeSpec,
    bound: &Shape,
    start: Vec3,
    dir: Vec3,
) {
    let mut stack = vec![(start, normalise(dir), spec.length, spec.radius, 0u32)];
    while let Some((p, d, len, r, gen)) = stack.pop() {
        let mut end = [0, 1, 2].map(|a| p[a] + d[a] * len);
        if !bound.contains(end) {
            // Bisect for the last inside point along the branch (p itself may be outside
            // for the root, which starts at the hilum).
            let (mut lo, mut hi) = (0.0, 1.0);
            for _ in 0..12 {
                let mid = 0.5 * (lo + hi);
                let q = [0, 1, 2].map(|a| p[a] + d[a] * len * mid);
                if bound.contains(q) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            end = [0, 1, 2].map(|a| p[a] + d[a] * len * lo);
        }
        let seg = linalg::norm(linalg::sub(end, p));
        let r_end = r * spec.radius_ratio.sqrt();
        scene.push(label, Shape::tapered_capsule(p, end, r, r_end));
        if gen >= spec.generations || seg < 2.0 * r {
            continue;
        }
        let axis = random_perpendicular(rng, d);
        let a1 = uniform(rng, spec.min_angle_deg, spec.max_angle_deg).to_radians();
        let a2 = uniform(rng, spec.min_angle_deg, spec.max_angle_deg).to_radians();
        let twist = uniform(rng, -0.3, 0.3);
        for (angle, ax) in [(a1, axis), (-a2, rotate_about(axis, d, twist))] {
            let mut nd = normalise(rotate_about(d, ax, angle));
            if let Some(t) = target_ahead(rng, bound, end, nd) {
                let to = normalise(linalg::sub(t, end));
                nd = normalise([0, 1, 2].map(|a| (1.0 - spec.attract) * nd[a] + spec.attract * to[a]));
            }
            stack.push((end, nd, len * spec.length_ratio, r * spec.radius_ratio, gen + 1));
        }
    }
}

/// A random point of `bound` within 60° of direction `d` from `p`, if one is found quickly.
fn target_ahead(rng: &mut impl Rng, bound: &Shape, p: Vec3, d: Vec3) -> Option<Vec3> {
    let bb = bound.bbox();
    if bb.is_empty() || bb.min.iter().chain(&bb.max).any(|v| !v.is_finite()) {
        return None;
    }
    for _ in 0..24 {
        let t: Vec3 = std::array::from_fn(|a| uniform(rng, bb.min[a], bb.max[a]));
        let to = linalg::sub(t, p);
        let n = linalg::norm(to);
        if n > 1.0 && linalg::dot(to, d) > 0.5 * n && bound.contains(t) {
            return Some(t);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catmull_rom_passes_through_points() {
        let pts = [[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [10.0, 10.0, 0.0]];
        let s = catmull_rom(&pts, 4);
        assert_eq!(s.first().unwrap().0, pts[0]);
        assert_eq!(s[4].0, pts[1]);
        assert_eq!(s.last().unwrap().0, pts[2]);
        assert_eq!(s.len(), 9);
    }

    #[test]
    fn rotation_helpers() {
        let v = rotate_about([1.0, 0.0, 0.0], [0.0, 0.0, 1.0], std::f64::consts::FRAC_PI_2);
        // 1e-12: one rotation of a unit vector in f64.
        assert!((v[1] - 1.0).abs() < 1e-12 && v[0].abs() < 1e-12);
        let mut r = rng(1, 1);
        let d = normalise([0.3, -0.2, 0.9]);
        for _ in 0..10 {
            let p = random_perpendicular(&mut r, d);
            assert!(linalg::dot(p, d).abs() < 1e-12 && (linalg::norm(p) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_options_are_errors() {
        let t = TorsoOptions { nodules: MAX_NODULES + 1, ..Default::default() };
        assert!(Phantom::torso(1, &t).is_err());
        let t = TorsoOptions { deform_mm: -1.0, ..Default::default() };
        assert!(Phantom::torso(1, &t).is_err());
        let h = HeadOptions { variability: f64::NAN, ..Default::default() };
        assert!(Phantom::head(1, &h).is_err());
    }
}
