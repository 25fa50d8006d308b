//! Ultrasound image quality as the PICMUS plane-wave challenge measures it (Liebgott et al.
//! 2016, IEEE IUS): resolution as the full width at half maximum of point targets, contrast
//! and contrast-to-noise ratio of cysts, and speckle SNR.
//!
//! Images are 2-D volumes `[columns, rows, 1]` whose x axis is lateral and y axis depth, in
//! mm through their geometry (origin and spacing; the direction is taken as identity). Every
//! statistic is of the **linear envelope**; a B-mode image in dB is converted back with
//! `10^(dB/20)` ([`Scale::Decibel`]).
//!
//! - FWHM: through the brightest pixel within `search_mm` of the target, the lateral (row) and
//!   axial (column) profiles are cut where they fall to half the peak amplitude (−6 dB),
//!   interpolating linearly between pixels.
//! - Contrast ratio `CR = 20·log10(μ_in/μ_out)` dB and `CNR = |μ_in − μ_out| / √(σ_in² + σ_out²)`,
//!   inside a disc and in an annulus around it. For fully developed speckle (Rayleigh
//!   envelope) an echo-free cyst has `CNR = μ/σ = 1.91` and an inclusion of amplitude
//!   ratio `k` has `CR = 20·log10 k`.
//! - Speckle SNR `μ/σ` in a disc of homogeneous speckle (1.91 for a Rayleigh envelope).

use hounsfield_core::Volume;

use crate::MetricsError;

/// How pixel values relate to the envelope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Linear envelope amplitude.
    Linear,
    /// Log-compressed, dB (`20·log10` of the envelope up to a constant).
    #[default]
    Decibel,
}

/// Lateral and axial resolution of one point target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fwhm {
    /// Position of the peak, `[x, z]` mm.
    pub peak_mm: [f64; 2],
    /// Lateral FWHM, mm.
    pub lateral_mm: f64,
    /// Axial FWHM, mm.
    pub axial_mm: f64,
}

/// Contrast of a region against its surroundings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contrast {
    /// `20·log10(μ_in/μ_out)`, dB.
    pub cr_db: f64,
    /// `|μ_in − μ_out| / √(σ_in² + σ_out²)`.
    pub cnr: f64,
    /// Mean and standard deviation of the envelope inside.
    pub inside: (f64, f64),
    /// Mean and standard deviation of the envelope outside.
    pub outside: (f64, f64),
}

fn linear(image: &Volume<f32>, scale: Scale) -> Result<(Vec<f64>, usize, usize), MetricsError> {
    let [nx, nz, nk] = image.dims();
    if nk != 1 || nx < 3 || nz < 3 {
        return Err(MetricsError::InvalidParameter {
            name: "image",
            reason: format!("must be a 2-D image of at least 3 × 3 pixels, got {nx} × {nz} × {nk}"),
        });
    }
    if image.data().iter().any(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite("ultrasound image"));
    }
    let v = image
        .data()
        .iter()
        .map(|&x| match scale {
            Scale::Linear => x as f64,
            Scale::Decibel => 10f64.powf(x as f64 / 20.0),
        })
        .collect();
    Ok((v, nx, nz))
}

/// Width of a profile at half of `values[peak]`, in samples (linear interpolation).
fn half_width(values: &[f64], peak: usize) -> Option<f64> {
    let half = values[peak] / 2.0;
    let mut left = None;
    for i in (0..peak).rev() {
        if values[i] <= half {
            left = Some(i as f64 + (half - values[i]) / (values[i + 1] - values[i]));
            break;
        }
    }
    let mut right = None;
    for i in peak + 1..values.len() {
        if values[i] <= half {
            right = Some(i as f64 - (half - values[i]) / (values[i - 1] - values[i]));
            break;
        }
    }
    Some(right? - left?)
}

/// FWHM of the point target nearest `target_mm` (`[x, z]`): the brightest pixel within
/// `search_mm` of it, and the widths of its row and column at half amplitude.
pub fn fwhm(
    image: &Volume<f32>,
    scale: Scale,
    target_mm: [f64; 2],
    search_mm: f64,
) -> Result<Fwhm, MetricsError> {
    let (v, nx, nz) = linear(image, scale)?;
    let g = image.geometry();
    let (dx, dz) = (g.spacing[0], g.spacing[1]);
    let mut best: Option<(usize, usize)> = None;
    for j in 0..nz {
        for i in 0..nx {
            let (x, z) = (g.origin[0] + i as f64 * dx, g.origin[1] + j as f64 * dz);
            if (x - target_mm[0]).hypot(z - target_mm[1]) <= search_mm
                && best.is_none_or(|(bi, bj)| v[j * nx + i] > v[bj * nx + bi])
            {
                best = Some((i, j));
            }
        }
    }
    let (i, j) = best.ok_or(MetricsError::Empty("no pixel within the search radius of the target"))?;
    let row: Vec<f64> = (0..nx).map(|k| v[j * nx + k]).collect();
    let col: Vec<f64> = (0..nz).map(|k| v[k * nx + i]).collect();
    let lateral =
        half_width(&row, i).ok_or(MetricsError::Empty("the lateral profile never falls to half the peak"))?;
    let axial =
        half_width(&col, j).ok_or(MetricsError::Empty("the axial profile never falls to half the peak"))?;
    Ok(Fwhm {
        peak_mm: [g.origin[0] + i as f64 * dx, g.origin[1] + j as f64 * dz],
        lateral_mm: lateral * dx,
        axial_mm: axial * dz,
    })
}

