//! CT and X-ray: geometries, projectors, FBP/FDK, iterative and regularized reconstruction, DRR.

pub mod analytic;
pub mod fbp;
pub mod geometry;
pub mod projector;

pub use fbp::{fbp, fdk, fdk_streamed, FbpOptions, Filter};
pub use geometry::{Beam, BeamKind, DetectorShape, GeometrySpec, ScanGeometry, ViewFrame, VolumeGrid};
pub use projector::{JosephProjector, Projector};
