//! `hounsfield slice`: one radiological view of a volume to PNG.

use std::path::PathBuf;

use anyhow::{bail, Context};
use hounsfield_io::raster::write_png_rgb;
use hounsfield_pipeline::figure::{auto_window, render_view, View};
use hounsfield_pipeline::ImageKind;

/// Which view (`--axis`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum AxisArg {
    /// Transverse plane seen from the feet (patient left on the image's right).
    #[default]
    Axial,
    /// Frontal plane seen from the front.
    Coronal,
    /// Side plane seen from the patient's left (anterior on the image's left).
    Sagittal,
}

/// Arguments of `hounsfield slice`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file or DICOM folder.
    pub input: PathBuf,
    /// View: axial, coronal or sagittal (radiological convention, whatever the file's storage order).
    #[arg(long, value_enum, default_value_t = AxisArg::Axial)]
    pub axis: AxisArg,
    /// Slice index in the view (axial: 0 = most inferior; coronal: 0 = most anterior;
    /// sagittal: 0 = most right). Default: the middle slice.
    #[arg(long)]
    pub index: Option<usize>,
    /// Window width (default: 400 for CT, else the 1st–99th percentile range).
    #[arg(long)]
    pub window: Option<f64>,
    /// Window level / centre (default: 40 for CT, else the middle of the 1st–99th percentiles).
    #[arg(long)]
    pub level: Option<f64>,
    /// Label map on the same grid, drawn as a coloured overlay.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Overlay opacity, 0..=1.
    #[arg(long, default_value_t = 0.4)]
    pub opacity: f32,
    /// DICOM folder with several series: the SeriesInstanceUID to show.
    #[arg(long)]
    pub series: Option<String>,
    /// Output PNG.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Runs the command.
pub fn run(a: Args, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    if !a.output.to_string_lossy().to_ascii_lowercase().ends_with(".png") {
        bail!("the output must be a .png file: {}", a.output.display());
    }
    let img = super::load(&a.input, a.series.as_deref(), g)?;
    let kind = match img.modality.as_deref() {
        Some("CT") => ImageKind::Ct,
        Some("MR") => ImageKind::Mr,
        _ => ImageKind::Other,
    };
    let vol = img.volume.into_f32();
    let labels = match &a.labels {
        Some(p) => {
            Some(super::load(p, None, g)?.volume.to_labels().with_context(|| format!("{}", p.display()))?)
        }
        None => None,
    };
    let (w0, l0) = auto_window(&vol, kind);
    let window = (a.window.unwrap_or(w0), a.level.unwrap_or(l0));
    let view = match a.axis {
        AxisArg::Axial => View::Axial,
        AxisArg::Coronal => View::Coronal,
        AxisArg::Sagittal => View::Sagittal,
    };
    let rgb = render_view(&vol, labels.as_ref(), view, a.index, window, a.opacity)?;
    write_png_rgb(&a.output, &rgb).with_context(|| format!("cannot write {}", a.output.display()))?;
    g.note(format!(
        "wrote {} ({} view, {}×{} px, window {:.1} / level {:.1})",
        a.output.display(),
        view.name(),
        rgb.width,
        rgb.height,
        window.0,
        window.1
    ));
    Ok(())
}
