//! Training data: case lists from a `phantom dataset` manifest or a NIfTI folder, read
//! through a caller-supplied volume reader (the CLI passes one built on `hounsfield-io`;
//! this crate does no image I/O), resampled and normalized into [`Sample`]s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hounsfield_core::{AnyVolume, IdentityTransform, LabelVolume, Volume};
use hounsfield_imgproc::interpolate::Interpolation;
use hounsfield_imgproc::resample::{grid_for_spacing, resample, resample_labels};
use serde::{Deserialize, Serialize};

use crate::card::Task;
use crate::normalize::Normalization;
use crate::NnError;

/// Reads one volume file; the error is the reader's message.
pub type VolumeReader<'a> = dyn Fn(&Path) -> Result<AnyVolume, String> + Sync + 'a;

/// One case: files by role (`image`, `labels`, `moving`, …) and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseFiles {
    /// Case id.
    pub id: String,
    /// Absolute (or caller-relative) paths by role.
    pub files: BTreeMap<String, PathBuf>,
    /// Task-specific metadata from the manifest (`null` for folders).
    pub metadata: serde_json::Value,
}

/// Parses a `phantom dataset` `manifest.json` (its text; `dir` is the dataset folder the
/// file paths are relative to).
pub fn parse_manifest(text: &str, dir: &Path) -> Result<Vec<CaseFiles>, NnError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| NnError::Parse {
        what: "manifest",
        reason: e.to_string(),
        path: dir.join("manifest.json").display().to_string(),
    })?;
    let cases = v
        .get("cases")
        .and_then(|c| c.as_array())
        .ok_or_else(|| NnError::Dataset { reason: "manifest has no `cases` array".into() })?;
    let mut out = Vec::with_capacity(cases.len());
    for (i, c) in cases.iter().enumerate() {
        let id =
            c.get("id").and_then(|x| x.as_str()).map(str::to_owned).unwrap_or_else(|| format!("case {i}"));
        let files = c
            .get("files")
            .and_then(|f| f.as_object())
            .ok_or_else(|| NnError::Dataset { reason: format!("case `{id}` has no `files` table") })?;
        let files =
            files.iter().filter_map(|(role, p)| p.as_str().map(|p| (role.clone(), dir.join(p)))).collect();
        out.push(CaseFiles { id, files, metadata: c.get("metadata").cloned().unwrap_or_default() });
    }
    Ok(out)
}

/// Lists a NIfTI folder in nnU-Net's layout: `imagesTr/NAME_0000.nii.gz` (one file per
/// channel, `_0000`, `_0001`, … become roles `image`, `image_0001`, …) and, when present,
/// `labelsTr/NAME.nii.gz` (role `labels`). Only names are listed; nothing is read.
pub fn list_folder(dir: &Path) -> Result<Vec<CaseFiles>, NnError> {
    let images = dir.join("imagesTr");
    let rd = std::fs::read_dir(&images).map_err(|source| NnError::File {
        operation: "list training images",
        source,
        path: images.display().to_string(),
    })?;
    let mut cases: BTreeMap<String, CaseFiles> = BTreeMap::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".nii.gz").or_else(|| name.strip_suffix(".nii"));
        let Some(stem) = stem else { continue };
        let (case, ch) = match stem.rsplit_once('_') {
            Some((c, ch)) if ch.len() == 4 && ch.chars().all(|x| x.is_ascii_digit()) => {
                (c.to_owned(), ch.to_owned())
            }
            _ => (stem.to_owned(), "0000".to_owned()),
        };
        let role = if ch == "0000" { "image".to_owned() } else { format!("image_{ch}") };
        let entry = cases.entry(case.clone()).or_insert_with(|| CaseFiles {
            id: case.clone(),
            files: BTreeMap::new(),
            metadata: serde_json::Value::Null,
        });
        entry.files.insert(role, e.path());
        for ext in ["nii.gz", "nii"] {
            let l = dir.join("labelsTr").join(format!("{case}.{ext}"));
            if l.exists() {
                entry.files.insert("labels".into(), l);
            }
        }
    }
    if cases.is_empty() {
        return Err(NnError::Dataset { reason: format!("no .nii or .nii.gz file in {}", images.display()) });
    }
    Ok(cases.into_values().collect())
}

