//! CT, X-ray and PET commands: `project`, `recon ct`, `recon pet`, `drr`, `simulate ct`,
//! `simulate pet`.
//!
//! ```text
//! hounsfield simulate ct --phantom shepp-logan --views 360 --dose 1e4 -o sino.nii.gz   # + sino.toml
//! hounsfield recon ct --sinogram sino.nii.gz --method tv --iterations 200 -o rec.nii.gz
//! hounsfield project --input vol.nii.gz --geometry geom.toml -o sino.nii.gz
//! hounsfield drr ct.nii.gz --geometry cone.toml -o xray.png
//! hounsfield simulate pet --phantom torso --counts 1e6 -o counts.nii.gz                # + counts.toml, counts_mu.nii.gz
//! hounsfield recon pet --counts counts.nii.gz --mu counts_mu.nii.gz --method osem -o pet.nii.gz
//! ```
//!
//! A sinogram travels with its geometry file: commands that write one write the geometry
//! TOML beside it (`sino.nii.gz` → `sino.toml`), and commands that read one look there when
//! `--geometry` is not given.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::ValueEnum;
use hounsfield_core::{AnyVolume, Geometry, Volume};
use hounsfield_io::{write_image, WriteOptions};
use hounsfield_phantom::shepp_logan::{shepp_logan, SheppLoganOptions, SheppLoganVariant};
use hounsfield_phantom::{Contrast, Label, Modality, Phantom, RenderOptions, TorsoOptions};
use hounsfield_recon::ct::{
    self, Dose, DrrOptions, DrrOutput, FbpOptions, Filter, GeometrySpec, IterationInfo, IterativeOptions,
    JosephProjector, Projector, ScanGeometry, SimulateOptions, TvOptions, VolumeGrid,
};
use hounsfield_recon::pet;

/// Ramp filter window.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum FilterArg {
    /// Plain ramp (sharpest).
    #[default]
    RamLak,
    /// Ramp × sinc.
    SheppLogan,
    /// Ramp × cosine.
    Cosine,
    /// Ramp × Hamming.
    Hamming,
    /// Ramp × Hann (smoothest; low dose).
    Hann,
}

impl From<FilterArg> for Filter {
    fn from(f: FilterArg) -> Filter {
        match f {
            FilterArg::RamLak => Filter::RamLak,
            FilterArg::SheppLogan => Filter::SheppLogan,
            FilterArg::Cosine => Filter::Cosine,
            FilterArg::Hamming => Filter::Hamming,
            FilterArg::Hann => Filter::Hann,
        }
    }
}

/// What a volume handed to `project` holds.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum UnitsArg {
    /// Values are integrated as they are (e.g. μ in mm⁻¹).
    #[default]
    AsIs,
    /// Hounsfield units, converted to μ at 70 keV first.
    Hu,
}

/// Reconstruction grid options shared by `recon ct` and `recon pet`.
#[derive(clap::Args, Debug, Clone)]
pub struct GridArgs {
    /// Pixels per side of the reconstruction [default: the detector column count].
    #[arg(long)]
    pub size: Option<usize>,
    /// Pixel size in mm [default: the detector pitch at the isocentre].
    #[arg(long)]
    pub spacing: Option<f64>,
    /// Slices (3-D geometries) [default: the detector row count].
    #[arg(long)]
    pub slices: Option<usize>,
}

/// Arguments of `hounsfield project`.
#[derive(clap::Args, Debug)]
pub struct ProjectArgs {
    /// Volume to project (any readable format).
    #[arg(long, short)]
    pub input: PathBuf,
    /// Scan geometry TOML. Without `isocentre_mm` the rotation axis goes through the
    /// volume's centre voxel (written into the output's geometry file).
    #[arg(long, short)]
    pub geometry: PathBuf,
    /// What the volume holds.
    #[arg(long, value_enum, default_value_t)]
    pub units: UnitsArg,
    /// Output sinogram (NIfTI etc.); its geometry TOML is written beside it.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// CT reconstruction method.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum CtMethod {
    /// Filtered back-projection (parallel and fan beams).
    #[default]
    Fbp,
    /// Feldkamp-Davis-Kress (cone beams).
    Fdk,
    /// Simultaneous iterative reconstruction.
    Sirt,
    /// (OS-)SART: one view (or one subset) at a time.
    Sart,
    /// Conjugate gradients least squares.
    Cgls,
    /// Total-variation regularised (Chambolle-Pock), for sparse-view and low-dose data.
    Tv,
}

