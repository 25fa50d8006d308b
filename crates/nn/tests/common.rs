//! Shared helpers: in-memory phantom datasets and the reference Python.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hounsfield_core::AnyVolume;
use hounsfield_nn::data::{parse_manifest, CaseFiles};
use hounsfield_phantom::dataset::{generate_with, DatasetFile, DatasetOptions};

/// A phantom dataset held in memory: files by path, and a reader over them.
pub struct MemDataset {
    pub files: Mutex<HashMap<PathBuf, AnyVolume>>,
    pub cases: Vec<CaseFiles>,
}

impl MemDataset {
    pub fn reader(&self) -> impl Fn(&Path) -> Result<AnyVolume, String> + Sync + '_ {
        move |p: &Path| {
            self.files.lock().unwrap().get(p).cloned().ok_or_else(|| format!("no file {}", p.display()))
        }
    }
}

/// Generates a dataset with `opts` into memory.
pub fn phantom_dataset(opts: &DatasetOptions) -> MemDataset {
    let dir = PathBuf::from("/mem");
    let files = Mutex::new(HashMap::new());
    let mut manifest_text = String::new();
    generate_with(
        opts,
        |rel: &Path, f: DatasetFile<'_>| -> Result<(), String> {
            match f {
                DatasetFile::Volume(v) => {
                    files.lock().unwrap().insert(dir.join(rel), v.clone());
                }
                DatasetFile::Text(t) => {
                    if rel.file_name().is_some_and(|n| n == "manifest.json") {
                        manifest_text = t.to_string();
                    }
                }
            }
            Ok(())
        },
        |_, _| {},
    )
    .expect("phantom dataset");
    let cases = parse_manifest(&manifest_text, &dir).expect("manifest parses");
    MemDataset { files, cases }
}

/// The reference Python; panics with the fix when missing.
pub fn python() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let p = std::env::var_os("HOUNSFIELD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/hounsfield/venv/bin/python"));
    assert!(p.exists(), "reference Python not found at {}: run scripts/setup.sh", p.display());
    p
}

/// Reads a little-endian f32 file.
pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
