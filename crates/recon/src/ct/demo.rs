//! The reconstruction step of the demo study: a CT slice is scanned at full and low dose,
//! reconstructed by FBP and TV, scored against the truth, and radiographed.

use hounsfield_core::Volume;
use hounsfield_metrics::image::{psnr, rmse, ssim, DataRange, SsimOptions};

use super::fbp::{fbp, FbpOptions, Filter};
use super::geometry::{DetectorShape, ScanGeometry, VolumeGrid};
use super::iterative::{no_callback, tv, TvOptions};
use super::projector::JosephProjector;
use super::simulate::{drr, mu_to_hu, simulate, Dose, DrrOptions, SimulateOptions, MU_WATER_70KEV};
use crate::error::{invalid, ReconError};

/// Photons per ray of the demo's full-dose scan (a routine dose).
pub const FULL_DOSE_PHOTONS: f64 = 1e6;

/// Scores of one reconstruction against the truth, inside the scanner's field of view.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Which reconstruction (`"fbp full dose"`, `"fbp low dose"`, `"tv low dose"`).
    pub name: &'static str,
    /// Root mean squared error (HU) inside the field of view.
    pub rmse_hu: f64,
    /// PSNR (dB) inside the field of view, data range that of the truth.
    pub psnr_db: f64,
    /// SSIM over the whole slice (Wang et al. 2004, scikit-image's Gaussian window).
    pub ssim: f64,
}

/// Everything the demo's reconstruction step produces.
#[derive(Clone, Debug)]
pub struct DemoResult {
    /// The fan-beam scan (flat detector, 360°).
    pub scan: ScanGeometry,
    /// The truth: the axial slice that was scanned (HU).
    pub reference_hu: Volume<f32>,
    /// Full-dose sinogram ([`FULL_DOSE_PHOTONS`] per ray).
    pub sinogram_full: Volume<f32>,
    /// Low-dose sinogram.
    pub sinogram_low: Volume<f32>,
    /// FBP (Ram-Lak) of the full-dose sinogram, HU.
    pub fbp_full_hu: Volume<f32>,
    /// FBP (Hann) of the low-dose sinogram, HU.
    pub fbp_low_hu: Volume<f32>,
    /// TV reconstruction of the low-dose sinogram, HU.
    pub tv_low_hu: Volume<f32>,
    /// Scores of the three reconstructions, in that order.
    pub scores: Vec<Score>,
    /// Antero-posterior radiograph of the whole volume (line integrals, cone beam; one row
    /// when the input is a single slice).
    pub drr: Volume<f32>,
}

