//! A `Pipeline`: typed steps read from TOML, run over a [`Study`] in dependency order.
//!
//! ```toml
//! name = "example"
//!
//! [[step]]
//! id = "ct"            # unique name of the step
//! kind = "phantom"     # which step (see `steps::KINDS`)
//! anatomy = "torso"    # the rest are the kind's own fields
//! modality = "ct"
//! image = "ct"         # roles the step writes...
//! labels = "truth"
//!
//! [[step]]
//! id = "smooth"
//! kind = "smooth"
//! input = "ct"         # ...and reads
//! output = "ct_smooth"
//! sigma_mm = 1.5
//! ```
//!
//! Steps run in the order their inputs allow (a step runs after every step that writes a role
//! it reads); ties keep file order. A role that nothing writes and the study lacks, a cycle,
//! duplicate ids or two writers of one role are errors that name the step and its line.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::PipelineError;
use crate::steps::{self, Step};
use crate::study::{StepRecord, Study};

/// One step of a pipeline as read from the file.
#[derive(Debug)]
pub struct PipelineStep {
    /// Unique id.
    pub id: String,
    /// 1-based line of its `[[step]]` header (0 when built in code).
    pub line: usize,
    /// The typed step.
    pub step: Box<dyn Step>,
}

/// A named list of steps.
#[derive(Debug)]
pub struct Pipeline {
    /// Name shown in the report.
    pub name: String,
    /// Steps in file order.
    pub steps: Vec<PipelineStep>,
}

/// Receives progress while a pipeline runs (the CLI draws progress bars with it).
pub trait Observer {
    /// A step is about to run (`index` counts from 0 in execution order).
    fn step_started(&self, _index: usize, _total: usize, _id: &str, _kind: &str) {}
    /// Progress of the running step, 0..=1.
    fn step_progress(&self, _fraction: f64) {}
    /// A step finished.
    fn step_finished(&self, _record: &StepRecord) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;
impl Observer for Silent {}

/// What a running step can use besides the study.
pub struct StepContext<'a> {
    /// The folder where outputs go.
    pub out_dir: &'a Path,
    /// The step's record: add metrics, tables, figures and files here.
    pub record: &'a mut StepRecord,
    /// Reports progress (0..=1) of the step.
    pub progress: &'a dyn Fn(f64),
}

impl StepContext<'_> {
    /// Resolves a path given in a pipeline file: relative paths are inside the output folder.
    pub fn out_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.out_dir.join(p)
        }
    }
}

/// Options of [`Pipeline::run`].
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Folder for outputs and the report (created if missing).
    pub out_dir: PathBuf,
}

fn step_header_lines(src: &str) -> Vec<usize> {
    src.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.starts_with("[[step]]") || t.starts_with("[[ step ]]")
        })
        .map(|(i, _)| i + 1)
        .collect()
}

