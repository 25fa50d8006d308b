//! `simulate us`, `recon us` and `eval ultrasound`: channel data from speckle phantoms,
//! delay-and-sum B-mode images, PICMUS image-quality metrics.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use hounsfield_core::{AnyVolume, Volume};
use hounsfield_io::{write_image, WriteOptions};
use hounsfield_metrics::ultrasound::{contrast, fwhm, Scale};
use hounsfield_recon::us::{
    beamform, channel_volume, image_volume, log_compress, simulate, time_gain_compensate, Acquisition,
    Apodization, BeamformOptions, ImageGrid, Method, PhantomKind, Probe, SimulateOptions, UsPhantom,
};

/// Built-in phantom.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhantomArg {
    /// Speckle with two anechoic cysts and two +6 dB inclusions (contrast).
    Cysts,
    /// Point targets in an echo-free medium (resolution).
    Points,
}

/// `hounsfield simulate us`.
#[derive(clap::Args, Debug)]
pub struct SimulateUsArgs {
    /// Phantom.
    #[arg(long, value_enum, default_value_t = PhantomArg::Cysts)]
    pub phantom: PhantomArg,
    /// Probe description (TOML); `L11-4v` (or a missing `L11-4v.toml`) is the built-in
    /// PICMUS-like linear array.
    #[arg(long, default_value = "L11-4v")]
    pub probe: PathBuf,
    /// Plane waves, spread evenly over ±--max-angle-deg (1: a single 0° wave).
    #[arg(long, default_value_t = 11)]
    pub angles: usize,
    /// Largest steering angle, degrees.
    #[arg(long, default_value_t = 16.0)]
    pub max_angle_deg: f64,
    /// Scatterers per mm² of speckle-generating tissue.
    #[arg(long, default_value_t = 50.0)]
    pub density: f64,
    /// Samples per trace [default: enough for the deepest scatterer].
    #[arg(long)]
    pub samples: Option<usize>,
    /// Attenuation, dB/cm/MHz.
    #[arg(long, default_value_t = 0.5)]
    pub attenuation: f64,
    /// Channel-data SNR, dB relative to the echoes' RMS.
    #[arg(long, default_value_t = 40.0)]
    pub snr_db: f64,
    /// No noise.
    #[arg(long)]
    pub no_noise: bool,
    /// Seed of the scatterers and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Channel data `[samples, elements, transmissions]` (NIfTI); the probe with the
    /// acquisition goes beside it as `<stem>.probe.toml`.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Also write the phantom's label map (x lateral, y depth, mm; 1 tissue, 2 cyst, 3 inclusion).
    #[arg(long)]
    pub labels: Option<PathBuf>,
}

/// Beamformer.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// Delay and sum.
    Das,
    /// Delay and sum weighted by the coherence factor.
    DasCf,
}

/// Receive apodization.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApodizationArg {
    /// Hann window.
    Hann,
    /// Uniform.
    Boxcar,
    /// Tukey window (taper --tukey-alpha).
    Tukey,
}

