//! The HTML report: one self-contained file (PNG figures embedded as data URIs, plots as inline
//! SVG, no external resources) with, per step, its summary, metrics, tables, figures and
//! timing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::error::PipelineError;
use crate::study::{Figure, Study};

/// What the report says about the run as a whole.
#[derive(Clone, Debug, Default)]
pub struct ReportInfo {
    /// Title (e.g. the pipeline's name).
    pub title: String,
    /// One paragraph shown under the title.
    pub intro: String,
    /// Total wall time.
    pub total: Duration,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Standard base64 (RFC 4648) for data URIs.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], c.get(1).copied().unwrap_or(0), c.get(2).copied().unwrap_or(0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        o.push(T[(n >> 18) as usize & 63] as char);
        o.push(T[(n >> 12) as usize & 63] as char);
        o.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        o.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    o
}

/// Formats a number for a table: 1 decimal from 100 up, 4 below, scientific outside 1e-3..1e6.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}\
figure{display:inline-block;margin:.4em;vertical-align:top;text-align:center}\
figure img{image-rendering:pixelated;width:300px;height:auto;border:1px solid #ddd;background:#000}\
figcaption{font-size:.85em;color:#555}.muted{color:#666;font-size:.9em}code{background:#f4f4f4;padding:0 .2em}";

/// Renders the report of a study's executed steps as one HTML document.
pub fn render_html(study: &Study, info: &ReportInfo) -> String {
    let mut h = String::with_capacity(1 << 20);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title><style>{STYLE}</style></head>\
         <body><h1>{t}</h1><p class=\"muted\">Hounsfield {ver} · {n} steps · total {total:.2} s</p><p>{intro}</p>",
        t = escape(&info.title),
        ver = env!("CARGO_PKG_VERSION"),
        n = study.records.len(),
        total = info.total.as_secs_f64(),
        intro = escape(&info.intro),
    );

    // Overview table and timing chart.
    h.push_str("<h2 id=\"overview\">Overview</h2><table class=\"overview\"><tr><th>step</th><th>kind</th><th>what it did</th><th>time (s)</th></tr>");
    for r in &study.records {
        let _ = write!(
            h,
            "<tr><td><a href=\"#step-{id}\">{id}</a></td><td>{k}</td><td style=\"text-align:left\">{s}</td><td>{t:.3}</td></tr>",
            id = escape(&r.id),
            k = escape(&r.kind),
            s = escape(&r.summary),
            t = r.duration.as_secs_f64()
        );
    }
    h.push_str("</table>");
    let names: Vec<String> = study.records.iter().map(|r| r.id.clone()).collect();
    let times: Vec<f64> = study.records.iter().map(|r| r.duration.as_secs_f64()).collect();
    if let Some(svg) = crate::plot::bar_chart("Time per step", &names, &times, "seconds") {
        let _ = write!(h, "<figure class=\"plot\">{svg}<figcaption>Wall time per step</figcaption></figure>");
    }

    for r in &study.records {
        let _ = write!(
            h,
            "<h2 id=\"step-{id}\">{id} <span class=\"muted\">({k}, {t:.3} s)</span></h2><p>{s}</p>",
            id = escape(&r.id),
            k = escape(&r.kind),
            t = r.duration.as_secs_f64(),
            s = escape(&r.summary)
        );
        if !r.inputs.is_empty() || !r.outputs.is_empty() {
            let _ = write!(
                h,
                "<p class=\"muted\">reads: {} · writes: {}</p>",
                escape(&r.inputs.join(", ")),
                escape(&r.outputs.join(", "))
            );
        }
        if !r.metrics.is_empty() {
            h.push_str("<table class=\"metrics\"><tr><th>metric</th><th>value</th><th>unit</th></tr>");
            for m in &r.metrics {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&m.name),
                    fmt_value(m.value),
                    escape(&m.unit)
                );
            }
            h.push_str("</table>");
        }
        for t in &r.tables {
            let _ = write!(h, "<p><b>{}</b></p><table class=\"data\"><tr>", escape(&t.title));
            for c in &t.header {
                let _ = write!(h, "<th>{}</th>", escape(c));
            }
            h.push_str("</tr>");
            for row in &t.rows {
                h.push_str("<tr>");
                for c in row {
                    let _ = write!(h, "<td>{}</td>", escape(c));
                }
                h.push_str("</tr>");
            }
            h.push_str("</table>");
        }
        if !r.figures.is_empty() {
            h.push_str("<div class=\"figures\">");
            for f in &r.figures {
                match f {
                    Figure::Png { title, png } => {
                        let _ = write!(
                            h,
                            "<figure><img alt=\"{t}\" src=\"data:image/png;base64,{b}\"><figcaption>{t}</figcaption></figure>",
                            t = escape(title),
                            b = base64(png)
                        );
                    }
                    Figure::Svg { title, svg } => {
                        let _ = write!(
                            h,
                            "<figure class=\"plot\">{svg}<figcaption>{}</figcaption></figure>",
                            escape(title)
                        );
                    }
                }
            }
            h.push_str("</div>");
        }
        if !r.files.is_empty() {
            h.push_str("<p class=\"muted\">files: ");
            let links: Vec<String> = r
                .files
                .iter()
                .map(|f| {
                    let s = f.to_string_lossy();
                    format!("<a href=\"{0}\"><code>{0}</code></a>", escape(&s))
                })
                .collect();
            h.push_str(&links.join(", "));
            h.push_str("</p>");
        }
    }
    // Lets a headless browser (and the test that drives it) see that every image decoded.
    h.push_str(
        "<script>window.addEventListener('load',function(){var im=document.images,ok=0;\
         for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}\
         document.body.setAttribute('data-images',im.length);document.body.setAttribute('data-images-loaded',ok);\
         document.body.setAttribute('data-tables',document.getElementsByTagName('table').length);});</script>",
    );
    h.push_str("</body></html>\n");
    h
}

/// Writes the report atomically to `path`.
pub fn write_report(path: &Path, study: &Study, info: &ReportInfo) -> Result<(), PipelineError> {
    let html = render_html(study, info);
    hounsfield_io::atomic::write_atomic(path, |w| w.write_all(html.as_bytes())).map_err(|source| {
        PipelineError::Io(hounsfield_io::IoError::Fs { op: "write", path: path.into(), source })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::{StepRecord, Table};

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn report_escapes_and_contains_sections() {
        let mut s = Study::new();
        let mut r = StepRecord {
            id: "a<b".into(),
            kind: "k".into(),
            summary: "did & done".into(),
            ..Default::default()
        };
        r.metric("dice", 0.9, "");
        r.tables.push(Table { title: "t".into(), header: vec!["x".into()], rows: vec![vec!["1".into()]] });
        r.figures.push(Figure::Png { title: "fig".into(), png: vec![1, 2, 3] });
        s.records.push(r);
        let h = render_html(&s, &ReportInfo { title: "T".into(), ..Default::default() });
        assert!(h.contains("a&lt;b") && h.contains("did &amp; done") && !h.contains("a<b"));
        assert!(h.contains("data:image/png;base64,AQID"));
        assert!(h.contains("<td>dice</td><td>0.9000</td>"));
    }
}
