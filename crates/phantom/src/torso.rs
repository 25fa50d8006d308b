//! The torso phantom: chest and upper abdomen, CT-like, with optional lung nodules.
//!
//! World frame LPS, mm, centred on the origin; field of view [`TORSO_FOV_MM`] (400 mm cube,
//! z from −200 to +200 mm). Structures, in painting order (later ones win where they
//! overlap):
//!
//! | structure | label | shape |
//! |---|---|---|
//! | body outline (skin 2.5 mm, subcutaneous fat 7–23 mm, muscle wall ~12 mm) | skin, fat, muscle | nested superelliptic prisms (exponent 3) |
//! | body cavity (mediastinal/visceral fat) | fat | the innermost prism |
//! | abdomen below the diaphragm dome | soft tissue | ellipsoid ∩ cavity |
//! | paraspinal muscles | muscle | elliptic prisms |
//! | lungs | lung | ellipsoids ∩ cavity |
//! | mediastinum | fat | superquadric between the lungs |
//! | trachea, main bronchi, bronchial trees (4 generations) | airway | tubes along splines, random binary trees |
//! | pulmonary vessel trees (6 generations, radius 5.5 → ~1 mm) | pulmonary vessel | random binary trees |
//! | heart | heart | rotated ellipsoid |
//! | aorta (ascending, arch, descending) | aorta | tube along a spline |
//! | liver (right upper quadrant, its dome under the right lung) | liver | ellipsoid ∩ half-space ∩ cavity |
//! | spleen, kidneys | spleen, right/left kidney | rotated ellipsoids |
//! | spinal canal, intervertebral discs | soft tissue | prisms |
//! | vertebrae: body (cortical shell, cancellous core), arch, spinous and transverse processes | cortical/cancellous bone | flat-ended superquadrics, capsules |
//! | ribs (11 pairs), sternum | cortical bone | tubes along superelliptic arcs, prism |
//! | lung nodules | 100, 101, … | sphere (benign), smooth union of lobes or core + spicules (malignant) |
//!
//! Each seed varies body size and fat thickness, organ sizes (±5–10 %), positions
//! (a few mm), orientations (a few degrees), the height of the diaphragm, vertebral pitch,
//! and the branching of the airway and vessel trees.
//!
//! Nodules: benign nodules are smooth spheres of 4–10 mm diameter; malignant ones are
//! 10–30 mm, lobulated (a smooth union of 4–7 lobes) or spiculated (a core with 6–14
//! tapering spicules). Each is placed at random inside a lung such that its whole extent
//! plus 2 mm (checked along 96 directions) lies in lung parenchyma (or small vessels and
//! airways), away from other nodules.

use hounsfield_core::linalg::{Vec3, IDENTITY3};
use rand::Rng;

use crate::anatomy::{
    grow_tree, normalise, tube, NoduleClass, NoduleClassChoice, NoduleInfo, NoduleShape, Side, TorsoOptions,
    TreeSpec, Vary, TORSO_FOV_MM,
};
use crate::error::PhantomError;
use crate::labels::{nodule_label, Label};
use crate::rng::{rng, tag, uniform, unit_vector};
use crate::scene::Scene;
use crate::shapes::{rotation, Shape};

