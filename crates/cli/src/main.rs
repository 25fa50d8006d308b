//! The `hounsfield` binary: argument parsing, progress bars, exit codes; no algorithms.
//!
//! Exit codes: 0 success, 2 bad input or usage (one clear line on stderr), 1 internal error.

mod cmd;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Hounsfield: radiological imaging from raw data to results a clinician can trust.
#[derive(Parser, Debug)]
#[command(name = "hounsfield", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: ui::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the built-in demo study end to end and write DIR/report.html (the main job).
    Demo(cmd::demo::Args),
    /// Print format, modality, dimensions, geometry, data type and intensity statistics.
    Info(cmd::info::Args),
    /// Convert between DICOM, NIfTI, NRRD, MetaImage and PNG (chosen by the output's extension).
    Convert(cmd::convert::Args),
    /// Render one axial, coronal or sagittal slice to PNG with window/level and label overlay.
    Slice(cmd::slice::Args),
    /// Generate digital phantoms (Shepp-Logan, torso CT, head MR) with ground-truth labels,
    /// and datasets for training and evaluation.
    Phantom(cmd::phantom::Args),
    /// Run a pipeline file (TOML steps over a study) and write an HTML report.
    Run(cmd::run::Args),
    /// Reconstruct images from raw data (CT sinograms, PET emission data, MR k-space, ultrasound channel data).
    #[command(subcommand)]
    Recon(ReconCmd),
    /// Simulate raw data from phantoms or volumes (CT sinograms with dose, PET emission data, MR k-space, ultrasound channel data).
    #[command(subcommand)]
    Simulate(SimulateCmd),
    /// Forward-project a volume into a sinogram / projections with a geometry TOML.
    Project(cmd::ct::ProjectArgs),
    /// Digitally reconstructed radiograph (X-ray) of a CT volume.
    Drr(cmd::ct::DrrArgs),
    /// Speckle reduction of ultrasound images (SRAD).
    Despeckle(cmd::us::DespeckleArgs),
    /// Sampling masks and trajectories for MRI (random 1-D, equispaced, Poisson disc, radial).
    Mask(cmd::mri::MaskArgs),
    /// Segment an image: thresholds, Otsu, region growing, CT lungs, MR brain tissue, atlases,
    /// trained models.
    Segment(cmd::segment::SegmentArgs),
    /// Register a moving image to a fixed image (rigid, affine, B-spline, SyN).
    Register(cmd::register::RegisterArgs),
    /// Apply or convert transforms.
    #[command(subcommand)]
    Transform(TransformCmd),
    /// Evaluate results against ground truth.
    #[command(subcommand)]
    Eval(EvalCmd),
    /// Train a network from a TOML configuration (segmentation, synthesis, registration, classification).
    Train(cmd::nn::TrainArgs),
    /// Run a trained model (a model folder with its card, or a bare ONNX file) on an image.
    Infer(cmd::nn::InferArgs),
    /// Inspect models.
    #[command(subcommand)]
    Model(ModelCmd),
}

#[derive(Subcommand, Debug)]
enum ModelCmd {
    /// Print a model's card (task, modality, spacing, normalization, labels, metrics, checksum).
    Info(cmd::nn::ModelInfoArgs),
}

#[derive(Subcommand, Debug)]
enum TransformCmd {
    /// Resample an image (or label map) through a transform onto a reference grid.
    Apply(cmd::register::TransformApplyArgs),
}

#[derive(Subcommand, Debug)]
enum EvalCmd {
    /// Target registration error on landmarks, Jacobian and folding of a transform.
    Registration(cmd::register::EvalRegistrationArgs),
    /// Dice, IoU, HD, HD95, ASSD, NSD and volumes per label (MONAI's definitions), in mm.
    Segmentation(cmd::segment::EvalSegmentationArgs),
    /// Ultrasound image quality (PICMUS): FWHM of point targets, CR and CNR of cysts.
    Ultrasound(cmd::us::EvalUsArgs),
}

#[derive(Subcommand, Debug)]
enum ReconCmd {
    /// CT: FBP, FDK, SIRT, SART, CGLS, TV.
    Ct(cmd::ct::ReconCtArgs),
    /// PET: MLEM, OSEM with attenuation correction.
    Pet(cmd::ct::ReconPetArgs),
    /// MRI: zero-filled, SENSE, GRAPPA, compressed sensing (wavelet, TV), radial NUFFT.
    Mri(cmd::mri::ReconMriArgs),
    /// Ultrasound: delay-and-sum B-mode from channel data (plane-wave compounding, coherence factor).
    Us(cmd::us::ReconUsArgs),
}

