//! From image files to one volume: order the frames along the slice normal, check that
//! they form a grid (sizes, orientations, pixel spacings, positions), build the geometry,
//! choose the voxel type and convert every frame in parallel.

use std::path::PathBuf;

use hounsfield_core::{checked_voxels, Geometry, Volume};
use rayon::prelude::*;

use super::header::{normal, ImageFile, Plane};
use super::pixels::{self, Mapping, Samples};
use super::{DicomError, DicomReadOptions, DicomVolume, SpacingPolicy, TiltPolicy};

/// Orientations agreeing within this (per cosine) are the same: 6-decimal cosines round
/// at 5e-7, real differences are far larger.
const ORIENTATION_TOL: f64 = 1e-4;
/// Relative tolerance on PixelSpacing between images.
const SPACING_TOL: f64 = 1e-4;
/// Two slices closer than this (mm) along the normal are at the same position.
const DUPLICATE_TOL: f64 = 1e-3;
/// A gap is regular when within 2 % of the median gap (or 0.01 mm, the rounding of
/// positions written with two decimals); see [`SpacingPolicy`].
const GAP_REL_TOL: f64 = 0.02;
const GAP_ABS_TOL: f64 = 0.01;
/// In-plane drift of slice positions above this fraction of a pixel is gantry tilt.
const TILT_PIXEL_TOL: f64 = 0.05;

/// One frame of one file.
struct Slice<'a> {
    file: usize,
    frame: usize,
    plane: &'a Plane,
}

/// Where every frame goes: the checked, sorted slices and the output grid.
pub(crate) struct Plan<'a> {
    slices: Vec<Slice<'a>>,
    geometry: Geometry,
    /// Slices in the files (sorted) and in the output grid.
    nz_in: usize,
    nz: usize,
    resample: bool,
    tilted: bool,
    modality: String,
}

/// Builds the volume from `files` (one series, or one file), with their pixel data loaded.
pub(crate) fn assemble(files: &[ImageFile], options: &DicomReadOptions) -> Result<DicomVolume, DicomError> {
    let plan = plan(files, options)?;
    render(files, &plan)
}