/// Builds the torso scene and places the nodules.
pub(crate) fn build(seed: u64, opts: &TorsoOptions) -> Result<(Scene, Vec<NoduleInfo>), PhantomError> {
    const { assert!(TORSO_FOV_MM >= 400.0, "the layout below assumes a 400 mm field of view") };
    let mut v = Vary::new(seed, tag::TORSO, opts.variability);
    let mut s = Scene::new();

    // Body wall: nested superelliptic prisms. Exponent 3 gives a rounded-rectangular cross
    // section; t = 6 keeps the prism's cross-section constant over the field of view.
    let cy = 5.0 + v.shift(3.0);
    let a = 165.0 * v.scale(0.06);
    let b = 115.0 * v.scale(0.06);
    let skin = 2.5;
    let fat = v.around(15.0, 8.0);
    let muscle = 12.0 * v.scale(0.15);
    let prism =
        |inset: f64| Shape::superquadric([0.0, cy, 0.0], [a - inset, b - inset, 600.0], IDENTITY3, 3.0, 6.0);
    s.push(Label::Skin.id(), prism(0.0));
    s.push(Label::Fat.id(), prism(skin));
    s.push(Label::Muscle.id(), prism(skin + fat));
    let wall = skin + fat + muscle;
    let (ca, cb) = (a - wall, b - wall);
    let cavity = prism(wall);
    s.push(Label::Fat.id(), cavity.clone());
    let within = |shape: Shape| Shape::intersection(vec![shape, cavity.clone()]);

    // Abdomen below the diaphragm: an ellipsoid whose top is the diaphragm dome.
    let dome_z = v.around(-20.0, 10.0);
    s.push(
        Label::SoftTissue.id(),
        within(Shape::ellipsoid([0.0, cy + 5.0, dome_z - 160.0], [ca * 1.05, cb * 1.15, 160.0], IDENTITY3)),
    );
    // Retroperitoneal fat (perirenal capsules, periaortic sheath) goes under everything painted
    // from here on, so the organs drawn later keep their shape; without it the kidneys (30 HU)
    // and the aorta (40 HU) would sit in abdominal soft tissue of the same density, which real
    // CT, where fat outlines both, does not show.
    let retroperitoneum = s.parts().len();
    let mut retro_fat = Scene::new();

    // Spine position (vertebral body centre) and paraspinal muscles.
    let y_v = cy + cb - 26.0 + v.shift(2.0);
    for sx in [-1.0, 1.0] {
        s.push(
            Label::Muscle.id(),
            Shape::superquadric([sx * 30.0, cy + cb + 2.0, 0.0], [22.0, 16.0, 600.0], IDENTITY3, 2.0, 6.0),
        );
    }

    // Lungs: x > 0 is the patient's left; the left lung is a little smaller (heart).
    let mut lungs = Vec::new();
    for (side, sx) in [(Side::Right, -1.0), (Side::Left, 1.0)] {
        let centre = [sx * 0.47 * ca * v.scale(0.05), cy + 8.0 + v.shift(3.0), 65.0 + v.shift(5.0)];
        let narrow = if sx > 0.0 { 0.95 } else { 1.0 };
        let semi = [0.40 * ca * v.scale(0.06) * narrow, 0.82 * cb * v.scale(0.05), 140.0 * v.scale(0.05)];
        let rot = rotation([0.0, 0.0, sx * v.angle(3.0)]);
        let lung = within(Shape::ellipsoid(centre, semi, rot));
        s.push(Label::Lung.id(), lung.clone());
        // Trees stay inside a slightly shrunk lung so their tips do not touch the wall.
        let bound = within(Shape::ellipsoid(centre, semi.map(|x| x * 0.92), rot));
        lungs.push((side, sx, lung, bound));
    }

    // Mediastinum between the lungs.
    s.push(
        Label::Fat.id(),
        within(Shape::superquadric(
            [0.0, cy - 5.0, 95.0],
            [28.0 * v.scale(0.08), cb * 0.95, 125.0],
            IDENTITY3,
            2.0,
            4.0,
        )),
    );

    // Airways: trachea, main bronchi, then random bronchial trees.
    let carina = [0.0, cy - 8.0, 125.0 + v.shift(5.0)];
    let r_tr = 8.5 * v.scale(0.08);
    tube(
        &mut s,
        Label::Airway.id(),
        &[[0.0, cy - 25.0, 230.0], [0.0, cy - 18.0, 170.0], carina],
        &[r_tr, r_tr, r_tr * 0.9],
        6,
    );
    let mut tree_rng = rng(seed, tag::TORSO ^ 0x7ee);
    for (_, sx, _, bound) in &lungs {
        let sx = *sx;
        let hilum = [sx * 40.0, cy, carina[2] - 25.0];
        tube(
            &mut s,
            Label::Airway.id(),
            &[carina, [sx * 22.0, cy - 4.0, carina[2] - 12.0], hilum],
            &[6.5, 6.0, 5.0],
            4,
        );
        let spec = TreeSpec {
            length: 40.0,
            radius: 4.5,
            generations: 4,
            length_ratio: 0.78,
            radius_ratio: 0.72,
            min_angle_deg: 20.0,
            max_angle_deg: 45.0,
            attract: 0.5,
        };
        for dir in [[sx * 0.5, -0.2, 0.85], [sx * 0.9, -0.4, -0.1], [sx * 0.5, 0.4, -0.8]] {
            grow_tree(&mut s, Label::Airway.id(), &mut tree_rng, &spec, bound, hilum, dir);
        }
    }

    // Pulmonary vessels: deeper trees from the hilum.
    for (_, sx, _, bound) in &lungs {
        let sx = *sx;
        let hilum = [sx * 35.0, cy - 8.0, carina[2] - 35.0];
        let spec = TreeSpec {
            length: 50.0,
            radius: 5.5,
            generations: 6,
            length_ratio: 0.8,
            radius_ratio: 0.74,
            min_angle_deg: 25.0,
            max_angle_deg: 50.0,
            attract: 0.6,
        };
        for dir in [
            [sx * 0.4, -0.2, 0.9],
            [sx * 0.9, -0.5, 0.1],
            [sx * 0.5, 0.3, -0.8],
            [sx * 0.8, -0.2, -0.6],
            [sx * 0.3, 0.8, -0.3],
        ] {
            grow_tree(&mut s, Label::PulmonaryVessel.id(), &mut tree_rng, &spec, bound, hilum, dir);
        }
    }

    // Heart: anterior, left of midline, long axis tilted down and to the left.
    let heart_c = [0.15 * ca + v.shift(4.0), cy - 0.35 * cb + v.shift(3.0), dome_z + 45.0 + v.shift(4.0)];
    let heart_semi = [58.0, 46.0, 52.0].map(|x| x * v.scale(0.07));
    let heart_rot = rotation([0.0, 25f64.to_radians() + v.angle(4.0), -35f64.to_radians() + v.angle(5.0)]);
    s.push(Label::Heart.id(), within(Shape::ellipsoid(heart_c, heart_semi, heart_rot)));

    // Aorta: root in the heart, ascending, arch, descending left-anterior of the spine.
    let ra = 13.0 * v.scale(0.08);
    let aorta_path = [
        [12.0, cy - 22.0, dome_z + 70.0],
        [4.0, cy - 35.0, dome_z + 110.0],
        [2.0, cy - 12.0, dome_z + 137.0],
        [15.0, cy + 20.0, dome_z + 125.0],
        [20.0, y_v - 22.0, dome_z + 90.0],
        [18.0, y_v - 22.0, dome_z],
        [10.0, y_v - 26.0, -100.0],
        [5.0, y_v - 30.0, -220.0],
    ];
    let aorta_radii = [ra, ra, ra * 0.92, ra * 0.85, ra * 0.85, ra * 0.8, ra * 0.78, ra * 0.75];
    tube(&mut s, Label::Aorta.id(), &aorta_path, &aorta_radii, 5);
    // Its periaortic fat sheath (6 mm) along the descending part; in the chest the lungs and
    // mediastinum painted above it decide.
    tube(
        &mut retro_fat,
        Label::Fat.id(),
        &aorta_path[4..],
        &aorta_radii[4..].iter().map(|r| r + 6.0).collect::<Vec<_>>(),
        5,
    );

    // Liver: right upper quadrant; the half-space trims the left lobe to a wedge.
    let liver_c = [-0.45 * ca + v.shift(4.0), cy - 5.0 + v.shift(3.0), dome_z - 55.0 + v.shift(4.0)];
    let liver_semi = [0.68 * ca, 0.95 * cb, 72.0].map(|x| x * v.scale(0.07));
    let n = normalise([0.55, 0.0, -0.83]);
    let p0 = [liver_c[0] + 35.0, liver_c[1], liver_c[2] - 20.0];
    let cut = Shape::half_space(n, n[0] * p0[0] + n[1] * p0[1] + n[2] * p0[2]);
    let liver_rot = rotation([0.0, 0.0, 10f64.to_radians() + v.angle(4.0)]);
    s.push(
        Label::Liver.id(),
        within(Shape::intersection(vec![Shape::ellipsoid(liver_c, liver_semi, liver_rot), cut])),
    );

    // Spleen: left upper quadrant, posterior-lateral.
    s.push(
        Label::Spleen.id(),
        within(Shape::ellipsoid(
            [0.62 * ca + v.shift(4.0), cy + 0.45 * cb + v.shift(3.0), dome_z - 40.0 + v.shift(5.0)],
            [24.0, 50.0, 48.0].map(|x| x * v.scale(0.1)),
            rotation([0.0, 0.0, -35f64.to_radians() + v.angle(6.0)]),
        )),
    );

    // Kidneys: retroperitoneal beside the spine, upper poles medial; the right one lower.
    for (label, sx, dz) in [(Label::KidneyRight, -1.0, 0.0), (Label::KidneyLeft, 1.0, 12.0)] {
        let centre =
            [sx * 0.5 * ca + v.shift(3.0), y_v - 6.0 + v.shift(3.0), dome_z - 140.0 + dz + v.shift(5.0)];
        let semi = [27.0, 24.0, 55.0].map(|x| x * v.scale(0.07));
        let rot = rotation([0.0, sx * -12f64.to_radians(), sx * 30f64.to_radians() + v.angle(5.0)]);
        s.push(label.id(), within(Shape::ellipsoid(centre, semi, rot)));
        // Perirenal fat: a 9 mm capsule (Gerota's fascia) under the organs painted later.
        retro_fat.push(Label::Fat.id(), within(Shape::ellipsoid(centre, semi.map(|x| x + 9.0), rot)));
    }
    s.insert_under(retroperitoneum, retro_fat);

    // Spinal canal, then vertebrae and discs from below the field of view to above it.
    s.push(
        Label::SoftTissue.id(),
        Shape::superquadric([0.0, y_v + 22.0, 0.0], [8.0, 6.5, 600.0], IDENTITY3, 2.0, 6.0),
    );
    let height = 24.0 * v.scale(0.05);
    let pitch = height + 6.0;
    let phase = v.around(pitch * 0.5, pitch * 0.5);
    let mut zk = -230.0 + phase;
    let mut levels = Vec::new();
    while zk < 230.0 {
        levels.push(zk);
        zk += pitch;
    }
    for &z in &levels {
        let vb = |inset: f64| {
            Shape::superquadric(
                [0.0, y_v, z],
                [21.0 - inset, 17.0 - inset, height / 2.0 - inset],
                IDENTITY3,
                2.0,
                6.0,
            )
        };
        s.push(
            Label::SoftTissue.id(),
            Shape::superquadric([0.0, y_v, z + pitch / 2.0], [20.0, 16.0, 3.2], IDENTITY3, 2.0, 6.0),
        );
        s.push(Label::BoneCortical.id(), vb(0.0));
        s.push(Label::BoneCancellous.id(), vb(2.5));
        let bone = Label::BoneCortical.id();
        for sx in [-1.0, 1.0] {
            s.push(
                bone,
                Shape::tapered_capsule([sx * 12.0, y_v + 14.0, z], [sx * 10.0, y_v + 26.0, z], 4.0, 4.0),
            );
            s.push(bone, Shape::tapered_capsule([sx * 10.0, y_v + 26.0, z], [0.0, y_v + 31.0, z], 4.0, 4.0));
            s.push(
                bone,
                Shape::tapered_capsule(
                    [sx * 12.0, y_v + 16.0, z],
                    [sx * 32.0, y_v + 22.0, z + 2.0],
                    4.0,
                    3.5,
                ),
            );
        }
        s.push(bone, Shape::tapered_capsule([0.0, y_v + 31.0, z], [0.0, y_v + 50.0, z - 12.0], 4.5, 3.5));
    }

    // Ribs: superelliptic arcs in the middle of the muscle wall, from the transverse
    // processes around to the front, dropping as they go; lower ribs are shorter.
    let (ra_, rb_) = (ca + muscle * 0.5, cb + muscle * 0.5);
    let rib_top = 185.0 + v.shift(5.0);
    for k in 0..11 {
        let z0 = rib_top - pitch * k as f64;
        let end_deg: f64 = match k {
            0..=6 => 160.0,
            7 => 140.0,
            8 => 120.0,
            9 => 100.0,
            _ => 80.0,
        };
        for sx in [-1.0, 1.0] {
            let pts: Vec<Vec3> = (0..12)
                .map(|q| {
                    let u = q as f64 / 11.0;
                    let phi = (10.0 + u * (end_deg - 10.0)).to_radians();
                    let (sp, cp) = phi.sin_cos();
                    [
                        sx * ra_ * sp.abs().powf(2.0 / 3.0),
                        cy + rb_ * cp.signum() * cp.abs().powf(2.0 / 3.0),
                        z0 - 45.0 * u.powf(1.4),
                    ]
                })
                .collect();
            let radii: Vec<f64> = (0..12).map(|q| 4.5 - q as f64 / 11.0).collect();
            tube(&mut s, Label::BoneCortical.id(), &pts, &radii, 3);
        }
    }
    s.push(
        Label::BoneCortical.id(),
        Shape::superquadric([0.0, cy - cb - muscle * 0.5, 95.0], [16.0, 6.0, 85.0], IDENTITY3, 2.0, 6.0),
    );

    let nodules = place_nodules(&mut s, seed, opts, &lungs)?;
    Ok((s, nodules))
}

