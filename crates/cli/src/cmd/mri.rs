//! MRI commands: `recon mri`, `simulate mri`, `mask`. (Stubs.)

/// Arguments of `hounsfield recon mri`.
#[derive(clap::Args, Debug)]
pub struct ReconMriArgs {}
/// Arguments of `hounsfield simulate mri`.
#[derive(clap::Args, Debug)]
pub struct SimulateMriArgs {}
/// Arguments of `hounsfield mask`.
#[derive(clap::Args, Debug)]
pub struct MaskArgs {}

/// `hounsfield recon mri`.
pub fn recon_mri(_a: ReconMriArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield simulate mri`.
pub fn simulate_mri(_a: SimulateMriArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield mask`.
pub fn mask(_a: MaskArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
