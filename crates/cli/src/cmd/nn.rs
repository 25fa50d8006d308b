//! Deep-learning commands: `train`, `infer`, `model info`. (Stubs.)

/// Arguments of `hounsfield train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {}
/// Arguments of `hounsfield infer`.
#[derive(clap::Args, Debug)]
pub struct InferArgs {}
/// Arguments of `hounsfield model info`.
#[derive(clap::Args, Debug)]
pub struct ModelInfoArgs {}

/// `hounsfield train`.
pub fn train(_a: TrainArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield infer`.
pub fn infer(_a: InferArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
/// `hounsfield model info`.
pub fn model_info(_a: ModelInfoArgs, _g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
