//! Scan geometries (parallel, fan, cone beam) as types, read from and written to TOML, and the
//! grids images are reconstructed on.
//!
//! # Frame and angles
//!
//! Everything is in the patient's world frame (LPS, mm). The rotation axis is the world z axis
//! through the isocentre `c` (`isocentre_mm`, default the world origin). At view angle `θ`
//! (degrees in files, radians in memory) the scan has three unit vectors:
//!
//! - the **ray direction** `d(θ) = (sin θ, cos θ, 0)` (source towards detector: at θ = 0 the
//!   rays travel from anterior to posterior, +y);
//! - the **detector column axis** `e_u(θ) = (cos θ, −sin θ, 0)` (at θ = 0 towards the
//!   patient's left, +x);
//! - the **detector row axis** `e_v = (0, 0, 1)` (towards superior, +z, along the rotation
//!   axis, so detector row `r` and volume slice `k` run the same way).
//!
//! `(e_u, d, e_v)` is right-handed. Increasing θ turns `e_u` counter-clockwise on an axial
//! slice displayed the usual way (column index to the right, row index down).
//!
//! # Detector coordinates
//!
//! Detector column `k` of `detector_count = n` columns sits at `u_k = (k − n/2)·Δu + o_u` and
//! row `r` of `detector_rows = m` rows at `v_r = (r − m/2)·Δv + o_v`, where `n/2` is integer
//! division (the *central element* of an axis of `n` elements is element `n/2`, as in
//! scikit-image and `numpy.fft.fftshift`), `Δu = detector_spacing_mm`,
//! `Δv = detector_row_spacing_mm` and `o_u`, `o_v` the detector offsets. Then:
//!
//! | kind | ray of column `k`, row `r` at angle θ |
//! |---|---|
//! | `parallel` | through `c + u_k·e_u + v_r·e_v`, direction `d` |
//! | `fan`, flat detector | from the source `s = c − D_so·d` to `c + (D_sd − D_so)·d + u_k·e_u` |
//! | `fan`, equiangular | from `s` at fan angle `γ_k = u_k / D_sd` (`u` is the arc length at `D_sd`): direction `cos γ·d + sin γ·e_u = d(θ + γ)` |
//! | `cone` (flat panel) | from `s = c − D_so·d` to `c + (D_sd − D_so)·d + u_k·e_u + v_r·e_v` |
//!
//! A fan ray `(β, γ)` is the parallel ray `(θ = β + γ, u = D_so·sin γ)`, so the redundant
//! (conjugate) ray of `(β, γ)` is `(β + π + 2γ, −γ)`, the relation Parker's short-scan
//! weights are written for (Parker 1982, Med. Phys. 9(2):254).
//!
//! # scikit-image
//!
//! `skimage.transform.radon(image, theta)` (0.26, `radon_transform.py`) integrates
//! `image[row, col]` along the lines `(col − N/2)·cos θ − (row − N/2)·sin θ = t` and stores
//! the sum for detector position `t` at sinogram row `t + n/2`, one column per angle. With
//! image column = `x` (index `i`), image row = `y` (index `j`) and unit spacing this is exactly
//! the `parallel` geometry above with `u = t`: stored as a volume of detector columns × views,
//! the transposed scikit-image sinogram (`sinogram.T`, shape views × columns in NumPy, which is
//! `[columns, views]` x-fastest) is a Hounsfield sinogram, and the reconstruction's voxel
//! `(i, j)` is the image's `[j, i]`.
//!
//! # The sinogram as a volume
//!
//! A sinogram (or stack of cone-beam projections) is a `Volume<f32>` of
//! `[detector_count, views, detector_rows]` (x-fastest: a detector row of one view is
//! contiguous). Its [`Geometry`] describes the detector, not the patient: `origin =
//! [u_0, θ_0, v_0]` and `spacing = [Δu, Δθ, Δv]` with `u`, `v` in mm (arc length at `D_sd`
//! for an equiangular detector) and `θ` in **degrees** (`Δθ` is the mean step for an
//! explicit angle list, whose exact angles only the geometry file holds), identity
//! direction. [`ScanGeometry::sinogram_geometry`] builds it.
//!
//! # The file
//!
//! ```toml
//! kind = "parallel"          # parallel | fan | cone
//! views = 180                # equally spaced over arc_deg, starting at start_deg
//! arc_deg = 180
//! detector_count = 256
//! detector_spacing_mm = 1.0
//! ```
//!
//! Optional keys (see [`GeometrySpec`] for each): `start_deg` (0), `angles_deg` (a list that
//! replaces `views`/`arc_deg`/`start_deg`), `detector_offset_mm` (0), `detector_rows` (1),
//! `detector_row_spacing_mm` (= `detector_spacing_mm`), `detector_row_offset_mm` (0),
//! `isocentre_mm` (`[0, 0, 0]`), and for fan and cone beams the required
//! `source_isocentre_mm` and `source_detector_mm` and, for fans, `detector_shape`
//! (`flat`, default, or `equiangular`).

