//! PNG and JPEG 2-D images in (as depth-1 volumes), PNG out, and the slice renderer behind
//! the CLI's `slice` command.
//!
//! # Reading ([`read`], [`read_from_bytes`])
//!
//! | pixels | volume |
//! |---|---|
//! | grey 1/2/4/8-bit (low depths scaled to 0..=255 as PNG asks) | `U8` |
//! | grey 16-bit | `U16` |
//! | RGB/RGBA/palette with r = g = b everywhere (a grey image stored in colour) | `U8`/`U16`, exact grey |
//! | real colour | `F32` luminance `0.299 R + 0.587 G + 0.114 B` (ITU-R BT.601 luma weights, the ones PIL's `convert("L")` uses), kept as f32 so no rounding is added |
//!
//! Alpha is ignored. The geometry is the pixel grid: spacing 1 mm, origin 0, identity
//! direction; row 0 (the top row) is y = 0. (ITK/SimpleITK give the same grid: they ignore
//! `pHYs` resolution too.)
//!
//! # Writing ([`write_png_volume`])
//!
//! A depth-1 volume whose values are all integers in 0..=255 becomes an 8-bit grey PNG with
//! those values. Anything else becomes a 16-bit grey PNG: values that are all integers in
//! 0..=65535 are stored as they are; otherwise the finite range `[min, max]` is mapped
//! linearly onto 0..=65535 (rounded; NaN → 0, ±∞ clamp; a constant image → 0), so the PNG
//! keeps the image's contrast but not its units.
//!
//! # Rendering slices ([`render_slice`], [`write_png_rgb`])
//!
//! Grey levels come from the DICOM linear VOI function (PS3.3 C.11.2.1.2.1) with window
//! width `w` ≥ 1 and centre `c`: `x ≤ c − ½ − (w−1)/2 → 0`, `x > c − ½ + (w−1)/2 → 255`,
//! else `((x − (c − ½)) / (w − 1) + ½) · 255`, rounded. Labels 1, 2, … are blended over the
//! grey with `opacity` using [`LABEL_COLOURS`] (label `l` takes entry `(l − 1) mod 20`);
//! label 0 is transparent.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hounsfield_core::{memory_cap, AnyVolume, CoreError, Geometry, Scalar, Volume};
use image::{DynamicImage, ExtendedColorType, ImageEncoder};

use crate::atomic::write_atomic;

/// Errors reading, rendering or writing PNG/JPEG.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// The file could not be opened or read.
    #[error("cannot read image file: {source}: {}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The PNG/JPEG data could not be decoded (corrupt, truncated, unsupported variant).
    #[error("cannot decode image: {source}: {}", .path.display())]
    Decode {
        /// The decoder's error.
        source: image::ImageError,
        /// The file.
        path: PathBuf,
    },
    /// Decoding would need more memory than the memory cap allows.
    #[error("cannot allocate image pixels: {source}: {}", .path.display())]
    MemoryCap {
        /// The cap error.
        source: CoreError,
        /// The file.
        path: PathBuf,
    },
    /// The volume cannot be written as a PNG (depth > 1, size beyond PNG's limits).
    #[error("cannot write PNG of dims {dims:?}: {reason}: {}", .path.display())]
    WriteVolume {
        /// The volume's dimensions.
        dims: [usize; 3],
        /// What is wrong.
        reason: String,
        /// The target file.
        path: PathBuf,
    },
    /// [`render_slice`] was given inconsistent input (shapes, window, opacity).
    #[error("cannot render slice: {reason}")]
    RenderSlice {
        /// What is wrong.
        reason: String,
    },
    /// Encoding or writing the PNG failed (nothing is left under the target name).
    #[error("cannot write PNG file: {source}: {}", .path.display())]
    Write {
        /// The OS or encoder error.
        source: io::Error,
        /// The target file.
        path: PathBuf,
    },
}

