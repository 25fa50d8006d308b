//! MRI: centred FFTs, the multi-coil data model, sampling masks and trajectories, coil
//! sensitivities (birdcage, Walsh, ESPIRiT), and reconstructions (zero-filled, CG-SENSE,
//! GRAPPA, compressed sensing, radial NUFFT), with simulation and the demo step.
//!
//! # Data model
//!
//! A [`CoilArray`] is `coils` complex grids of `nx × ny × nz`, x-fastest and coil slowest —
//! BART's dimensions 0–3, so a `.cfl` maps onto it unchanged (`hounsfield_io::cfl`). It holds
//! k-space, coil images or sensitivity maps, and carries the **image grid** it corresponds
//! to ([`CoilArray::geometry`]; LPS, mm). K-space sample `i` along an axis of `n` is the
//! spatial frequency `(i − n/2)/(n·spacing)`: index `n/2` is DC, as in BART and fastMRI. A
//! [`Mask`] marks the sampled points of a Cartesian grid; a [`sampling::Trajectory`] lists
//! non-Cartesian points in cycles per field of view. Images are `Volume<Complex32>` on the
//! k-space's grid.
//!
//! ```
//! use hounsfield_core::Geometry;
//! use hounsfield_recon::ct::no_callback;
//! use hounsfield_recon::mri::{coils, cs, sampling, simulate, Mask};
//! use hounsfield_core::Volume;
//!
//! // A 64² disc seen by 8 birdcage coils, Poisson-disc sampled at R = 3.
//! let g = Geometry::default();
//! let disc: Vec<f32> = (0..64 * 64)
//!     .map(|i| if ((i % 64) as f32 - 32.0).hypot((i / 64) as f32 - 32.0) < 20.0 { 1.0 } else { 0.0 })
//!     .collect();
//! let image = Volume::from_vec([64, 64, 1], g, disc)?;
//! let maps = coils::birdcage([64, 64, 1], 8, g)?;
//! let mask = sampling::poisson_disc([64, 64, 1], &sampling::PoissonOptions { acceleration: 3.0, calibration: 16, ..Default::default() }, 1)?;
//! let k = simulate::simulate_kspace(&image, &maps, Some(&mask), &simulate::KspaceNoise::default())?;
//! let x = cs::pics(&k, &maps, Some(&mask), &cs::PicsOptions::default(), &mut no_callback)?;
//! assert!((x.get(32, 32, 0).unwrap().norm() - 1.0).abs() < 0.1);
//! # Ok::<(), hounsfield_recon::ReconError>(())
//! ```
//!
//! | task | items | reference |
//! |---|---|---|
//! | FFT | [`CenteredFft`] (orthonormal, centred, planned once, parallel over coils/lines) | numpy `fftshift(fftn(ifftshift(x), norm="ortho"))` |
//! | masks | [`sampling::random_lines`], [`sampling::equispaced_lines`], [`sampling::poisson_disc`] | fastMRI; Lustig 2007 |
//! | trajectories | [`sampling::radial`] (uniform, golden angle) | Winkelmann 2007 |
//! | coils | [`coils::birdcage`], [`coils::rss`], [`coils::combine`], [`coils::walsh`], [`espirit::espirit`] | Walsh 2000; Uecker 2014 |
//! | model | [`sense::SenseOp`] (`A`, `Aᴴ`, `AᴴA`) | Pruessmann 1999 |
//! | Cartesian recon | [`sense::zero_filled`], [`sense::cg_sense`], [`grappa::grappa`], [`cs::pics`] (l1-wavelet FISTA, TV ADMM, l2) | Pruessmann 2001; Griswold 2002; Lustig 2007; Beck & Teboulle 2009 |
//! | wavelets | [`wavelet::WaveletTransform`] (Haar, Db2, Db4; periodic, orthonormal) | Daubechies 1992 |
//! | non-Cartesian | [`nufft::Nufft`] (Kaiser–Bessel gridding), [`nufft::gridding`], [`nufft::cg_sense_radial`] | Beatty 2005; Pipe & Menon 1999 |
//! | simulation | [`simulate::simulate_kspace`], [`nufft::simulate_radial`] | |
//! | demo | [`demo::demo_reconstruction`] | |
//!
//! Errors are [`crate::ReconError`]s: mismatched grids of k-space, mask and maps are
//! [`hounsfield_core::CoreError::GridMismatch`], NaN or infinite samples
//! [`crate::ReconError::NonFiniteInput`], and every size is checked against the memory cap
//! before allocating. Iterative methods report each iteration to a
//! [`crate::ct::Callback`] (progress bars, early stopping). Benchmarks against BART:
//! `bench/mri_vs_bart.py`, results in `docs/benchmarks-mri.md`.

pub mod array;
pub mod coils;
pub mod cs;
pub mod demo;
pub mod espirit;
pub mod fft;
pub mod grappa;
pub mod nufft;
pub mod sampling;
pub mod sense;
pub mod simulate;
pub mod wavelet;

pub use array::{centred_geometry, CoilArray, Mask};
pub use demo::{demo_reconstruction, MriDemoResult, MriScore};
pub use fft::{CenteredFft, Direction};
/// The complex sample type (rustfft's, from `num-complex`).
pub use rustfft::num_complex::Complex32;
