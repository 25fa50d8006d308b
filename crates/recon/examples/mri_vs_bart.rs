//! The Rust side of `bench/mri_vs_bart.py` (run that script: it makes the data with BART,
//! times BART's reconstructions and then runs this example in release on the same files):
//!
//! ```text
//! cargo run --release -p hounsfield-recon --example mri_vs_bart -- DIR [REPEATS]
//! ```
//!
//! DIR holds BART arrays: `ksp` (fully sampled k-space), `mask`, `uksp` (= ksp · mask),
//! `sens` (BART `ecalib -m 1` maps of `uksp`) and BART's reconstructions `bart_sense`,
//! `bart_l1`, `bart_tv` (`pics -S`). This example runs ESPIRiT, CG-SENSE and the two CS
//! reconstructions with BART's maps (each timed as the best of REPEATS runs, default 3),
//! scores every image against the fully sampled reference `Σ conj(S)·Fᴴ·ksp`, compares the
//! maps with BART's, and prints one JSON object.

use std::path::Path;
use std::time::Instant;

use hounsfield_io::cfl;
use hounsfield_recon::ct::no_callback;
use hounsfield_recon::mri::coils::{coil_images, combine};
use hounsfield_recon::mri::cs::{pics, PicsOptions, Regularizer};
use hounsfield_recon::mri::espirit::{espirit, EspiritOptions};
use hounsfield_recon::mri::sense::{cg_sense, CgOptions};
use hounsfield_recon::mri::{centred_geometry, CoilArray, Complex32, Mask};

fn load(dir: &Path, name: &str) -> CoilArray {
    let a = cfl::read(&dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
    let g = centred_geometry([a.dim(0), a.dim(1), a.dim(2)], 1.0);
    CoilArray::from_bart(&a.dims, a.data, g).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (out.unwrap_or_else(|| unreachable!()), best)
}

/// PSNR of magnitudes, peak = the reference's maximum magnitude.
fn psnr(img: &[Complex32], reference: &[Complex32]) -> f64 {
    let peak = reference.iter().map(|v| v.norm() as f64).fold(0.0, f64::max);
    let mse =
        img.iter().zip(reference).map(|(a, b)| (a.norm() as f64 - b.norm() as f64).powi(2)).sum::<f64>()
            / img.len() as f64;
    10.0 * (peak * peak / mse).log10()
}

/// NRMSE of maps against BART's over the pixels where BART's map is non-zero, after aligning
/// the phase of every pixel's coil vector to BART's (the eigenvector phase is arbitrary):
/// `e^{iφ}` with `φ = arg Σ_c conj(ours_c)·bart_c` minimises `‖bart − e^{iφ}·ours‖`.
fn maps_nrmse(ours: &CoilArray, bart: &CoilArray) -> (f64, usize) {
    let n = ours.grid_len();
    let c = ours.coils();
    let (mut err, mut tot, mut count) = (0.0f64, 0.0f64, 0usize);
    for p in 0..n {
        let b: Vec<Complex32> = (0..c).map(|i| bart.data()[i * n + p]).collect();
        if b.iter().all(|v| v.norm_sqr() == 0.0) {
            continue;
        }
        count += 1;
        let o: Vec<Complex32> = (0..c).map(|i| ours.data()[i * n + p]).collect();
        let ip: Complex32 = o.iter().zip(&b).map(|(o, b)| o.conj() * b).sum();
        let u = if ip.norm() > 0.0 { ip / ip.norm() } else { Complex32::new(1.0, 0.0) };
        for (o, b) in o.iter().zip(&b) {
            err += (b - o * u).norm_sqr() as f64;
            tot += b.norm_sqr() as f64;
        }
    }
    ((err / tot).sqrt(), count)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map(String::as_str).unwrap_or("."));
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let lambda: f32 = std::env::var("MRI_LAMBDA").ok().and_then(|s| s.parse().ok()).unwrap_or(0.01);
    let full = load(dir, "ksp");
    let uksp = load(dir, "uksp");
    let maps = load(dir, "sens");
    let m = cfl::read(&dir.join("mask")).unwrap_or_else(|e| panic!("{e}"));
    let mask = Mask::from_bart(&m.dims, &m.data).unwrap_or_else(|e| panic!("{e}"));
    let reference = combine(&coil_images(&full).expect("fft"), &maps).expect("combine");
    let r = reference.data();

    let ((ours_maps, _), t_espirit) =
        best_of(repeats, || (espirit(&uksp, &EspiritOptions::default()).expect("espirit"), ()));
    let (map_err, support) = maps_nrmse(&ours_maps.maps, &maps);

    let cg = CgOptions::default();
    let (sense, t_sense) =
        best_of(repeats, || cg_sense(&uksp, &maps, Some(&mask), &cg, &mut no_callback).expect("sense"));
    let l1 = PicsOptions { lambda, ..Default::default() };
    let (img_l1, t_l1) =
        best_of(repeats, || pics(&uksp, &maps, Some(&mask), &l1, &mut no_callback).expect("l1"));
    let tvo = PicsOptions { lambda, regularizer: Regularizer::Tv, ..Default::default() };
    let (img_tv, t_tv) =
        best_of(repeats, || pics(&uksp, &maps, Some(&mask), &tvo, &mut no_callback).expect("tv"));
    // Our ESPIRiT maps feed the same SENSE reconstruction: how much the map differences matter.
    let sense_own = cg_sense(&uksp, &ours_maps.maps, Some(&mask), &cg, &mut no_callback).expect("sense");

    let zf = combine(&coil_images(&uksp).expect("fft"), &maps).expect("combine");
    let bart = |name: &str| load(dir, name).into_vec();
    let out = format!(
        concat!(
            "{{\"size\": {:?}, \"coils\": {}, \"acceleration\": {:.3}, \"lambda\": {},\n",
            " \"zero_filled_psnr\": {:.3},\n",
            " \"espirit_s\": {:.4}, \"espirit_nrmse_vs_bart\": {:.5}, \"espirit_support_px\": {},\n",
            " \"sense_s\": {:.4}, \"sense_psnr\": {:.3}, \"bart_sense_psnr\": {:.3}, \"sense_own_maps_psnr\": {:.3},\n",
            " \"l1_s\": {:.4}, \"l1_psnr\": {:.3}, \"bart_l1_psnr\": {:.3},\n",
            " \"tv_s\": {:.4}, \"tv_psnr\": {:.3}, \"bart_tv_psnr\": {:.3}}}"
        ),
        uksp.grid_dims(),
        uksp.coils(),
        mask.acceleration(),
        lambda,
        psnr(zf.data(), r),
        t_espirit,
        map_err,
        support,
        t_sense,
        psnr(sense.data(), r),
        psnr(&bart("bart_sense"), r),
        psnr(sense_own.data(), r),
        t_l1,
        psnr(img_l1.data(), r),
        psnr(&bart("bart_l1"), r),
        t_tv,
        psnr(img_tv.data(), r),
        psnr(&bart("bart_tv"), r),
    );
    println!("{out}");
    let save = |name: &str, v: &[Complex32]| {
        let d: Vec<[f32; 2]> = v.iter().map(|c| [c.re, c.im]).collect();
        cfl::write(&dir.join(name), &[uksp.grid_dims()[0], uksp.grid_dims()[1]], &d).expect("write");
    };
    save("ours_sense", sense.data());
    save("ours_l1", img_l1.data());
    save("ours_tv", img_tv.data());
    let (d, v) = ours_maps.maps.to_bart();
    cfl::write(&dir.join("ours_sens"), &d, &v).expect("write");
}
