//! `hounsfield convert`: any supported input to any supported output.

use std::path::PathBuf;

use anyhow::Context;
use hounsfield_io::{dicom::DicomWriteOptions, write_image, WriteOptions};

/// Arguments of `hounsfield convert`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input: DICOM folder or file, NIfTI, NRRD, MetaImage, PNG or JPEG.
    pub input: PathBuf,
    /// Output, format chosen by extension (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, .png); a
    /// path without extension is written as a DICOM series folder.
    pub output: PathBuf,
    /// DICOM folder with several series: the SeriesInstanceUID to convert.
    #[arg(long)]
    pub series: Option<String>,
    /// Modality written into a DICOM output (default: the input's, else OT).
    #[arg(long)]
    pub modality: Option<String>,
}

/// Runs the command.
pub fn run(a: Args, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let img = super::load(&a.input, a.series.as_deref(), g)?;
    let opts = WriteOptions {
        dicom: DicomWriteOptions { modality: a.modality.or(img.modality.clone()), ..Default::default() },
    };
    let pb = g.spinner(format!("writing {}", a.output.display()));
    write_image(&a.output, &img.volume, &opts)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    pb.finish_and_clear();
    let d = img.volume.dims();
    g.note(format!(
        "wrote {} ({} × {} × {}, {})",
        a.output.display(),
        d[0],
        d[1],
        d[2],
        img.volume.type_name()
    ));
    Ok(())
}