/// The demo's reconstruction step. `ct_hu` is one axial slice or a volume (its middle slice
/// is scanned; the DRR uses all of it), on an axial grid with square pixels; `views` over
/// 360° of a flat-detector fan beam that covers the slice; `dose` photons per ray for the
/// low-dose scan; `seed` for the noise. About a second at 128².
pub fn demo_reconstruction(
    ct_hu: &Volume<f32>,
    views: usize,
    dose: f64,
    seed: u64,
) -> Result<DemoResult, ReconError> {
    let [nx, ny, nz] = ct_hu.dims();
    let g = *ct_hu.geometry();
    let s = g.spacing[0];
    if (g.spacing[1] - s).abs() > 1e-6 * s {
        return Err(invalid("ct", "needs square pixels"));
    }
    let slice = if nz == 1 {
        ct_hu.clone()
    } else {
        let k = nz / 2;
        let data = ct_hu.data()[k * nx * ny..(k + 1) * nx * ny].to_vec();
        Volume::from_vec([nx, ny, 1], g.shifted_to([0.0, 0.0, k as f64]), data)?
    };
    let n = nx.max(ny);
    let width = n as f64 * s;
    let sod = (2.0 * width).max(300.0);
    let sdd = 2.0 * sod;
    let cols = (1.5 * n as f64).ceil() as usize;
    let iso = slice.geometry().index_to_world([(nx / 2) as f64, (ny / 2) as f64, 0.0]);
    let scan = ScanGeometry::fan(views, 360.0, cols, s * sdd / sod, sod, sdd, DetectorShape::Flat)?
        .with_isocentre(iso)?;
    let sim = |dose| SimulateOptions { dose, seed, ..Default::default() };
    let sinogram_full = simulate(&slice, &scan, &sim(Dose::Photons(FULL_DOSE_PHOTONS)))?;
    let sinogram_low = simulate(&slice, &scan, &sim(Dose::Photons(dose)))?;
    let grid = VolumeGrid::of(&slice)?;
    let to_hu = |v: &Volume<f32>| mu_to_hu(v, MU_WATER_70KEV);
    let fbp_full_hu =
        to_hu(&fbp(&sinogram_full, &scan, &FbpOptions { grid: Some(grid), ..Default::default() })?);
    let fbp_low_hu = to_hu(&fbp(
        &sinogram_low,
        &scan,
        &FbpOptions { grid: Some(grid), filter: Filter::Hann, ..Default::default() },
    )?);
    let p = JosephProjector::new(&scan, &grid)?;
    let tv_low_hu = to_hu(&tv(
        &p,
        &sinogram_low,
        &TvOptions { iterations: 100, ..Default::default() },
        &mut no_callback,
    )?);
    // The field of view: the disc every view covers (radius half the detector at the
    // isocentre, less a pixel).
    let radius = 0.5 * (cols as f64 - 2.0) * s;
    let mask = slice.map(|_| 0u8);
    let mut mask = mask;
    for j in 0..ny {
        for i in 0..nx {
            let w = slice.index_to_world(i as f64, j as f64, 0.0);
            let (dx, dy) = (w[0] - iso[0], w[1] - iso[1]);
            if dx * dx + dy * dy <= radius * radius {
                if let Some(m) = mask.get_mut(i, j, 0) {
                    *m = 1;
                }
            }
        }
    }
    let metric = |e: hounsfield_metrics::MetricsError| ReconError::Metrics(e.to_string());
    let mut scores = Vec::new();
    for (name, img) in
        [("fbp full dose", &fbp_full_hu), ("fbp low dose", &fbp_low_hu), ("tv low dose", &tv_low_hu)]
    {
        scores.push(Score {
            name,
            rmse_hu: rmse(img, &slice, Some(&mask)).map_err(metric)?,
            psnr_db: psnr(img, &slice, DataRange::Reference, Some(&mask)).map_err(metric)?,
            ssim: ssim(img, &slice, &SsimOptions::default()).map_err(metric)?,
        });
    }
    let vol_iso = g.index_to_world([(nx / 2) as f64, (ny / 2) as f64, (nz / 2) as f64]);
    let cone =
        ScanGeometry::cone(1, 360.0, [cols, nz.max(1)], s * 1.5, 1000.0, 1500.0)?.with_isocentre(vol_iso)?;
    let drr = drr(ct_hu, &cone, 0, &DrrOptions::default())?;
    Ok(DemoResult {
        scan,
        reference_hu: slice,
        sinogram_full,
        sinogram_low,
        fbp_full_hu,
        fbp_low_hu,
        tv_low_hu,
        scores,
        drr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    #[test]
    fn demo_runs_and_tv_beats_low_dose_fbp() {
        // A water disc (0 HU) with a bone insert (+1000) in air, 64², 1 mm pixels.
        let n = 64;
        let g = Geometry { origin: [-32.0, -32.0, 0.0], ..Geometry::default() };
        let mut v = Volume::filled([n, n, 1], g, -1000.0f32).unwrap();
        for j in 0..n {
            for i in 0..n {
                let (x, y) = (i as f64 - 32.0, j as f64 - 32.0);
                let r2 = x * x + y * y;
                if r2 < 24.0 * 24.0 {
                    *v.get_mut(i, j, 0).unwrap() =
                        if (x - 8.0).powi(2) + y * y < 36.0 { 1000.0 } else { 0.0 };
                }
            }
        }
        let r = demo_reconstruction(&v, 90, 2e3, 1).unwrap();
        assert_eq!(r.scores.len(), 3);
        let (full, low, tvs) = (&r.scores[0], &r.scores[1], &r.scores[2]);
        // Physics, not tuning: more photons, less error; TV removes low-dose noise.
        assert!(full.rmse_hu < low.rmse_hu, "{full:?} {low:?}");
        assert!(tvs.rmse_hu < low.rmse_hu, "{tvs:?} {low:?}");
        assert_eq!(r.drr.dims(), [96, 1, 1]);
    }
}