/// Arguments of `hounsfield recon ct`.
#[derive(clap::Args, Debug)]
pub struct ReconCtArgs {
    /// Sinogram (columns × views [× rows] of line integrals).
    #[arg(long, short)]
    pub sinogram: PathBuf,
    /// Scan geometry TOML [default: the .toml beside the sinogram].
    #[arg(long, short)]
    pub geometry: Option<PathBuf>,
    /// Method.
    #[arg(long, short, value_enum, default_value_t)]
    pub method: CtMethod,
    /// Ramp filter (FBP, FDK).
    #[arg(long, value_enum, default_value_t)]
    pub filter: FilterArg,
    /// Iterations (iterative methods) [default: 20; 200 for tv].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Subsets of views for sart (0 = one view per subset).
    #[arg(long, default_value_t = 0)]
    pub subsets: usize,
    /// TV weight in image units (tv).
    #[arg(long, default_value_t = 0.01)]
    pub tv_weight: f32,
    #[command(flatten)]
    pub grid: GridArgs,
    /// Write Hounsfield units (μ at 70 keV → HU) instead of μ (mm⁻¹).
    #[arg(long)]
    pub hu: bool,
    /// Output image.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// PET reconstruction method.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum PetMethod {
    /// Maximum-likelihood expectation maximisation.
    Mlem,
    /// Ordered subsets EM.
    #[default]
    Osem,
}

/// Arguments of `hounsfield recon pet`.
#[derive(clap::Args, Debug)]
pub struct ReconPetArgs {
    /// Counts sinogram.
    #[arg(long, short)]
    pub counts: PathBuf,
    /// Scan geometry TOML [default: the .toml beside the counts].
    #[arg(long, short)]
    pub geometry: Option<PathBuf>,
    /// Attenuation map at 511 keV (μ in mm⁻¹) for attenuation correction; the image is
    /// reconstructed on its grid.
    #[arg(long)]
    pub mu: Option<PathBuf>,
    /// Method.
    #[arg(long, short, value_enum, default_value_t)]
    pub method: PetMethod,
    /// Iterations.
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Subsets (osem).
    #[arg(long, default_value_t = 8)]
    pub subsets: usize,
    #[command(flatten)]
    pub grid: GridArgs,
    /// Output image.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Arguments of `hounsfield drr`.
#[derive(clap::Args, Debug)]
pub struct DrrArgs {
    /// CT volume in HU.
    pub input: PathBuf,
    /// Cone-beam geometry TOML. Without `isocentre_mm` the volume's centre is used.
    #[arg(long, short)]
    pub geometry: PathBuf,
    /// Which view of the geometry.
    #[arg(long, default_value_t = 0)]
    pub view: usize,
    /// Pixels show the transmitted fraction e^(−∫μ) instead of the line integral.
    #[arg(long)]
    pub transmission: bool,
    /// Output: PNG (display) or NIfTI etc. (values and detector geometry), by extension.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Phantoms `simulate` can scan.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum PhantomArg {
    /// Modified Shepp-Logan head (HU variant for CT).
    #[default]
    SheppLogan,
    /// Anatomical torso (CT contrast; tissue-dependent activity for PET).
    Torso,
}

/// Beam kind for a geometry `simulate` makes up.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum KindArg {
    /// Parallel beam over 180°.
    #[default]
    Parallel,
    /// Fan beam (flat detector) over 360°.
    Fan,
    /// Cone beam over 360° (3-D phantom).
    Cone,
}

