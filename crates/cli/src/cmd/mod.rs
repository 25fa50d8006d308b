//! One module per subcommand: each has an `Args` (clap) and a `run`.

pub mod convert;
pub mod ct;
pub mod demo;
pub mod info;
pub mod mri;
pub mod nn;
pub mod phantom;
pub mod register;
pub mod run;
pub mod segment;
pub mod slice;
pub mod us;

use std::path::Path;

use anyhow::Context;
use hounsfield_io::{read_image, LoadedImage, ReadOptions};

/// Reads any supported image with a spinner, naming the path on failure.
pub fn load(path: &Path, series: Option<&str>, g: &crate::ui::GlobalArgs) -> anyhow::Result<LoadedImage> {
    let pb = g.spinner(format!("reading {}", path.display()));
    let opts = ReadOptions { series_uid: series.map(str::to_owned), ..Default::default() };
    let r = read_image(path, &opts).with_context(|| format!("cannot read {}", path.display()));
    pb.finish_and_clear();
    r
}
