//! Writes a head-phantom registration pair with known ground truth, the input of
//! `bench/register_vs_peers.py`:
//!
//! `cargo run --release -p hounsfield-register --example phantom_pair -- DIR [NX,NY,NZ] [SPACING_MM] [MAGNITUDE_MM]`
//!
//! In `DIR`: `fixed.nii.gz` (T1), `moving.nii.gz` (the same head warped by a random smooth
//! diffeomorphism, T1), `moving_ct.nii.gz` (the warped head in CT contrast, for mutual
//! information), `fixed_labels.nii.gz`, `moving_labels.nii.gz`, and `fixed_landmarks.csv` /
//! `moving_landmarks.csv` (about 500 brain and skull points and where the deformation takes
//! them: `moving(truth(x)) = fixed(x)`). Default grid 64³ over the phantom's field of view.

use std::path::PathBuf;

use hounsfield_core::{AnyVolume, Geometry, Transform};
use hounsfield_phantom::deform::random_deformation;
use hounsfield_phantom::{Contrast, DeformationOptions, Grid, HeadOptions, Modality, Phantom, RenderOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir =
        PathBuf::from(args.get(1).expect("usage: phantom_pair DIR [NX,NY,NZ] [SPACING_MM] [MAGNITUDE_MM]"));
    let p = Phantom::head(3, &HeadOptions::default()).expect("phantom");
    let dims: [usize; 3] = match args.get(2) {
        Some(s) => {
            let v: Vec<usize> = s.split(',').map(|x| x.parse().expect("NX,NY,NZ")).collect();
            [v[0], v[1], v[2]]
        }
        None => [64; 3],
    };
    let max = *dims.iter().max().expect("dims");
    let spacing: f64 = args.get(3).map(|s| s.parse().expect("spacing")).unwrap_or(p.fov_mm() / max as f64);
    let magnitude: f64 = args.get(4).map(|s| s.parse().expect("magnitude")).unwrap_or(8.0);
    // Centred on the origin like the phantom's own grids.
    let origin = dims.map(|n| -0.5 * (n as f64 - 1.0) * spacing);
    let grid = Grid::new(dims, Geometry { origin, spacing: [spacing; 3], ..Geometry::default() });
    let d = random_deformation(
        &grid,
        &DeformationOptions { magnitude_mm: magnitude, control_spacing_mm: p.fov_mm() / 5.0 },
        11,
    )
    .expect("deformation");
    let moving_p = p.warped(&d.inverse).expect("warp");
    let ropts = RenderOptions::supersampled(2);
    let t1 = Contrast::for_modality(Modality::T1);
    let fixed = p.render(&grid, &t1, &ropts, 0).expect("render");
    let moving = moving_p.render(&grid, &t1, &ropts, 0).expect("render");
    let moving_ct = moving_p.render(&grid, &Contrast::for_modality(Modality::Ct), &ropts, 0).expect("render");
    std::fs::create_dir_all(&dir).expect("output folder");
    let write = |name: &str, v: AnyVolume| {
        hounsfield_io::write_image(&dir.join(name), &v, &Default::default()).expect("write");
    };
    write("fixed.nii.gz", AnyVolume::F32(fixed.image.clone()));
    write("moving.nii.gz", AnyVolume::F32(moving.image.clone()));
    write("moving_ct.nii.gz", AnyVolume::F32(moving_ct.image.clone()));
    write("fixed_labels.nii.gz", AnyVolume::U16(fixed.labels.clone().into_volume()));
    write("moving_labels.nii.gz", AnyVolume::U16(moving.labels.clone().into_volume()));
    let [nx, ny, _] = dims;
    let inside: Vec<usize> =
        fixed.labels.data().iter().enumerate().filter(|(_, &l)| l >= 21).map(|(o, _)| o).collect();
    let step = (inside.len() / 500).max(1);
    let (mut a, mut b) = (String::from("x,y,z\n"), String::from("x,y,z\n"));
    for &o in inside.iter().step_by(step) {
        let x =
            grid.geometry.index_to_world([(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64]);
        let y = d.forward.transform_point(x);
        a.push_str(&format!("{},{},{}\n", x[0], x[1], x[2]));
        b.push_str(&format!("{},{},{}\n", y[0], y[1], y[2]));
    }
    std::fs::write(dir.join("fixed_landmarks.csv"), a).expect("write");
    std::fs::write(dir.join("moving_landmarks.csv"), b).expect("write");
    println!("{} {:?} spacing {spacing:.3} mm", dir.display(), dims);
}