/// Arguments of `hounsfield simulate ct`.
#[derive(clap::Args, Debug)]
pub struct SimulateCtArgs {
    /// Phantom to scan (ignored with --input).
    #[arg(long, value_enum, default_value_t)]
    pub phantom: PhantomArg,
    /// Scan this CT volume (HU) instead of a phantom.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Phantom size in pixels per side.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Geometry TOML [default: made up from --kind and --views to cover the object].
    #[arg(long, short)]
    pub geometry: Option<PathBuf>,
    /// Beam kind of the made-up geometry.
    #[arg(long, value_enum, default_value_t)]
    pub kind: KindArg,
    /// Views of the made-up geometry.
    #[arg(long, default_value_t = 360)]
    pub views: usize,
    /// Photons per ray (omit for noiseless data), e.g. 1e4 for low dose.
    #[arg(long)]
    pub dose: Option<f64>,
    /// Noise seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the scanned image (HU) here.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Output sinogram; its geometry TOML is written beside it.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Arguments of `hounsfield simulate pet`.
#[derive(clap::Args, Debug)]
pub struct SimulatePetArgs {
    /// Phantom (activity: Shepp-Logan intensities, or per tissue for the torso).
    #[arg(long, value_enum, default_value_t)]
    pub phantom: PhantomArg,
    /// Pixels per side.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Views over 180°.
    #[arg(long, default_value_t = 180)]
    pub views: usize,
    /// Expected total counts.
    #[arg(long, default_value_t = 1e6)]
    pub counts: f64,
    /// Noise seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output counts sinogram; `<stem>.toml`, `<stem>_mu.nii.gz` (attenuation map) and
    /// `<stem>_activity.nii.gz` (truth) are written beside it.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// `x.nii.gz` → `x.toml` (and the stem `x` for companions).
fn stem_of(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = [".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".png"]
        .iter()
        .find_map(|e| name.strip_suffix(e))
        .map(str::to_owned)
        .unwrap_or(name);
    path.with_file_name(stem)
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let s = stem_of(path);
    let mut n = s.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    n.push(suffix);
    s.with_file_name(n)
}

fn read_geometry(path: &Path) -> anyhow::Result<ScanGeometry> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    ScanGeometry::from_toml_str(&text).with_context(|| format!("in {}", path.display()))
}

fn write_geometry(scan: &ScanGeometry, data_path: &Path) -> anyhow::Result<PathBuf> {
    let p = beside(data_path, ".toml");
    hounsfield_io::atomic::write_bytes(&p, scan.to_toml_string().as_bytes())
        .with_context(|| format!("cannot write {}", p.display()))?;
    Ok(p)
}

fn load_f32(path: &Path, g: &crate::ui::GlobalArgs) -> anyhow::Result<Volume<f32>> {
    Ok(super::load(path, None, g)?.volume.into_f32())
}

fn save(path: &Path, v: Volume<f32>, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let pb = g.spinner(format!("writing {}", path.display()));
    write_image(path, &AnyVolume::F32(v), &WriteOptions::default())
        .with_context(|| format!("cannot write {}", path.display()))?;
    pb.finish_and_clear();
    Ok(())
}

/// The scan with its isocentre on the volume's centre voxel when the file gave none.
fn centred_on(scan: ScanGeometry, v: &Volume<f32>) -> anyhow::Result<ScanGeometry> {
    if scan.spec().isocentre_mm.is_some() {
        return Ok(scan);
    }
    let [nx, ny, nz] = v.dims();
    let mut c = v.index_to_world((nx / 2) as f64, (ny / 2) as f64, (nz / 2) as f64);
    if !scan.is_3d() {
        c[2] = v.geometry().origin[2];
    }
    Ok(scan.with_isocentre(c)?)
}

fn grid_for(scan: &ScanGeometry, a: &GridArgs) -> anyhow::Result<VolumeGrid> {
    let d = scan.default_grid()?;
    if a.size.is_none() && a.spacing.is_none() && a.slices.is_none() {
        return Ok(d);
    }
    let n = a.size.unwrap_or(d.dims[0]);
    let s = a.spacing.unwrap_or(d.geometry.spacing[0]);
    if n == 0 || n > 1 << 15 {
        bail!("invalid --size {n}: must be 1..=32768");
    }
    if !(s.is_finite() && s > 0.0) {
        bail!("invalid --spacing {s}: must be a positive number of mm");
    }
    let nz = if scan.is_3d() { a.slices.unwrap_or(d.dims[2]) } else { 1 };
    let sz = if scan.is_3d() { d.geometry.spacing[2] } else { s };
    Ok(VolumeGrid::centred([n, n, nz], [s, s, sz], scan.isocentre())?)
}

/// `hounsfield project`.
pub fn project(a: ProjectArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let v = load_f32(&a.input, g)?;
    let scan = centred_on(read_geometry(&a.geometry)?, &v)?;
    let opts = SimulateOptions {
        intensity: match a.units {
            UnitsArg::AsIs => ct::Intensity::Attenuation,
            UnitsArg::Hu => ct::Intensity::Hu,
        },
        ..Default::default()
    };
    let pb = g.spinner("projecting");
    let sino = ct::simulate(&v, &scan, &opts)?;
    pb.finish_and_clear();
    save(&a.output, sino, g)?;
    let t = write_geometry(&scan, &a.output)?;
    g.note(format!("wrote {} and {}", a.output.display(), t.display()));
    Ok(())
}

/// `hounsfield recon ct`.
pub fn recon_ct(a: ReconCtArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let gpath = a.geometry.clone().unwrap_or_else(|| beside(&a.sinogram, ".toml"));
    let scan = read_geometry(&gpath)?;
    let sino = load_f32(&a.sinogram, g)?;
    scan.check_sinogram_dims(sino.dims())?;
    let grid = grid_for(&scan, &a.grid)?;
    let iterations = a.iterations.unwrap_or(if a.method == CtMethod::Tv { 200 } else { 20 });
    let rec = match a.method {
        CtMethod::Fbp | CtMethod::Fdk => {
            let pb = g.spinner(format!("{:?}", a.method).to_lowercase());
            let o = FbpOptions { filter: a.filter.into(), grid: Some(grid), ..Default::default() };
            let r = if a.method == CtMethod::Fbp {
                ct::fbp(&sino, &scan, &o)?
            } else {
                ct::fdk(&sino, &scan, &o)?
            };
            pb.finish_and_clear();
            r
        }
        m => {
            let p = JosephProjector::new(&scan, &grid)?;
            let pb = g.iteration_bar(iterations, &format!("{m:?}").to_lowercase());
            let mut cb = |i: &IterationInfo| {
                pb.set_position(i.iteration as u64);
                pb.set_prefix(format!("{:.4e}", i.residual));
                ControlFlow::Continue(())
            };
            let o = IterativeOptions { iterations, subsets: a.subsets, ..Default::default() };
            let r = match m {
                CtMethod::Sirt => ct::sirt(&p, &sino, &o, &mut cb)?,
                CtMethod::Sart => ct::sart(&p, &sino, &o, &mut cb)?,
                CtMethod::Cgls => ct::cgls(&p, &sino, &o, &mut cb)?,
                _ => ct::tv(
                    &p,
                    &sino,
                    &TvOptions { iterations, weight: a.tv_weight, ..Default::default() },
                    &mut cb,
                )?,
            };
            pb.finish_and_clear();
            r
        }
    };
    let rec = if a.hu { ct::mu_to_hu(&rec, ct::MU_WATER_70KEV) } else { rec };
    let d = rec.dims();
    save(&a.output, rec, g)?;
    g.note(format!("wrote {} ({} × {} × {})", a.output.display(), d[0], d[1], d[2]));
    Ok(())
}

/// `hounsfield recon pet`.
pub fn recon_pet(a: ReconPetArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let gpath = a.geometry.clone().unwrap_or_else(|| beside(&a.counts, ".toml"));
    let scan = read_geometry(&gpath)?;
    let counts = load_f32(&a.counts, g)?;
    scan.check_sinogram_dims(counts.dims())?;
    let mu = a.mu.as_ref().map(|p| load_f32(p, g)).transpose()?;
    let grid = match &mu {
        Some(m) => VolumeGrid::of(m)?,
        None => grid_for(&scan, &a.grid)?,
    };
    let p = JosephProjector::new(&scan, &grid)?;
    let af = mu.as_ref().map(|m| pet::attenuation_factors(&p, m)).transpose()?;
    let subsets = match a.method {
        PetMethod::Mlem => 1,
        PetMethod::Osem => a.subsets,
    };
    let pb = g.iteration_bar(a.iterations, if subsets == 1 { "mlem" } else { "osem" });
    let mut cb = |i: &IterationInfo| {
        pb.set_position(i.iteration as u64);
        pb.set_prefix(format!("{:.6e}", i.residual));
        ControlFlow::Continue(())
    };
    let o = pet::OsemOptions { iterations: a.iterations, subsets, ..Default::default() };
    let rec = pet::osem(&p, &counts, af.as_deref(), &o, &mut cb)?;
    pb.finish_and_clear();
    save(&a.output, rec, g)?;
    g.note(format!("wrote {}", a.output.display()));
    Ok(())
}

/// `hounsfield drr`.
pub fn drr(a: DrrArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let v = load_f32(&a.input, g)?;
    let scan = centred_on(read_geometry(&a.geometry)?, &v)?;
    let pb = g.spinner("projecting");
    let output = if a.transmission { DrrOutput::Transmission } else { DrrOutput::LineIntegral };
    let img = ct::drr(&v, &scan, a.view, &DrrOptions { output, ..Default::default() })?;
    pb.finish_and_clear();
    save(&a.output, img, g)?;
    g.note(format!("wrote {}", a.output.display()));
    Ok(())
}

/// A made-up geometry covering a square object of `n` pixels of `s` mm (and `nz` slices).
fn made_up(kind: KindArg, views: usize, n: usize, s: f64, nz: usize) -> anyhow::Result<ScanGeometry> {
    let cols = (n as f64 * 1.5).ceil() as usize;
    let w = n as f64 * s;
    let sod = (2.0 * w).max(300.0);
    let sdd = 2.0 * sod;
    Ok(match kind {
        KindArg::Parallel => ScanGeometry::parallel(views, 180.0, cols, s)?,
        KindArg::Fan => ScanGeometry::fan(views, 360.0, cols, s * 2.0, sod, sdd, ct::DetectorShape::Flat)?,
        KindArg::Cone => {
            let rows = ((nz as f64) * 1.25).ceil() as usize;
            ScanGeometry::cone(views, 360.0, [cols, rows], s * 2.0, sod, sdd)?
        }
    })
}

/// The phantom (HU) as an image (2-D) or volume (cone).
fn phantom_hu(which: PhantomArg, n: usize, three_d: bool, seed: u64) -> anyhow::Result<Volume<f32>> {
    if !(8..=4096).contains(&n) {
        bail!("invalid --size {n}: must be 8..=4096");
    }
    Ok(match which {
        PhantomArg::SheppLogan => {
            let dims = if three_d {
                hounsfield_phantom::shepp_logan::SheppLoganDims::ThreeD { depth: n }
            } else {
                hounsfield_phantom::shepp_logan::SheppLoganDims::TwoD
            };
            shepp_logan(&SheppLoganOptions {
                size: n,
                dims,
                variant: SheppLoganVariant::Hu,
                ..Default::default()
            })?
        }
        PhantomArg::Torso => {
            let p = Phantom::torso(seed, &TorsoOptions::default())?;
            let mut grid = p.grid(n)?;
            if !three_d {
                grid = hounsfield_phantom::Grid::new(
                    [n, n, 1],
                    Geometry {
                        origin: grid.geometry.index_to_world([0.0, 0.0, (n / 2) as f64]),
                        ..grid.geometry
                    },
                );
            }
            p.render(&grid, &Contrast::for_modality(Modality::Ct), &RenderOptions::default(), seed)?.image
        }
    })
}

/// `hounsfield simulate ct`.
pub fn simulate_ct(a: SimulateCtArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let given = a.geometry.as_ref().map(|p| read_geometry(p)).transpose()?;
    let three_d = match &given {
        Some(s) => s.is_3d(),
        None => a.kind == KindArg::Cone,
    };
    let pb = g.spinner("making the object");
    let v = match &a.input {
        Some(p) => load_f32(p, g)?,
        None => phantom_hu(a.phantom, a.size, three_d, a.seed)?,
    };
    pb.finish_and_clear();
    let scan = match given {
        Some(s) => s,
        None => {
            let d = v.dims();
            made_up(a.kind, a.views, d[0].max(d[1]), v.geometry().spacing[0], d[2])?
        }
    };
    let scan = centred_on(scan, &v)?;
    let dose = match a.dose {
        Some(i0) => Dose::Photons(i0),
        None => Dose::Noiseless,
    };
    let pb = g.spinner("projecting");
    let sino = ct::simulate(&v, &scan, &SimulateOptions { dose, seed: a.seed, ..Default::default() })?;
    pb.finish_and_clear();
    save(&a.output, sino, g)?;
    let t = write_geometry(&scan, &a.output)?;
    if let Some(p) = &a.truth {
        save(p, v, g)?;
    }
    g.note(format!("wrote {} and {}", a.output.display(), t.display()));
    Ok(())
}

/// `hounsfield simulate pet`.
pub fn simulate_pet(a: SimulatePetArgs, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let n = a.size;
    let (activity, mu) = match a.phantom {
        PhantomArg::SheppLogan => {
            let act = shepp_logan(&SheppLoganOptions { size: n.clamp(8, 4096), ..Default::default() })?;
            // Water-like attenuation wherever there is tissue.
            let mu = act.map(|&v| if v > 0.0 { ct::MU_WATER_511KEV as f32 } else { 0.0 });
            (act, mu)
        }
        PhantomArg::Torso => {
            if !(8..=4096).contains(&n) {
                bail!("invalid --size {n}: must be 8..=4096");
            }
            let p = Phantom::torso(a.seed, &TorsoOptions::default())?;
            let full = p.grid(n)?;
            let grid = hounsfield_phantom::Grid::new(
                [n, n, 1],
                Geometry {
                    origin: full.geometry.index_to_world([0.0, 0.0, (n / 2) as f64]),
                    ..full.geometry
                },
            );
            let img =
                p.render(&grid, &Contrast::for_modality(Modality::Ct), &RenderOptions::default(), a.seed)?;
            // FDG-like uptake relative to soft tissue (heart and kidneys high, lung low).
            let uptake = |l: u16| -> f32 {
                match l {
                    0 => 0.0,
                    x if x == Label::Heart.id() => 6.0,
                    x if x == Label::Liver.id() => 2.0,
                    x if x == Label::Lung.id() => 0.2,
                    x if x == Label::Spleen.id() => 1.8,
                    x if x == Label::KidneyRight.id() || x == Label::KidneyLeft.id() => 4.0,
                    x if x >= 100 => 8.0,
                    _ => 1.0,
                }
            };
            let act = img.labels.as_volume().map(|&l| uptake(l));
            // Bilinear HU → μ(511 keV) (Kinahan et al. 1998): water scaling below 0 HU, bone
            // slope above.
            let mu = img.image.map(|&h| {
                let w = ct::MU_WATER_511KEV as f32;
                if h <= 0.0 {
                    (w * (1.0 + h / 1000.0)).max(0.0)
                } else {
                    w + h * (0.0172 - w) / 1000.0
                }
            });
            (act, mu)
        }
    };
    let scan = ScanGeometry::from_spec(GeometrySpec {
        views: Some(a.views),
        arc_deg: Some(180.0),
        detector_count: (n as f64 * 1.5).ceil() as usize,
        detector_spacing_mm: activity.geometry().spacing[0],
        ..Default::default()
    })?;
    let scan = centred_on(scan, &activity)?;
    let p = JosephProjector::new(&scan, &VolumeGrid::of(&activity)?)?;
    let af = pet::attenuation_factors(&p, &mu)?;
    let (counts, _) = pet::simulate_emission(
        &p,
        &activity,
        Some(&af),
        &pet::EmissionOptions { counts: a.counts, seed: a.seed, ..Default::default() },
    )?;
    let _ = p.grid();
    save(&a.output, counts, g)?;
    let t = write_geometry(&scan, &a.output)?;
    let mu_path = beside(&a.output, "_mu.nii.gz");
    let act_path = beside(&a.output, "_activity.nii.gz");
    save(&mu_path, mu, g)?;
    save(&act_path, activity, g)?;
    g.note(format!(
        "wrote {}, {}, {} and {}",
        a.output.display(),
        t.display(),
        mu_path.display(),
        act_path.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companion_paths() {
        assert_eq!(beside(Path::new("/a/sino.nii.gz"), ".toml"), PathBuf::from("/a/sino.toml"));
        assert_eq!(beside(Path::new("x.nrrd"), "_mu.nii.gz"), PathBuf::from("x_mu.nii.gz"));
        assert_eq!(beside(Path::new("noext"), ".toml"), PathBuf::from("noext.toml"));
    }
}