/// Label for bytes in memory.
const MEMORY: &str = "<memory>";

/// Reads a PNG or JPEG as a depth-1 volume (see the module docs for how colour is handled).
pub fn read(path: &Path) -> Result<AnyVolume, RasterError> {
    let bytes = std::fs::read(path).map_err(|source| RasterError::Open { source, path: path.into() })?;
    decode(&bytes, path)
}

/// Parses a PNG or JPEG held in memory.
pub fn read_from_bytes(bytes: &[u8]) -> Result<AnyVolume, RasterError> {
    decode(bytes, Path::new(MEMORY))
}

fn decode(bytes: &[u8], path: &Path) -> Result<AnyVolume, RasterError> {
    let mut reader = image::ImageReader::new(io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| RasterError::Open { source, path: path.into() })?;
    // The decoder's own allocation limit is our memory cap (its default is 512 MiB).
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(memory_cap());
    reader.limits(limits);
    let img = reader.decode().map_err(|source| match source {
        image::ImageError::Limits(_) => RasterError::MemoryCap {
            source: CoreError::MemoryCap { bytes: 0, cap: memory_cap() },
            path: path.into(),
        },
        source => RasterError::Decode { source, path: path.into() },
    })?;
    Ok(to_volume(img))
}

fn grid<T>(w: u32, h: u32, data: Vec<T>) -> Volume<T> {
    Volume::from_vec([w as usize, h as usize, 1], Geometry::default(), data)
        .unwrap_or_else(|_| unreachable!("the decoder gives w·h pixels"))
}

/// BT.601 luma of an RGB triple.
#[inline]
fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Grey if every pixel has r = g = b, else luminance as f32. `px` yields (r, g, b).
fn colour_to_volume<T: Scalar + PartialEq + Into<f32>>(
    w: u32,
    h: u32,
    px: impl Iterator<Item = [T; 3]> + Clone,
    wrap: impl FnOnce(Volume<T>) -> AnyVolume,
) -> AnyVolume {
    if px.clone().all(|[r, g, b]| r == g && g == b) {
        wrap(grid(w, h, px.map(|[r, _, _]| r).collect()))
    } else {
        AnyVolume::F32(grid(w, h, px.map(|[r, g, b]| luma(r.into(), g.into(), b.into())).collect()))
    }
}

fn to_volume(img: DynamicImage) -> AnyVolume {
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageLuma8(b) => AnyVolume::U8(grid(w, h, b.into_raw())),
        DynamicImage::ImageLuma16(b) => AnyVolume::U16(grid(w, h, b.into_raw())),
        DynamicImage::ImageLumaA8(b) => AnyVolume::U8(grid(w, h, b.pixels().map(|p| p.0[0]).collect())),
        DynamicImage::ImageLumaA16(b) => AnyVolume::U16(grid(w, h, b.pixels().map(|p| p.0[0]).collect())),
        DynamicImage::ImageRgb8(b) => colour_to_volume(w, h, b.pixels().map(|p| p.0), AnyVolume::U8),
        DynamicImage::ImageRgba8(b) => {
            colour_to_volume(w, h, b.pixels().map(|p| [p.0[0], p.0[1], p.0[2]]), AnyVolume::U8)
        }
        DynamicImage::ImageRgb16(b) => colour_to_volume(w, h, b.pixels().map(|p| p.0), AnyVolume::U16),
        DynamicImage::ImageRgba16(b) => {
            colour_to_volume(w, h, b.pixels().map(|p| [p.0[0], p.0[1], p.0[2]]), AnyVolume::U16)
        }
        other => {
            let f = other.into_rgb32f();
            colour_to_volume(w, h, f.pixels().map(|p| p.0), AnyVolume::F32)
        }
    }
}

/// The 8- or 16-bit grey pixels [`write_png_volume`] stores (see the module docs).
enum Grey {
    L8(Vec<u8>),
    L16(Vec<u16>),
}

