//! CT and X-ray: geometries, projectors, FBP/FDK, iterative and regularized reconstruction, DRR.
//!
//! | module | holds |
//! |---|---|
//! | [`geometry`] | scan geometries (TOML), their conventions, reconstruction grids |
//! | [`projector`] | the [`Projector`] trait and [`JosephProjector`] |
//! | [`analytic`] | exact line integrals of ellipsoids (ground truth) |
//! | [`fbp`](mod@fbp) | FBP and FDK, ramp filters, Parker weights |
//! | [`iterative`] | SIRT, SART/OS-SART, CGLS, TV |
//! | [`simulate`](mod@simulate) | HU ↔ μ, photon noise, DRR |
//! | [`demo`] | the demo study's reconstruction step |

pub mod analytic;
pub mod demo;
pub mod fbp;
pub mod geometry;
pub mod iterative;
pub mod projector;
mod simd;
pub mod simulate;

pub use demo::{demo_reconstruction, DemoResult, Score};
pub use fbp::{fbp, fdk, fdk_streamed, FbpOptions, Filter, Region};
pub use geometry::{Beam, BeamKind, DetectorShape, GeometrySpec, ScanGeometry, ViewFrame, VolumeGrid};
pub use iterative::{
    cgls, no_callback, sart, sirt, tv, Callback, Constraint, IterationInfo, IterativeOptions, Start,
    TvOptions,
};
pub use projector::{Combine, JosephProjector, Projector};
pub use simulate::{
    drr, hu_to_mu, mu_to_hu, simulate, Dose, DrrOptions, DrrOutput, Intensity, SimulateOptions,
    MU_WATER_511KEV, MU_WATER_70KEV,
};
