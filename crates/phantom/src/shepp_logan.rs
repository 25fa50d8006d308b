//! The modified Shepp–Logan phantom in 2-D and 3-D, evaluated by exact ellipse/ellipsoid
//! membership.
//!
//! Ellipses are defined in phantom units: the phantom lies in the unit disc (the square
//! `[−1, 1]²`) scaled to the image, as in scikit-image's `shepp_logan_phantom` and MATLAB's
//! `phantom`. Intensities add where ellipses overlap.
//!
//! # Orientation
//!
//! Image column `i` is phantom `x`, image row `j` is phantom `y` **pointing up**: with
//! `N` columns and rows, pixel `(i, j)` samples
//! `x = (2i − (N − 1)) / (N − 1)`, `y = ((N − 1) − 2j) / (N − 1)`, so the outermost pixel
//! centres lie on ±1 (MATLAB's `phantom` convention, which scikit-image's 400 × 400
//! `shepp_logan_phantom` follows: the integration tests match it pixel for pixel). A viewer
//! that draws row 0 at the top (every image viewer; also NumPy `imshow`) shows the picture
//! scikit-image shows: the small ellipses at the bottom, the larger dark ellipse on the
//! left. In world coordinates (LPS, mm, identity direction) phantom `(x, y, z)` sits at
//! `R · (x, −y, z)` with `R = fov_mm / 2`, so the pixel spacing is `fov_mm / (N − 1)` and the
//! row index increases toward posterior, as in an axial CT slice in radiological display.
//! The 3-D phantom samples `z` the same way over its `depth` slices.
//!
//! # Intensities
//!
//! [`SheppLoganVariant::Attenuation`] uses Toft's modified intensities (Toft 1996, *The
//! Radon transform: theory and implementation*, PhD thesis, DTU; also MATLAB's
//! `phantom('Modified Shepp-Logan')`), which give better visual contrast than Shepp & Logan's
//! original values (Shepp & Logan 1974, IEEE Trans. Nucl. Sci. 21(3):21–43).
//! [`SheppLoganVariant::Hu`] maps the regions to plausible Hounsfield units on a −1000 HU
//! (air) background: skull +1000 (cortical bone), brain +40 (grey matter), ventricles +10
//! (CSF), the small features +70 (e.g. haemorrhage or enhancement). It is additive like the
//! original, so partial volume and analytic projections work the same way.
//!
//! The 3-D phantom extends the 2-D one with the z semi-axes and centres of the 3-D modified
//! Shepp–Logan head of Schabel's `phantom3d` (MATLAB File Exchange 9416, after Kak & Slaney
//! 1988, *Principles of Computerized Tomographic Imaging*), rotating each ellipsoid only
//! about z by its 2-D angle, so the 3-D phantom's ellipsoids cut the z = 0 plane with the
//! 2-D phantom's orientations.

use hounsfield_core::{Geometry, Volume};
use rayon::prelude::*;

use crate::error::{invalid, PhantomError};
use crate::scene::{Grid, MAX_SUPERSAMPLE};

/// Which intensities the phantom carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum SheppLoganVariant {
    /// Toft's modified Shepp–Logan intensities (0 background, 1 skull, 0.2 brain) — the
    /// values of scikit-image's phantom. Default.
    #[default]
    Attenuation,
    /// Plausible Hounsfield units (see the [module docs](self)).
    Hu,
}

/// One ellipse (2-D) or ellipsoid (3-D) of the phantom, in phantom units (see the
/// [module docs](self) for the unit ↔ pixel and unit ↔ mm maps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SheppLoganEllipsoid {
    /// Intensity added inside, Toft's modified attenuation units.
    pub attenuation: f64,
    /// Intensity added inside, HU (on a [`HU_BACKGROUND`] background).
    pub hu: f64,
    /// Centre `(x0, y0, z0)` (the 2-D phantom ignores `z0`).
    pub centre: [f64; 3],
    /// Semi-axes `(a, b, c)` along the rotated x, y and z axes (the 2-D phantom ignores `c`).
    pub semi_axes: [f64; 3],
    /// Rotation about z (degrees), counter-clockwise from +x toward +y: a point is inside when
    /// `((x−x0)cosφ + (y−y0)sinφ)²/a² + ((y−y0)cosφ − (x−x0)sinφ)²/b² (+ ((z−z0)/c)²) ≤ 1`.
    pub phi_deg: f64,
}