fn grey_pixels(v: &AnyVolume) -> Grey {
    fn go<T: Scalar>(v: &Volume<T>) -> Grey {
        let vals = || v.data().iter().map(|x| x.to_f64());
        let integral = |max: f64| vals().all(|x| x.fract() == 0.0 && (0.0..=max).contains(&x));
        if integral(255.0) {
            return Grey::L8(vals().map(|x| x as u8).collect());
        }
        if integral(65535.0) {
            return Grey::L16(vals().map(|x| x as u16).collect());
        }
        let (lo, hi) = vals()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let scale = if hi > lo { 65535.0 / (hi - lo) } else { 0.0 };
        Grey::L16(
            vals()
                .map(|x| if x.is_nan() { 0 } else { ((x - lo) * scale).round().clamp(0.0, 65535.0) as u16 })
                .collect(),
        )
    }
    hounsfield_core::with_any_volume!(v, v => go(v))
}

/// Writes a depth-1 volume as a grey PNG: 8-bit when every value is an integer in 0..=255,
/// else 16-bit (values kept when they are integers in 0..=65535, else the finite range
/// rescaled onto 0..=65535). A depth > 1 is [`RasterError::WriteVolume`]. The file appears
/// only when complete.
pub fn write_png_volume(path: &Path, volume: &AnyVolume) -> Result<(), RasterError> {
    let dims = volume.dims();
    let bad = |reason: String| RasterError::WriteVolume { dims, reason, path: path.into() };
    if dims[2] != 1 {
        return Err(bad("a PNG holds one slice; extract a slice first".into()));
    }
    let (w, h) = png_size(dims).map_err(bad)?;
    let (bytes, colour) = match grey_pixels(volume) {
        Grey::L8(p) => (p, ExtendedColorType::L8),
        // The encoder takes native-endian 16-bit samples and writes them big-endian.
        Grey::L16(p) => (bytemuck::cast_slice::<u16, u8>(&p).to_vec(), ExtendedColorType::L16),
    };
    encode_png(path, &bytes, w, h, colour)
}

fn png_size(dims: [usize; 3]) -> Result<(u32, u32), String> {
    // PNG's limit is 2³¹ − 1 per side.
    let fit = |n: usize| u32::try_from(n).ok().filter(|&n| n <= i32::MAX as u32);
    match (fit(dims[0]), fit(dims[1])) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err("wider or taller than PNG allows".into()),
    }
}

fn encode_png(
    path: &Path,
    bytes: &[u8],
    w: u32,
    h: u32,
    colour: ExtendedColorType,
) -> Result<(), RasterError> {
    write_atomic::<io::Error, _>(path, |out| {
        image::codecs::png::PngEncoder::new(out as &mut dyn Write)
            .write_image(bytes, w, h, colour)
            .map_err(io::Error::other)
    })
    .map_err(|source| RasterError::Write { source, path: path.into() })
}

/// An 8-bit RGB picture, rows top to bottom, pixels `[r, g, b]` interleaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `3 · width · height` bytes: row 0 first, each pixel r, g, b.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// Pixel `(x, y)` (y = 0 is the top row), or `None` outside.
    pub fn get(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let o = 3 * (y * self.width + x);
        self.pixels.get(o..o + 3).map(|p| [p[0], p[1], p[2]])
    }
}

/// Colours of labels 1..=20 (label `l` uses entry `(l − 1) mod 20`): Sasha Trubetskoy's
/// "20 simple, distinct colours" (2017) with the grey, white and black entries, which vanish on
/// a grey image, replaced by dark green, sky blue and gold.
pub const LABEL_COLOURS: [[u8; 3]; 20] = [
    [230, 25, 75],   // red
    [60, 180, 75],   // green
    [255, 225, 25],  // yellow
    [0, 130, 200],   // blue
    [245, 130, 48],  // orange
    [145, 30, 180],  // purple
    [70, 240, 240],  // cyan
    [240, 50, 230],  // magenta
    [210, 245, 60],  // lime
    [250, 190, 212], // pink
    [0, 128, 128],   // teal
    [220, 190, 255], // lavender
    [170, 110, 40],  // brown
    [255, 250, 200], // beige
    [128, 0, 0],     // maroon
    [170, 255, 195], // mint
    [128, 128, 0],   // olive
    [255, 215, 180], // apricot
    [0, 0, 128],     // navy
    [0, 100, 0],     // dark green
];

