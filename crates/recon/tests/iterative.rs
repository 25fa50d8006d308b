//! Iterative methods on exact sparse-view data.

use std::ops::ControlFlow;

use hounsfield_phantom::{shepp_logan, SheppLoganOptions};
use hounsfield_recon::ct::{
    analytic, cgls, fbp, no_callback, sart, sirt, tv, FbpOptions, IterationInfo, IterativeOptions,
    JosephProjector, ScanGeometry, TvOptions, VolumeGrid,
};

use crate::common::rmse_disc;

struct Case {
    ph: hounsfield_core::Volume<f32>,
    scan: ScanGeometry,
    sino: hounsfield_core::Volume<f32>,
    p: JosephProjector,
}

fn case(n: usize, views: usize) -> Case {
    let ph = shepp_logan(&SheppLoganOptions { size: n, fov_mm: 256.0, supersample: 4, ..Default::default() })
        .unwrap();
    let s = ph.geometry().spacing[0];
    let iso = ph.geometry().index_to_world([(n / 2) as f64, (n / 2) as f64, 0.0]);
    let scan = ScanGeometry::parallel(views, 180.0, n * 3 / 2, s).unwrap().with_isocentre(iso).unwrap();
    let sino = scan
        .sinogram_volume(analytic::sinogram(&scan, &analytic::shepp_logan_ellipsoids(256.0, false)).unwrap())
        .unwrap();
    let p = JosephProjector::new(&scan, &VolumeGrid::of(&ph).unwrap()).unwrap();
    Case { ph, scan, sino, p }
}

#[test]
fn sirt_sart_and_cgls_fit_the_data() {
    let c = case(64, 90);
    let o = IterativeOptions { iterations: 10, ..Default::default() };
    type Method = fn(
        &dyn hounsfield_recon::ct::Projector,
        &hounsfield_core::Volume<f32>,
        &IterativeOptions,
        hounsfield_recon::ct::Callback<'_>,
    ) -> Result<hounsfield_core::Volume<f32>, hounsfield_recon::ReconError>;
    let methods: [(&str, Method); 3] = [("sirt", sirt), ("sart", sart), ("cgls", cgls)];
    for (name, f) in methods {
        let mut res = Vec::new();
        let rec = f(&c.p, &c.sino, &o, &mut |i: &IterationInfo| {
            res.push(i.residual);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(res.len(), 10, "{name}");
        // The data misfit falls (SIRT and CGLS monotonically, SART over the passes).
        assert!(res[9] < 0.5 * res[0], "{name}: {res:?}");
        let err = rmse_disc(&rec, c.ph.data(), 29.0);
        // 0.15: ten iterations from zero at 4 mm pixels (SIRT, the slowest, reaches 0.13); a
        // transposed or mis-scaled projector stays above 0.2.
        assert!(err < 0.15, "{name}: rmse {err}");
    }
    // The callback stops the iterations.
    let mut calls = 0;
    sirt(&c.p, &c.sino, &o, &mut |_: &IterationInfo| {
        calls += 1;
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(calls, 1);
    // Bad options are typed errors.
    assert!(sirt(&c.p, &c.sino, &IterativeOptions { relaxation: 2.5, ..o }, &mut no_callback).is_err());
    assert!(sart(&c.p, &c.sino, &IterativeOptions { subsets: 1000, ..o }, &mut no_callback).is_err());
}

#[test]
fn tv_beats_fbp_on_sparse_views() {
    let c = case(128, 45);
    let grid = VolumeGrid::of(&c.ph).unwrap();
    let f = fbp(&c.sino, &c.scan, &FbpOptions { grid: Some(grid), ..Default::default() }).unwrap();
    let t = tv(
        &c.p,
        &c.sino,
        &TvOptions { iterations: 200, weight: 0.05, ..Default::default() },
        &mut no_callback,
    )
    .unwrap();
    let (ef, et) = (rmse_disc(&f, c.ph.data(), 60.0), rmse_disc(&t, c.ph.data(), 60.0));
    // 0.75: TV's advantage on a piecewise-constant phantom from 45 views at 128² (0.57× in
    // release; the 0.5× target is measured at 512² in the benchmark, where streaks
    // dominate FBP).
    assert!(et < 0.75 * ef, "tv {et} vs fbp {ef}");
    assert!(t.data().iter().all(|&v| v >= 0.0));
}
