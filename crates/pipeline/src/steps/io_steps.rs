//! `load` and `save`.

use std::path::PathBuf;

use hounsfield_core::AnyVolume;
use hounsfield_io::{read_image, write_image, ReadOptions, WriteOptions};

use super::{fail, Step, StepError};
use crate::pipeline::StepContext;
use crate::study::{ImageKind, Study, StudyImage};

/// Reads an image file or DICOM folder into the study.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// File or DICOM folder (relative paths are relative to the working directory).
    pub path: PathBuf,
    /// Role for the image (f32). At least one of `image` and `labels` is required.
    #[serde(default)]
    pub image: Option<String>,
    /// Role for the file read as a label map (integers 0..=65535).
    #[serde(default)]
    pub labels: Option<String>,
    /// What the image shows; default: `ct` for DICOM CT, `mr` for DICOM MR, else `other`.
    #[serde(default)]
    pub modality: Option<ImageKind>,
    /// DICOM folder with several series: the SeriesInstanceUID to read.
    #[serde(default)]
    pub series: Option<String>,
}

impl Step for Load {
    fn kind(&self) -> &'static str {
        "load"
    }
    fn inputs(&self) -> Vec<String> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<String> {
        self.image.iter().chain(self.labels.iter()).cloned().collect()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        if self.image.is_none() && self.labels.is_none() {
            return Err(fail("`load` needs `image` or `labels` (the role to store the file under)"));
        }
        let opts = ReadOptions { series_uid: self.series.clone(), ..Default::default() };
        let img = read_image(&self.path, &opts)?;
        let kind = self.modality.unwrap_or(match img.modality.as_deref() {
            Some("CT") => ImageKind::Ct,
            Some("MR") => ImageKind::Mr,
            _ => ImageKind::Other,
        });
        let d = img.volume.dims();
        ctx.record.summary =
            format!("read {} ({}, {}×{}×{})", self.path.display(), img.format.name(), d[0], d[1], d[2]);
        if let Some(role) = &self.labels {
            study.insert_labels(role.clone(), img.volume.to_labels()?);
        }
        if let Some(role) = &self.image {
            study.insert_image(role.clone(), StudyImage { volume: img.volume.into_f32(), kind });
        }
        Ok(())
    }
}

/// Writes an image, label map (format by extension) or displacement field (NIfTI vector
/// image, ITK/ANTs convention) of the study to a file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Save {
    /// The role to write (an image or a label map).
    pub role: String,
    /// Output path; relative paths are inside the output folder.
    pub path: PathBuf,
}

impl Step for Save {
    fn kind(&self) -> &'static str {
        "save"
    }
    fn inputs(&self) -> Vec<String> {
        vec![self.role.clone()]
    }
    fn outputs(&self) -> Vec<String> {
        Vec::new()
    }
    fn run(&self, study: &mut Study, ctx: &mut StepContext<'_>) -> Result<(), StepError> {
        let path = ctx.out_path(&self.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if let Ok(field) = study.field(&self.role) {
            // Displacement fields go out as ITK/ANTs-convention NIfTI vector images.
            hounsfield_io::nifti::write_vector_field(&path, &field.to_components())?;
        } else {
            let vol: AnyVolume = if let Ok(img) = study.image(&self.role) {
                img.volume.clone().into()
            } else {
                study.labels(&self.role)?.clone().into()
            };
            write_image(&path, &vol, &WriteOptions::default())?;
        }
        ctx.record.summary = format!("wrote `{}` to {}", self.role, self.path.display());
        ctx.record.files.push(self.path.clone());
        Ok(())
    }
}
