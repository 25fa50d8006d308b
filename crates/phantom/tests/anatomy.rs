//! Anatomical phantoms: nodules inside the lungs matching their metadata, the lesion inside
//! white matter, every label present, the same anatomy on any grid.

use std::f64::consts::PI;

use hounsfield_core::Geometry;
use hounsfield_phantom::labels::{label_name, NODULE_LABEL_BASE};
use hounsfield_phantom::{
    Grid, HeadOptions, Label, LesionChoice, NoduleClass, NoduleClassChoice, NoduleShape, Phantom,
    RenderOptions, TorsoOptions,
};

/// A cube grid of `n³` voxels of `h` mm centred on `c`.
fn local_grid(c: [f64; 3], n: usize, h: f64) -> Grid {
    let o = c.map(|x| x - h * (n as f64 - 1.0) / 2.0);
    Grid::new([n; 3], Geometry { origin: o, spacing: [h; 3], ..Geometry::default() })
}

fn check_nodules(p: &Phantom) {
    let lungish = [Label::Lung.id(), Label::PulmonaryVessel.id(), Label::Airway.id()];
    for (k, n) in p.nodules().iter().enumerate() {
        assert_eq!(n.label, NODULE_LABEL_BASE + k as u16);
        assert_eq!(label_name(n.label).unwrap(), format!("nodule {}", k + 1));
        match n.class {
            NoduleClass::Benign => {
                assert!((4.0..=10.0).contains(&n.diameter_mm) && n.shape == NoduleShape::Round);
            }
            NoduleClass::Malignant => {
                assert!((10.0..=30.0).contains(&n.diameter_mm) && n.shape != NoduleShape::Round);
            }
        }
        // Sample finely around the nodule: 48³ voxels over 2.4 × its extent.
        let h = 2.4 * n.extent_radius_mm / 48.0;
        let grid = local_grid(n.centre_mm, 48, h);
        let labels = p.render_labels(&grid, &RenderOptions::default()).unwrap();
        let g = grid.geometry;
        let (mut count, mut sum) = (0usize, [0.0; 3]);
        let r_of = |x: [f64; 3]| hounsfield_core::linalg::norm(hounsfield_core::linalg::sub(x, n.centre_mm));
        for (o, &l) in labels.data().iter().enumerate() {
            let idx = [(o % 48) as f64, ((o / 48) % 48) as f64, (o / 2304) as f64];
            let x = g.index_to_world(idx);
            if l == n.label {
                count += 1;
                (0..3).for_each(|a| sum[a] += x[a]);
                let r = hounsfield_core::linalg::norm(hounsfield_core::linalg::sub(x, n.centre_mm));
                // The deformation (≤ 5 mm over 100 mm control spacing) stretches by < 10 %.
                assert!(r <= 1.1 * n.extent_radius_mm + h, "nodule {} voxel at {r} mm", n.label);
            } else if r_of(x) <= 0.85 * (n.extent_radius_mm + 2.0) - h {
                // Its neighbourhood, as checked at placement (extent + 2 mm, less 15 % for
                // the deformation's stretch and a voxel), is lung, vessels or airways.
                assert!(lungish.contains(&l), "nodule {} touches label {l} at {} mm", n.label, r_of(x));
            }
        }
        assert!(count > 0);
        if n.shape == NoduleShape::Round {
            let centroid = sum.map(|s| s / count as f64);
            let off = hounsfield_core::linalg::norm(hounsfield_core::linalg::sub(centroid, n.centre_mm));
            // A sampled sphere's centroid is within a tenth of a voxel of its centre (the
            // deformation is locally near-affine, which keeps centroids).
            assert!(off < 0.2 * h + 0.02 * n.diameter_mm, "centroid off by {off} mm");
            let vol = count as f64 * h * h * h;
            let exact = PI / 6.0 * n.diameter_mm.powi(3);
            // ~20 voxels across: centre sampling within 5 % of the surface layer (as in the
            // shape tests), plus up to 10 % for the deformation's local volume change.
            let tol = 0.05 * PI * n.diameter_mm.powi(2) * h + 0.1 * exact;
            assert!((vol - exact).abs() < tol, "volume {vol} vs {exact}");
        }
    }
}