use std::f64::consts::PI;

use hounsfield_core::{check_alloc, Geometry, Volume};
use serde::{Deserialize, Serialize};

use crate::error::ReconError;

/// The beam geometry of a scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeamKind {
    /// Parallel rays (2-D, or a stack of parallel slices when `detector_rows > 1`). Default.
    #[default]
    Parallel,
    /// A 2-D fan from a point source onto a flat or equiangular (arc) detector.
    Fan,
    /// A 3-D cone from a point source onto a flat panel, circular trajectory.
    Cone,
}

impl BeamKind {
    /// The lowercase name used in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            BeamKind::Parallel => "parallel",
            BeamKind::Fan => "fan",
            BeamKind::Cone => "cone",
        }
    }
}

/// Shape of a fan-beam detector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorShape {
    /// Flat detector, columns equally spaced in mm (default; the cone beam's panel is flat).
    #[default]
    Flat,
    /// Arc centred on the source, columns equally spaced in angle (third-generation clinical
    /// CT); the spacing is given as arc length at the source–detector distance.
    Equiangular,
}

/// The geometry file as written: every key of the TOML format, optional keys as `Option`.
/// [`ScanGeometry::from_spec`] validates it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeometrySpec {
    /// `parallel`, `fan` or `cone`.
    pub kind: BeamKind,
    /// Number of views, equally spaced over `arc_deg` from `start_deg` (the last view at
    /// `start_deg + arc_deg·(views − 1)/views`, as NumPy's `linspace(…, endpoint=False)`).
    /// Required unless `angles_deg` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<usize>,
    /// Angular range covered by the views (degrees). Required with `views`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arc_deg: Option<f64>,
    /// Angle of the first view (degrees, default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_deg: Option<f64>,
    /// Explicit view angles (degrees), in acquisition order; replaces `views`, `arc_deg` and
    /// `start_deg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub angles_deg: Option<Vec<f64>>,
    /// Detector columns.
    pub detector_count: usize,
    /// Column pitch (mm; for an equiangular detector, arc length at `source_detector_mm`).
    pub detector_spacing_mm: f64,
    /// Shift of the detector along its column axis (mm, default 0): column `n/2` sits at `u =
    /// detector_offset_mm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_offset_mm: Option<f64>,
    /// Detector rows (default 1; must be 1 for fan beams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_rows: Option<usize>,
    /// Row pitch (mm, default `detector_spacing_mm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_row_spacing_mm: Option<f64>,
    /// Shift of the detector along the rotation axis (mm, default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_row_offset_mm: Option<f64>,
    /// Source to isocentre distance (mm; fan and cone beams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_isocentre_mm: Option<f64>,
    /// Source to detector distance (mm; fan and cone beams; larger than
    /// `source_isocentre_mm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_detector_mm: Option<f64>,
    /// Fan-beam detector shape (default `flat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_shape: Option<DetectorShape>,
    /// World position (LPS, mm) of the isocentre, on the rotation axis (default `[0, 0, 0]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isocentre_mm: Option<[f64; 3]>,
}

/// The beam of a validated geometry with its distances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Beam {
    /// Parallel rays.
    Parallel,
    /// Fan beam.
    Fan {
        /// Source–isocentre distance (mm).
        sod: f64,
        /// Source–detector distance (mm).
        sdd: f64,
        /// Detector shape.
        shape: DetectorShape,
    },
    /// Cone beam with a flat panel.
    Cone {
        /// Source–isocentre distance (mm).
        sod: f64,
        /// Source–detector distance (mm).
        sdd: f64,
    },
}

/// Largest number of views, detector columns or rows a file may declare (far beyond any
/// scanner; stops absurd files before anything is allocated).
pub const MAX_EXTENT: usize = 1 << 20;

