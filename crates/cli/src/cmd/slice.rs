//! `hounsfield slice`: one slice to PNG.

use std::path::PathBuf;

/// Arguments of `hounsfield slice`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file or DICOM folder.
    pub input: PathBuf,
}

/// Runs the command.
pub fn run(_a: Args, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