/// `hounsfield recon us`.
#[derive(clap::Args, Debug)]
pub struct ReconUsArgs {
    /// Channel data `[samples, elements, transmissions]` (NIfTI or any volume format).
    #[arg(long)]
    pub rf: PathBuf,
    /// Probe with its `[acquisition]` (default: `<rf stem>.probe.toml`).
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// Beamformer.
    #[arg(long, value_enum, default_value_t = MethodArg::Das)]
    pub method: MethodArg,
    /// Receive apodization.
    #[arg(long, value_enum, default_value_t = ApodizationArg::Hann)]
    pub apodization: ApodizationArg,
    /// Taper of the Tukey window (0 = boxcar, 1 = Hann).
    #[arg(long, default_value_t = 0.5)]
    pub tukey_alpha: f64,
    /// Receive f-number (dynamic aperture z/F).
    #[arg(long, default_value_t = 1.5)]
    pub f_number: f64,
    /// Dynamic range of the log-compressed image, dB.
    #[arg(long, default_value_t = 60.0)]
    pub dynamic_range: f64,
    /// Time-gain compensation for this attenuation, dB/cm/MHz (0 = none; soft tissue ≈ 0.5).
    #[arg(long, default_value_t = 0.0)]
    pub tgc: f64,
    /// Lateral extent `min,max` in mm [default: the probe's width].
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    pub x_mm: Option<[f64; 2]>,
    /// Depth extent `min,max` in mm [default: 5 mm to the data's reach].
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    pub z_mm: Option<[f64; 2]>,
    /// Pixel size, mm (or give --pixels).
    #[arg(long, default_value_t = 0.1)]
    pub pixel_mm: f64,
    /// Image size `columns,rows` instead of --pixel-mm.
    #[arg(long, value_parser = parse_usize_pair)]
    pub pixels: Option<[usize; 2]>,
    /// Compound only these transmissions (indices, e.g. `5` or `0,5,10`) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub transmits: Option<Vec<usize>>,
    /// Write the linear envelope instead of the log-compressed B-mode image.
    #[arg(long)]
    pub envelope: bool,
    /// Print timing and the grid as JSON.
    #[arg(long)]
    pub json: bool,
    /// Output image (x lateral, y depth, mm).
    #[arg(long, short)]
    pub output: PathBuf,
}

