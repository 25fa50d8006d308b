//! Finding series in a folder: a recursive, parallel read of every file's attributes up to
//! the pixel data, grouped by SeriesInstanceUID.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use rayon::prelude::*;

use super::header::{numbers, text};
use super::parse::{parse_path, Depth};
use super::{DicomError, SeriesInfo};

/// Media Storage Directory Storage: a DICOMDIR, which indexes files but holds no image.
const DICOMDIR_SOP_CLASS: &str = "1.2.840.10008.1.3.10";

/// Every regular file under `dir` (symlinked files are followed, symlinked folders are not,
/// so links cannot make the walk loop), sorted by path.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, DicomError> {
    let meta = std::fs::metadata(dir).map_err(|source| DicomError::ReadFile { path: dir.into(), source })?;
    if meta.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|source| DicomError::ReadFile { path: d.clone(), source })?;
        for e in entries {
            let e = e.map_err(|source| DicomError::ReadFile { path: d.clone(), source })?;
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() || (ft.is_symlink() && p.is_file()) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What one file contributes to its series.
struct Entry {
    path: PathBuf,
    series_uid: String,
    study_uid: String,
    modality: String,
    description: String,
    patient_id: String,
    series_number: Option<i64>,
    instance: Option<i64>,
    rows: u32,
    cols: u32,
    frames: u64,
}

fn entry(path: &Path) -> Option<Entry> {
    let p = match parse_path(path, Depth::Header) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!("skipping {}: {e}", path.display());
            return None;
        }
    };
    let obj = &p.obj;
    let sop = text(obj, tags::SOP_CLASS_UID).or(p.media_sop_class.clone()).unwrap_or_default();
    if sop == DICOMDIR_SOP_CLASS || obj.get(tags::DIRECTORY_RECORD_SEQUENCE).is_some() {
        return None;
    }
    let Some(series_uid) = text(obj, tags::SERIES_INSTANCE_UID) else {
        tracing::debug!("skipping {}: no SeriesInstanceUID", path.display());
        return None;
    };
    let int = |tag| first_number(obj, tag);
    Some(Entry {
        path: path.to_path_buf(),
        series_uid,
        study_uid: text(obj, tags::STUDY_INSTANCE_UID).unwrap_or_default(),
        modality: text(obj, tags::MODALITY).unwrap_or_default(),
        description: text(obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
        patient_id: text(obj, tags::PATIENT_ID).unwrap_or_default(),
        series_number: int(tags::SERIES_NUMBER).map(|v| v as i64),
        instance: int(tags::INSTANCE_NUMBER).map(|v| v as i64),
        rows: first_number(obj, tags::ROWS).map(|v| v as u32).unwrap_or(0),
        cols: first_number(obj, tags::COLUMNS).map(|v| v as u32).unwrap_or(0),
        frames: int(tags::NUMBER_OF_FRAMES).map(|v| v.max(1.0) as u64).unwrap_or(1),
    })
}

fn first_number(obj: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> Option<f64> {
    numbers(obj, tag, "", Path::new("")).ok().flatten().and_then(|v| v.first().copied()).filter(|v| *v >= 0.0)
}

/// Masks a patient ID for listings: first and last character kept, the rest as `*`
/// (`"PAT12345"` → `"P******5"`), so that `hounsfield info` output can be shared.
pub(crate) fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 | 2 => "*".repeat(chars.len()),
        n => std::iter::once(chars[0])
            .chain(std::iter::repeat_n('*', n - 2))
            .chain(std::iter::once(chars[n - 1]))
            .collect(),
    }
}

pub(crate) fn scan(dir: &Path) -> Result<Vec<SeriesInfo>, DicomError> {
    let files = files_under(dir)?;
    let entries: Vec<Entry> = files.par_iter().filter_map(|p| entry(p)).collect();
    let mut groups: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        groups.entry(e.series_uid.clone()).or_default().push(e);
    }
    let mut series: Vec<(Option<i64>, SeriesInfo)> = groups
        .into_values()
        .map(|mut es| {
            es.sort_by(|a, b| (a.instance, &a.path).cmp(&(b.instance, &b.path)));
            let f = &es[0];
            let info = SeriesInfo {
                series_uid: f.series_uid.clone(),
                modality: f.modality.clone(),
                description: f.description.clone(),
                study_uid: f.study_uid.clone(),
                patient_id: mask_id(&f.patient_id),
                instances: es.len(),
                frames: es.iter().map(|e| e.frames).sum(),
                rows: f.rows,
                cols: f.cols,
                files: es.iter().map(|e| e.path.clone()).collect(),
            };
            (f.series_number, info)
        })
        .collect();
    series.sort_by(|(na, a), (nb, b)| {
        (&a.study_uid, na, &a.series_uid).cmp(&(&b.study_uid, nb, &b.series_uid))
    });
    Ok(series.into_iter().map(|(_, s)| s).collect())
}

fn listing(series: &[SeriesInfo]) -> String {
    series
        .iter()
        .map(|s| {
            format!(
                "  {}  {}  {} image(s)  {}×{}  {}",
                s.series_uid,
                if s.modality.is_empty() { "-" } else { &s.modality },
                s.instances,
                s.rows,
                s.cols,
                s.description
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn select<'a>(
    series: &'a [SeriesInfo],
    uid: Option<&str>,
    dir: &Path,
) -> Result<&'a SeriesInfo, DicomError> {
    match uid {
        Some(uid) => series.iter().find(|s| s.series_uid == uid).ok_or_else(|| DicomError::UnknownSeries {
            uid: uid.into(),
            listing: listing(series),
            dir: dir.into(),
        }),
        None => match series {
            [] => Err(DicomError::NoSeries { dir: dir.into() }),
            [one] => Ok(one),
            many => {
                Err(DicomError::SeveralSeries { count: many.len(), listing: listing(many), dir: dir.into() })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_ids_are_masked() {
        assert_eq!(mask_id("PAT12345"), "P******5");
        assert_eq!(mask_id("AB"), "**");
        assert_eq!(mask_id(""), "");
    }
}
