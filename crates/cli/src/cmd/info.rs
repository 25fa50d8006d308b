//! `hounsfield info`: what an image file holds.

use std::path::PathBuf;

use serde_json::json;

/// Arguments of `hounsfield info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image file or DICOM folder.
    pub path: PathBuf,
    /// DICOM folder with several series: the SeriesInstanceUID to describe.
    #[arg(long)]
    pub series: Option<String>,
    /// Print JSON (keys: format, modality, dims, spacing, origin, direction, orientation,
    /// dtype, min, max, mean, series).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: Args, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    // A DICOM folder with several series and no --series: list them rather than fail.
    if a.path.is_dir() && a.series.is_none() {
        let series = hounsfield_io::dicom::scan(&a.path)?;
        if series.len() > 1 {
            return print_series_only(&a, &series);
        }
    }
    let img = super::load(&a.path, a.series.as_deref(), g)?;
    let v = &img.volume;
    let geo = v.geometry();
    let (min, max, mean) = v.min_max_mean();
    let series: Vec<_> = img.series.iter().map(series_json).collect();
    if a.json {
        let out = json!({
            "path": a.path,
            "format": img.format.name(),
            "modality": img.modality,
            "dims": v.dims(),
            "spacing": geo.spacing,
            "origin": geo.origin,
            "direction": geo.direction_row_major(),
            "orientation": geo.orientation_code(),
            "dtype": v.type_name(),
            "min": min,
            "max": max,
            "mean": mean,
            "series": series,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    // `+ 0.0` turns -0.0 into 0.0 so direction cosines print without stray signs.
    let f3 = |x: [f64; 3]| format!("{:.6} {:.6} {:.6}", x[0] + 0.0, x[1] + 0.0, x[2] + 0.0);
    let d = v.dims();
    println!("path:        {}", a.path.display());
    println!("format:      {}", img.format.name());
    println!("modality:    {}", img.modality.as_deref().unwrap_or("-"));
    println!("dims:        {} × {} × {}", d[0], d[1], d[2]);
    println!("spacing:     {} mm", f3(geo.spacing));
    println!("origin:      {} mm (LPS)", f3(geo.origin));
    let dir = geo.direction_row_major();
    println!("direction:   {}", dir.iter().map(|x| format!("{:.6}", x + 0.0)).collect::<Vec<_>>().join(" "));
    println!("orientation: {}", geo.orientation_code());
    println!("dtype:       {}", v.type_name());
    println!("min/max:     {min} / {max}");
    println!("mean:        {mean:.6}");
    if !img.series.is_empty() {
        print_series_table(&img.series);
    }
    Ok(())
}

fn series_json(s: &hounsfield_io::dicom::SeriesInfo) -> serde_json::Value {
    json!({
        "series_uid": s.series_uid,
        "modality": s.modality,
        "description": s.description,
        "instances": s.files.len(),
    })
}

fn print_series_table(series: &[hounsfield_io::dicom::SeriesInfo]) {
    println!("series:");
    for s in series {
        println!("  {}  {:<4} {:>5} files  {}", s.series_uid, s.modality, s.files.len(), s.description);
    }
}

fn print_series_only(a: &Args, series: &[hounsfield_io::dicom::SeriesInfo]) -> anyhow::Result<()> {
    if a.json {
        let out = json!({
            "path": a.path,
            "format": "DICOM",
            "series": series.iter().map(series_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("path:   {}", a.path.display());
        println!("format: DICOM folder with {} series (choose one with --series UID)", series.len());
        print_series_table(series);
    }
    Ok(())
}
