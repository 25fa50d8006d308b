//! Shared helpers: phantom pairs with known transforms, sample data and the reference Python.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use hounsfield_core::linalg::Vec3;
use hounsfield_core::{Geometry, LabelVolume, Transform, Volume};
use hounsfield_phantom::{Contrast, HeadOptions, Modality, Phantom, PhantomImage, RenderOptions};

fn cache() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/hounsfield")
}

/// A file under the sample-data root (HOUNSFIELD_DATA); panics with the fix when missing.
pub fn data(rel: &str) -> PathBuf {
    let d = std::env::var_os("HOUNSFIELD_DATA").map(PathBuf::from).unwrap_or_else(|| cache().join("data"));
    let p = d.join(rel);
    assert!(p.exists(), "sample file {} missing: run scripts/setup.sh", p.display());
    p
}

/// The reference Python; panics with the fix when missing.
pub fn python() -> PathBuf {
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}

/// Runs a Python snippet with the reference interpreter; panics with its stderr on failure.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(code).args(args).output().expect("python runs");
    assert!(
        out.status.success(),
        "python failed (run scripts/setup.sh if a module is missing):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A T1 head phantom (seed 3) rendered on a `size`³ grid with 2³ supersampling.
pub fn head(size: usize, modality: Modality) -> (Phantom, PhantomImage, Geometry) {
    let p = Phantom::head(3, &HeadOptions::default()).unwrap();
    let grid = p.grid(size).unwrap();
    let img = p.render(&grid, &Contrast::for_modality(modality), &RenderOptions::supersampled(2), 0).unwrap();
    (p, img, grid.geometry)
}

/// The phantom sampled at `t(x)` for every voxel centre `x` of `geometry`, stored on
/// `geometry`: an image with `image(x) = phantom(t(x))`, so the registration of it (moving)
/// to the phantom on `geometry` (fixed) is `t⁻¹`. `t` must be affine.
pub fn render_through(
    p: &Phantom,
    dims: [usize; 3],
    geometry: &Geometry,
    t: &dyn Transform,
    modality: Modality,
) -> (Volume<f32>, LabelVolume) {
    let a = t.as_affine().expect("affine");
    let i2w = geometry.index_to_world_affine();
    let m = a.compose(&i2w);
    // A grid whose voxel (i, j, k) sits at t(x(i, j, k)): origin m.t, columns of m.m.
    let mut spacing = [0.0; 3];
    let mut dir = [[0.0; 3]; 3];
    for c in 0..3 {
        let col = [m.m[0][c], m.m[1][c], m.m[2][c]];
        let n = (col[0] * col[0] + col[1] * col[1] + col[2] * col[2]).sqrt();
        spacing[c] = n;
        for r in 0..3 {
            dir[r][c] = col[r] / n;
        }
    }
    let g = Geometry { origin: m.t, spacing, direction: dir };
    let grid = hounsfield_phantom::Grid::new(dims, g);
    let img = p.render(&grid, &Contrast::for_modality(modality), &RenderOptions::supersampled(2), 0).unwrap();
    let mut image = img.image;
    image.set_geometry(*geometry);
    let mut labels = img.labels.into_volume();
    labels.set_geometry(*geometry);
    (image, LabelVolume::new(labels))
}

/// Largest distance (mm) between two transforms over the points.
pub fn max_distance(a: &dyn Transform, b: &dyn Transform, points: &[Vec3]) -> f64 {
    points
        .iter()
        .map(|p| {
            let (x, y) = (a.transform_point(*p), b.transform_point(*p));
            ((x[0] - y[0]).powi(2) + (x[1] - y[1]).powi(2) + (x[2] - y[2]).powi(2)).sqrt()
        })
        .fold(0.0, f64::max)
}

/// Voxel centres of the labelled (non-zero) voxels, every `step`-th.
pub fn label_points(labels: &LabelVolume, step: usize) -> Vec<Vec3> {
    let [nx, ny, _] = labels.dims();
    labels
        .data()
        .iter()
        .enumerate()
        .filter(|(_, &l)| l != 0)
        .step_by(step)
        .map(|(o, _)| labels.index_to_world((o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64))
        .collect()
}

/// A head phantom (T1) and the same head warped by a known random diffeomorphism, on a
/// `size`³ grid: `moving(x + u(x)) = fixed(x)` with `u` the returned forward field (the
/// registration's ground truth), plus landmark pairs inside the head.
pub struct DeformedPair {
    pub fixed: PhantomImage,
    pub moving: PhantomImage,
    pub truth: hounsfield_core::DisplacementField,
    pub fixed_points: Vec<Vec3>,
    pub moving_points: Vec<Vec3>,
    pub spacing: f64,
}

pub fn deformed_pair(size: usize, magnitude_mm: f64, modality: Modality) -> DeformedPair {
    use hounsfield_phantom::deform::random_deformation;
    use hounsfield_phantom::DeformationOptions;
    let p = Phantom::head(3, &HeadOptions::default()).unwrap();
    let grid = p.grid(size).unwrap();
    let opts = DeformationOptions { magnitude_mm, control_spacing_mm: p.fov_mm() / 5.0 };
    let d = random_deformation(&grid, &opts, 11).unwrap();
    let moving_p = p.warped(&d.inverse).unwrap();
    let ropts = RenderOptions::supersampled(2);
    let contrast = Contrast::for_modality(modality);
    let fixed = p.render(&grid, &contrast, &ropts, 0).unwrap();
    let moving = moving_p.render(&grid, &contrast, &ropts, 0).unwrap();
    // Landmarks: every 97th labelled voxel of the brain (labels 22–26) and skull.
    let [nx, ny, _] = grid.dims;
    let mut fixed_points = Vec::new();
    for (o, &l) in fixed.labels.data().iter().enumerate() {
        if l >= 21 && o % 97 == 0 {
            fixed_points.push(grid.geometry.index_to_world([
                (o % nx) as f64,
                ((o / nx) % ny) as f64,
                (o / (nx * ny)) as f64,
            ]));
        }
    }
    let moving_points = fixed_points.iter().map(|x| d.forward.transform_point(*x)).collect();
    DeformedPair {
        fixed,
        moving,
        truth: d.forward,
        fixed_points,
        moving_points,
        spacing: grid.geometry.spacing[0],
    }
}