/// A validated scan geometry: beam, view angles, detector and isocentre. See the
/// [module docs](self) for every convention.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanGeometry {
    spec: GeometrySpec,
    beam: Beam,
    angles: Vec<f64>,
    /// Angular quadrature weight of each view (radians).
    dtheta: Vec<f64>,
    /// Covered arc (radians): last − first angle plus one mean step.
    arc: f64,
    cols: usize,
    rows: usize,
    du: f64,
    dv: f64,
    u_off: f64,
    v_off: f64,
    iso: [f64; 3],
}

/// Unit vectors of one view (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewFrame {
    /// View angle (radians).
    pub theta: f64,
    /// Central ray direction, source towards detector.
    pub d: [f64; 3],
    /// Detector column axis.
    pub e_u: [f64; 3],
    /// Detector row axis (+z).
    pub e_v: [f64; 3],
    /// Source position (fan and cone beams).
    pub source: Option<[f64; 3]>,
}

fn bad(key: &'static str, reason: impl Into<String>) -> ReconError {
    ReconError::InvalidGeometry { key, reason: reason.into() }
}

fn positive(key: &'static str, v: f64) -> Result<f64, ReconError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(key, format!("must be a positive finite number, got {v}")))
    }
}

fn finite(key: &'static str, v: f64) -> Result<f64, ReconError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(bad(key, format!("must be finite, got {v}")))
    }
}

fn extent(key: &'static str, n: usize) -> Result<usize, ReconError> {
    if n == 0 || n > MAX_EXTENT {
        Err(bad(key, format!("must be 1..={MAX_EXTENT}, got {n}")))
    } else {
        Ok(n)
    }
}

impl ScanGeometry {
    /// Validates a parsed file: every distance finite (and positive where it is a length),
    /// `source_detector_mm > source_isocentre_mm`, a non-empty finite angle list, no
    /// conflicting keys, sizes within [`MAX_EXTENT`] and the sinogram under the memory cap.
    pub fn from_spec(spec: GeometrySpec) -> Result<Self, ReconError> {
        let cols = extent("detector_count", spec.detector_count)?;
        let rows = extent("detector_rows", spec.detector_rows.unwrap_or(1))?;
        let du = positive("detector_spacing_mm", spec.detector_spacing_mm)?;
        let dv = positive("detector_row_spacing_mm", spec.detector_row_spacing_mm.unwrap_or(du))?;
        let u_off = finite("detector_offset_mm", spec.detector_offset_mm.unwrap_or(0.0))?;
        let v_off = finite("detector_row_offset_mm", spec.detector_row_offset_mm.unwrap_or(0.0))?;
        let iso = spec.isocentre_mm.unwrap_or([0.0; 3]);
        for c in iso {
            finite("isocentre_mm", c)?;
        }
        let distances = || -> Result<(f64, f64), ReconError> {
            let sod = positive(
                "source_isocentre_mm",
                spec.source_isocentre_mm
                    .ok_or_else(|| bad("source_isocentre_mm", "is required for fan and cone beams"))?,
            )?;
            let sdd = positive(
                "source_detector_mm",
                spec.source_detector_mm
                    .ok_or_else(|| bad("source_detector_mm", "is required for fan and cone beams"))?,
            )?;
            if sdd <= sod {
                return Err(bad(
                    "source_detector_mm",
                    format!("must exceed source_isocentre_mm ({sod} mm), got {sdd} mm"),
                ));
            }
            Ok((sod, sdd))
        };
        let beam = match spec.kind {
            BeamKind::Parallel => {
                if spec.source_isocentre_mm.is_some() || spec.source_detector_mm.is_some() {
                    return Err(bad("source_isocentre_mm", "has no meaning for a parallel beam; remove it"));
                }
                Beam::Parallel
            }
            BeamKind::Fan => {
                if rows != 1 {
                    return Err(bad(
                        "detector_rows",
                        format!("must be 1 for a fan beam (use kind = \"cone\"), got {rows}"),
                    ));
                }
                let (sod, sdd) = distances()?;
                Beam::Fan { sod, sdd, shape: spec.detector_shape.unwrap_or_default() }
            }
            BeamKind::Cone => {
                let (sod, sdd) = distances()?;
                Beam::Cone { sod, sdd }
            }
        };
        if spec.kind != BeamKind::Fan && spec.detector_shape.is_some() {
            return Err(bad("detector_shape", "applies to fan beams only (the cone beam's panel is flat)"));
        }
        if let Beam::Fan { sdd, shape: DetectorShape::Equiangular, .. } = beam {
            let half = (cols as f64 / 2.0 + 1.0) * du + u_off.abs();
            if half / sdd >= PI / 2.0 {
                return Err(bad("detector_spacing_mm", "makes the equiangular fan wider than 180°"));
            }
        }
        let angles_deg: Vec<f64> = match (&spec.angles_deg, spec.views, spec.arc_deg) {
            (Some(list), None, None) => {
                if spec.start_deg.is_some() {
                    return Err(bad("start_deg", "cannot be combined with angles_deg"));
                }
                if list.is_empty() {
                    return Err(bad("angles_deg", "is empty"));
                }
                extent("angles_deg", list.len())?;
                if let Some(v) = list.iter().find(|v| !v.is_finite()) {
                    return Err(bad("angles_deg", format!("holds a non-finite angle ({v})")));
                }
                list.clone()
            }
            (Some(_), _, _) => return Err(bad("angles_deg", "cannot be combined with views or arc_deg")),
            (None, Some(views), Some(arc)) => {
                let views = extent("views", views)?;
                let arc = positive("arc_deg", arc)?;
                if arc > 720.0 {
                    return Err(bad("arc_deg", format!("must be at most 720°, got {arc}")));
                }
                let start = finite("start_deg", spec.start_deg.unwrap_or(0.0))?;
                (0..views).map(|i| start + arc * i as f64 / views as f64).collect()
            }
            (None, None, _) => return Err(bad("views", "is required (or give angles_deg)")),
            (None, Some(_), None) => return Err(bad("arc_deg", "is required with views")),
        };
        let angles: Vec<f64> = angles_deg.iter().map(|a| a.to_radians()).collect();
        let (dtheta, arc) = match (spec.views, spec.arc_deg) {
            (Some(v), Some(a)) => (vec![a.to_radians() / v as f64; v], a.to_radians()),
            _ => quadrature(&angles),
        };
        let g = Self { spec, beam, angles, dtheta, arc, cols, rows, du, dv, u_off, v_off, iso };
        let [a, b, c] = g.sinogram_dims();
        check_alloc(a as u128 * b as u128 * c as u128, 4)?;
        Ok(g)
    }

