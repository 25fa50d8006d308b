//! Ultrasound: linear-array channel data ([`probe`], [`simulate()`]), delay-and-sum
//! beamforming with plane-wave compounding ([`beamform()`]), envelope detection, log
//! compression and B-mode images in mm ([`bmode`]).
//!
//! Channel data are `[samples, elements, transmissions]`, samples fastest, stored as a NIfTI
//! volume whose spacing is `[1/fs in µs, pitch in mm, 1]`, with the probe and the
//! transmissions in a TOML file beside it ([`Probe`]). B-mode images are 2-D volumes
//! `[columns, rows, 1]` whose x axis is lateral and y axis depth (mm; origin at the first
//! pixel), in the probe's own frame: ultrasound has no patient coordinates.
//!
//! ```
//! use hounsfield_recon::us::{beamform, bmode, simulate, Acquisition, BeamformOptions, ImageGrid, Probe, Scatterer, SimulateOptions};
//!
//! let mut probe = Probe::l11_4v();
//! probe.acquisition = Some(Acquisition { angles_deg: vec![0.0], ..Default::default() });
//! let point = [Scatterer { x: 0.0, z: 20.0, amplitude: 1.0 }];
//! // 1024 samples at 20.8 MHz record echoes from up to about 38 mm.
//! let opts = SimulateOptions { samples: Some(1024), snr_db: None, ..Default::default() };
//! let (rf, dims) = simulate(&probe, &probe.transmits(), &point, &opts)?;
//! let grid = ImageGrid::spanning([-5.0, 5.0], [15.0, 25.0], 101, 101)?;
//! let image = bmode(&rf, dims, &probe, &grid, &BeamformOptions::default(), 60.0)?;
//! // The brightest pixel is the point, at (0, 20) mm.
//! let peak = image.data().iter().position(|&v| v == 0.0).unwrap();
//! assert_eq!((peak % 101, peak / 101), (50, 50));
//! # Ok::<(), hounsfield_recon::ReconError>(())
//! ```

pub mod beamform;
pub mod probe;
pub mod simulate;

pub use beamform::{
    beamform, log_compress, time_gain_compensate, Apodization, BeamformOptions, Beamformed, ImageGrid, Method,
};
pub use probe::{Acquisition, Probe, Transmit};
pub use simulate::{predicted_fwhm_mm, simulate, PhantomKind, Scatterer, SimulateOptions, UsPhantom};

use hounsfield_core::{Geometry, Volume};

use crate::error::ReconError;

/// A 2-D image on `grid` as a volume: x lateral, y depth (mm), origin at the first pixel.
pub fn image_volume(grid: &ImageGrid, data: Vec<f32>) -> Result<Volume<f32>, ReconError> {
    let g =
        Geometry { origin: [grid.x0, grid.z0, 0.0], spacing: [grid.dx, grid.dz, 1.0], ..Geometry::default() };
    Ok(Volume::from_vec([grid.nx, grid.nz, 1], g, data)?)
}

/// Beamforms and log-compresses: the B-mode image in dB (`[−dynamic_range, 0]`).
pub fn bmode(
    rf: &[f32],
    dims: [usize; 3],
    probe: &Probe,
    grid: &ImageGrid,
    options: &BeamformOptions,
    dynamic_range_db: f64,
) -> Result<Volume<f32>, ReconError> {
    let b = beamform(rf, dims, probe, grid, options)?;
    image_volume(grid, log_compress(&b.envelope(), dynamic_range_db)?)
}

/// Channel data as a volume (`[samples, elements, transmissions]`; spacing `1/fs` µs, pitch mm, 1).
pub fn channel_volume(probe: &Probe, rf: Vec<f32>, dims: [usize; 3]) -> Result<Volume<f32>, ReconError> {
    let g = Geometry { spacing: [1.0 / probe.fs_mhz(), probe.pitch_mm, 1.0], ..Geometry::default() };
    Ok(Volume::from_vec(dims, g, rf)?)
}