/// DICOM PS3.3 C.11.2.1.2.1 linear VOI function onto 0..=255 (`width` ≥ 1).
#[inline]
fn voi_linear(x: f64, width: f64, centre: f64) -> u8 {
    if x.is_nan() || x <= centre - 0.5 - (width - 1.0) / 2.0 {
        0
    } else if x > centre - 0.5 + (width - 1.0) / 2.0 {
        255
    } else {
        (((x - (centre - 0.5)) / (width - 1.0) + 0.5) * 255.0).round().clamp(0.0, 255.0) as u8
    }
}

/// Renders a depth-1 slice with window width `window` (≥ 1) and centre `level`, blending the
/// non-zero `labels` (same dims) over it with `opacity` in 0..=1. See the module docs.
pub fn render_slice(
    slice: &Volume<f32>,
    window: f64,
    level: f64,
    labels: Option<&Volume<u16>>,
    opacity: f32,
) -> Result<RgbImage, RasterError> {
    let bad = |reason: String| RasterError::RenderSlice { reason };
    let [w, h, d] = slice.dims();
    if d != 1 {
        return Err(bad(format!("slice has depth {d}, expected 1")));
    }
    if !(window.is_finite() && window >= 1.0 && level.is_finite()) {
        return Err(bad(format!("window {window} / level {level}: the width must be finite and ≥ 1")));
    }
    if !(0.0..=1.0).contains(&opacity) {
        return Err(bad(format!("opacity {opacity} outside 0..=1")));
    }
    if let Some(l) = labels {
        if l.dims() != slice.dims() {
            return Err(bad(format!("labels have dims {:?}, the slice {:?}", l.dims(), slice.dims())));
        }
    }
    hounsfield_core::check_alloc(w as u128 * h as u128, 3).map_err(|e| bad(e.to_string()))?;
    let a = opacity as f64;
    let mut pixels = Vec::with_capacity(3 * w * h);
    for (i, &x) in slice.data().iter().enumerate() {
        let g = voi_linear(x as f64, window, level);
        let label = labels.and_then(|l| l.data().get(i).copied()).unwrap_or(0);
        if label == 0 {
            pixels.extend_from_slice(&[g, g, g]);
        } else {
            let c = LABEL_COLOURS[(label as usize - 1) % LABEL_COLOURS.len()];
            for ch in c {
                pixels.push(((1.0 - a) * g as f64 + a * ch as f64).round() as u8);
            }
        }
    }
    Ok(RgbImage { width: w, height: h, pixels })
}

