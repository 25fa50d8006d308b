//! `cargo bench -p hounsfield-phantom --bench phantom`: torso labels at 128³, torso CT and head
//! T1 at 128³, 2-D Shepp–Logan at 512² with 2× supersampling, a random deformation at 96³.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use hounsfield_phantom::shepp_logan::{shepp_logan, SheppLoganOptions};
use hounsfield_phantom::{
    random_deformation, Contrast, DeformationOptions, Grid, HeadOptions, Modality, Phantom, RenderOptions,
    TorsoOptions,
};

fn benches(c: &mut Criterion) {
    let torso = Phantom::torso(7, &TorsoOptions { nodules: 3, ..Default::default() }).expect("torso");
    let grid = torso.grid(128).expect("grid");
    let mut g = c.benchmark_group("phantom");
    g.sample_size(10);
    g.bench_function("torso_build", |b| {
        b.iter(|| Phantom::torso(7, &TorsoOptions::default()).expect("torso"))
    });
    g.bench_function("torso_labels_128", |b| {
        b.iter(|| torso.render_labels(&grid, &RenderOptions::default()).expect("labels"))
    });
    let ct = Contrast::for_modality(Modality::Ct);
    g.bench_function("torso_ct_128", |b| {
        b.iter(|| torso.render(&grid, &ct, &RenderOptions::default(), 0).expect("ct"))
    });
    let head = Phantom::head(7, &HeadOptions::default()).expect("head");
    let hgrid = head.grid(128).expect("grid");
    let t1 = Contrast::for_modality(Modality::T1);
    g.bench_function("head_t1_128", |b| {
        b.iter(|| head.render(&hgrid, &t1, &RenderOptions::default(), 0).expect("t1"))
    });
    g.bench_function("shepp_logan_512_ss2", |b| {
        b.iter(|| {
            shepp_logan(&SheppLoganOptions { size: 512, supersample: 2, ..Default::default() }).expect("sl")
        })
    });
    let dgrid = Grid::cube(96, 192.0).expect("grid");
    g.bench_function("deformation_96", |b| {
        b.iter(|| random_deformation(&dgrid, &DeformationOptions::default(), 1).expect("deformation"))
    });
    g.finish();
}

criterion_group!(phantom, benches);
criterion_main!(phantom);
