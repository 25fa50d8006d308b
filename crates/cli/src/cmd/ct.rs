//! CT, X-ray and PET commands: `project`, `recon ct`, `recon pet`, `drr`, `simulate ct`,
//! `simulate pet`. (Stubs.)

/// Arguments of `hounsfield project`.
#[derive(clap::Args, Debug)]
pub struct ProjectArgs {}
/// Arguments of `hounsfield recon ct`.
#[derive(clap::Args, Debug)]
pub struct ReconCtArgs {}
/// Arguments of `hounsfield recon pet`.
#[derive(clap::Args, Debug)]
pub struct ReconPetArgs {}
/// Arguments of `hounsfield drr`.
#[derive(clap::Args, Debug)]
pub struct DrrArgs {}
/// Arguments of `hounsfield simulate ct`.
#[derive(clap::Args, Debug)]
pub struct SimulateCtArgs {}
/// Arguments of `hounsfield simulate pet`.
#[derive(clap::Args, Debug)]
pub struct SimulatePetArgs {}

/// `hounsfield project`.
pub fn project(_a: ProjectArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield recon ct`.
pub fn recon_ct(_a: ReconCtArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield recon pet`.
pub fn recon_pet(_a: ReconPetArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield drr`.
pub fn drr(_a: DrrArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield simulate ct`.
pub fn simulate_ct(_a: SimulateCtArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield simulate pet`.
pub fn simulate_pet(_a: SimulatePetArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