impl Pipeline {
    /// Reads a pipeline from TOML text.
    pub fn from_toml_str(src: &str) -> Result<Pipeline, PipelineError> {
        let doc: toml::Table = src.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| src[..s.start.min(src.len())].lines().count().max(1)).unwrap_or(0);
            PipelineError::Parse { line, message: e.message().to_string() }
        })?;
        let lines = step_header_lines(src);
        let mut name = String::from("pipeline");
        let mut raw_steps = Vec::new();
        for (k, v) in doc {
            match (k.as_str(), v) {
                ("name", toml::Value::String(s)) => name = s,
                ("step", toml::Value::Array(a)) => raw_steps = a,
                (other, _) => {
                    return Err(PipelineError::Parse {
                        line: 0,
                        message: format!(
                            "unknown top-level key `{other}` (expected `name` and `[[step]]` tables)"
                        ),
                    })
                }
            }
        }
        if raw_steps.is_empty() {
            return Err(PipelineError::Parse {
                line: 0,
                message: "the pipeline has no [[step]] tables".into(),
            });
        }
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, v) in raw_steps.into_iter().enumerate() {
            let line = lines.get(i).copied().unwrap_or(0);
            let toml::Value::Table(mut t) = v else {
                return Err(PipelineError::Parse { line, message: "a step must be a table".into() });
            };
            let mut take_str = |key: &str| match t.remove(key) {
                Some(toml::Value::String(s)) => Ok(s),
                Some(_) => Err(PipelineError::Parse {
                    line,
                    message: format!("step field `{key}` must be a string"),
                }),
                None => Err(PipelineError::Parse { line, message: format!("step {} has no `{key}`", i + 1) }),
            };
            let id = take_str("id")?;
            let kind = take_str("kind")?;
            if let Some(first) = seen.insert(id.clone(), line) {
                return Err(PipelineError::Duplicate {
                    line,
                    message: format!("step id `{id}` is used twice (first at line {first})"),
                });
            }
            let step = match steps::parse(&kind, t) {
                None => {
                    return Err(PipelineError::UnknownStepKind {
                        line,
                        id,
                        kind,
                        known: steps::KINDS.join(", "),
                    })
                }
                Some(Err(e)) => {
                    return Err(PipelineError::Parse { line, message: format!("step `{id}` ({kind}): {e}") })
                }
                Some(Ok(s)) => s,
            };
            out.push(PipelineStep { id, line, step });
        }
        Ok(Pipeline { name, steps: out })
    }

    /// Reads a pipeline file.
    pub fn from_file(path: &Path) -> Result<Pipeline, PipelineError> {
        let src = std::fs::read_to_string(path).map_err(|source| {
            PipelineError::Io(hounsfield_io::IoError::Fs { op: "read", path: path.into(), source })
        })?;
        Self::from_toml_str(&src)
    }

    /// The execution order (indices into `steps`), checked for missing inputs, duplicate
    /// writers and cycles. `available` are roles the study already holds.
    pub fn order(&self, available: &dyn Fn(&str) -> bool) -> Result<Vec<usize>, PipelineError> {
        let mut writer: BTreeMap<String, usize> = BTreeMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            for role in s.step.outputs() {
                if let Some(&j) = writer.get(&role) {
                    return Err(PipelineError::Duplicate {
                        line: s.line,
                        message: format!(
                            "steps `{}` and `{}` both write `{role}`; give one of them another role name",
                            self.steps[j].id, s.id
                        ),
                    });
                }
                writer.insert(role, i);
            }
        }
        let n = self.steps.len();
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in self.steps.iter().enumerate() {
            for role in s.step.inputs() {
                match writer.get(&role) {
                    Some(&j) => deps[i].push(j),
                    None if available(&role) => {}
                    None => return Err(PipelineError::MissingInput { step: s.id.clone(), role }),
                }
            }
        }
        // Kahn's algorithm, always taking the lowest ready index so file order breaks ties.
        let mut indeg: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut done = vec![false; n];
        let mut order = Vec::with_capacity(n);
        while order.len() < n {
            let Some(next) = (0..n).find(|&i| !done[i] && indeg[i] == 0) else {
                let stuck: Vec<&str> =
                    (0..n).filter(|&i| !done[i]).map(|i| self.steps[i].id.as_str()).collect();
                return Err(PipelineError::Cycle(stuck.join(" → ")));
            };
            done[next] = true;
            order.push(next);
            for (i, d) in deps.iter().enumerate() {
                indeg[i] -= d.iter().filter(|&&j| j == next).count();
            }
        }
        Ok(order)
    }

    /// Runs every step over `study`, in dependency order. Each step's record (timings,
    /// metrics, figures) is appended to `study.records`.
    pub fn run(
        &self,
        study: &mut Study,
        options: &RunOptions,
        observer: &dyn Observer,
    ) -> Result<(), PipelineError> {
        let order = self.order(&|r| study.has_role(r))?;
        std::fs::create_dir_all(&options.out_dir).map_err(|source| {
            PipelineError::Io(hounsfield_io::IoError::Fs {
                op: "create",
                path: options.out_dir.clone(),
                source,
            })
        })?;
        let total = order.len();
        for (k, &i) in order.iter().enumerate() {
            let s = &self.steps[i];
            let kind = s.step.kind();
            observer.step_started(k, total, &s.id, kind);
            let mut record = StepRecord {
                id: s.id.clone(),
                kind: kind.to_string(),
                inputs: s.step.inputs(),
                outputs: s.step.outputs(),
                ..Default::default()
            };
            let t0 = Instant::now();
            {
                let progress = |f: f64| observer.step_progress(f);
                let mut ctx =
                    StepContext { out_dir: &options.out_dir, record: &mut record, progress: &progress };
                s.step.run(study, &mut ctx).map_err(|source| PipelineError::Step {
                    id: s.id.clone(),
                    kind: kind.to_string(),
                    source,
                })?;
            }
            record.duration = t0.elapsed();
            observer.step_finished(&record);
            study.records.push(record);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
name = "t"

[[step]]
id = "stats"
kind = "label-stats"
image = "ct"
labels = "seg"

[[step]]
id = "read"
kind = "load"
path = "x.nii"
image = "ct"
labels = "seg"
"#;

    #[test]
    fn order_follows_dependencies() {
        let p = Pipeline::from_toml_str(TWO).unwrap();
        assert_eq!(p.name, "t");
        assert_eq!(p.steps[0].line, 4);
        assert_eq!(p.steps[1].line, 10);
        assert_eq!(p.order(&|_| false).unwrap(), vec![1, 0]);
    }

    #[test]
    fn unknown_kind_names_step_and_line() {
        let src = "[[step]]\nid = \"a\"\nkind = \"frobnicate\"\n";
        let e = Pipeline::from_toml_str(src).unwrap_err().to_string();
        assert!(
            e.contains("line 1") && e.contains("`a`") && e.contains("frobnicate") && e.contains("load"),
            "{e}"
        );
    }

    #[test]
    fn unknown_field_is_an_error() {
        let src = "[[step]]\nid = \"a\"\nkind = \"save\"\nrole = \"x\"\npath = \"o.nii\"\ncolour = 3\n";
        let e = Pipeline::from_toml_str(src).unwrap_err().to_string();
        assert!(e.contains("colour") && e.contains("`a`"), "{e}");
    }

    #[test]
    fn missing_input_and_cycle_are_errors() {
        let src = "[[step]]\nid = \"s\"\nkind = \"label-stats\"\nimage = \"ct\"\nlabels = \"seg\"\n";
        let p = Pipeline::from_toml_str(src).unwrap();
        let e = p.order(&|_| false).unwrap_err().to_string();
        assert!(e.contains("`s`") && e.contains("`ct`"), "{e}");
        assert!(p.order(&|_| true).is_ok());

        let dup = "[[step]]\nid = \"a\"\nkind = \"load\"\npath = \"p\"\nimage = \"x\"\n\
                   [[step]]\nid = \"a\"\nkind = \"load\"\npath = \"q\"\nimage = \"y\"\n";
        let e = Pipeline::from_toml_str(dup).unwrap_err().to_string();
        assert!(e.contains("line 6") && e.contains("used twice"), "{e}");

        let two_writers = "[[step]]\nid = \"a\"\nkind = \"load\"\npath = \"p\"\nimage = \"x\"\n\
                   [[step]]\nid = \"b\"\nkind = \"load\"\npath = \"q\"\nimage = \"x\"\n";
        let p = Pipeline::from_toml_str(two_writers).unwrap();
        assert!(p.order(&|_| false).unwrap_err().to_string().contains("both write `x`"));
    }

    #[test]
    fn cycle_is_an_error_naming_its_steps() {
        let src = "[[step]]\nid = \"one\"\nkind = \"smooth\"\ninput = \"a\"\noutput = \"b\"\nsigma_mm = 1.0\n\
                   [[step]]\nid = \"two\"\nkind = \"smooth\"\ninput = \"b\"\noutput = \"a\"\nsigma_mm = 1.0\n";
        let p = Pipeline::from_toml_str(src).unwrap();
        let e = p.order(&|_| false).unwrap_err().to_string();
        assert!(e.contains("cycle") && e.contains("one") && e.contains("two"), "{e}");
    }

    #[test]
    fn malformed_toml_reports_line() {
        let e = Pipeline::from_toml_str("name = \"x\"\n[[step]]\nid = \n").unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(Pipeline::from_toml_str("name = \"x\"\n").unwrap_err().to_string().contains("no [[step]]"));
    }
}
