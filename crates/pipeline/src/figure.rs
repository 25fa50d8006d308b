//! Slice figures in radiological convention: axial, coronal and sagittal views of any volume
//! whatever its storage orientation, square pixels, window/level and a label overlay.
//!
//! The view is made exactly (permutes and flips, [`hounsfield_imgproc::grid::reorient`]), then
//! one slice is taken and, if its pixels are not square, resampled to square pixels:
//!
//! | view | image right → | image down → | slice index 0 is |
//! |---|---|---|---|
//! | axial | patient left | posterior | most inferior |
//! | coronal | patient left | inferior | most anterior |
//! | sagittal | posterior | inferior | most right |
//!
//! (Patient right on the image's left, as radiologists read films.)

use hounsfield_core::{LabelVolume, Volume};
use hounsfield_imgproc::grid::{extract_slice, reorient};
use hounsfield_imgproc::intensity::percentiles;
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::{resample_labels_to_spacing, resample_to_spacing};
use hounsfield_imgproc::{Axis, ImgprocError};
use hounsfield_io::raster::{render_slice, RgbImage};

use crate::study::ImageKind;

/// A radiological view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Transverse plane, seen from the feet.
    #[default]
    Axial,
    /// Frontal plane, seen from the front.
    Coronal,
    /// Side plane, seen from the patient's left.
    Sagittal,
}

impl View {
    /// Orientation code of the reoriented volume: letters for image right, image down, and
    /// increasing slice index.
    pub fn code(self) -> &'static str {
        match self {
            View::Axial => "LPS",
            View::Coronal => "LIP",
            View::Sagittal => "PIL",
        }
    }

    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            View::Axial => "axial",
            View::Coronal => "coronal",
            View::Sagittal => "sagittal",
        }
    }
}

