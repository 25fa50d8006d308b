//! The head phantom: MR-like, with a folded cortex and an optional white-matter lesion.
//!
//! World frame LPS, mm, centred on the origin; field of view [`HEAD_FOV_MM`] (220 mm cube).
//! Structures, in painting order:
//!
//! | structure | label | shape |
//! |---|---|---|
//! | neck (skin over muscle) | scalp, muscle | elliptic prisms below the head |
//! | scalp (4–6 mm) | scalp | ellipsoid, semi-axes ≈ 72 × 92 × 86 mm |
//! | skull (5.5–7.5 mm) | skull | inset ellipsoid |
//! | subarachnoid CSF (2–3 mm) | CSF | inset ellipsoid |
//! | grey matter (cortex, folded) | grey matter | radially modulated ellipsoid ∩ brain envelope |
//! | white matter | white matter | the same folds 0.07 deeper ∩ 95 % envelope |
//! | deep grey matter (thalami, lentiform nuclei) | grey matter | ellipsoids |
//! | interhemispheric fissure | CSF | a 3 mm slab ∩ upper brain |
//! | lateral and third ventricles | ventricles | tubes along C-shaped splines, ellipsoid |
//! | lesion (optional) | lesion | rotated ellipsoid inside white matter |
//!
//! The cortex is a radially modulated surface (the phantom's simplification of gyri and
//! sulci). With `ρ` the radius normalised by the brain envelope's semi-axes and `f(u)` a sum
//! of sixteen random plane waves on the unit sphere (total amplitude 0.35, periods of
//! ~14–23 mm on the brain surface), grey matter is `ρ ≤ min(1, 0.97 + f(u))` and white matter
//! `ρ ≤ min(0.95, 0.90 + f(u))`: gyral crowns are flattened by the envelope, sulci dip
//! typically 4–8 mm deep and fill with CSF, and the cortical ribbon is about 4 mm thick. Each seed
//! varies head size and shape, layer thicknesses, fold pattern and ventricle size.

use hounsfield_core::linalg::{Vec3, IDENTITY3};

use crate::anatomy::{tube, HeadOptions, LesionChoice, LesionInfo, Vary, HEAD_FOV_MM};
use crate::error::PhantomError;
use crate::labels::Label;
use crate::rng::{rng, tag, uniform, unit_vector};
use crate::scene::Scene;
use crate::shapes::{rotation, Shape, Wave};