/// 96 nearly uniform unit directions (a Fibonacci sphere, González 2010), for checking that a
/// candidate nodule's neighbourhood is lung.
fn directions() -> Vec<Vec3> {
    let n = 96;
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - (2 * i + 1) as f64 / n as f64;
            let r = (1.0 - z * z).sqrt();
            let phi = golden * i as f64;
            [r * phi.cos(), r * phi.sin(), z]
        })
        .collect()
}

/// A nodule's parts relative to its centre, its extent radius and nominal diameter.
struct NoduleGeom {
    class: NoduleClass,
    shape: NoduleShape,
    diameter: f64,
    extent: f64,
    /// Builds the shapes about a centre.
    parts: Box<dyn Fn(Vec3) -> Vec<Shape>>,
}

fn draw_nodule(r: &mut impl Rng, choice: NoduleClassChoice) -> NoduleGeom {
    let class = match choice {
        NoduleClassChoice::Benign => NoduleClass::Benign,
        NoduleClassChoice::Malignant => NoduleClass::Malignant,
        NoduleClassChoice::Random => {
            if r.gen_bool(0.5) {
                NoduleClass::Benign
            } else {
                NoduleClass::Malignant
            }
        }
    };
    match class {
        NoduleClass::Benign => {
            let d = uniform(r, 4.0, 10.0);
            NoduleGeom {
                class,
                shape: NoduleShape::Round,
                diameter: d,
                extent: d / 2.0,
                parts: Box::new(move |c| vec![Shape::sphere(c, d / 2.0)]),
            }
        }
        NoduleClass::Malignant => {
            let d = uniform(r, 10.0, 30.0);
            let rad = d / 2.0;
            if r.gen_bool(0.5) {
                // Lobulated: a core and 4–7 lobes blended by a smooth union.
                let m = r.gen_range(4..=7);
                let lobes: Vec<(Vec3, f64)> = (0..m)
                    .map(|_| {
                        let u = unit_vector(r);
                        (u.map(|x| x * 0.4 * rad), uniform(r, 0.4, 0.55) * rad)
                    })
                    .collect();
                let k = 0.3 * rad;
                let extent = lobes
                    .iter()
                    .map(|(o, lr)| hounsfield_core::linalg::norm(*o) + lr)
                    .fold(0.7 * rad, f64::max)
                    + k / 4.0 * m as f64;
                NoduleGeom {
                    class,
                    shape: NoduleShape::Lobulated,
                    diameter: d,
                    extent,
                    parts: Box::new(move |c| {
                        let mut sph = vec![(c, 0.7 * rad)];
                        sph.extend(
                            lobes.iter().map(|(o, lr)| ([c[0] + o[0], c[1] + o[1], c[2] + o[2]], *lr)),
                        );
                        vec![Shape::smooth_spheres(sph, k)]
                    }),
                }
            } else {
                // Spiculated: a core sphere and 6–14 tapering spicules radiating from it.
                let m = r.gen_range(6..=14);
                let spikes: Vec<(Vec3, f64, f64)> = (0..m)
                    .map(|_| (unit_vector(r), rad * uniform(r, 0.5, 1.0), rad * uniform(r, 0.15, 0.25)))
                    .collect();
                let extent = rad + spikes.iter().map(|s| s.1).fold(0.0, f64::max) + 0.5;
                NoduleGeom {
                    class,
                    shape: NoduleShape::Spiculated,
                    diameter: d,
                    extent,
                    parts: Box::new(move |c| {
                        let mut v = vec![Shape::sphere(c, rad)];
                        for (u, len, base) in &spikes {
                            let tip = [0, 1, 2].map(|a| c[a] + u[a] * (rad + len));
                            v.push(Shape::tapered_capsule(c, tip, *base, 0.5));
                        }
                        v
                    }),
                }
            }
        }
    }
}