/// `hounsfield despeckle`.
#[derive(clap::Args, Debug)]
pub struct DespeckleArgs {
    /// B-mode image (dB, as `recon us` writes it) or, with --linear, an envelope.
    #[arg(long)]
    pub input: PathBuf,
    /// Pixel values are a linear envelope (default: dB).
    #[arg(long)]
    pub linear: bool,
    /// Iterations of speckle-reducing anisotropic diffusion (SRAD, Yu & Acton 2002).
    #[arg(long, default_value_t = 50)]
    pub iterations: usize,
    /// Time step λ, in (0, 1].
    #[arg(long, default_value_t = 0.5)]
    pub lambda: f64,
    /// Output, in the input's scale.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// `hounsfield despeckle`.
pub fn despeckle(a: DespeckleArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    use hounsfield_imgproc::speckle::{srad, SradOptions};
    let img: Volume<f32> = super::load(&a.input, None, g)?.volume.into_f32();
    let env = if a.linear { img } else { img.map(|&v| 10f32.powf(v / 20.0)) };
    let pb = g.spinner(format!("SRAD, {} iterations", a.iterations));
    let out = srad(&env, &SradOptions { iterations: a.iterations, lambda: a.lambda, ..Default::default() })?;
    pb.finish_and_clear();
    let out = if a.linear { out } else { out.map(|&v| 20.0 * v.log10()) };
    write_image(&a.output, &AnyVolume::F32(out), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    g.note(format!("wrote {}", a.output.display()));
    Ok(())
}

/// `hounsfield eval ultrasound`.
#[derive(clap::Args, Debug)]
pub struct EvalUsArgs {
    /// B-mode image (x lateral, y depth, mm).
    #[arg(long)]
    pub image: PathBuf,
    /// Pixel values are a linear envelope (default: dB).
    #[arg(long)]
    pub linear: bool,
    /// Point target `x,z` in mm (repeatable): FWHM within 1 mm of it.
    #[arg(long = "point", value_parser = parse_pair, allow_hyphen_values = true)]
    pub points: Vec<[f64; 2]>,
    /// Cyst or inclusion `x,z,r` in mm (repeatable): contrast of the disc of radius 0.75 r
    /// against the annulus 1.25 r to 1.6 r.
    #[arg(long = "cyst", value_parser = parse_triple, allow_hyphen_values = true)]
    pub cysts: Vec<[f64; 3]>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `N` comma-separated values of type `T`.
fn parse_list<T: std::str::FromStr, const N: usize>(s: &str) -> Result<[T; N], String>
where
    T::Err: std::fmt::Display,
{
    let v: Vec<T> = s
        .split(',')
        .map(|x| x.trim().parse::<T>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("`{s}`: {e}"))?;
    v.try_into().map_err(|_| format!("`{s}` is not {N} comma-separated values"))
}

fn parse_pair(s: &str) -> Result<[f64; 2], String> {
    parse_list(s)
}

fn parse_triple(s: &str) -> Result<[f64; 3], String> {
    parse_list(s)
}

fn parse_usize_pair(s: &str) -> Result<[usize; 2], String> {
    parse_list(s)
}

fn probe_path_for(rf: &Path) -> PathBuf {
    let s = rf.to_string_lossy();
    let stem = [".nii.gz", ".nii", ".nrrd", ".mha"].iter().find_map(|e| s.strip_suffix(e)).unwrap_or(&s);
    PathBuf::from(format!("{stem}.probe.toml"))
}

fn read_probe(p: &Path) -> anyhow::Result<Probe> {
    if !p.exists() {
        let stem = p.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if stem == "l11-4v" || stem == "l11-4v.toml" {
            return Ok(Probe::l11_4v());
        }
    }
    let text = std::fs::read_to_string(p).with_context(|| format!("cannot read probe {}", p.display()))?;
    Probe::from_toml_str(&text).with_context(|| format!("probe {}", p.display()))
}

/// `hounsfield simulate us`.
pub fn simulate_us(a: SimulateUsArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let mut probe = read_probe(&a.probe)?;
    if a.angles == 0 || a.angles > 1024 {
        bail!("--angles must be 1 to 1024, got {}", a.angles);
    }
    if !(a.max_angle_deg.is_finite() && (0.0..60.0).contains(&a.max_angle_deg)) {
        bail!("--max-angle-deg must be in [0, 60), got {}", a.max_angle_deg);
    }
    probe.acquisition = Some(Acquisition {
        start_time_s: 0.0,
        angles_deg: Probe::plane_wave_angles_deg(a.angles, a.max_angle_deg),
        foci_mm: Vec::new(),
    });
    let kind = match a.phantom {
        PhantomArg::Cysts => PhantomKind::Cysts,
        PhantomArg::Points => PhantomKind::Points,
    };
    let phantom = UsPhantom::builtin(kind)?;
    let scat = phantom.scatterers(a.density, a.seed)?;
    let opts = SimulateOptions {
        samples: a.samples,
        attenuation_db_cm_mhz: a.attenuation,
        snr_db: (!a.no_noise).then_some(a.snr_db),
        seed: a.seed,
    };
    let pb = g.spinner(format!("simulating {} transmissions from {} scatterers", a.angles, scat.len()));
    let start = Instant::now();
    let (rf, dims) = simulate(&probe, &probe.transmits(), &scat, &opts)?;
    pb.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let vol = channel_volume(&probe, rf, dims)?;
    write_image(&a.output, &AnyVolume::F32(vol), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    let pp = probe_path_for(&a.output);
    hounsfield_io::atomic::write_bytes(&pp, probe.to_toml_string().as_bytes())
        .with_context(|| format!("cannot write {}", pp.display()))?;
    if let Some(l) = &a.labels {
        write_image(l, &AnyVolume::from(phantom.labels.clone()), &WriteOptions::default())
            .with_context(|| format!("cannot write {}", l.display()))?;
    }
    g.note(format!(
        "wrote {} ({} samples × {} elements × {} transmissions, {} scatterers, {secs:.2} s) and {}",
        a.output.display(),
        dims[0],
        dims[1],
        dims[2],
        scat.len(),
        pp.display()
    ));
    Ok(())
}

/// `hounsfield recon us`.
pub fn recon_us(a: ReconUsArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let pp = a.probe.clone().unwrap_or_else(|| probe_path_for(&a.rf));
    let probe = read_probe(&pp)?;
    let rf: Volume<f32> = super::load(&a.rf, None, g)?.volume.into_f32();
    let dims = rf.dims();
    let c = probe.c_mm_us();
    let reach = ((dims[0].saturating_sub(1)) as f64 / probe.fs_mhz() + probe.start_time_us()) * c / 2.0;
    let half_w = probe.element_x(probe.elements - 1);
    let x = a.x_mm.unwrap_or([-half_w, half_w]);
    let z = a.z_mm.unwrap_or([5.0, (reach - 1.0).max(5.5)]);
    let (nx, nz) = match a.pixels {
        Some([nx, nz]) => (nx, nz),
        None => {
            if !(a.pixel_mm.is_finite() && a.pixel_mm > 0.0) {
                bail!("--pixel-mm must be positive, got {}", a.pixel_mm);
            }
            (
                ((x[1] - x[0]) / a.pixel_mm).round() as usize + 1,
                ((z[1] - z[0]) / a.pixel_mm).round() as usize + 1,
            )
        }
    };
    let grid = ImageGrid::spanning(x, z, nx, nz)?;
    let options = BeamformOptions {
        f_number: a.f_number,
        apodization: match a.apodization {
            ApodizationArg::Hann => Apodization::Hann,
            ApodizationArg::Boxcar => Apodization::Boxcar,
            ApodizationArg::Tukey => Apodization::Tukey(a.tukey_alpha),
        },
        method: match a.method {
            MethodArg::Das => Method::Das,
            MethodArg::DasCf => Method::DasCoherenceFactor,
        },
        transmits: a.transmits.clone(),
    };
    let pb = g.spinner(format!("beamforming {nx} × {nz} pixels from {} transmissions", dims[2]));
    let start = Instant::now();
    let b = beamform(rf.data(), dims, &probe, &grid, &options)?;
    let secs = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let mut env = b.envelope();
    if a.tgc != 0.0 {
        time_gain_compensate(&mut env, &grid, &probe, a.tgc)?;
    }
    let img = if a.envelope { env } else { log_compress(&env, a.dynamic_range)? };
    write_image(&a.output, &AnyVolume::F32(image_volume(&grid, img)?), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "seconds": secs,
                "pixels": [nx, nz],
                "x_mm": x,
                "z_mm": z,
                "transmissions": a.transmits.as_ref().map_or(dims[2], |t| t.len()),
                "elements": dims[1],
                "samples": dims[0],
            }))?
        );
    }
    g.note(format!("wrote {} ({nx} × {nz} pixels, beamformed in {secs:.2} s)", a.output.display()));
    Ok(())
}

