//! The same seed gives bit-identical output, whatever the number of threads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hounsfield_core::AnyVolume;
use hounsfield_phantom::dataset::{generate_with, AnatomyChoice, DatasetFile, DatasetOptions, Task};
use hounsfield_phantom::{
    Contrast, CtOptions, HeadOptions, LesionChoice, Modality, MrOptions, MrWeighting, Phantom, RenderOptions,
    TorsoOptions,
};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn render_all() -> Vec<(AnyVolume, AnyVolume)> {
    let t = Phantom::torso(21, &TorsoOptions { nodules: 3, deform_mm: 5.0, ..Default::default() }).unwrap();
    let h = Phantom::head(
        21,
        &HeadOptions { lesion: LesionChoice::Random, deform_mm: 5.0, ..Default::default() },
    )
    .unwrap();
    let ropts = RenderOptions::supersampled(2);
    let mr =
        Contrast::Mr(MrOptions { bias_strength: 0.3, noise: 0.03, ..MrOptions::weighted(MrWeighting::T2) });
    let mut out = Vec::new();
    for (p, c) in [
        (&t, Contrast::Ct(CtOptions { noise_sd_hu: 15.0 })),
        (&h, mr),
        (&h, Contrast::for_modality(Modality::Random)),
    ] {
        let img = p.render(&p.grid(28).unwrap(), &c, &ropts, 99).unwrap();
        out.push((img.image.into(), img.labels.into()));
    }
    out
}

#[test]
fn one_and_two_threads_give_identical_volumes() {
    let one = in_pool(1, render_all);
    let two = in_pool(2, render_all);
    assert!(one == two, "rendering depends on the thread count");
    // And a second run in the same pool repeats exactly.
    assert!(in_pool(2, render_all) == two);
}

/// Files a dataset run wrote, kept in memory.
type Files = BTreeMap<PathBuf, Written>;

#[derive(Debug, PartialEq)]
pub enum Written {
    Volume(AnyVolume),
    Text(String),
}

pub fn run_dataset(opts: &DatasetOptions) -> Files {
    let mut files = Files::new();
    let writer = |p: &Path, f: DatasetFile<'_>| -> Result<(), std::io::Error> {
        let w = match f {
            DatasetFile::Volume(v) => Written::Volume(v.clone()),
            DatasetFile::Text(t) => Written::Text(t.to_string()),
        };
        assert!(files.insert(p.to_path_buf(), w).is_none(), "{} written twice", p.display());
        Ok(())
    };
    generate_with(opts, writer, |_, _| {}).unwrap();
    files
}

#[test]
fn datasets_repeat_bit_for_bit_across_thread_counts() {
    for task in [Task::Segmentation, Task::Registration, Task::Diagnosis] {
        let opts = DatasetOptions {
            task,
            count: 2,
            size: 20,
            seed: 5,
            anatomy: AnatomyChoice::Alternate,
            ..Default::default()
        };
        let a = in_pool(1, || run_dataset(&opts));
        let b = in_pool(2, || run_dataset(&opts));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (k, v) in &a {
            assert!(v == &b[k], "{task:?}: {} differs", k.display());
        }
        let other = run_dataset(&DatasetOptions { seed: 6, ..opts.clone() });
        assert_ne!(other[Path::new("manifest.json")], a[Path::new("manifest.json")]);
    }
}
