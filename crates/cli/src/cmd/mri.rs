//! MRI commands: `recon mri`, `simulate mri`, `mask`.
//!
//! ```text
//! hounsfield simulate mri --phantom head --coils 8 --mask poisson --acceleration 4 -o k.cfl
//!     # k.cfl/.hdr (undersampled k-space), k_mask, k_maps (true coils), k_truth.nii.gz, k.geometry.json
//! hounsfield recon mri --kspace k.cfl --estimate-sens --method cs-wavelet --lambda 0.01 -o img.nii.gz
//! hounsfield recon mri --kspace k.cfl --sens k_maps.cfl --method sense -o img.cfl   # complex BART image
//! hounsfield mask --kind poisson --size 256 --acceleration 4 -o mask.cfl            # or .png/.nii.gz
//! hounsfield mask --kind golden-angle --size 256 --spokes 64 -o traj.cfl            # BART trajectory
//! ```
//!
//! K-space and maps are BART `.cfl/.hdr` pairs (`x × y × z × coil`), so BART's tools read
//! and write them. The image grid a k-space array corresponds to travels beside it as
//! `<stem>.geometry.json` (origin, spacing, direction; LPS, mm); without it the grid is
//! centred on the origin with `--spacing` mm pixels. Images ending in `.cfl` are written as
//! complex BART arrays, anything else as a magnitude image (NIfTI etc.) on that grid.
//! Radial data (`simulate mri --trajectory radial|golden-angle`) use BART's layout
//! (`1 × samples × spokes × coil`, trajectory `3 × samples × spokes`).
//!
//! `recon mri --kspace file.h5` reads a fastMRI / ISMRMRD HDF5 file instead
//! (`kspace` of `slices × coils × rows × cols`, columns becoming x): one slice (`--slice N`,
//! default the middle one), the file's `mask` when no `--mask` is given, and pixel spacing
//! from the ISMRMRD header's encoded field of view over its matrix (else `--spacing`).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::ValueEnum;
use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::fastmri::{self, SliceSelection};
use hounsfield_io::{cfl, write_image, WriteOptions};
use hounsfield_phantom::shepp_logan::{shepp_logan, SheppLoganOptions};
use hounsfield_phantom::{Contrast, HeadOptions, Modality, Phantom, RenderOptions};
use hounsfield_recon::ct::IterationInfo;
use hounsfield_recon::mri::cs::{pics, PicsOptions, Regularizer};
use hounsfield_recon::mri::espirit::{espirit, EspiritOptions};
use hounsfield_recon::mri::grappa::{grappa_recon, GrappaOptions};
use hounsfield_recon::mri::nufft::{self, NufftOptions, RadialData};
use hounsfield_recon::mri::sampling::{self, PoissonOptions, RadialOrdering, Trajectory};
use hounsfield_recon::mri::sense::{cg_sense, zero_filled, CgOptions};
use hounsfield_recon::mri::simulate::{add_noise, simulate_kspace, KspaceNoise};
use hounsfield_recon::mri::{centred_geometry, coils, CoilArray, Complex32, Mask};

/// Reconstruction method.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum MriMethod {
    /// Inverse FFT of every coil, combined with the maps (or root-sum-of-squares); for radial
    /// data, density-compensated gridding.
    ZeroFilled,
    /// CG-SENSE (Cartesian or radial).
    Sense,
    /// GRAPPA (equispaced line masks), root-sum-of-squares or map-weighted combination.
    Grappa,
    /// Compressed sensing, l1-wavelet (FISTA) (default).
    #[default]
    CsWavelet,
    /// Compressed sensing, total variation (ADMM).
    CsTv,
}

/// How coil sensitivities are estimated from the data's calibration region.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum SensEstimate {
    /// ESPIRiT, BART `ecalib`'s defaults (default).
    #[default]
    Espirit,
    /// Walsh's adaptive combination.
    Walsh,
}