/// Checks that the frames of `files` form a grid and plans the volume.
pub(crate) fn plan<'a>(files: &'a [ImageFile], options: &DicomReadOptions) -> Result<Plan<'a>, DicomError> {
    let first = files.first().ok_or_else(|| DicomError::NoSeries { dir: PathBuf::new() })?;
    for f in files {
        pixels::check(f)?;
        if f.fmt.rows != first.fmt.rows || f.fmt.cols != first.fmt.cols {
            return Err(DicomError::MixedSize {
                first: format!("{}×{}", first.fmt.rows, first.fmt.cols),
                other: format!("{}×{}", f.fmt.rows, f.fmt.cols),
                path: f.parsed.label.clone(),
            });
        }
    }
    let mut slices: Vec<Slice> = Vec::new();
    // Without positions, files go in InstanceNumber order, then by name.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| {
        (files[a].instance_number, &files[a].parsed.label)
            .cmp(&(files[b].instance_number, &files[b].parsed.label))
    });
    for &fi in &order {
        for (k, plane) in files[fi].planes.iter().enumerate() {
            slices.push(Slice { file: fi, frame: k, plane });
        }
    }
    let label = first.parsed.label.clone();

    // In-plane geometry from the first frame; every other frame must agree.
    let p0 = slices[0].plane;
    let spacing_rc = p0.spacing.unwrap_or([1.0, 1.0]);
    for s in &slices {
        let path = || files[s.file].parsed.label.clone();
        if let (Some(a), Some(b)) = (p0.orientation, s.plane.orientation) {
            if a.iter().zip(&b).any(|(x, y)| (x - y).abs() > ORIENTATION_TOL) {
                return Err(DicomError::MixedOrientation {
                    first: format!("{a:?}"),
                    other: format!("{b:?}"),
                    path: path(),
                });
            }
        }
        let sp = s.plane.spacing.unwrap_or([1.0, 1.0]);
        if sp.iter().zip(&spacing_rc).any(|(x, y)| (x - y).abs() > SPACING_TOL * y.abs().max(1.0)) {
            return Err(DicomError::MixedPixelSpacing { first: spacing_rc, other: sp, path: path() });
        }
    }
    let positioned = slices.iter().all(|s| s.plane.position.is_some() && s.plane.orientation.is_some());
    let orientation = p0.orientation.unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let n = normal(&orientation);
    let (r, c) =
        ([orientation[0], orientation[1], orientation[2]], [orientation[3], orientation[4], orientation[5]]);
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

    let mut depth: Vec<f64> = Vec::new();
    if positioned {
        slices.sort_by(|a, b| {
            let (da, db) = (dot(pos(a), n), dot(pos(b), n));
            da.total_cmp(&db)
        });
        depth = slices.iter().map(|s| dot(pos(s), n)).collect();
        for (i, w) in depth.windows(2).enumerate() {
            if w[1] - w[0] < DUPLICATE_TOL {
                return Err(DicomError::DuplicatePosition {
                    position: w[0],
                    first: files[slices[i].file].parsed.label.clone(),
                    second: files[slices[i + 1].file].parsed.label.clone(),
                });
            }
        }
    }
    let nz_in = slices.len();

    // Slice spacing, tilt and gaps.
    let mut resample = false;
    let mut tilted = false;
    let dz;
    let mut nz = nz_in;
    let min_px = spacing_rc[0].min(spacing_rc[1]);
    if positioned && nz_in >= 2 {
        let o = pos(&slices[0]);
        let mut drift: f64 = 0.0;
        for s in &slices {
            let p = pos(s);
            let v = [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
            let along = dot(v, n);
            let e = [v[0] - along * n[0], v[1] - along * n[1], v[2] - along * n[2]];
            drift = drift.max(dot(e, e).sqrt());
        }
        if drift > TILT_PIXEL_TOL * min_px {
            let last = pos(&slices[nz_in - 1]);
            let v = [last[0] - o[0], last[1] - o[1], last[2] - o[2]];
            let along = dot(v, n);
            let off = (dot(v, v) - along * along).max(0.0).sqrt();
            let angle_deg = off.atan2(along).to_degrees();
            match options.tilt {
                TiltPolicy::Error => return Err(DicomError::GantryTilt { angle_deg, path: label }),
                TiltPolicy::Resample => {
                    tilted = true;
                    resample = true;
                }
            }
        }
        let mut gaps: Vec<f64> = depth.windows(2).map(|w| w[1] - w[0]).collect();
        let raw_gaps = gaps.clone();
        gaps.sort_by(f64::total_cmp);
        let median = gaps[gaps.len() / 2];
        let tol = (GAP_REL_TOL * median).max(GAP_ABS_TOL);
        let extent = depth[nz_in - 1] - depth[0];
        let mut missing = 0usize;
        let (mut worst, mut worst_at) = (0.0f64, 0.0f64);
        let mut uneven = false;
        for (i, &g) in raw_gaps.iter().enumerate() {
            if (g - median).abs() <= tol {
                continue;
            }
            let k = (g / median).round();
            if k >= 2.0 && (g - k * median).abs() <= tol * k {
                missing += k as usize - 1;
                if g > worst {
                    (worst, worst_at) = (g, depth[i]);
                }
            } else {
                uneven = true;
            }
        }
        if missing > 0 || uneven {
            match options.spacing {
                SpacingPolicy::Error if missing > 0 && !uneven => {
                    return Err(DicomError::MissingSlices {
                        missing,
                        gap: worst,
                        at: worst_at,
                        spacing: median,
                        path: label,
                    })
                }
                SpacingPolicy::Error => {
                    return Err(DicomError::UnevenSpacing {
                        min: gaps[0],
                        max: gaps[gaps.len() - 1],
                        path: label,
                    })
                }
                SpacingPolicy::Resample => {
                    resample = true;
                    nz = ((extent / median).round() as usize).max(1) + 1;
                }
            }
        }
        dz = extent / (nz - 1) as f64;
    } else {
        let f = &files[slices[0].file];
        dz = f.spacing_between.filter(|&s| s > 0.0).or(p0.thickness).unwrap_or(1.0);
    }

    let origin = if positioned { pos(&slices[0]) } else { p0.position.unwrap_or([0.0; 3]) };
    let geometry = Geometry {
        origin,
        spacing: [spacing_rc[1], spacing_rc[0], dz],
        direction: [[r[0], c[0], n[0]], [r[1], c[1], n[1]], [r[2], c[2], n[2]]],
    };
    geometry.validate()?;
    Ok(Plan { slices, geometry, nz_in, nz, resample, tilted, modality: first.modality.clone() })
}