/// `[data]` of a training config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A `phantom dataset` manifest (`manifest.json`).
    pub manifest: Option<PathBuf>,
    /// A NIfTI folder in nnU-Net layout (`imagesTr/`, `labelsTr/`).
    pub folder: Option<PathBuf>,
    /// Roles that become the input channels, in order (default `["image"]`; registration:
    /// `["moving", "fixed"]`).
    pub inputs: Vec<String>,
    /// Role of the target: a label map (segmentation) or an image (synthesis); unused for
    /// registration and classification (default `labels`).
    pub target: String,
    /// Label id of each class index (segmentation; default 0, 1, …, classes − 1).
    pub label_ids: Vec<u16>,
    /// What to do with label ids not in `label_ids`.
    pub unlisted_labels: UnlistedLabels,
    /// Metadata field holding the class index (classification; default `class`).
    pub class_field: String,
    /// Fraction of cases held out for validation (default 0.2; at least one case stays in
    /// training).
    pub validation_fraction: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            manifest: None,
            folder: None,
            inputs: vec!["image".into()],
            target: "labels".into(),
            label_ids: Vec::new(),
            unlisted_labels: UnlistedLabels::Error,
            class_field: "class".into(),
            validation_fraction: 0.2,
        }
    }
}

/// Label ids a segmentation config does not list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlistedLabels {
    /// Refuse the case, naming the ids (the default: a silent merge is a wrong model).
    #[default]
    Error,
    /// Treat them as background.
    Background,
}

/// `[preprocessing]`: applied to every case before training and recorded in the card.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preprocessing {
    /// Resample every case to this spacing (mm, x y z); absent: keep each case's own.
    pub spacing: Option<[f64; 3]>,
    /// Input intensity normalization (default z-score).
    pub normalization: Normalization,
    /// Target normalization (synthesis; default z-score... of the target: prefer `clip` for
    /// CT so outputs map back to HU).
    pub target_normalization: Option<Normalization>,
}

/// A case ready for training: channels on one grid, normalized.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Case id.
    pub id: String,
    /// Dimensions (x, y, z) shared by every array.
    pub dims: [usize; 3],
    /// Input channels, each `dims` voxels (x fastest).
    pub images: Vec<Vec<f32>>,
    /// Class index per voxel (segmentation).
    pub labels: Option<Vec<u16>>,
    /// Target image (synthesis).
    pub target: Option<Vec<f32>>,
    /// Image class (classification).
    pub class: Option<usize>,
}

/// What [`load_samples`] needs to know about the task.
#[derive(Clone, Debug)]
pub struct LoadSpec<'a> {
    /// The task.
    pub task: Task,
    /// Data settings.
    pub data: &'a DataConfig,
    /// Preprocessing.
    pub preprocessing: &'a Preprocessing,
    /// Output classes (segmentation, classification).
    pub classes: usize,
}

