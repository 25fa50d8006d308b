//! SVG plots for the report (plotters' SVG backend: text is left to the browser's fonts, so no
//! font files are needed).

use plotters::prelude::*;

/// Size of every plot in pixels.
const SIZE: (u32, u32) = (560, 300);

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo.is_finite() {
        Some(if hi > lo { (lo, hi) } else { (lo - 0.5, lo + 0.5) })
    } else {
        None
    }
}

/// A horizontal bar chart (e.g. step timings). Returns an SVG document, or `None` when there
/// is nothing finite to plot or drawing fails.
pub fn bar_chart(title: &str, labels: &[String], values: &[f64], unit: &str) -> Option<String> {
    let (_, hi) = finite_range(values.iter().copied().chain(std::iter::once(0.0)))?;
    let n = labels.len().min(values.len());
    if n == 0 {
        return None;
    }
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (SIZE.0, (60 + 26 * n as u32).max(120))).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(140)
            .build_cartesian_2d(0.0..hi * 1.05, (0..n).into_segmented())
            .ok()?;
        let names: Vec<String> = labels.iter().take(n).cloned().collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(unit)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_labels(n)
            .draw()
            .ok()?;
        chart
            .draw_series((0..n).map(|i| {
                let v = if values[i].is_finite() { values[i] } else { 0.0 };
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(i)), (v, SegmentValue::Exact(i + 1))],
                    RGBColor(70, 130, 180).filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// A histogram of `values` (NaN ignored) with `bins` bins over their range, counts on a log
/// scale when `log` is set (CT histograms span orders of magnitude).
pub fn histogram(title: &str, values: &[f32], bins: usize, x_desc: &str, log: bool) -> Option<String> {
    let (lo, hi) = finite_range(values.iter().map(|&v| v as f64))?;
    let bins = bins.max(1);
    let mut counts = vec![0u64; bins];
    let w = (hi - lo) / bins as f64;
    for &v in values {
        let v = v as f64;
        if v.is_finite() {
            let b = (((v - lo) / w) as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    let ymax = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut builder = ChartBuilder::on(&root);
        builder.caption(title, ("sans-serif", 16)).margin(10).x_label_area_size(35).y_label_area_size(60);
        let bars = counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 * w;
            (x0, x0 + w, c as f64)
        });
        if log {
            let mut chart = builder.build_cartesian_2d(lo..hi, (1.0..ymax * 1.5).log_scale()).ok()?;
            chart.configure_mesh().x_desc(x_desc).y_desc("voxels").draw().ok()?;
            chart
                .draw_series(
                    bars.filter(|b| b.2 >= 1.0)
                        .map(|(a, b, c)| Rectangle::new([(a, 1.0), (b, c)], RGBColor(70, 130, 180).filled())),
                )
                .ok()?;
        } else {
            let mut chart = builder.build_cartesian_2d(lo..hi, 0.0..ymax * 1.05).ok()?;
            chart.configure_mesh().x_desc(x_desc).y_desc("voxels").draw().ok()?;
            chart
                .draw_series(
                    bars.map(|(a, b, c)| Rectangle::new([(a, 0.0), (b, c)], RGBColor(70, 130, 180).filled())),
                )
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// Line plot of one or more named series sharing an x axis (e.g. a residual per iteration).
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Option<String> {
    let (x0, x1) = finite_range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)))?;
    let (y0, y1) = finite_range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)))?;
    let pad = (y1 - y0) * 0.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .ok()?;
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().ok()?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()),
                    color,
                ))
                .ok()?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_svg_documents() {
        let b = bar_chart("t", &["a".into(), "b".into()], &[1.0, 2.5], "s").unwrap();
        assert!(b.starts_with("<svg") && b.contains("</svg>"));
        let h = histogram("h", &[1.0, 2.0, 2.0, f32::NAN, 3.0], 4, "HU", true).unwrap();
        assert!(h.matches("<rect").count() >= 3, "{h}");
        let l = lines("l", "it", "r", &[("x".into(), vec![(0.0, 1.0), (1.0, 0.5)])]).unwrap();
        assert!(l.contains("<polyline") || l.contains("<path"));
        assert!(histogram("empty", &[f32::NAN], 4, "", false).is_none());
    }
}