/// Converts every frame into the planned volume: `int16` when the rescale is integral and
/// the values fit (decided from the declared bit depth, or by converting and checking),
/// else `float32`.
fn render(files: &[ImageFile], plan: &Plan) -> Result<DicomVolume, DicomError> {
    let slices = &plan.slices;
    let first = &files[slices[0].file];
    let (nx, ny, nz_in) = (first.fmt.cols, first.fmt.rows, plan.nz_in);
    // Decode every frame (native frames are borrowed, compressed ones decoded in parallel).
    let mut decoded_bytes = 0u128;
    for s in slices {
        if matches!(files[s.file].parsed.pixel, Some(super::parse::PixelLoc::Encapsulated { .. })) {
            decoded_bytes += files[s.file].fmt.frame_bits().div_ceil(8);
        }
    }
    hounsfield_core::check_alloc(decoded_bytes, 1)?;
    let samples: Vec<Samples> =
        slices.par_iter().map(|s| pixels::frame(&files[s.file], s.frame)).collect::<Result<_, _>>()?;
    let mapping = |s: &Slice| Mapping {
        slope: s.plane.rescale.slope,
        intercept: s.plane.rescale.intercept,
        lut: files[s.file].modality_lut.as_ref(),
    };
    let plane = nx * ny;
    if !plan.resample {
        if let Some(sure) = int16_candidate(files, slices) {
            let mut data = vec![0i16; checked_voxels([nx, ny, nz_in], 2)?];
            let fits = data
                .par_chunks_mut(plane)
                .zip(slices)
                .zip(&samples)
                .map(|((out, s), smp)| in_i16(pixels::fill_i16(smp, &files[s.file].fmt, mapping(s), out)))
                .reduce(|| true, |a, b| a && b);
            if sure || fits {
                let volume = Volume::from_vec([nx, ny, nz_in], plan.geometry, data)?.into();
                return Ok(DicomVolume { volume, modality: plan.modality.clone() });
            }
        }
    }
    let mut data = vec![0f32; checked_voxels([nx, ny, nz_in], 4)?];
    data.par_chunks_mut(plane).zip(slices).zip(&samples).for_each(|((out, s), smp)| {
        pixels::fill_f32(smp, &files[s.file].fmt, mapping(s), out);
    });
    drop(samples);
    let volume = if plan.resample {
        let positions: Vec<[f64; 3]> = slices.iter().map(pos).collect();
        let data = resample_slices(&data, [nx, ny], &positions, &plan.geometry, plan.nz, plan.tilted)?;
        Volume::from_vec([nx, ny, plan.nz], plan.geometry, data)?.into()
    } else {
        Volume::from_vec([nx, ny, nz_in], plan.geometry, data)?.into()
    };
    Ok(DicomVolume { volume, modality: plan.modality.clone() })
}

/// Reads a series of single-frame, native, little-endian 16-bit files straight into the
/// output volume: each frame's bytes are read from disk into its slice of the `int16`
/// volume and rescaled in place, with no intermediate buffer. `files` come from a
/// header-only parse. `None` when the series does not qualify or its values do not fit
/// `int16` (the caller then reads it the general way).
pub(crate) fn assemble_direct(
    files: &[ImageFile],
    options: &DicomReadOptions,
) -> Result<Option<DicomVolume>, DicomError> {
    use std::io::{Read, Seek, SeekFrom};
    let native_le = |f: &ImageFile| {
        let ts = f.parsed.ts_uid.as_str();
        (ts == "1.2.840.10008.1.2" || ts == "1.2.840.10008.1.2.1")
            && f.parsed.encoding.little_endian
            && f.fmt.frames == 1
            && f.fmt.samples == 1
            && f.fmt.bits_allocated == 16
            && !f.fmt.float
            && matches!(
                f.fmt.photometric,
                super::header::Photometric::Monochrome1 | super::header::Photometric::Monochrome2
            )
            && matches!(&f.parsed.pixel, Some(super::parse::PixelLoc::Native { tag, .. }) if *tag == super::parse::PIXEL_DATA)
    };
    if !files.iter().all(native_le) {
        return Ok(None);
    }
    let plan = plan(files, options)?;
    if plan.resample {
        return Ok(None);
    }
    let Some(sure) = int16_candidate(files, &plan.slices) else { return Ok(None) };
    let first = &files[plan.slices[0].file];
    let (nx, ny) = (first.fmt.cols, first.fmt.rows);
    let mut data = vec![0i16; checked_voxels([nx, ny, plan.nz_in], 2)?];
    let fits = data
        .par_chunks_mut(nx * ny)
        .zip(&plan.slices)
        .map(|(out, s)| -> Result<bool, DicomError> {
            let f = &files[s.file];
            let Some(super::parse::PixelLoc::Native { range, .. }) = &f.parsed.pixel else {
                return Ok(false);
            };
            let path = &f.parsed.label;
            let io = |source| DicomError::ReadFile { path: path.clone(), source };
            let mut file = std::fs::File::open(path).map_err(io)?;
            file.seek(SeekFrom::Start(range.start as u64)).map_err(io)?;
            file.read_exact(bytemuck::cast_slice_mut(out)).map_err(io)?;
            let m = Mapping {
                slope: s.plane.rescale.slope,
                intercept: s.plane.rescale.intercept,
                lut: f.modality_lut.as_ref(),
            };
            Ok(in_i16(pixels::rescale_in_place(&f.fmt, m, out)))
        })
        .try_reduce(|| true, |a, b| Ok(a && b))?;
    if !(sure || fits) {
        return Ok(None);
    }
    let volume = Volume::from_vec([nx, ny, plan.nz_in], plan.geometry, data)?.into();
    Ok(Some(DicomVolume { volume, modality: plan.modality }))
}

