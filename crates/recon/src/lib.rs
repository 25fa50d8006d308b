//! Reconstruction: `ct` (projectors, FBP/FDK, iterative, DRR), `pet` (MLEM/OSEM), `mri` (FFT, sampling, coils, SENSE, compressed sensing), `us` (channel data, beamforming, B-mode).
//!
//! # CT and X-ray ([`ct`])
//!
//! A [`ct::ScanGeometry`] (parallel, fan or cone beam; read from and written to TOML) says
//! where every ray of a scan goes in the patient's world (LPS, mm). A sinogram is a
//! `Volume<f32>` of detector columns × views × detector rows whose geometry describes the
//! detector ([`ct::geometry`] documents every convention, including scikit-image's). A
//! [`ct::Projector`] maps a volume on a [`ct::VolumeGrid`] to a sinogram (`A`) and back
//! (`Aᵀ`); [`ct::JosephProjector`] is the multi-threaded CPU one, and every iterative method
//! talks to the trait only. Analytic reconstruction ([`ct::fbp()`], [`ct::fdk()`],
//! [`ct::fdk_streamed`]) needs no projector.
//!
//! ```
//! use hounsfield_recon::ct::{analytic, fbp, FbpOptions, Filter, ScanGeometry};
//!
//! let scan = ScanGeometry::from_toml_str(
//!     "kind = \"parallel\"\nviews = 90\narc_deg = 180\ndetector_count = 64\ndetector_spacing_mm = 4.0",
//! )?;
//! // Exact line integrals of the Shepp–Logan head (256 mm wide), then FBP on the default grid
//! // (64² pixels of 4 mm centred on the isocentre).
//! let sino = scan.sinogram_volume(analytic::sinogram(&scan, &analytic::shepp_logan_ellipsoids(256.0, false))?)?;
//! let image = fbp(&sino, &scan, &FbpOptions { filter: Filter::Hann, ..Default::default() })?;
//! assert_eq!(image.dims(), [64, 64, 1]);
//! // 40 mm above the centre (phantom y = +0.31) lies the ellipse of value 0.3.
//! assert!((image.get(32, 32 - 10, 0).unwrap() - 0.3).abs() < 0.05);
//! # Ok::<(), hounsfield_recon::ReconError>(())
//! ```
//!
//! | task | functions |
//! |---|---|
//! | geometry | [`ct::ScanGeometry`], [`ct::GeometrySpec`] (TOML), [`ct::VolumeGrid`] |
//! | projection | [`ct::Projector`], [`ct::JosephProjector`], [`ct::analytic`] (exact ellipsoid sinograms) |
//! | analytic reconstruction | [`ct::fbp()`] (parallel, fan flat/equiangular, short scans), [`ct::fdk()`], [`ct::fdk_streamed`]; filters [`ct::Filter`] |
//! | iterative | [`ct::sirt`], [`ct::sart`] (SART / OS-SART), [`ct::cgls`], [`ct::tv`] (Chambolle–Pock) |
//! | simulation | [`ct::simulate()`] (HU → μ, photon noise), [`ct::drr()`] |
//! | demo | [`ct::demo_reconstruction`] |
//!
//! # PET ([`pet`])
//!
//! [`pet::osem`] and [`pet::mlem`] with attenuation correction ([`pet::attenuation_factors`])
//! on any projector, and [`pet::simulate_emission`] for Poisson-noisy data.
//!
//! # Ultrasound ([`us`])
//!
//! A linear-array [`us::Probe`] (TOML), channel data simulated from point scatterers
//! ([`us::simulate()`], speckle phantoms from label maps), delay-and-sum beamforming with
//! plane-wave compounding, apodization, dynamic aperture and the coherence factor
//! ([`us::beamform()`]), log-compressed B-mode images in mm ([`us::bmode()`]).

pub mod ct;
pub mod error;
pub mod mri;
pub mod pet;
pub mod us;

pub use error::ReconError;