/// Builds the head scene and places the lesion.
pub(crate) fn build(seed: u64, opts: &HeadOptions) -> Result<(Scene, Option<LesionInfo>), PhantomError> {
    const { assert!(HEAD_FOV_MM >= 220.0, "the layout below assumes a 220 mm field of view") };
    let mut v = Vary::new(seed, tag::HEAD, opts.variability);
    let mut s = Scene::new();

    let c = [v.shift(2.0), 5.0 + v.shift(3.0), 12.0 + v.shift(3.0)];
    let semi = [72.0 * v.scale(0.05), 92.0 * v.scale(0.05), 86.0 * v.scale(0.04)];

    // Neck.
    let neck = |grow: f64| {
        Shape::superquadric([0.0, c[1] + 15.0, -130.0], [45.0 + grow, 50.0 + grow, 80.0], IDENTITY3, 2.0, 6.0)
    };
    s.push(Label::Scalp.id(), neck(3.0));
    s.push(Label::Muscle.id(), neck(0.0));

    let scalp = v.around(5.0, 1.0);
    let skull = v.around(6.5, 1.0);
    let csf = v.around(2.5, 0.5);
    let shell = |inset: f64| Shape::ellipsoid(c, semi.map(|x| x - inset), IDENTITY3);
    s.push(Label::Scalp.id(), shell(0.0));
    s.push(Label::Skull.id(), shell(scalp));
    s.push(Label::Csf.id(), shell(scalp + skull));
    let brain_semi = semi.map(|x| x - scalp - skull - csf);
    let envelope = Shape::ellipsoid(c, brain_semi, IDENTITY3);

    // Folds: sixteen plane waves of total amplitude 0.35 on the unit sphere. The grey-matter
    // boundary follows them and is clipped by the brain envelope (flat gyral crowns); the
    // white-matter boundary is the same surface 0.07 deeper, clipped 5 % inside the envelope,
    // so the cortex is a ~0.07 · 60 mm ≈ 4 mm ribbon and CSF fills the sulci.
    let mut fold_rng = rng(seed, tag::HEAD ^ 0xf01d);
    let waves: Vec<Wave> = (0..16)
        .map(|_| Wave {
            direction: unit_vector(&mut fold_rng),
            frequency: uniform(&mut fold_rng, 18.0, 30.0),
            phase: uniform(&mut fold_rng, 0.0, std::f64::consts::TAU),
            amplitude: 0.35 / 16.0,
        })
        .collect();
    s.push(
        Label::GreyMatter.id(),
        Shape::intersection(vec![
            envelope.clone(),
            Shape::modulated_ellipsoid(c, brain_semi, IDENTITY3, 0.97, waves.clone()),
        ]),
    );
    s.push(
        Label::WhiteMatter.id(),
        Shape::intersection(vec![
            Shape::ellipsoid(c, brain_semi.map(|x| x * 0.95), IDENTITY3),
            Shape::modulated_ellipsoid(c, brain_semi, IDENTITY3, 0.90, waves),
        ]),
    );

    // Deep grey matter: thalami and lentiform nuclei beside the ventricles.
    let dg = v.scale(0.08);
    for sx in [-1.0, 1.0] {
        s.push(
            Label::GreyMatter.id(),
            Shape::ellipsoid(
                [c[0] + sx * 11.0, c[1] + 8.0, c[2] + 4.0],
                [9.0 * dg, 15.0 * dg, 10.0 * dg],
                IDENTITY3,
            ),
        );
        s.push(
            Label::GreyMatter.id(),
            Shape::ellipsoid(
                [c[0] + sx * 25.0, c[1] - 6.0, c[2] + 6.0],
                [6.0 * dg, 17.0 * dg, 11.0 * dg],
                rotation([0.0, 0.0, sx * 0.25]),
            ),
        );
    }

    // Interhemispheric fissure: a 3 mm CSF slab in the upper brain.
    s.push(
        Label::Csf.id(),
        Shape::intersection(vec![
            envelope.clone(),
            Shape::half_space([1.0, 0.0, 0.0], c[0] + 1.5),
            Shape::half_space([-1.0, 0.0, 0.0], -(c[0] - 1.5)),
            Shape::half_space([0.0, 0.0, -1.0], -(c[2] + 28.0)),
        ]),
    );

    // Ventricles: C-shaped lateral ventricles and a slit-like third ventricle.
    let vs = v.scale(0.15);
    for sx in [-1.0, 1.0] {
        let pts: Vec<Vec3> = [
            [6.0, -28.0, 14.0],
            [11.0, -8.0, 22.0],
            [13.0, 12.0, 22.0],
            [17.0, 30.0, 12.0],
            [22.0, 34.0, -5.0],
        ]
        .iter()
        .map(|p| [c[0] + sx * p[0], c[1] + p[1], c[2] + p[2]])
        .collect();
        let radii: Vec<f64> = [5.0, 6.0, 5.0, 5.0, 4.0].iter().map(|r| r * vs).collect();
        tube(&mut s, Label::Ventricles.id(), &pts, &radii, 5);
    }
    s.push(
        Label::Ventricles.id(),
        Shape::ellipsoid([c[0], c[1] + 2.0, c[2]], [2.5 * vs, 14.0, 9.0], IDENTITY3),
    );

    let lesion = match opts.lesion {
        LesionChoice::None => None,
        LesionChoice::Random => Some(place_lesion(&mut s, seed, c, brain_semi)?),
    };
    Ok((s, lesion))
}

fn place_lesion(s: &mut Scene, seed: u64, c: Vec3, brain_semi: Vec3) -> Result<LesionInfo, PhantomError> {
    const ATTEMPTS: usize = 4000;
    let mut r = rng(seed, tag::LESION);
    let semi = [0; 3].map(|_| uniform(&mut r, 4.0, 12.0));
    let rot = rotation([0; 3].map(|_| uniform(&mut r, -0.5, 0.5)));
    let extent = semi.iter().copied().fold(0.0, f64::max);
    let wm = Label::WhiteMatter.id();
    for _ in 0..ATTEMPTS {
        let p: Vec3 = std::array::from_fn(|a| c[a] + uniform(&mut r, -0.7, 0.7) * brain_semi[a]);
        if s.label_at_unwarped(p) != wm {
            continue;
        }
        let inside = (0..26).all(|_| {
            let u = unit_vector(&mut r);
            let d = extent + 1.0;
            s.label_at_unwarped([0, 1, 2].map(|a| p[a] + u[a] * d)) == wm
        });
        if inside {
            s.push(Label::Lesion.id(), Shape::ellipsoid(p, semi, rot));
            return Ok(LesionInfo { label: Label::Lesion.id(), centre_mm: p, semi_axes_mm: semi });
        }
    }
    Err(PhantomError::Place { what: "lesion".into(), attempts: ATTEMPTS })
}