    /// Parses and validates a geometry file's text.
    pub fn from_toml_str(text: &str) -> Result<Self, ReconError> {
        let spec: GeometrySpec =
            toml::from_str(text).map_err(|e| ReconError::ParseGeometry(e.to_string()))?;
        Self::from_spec(spec)
    }

    /// The geometry as TOML (the keys it was made from; parsing the text gives it back).
    pub fn to_toml_string(&self) -> String {
        // Serialising a struct of numbers, strings and arrays cannot fail.
        toml::to_string(&self.spec).unwrap_or_default()
    }

    /// The file keys this geometry was made from.
    pub fn spec(&self) -> &GeometrySpec {
        &self.spec
    }

    /// The same geometry with another isocentre (world, mm).
    pub fn with_isocentre(&self, iso: [f64; 3]) -> Result<Self, ReconError> {
        Self::from_spec(GeometrySpec { isocentre_mm: Some(iso), ..self.spec.clone() })
    }

    /// A 2-D parallel-beam geometry: `views` over `arc_deg` from 0°, `cols` detector columns
    /// of `spacing` mm.
    pub fn parallel(views: usize, arc_deg: f64, cols: usize, spacing: f64) -> Result<Self, ReconError> {
        Self::from_spec(GeometrySpec {
            kind: BeamKind::Parallel,
            views: Some(views),
            arc_deg: Some(arc_deg),
            detector_count: cols,
            detector_spacing_mm: spacing,
            ..Default::default()
        })
    }

    /// A 2-D fan-beam geometry.
    pub fn fan(
        views: usize,
        arc_deg: f64,
        cols: usize,
        spacing: f64,
        sod: f64,
        sdd: f64,
        shape: DetectorShape,
    ) -> Result<Self, ReconError> {
        Self::from_spec(GeometrySpec {
            kind: BeamKind::Fan,
            views: Some(views),
            arc_deg: Some(arc_deg),
            detector_count: cols,
            detector_spacing_mm: spacing,
            source_isocentre_mm: Some(sod),
            source_detector_mm: Some(sdd),
            detector_shape: Some(shape),
            ..Default::default()
        })
    }

    /// A circular cone-beam geometry with a `cols × rows` flat panel of square `spacing` mm
    /// pixels.
    pub fn cone(
        views: usize,
        arc_deg: f64,
        [cols, rows]: [usize; 2],
        spacing: f64,
        sod: f64,
        sdd: f64,
    ) -> Result<Self, ReconError> {
        Self::from_spec(GeometrySpec {
            kind: BeamKind::Cone,
            views: Some(views),
            arc_deg: Some(arc_deg),
            detector_count: cols,
            detector_spacing_mm: spacing,
            detector_rows: Some(rows),
            source_isocentre_mm: Some(sod),
            source_detector_mm: Some(sdd),
            ..Default::default()
        })
    }