#[test]
fn nodules_lie_in_the_lungs_and_match_their_metadata() {
    for (seed, deform_mm) in [(1, 0.0), (2, 5.0)] {
        let p = Phantom::torso(seed, &TorsoOptions { nodules: 6, deform_mm, ..Default::default() }).unwrap();
        assert_eq!(p.nodules().len(), 6);
        check_nodules(&p);
    }
    let all_malignant =
        TorsoOptions { nodules: 3, nodule_class: NoduleClassChoice::Malignant, ..Default::default() };
    let p = Phantom::torso(4, &all_malignant).unwrap();
    assert!(p.nodules().iter().all(|n| n.class == NoduleClass::Malignant));
    check_nodules(&p);
    let info = serde_json::to_value(p.info()).unwrap();
    assert_eq!(info["nodules"][0]["class"], "malignant");
    assert_eq!(info["kind"], "torso");
}

#[test]
fn lesion_lies_in_white_matter() {
    for deform_mm in [0.0, 4.0] {
        let p =
            Phantom::head(5, &HeadOptions { lesion: LesionChoice::Random, deform_mm, ..Default::default() })
                .unwrap();
        let l = *p.lesion().unwrap();
        let ext = l.semi_axes_mm.iter().copied().fold(0.0, f64::max);
        let h = 2.6 * ext / 40.0;
        let labels = p.render_labels(&local_grid(l.centre_mm, 40, h), &RenderOptions::default()).unwrap();
        let ids: std::collections::BTreeSet<u16> = labels.data().iter().copied().collect();
        assert!(ids.contains(&Label::Lesion.id()));
        // At 1.3 × its extent the neighbourhood is white matter (grey matter at most where
        // folds come close).
        assert!(
            ids.iter()
                .all(|&i| [Label::Lesion.id(), Label::WhiteMatter.id(), Label::GreyMatter.id()].contains(&i)),
            "{ids:?}"
        );
    }
}

#[test]
fn every_structure_is_present() {
    let t = Phantom::torso(8, &TorsoOptions { nodules: 1, ..Default::default() }).unwrap();
    let labels = t.render_labels(&t.grid(64).unwrap(), &RenderOptions::default()).unwrap();
    let present = labels.labels();
    for id in 1..=15 {
        assert!(present.contains(&id), "torso lacks {}", label_name(id).unwrap());
    }
    let h = Phantom::head(8, &HeadOptions { lesion: LesionChoice::Random, ..Default::default() }).unwrap();
    let labels = h.render_labels(&h.grid(64).unwrap(), &RenderOptions::default()).unwrap();
    let present = labels.labels();
    for id in [3, 20, 21, 22, 23, 24, 25, 26] {
        assert!(present.contains(&id), "head lacks {}", label_name(id).unwrap());
    }
    // Grey matter is a substantial fraction of the brain (folded cortex and deep nuclei).
    let gm = labels.data().iter().filter(|&&l| l == Label::GreyMatter.id()).count() as f64;
    let wm = labels.data().iter().filter(|&&l| l == Label::WhiteMatter.id()).count() as f64;
    assert!(gm > 0.2 * wm, "grey {gm} white {wm}");
}

#[test]
fn kidneys_and_abdominal_aorta_are_outlined_by_fat() {
    // Real CT shows the kidneys (30 HU) and the aorta (40 HU) because perirenal and
    // retroperitoneal fat surround them; abdominal soft tissue (30 HU) must not. Of their
    // face neighbours outside the organ itself, fat is the majority for each kidney, and
    // soft tissue is a small minority (organs touching them: liver, spleen, spine, muscle).
    let t = Phantom::torso(5, &TorsoOptions::default()).unwrap();
    let grid = t.grid(96).unwrap();
    let labels = t.render_labels(&grid, &RenderOptions::default()).unwrap();
    let [nx, ny, nz] = labels.dims();
    for organ in [Label::KidneyRight, Label::KidneyLeft, Label::Aorta] {
        let (mut fat, mut soft, mut other) = (0usize, 0usize, 0usize);
        for k in 1..nz - 1 {
            for j in 1..ny - 1 {
                for i in 1..nx - 1 {
                    if labels.get(i, j, k) != Some(&organ.id()) {
                        continue;
                    }
                    // The aorta: only its abdominal part, below the heart.
                    if organ == Label::Aorta && k > nz / 3 {
                        continue;
                    }
                    for (a, b, c) in [
                        (i - 1, j, k),
                        (i + 1, j, k),
                        (i, j - 1, k),
                        (i, j + 1, k),
                        (i, j, k - 1),
                        (i, j, k + 1),
                    ] {
                        match labels.get(a, b, c).copied().unwrap_or(0) {
                            l if l == organ.id() => {}
                            l if l == Label::Fat.id() => fat += 1,
                            l if l == Label::SoftTissue.id() => soft += 1,
                            _ => other += 1,
                        }
                    }
                }
            }
        }
        let n = (fat + soft + other) as f64;
        assert!(n > 50.0, "{organ:?}: only {n} boundary faces");
        assert!(fat as f64 > 0.5 * n, "{organ:?}: fat {fat}, soft tissue {soft}, other {other}");
        assert!((soft as f64) < 0.1 * n, "{organ:?}: fat {fat}, soft tissue {soft}, other {other}");
    }
}