/// The HU variant's background (air).
pub const HU_BACKGROUND: f64 = -1000.0;

const fn e(
    attenuation: f64,
    hu: f64,
    centre: [f64; 3],
    semi_axes: [f64; 3],
    phi_deg: f64,
) -> SheppLoganEllipsoid {
    SheppLoganEllipsoid { attenuation, hu, centre, semi_axes, phi_deg }
}

/// The ten ellipsoids (Toft's modified table; z from `phantom3d`). The 2-D
/// phantom uses `x, y, a, b, φ` of each.
pub const SHEPP_LOGAN: [SheppLoganEllipsoid; 10] = [
    e(1.0, 2000.0, [0.0, 0.0, 0.0], [0.69, 0.92, 0.81], 0.0),
    e(-0.8, -960.0, [0.0, -0.0184, 0.0], [0.6624, 0.874, 0.78], 0.0),
    e(-0.2, -30.0, [0.22, 0.0, 0.0], [0.11, 0.31, 0.22], -18.0),
    e(-0.2, -30.0, [-0.22, 0.0, 0.0], [0.16, 0.41, 0.28], 18.0),
    e(0.1, 30.0, [0.0, 0.35, -0.15], [0.21, 0.25, 0.41], 0.0),
    e(0.1, 30.0, [0.0, 0.1, 0.25], [0.046, 0.046, 0.05], 0.0),
    e(0.1, 30.0, [0.0, -0.1, 0.25], [0.046, 0.046, 0.05], 0.0),
    e(0.1, 30.0, [-0.08, -0.605, 0.0], [0.046, 0.023, 0.05], 0.0),
    e(0.1, 30.0, [0.0, -0.606, 0.0], [0.023, 0.023, 0.02], 0.0),
    e(0.1, 30.0, [0.06, -0.605, 0.0], [0.023, 0.046, 0.02], 0.0),
];

/// 2-D image or 3-D volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SheppLoganDims {
    /// A `size × size × 1` image of the 2-D phantom (default).
    #[default]
    TwoD,
    /// A `size × size × depth` volume of the 3-D phantom covering the cube `[−1, 1]³`.
    ThreeD {
        /// Number of slices.
        depth: usize,
    },
}

/// Options of [`shepp_logan`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SheppLoganOptions {
    /// Columns and rows (default 256).
    pub size: usize,
    /// 2-D or 3-D (default 2-D).
    pub dims: SheppLoganDims,
    /// Sub-samples per pixel edge for partial volume (default 1): `n²` per pixel in 2-D,
    /// `n³` per voxel in 3-D; the value is their mean.
    pub supersample: usize,
    /// Intensities (default [`SheppLoganVariant::Attenuation`]).
    pub variant: SheppLoganVariant,
    /// Distance in mm between the outermost pixel centres, which `[−1, 1]` spans
    /// (default 256 mm).
    pub fov_mm: f64,
}

impl Default for SheppLoganOptions {
    fn default() -> Self {
        Self {
            size: 256,
            dims: SheppLoganDims::TwoD,
            supersample: 1,
            variant: SheppLoganVariant::Attenuation,
            fov_mm: 256.0,
        }
    }
}

/// Precomputed membership test of one ellipsoid.
struct Fast {
    value: f64,
    c: [f64; 3],
    cos: f64,
    sin: f64,
    inv: [f64; 3],
    /// Bounding radius in x-y (the largest semi-axis).
    r: f64,
}