/// Mean and standard deviation of the envelope over pixels whose distance from `centre_mm`
/// lies in `[r_min, r_max]` mm, and their count.
pub fn ring_stats(
    image: &Volume<f32>,
    scale: Scale,
    centre_mm: [f64; 2],
    r_min: f64,
    r_max: f64,
) -> Result<(f64, f64, usize), MetricsError> {
    let (v, nx, nz) = linear(image, scale)?;
    let g = image.geometry();
    let (mut n, mut s, mut s2) = (0usize, 0.0, 0.0);
    for j in 0..nz {
        for i in 0..nx {
            let r = (g.origin[0] + i as f64 * g.spacing[0] - centre_mm[0])
                .hypot(g.origin[1] + j as f64 * g.spacing[1] - centre_mm[1]);
            if r >= r_min && r <= r_max {
                let x = v[j * nx + i];
                n += 1;
                s += x;
                s2 += x * x;
            }
        }
    }
    if n < 2 {
        return Err(MetricsError::Empty("fewer than two pixels in the region"));
    }
    let mean = s / n as f64;
    Ok((mean, (s2 / n as f64 - mean * mean).max(0.0).sqrt(), n))
}

/// Contrast of the disc of radius `r_in` mm at `centre_mm` against the annulus
/// `[r_out.0, r_out.1]` mm around it.
pub fn contrast(
    image: &Volume<f32>,
    scale: Scale,
    centre_mm: [f64; 2],
    r_in: f64,
    r_out: (f64, f64),
) -> Result<Contrast, MetricsError> {
    if !(r_in > 0.0 && r_out.0 >= r_in && r_out.1 > r_out.0) {
        return Err(MetricsError::InvalidParameter {
            name: "regions",
            reason: format!("need 0 < inner radius ≤ annulus start < annulus end, got {r_in}, {r_out:?}"),
        });
    }
    let (mi, si, _) = ring_stats(image, scale, centre_mm, 0.0, r_in)?;
    let (mo, so, _) = ring_stats(image, scale, centre_mm, r_out.0, r_out.1)?;
    Ok(Contrast {
        cr_db: 20.0 * (mi / mo).log10(),
        cnr: (mi - mo).abs() / (si * si + so * so).sqrt(),
        inside: (mi, si),
        outside: (mo, so),
    })
}

/// Speckle SNR `μ/σ` of the envelope in the disc of radius `r` mm at `centre_mm`.
pub fn speckle_snr(
    image: &Volume<f32>,
    scale: Scale,
    centre_mm: [f64; 2],
    r: f64,
) -> Result<f64, MetricsError> {
    let (m, s, _) = ring_stats(image, scale, centre_mm, 0.0, r)?;
    if s <= 0.0 {
        return Err(MetricsError::Empty("the region has no speckle (zero standard deviation)"));
    }
    Ok(m / s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    fn image(nx: usize, nz: usize, h: f64, f: impl Fn(f64, f64) -> f64) -> Volume<f32> {
        let g = Geometry {
            origin: [-(nx as f64 - 1.0) * h / 2.0, 10.0, 0.0],
            spacing: [h, h, 1.0],
            ..Geometry::default()
        };
        let data = (0..nx * nz)
            .map(|k| f(g.origin[0] + (k % nx) as f64 * h, g.origin[1] + (k / nx) as f64 * h) as f32)
            .collect();
        Volume::from_vec([nx, nz, 1], g, data).unwrap()
    }

    #[test]
    fn fwhm_of_a_gaussian_spot() {
        // exp(−r²/2s²) is at half height at s·√(2 ln 2): FWHM 2.3548·s.
        let (sx, sz) = (0.4, 0.15);
        let img = image(201, 201, 0.02, |x, z| {
            (-(x * x) / (2.0 * sx * sx) - (z - 12.0).powi(2) / (2.0 * sz * sz)).exp()
        });
        let f = fwhm(&img, Scale::Linear, [0.05, 12.1], 1.0).unwrap();
        let k = 2.0 * (2.0 * std::f64::consts::LN_2).sqrt();
        assert!((f.lateral_mm - k * sx).abs() < 1e-3, "{f:?}");
        assert!((f.axial_mm - k * sz).abs() < 1e-3, "{f:?}");
        assert!((f.peak_mm[0]).abs() < 1e-9 && (f.peak_mm[1] - 12.0).abs() < 1e-9);
        // The same image in dB gives the same widths.
        let db = img.map(|&v| 20.0 * v.max(1e-6).log10());
        let g = fwhm(&db, Scale::Decibel, [0.0, 12.0], 1.0).unwrap();
        assert!((g.lateral_mm - f.lateral_mm).abs() < 1e-4);
    }

    #[test]
    fn contrast_of_two_levels() {
        // Inside 1, outside 2 (no spread): CR −6.02 dB; alternating 1/3 outside: σ 1.
        let img = image(101, 101, 0.1, |x, z| if x.hypot(z - 15.0) <= 2.0 { 1.0 } else { 2.0 });
        let c = contrast(&img, Scale::Linear, [0.0, 15.0], 2.0, (2.5, 4.0)).unwrap();
        assert!((c.cr_db + 6.0206).abs() < 1e-3, "{c:?}");
        assert!(c.cnr.is_infinite() || c.cnr > 1e6);
        assert!(contrast(&img, Scale::Linear, [0.0, 15.0], 2.0, (1.0, 4.0)).is_err());
        let flat = image(11, 11, 1.0, |_, _| 3.0);
        assert!(speckle_snr(&flat, Scale::Linear, [0.0, 15.0], 3.0).is_err());
    }
}
