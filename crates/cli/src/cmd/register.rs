//! Registration commands: `register`, `transform apply`, `eval registration`. (Stubs.)

/// Arguments of `hounsfield register`.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {}
/// Arguments of `hounsfield transform apply`.
#[derive(clap::Args, Debug)]
pub struct TransformApplyArgs {}
/// Arguments of `hounsfield eval registration`.
#[derive(clap::Args, Debug)]
pub struct EvalRegistrationArgs {}

/// `hounsfield register`.
pub fn register(_a: RegisterArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield transform apply`.
pub fn transform_apply(_a: TransformApplyArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield eval registration`.
pub fn eval_registration(_a: EvalRegistrationArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