#[test]
fn same_anatomy_on_any_grid() {
    // Voxel (i, j, k) of the 24³ grid has the centre of voxel (3i+1, 3j+1, 3k+1) of the 72³
    // grid over the same field of view: the labels there agree.
    for p in [
        Phantom::torso(6, &TorsoOptions { nodules: 2, deform_mm: 6.0, ..Default::default() }).unwrap(),
        Phantom::head(6, &HeadOptions { deform_mm: 6.0, ..Default::default() }).unwrap(),
    ] {
        let a = p.render_labels(&p.grid(24).unwrap(), &RenderOptions::default()).unwrap();
        let b = p.render_labels(&p.grid(72).unwrap(), &RenderOptions::default()).unwrap();
        let mut differ = 0;
        for k in 0..24 {
            for j in 0..24 {
                for i in 0..24 {
                    if a.get(i, j, k) != b.get(3 * i + 1, 3 * j + 1, 3 * k + 1) {
                        differ += 1;
                    }
                }
            }
        }
        // The two grids compute the same world points in different floating-point order, so
        // only points within ~1e-13 mm of a surface could flip.
        assert!(differ <= 2, "{differ} voxels differ");
    }
}

#[test]
fn standard_grid_covers_the_field_of_view() {
    let t = Phantom::torso(0, &TorsoOptions::default()).unwrap();
    let g = t.grid(128).unwrap();
    assert_eq!(g.geometry.spacing, [3.125; 3]);
    assert_eq!(g.geometry.origin, [-198.4375; 3]);
    let h = Phantom::head(0, &HeadOptions::default()).unwrap();
    assert_eq!(h.grid(100).unwrap().geometry.spacing, [2.2; 3]);
    assert!(t.grid(0).is_err());
    assert!(t.grid(1 << 21).is_err());
}

#[test]
fn mean_anatomy_is_seed_independent() {
    // Variability 0: every seed gives the same body and organs (only the random trees differ).
    let opts = TorsoOptions { variability: 0.0, ..Default::default() };
    let (a, b) = (Phantom::torso(1, &opts).unwrap(), Phantom::torso(2, &opts).unwrap());
    let liver = |p: &Phantom| {
        let l = p.render_labels(&p.grid(32).unwrap(), &RenderOptions::default()).unwrap();
        l.data().iter().filter(|&&v| v == Label::Liver.id()).count()
    };
    assert_eq!(liver(&a), liver(&b));
    let c = Phantom::torso(3, &TorsoOptions::default()).unwrap();
    assert_ne!(liver(&a), liver(&c));
}

#[test]
fn warped_phantom_follows_the_registration_convention() {
    // moving = p.warped(inverse): the moving label at x + u_fwd(x) is the fixed label at x.
    use hounsfield_core::Transform;
    use hounsfield_phantom::random_deformation;
    let p = Phantom::head(9, &HeadOptions { deform_mm: 3.0, ..Default::default() }).unwrap();
    let grid = p.grid(48).unwrap();
    let d = random_deformation(
        &grid,
        &hounsfield_phantom::DeformationOptions { magnitude_mm: 8.0, control_spacing_mm: 40.0 },
        1,
    )
    .unwrap();
    let moving = p.warped(&d.inverse).unwrap();
    let g = grid.geometry;
    let (mut n, mut same) = (0, 0);
    for k in (4..44).step_by(3) {
        for j in (4..44).step_by(3) {
            for i in (4..44).step_by(3) {
                let x = g.index_to_world([i as f64 + 0.37, j as f64 + 0.61, k as f64 + 0.13]);
                let l = p.scene().label_at(x);
                if l == 0 {
                    continue;
                }
                n += 1;
                same += usize::from(moving.scene().label_at(d.forward.transform_point(x)) == l);
            }
        }
    }
    // Only points within the fields' inverse-consistency error (< 0.1 voxel, 0.5 mm) of a
    // surface can differ: ≥ 97 % of body points keep their label.
    assert!(same as f64 > 0.97 * n as f64, "{same} of {n}");
}