fn place_nodules(
    scene: &mut Scene,
    seed: u64,
    opts: &TorsoOptions,
    lungs: &[(Side, f64, Shape, Shape)],
) -> Result<Vec<NoduleInfo>, PhantomError> {
    const ATTEMPTS: usize = 4000;
    let mut r = rng(seed, tag::NODULES);
    let dirs = directions();
    let ok = |l: u16| l == Label::Lung.id() || l == Label::PulmonaryVessel.id() || l == Label::Airway.id();
    let mut placed: Vec<NoduleInfo> = Vec::new();
    for n in 0..opts.nodules {
        let label = nodule_label(n).ok_or_else(|| crate::error::invalid("nodules", "too many"))?;
        let g = draw_nodule(&mut r, opts.nodule_class);
        let mut found = None;
        for _ in 0..ATTEMPTS {
            let (side, _, lung, _) = &lungs[r.gen_range(0..lungs.len())];
            let bb = lung.bbox();
            let c: Vec3 = std::array::from_fn(|a| uniform(&mut r, bb.min[a], bb.max[a]));
            if scene.label_at_unwarped(c) != Label::Lung.id() {
                continue;
            }
            let clear = placed.iter().all(|o| {
                let d = hounsfield_core::linalg::norm(hounsfield_core::linalg::sub(o.centre_mm, c));
                d > o.extent_radius_mm + g.extent + 3.0
            });
            if !clear {
                continue;
            }
            let inside = dirs.iter().all(|u| {
                [0.5 * g.extent, g.extent + 1.0, g.extent + 2.0]
                    .iter()
                    .all(|&dist| ok(scene.label_at_unwarped([0, 1, 2].map(|a| c[a] + u[a] * dist))))
            });
            if inside {
                found = Some((c, *side));
                break;
            }
        }
        let Some((c, side)) = found else {
            return Err(PhantomError::Place {
                what: format!("nodule {} ({:.1} mm)", n + 1, g.diameter),
                attempts: ATTEMPTS,
            });
        };
        for shape in (g.parts)(c) {
            scene.push(label, shape);
        }
        placed.push(NoduleInfo {
            label,
            centre_mm: c,
            diameter_mm: g.diameter,
            extent_radius_mm: g.extent,
            class: g.class,
            shape: g.shape,
            lung: side,
        });
    }
    Ok(placed)
}