/// Why a figure could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// Reorienting, slicing or resampling failed.
    #[error(transparent)]
    Imgproc(#[from] ImgprocError),
    /// Rendering or encoding failed.
    #[error(transparent)]
    Raster(#[from] hounsfield_io::raster::RasterError),
    /// The slice index is outside the view's slices.
    #[error("slice index {index} is outside the {view} view's {count} slices (0..{count})")]
    Index {
        /// Requested index.
        index: usize,
        /// View name.
        view: &'static str,
        /// Slices available.
        count: usize,
    },
    /// The label map is not on the image's grid.
    #[error("the label map is not on the image's grid: {0}")]
    Grid(#[from] hounsfield_core::CoreError),
    /// PNG encoding failed.
    #[error("png encoding failed: {0}")]
    Encode(String),
}

/// Takes slice `index` (default: the middle) of `vol` in `view`, with square pixels (the
/// smaller in-plane spacing). Returns the depth-1 slice and the index used.
pub fn view_slice(
    vol: &Volume<f32>,
    view: View,
    index: Option<usize>,
) -> Result<(Volume<f32>, usize), FigureError> {
    let r = reorient(vol, view.code())?;
    let count = r.dims()[2];
    let index = index.unwrap_or(count / 2);
    if index >= count {
        return Err(FigureError::Index { index, view: view.name(), count });
    }
    let s = extract_slice(&r, Axis::Z, index)?;
    let sp = s.geometry().spacing;
    let sq = sp[0].min(sp[1]);
    if (sp[0] - sp[1]).abs() > 1e-6 * sq {
        return Ok((resample_to_spacing(&s, [sq, sq, sp[2]], Interpolation::Linear)?, index));
    }
    Ok((s, index))
}

/// [`view_slice`] for a label map (nearest-neighbour when making pixels square).
pub fn view_labels(
    labels: &LabelVolume,
    view: View,
    index: Option<usize>,
) -> Result<LabelVolume, FigureError> {
    let r = reorient(labels.as_volume(), view.code())?;
    let count = r.dims()[2];
    let index = index.unwrap_or(count / 2);
    if index >= count {
        return Err(FigureError::Index { index, view: view.name(), count });
    }
    let s = LabelVolume::new(extract_slice(&r, Axis::Z, index)?);
    let sp = s.geometry().spacing;
    let sq = sp[0].min(sp[1]);
    if (sp[0] - sp[1]).abs() > 1e-6 * sq {
        return Ok(resample_labels_to_spacing(&s, [sq, sq, sp[2]])?);
    }
    Ok(s)
}

/// Default window (width, level): soft tissue (400, 40) for CT; otherwise from the 1st to
/// 10% beyond the 99.5th percentile, so the brightest tissue is not clipped to white.
pub fn auto_window(vol: &Volume<f32>, kind: ImageKind) -> (f64, f64) {
    if kind == ImageKind::Ct {
        return (400.0, 40.0);
    }
    match percentiles(vol, &[1.0, 99.5], None) {
        Ok(p) if p.len() == 2 && p[1] > p[0] => {
            let w = 1.1 * (p[1] - p[0]);
            (w, p[0] + 0.5 * w)
        }
        _ => {
            let (lo, hi, _) = vol.min_max_mean();
            let w = if hi > lo { hi - lo } else { 1.0 };
            (w, lo + 0.5 * w)
        }
    }
}

/// Renders one view of an image (and its labels, same grid) to RGB.
pub fn render_view(
    image: &Volume<f32>,
    labels: Option<&LabelVolume>,
    view: View,
    index: Option<usize>,
    window: (f64, f64),
    opacity: f32,
) -> Result<RgbImage, FigureError> {
    if let Some(l) = labels {
        image.require_same_grid(l.as_volume())?;
    }
    let (mut s, used) = view_slice(image, view, index)?;
    let ls = labels.map(|l| view_labels(l, view, Some(used))).transpose()?;
    // The DICOM linear VOI function needs a width of at least 1; unitless images (MR in 0..1)
    // have narrower windows, so scale values and window together to a 256-wide window.
    let (mut w, mut l) = window;
    if w.is_finite() && w > 0.0 && w < 256.0 {
        let k = 256.0 / w;
        s.data_mut().iter_mut().for_each(|v| *v = (*v as f64 * k) as f32);
        w = 256.0;
        l *= k;
    }
    Ok(render_slice(&s, w.max(1.0), l, ls.as_ref().map(|l| l.as_volume()), opacity)?)
}

/// Encodes an RGB image as PNG bytes.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, FigureError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&img.pixels, img.width as u32, img.height as u32, image::ExtendedColorType::Rgb8)
        .map_err(|e| FigureError::Encode(e.to_string()))?;
    Ok(out)
}

/// Formats a window number with about three significant digits.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Adds axial and coronal figures of an image to a step record, and, when labels are given
/// (same grid), the same views with the labels as a coloured overlay. Rendering problems
/// become a note in the summary rather than a failed step: figures illustrate, they are not
/// results.
pub fn add_views(
    record: &mut crate::study::StepRecord,
    title: &str,
    image: &Volume<f32>,
    kind: ImageKind,
    labels: Option<&LabelVolume>,
) {
    let window = auto_window(image, kind);
    let views: &[View] = if image.dims()[2] > 1 { &[View::Axial, View::Coronal] } else { &[View::Axial] };
    let labels = labels.filter(|l| image.same_grid(l.as_volume(), 1e-4));
    let overlays: &[bool] = if labels.is_some() { &[false, true] } else { &[false] };
    for &overlay in overlays {
        for &view in views {
            let l = if overlay { labels } else { None };
            match render_view(image, l, view, None, window, 0.45).and_then(|rgb| encode_png(&rgb)) {
                Ok(png) => record.figures.push(crate::study::Figure::Png {
                    title: format!(
                        "{title} — {}{} (W {} / L {})",
                        view.name(),
                        if overlay { " + labels" } else { "" },
                        short(window.0),
                        short(window.1)
                    ),
                    png,
                }),
                Err(e) => record.summary.push_str(&format!(" [figure {title} {}: {e}]", view.name())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    /// A volume whose voxel value encodes its world position: 100·L + 10·P + S (coarse, in mm).
    fn world_coded(g: Geometry, dims: [usize; 3]) -> Volume<f32> {
        let mut v = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    v.push((100.0 * p[0] + 10.0 * p[1] + p[2]) as f32);
                }
            }
        }
        Volume::from_vec(dims, g, v).unwrap()
    }

    #[test]
    fn views_are_radiological_whatever_the_storage() {
        // RAS-stored volume (as from NIfTI): x toward right, y toward anterior.
        let ras = Geometry {
            direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
            ..Default::default()
        };
        let v = world_coded(ras, [4, 3, 2]);
        let (ax, _) = view_slice(&v, View::Axial, Some(0)).unwrap();
        let d = ax.dims();
        // Moving right in the image goes to patient left (+L): value increases by 100 per mm.
        assert!(ax.data()[1] > ax.data()[0]);
        // Moving down goes posterior (+P): value increases by 10.
        assert!((ax.data()[d[0]] - ax.data()[0] - 10.0).abs() < 1e-3);
        let (cor, _) = view_slice(&v, View::Coronal, Some(0)).unwrap();
        let dc = cor.dims();
        // Down in a coronal image is inferior: value decreases by 1 per row.
        assert!((cor.data()[dc[0]] - cor.data()[0] + 1.0).abs() < 1e-3);
        let (sag, _) = view_slice(&v, View::Sagittal, Some(0)).unwrap();
        // Right in a sagittal image is posterior.
        assert!((sag.data()[1] - sag.data()[0] - 10.0).abs() < 1e-3);
    }

    #[test]
    fn anisotropic_pixels_become_square_and_bad_index_fails() {
        let g = Geometry { spacing: [1.0, 1.0, 3.0], ..Default::default() };
        let v = world_coded(g, [6, 6, 4]);
        let (cor, _) = view_slice(&v, View::Coronal, None).unwrap();
        assert_eq!(cor.geometry().spacing[0], cor.geometry().spacing[1]);
        assert_eq!(cor.dims()[1], 12); // 4 slices × 3 mm at 1 mm
        assert!(matches!(view_slice(&v, View::Axial, Some(4)), Err(FigureError::Index { count: 4, .. })));
        let rgb = render_view(&v, None, View::Axial, None, (100.0, 0.0), 0.5).unwrap();
        let png = encode_png(&rgb).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}