    /// The beam and its distances.
    pub fn beam(&self) -> Beam {
        self.beam
    }

    /// The beam kind.
    pub fn kind(&self) -> BeamKind {
        self.spec.kind
    }

    /// View angles (radians), in acquisition order.
    pub fn angles(&self) -> &[f64] {
        &self.angles
    }

    /// Angular quadrature weight of each view (radians): `arc/views` for equally spaced
    /// views, else half the gap to each neighbour in angle order.
    pub fn view_weights(&self) -> &[f64] {
        &self.dtheta
    }

    /// The covered arc (radians).
    pub fn arc(&self) -> f64 {
        self.arc
    }

    /// Number of views.
    pub fn views(&self) -> usize {
        self.angles.len()
    }

    /// Detector columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Detector rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Column pitch (mm).
    pub fn col_spacing(&self) -> f64 {
        self.du
    }

    /// Row pitch (mm).
    pub fn row_spacing(&self) -> f64 {
        self.dv
    }

    /// The isocentre (world, mm).
    pub fn isocentre(&self) -> [f64; 3] {
        self.iso
    }

    /// `u` (mm) of continuous column index `k`.
    #[inline]
    pub fn u_of(&self, k: f64) -> f64 {
        (k - (self.cols / 2) as f64) * self.du + self.u_off
    }

    /// `v` (mm) of continuous row index `r`.
    #[inline]
    pub fn v_of(&self, r: f64) -> f64 {
        (r - (self.rows / 2) as f64) * self.dv + self.v_off
    }

    /// Continuous column index of `u` (mm).
    #[inline]
    pub fn col_of(&self, u: f64) -> f64 {
        (u - self.u_off) / self.du + (self.cols / 2) as f64
    }

    /// Continuous row index of `v` (mm).
    #[inline]
    pub fn row_of(&self, v: f64) -> f64 {
        (v - self.v_off) / self.dv + (self.rows / 2) as f64
    }

    /// Dimensions of the sinogram volume: `[detector_count, views, detector_rows]`.
    pub fn sinogram_dims(&self) -> [usize; 3] {
        [self.cols, self.angles.len(), self.rows]
    }

    /// Number of values in a sinogram.
    pub fn sinogram_len(&self) -> usize {
        self.cols * self.angles.len() * self.rows
    }

    /// The sinogram volume's geometry (see the [module docs](self#the-sinogram-as-a-volume)).
    pub fn sinogram_geometry(&self) -> Geometry {
        let n = self.angles.len();
        let first = self.angles.first().copied().unwrap_or(0.0).to_degrees();
        let step = if n > 1 { self.arc.to_degrees() / n as f64 } else { 1.0 };
        Geometry {
            origin: [self.u_of(0.0), first, self.v_of(0.0)],
            spacing: [self.du, if step > 0.0 { step } else { 1.0 }, self.dv],
            ..Geometry::default()
        }
    }

    /// Fails with [`ReconError::SinogramShape`] unless `dims` are this geometry's sinogram's.
    pub fn check_sinogram_dims(&self, dims: [usize; 3]) -> Result<(), ReconError> {
        let expected = self.sinogram_dims();
        if dims != expected {
            return Err(ReconError::SinogramShape { dims, expected });
        }
        Ok(())
    }

    /// Wraps `data` as a sinogram volume with its detector geometry.
    pub fn sinogram_volume(&self, data: Vec<f32>) -> Result<Volume<f32>, ReconError> {
        Ok(Volume::from_vec(self.sinogram_dims(), self.sinogram_geometry(), data)?)
    }

    /// The unit vectors of view `view` (see the [module docs](self)).
    pub fn frame(&self, view: usize) -> ViewFrame {
        let theta = self.angles.get(view).copied().unwrap_or(0.0);
        let (s, c) = theta.sin_cos();
        let d = [s, c, 0.0];
        let source = match self.beam {
            Beam::Parallel => None,
            Beam::Fan { sod, .. } | Beam::Cone { sod, .. } => {
                Some([self.iso[0] - sod * d[0], self.iso[1] - sod * d[1], self.iso[2]])
            }
        };
        ViewFrame { theta, d, e_u: [c, -s, 0.0], e_v: [0.0, 0.0, 1.0], source }
    }

