//! Intensities per label against the CT and MR tables (noise off), noise statistics, bias.

use hounsfield_phantom::contrast::{bias_field, ct_hu, relaxation, spin_echo};
use hounsfield_phantom::labels::tissue_of;
use hounsfield_phantom::{
    Contrast, CtOptions, FieldStrength, Grid, HeadOptions, Label, LesionChoice, Modality, MrOptions,
    MrWeighting, Phantom, RandomContrastOptions, RenderOptions, TorsoOptions,
};

use crate::common::interior;

fn torso() -> Phantom {
    Phantom::torso(3, &TorsoOptions { nodules: 2, ..Default::default() }).unwrap()
}

fn head() -> Phantom {
    Phantom::head(3, &HeadOptions { lesion: LesionChoice::Random, ..Default::default() }).unwrap()
}

#[test]
fn ct_interior_voxels_carry_the_table_hu() {
    let p = torso();
    let grid = p.grid(48).unwrap();
    let img = p.render(&grid, &Contrast::for_modality(Modality::Ct), &RenderOptions::default(), 0).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for o in interior(&img.labels) {
        let l = img.labels.data()[o];
        let want = ct_hu(tissue_of(l).unwrap()) as f32;
        assert_eq!(img.image.data()[o], want, "label {l}");
        seen.insert(l);
    }
    // The check covered the major organs.
    for l in [Label::Lung, Label::Liver, Label::Heart, Label::Fat, Label::Muscle, Label::SoftTissue] {
        assert!(seen.contains(&l.id()), "{l:?} has no interior voxel");
    }
    // Every voxel holds a table value (no supersampling, no noise).
    let table: Vec<f32> = img.labels.data().iter().map(|&l| ct_hu(tissue_of(l).unwrap()) as f32).collect();
    assert_eq!(img.image.data(), &table[..]);
}

#[test]
fn mr_interior_voxels_follow_the_spin_echo_equation() {
    let p = head();
    let grid = p.grid(40).unwrap();
    for field in [FieldStrength::T1_5, FieldStrength::T3] {
        for w in [MrWeighting::T1, MrWeighting::T2, MrWeighting::Pd] {
            let c = Contrast::Mr(MrOptions { field, ..MrOptions::weighted(w) });
            let img = p.render(&grid, &c, &RenderOptions::default(), 0).unwrap();
            for o in interior(&img.labels) {
                let t = tissue_of(img.labels.data()[o]).unwrap();
                let want = spin_echo(relaxation(t, field), w.preset()) as f32;
                assert_eq!(img.image.data()[o], want, "{t:?} {w:?} {field:?}");
            }
        }
    }
}

#[test]
fn supersampled_intensities_are_mixtures_of_neighbouring_tissues() {
    // With 3³ sub-samples every voxel is a mean of 27 table values: between the table's
    // extremes, and exactly the table value in interior voxels of large organs.
    let p = torso();
    let grid = p.grid(32).unwrap();
    let img =
        p.render(&grid, &Contrast::for_modality(Modality::Ct), &RenderOptions::supersampled(3), 0).unwrap();
    let (lo, hi, _) = img.image.min_max_mean();
    assert!(lo >= -1000.0 && hi <= 1000.0);
    let mixed = img
        .image
        .data()
        .iter()
        .filter(|v| ![-1000.0, -850.0, -100.0, 30.0, 40.0, 45.0, 60.0, 300.0, 1000.0].contains(*v))
        .count();
    assert!(mixed > 1000, "partial volume present: {mixed}");
}

#[test]
fn random_contrast_is_one_value_per_label_and_seeded() {
    let p = head();
    let grid = p.grid(24).unwrap();
    let c = Contrast::Random(RandomContrastOptions::plain());
    let a = p.render(&grid, &c, &RenderOptions::default(), 11).unwrap();
    let b = p.render(&grid, &c, &RenderOptions::default(), 12).unwrap();
    let mut per_label = std::collections::BTreeMap::new();
    for (&l, &v) in a.labels.data().iter().zip(a.image.data()) {
        let e = per_label.entry(l).or_insert(v);
        assert_eq!(*e, v, "label {l} has several intensities");
    }
    assert!(per_label.len() >= 8);
    assert_ne!(a.image, b.image);
    assert_eq!(a.labels, b.labels);
}

#[test]
fn ct_noise_has_the_requested_standard_deviation() {
    let p = torso();
    let grid = p.grid(48).unwrap();
    let c = Contrast::Ct(CtOptions { noise_sd_hu: 20.0 });
    let img = p.render(&grid, &c, &RenderOptions::default(), 5).unwrap();
    let vals: Vec<f64> = interior(&img.labels)
        .into_iter()
        .filter(|&o| img.labels.data()[o] == Label::SoftTissue.id())
        .map(|o| img.image.data()[o] as f64 - 30.0)
        .collect();
    let n = vals.len() as f64;
    assert!(n > 2000.0, "{n}");
    let mean = vals.iter().sum::<f64>() / n;
    let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    // 5 % ≈ 4 standard errors of a standard deviation estimated from > 2000 samples.
    assert!((sd - 20.0).abs() < 1.0 && mean.abs() < 2.0, "sd {sd} mean {mean}");
}

#[test]
fn rician_background_has_the_rayleigh_mean() {
    let p = head();
    let grid = p.grid(40).unwrap();
    let c = Contrast::Mr(MrOptions { noise: 0.05, ..MrOptions::weighted(MrWeighting::T1) });
    let img = p.render(&grid, &c, &RenderOptions::default(), 9).unwrap();
    // σ is 5 % of the brightest tissue signal of the table; the magnitude of pure noise is
    // Rayleigh with mean σ·√(π/2) (Gudbjartsson & Patz 1995).
    let top = c.table(0).iter().copied().fold(0f32, f32::max) as f64;
    let sigma = 0.05 * top;
    let bg: Vec<f64> = img
        .labels
        .data()
        .iter()
        .zip(img.image.data())
        .filter(|(&l, _)| l == 0)
        .map(|(_, &v)| v as f64)
        .collect();
    let mean = bg.iter().sum::<f64>() / bg.len() as f64;
    let want = sigma * (std::f64::consts::PI / 2.0).sqrt();
    // 2 %: tens of thousands of background voxels give a standard error below 0.5 %.
    assert!((mean - want).abs() < 0.02 * want, "{mean} vs {want}");
}

#[test]
fn bias_field_depends_on_position_not_on_resolution() {
    let a = bias_field(&Grid::cube(9, 220.0).unwrap(), 0.3, 4).unwrap();
    let b = bias_field(&Grid::cube(27, 220.0).unwrap(), 0.3, 4).unwrap();
    // Voxel (i, j, k) of the 9-grid has the centre of voxel (3i+1, 3j+1, 3k+1) of the 27-grid.
    for k in 0..9 {
        for j in 0..9 {
            for i in 0..9 {
                let (x, y) = (*a.get(i, j, k).unwrap(), *b.get(3 * i + 1, 3 * j + 1, 3 * k + 1).unwrap());
                // 1e-5: the same expression at world points equal to ~1e-13 mm.
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
    }
    let (lo, hi, _) = a.min_max_mean();
    assert!(lo > 0.3 && hi < 3.0 && hi - lo > 0.01, "{lo} {hi}");
}