/// Arguments of `hounsfield recon mri`.
#[derive(clap::Args, Debug)]
pub struct ReconMriArgs {
    /// Multi-coil k-space (BART `.cfl`, `x × y × z × coil`; radial: `1 × samples × spokes × coil`;
    /// or a fastMRI / ISMRMRD HDF5 `.h5`).
    #[arg(long, short)]
    pub kspace: PathBuf,
    /// Slice of a fastMRI `.h5` file to reconstruct (0-based) [default: the middle slice].
    #[arg(long)]
    pub slice: Option<usize>,
    /// Sampling mask (`.cfl`) [default: the non-zero samples].
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Coil sensitivity maps (`.cfl`, same grid and coils as the k-space).
    #[arg(long, conflicts_with = "estimate_sens")]
    pub sens: Option<PathBuf>,
    /// Estimate the maps from the calibration region [default method: espirit]. Methods that
    /// need maps estimate them with ESPIRiT when neither --sens nor this is given.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "espirit")]
    pub estimate_sens: Option<SensEstimate>,
    /// Radial trajectory (`.cfl`, BART `3 × samples × spokes`) for non-Cartesian k-space.
    #[arg(long)]
    pub trajectory: Option<PathBuf>,
    /// Image size for radial data [default: samples per spoke / 2].
    #[arg(long)]
    pub size: Option<usize>,
    /// Method.
    #[arg(long, short, value_enum, default_value_t)]
    pub method: MriMethod,
    /// Regularisation weight on data scaled to unit image level [default: 0.01 for
    /// cs-wavelet and cs-tv; 0 (no Tikhonov term) for sense].
    #[arg(long)]
    pub lambda: Option<f32>,
    /// Iterations [default: 30].
    #[arg(long, default_value_t = 30)]
    pub iterations: usize,
    /// Pixel spacing in mm when no `<stem>.geometry.json` accompanies the k-space.
    #[arg(long, default_value_t = 1.0)]
    pub spacing: f64,
    /// Output image: `.cfl` (complex) or any image format (magnitude).
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Phantom to simulate.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum MriPhantomArg {
    /// The head phantom (axial slice), MR contrast (default).
    #[default]
    Head,
    /// The modified Shepp–Logan phantom (intensities as MR contrast).
    SheppLogan,
}

/// MR contrast of the head phantom.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum ContrastArg {
    /// T1-weighted spin echo (default).
    #[default]
    T1,
    /// T2-weighted spin echo.
    T2,
    /// Proton-density-weighted spin echo.
    Pd,
}

/// Cartesian mask kind.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum MaskKind {
    /// 2-D variable-density Poisson disc with a calibration square (default).
    #[default]
    Poisson,
    /// fastMRI random phase-encode lines with a fully sampled centre.
    RandomLines,
    /// Equispaced lines plus the centre (GRAPPA).
    Equispaced,
    /// Fully sampled.
    None,
    /// Radial spokes at uniform angles (a trajectory, not a mask).
    Radial,
    /// Radial spokes at golden-angle increments (a trajectory).
    GoldenAngle,
}

