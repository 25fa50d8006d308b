//! `cargo bench -p hounsfield-imgproc --bench imgproc` (256³ volumes, rayon's default thread count; set RAYON_NUM_THREADS=2 to match docs/benchmarks.md)
//!
//! Gaussian smoothing (σ = 2 mm at 1 mm), linear and B-spline resampling under a small
//! rotation, the exact distance transform, connected components and a radius-3 dilation,
//! all on 256³ inputs. `bench/imgproc_vs_peers.py` times the first three against SimpleITK
//! and scipy on the same input.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use hounsfield_core::{AffineTransform, Geometry, Volume};
use hounsfield_imgproc::components::{connected_components, Connectivity};
use hounsfield_imgproc::distance::distance_to_background;
use hounsfield_imgproc::filter::gaussian;
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::morphology::dilate;
use hounsfield_imgproc::resample::resample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 256;

/// A body-like ellipsoid with noise (f32) and its mask with spherical cavities (u8).
fn inputs() -> (Volume<f32>, Volume<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let g = Geometry::default();
    let c = (N as f64 - 1.0) / 2.0;
    let cavities: Vec<([f64; 3], f64)> = (0..40)
        .map(|_| ([0; 3].map(|_: i32| rng.gen_range(0.2..0.8) * N as f64), rng.gen_range(5.0..15.0)))
        .collect();
    let mut v = Vec::with_capacity(N * N * N);
    let mut m = Vec::with_capacity(N * N * N);
    for k in 0..N {
        for j in 0..N {
            for i in 0..N {
                let p = [i as f64, j as f64, k as f64];
                let q = [(p[0] - c) / c, (p[1] - c) / c, (p[2] - c) / c];
                let body = q[0] * q[0] + 1.5 * q[1] * q[1] + 0.8 * q[2] * q[2] < 0.64;
                let hole = cavities
                    .iter()
                    .any(|(cc, r)| (0..3).map(|a| (p[a] - cc[a]).powi(2)).sum::<f64>() < r * r);
                v.push(if body { 40.0 + rng.gen_range(-10.0..10.0) } else { 0.0 });
                m.push((body && !hole) as u8);
            }
        }
    }
    (Volume::from_vec([N; 3], g, v).unwrap(), Volume::from_vec([N; 3], g, m).unwrap())
}

fn benches(c: &mut Criterion) {
    let (v, m) = inputs();
    let mut group = c.benchmark_group("imgproc_256");
    group.sample_size(10);
    group.bench_function("gaussian_sigma2mm", |b| b.iter(|| gaussian(&v, [2.0; 3]).unwrap()));
    let centre = [(N as f64 - 1.0) / 2.0; 3];
    let t = AffineTransform::rigid_euler([0.05, -0.035, 0.087], [0.0; 3], centre);
    for (name, interp) in [
        ("resample_linear_rotation", Interpolation::Linear),
        ("resample_bspline_rotation", Interpolation::BSpline3),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| resample(&v, v.dims(), v.geometry(), &t, interp, 0.0).unwrap())
        });
    }
    group.bench_function("edt", |b| b.iter(|| distance_to_background(&m).unwrap()));
    group.bench_function("components_26", |b| {
        b.iter(|| connected_components(&m, Connectivity::TwentySix).unwrap())
    });
    group.bench_function("dilate_radius3", |b| b.iter(|| dilate(&m, [3, 3, 3]).unwrap()));
    group.finish();
}

criterion_group!(imgproc, benches);
criterion_main!(imgproc);