    /// A point on the ray of (continuous) column `k` and row `r` of a view, and the ray's unit
    /// direction (world, mm). For fan and cone beams the point is the source.
    pub fn ray(&self, f: &ViewFrame, k: f64, r: f64) -> ([f64; 3], [f64; 3]) {
        let u = self.u_of(k);
        let c = self.iso;
        match self.beam {
            Beam::Parallel => {
                let v = self.v_of(r);
                ([c[0] + u * f.e_u[0], c[1] + u * f.e_u[1], c[2] + v], f.d)
            }
            Beam::Fan { sdd, shape: DetectorShape::Equiangular, .. } => {
                let (sg, cg) = (u / sdd).sin_cos();
                let dir = [cg * f.d[0] + sg * f.e_u[0], cg * f.d[1] + sg * f.e_u[1], 0.0];
                (f.source.unwrap_or(c), dir)
            }
            Beam::Fan { sod, sdd, .. } | Beam::Cone { sod, sdd } => {
                let v = if matches!(self.beam, Beam::Cone { .. }) { self.v_of(r) } else { 0.0 };
                let l = sdd - sod;
                let p = [c[0] + l * f.d[0] + u * f.e_u[0], c[1] + l * f.d[1] + u * f.e_u[1], c[2] + v];
                let s = f.source.unwrap_or(c);
                let dir = [p[0] - s[0], p[1] - s[1], p[2] - s[2]];
                let n = (dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]).sqrt();
                (s, [dir[0] / n, dir[1] / n, dir[2] / n])
            }
        }
    }

    /// Where the world point `p` projects in view `view`: continuous `(column, row)` indices,
    /// or `None` when `p` lies behind the source (or on its plane).
    pub fn project_point(&self, view: usize, p: [f64; 3]) -> Option<(f64, f64)> {
        let f = self.frame(view);
        let q = [p[0] - self.iso[0], p[1] - self.iso[1], p[2] - self.iso[2]];
        let a = q[0] * f.e_u[0] + q[1] * f.e_u[1];
        let b = q[0] * f.d[0] + q[1] * f.d[1];
        match self.beam {
            Beam::Parallel => Some((self.col_of(a), self.row_of(q[2]))),
            Beam::Fan { sod, sdd, shape } => {
                let depth = sod + b;
                if depth <= 0.0 {
                    return None;
                }
                let u = match shape {
                    DetectorShape::Flat => sdd * a / depth,
                    DetectorShape::Equiangular => sdd * a.atan2(depth),
                };
                Some((self.col_of(u), 0.0))
            }
            Beam::Cone { sod, sdd } => {
                let depth = sod + b;
                if depth <= 0.0 {
                    return None;
                }
                Some((self.col_of(sdd * a / depth), self.row_of(sdd * q[2] / depth)))
            }
        }
    }

    /// Magnification at the isocentre (`D_sd / D_so`; 1 for parallel beams).
    pub fn magnification(&self) -> f64 {
        match self.beam {
            Beam::Parallel => 1.0,
            Beam::Fan { sod, sdd, .. } | Beam::Cone { sod, sdd } => sdd / sod,
        }
    }

    /// Half the fan angle (radians) the detector spans (0 for parallel beams).
    pub fn half_fan_angle(&self) -> f64 {
        let umax = self.u_of(0.0).abs().max(self.u_of((self.cols - 1) as f64).abs());
        match self.beam {
            Beam::Parallel => 0.0,
            Beam::Fan { sdd, shape: DetectorShape::Equiangular, .. } => umax / sdd,
            Beam::Fan { sdd, .. } | Beam::Cone { sdd, .. } => (umax / sdd).atan(),
        }
    }

    /// True for geometries that need a 3-D volume (cone beams and multi-row parallel beams).
    pub fn is_3d(&self) -> bool {
        self.rows > 1 || matches!(self.beam, Beam::Cone { .. })
    }

    /// The grid images are reconstructed on by default: `detector_count` pixels square in the
    /// axial plane with the detector pitch scaled to the isocentre (`Δu·D_so/D_sd`), and for
    /// 3-D geometries `detector_rows` slices of `Δv·D_so/D_sd`; pixel `n/2` on the isocentre.
    pub fn default_grid(&self) -> Result<VolumeGrid, ReconError> {
        let m = self.magnification();
        let s = self.du / m;
        if self.is_3d() {
            VolumeGrid::centred([self.cols, self.cols, self.rows], [s, s, self.dv / m], self.iso)
        } else {
            VolumeGrid::centred([self.cols, self.cols, 1], [s, s, s], self.iso)
        }
    }
}

