//! Digital anatomical phantoms with ground-truth labels, modality contrast models (CT HU, MR T1/T2/PD), random smooth deformations, dataset generation.
//!
//! Every phantom is defined analytically in world space (LPS, millimetres) and sampled onto
//! a grid, so the same anatomy at different sizes and spacings is the same object, and its
//! label map is exact ground truth.
//!
//! # Main types
//!
//! - [`shepp_logan`](shepp_logan::shepp_logan): the modified Shepp–Logan phantom in 2-D
//!   (matching scikit-image's `shepp_logan_phantom` pixel grid and orientation) and 3-D, in
//!   Toft's attenuation units or Hounsfield units; [`SHEPP_LOGAN`](shepp_logan::SHEPP_LOGAN)
//!   lists the ellipses for analytic projections.
//! - [`Phantom`]: a randomly varied torso ([`Phantom::torso`], CT-like, optional lung
//!   nodules with class) or head ([`Phantom::head`], MR-like, optional lesion), with its
//!   metadata ([`NoduleInfo`], [`LesionInfo`]). [`Phantom::grid`] gives the standard cube of
//!   `size³` voxels over the anatomy's field of view; [`Phantom::render`] samples an image
//!   and label map with a [`Contrast`].
//! - [`Scene`] and [`Shape`]: the labelled implicit solids phantoms are made of
//!   (ellipsoids, superquadrics, tapered tubes, folded surfaces, smooth unions), rendered
//!   with optional supersampling for partial volume ([`RenderOptions`]).
//! - [`contrast`]: CT HU and MR spin-echo tables with sources, bias field, Gaussian/Rician
//!   noise, SynthSeg-style random contrast.
//! - [`deform`]: random stationary velocity fields, scaling-and-squaring exponentiation into a
//!   [`hounsfield_core::DisplacementField`] and its inverse, Jacobian determinants, warping.
//! - [`dataset`]: segmentation, synthesis, registration and diagnosis datasets with a
//!   `manifest.json`, written through a caller-supplied writer (this crate does no file I/O).
//!
//! ```
//! use hounsfield_phantom::{Contrast, Label, Modality, Phantom, RenderOptions, TorsoOptions};
//!
//! let torso = Phantom::torso(7, &TorsoOptions { nodules: 1, ..Default::default() }).unwrap();
//! let grid = torso.grid(32).unwrap(); // 32³ voxels of 12.5 mm over the 400 mm field of view
//! let ct = torso.render(&grid, &Contrast::for_modality(Modality::Ct), &RenderOptions::default(), 0).unwrap();
//! // Voxels labelled liver carry the liver's HU (no noise by default).
//! let liver = ct.labels.data().iter().position(|&l| l == Label::Liver.id()).unwrap();
//! assert_eq!(ct.image.data()[liver], 60.0);
//! assert_eq!(torso.nodules()[0].label, 100);
//! ```
//!
//! # Phantoms
//!
//! | phantom | field of view | labels | modalities |
//! |---|---|---|---|
//! | Shepp–Logan 2-D / 3-D | `fov_mm` (default 256 mm) spans `[−1, 1]` | — (intensity only) | attenuation (Toft), HU |
//! | torso ([`torso`]) | 400 mm cube | 1–15, nodules 100+ | CT (native), T1/T2/PD, random |
//! | head ([`head`]) | 220 mm cube | 3, 20–26 | T1/T2/PD (native), CT, random |
//!
//! # Label ids
//!
//! | id | name | id | name |
//! |---:|---|---:|---|
//! | 0 | background | 13 | cortical bone |
//! | 1 | skin | 14 | cancellous bone |
//! | 2 | fat | 15 | soft tissue |
//! | 3 | muscle | 20 | scalp |
//! | 4 | lung | 21 | skull |
//! | 5 | pulmonary vessel | 22 | cerebrospinal fluid |
//! | 6 | airway | 23 | grey matter |
//! | 7 | heart | 24 | white matter |
//! | 8 | aorta | 25 | ventricles |
//! | 9 | liver | 26 | lesion |
//! | 10 | spleen | 100 + n | nodule n + 1 |
//! | 11 | right kidney | | |
//! | 12 | left kidney | | |
//!
//! [`Label`] names them, [`label_name`] gives the name of any id, and [`labels`] documents
//! the tissue of each.
//!
//! # Determinism
//!
//! Randomness is seeded ([`rand_chacha::ChaCha8Rng`]) with the seed an explicit parameter.
//! Rendering is parallel over z-slices but each voxel depends only on its position, and
//! noise comes from one random stream per slice, so a seed gives bit-identical output for
//! any number of threads.

pub mod anatomy;
pub mod contrast;
pub mod dataset;
pub mod deform;
pub mod error;
pub mod head;
pub mod labels;
mod rng;
pub mod scene;
pub mod shapes;
pub mod shepp_logan;
pub mod torso;

pub use anatomy::{
    AnatomyKind, HeadOptions, LesionChoice, LesionInfo, NoduleClass, NoduleClassChoice, NoduleInfo,
    NoduleShape, Phantom, PhantomImage, PhantomInfo, Side, TorsoOptions, HEAD_FOV_MM, TORSO_FOV_MM,
};
pub use contrast::{
    Contrast, CtOptions, FieldStrength, Modality, MrOptions, MrWeighting, RandomContrastOptions,
};
pub use dataset::{generate, generate_with, DatasetFile, DatasetOptions, Manifest, Task};
pub use deform::{random_deformation, Deformation, DeformationOptions};
pub use error::PhantomError;
pub use labels::{label_name, Label, Tissue};
pub use scene::{Grid, LabelRule, RenderOptions, Scene};
pub use shapes::Shape;
pub use shepp_logan::{shepp_logan, SheppLoganOptions, SheppLoganVariant};