/// `hounsfield eval ultrasound`.
pub fn eval_us(a: EvalUsArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let img: Volume<f32> = super::load(&a.image, None, g)?.volume.into_f32();
    let scale = if a.linear { Scale::Linear } else { Scale::Decibel };
    if a.points.is_empty() && a.cysts.is_empty() {
        bail!("give at least one --point x,z or --cyst x,z,r");
    }
    let mut points = Vec::new();
    for &p in &a.points {
        let f = fwhm(&img, scale, p, 1.0).with_context(|| format!("point {},{}", p[0], p[1]))?;
        points.push(serde_json::json!({ "target_mm": p, "peak_mm": f.peak_mm, "lateral_fwhm_mm": f.lateral_mm, "axial_fwhm_mm": f.axial_mm }));
    }
    let mut cysts = Vec::new();
    for &[x, z, r] in &a.cysts {
        let c = contrast(&img, scale, [x, z], 0.75 * r, (1.25 * r, 1.6 * r))
            .with_context(|| format!("cyst {x},{z},{r}"))?;
        cysts
            .push(serde_json::json!({ "centre_mm": [x, z], "radius_mm": r, "cr_db": c.cr_db, "cnr": c.cnr }));
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "points": points, "cysts": cysts }))?
        );
    } else {
        let num = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
        for p in &points {
            println!(
                "point ({}, {}) mm: lateral FWHM {:.3} mm, axial FWHM {:.3} mm",
                num(&p["target_mm"][0]),
                num(&p["target_mm"][1]),
                num(&p["lateral_fwhm_mm"]),
                num(&p["axial_fwhm_mm"])
            );
        }
        for c in &cysts {
            println!(
                "cyst ({}, {}) mm, radius {} mm: CR {:.2} dB, CNR {:.3}",
                num(&c["centre_mm"][0]),
                num(&c["centre_mm"][1]),
                num(&c["radius_mm"]),
                num(&c["cr_db"]),
                num(&c["cnr"])
            );
        }
    }
    Ok(())
}