/// Quadrature weights and covered arc of an arbitrary angle list: each view gets half the gap
/// to its neighbours in angle order (the ends the gap to their one neighbour), the arc is the
/// angular range plus one mean step.
fn quadrature(angles: &[f64]) -> (Vec<f64>, f64) {
    let n = angles.len();
    if n == 1 {
        return (vec![PI], PI);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| angles[a].total_cmp(&angles[b]));
    let sorted: Vec<f64> = order.iter().map(|&i| angles[i]).collect();
    let range = sorted[n - 1] - sorted[0];
    let step = range / (n - 1) as f64;
    let mut w = vec![0.0; n];
    for (pos, &i) in order.iter().enumerate() {
        let prev = if pos > 0 { sorted[pos] - sorted[pos - 1] } else { sorted[1] - sorted[0] };
        let next = if pos + 1 < n { sorted[pos + 1] - sorted[pos] } else { sorted[n - 1] - sorted[n - 2] };
        w[i] = 0.5 * (prev + next);
    }
    (w, range + step)
}

/// Dimensions and geometry of a voxel grid (the image a reconstruction fills).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VolumeGrid {
    /// `[nx, ny, nz]`.
    pub dims: [usize; 3],
    /// Where the grid sits (LPS, mm).
    pub geometry: Geometry,
}

impl VolumeGrid {
    /// A grid with the given dimensions and geometry, validated (the geometry may be oblique;
    /// the size is checked against the memory cap for `f32` voxels).
    pub fn new(dims: [usize; 3], geometry: Geometry) -> Result<Self, ReconError> {
        geometry.validate_with(false)?;
        hounsfield_core::checked_voxels(dims, 4)?;
        Ok(Self { dims, geometry })
    }

    /// An axis-aligned grid of `spacing` mm whose voxel `(nx/2, ny/2, nz/2)` (integer
    /// division) sits on `centre`.
    pub fn centred(dims: [usize; 3], spacing: [f64; 3], centre: [f64; 3]) -> Result<Self, ReconError> {
        let origin = [0, 1, 2].map(|a| centre[a] - (dims[a] / 2) as f64 * spacing[a]);
        Self::new(dims, Geometry { origin, spacing, ..Geometry::default() })
    }