fn read_f32(reader: &VolumeReader<'_>, case: &CaseFiles, role: &str) -> Result<Volume<f32>, NnError> {
    let p = case.files.get(role).ok_or_else(|| NnError::Dataset {
        reason: format!(
            "case `{}` has no `{role}` file (it has: {})",
            case.id,
            case.files.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    })?;
    let v = reader(p).map_err(|reason| NnError::LoadCase { case: case.id.clone(), reason })?;
    Ok(v.into_f32())
}

/// Reads, checks, resamples and normalizes every case.
pub fn load_samples(
    cases: &[CaseFiles],
    reader: &VolumeReader<'_>,
    spec: &LoadSpec<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Sample>, NnError> {
    if cases.is_empty() {
        return Err(NnError::Dataset { reason: "no case to train on".into() });
    }
    let label_ids: Vec<u16> = if spec.data.label_ids.is_empty() {
        (0..spec.classes as u16).collect()
    } else {
        spec.data.label_ids.clone()
    };
    let mut out = Vec::with_capacity(cases.len());
    for (ci, case) in cases.iter().enumerate() {
        let mut images = Vec::new();
        for role in &spec.data.inputs {
            images.push(read_f32(reader, case, role)?);
        }
        let first = images.first().ok_or_else(|| NnError::config("data.inputs", "lists no role"))?.clone();
        for (r, v) in spec.data.inputs.iter().zip(&images) {
            if !v.same_grid(&first, 1e-4) {
                return Err(NnError::Dataset {
                    reason: format!(
                        "case `{}`: `{r}` is not on the grid of `{}`",
                        case.id, spec.data.inputs[0]
                    ),
                });
            }
        }
        let (dims, geom) = match spec.preprocessing.spacing {
            Some(s) => grid_for_spacing(first.dims(), first.geometry(), s)?,
            None => (first.dims(), *first.geometry()),
        };
        let same = dims == first.dims() && geom.approx_eq(first.geometry(), 1e-9);
        let to_grid = |v: &Volume<f32>| -> Result<Vec<f32>, NnError> {
            Ok(if same {
                v.data().to_vec()
            } else {
                resample(v, dims, &geom, &IdentityTransform, Interpolation::Linear, 0.0)?.into_vec()
            })
        };
        let mut chans = Vec::new();
        for v in &images {
            let mut d = to_grid(v)?;
            if let Some(i) = d.iter().position(|x| !x.is_finite()) {
                return Err(NnError::Dataset {
                    reason: format!("case `{}` has a non-finite voxel at index {i}", case.id),
                });
            }
            spec.preprocessing.normalization.apply(&mut d);
            chans.push(d);
        }
        let mut sample =
            Sample { id: case.id.clone(), dims, images: chans, labels: None, target: None, class: None };
        match spec.task {
            Task::Segmentation => {
                let p = case.files.get(&spec.data.target).ok_or_else(|| NnError::Dataset {
                    reason: format!("case `{}` has no `{}` file", case.id, spec.data.target),
                })?;
                let any = reader(p).map_err(|reason| NnError::LoadCase { case: case.id.clone(), reason })?;
                let lab = any
                    .to_labels()
                    .map_err(|e| NnError::LoadCase { case: case.id.clone(), reason: e.to_string() })?;
                if !lab.same_grid(&first, 1e-4) {
                    return Err(NnError::Dataset {
                        reason: format!("case `{}`: labels are not on the image grid", case.id),
                    });
                }
                let lab = if same { lab } else { resample_labels(&lab, dims, &geom, &IdentityTransform, 0)? };
                let mut lut = vec![u16::MAX; 65536];
                for (c, &id) in label_ids.iter().enumerate() {
                    lut[id as usize] = c as u16;
                }
                let mut unknown = std::collections::BTreeSet::new();
                let cls: Vec<u16> = lab
                    .data()
                    .iter()
                    .map(|&l| {
                        let c = lut[l as usize];
                        if c == u16::MAX {
                            unknown.insert(l);
                            0
                        } else {
                            c
                        }
                    })
                    .collect();
                if !unknown.is_empty() && spec.data.unlisted_labels == UnlistedLabels::Error {
                    return Err(NnError::Dataset {
                        reason: format!(
                            "case `{}` has label ids {:?} that `data.label_ids` ({label_ids:?}) does not list \
                             (list them or set data.unlisted_labels = \"background\")",
                            case.id,
                            unknown.into_iter().take(12).collect::<Vec<_>>()
                        ),
                    });
                }
                sample.labels = Some(cls);
            }
            Task::Synthesis => {
                let t = read_f32(reader, case, &spec.data.target)?;
                if !t.same_grid(&first, 1e-4) {
                    return Err(NnError::Dataset {
                        reason: format!("case `{}`: target is not on the image grid", case.id),
                    });
                }
                let mut d = to_grid(&t)?;
                spec.preprocessing.target_normalization.unwrap_or_default().apply(&mut d);
                sample.target = Some(d);
            }
            Task::Registration => {
                if sample.images.len() != 2 {
                    return Err(NnError::config(
                        "data.inputs",
                        "registration needs two roles: moving and fixed",
                    ));
                }
            }
            Task::Classification => {
                let c =
                    case.metadata.get(&spec.data.class_field).and_then(|v| v.as_u64()).ok_or_else(|| {
                        NnError::Dataset {
                            reason: format!(
                                "case `{}` has no integer metadata field `{}`",
                                case.id, spec.data.class_field
                            ),
                        }
                    })? as usize;
                if c >= spec.classes {
                    return Err(NnError::Dataset {
                        reason: format!(
                            "case `{}` has class {c} but the model has {} classes",
                            case.id, spec.classes
                        ),
                    });
                }
                sample.class = Some(c);
            }
        }
        out.push(sample);
        progress(ci + 1, cases.len());
    }
    Ok(out)
}

/// Splits samples into training and validation sets: every ⌈1/fraction⌉-th case (by
/// position) goes to validation, at least one case stays in training.
pub fn split(samples: Vec<Sample>, fraction: f64) -> (Vec<Sample>, Vec<Sample>) {
    let n = samples.len();
    let n_val = ((n as f64 * fraction).round() as usize).min(n.saturating_sub(1));
    if n_val == 0 {
        return (samples, Vec::new());
    }
    let every = n as f64 / n_val as f64;
    let val_idx: std::collections::BTreeSet<usize> =
        (0..n_val).map(|i| ((i as f64 + 0.5) * every) as usize).map(|i| i.min(n - 1)).collect();
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for (i, s) in samples.into_iter().enumerate() {
        if val_idx.contains(&i) {
            va.push(s)
        } else {
            tr.push(s)
        }
    }
    (tr, va)
}

/// A label volume from class indices (for tests and tools).
pub fn labels_volume(
    dims: [usize; 3],
    geometry: hounsfield_core::Geometry,
    data: Vec<u16>,
) -> Result<LabelVolume, NnError> {
    Ok(LabelVolume::new(Volume::from_vec(dims, geometry, data)?))
}
