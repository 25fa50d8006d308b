//! `hounsfield phantom`: analytic and anatomical phantoms, deformations and datasets.

/// Arguments of `hounsfield phantom`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_a: Args, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