    /// The grid of a volume.
    pub fn of<T>(v: &Volume<T>) -> Result<Self, ReconError> {
        Self::new(v.dims(), *v.geometry())
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// Always false: a grid has at least one voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A zero volume on this grid.
    pub fn zeros(&self) -> Result<Volume<f32>, ReconError> {
        Ok(Volume::zeros(self.dims, self.geometry)?)
    }

    /// Wraps `data` as a volume on this grid.
    pub fn volume(&self, data: Vec<f32>) -> Result<Volume<f32>, ReconError> {
        Ok(Volume::from_vec(self.dims, self.geometry, data)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
kind = "parallel"          # parallel | fan | cone
views = 180                # equally spaced over arc_deg, starting at 0°
arc_deg = 180
detector_count = 256
detector_spacing_mm = 1.0
"#;

    #[test]
    fn minimal_parallel_file_parses_and_round_trips() {
        let g = ScanGeometry::from_toml_str(MINIMAL).unwrap();
        assert_eq!(g.sinogram_dims(), [256, 180, 1]);
        assert!((g.angles()[1] - 1f64.to_radians()).abs() < 1e-12);
        assert_eq!(g.u_of(128.0), 0.0);
        let back = ScanGeometry::from_toml_str(&g.to_toml_string()).unwrap();
        assert_eq!(back, g);
        let sg = g.sinogram_geometry();
        assert_eq!(sg.origin, [-128.0, 0.0, 0.0]);
        assert_eq!(sg.spacing, [1.0, 1.0, 1.0]);
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let cases = [
            ("kind = \"parallel\"\nviews = 0\narc_deg = 180\ndetector_count = 8\ndetector_spacing_mm = 1", "views"),
            ("kind = \"fan\"\nviews = 4\narc_deg = 360\ndetector_count = 8\ndetector_spacing_mm = 1", "source_isocentre_mm"),
            (
                "kind = \"cone\"\nviews = 4\narc_deg = 360\ndetector_count = 8\ndetector_spacing_mm = 1\nsource_isocentre_mm = -5\nsource_detector_mm = 10",
                "source_isocentre_mm",
            ),
            (
                "kind = \"cone\"\nviews = 4\narc_deg = 360\ndetector_count = 8\ndetector_spacing_mm = 1\nsource_isocentre_mm = 500\nsource_detector_mm = 400",
                "source_detector_mm",
            ),
            ("kind = \"parallel\"\nangles_deg = []\ndetector_count = 8\ndetector_spacing_mm = 1", "angles_deg"),
            ("kind = \"parallel\"\nviews = 3\narc_deg = 180\ndetector_count = 8\ndetector_spacing_mm = nan", "detector_spacing_mm"),
            ("kind = \"parallel\"\nviews = 3\narc_deg = 180\ndetector_count = 8\ndetector_spacing_mm = -1", "detector_spacing_mm"),
        ];
        for (text, key) in cases {
            match ScanGeometry::from_toml_str(text) {
                Err(ReconError::InvalidGeometry { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(ScanGeometry::from_toml_str("kind = \"helix\""), Err(ReconError::ParseGeometry(_))));
        assert!(matches!(
            ScanGeometry::from_toml_str(&format!("{MINIMAL}\ncolour = 3")),
            Err(ReconError::ParseGeometry(_))
        ));
        // 2^20 views × 2^20 columns would be 4 TiB of sinogram.
        let huge = "kind = \"parallel\"\nviews = 1048576\narc_deg = 180\ndetector_count = 1048576\ndetector_spacing_mm = 1";
        assert!(matches!(ScanGeometry::from_toml_str(huge), Err(ReconError::Core(_))));
    }

    #[test]
    fn sinograms_must_match_the_geometry() {
        let g = ScanGeometry::from_toml_str(MINIMAL).unwrap();
        assert!(g.check_sinogram_dims([256, 180, 1]).is_ok());
        // Transposed (views × columns) or a cone's stack: a typed error naming both shapes.
        match g.check_sinogram_dims([180, 256, 1]) {
            Err(ReconError::SinogramShape { dims, expected }) => {
                assert_eq!((dims, expected), ([180, 256, 1], [256, 180, 1]))
            }
            other => panic!("{other:?}"),
        }
        assert!(g.sinogram_volume(vec![0.0; 10]).is_err());
    }

    #[test]
    fn fan_ray_is_the_parallel_ray_at_beta_plus_gamma() {
        let g = ScanGeometry::fan(8, 360.0, 64, 2.0, 500.0, 1000.0, DetectorShape::Equiangular).unwrap();
        let f = g.frame(3);
        let (s, dir) = g.ray(&f, 10.0, 0.0);
        let gamma = g.u_of(10.0) / 1000.0;
        let th = f.theta + gamma;
        // Direction d(θ + γ), offset u = D_so·sin γ along e_u(θ + γ).
        assert!((dir[0] - th.sin()).abs() < 1e-12 && (dir[1] - th.cos()).abs() < 1e-12);
        let u = s[0] * th.cos() - s[1] * th.sin();
        assert!((u - 500.0 * gamma.sin()).abs() < 1e-9);
        // And the ray projects back onto its column.
        let p = [s[0] + 700.0 * dir[0], s[1] + 700.0 * dir[1], 0.0];
        let (k, _) = g.project_point(3, p).unwrap();
        assert!((k - 10.0).abs() < 1e-9);
    }

    #[test]
    fn cone_point_projection_matches_rays() {
        let g = ScanGeometry::cone(12, 360.0, [40, 30], 1.5, 400.0, 800.0).unwrap();
        let f = g.frame(5);
        let (s, dir) = g.ray(&f, 7.25, 21.5);
        let p = [s[0] + 350.0 * dir[0], s[1] + 350.0 * dir[1], s[2] + 350.0 * dir[2]];
        let (k, r) = g.project_point(5, p).unwrap();
        // 1e-9: a few f64 operations on numbers of magnitude ~1000.
        assert!((k - 7.25).abs() < 1e-9 && (r - 21.5).abs() < 1e-9);
    }

    #[test]
    fn explicit_angle_lists_get_quadrature_weights() {
        let text =
            "kind = \"parallel\"\nangles_deg = [0, 10, 30, 60]\ndetector_count = 8\ndetector_spacing_mm = 1";
        let g = ScanGeometry::from_toml_str(text).unwrap();
        let w: Vec<f64> = g.view_weights().iter().map(|w| w.to_degrees()).collect();
        for (a, b) in w.iter().zip([10.0, 15.0, 25.0, 30.0]) {
            assert!((a - b).abs() < 1e-9);
        }
        assert!((g.arc().to_degrees() - 80.0).abs() < 1e-9);
    }
}