#[derive(Subcommand, Debug)]
enum SimulateCmd {
    /// CT sinogram of a phantom or volume, with photon noise for a dose.
    Ct(cmd::ct::SimulateCtArgs),
    /// PET emission sinogram of an activity map, with Poisson noise.
    Pet(cmd::ct::SimulatePetArgs),
    /// Multi-coil MR k-space of a phantom, undersampled, with noise.
    Mri(cmd::mri::SimulateMriArgs),
    /// Ultrasound channel data of a speckle phantom (linear array, plane waves).
    Us(cmd::us::SimulateUsArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    cli.global.apply()?;
    match cli.command {
        Command::Demo(a) => cmd::demo::run(a, &cli.global),
        Command::Info(a) => cmd::info::run(a, &cli.global),
        Command::Convert(a) => cmd::convert::run(a, &cli.global),
        Command::Slice(a) => cmd::slice::run(a, &cli.global),
        Command::Phantom(a) => cmd::phantom::run(a, &cli.global),
        Command::Run(a) => cmd::run::run(a, &cli.global),
        Command::Recon(ReconCmd::Ct(a)) => cmd::ct::recon_ct(a, &cli.global),
        Command::Recon(ReconCmd::Pet(a)) => cmd::ct::recon_pet(a, &cli.global),
        Command::Simulate(SimulateCmd::Ct(a)) => cmd::ct::simulate_ct(a, &cli.global),
        Command::Simulate(SimulateCmd::Pet(a)) => cmd::ct::simulate_pet(a, &cli.global),
        Command::Project(a) => cmd::ct::project(a, &cli.global),
        Command::Drr(a) => cmd::ct::drr(a, &cli.global),
        Command::Recon(ReconCmd::Mri(a)) => cmd::mri::recon_mri(a, &cli.global),
        Command::Simulate(SimulateCmd::Mri(a)) => cmd::mri::simulate_mri(a, &cli.global),
        Command::Mask(a) => cmd::mri::mask(a, &cli.global),
        Command::Register(a) => cmd::register::register(a, &cli.global),
        Command::Transform(TransformCmd::Apply(a)) => cmd::register::transform_apply(a, &cli.global),
        Command::Eval(EvalCmd::Registration(a)) => cmd::register::eval_registration(a, &cli.global),
        Command::Eval(EvalCmd::Segmentation(a)) => cmd::segment::eval_segmentation(a, &cli.global),
        Command::Eval(EvalCmd::Ultrasound(a)) => cmd::us::eval_us(a, &cli.global),
        Command::Recon(ReconCmd::Us(a)) => cmd::us::recon_us(a, &cli.global),
        Command::Despeckle(a) => cmd::us::despeckle(a, &cli.global),
        Command::Simulate(SimulateCmd::Us(a)) => cmd::us::simulate_us(a, &cli.global),
        Command::Segment(a) => cmd::segment::segment(a, &cli.global),
        Command::Train(a) => cmd::nn::train(a, &cli.global),
        Command::Infer(a) => cmd::nn::infer(a, &cli.global),
        Command::Model(ModelCmd::Info(a)) => cmd::nn::model_info(a, &cli.global),
    }
}

/// Whether a panic payload is std's "failed printing to stdout: Broken pipe".
fn broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    text.contains("failed printing to stdout") && text.contains("Broken pipe")
}

fn main() -> ExitCode {
    // clap exits with status 2 on usage errors, as we want.
    let cli = Cli::parse();
    std::panic::set_hook(Box::new(|info| {
        // A reader that went away (`hounsfield model info … | head`) is not a bug: stop
        // quietly, as tools killed by SIGPIPE do (Rust ignores the signal, so println!
        // panics instead).
        if broken_pipe(info.payload()) {
            return;
        }
        eprintln!("hounsfield: internal error (a bug; please report it): {info}");
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("hounsfield: error: {}", ui::one_line(&e));
            ExitCode::from(2)
        }
        Err(p) if broken_pipe(p.as_ref()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}