fn fast_table(variant: SheppLoganVariant) -> Vec<Fast> {
    SHEPP_LOGAN
        .iter()
        .map(|el| {
            let phi = el.phi_deg.to_radians();
            Fast {
                value: match variant {
                    SheppLoganVariant::Attenuation => el.attenuation,
                    SheppLoganVariant::Hu => el.hu,
                },
                c: el.centre,
                cos: phi.cos(),
                sin: phi.sin(),
                inv: el.semi_axes.map(|a| 1.0 / a),
                r: el.semi_axes[0].max(el.semi_axes[1]),
            }
        })
        .collect()
}

fn background(variant: SheppLoganVariant) -> f64 {
    match variant {
        SheppLoganVariant::Attenuation => 0.0,
        SheppLoganVariant::Hu => HU_BACKGROUND,
    }
}

#[inline]
fn value_fast(table: &[Fast], bg: f64, p: [f64; 3], three_d: bool) -> f64 {
    let mut v = bg;
    for f in table {
        let dx = p[0] - f.c[0];
        let dy = p[1] - f.c[1];
        if dx.abs() > f.r || dy.abs() > f.r {
            continue;
        }
        let u = (dx * f.cos + dy * f.sin) * f.inv[0];
        let w = (dy * f.cos - dx * f.sin) * f.inv[1];
        let mut s = u * u + w * w;
        if three_d {
            let z = (p[2] - f.c[2]) * f.inv[2];
            s += z * z;
        }
        if s <= 1.0 {
            v += f.value;
        }
    }
    v
}

/// The phantom's value at a point in phantom units (`z` ignored when `three_d` is false).
pub fn shepp_logan_value(variant: SheppLoganVariant, p: [f64; 3], three_d: bool) -> f64 {
    value_fast(&fast_table(variant), background(variant), p, three_d)
}

/// The grid [`shepp_logan`] samples for `opts`: identity direction, square pixels of
/// `fov_mm / (size − 1)`, the outermost pixel centres at ±`fov_mm / 2` (slice spacing
/// `fov_mm / (depth − 1)` in 3-D; the 2-D image's single slice sits at z = 0). A size of 1
/// gives one pixel at the centre with spacing `fov_mm`.
pub fn shepp_logan_grid(opts: &SheppLoganOptions) -> Result<Grid, PhantomError> {
    let n = opts.size;
    if n == 0 {
        return Err(invalid("size", "must be at least 1"));
    }
    if !(opts.fov_mm.is_finite() && opts.fov_mm > 0.0) {
        return Err(invalid("fov_mm", format!("must be a positive number of mm, got {}", opts.fov_mm)));
    }
    let r = opts.fov_mm / 2.0;
    let spacing = |n: usize| if n > 1 { opts.fov_mm / (n - 1) as f64 } else { opts.fov_mm };
    let origin = |n: usize| if n > 1 { -r } else { 0.0 };
    let depth = match opts.dims {
        SheppLoganDims::TwoD => 1,
        SheppLoganDims::ThreeD { depth: 0 } => return Err(invalid("depth", "must be at least 1")),
        SheppLoganDims::ThreeD { depth } => depth,
    };
    let (sz, oz) = if depth == 1 { (spacing(n), 0.0) } else { (spacing(depth), origin(depth)) };
    let geometry = Geometry {
        origin: [origin(n), origin(n), oz],
        spacing: [spacing(n), spacing(n), sz],
        ..Geometry::default()
    };
    let grid = Grid::new([n, n, depth], geometry);
    grid.check(4)?;
    Ok(grid)
}