/// Arguments of `hounsfield simulate mri`.
#[derive(clap::Args, Debug)]
pub struct SimulateMriArgs {
    /// Phantom.
    #[arg(long, value_enum, default_value_t)]
    pub phantom: MriPhantomArg,
    /// Contrast (head).
    #[arg(long, value_enum, default_value_t)]
    pub contrast: ContrastArg,
    /// Pixels per side.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Height of the axial slice through the head, mm (LPS z).
    #[arg(long, default_value_t = 20.0)]
    pub slice_mm: f64,
    /// Simulated birdcage coils.
    #[arg(long, default_value_t = 8)]
    pub coils: usize,
    /// Sampling: a Cartesian mask, or radial / golden-angle spokes.
    #[arg(long, value_enum, default_value_t)]
    pub mask: MaskKind,
    /// Acceleration (Cartesian masks).
    #[arg(long, default_value_t = 4.0)]
    pub acceleration: f64,
    /// Calibration square (poisson) or centre fraction × size (lines).
    #[arg(long, default_value_t = 24)]
    pub calibration: usize,
    /// Spokes (radial).
    #[arg(long, default_value_t = 64)]
    pub spokes: usize,
    /// Noise: standard deviation per real/imaginary channel as a fraction of the peak signal.
    #[arg(long, default_value_t = 0.005)]
    pub noise: f64,
    /// Seed of the phantom, the mask and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output k-space (`.cfl`); companions `<stem>_mask`, `<stem>_maps`, `<stem>_traj`,
    /// `<stem>_truth.nii.gz` and `<stem>.geometry.json` are written beside it.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Arguments of `hounsfield mask`.
#[derive(clap::Args, Debug)]
pub struct MaskArgs {
    /// Pattern.
    #[arg(long, value_enum, default_value_t)]
    pub kind: MaskKind,
    /// Grid size along x (read-out); image size for radial trajectories.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Grid size along y [default: --size].
    #[arg(long)]
    pub size_y: Option<usize>,
    /// Acceleration (lattice spacing for equispaced, rounded).
    #[arg(long, default_value_t = 4.0)]
    pub acceleration: f64,
    /// Calibration square side (poisson) or number of central lines (random-lines, equispaced).
    #[arg(long, default_value_t = 24)]
    pub calibration: usize,
    /// Spokes (radial, golden-angle).
    #[arg(long, default_value_t = 64)]
    pub spokes: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output: `.cfl` (BART pattern or trajectory) or an image (`.png`, `.nii.gz`, …; masks only).
    #[arg(long, short)]
    pub output: PathBuf,
}

fn is_cfl(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".cfl") || s.ends_with(".hdr")
}

fn stem(p: &Path) -> String {
    let s = p.to_string_lossy().into_owned();
    for e in [".cfl", ".hdr", ".nii.gz", ".nii", ".nrrd", ".mha", ".png"] {
        if let Some(x) = s.strip_suffix(e) {
            return x.to_owned();
        }
    }
    s
}

fn read_cfl(p: &Path) -> anyhow::Result<cfl::CflArray> {
    cfl::read(p).with_context(|| format!("cannot read {}", p.display()))
}

fn write_cfl(p: &Path, dims: &[usize], data: &[[f32; 2]]) -> anyhow::Result<()> {
    cfl::write(p, dims, data).with_context(|| format!("cannot write {}", p.display()))
}

fn is_h5(p: &Path) -> bool {
    let s = p.to_string_lossy().to_ascii_lowercase();
    s.ends_with(".h5") || s.ends_with(".hdf5")
}

/// One slice of a fastMRI file as a coil array (`[cols, rows, 1, coils]`) and its mask
/// (the file's, over every row, when it has one).
fn read_fastmri(a: &ReconMriArgs) -> anyhow::Result<(CoilArray, Option<Mask>)> {
    let sel = a.slice.map_or(SliceSelection::Middle, SliceSelection::Index);
    let f = fastmri::read(&a.kspace, sel).with_context(|| format!("cannot read {}", a.kspace.display()))?;
    let dims = [f.cols, f.rows, 1];
    let mut geometry = read_geometry(&a.kspace, dims, a.spacing)?;
    if !geometry_path(&a.kspace).exists() {
        if let Some([sc, sr]) = f.header.as_ref().and_then(|h| h.pixel_spacing(f.rows, f.cols)) {
            let sz = f.header.as_ref().and_then(|h| h.slice_thickness()).unwrap_or(a.spacing);
            geometry.spacing = [sc, sr, sz];
            geometry.origin = [0, 1, 2].map(|i| -((dims[i] / 2) as f64) * geometry.spacing[i]);
        }
    }
    let data = f.data.into_iter().map(|[re, im]| Complex32::new(re, im)).collect();
    let k = CoilArray::from_vec([f.cols, f.rows, 1, f.coils], geometry, data)
        .with_context(|| format!("in {}", a.kspace.display()))?;
    let mask = match f.mask {
        Some(m) => {
            let w: Vec<f32> =
                (0..f.rows).flat_map(|_| m.iter().map(|&v| if v != 0.0 { 1.0 } else { 0.0 })).collect();
            Some(Mask::from_vec(dims, w).with_context(|| format!("mask in {}", a.kspace.display()))?)
        }
        None => None,
    };
    Ok((k, mask))
}