/// Writes an [`RgbImage`] as an 8-bit RGB PNG, atomically.
pub fn write_png_rgb(path: &Path, img: &RgbImage) -> Result<(), RasterError> {
    let dims = [img.width, img.height, 1];
    let bad = |reason: String| RasterError::WriteVolume { dims, reason, path: path.into() };
    let (w, h) = png_size(dims).map_err(bad)?;
    if img.pixels.len() != 3 * img.width * img.height {
        return Err(bad(format!("{} bytes for {}×{} RGB pixels", img.pixels.len(), img.width, img.height)));
    }
    encode_png(path, &img.pixels, w, h, ExtendedColorType::Rgb8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voi_linear_matches_the_dicom_formula() {
        // Width 100, centre 50: the ramp runs from 0.5 − 49.5 = 0 (exclusive) to 99.
        assert_eq!(voi_linear(0.0, 100.0, 50.0), 0);
        assert_eq!(voi_linear(99.0, 100.0, 50.0), 255);
        assert_eq!(voi_linear(99.5, 100.0, 50.0), 255);
        // Mid-ramp: ((49.5 − 49.5)/99 + 0.5)·255 = 127.5 → 128.
        assert_eq!(voi_linear(49.5, 100.0, 50.0), 128);
        // Width 1 is a threshold at c − ½.
        assert_eq!(voi_linear(9.5, 1.0, 10.0), 0);
        assert_eq!(voi_linear(9.51, 1.0, 10.0), 255);
        assert_eq!(voi_linear(f64::NAN, 400.0, 40.0), 0);
        // A CT soft-tissue window (400/40): −160 HU is black, 240 HU white.
        assert_eq!(voi_linear(-160.0, 400.0, 40.0), 0);
        assert_eq!(voi_linear(240.0, 400.0, 40.0), 255);
    }

    #[test]
    fn labels_blend_and_zero_is_transparent() {
        let g = Geometry::default();
        let slice = Volume::from_vec([3, 1, 1], g, vec![0.0f32, 1000.0, 1000.0]).unwrap();
        let labels = Volume::from_vec([3, 1, 1], g, vec![1u16, 0, 22]).unwrap();
        let img = render_slice(&slice, 100.0, 50.0, Some(&labels), 0.5).unwrap();
        // Label 1 over black: half of red.
        assert_eq!(img.get(0, 0), Some([115, 13, 38]));
        assert_eq!(img.get(1, 0), Some([255, 255, 255]));
        // Label 22 cycles to entry 1 (green) over white: (255 + c)/2.
        assert_eq!(img.get(2, 0), Some([158, 218, 165]));
        let full = render_slice(&slice, 100.0, 50.0, Some(&labels), 1.0).unwrap();
        assert_eq!(full.get(0, 0), Some(LABEL_COLOURS[0]));
    }

    #[test]
    fn render_rejects_bad_input() {
        let g = Geometry::default();
        let slice = Volume::from_vec([2, 1, 1], g, vec![0.0f32, 1.0]).unwrap();
        let other = Volume::from_vec([1, 2, 1], g, vec![0u16, 1]).unwrap();
        assert!(render_slice(&slice, 100.0, 0.0, Some(&other), 0.5).is_err());
        assert!(render_slice(&slice, 0.5, 0.0, None, 0.5).is_err());
        assert!(render_slice(&slice, f64::NAN, 0.0, None, 0.5).is_err());
        assert!(render_slice(&slice, 10.0, 0.0, None, 1.5).is_err());
        let thick = Volume::from_vec([1, 1, 2], g, vec![0.0f32, 1.0]).unwrap();
        assert!(render_slice(&thick, 10.0, 0.0, None, 0.5).is_err());
    }

    #[test]
    fn colour_table_is_distinct() {
        for (i, a) in LABEL_COLOURS.iter().enumerate() {
            for b in &LABEL_COLOURS[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn grey_pixel_choice() {
        let g = Geometry::default();
        let v: AnyVolume = Volume::from_vec([3, 1, 1], g, vec![0i16, 255, 7]).unwrap().into();
        assert!(matches!(grey_pixels(&v), Grey::L8(p) if p == vec![0, 255, 7]));
        let v: AnyVolume = Volume::from_vec([2, 1, 1], g, vec![0u16, 4000]).unwrap().into();
        assert!(matches!(grey_pixels(&v), Grey::L16(p) if p == vec![0, 4000]));
        let v: AnyVolume =
            Volume::from_vec([4, 1, 1], g, vec![-1000.0f32, 1000.0, 0.0, f32::NAN]).unwrap().into();
        assert!(matches!(grey_pixels(&v), Grey::L16(p) if p == vec![0, 65535, 32768, 0]));
    }
}