fn in_i16((lo, hi): (i64, i64)) -> bool {
    lo >= i16::MIN as i64 && hi <= i16::MAX as i64
}

fn pos(s: &Slice) -> [f64; 3] {
    s.plane.position.unwrap_or([0.0; 3])
}

/// Whether the volume can be `int16`: integer data, integral slope and intercept (or a
/// modality LUT). `Some(true)` when the declared bit depth guarantees that every value
/// fits, `Some(false)` when only converting can tell, `None` when it must be `float32`.
fn int16_candidate(files: &[ImageFile], slices: &[Slice]) -> Option<bool> {
    let integral = |x: f64| x.fract() == 0.0 && x.abs() < 1e9;
    let mut sure = true;
    for s in slices {
        let f = &files[s.file];
        if f.fmt.float || f.fmt.is_colour() {
            return None;
        }
        let (lo, hi) = pixels::declared_range(&f.fmt);
        match &f.modality_lut {
            Some(lut) => sure &= lut.data.iter().all(|&v| v <= i16::MAX as u16),
            None => {
                let (m, q) = (s.plane.rescale.slope, s.plane.rescale.intercept);
                if !(integral(m) && integral(q)) {
                    return None;
                }
                let (x, y) = (lo as f64 * m + q, hi as f64 * m + q);
                sure &= x.min(y) >= i16::MIN as f64 && x.max(y) <= i16::MAX as f64;
            }
        }
    }
    Some(sure)
}

/// Resamples slices at arbitrary `positions` (sorted along the normal) onto the regular
/// grid `g` with `nz` slices: linear between the two nearest slices along the normal,
/// bilinear in-plane when the slices are shifted (gantry tilt). Points outside the
/// acquired slices take the lowest value of the data (air or padding, not 0).
fn resample_slices(
    data: &[f32],
    [nx, ny]: [usize; 2],
    positions: &[[f64; 3]],
    g: &Geometry,
    nz: usize,
    tilted: bool,
) -> Result<Vec<f32>, DicomError> {
    let fill = data.iter().copied().fold(f32::INFINITY, f32::min);
    let (r, c, n) = (g.axis_direction(0), g.axis_direction(1), g.axis_direction(2));
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let depth: Vec<f64> = positions.iter().map(|&p| dot(p, n)).collect();
    let plane = nx * ny;
    let mut out = vec![0f32; checked_voxels([nx, ny, nz], 4)?];
    out.par_chunks_mut(plane).enumerate().for_each(|(k, o)| {
        let t = depth[0] + k as f64 * g.spacing[2];
        let i = depth.partition_point(|&d| d <= t).clamp(1, depth.len().max(2) - 1);
        let (i0, i1) = if depth.len() == 1 { (0, 0) } else { (i - 1, i) };
        let w = if i1 == i0 { 0.0 } else { ((t - depth[i0]) / (depth[i1] - depth[i0])).clamp(0.0, 1.0) };
        // The in-plane index of grid point (x, y) within slice s: its offset from the
        // grid origin at depth t, projected on the row/column axes.
        let shift = |s: usize| -> (f64, f64) {
            if !tilted {
                return (0.0, 0.0);
            }
            let p = positions[s];
            let d = [g.origin[0] - p[0], g.origin[1] - p[1], g.origin[2] - p[2]];
            (dot(d, r) / g.spacing[0], dot(d, c) / g.spacing[1])
        };
        let (s0, s1) = (shift(i0), shift(i1));
        let sample = |s: usize, fx: f64, fy: f64| -> f32 {
            let base = &data[s * plane..(s + 1) * plane];
            let (x0, y0) = (fx.floor(), fy.floor());
            if x0 < 0.0 || y0 < 0.0 || x0 > (nx - 1) as f64 || y0 > (ny - 1) as f64 {
                return fill;
            }
            let (ax, ay) = (fx - x0, fy - y0);
            let (x0, y0) = (x0 as usize, y0 as usize);
            let (x1, y1) = ((x0 + 1).min(nx - 1), (y0 + 1).min(ny - 1));
            let v = |x: usize, y: usize| base[y * nx + x] as f64;
            let top = v(x0, y0) * (1.0 - ax) + v(x1, y0) * ax;
            let bot = v(x0, y1) * (1.0 - ax) + v(x1, y1) * ax;
            (top * (1.0 - ay) + bot * ay) as f32
        };
        for y in 0..ny {
            for x in 0..nx {
                let a = sample(i0, x as f64 + s0.0, y as f64 + s0.1);
                let b = sample(i1, x as f64 + s1.0, y as f64 + s1.1);
                o[y * nx + x] = ((1.0 - w) * a as f64 + w * b as f64) as f32;
            }
        }
    });
    Ok(out)
}