fn geometry_path(kspace: &Path) -> PathBuf {
    PathBuf::from(format!("{}.geometry.json", stem(kspace)))
}

fn read_geometry(kspace: &Path, dims: [usize; 3], spacing: f64) -> anyhow::Result<Geometry> {
    let p = geometry_path(kspace);
    if p.exists() {
        let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let g: Geometry =
            serde_json::from_str(&text).with_context(|| format!("invalid geometry in {}", p.display()))?;
        g.validate().with_context(|| format!("invalid geometry in {}", p.display()))?;
        return Ok(g);
    }
    if !(spacing.is_finite() && spacing > 0.0) {
        bail!("invalid --spacing {spacing}: must be a positive number of mm");
    }
    Ok(centred_geometry(dims, spacing))
}

fn write_geometry(kspace: &Path, g: &Geometry) -> anyhow::Result<PathBuf> {
    let p = geometry_path(kspace);
    let text = serde_json::to_string_pretty(g)?;
    hounsfield_io::atomic::write_bytes(&p, text.as_bytes())
        .with_context(|| format!("cannot write {}", p.display()))?;
    Ok(p)
}

fn save_image(path: &Path, img: &Volume<Complex32>, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    if is_cfl(path) {
        let d = img.dims();
        let data: Vec<[f32; 2]> = img.data().iter().map(|c| [c.re, c.im]).collect();
        write_cfl(path, &d, &data)?;
    } else {
        let mag = img.map(|c| c.norm());
        write_image(path, &AnyVolume::F32(mag), &WriteOptions::default())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    g.note(format!("wrote {}", path.display()));
    Ok(())
}

/// `hounsfield recon mri`.
pub fn recon_mri(a: ReconMriArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    if a.iterations == 0 || a.iterations > 100_000 {
        bail!("invalid --iterations {}: must be 1..=100000", a.iterations);
    }
    if let Some(l) = a.lambda {
        if !(l.is_finite() && l >= 0.0) {
            bail!("invalid --lambda {l}: must be a finite number ≥ 0");
        }
    }
    if a.slice.is_some() && !is_h5(&a.kspace) {
        bail!("--slice applies to fastMRI .h5 k-space only, got {}", a.kspace.display());
    }
    let (k, file_mask) = if is_h5(&a.kspace) {
        if a.trajectory.is_some() {
            bail!("--trajectory: fastMRI .h5 k-space is Cartesian");
        }
        read_fastmri(&a)?
    } else {
        let raw = read_cfl(&a.kspace)?;
        if let Some(t) = &a.trajectory {
            return recon_radial(&a, raw, t, g);
        }
        let dims = [raw.dim(0), raw.dim(1), raw.dim(2)];
        let geometry = read_geometry(&a.kspace, dims, a.spacing)?;
        let k = CoilArray::from_bart(&raw.dims, raw.data, geometry)
            .with_context(|| format!("in {}", a.kspace.display()))?;
        (k, None)
    };
    let geometry = *k.geometry();
    k.check_finite("k-space").with_context(|| format!("in {}", a.kspace.display()))?;
    let mask = match &a.mask {
        Some(p) => {
            let m = read_cfl(p)?;
            let m = Mask::from_bart(&m.dims, &m.data).with_context(|| format!("in {}", p.display()))?;
            m.require_grid(&k)
                .with_context(|| format!("mask {} and k-space {}", p.display(), a.kspace.display()))?;
            m
        }
        None => file_mask.unwrap_or_else(|| Mask::from_kspace(&k)),
    };
    let needs_maps = matches!(a.method, MriMethod::Sense | MriMethod::CsWavelet | MriMethod::CsTv);
    let maps = match (&a.sens, a.estimate_sens) {
        (Some(p), _) => {
            let m = read_cfl(p)?;
            let m = CoilArray::from_bart(&m.dims, m.data, geometry)
                .with_context(|| format!("in {}", p.display()))?;
            if m.dims() != k.dims() {
                bail!(
                    "sensitivity maps {} of {:?} do not match k-space {} of {:?} (x, y, z, coils)",
                    p.display(),
                    m.dims(),
                    a.kspace.display(),
                    k.dims()
                );
            }
            Some(m)
        }
        (None, Some(SensEstimate::Walsh)) => {
            let pb = g.spinner("estimating coil sensitivities (Walsh)");
            let m = coils::walsh(&k, &coils::WalshOptions::default())?;
            pb.finish_and_clear();
            Some(m)
        }
        (None, Some(SensEstimate::Espirit)) | (None, None) if needs_maps || a.estimate_sens.is_some() => {
            let pb = g.spinner("estimating coil sensitivities (ESPIRiT)");
            let e = espirit(&k, &EspiritOptions::default())?;
            pb.finish_and_clear();
            g.note(format!("ESPIRiT: calibration {:?}, {} kernels", e.calibration, e.kernels));
            Some(e.maps)
        }
        _ => None,
    };
    let pb = g.iteration_bar(a.iterations, &format!("{:?}", a.method).to_lowercase());
    let mut cb = |i: &IterationInfo| {
        pb.set_position(i.iteration as u64);
        pb.set_prefix(format!("{:.4e}", i.residual));
        ControlFlow::Continue(())
    };
    let img = match (a.method, &maps) {
        (MriMethod::ZeroFilled, m) => zero_filled(&k, m.as_ref())?,
        (MriMethod::Grappa, m) => grappa_recon(&k, Some(&mask), m.as_ref(), &GrappaOptions::default())?,
        (MriMethod::Sense, Some(m)) => {
            let o =
                CgOptions { iterations: a.iterations, lambda: a.lambda.unwrap_or(0.0), ..Default::default() };
            cg_sense(&k, m, Some(&mask), &o, &mut cb)?
        }
        (MriMethod::CsWavelet | MriMethod::CsTv, Some(m)) => {
            let regularizer =
                if a.method == MriMethod::CsTv { Regularizer::Tv } else { Regularizer::L1Wavelet };
            let lambda = a.lambda.unwrap_or(0.01);
            let o = PicsOptions { regularizer, lambda, iterations: a.iterations, ..Default::default() };
            pics(&k, m, Some(&mask), &o, &mut cb)?
        }
        _ => bail!("{:?} needs sensitivity maps", a.method),
    };
    pb.finish_and_clear();
    save_image(&a.output, &img, g)
}

fn recon_radial(
    a: &ReconMriArgs,
    raw: cfl::CflArray,
    traj: &Path,
    g: &crate::ui::GlobalArgs,
) -> anyhow::Result<()> {
    let t = read_cfl(traj)?;
    let samples = t.dim(1);
    let n = a.size.unwrap_or(samples / 2).max(2);
    let trajectory =
        Trajectory::from_bart(&t.dims, &t.data, [n, n]).with_context(|| format!("in {}", traj.display()))?;
    if raw.dim(0) != 1 || raw.dim(1) != trajectory.samples || raw.dim(2) != trajectory.spokes {
        bail!(
            "radial k-space {} of {:?} does not match trajectory {} ({} samples × {} spokes)",
            a.kspace.display(),
            &raw.dims[..raw.dims.len().min(4)],
            traj.display(),
            trajectory.samples,
            trajectory.spokes
        );
    }
    let coils = raw.dim(3);
    let data =
        RadialData { trajectory, coils, data: raw.data.iter().map(|&[r, i]| Complex32::new(r, i)).collect() };
    data.validate().with_context(|| format!("in {}", a.kspace.display()))?;
    let geometry = read_geometry(&a.kspace, [n, n, 1], a.spacing)?;
    let maps = match &a.sens {
        Some(p) => {
            let m = read_cfl(p)?;
            Some(
                CoilArray::from_bart(&m.dims, m.data, geometry)
                    .with_context(|| format!("in {}", p.display()))?,
            )
        }
        None => None,
    };
    let o = NufftOptions::default();
    let img = match (a.method, &maps) {
        (MriMethod::ZeroFilled, m) => nufft::gridding(&data, m.as_ref(), geometry, &o)?,
        (MriMethod::Sense, Some(m)) => {
            let pb = g.iteration_bar(a.iterations, "sense (radial)");
            let mut cb = |i: &IterationInfo| {
                pb.set_position(i.iteration as u64);
                pb.set_prefix(format!("{:.4e}", i.residual));
                ControlFlow::Continue(())
            };
            let r = nufft::cg_sense_radial(&data, m, a.iterations, &o, &mut cb)?;
            pb.finish_and_clear();
            r
        }
        (MriMethod::Sense, None) => bail!("radial sense needs --sens maps"),
        (m, _) => bail!("radial data support zero-filled (gridding) and sense, not {m:?}"),
    };
    save_image(&a.output, &img, g)
}

fn phantom_slice(a: &SimulateMriArgs) -> anyhow::Result<Volume<f32>> {
    let n = a.size;
    if !(16..=2048).contains(&n) {
        bail!("invalid --size {n}: must be 16..=2048");
    }
    match a.phantom {
        MriPhantomArg::SheppLogan => {
            let v = shepp_logan(&SheppLoganOptions { size: n, supersample: 2, ..Default::default() })?;
            Ok(v)
        }
        MriPhantomArg::Head => {
            if !a.slice_mm.is_finite() {
                bail!("invalid --slice-mm {}", a.slice_mm);
            }
            let p = Phantom::head(a.seed, &HeadOptions::default())?;
            let cube = p.grid(n)?;
            let mut geo = cube.geometry;
            geo.origin[2] = a.slice_mm;
            let grid = hounsfield_phantom::Grid::new([n, n, 1], geo);
            let modality = match a.contrast {
                ContrastArg::T1 => Modality::T1,
                ContrastArg::T2 => Modality::T2,
                ContrastArg::Pd => Modality::Pd,
            };
            let img =
                p.render(&grid, &Contrast::for_modality(modality), &RenderOptions::supersampled(2), a.seed)?;
            Ok(img.image)
        }
    }
}

/// `hounsfield simulate mri`.
pub fn simulate_mri(a: SimulateMriArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    if !is_cfl(&a.output) {
        bail!("the k-space output must be a BART .cfl, got {}", a.output.display());
    }
    let pb = g.spinner("rendering the phantom");
    let img = phantom_slice(&a)?;
    pb.finish_and_clear();
    let geometry = *img.geometry();
    let dims = img.dims();
    let maps = coils::birdcage(dims, a.coils, geometry)?;
    let s = stem(&a.output);
    let noise = KspaceNoise { sigma: a.noise, seed: a.seed };
    match a.mask {
        MaskKind::Radial | MaskKind::GoldenAngle => {
            let ordering = if a.mask == MaskKind::Radial {
                RadialOrdering::Uniform
            } else {
                RadialOrdering::GoldenAngle
            };
            let t = sampling::radial(dims[0], 2 * dims[0], a.spokes, ordering)?;
            let cimg = img.map(|&v| Complex32::new(v, 0.0));
            let mut d = nufft::simulate_radial(&cimg, &maps, &t, &NufftOptions::default())?;
            let peak = img.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
            add_noise(&mut d.data, a.noise * peak as f64, a.seed)?;
            let data: Vec<[f32; 2]> = d.data.iter().map(|c| [c.re, c.im]).collect();
            write_cfl(&a.output, &[1, t.samples, t.spokes, a.coils], &data)?;
            let (td, tv) = t.to_bart();
            write_cfl(Path::new(&format!("{s}_traj.cfl")), &td, &tv)?;
        }
        kind => {
            let mask = make_mask(kind, dims, a.acceleration, a.calibration, a.seed)?;
            let k = simulate_kspace(&img, &maps, Some(&mask), &noise)?;
            let (d, v) = k.to_bart();
            write_cfl(&a.output, &d, &v)?;
            let mv: Vec<[f32; 2]> = mask.data().iter().map(|&m| [m, 0.0]).collect();
            write_cfl(Path::new(&format!("{s}_mask.cfl")), &dims, &mv)?;
            g.note(format!("mask acceleration {:.2}", mask.acceleration()));
        }
    }
    let (d, v) = maps.to_bart();
    write_cfl(Path::new(&format!("{s}_maps.cfl")), &d, &v)?;
    let truth = PathBuf::from(format!("{s}_truth.nii.gz"));
    write_image(&truth, &AnyVolume::F32(img), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", truth.display()))?;
    let gp = write_geometry(&a.output, &geometry)?;
    g.note(format!(
        "wrote {} (+ _mask/_traj, _maps, {}, {})",
        a.output.display(),
        truth.display(),
        gp.display()
    ));
    Ok(())
}

fn make_mask(
    kind: MaskKind,
    dims: [usize; 3],
    acceleration: f64,
    calibration: usize,
    seed: u64,
) -> anyhow::Result<Mask> {
    let frac = calibration as f64 / dims[1] as f64;
    Ok(match kind {
        MaskKind::Poisson => sampling::poisson_disc(
            dims,
            &PoissonOptions { acceleration, calibration, ..Default::default() },
            seed,
        )?,
        MaskKind::RandomLines => sampling::random_lines(dims, acceleration, frac.min(1.0), seed)?,
        MaskKind::Equispaced => {
            let r = acceleration.round();
            if !(1.0..=32.0).contains(&r) {
                bail!("invalid --acceleration {acceleration}: equispaced needs 1..=32");
            }
            sampling::equispaced_lines(dims, r as usize, frac.min(1.0), seed)?
        }
        MaskKind::None => Mask::full(dims)?,
        MaskKind::Radial | MaskKind::GoldenAngle => bail!("radial patterns are trajectories, not masks"),
    })
}

/// `hounsfield mask`.
pub fn mask(a: MaskArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let nx = a.size;
    let ny = a.size_y.unwrap_or(a.size);
    if !(2..=16384).contains(&nx) || !(2..=16384).contains(&ny) {
        bail!("invalid size {nx} × {ny}: each side must be 2..=16384");
    }
    match a.kind {
        MaskKind::Radial | MaskKind::GoldenAngle => {
            if !is_cfl(&a.output) {
                bail!("a trajectory is written as a BART .cfl, got {}", a.output.display());
            }
            let ordering = if a.kind == MaskKind::Radial {
                RadialOrdering::Uniform
            } else {
                RadialOrdering::GoldenAngle
            };
            let t = sampling::radial(nx, 2 * nx, a.spokes, ordering)?;
            let (d, v) = t.to_bart();
            write_cfl(&a.output, &d, &v)?;
        }
        kind => {
            let dims = [nx, ny, 1];
            let m = make_mask(kind, dims, a.acceleration, a.calibration, a.seed)?;
            if is_cfl(&a.output) {
                let v: Vec<[f32; 2]> = m.data().iter().map(|&x| [x, 0.0]).collect();
                write_cfl(&a.output, &dims, &v)?;
            } else {
                let v = m.to_volume(centred_geometry(dims, 1.0))?;
                let v: Volume<u8> = v.map(|&x| if x > 0.0 { 255 } else { 0 });
                write_image(&a.output, &AnyVolume::U8(v), &WriteOptions::default())
                    .with_context(|| format!("cannot write {}", a.output.display()))?;
            }
            g.note(format!("acceleration {:.2}", m.acceleration()));
        }
    }
    g.note(format!("wrote {}", a.output.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> crate::ui::GlobalArgs {
        crate::ui::GlobalArgs { quiet: true, memory_cap: "8GiB".into() }
    }

    fn recon(k: &Path, method: MriMethod, out: &Path) -> ReconMriArgs {
        ReconMriArgs {
            kspace: k.into(),
            slice: None,
            mask: None,
            sens: None,
            estimate_sens: None,
            trajectory: None,
            size: None,
            method,
            lambda: None,
            iterations: 10,
            spacing: 1.0,
            output: out.into(),
        }
    }

    #[test]
    fn simulate_then_reconstruct_keeps_the_grid() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k.cfl");
        let sim = SimulateMriArgs {
            phantom: MriPhantomArg::SheppLogan,
            contrast: ContrastArg::T1,
            size: 48,
            slice_mm: 20.0,
            coils: 4,
            mask: MaskKind::Poisson,
            acceleration: 2.0,
            calibration: 16,
            spokes: 16,
            noise: 0.0,
            seed: 1,
            output: k.clone(),
        };
        simulate_mri(sim, &quiet()).unwrap();
        for m in ["k_mask.cfl", "k_maps.cfl", "k_truth.nii.gz", "k.geometry.json"] {
            assert!(dir.path().join(m).exists(), "{m}");
        }
        let out = dir.path().join("x.nii.gz");
        recon_mri(recon(&k, MriMethod::CsWavelet, &out), &quiet()).unwrap();
        let truth =
            hounsfield_io::read_image(&dir.path().join("k_truth.nii.gz"), &Default::default()).unwrap();
        let img = hounsfield_io::read_image(&out, &Default::default()).unwrap();
        // The image lands on the phantom's grid (geometry written beside the k-space).
        assert!(img.volume.geometry().approx_eq(truth.volume.geometry(), 1e-6));
        let cfl_out = dir.path().join("x.cfl");
        recon_mri(recon(&k, MriMethod::ZeroFilled, &cfl_out), &quiet()).unwrap();
        assert_eq!(cfl::read(&cfl_out).unwrap().dims16()[..4], [48, 48, 1, 1]);
    }

    #[test]
    fn mismatched_inputs_are_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k.cfl");
        cfl::write(&k, &[8, 8, 1, 2], &vec![[1.0, 0.0]; 128]).unwrap();
        cfl::write(&dir.path().join("m.cfl"), &[8, 4, 1], &vec![[1.0, 0.0]; 32]).unwrap();
        let out = dir.path().join("x.nii.gz");
        let mut a = recon(&k, MriMethod::ZeroFilled, &out);
        a.mask = Some(dir.path().join("m.cfl"));
        let e = recon_mri(a, &quiet()).unwrap_err();
        assert!(format!("{e:#}").contains("grid mismatch"), "{e:#}");
        std::fs::write(dir.path().join("k.hdr"), "# Dimensions\n8 8 1 3\n").unwrap();
        let e = recon_mri(recon(&k, MriMethod::ZeroFilled, &out), &quiet()).unwrap_err();
        assert!(format!("{e:#}").contains("the header declares"), "{e:#}");
        assert!(!out.exists());
        let m = MaskArgs {
            kind: MaskKind::Radial,
            size: 32,
            size_y: None,
            acceleration: 4.0,
            calibration: 8,
            spokes: 8,
            seed: 0,
            output: dir.path().join("t.png"),
        };
        assert!(mask(m, &quiet()).is_err());
    }
}
