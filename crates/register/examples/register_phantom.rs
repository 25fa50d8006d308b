//! Registers a head phantom to a deformed copy and prints timings and quality.
//!
//! `cargo run --release -p hounsfield-register --example register_phantom -- [size] [transform]`

use hounsfield_core::Transform;
use hounsfield_phantom::deform::random_deformation;
use hounsfield_phantom::{Contrast, DeformationOptions, HeadOptions, Modality, Phantom, RenderOptions};
use hounsfield_register::quality::assess;
use hounsfield_register::{register, Masks, RegistrationOptions, TransformType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let transform = match args.get(2).map(String::as_str) {
        Some("bspline") => TransformType::BSpline,
        Some("rigid") => TransformType::Rigid,
        Some("affine") => TransformType::Affine,
        _ => TransformType::Syn,
    };
    let p = Phantom::head(3, &HeadOptions::default()).expect("phantom");
    let grid = p.grid(size).expect("grid");
    let d = random_deformation(
        &grid,
        &DeformationOptions { magnitude_mm: 8.0, control_spacing_mm: p.fov_mm() / 5.0 },
        11,
    )
    .expect("deformation");
    let moving_p = p.warped(&d.inverse).expect("warp");
    let c = Contrast::for_modality(Modality::T1);
    let t0 = std::time::Instant::now();
    let fixed = p.render(&grid, &c, &RenderOptions::supersampled(2), 0).expect("render");
    let moving = moving_p.render(&grid, &c, &RenderOptions::supersampled(2), 0).expect("render");
    eprintln!("render {:.2} s", t0.elapsed().as_secs_f64());
    let [nx, ny, _] = grid.dims;
    let fp: Vec<[f64; 3]> = fixed
        .labels
        .data()
        .iter()
        .enumerate()
        .filter(|(o, &l)| l >= 21 && o % 97 == 0)
        .map(|(o, _)| {
            grid.geometry.index_to_world([(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64])
        })
        .collect();
    let mp: Vec<[f64; 3]> = fp.iter().map(|x| d.forward.transform_point(*x)).collect();
    let mut opts = RegistrationOptions { transform, ..Default::default() };
    if let Ok(w) = std::env::var("HF_BENDING") {
        opts.bspline.bending_weight = w.parse().expect("weight");
    }
    if std::env::var_os("HF_ASGD").is_some() {
        opts.optimizer = hounsfield_register::optimizer::OptimizerKind::AdaptiveStochastic;
        opts.sampling = hounsfield_register::parametric::Sampling::Random { count: 2048 };
    }
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = env("HF_STEP") {
        opts.diffeo.step_voxels = v;
    }
    if let Some(v) = env("HF_FLUID") {
        opts.diffeo.update_sigma_voxels = v;
    }
    if let Some(v) = env("HF_DIFF") {
        opts.diffeo.field_sigma_voxels = v;
    }
    if let Some(v) = env("HF_CONV") {
        opts.diffeo.convergence = v;
    }
    if let Some(v) = env("HF_RADIUS") {
        opts.metric_options.lncc_radius = v as usize;
    }
    if let Ok(v) = std::env::var("HF_DMETRIC") {
        use hounsfield_register::metric::MetricKind;
        opts.diffeo_metric = match v.as_str() {
            "mse" => MetricKind::MeanSquares,
            "ncc" => MetricKind::Correlation,
            "mi" => MetricKind::MattesMutualInformation,
            _ => MetricKind::LocalCorrelation,
        };
    }
    if let Ok(v) = std::env::var("HF_DITERS") {
        opts.diffeo.iterations = v.split(',').map(|x| x.parse().expect("iters")).collect();
    }
    if let Ok(w) = std::env::var("HF_ITERS") {
        opts.bspline.iterations = vec![w.parse().expect("iters")];
    }
    let t0 = std::time::Instant::now();
    let mut last = String::new();
    let r = register(&fixed.image, &moving.image, Masks::default(), &opts, &mut |pr| {
        let key = format!("{} level {}", pr.stage, pr.level);
        if key != last {
            eprintln!("  {key} ({:.2} s)", t0.elapsed().as_secs_f64());
            last = key;
        }
    })
    .expect("register");
    eprintln!("register {:.2} s", t0.elapsed().as_secs_f64());
    for s in &r.stages {
        for (l, lv) in s.levels.iter().enumerate() {
            eprintln!(
                "  {} level {l}: {} iterations, {:.3} s, cost {:.5}",
                s.name, lv.iterations, lv.seconds, lv.final_value
            );
        }
    }
    let q = assess(
        &r.transform,
        grid.dims,
        &grid.geometry,
        Some((&fp, &mp)),
        Some((&fixed.labels, &moving.labels)),
    )
    .expect("assess");
    let tre = q.tre.expect("tre");
    println!(
        "{:?} {size}³: TRE mean {:.3} max {:.3} mm (voxel {:.2}), Dice {:.4}, folding {:.4} %",
        transform, tre.mean, tre.max, grid.geometry.spacing[0], q.mean_dice, q.folding_percent
    );
}