/// Samples the phantom (see the [module docs](self) for orientation and intensities).
///
/// ```
/// use hounsfield_phantom::shepp_logan::{shepp_logan, SheppLoganOptions};
///
/// let img = shepp_logan(&SheppLoganOptions { size: 64, ..Default::default() }).unwrap();
/// assert_eq!(img.dims(), [64, 64, 1]);
/// // A pixel above the centre lies in the brain (0.2), the corner in air (0).
/// assert!((img.get(32, 10, 0).unwrap() - 0.2).abs() < 1e-6);
/// assert_eq!(*img.get(0, 0, 0).unwrap(), 0.0);
/// ```
pub fn shepp_logan(opts: &SheppLoganOptions) -> Result<Volume<f32>, PhantomError> {
    let n_sub = opts.supersample;
    if n_sub == 0 || n_sub > MAX_SUPERSAMPLE {
        return Err(invalid("supersample", format!("must be 1..={MAX_SUPERSAMPLE}, got {n_sub}")));
    }
    let grid = shepp_logan_grid(opts)?;
    let [nx, ny, nz] = grid.dims;
    let three_d = matches!(opts.dims, SheppLoganDims::ThreeD { .. });
    let table = fast_table(opts.variant);
    let bg = background(opts.variant);
    let offs: Vec<f64> = (0..n_sub).map(|s| (s as f64 + 0.5) / n_sub as f64 - 0.5).collect();
    let z_offs: &[f64] = if three_d { &offs } else { &[0.0] };
    let count = (n_sub * n_sub * z_offs.len()) as f64;
    // x = (2i − (N−1))/(N−1), written exactly so (not as −1 + i·step) to reproduce the
    // reference pixel grid bit for bit at region boundaries; 0 when there is one sample.
    let unit = |idx: f64, n: usize| if n > 1 { (2.0 * idx - (n - 1) as f64) / (n - 1) as f64 } else { 0.0 };
    let mut data = vec![0f32; grid.check(4)?];
    data.par_chunks_mut(nx * ny).enumerate().for_each(|(k, slice)| {
        for j in 0..ny {
            for i in 0..nx {
                let mut acc = 0.0;
                for &oz in z_offs {
                    let z = if three_d { unit(k as f64 + oz, nz) } else { 0.0 };
                    for &oy in &offs {
                        let y = -unit(j as f64 + oy, ny);
                        for &ox in &offs {
                            let x = unit(i as f64 + ox, nx);
                            acc += value_fast(&table, bg, [x, y, z], three_d);
                        }
                    }
                }
                slice[i + nx * j] = (acc / count) as f32;
            }
        }
    });
    Ok(Volume::from_vec(grid.dims, grid.geometry, data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_centres_follow_scikit_image() {
        // scikit-image 0.26 `shepp_logan_phantom()` (400 × 400), column 200: the value
        // changes at rows 16 (skull), 29 (brain), 80 (feature at y = 0.35), …, 384 (air);
        // row 200 at columns 62 (skull), 68 (brain), 123 (left ventricle), ….
        let img = shepp_logan(&SheppLoganOptions { size: 400, ..Default::default() }).unwrap();
        let col: Vec<f32> = (0..400).map(|j| *img.get(200, j, 0).unwrap()).collect();
        let changes: Vec<usize> = (1..400).filter(|&j| col[j] != col[j - 1]).collect();
        assert_eq!(changes, vec![16, 29, 80, 171, 180, 189, 211, 229, 316, 325, 378, 384]);
        let row: Vec<f32> = (0..400).map(|i| *img.get(i, 200, 0).unwrap()).collect();
        let changes: Vec<usize> = (1..400).filter(|&i| row[i] != row[i - 1]).collect();
        assert_eq!(changes, vec![62, 68, 123, 190, 221, 267, 332, 338]);
    }

    #[test]
    fn bad_options() {
        let o = SheppLoganOptions { size: 0, ..Default::default() };
        assert!(matches!(shepp_logan(&o), Err(PhantomError::InvalidParameter { name: "size", .. })));
        let o = SheppLoganOptions { supersample: 9, ..Default::default() };
        assert!(shepp_logan(&o).is_err());
        let o = SheppLoganOptions { dims: SheppLoganDims::ThreeD { depth: 0 }, ..Default::default() };
        assert!(shepp_logan(&o).is_err());
        let o = SheppLoganOptions { fov_mm: -1.0, ..Default::default() };
        assert!(shepp_logan(&o).is_err());
    }
}
