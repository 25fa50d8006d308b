//! CT and X-ray: geometries, projectors, FBP/FDK, iterative and regularized reconstruction, DRR.

pub mod analytic;
pub mod fbp;
pub mod geometry;
pub mod iterative;
pub mod projector;

pub use fbp::{fbp, fdk, fdk_streamed, FbpOptions, Filter};
pub use iterative::{
    cgls, no_callback, sart, sirt, tv, Callback, Constraint, IterationInfo, IterativeOptions, Start, TvOptions,
};
pub use geometry::{Beam, BeamKind, DetectorShape, GeometrySpec, ScanGeometry, ViewFrame, VolumeGrid};
pub use projector::{JosephProjector, Projector};
