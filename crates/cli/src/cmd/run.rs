//! `hounsfield run`: execute a pipeline file and write its report.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use hounsfield_pipeline::report::{write_report, ReportInfo};
use hounsfield_pipeline::{Observer, Pipeline, RunOptions, StepRecord, Study};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `hounsfield run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pipeline file (TOML): a `name` and `[[step]]` tables with `id`, `kind` and the kind's fields.
    pub pipeline: PathBuf,
    /// Output folder for files and `report.html`.
    #[arg(long, short, default_value = "hounsfield-out")]
    pub out: PathBuf,
    /// Print the step records as JSON on stdout when done.
    #[arg(long)]
    pub json: bool,
}

/// Draws one progress bar per step on stderr.
pub struct Bars {
    quiet: bool,
    current: RefCell<Option<ProgressBar>>,
}

impl Bars {
    /// Bars unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self { quiet, current: RefCell::new(None) }
    }
}

impl Observer for Bars {
    fn step_started(&self, index: usize, total: usize, id: &str, kind: &str) {
        let pb = if self.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(1000)
        };
        pb.set_style(
            ProgressStyle::with_template("[{prefix}] {msg:<32} {bar:30} {elapsed_precise} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_prefix(format!("{}/{}", index + 1, total));
        pb.set_message(format!("{id} ({kind})"));
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        *self.current.borrow_mut() = Some(pb);
    }
    fn step_progress(&self, fraction: f64) {
        if let Some(pb) = self.current.borrow().as_ref() {
            pb.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        }
    }
    fn step_finished(&self, record: &StepRecord) {
        if let Some(pb) = self.current.borrow_mut().take() {
            pb.finish_and_clear();
        }
        if !self.quiet {
            eprintln!("  ✓ {:<16} {:>7.2} s  {}", record.id, record.duration.as_secs_f64(), record.summary);
        }
    }
}

/// Runs a pipeline over an empty study, writes `out/report.html`, returns the study.
pub fn execute(
    pipeline: &Pipeline,
    out: &std::path::Path,
    intro: &str,
    g: &crate::ui::GlobalArgs,
) -> anyhow::Result<Study> {
    let mut study = Study::new();
    let t0 = Instant::now();
    pipeline.run(&mut study, &RunOptions { out_dir: out.to_path_buf() }, &Bars::new(g.quiet))?;
    let info = ReportInfo { title: pipeline.name.clone(), intro: intro.to_string(), total: t0.elapsed() };
    let report = out.join("report.html");
    write_report(&report, &study, &info)?;
    g.note(format!("report: {} ({:.1} s in all)", report.display(), t0.elapsed().as_secs_f64()));
    Ok(study)
}

/// The step records as JSON (id, kind, summary, seconds, metrics, files).
pub fn records_json(study: &Study) -> serde_json::Value {
    serde_json::Value::Array(
        study
            .records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "kind": r.kind,
                    "summary": r.summary,
                    "seconds": r.duration.as_secs_f64(),
                    "metrics": r.metrics,
                    "files": r.files,
                })
            })
            .collect(),
    )
}

/// Runs the command.
pub fn run(a: Args, g: &crate::ui::GlobalArgs) -> anyhow::Result<()> {
    let pipeline =
        Pipeline::from_file(&a.pipeline).with_context(|| format!("cannot use {}", a.pipeline.display()))?;
    let study = execute(&pipeline, &a.out, &format!("Pipeline file: {}", a.pipeline.display()), g)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&records_json(&study))?);
    }
    Ok(())
}
