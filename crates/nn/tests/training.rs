//! Tiny trainings (a few steps on ≤ 32³ phantoms) for every task: they run, they are
//! reproducible, resuming equals not stopping, and the model folder they write works.

use hounsfield_nn::card::{Model, Task};
use hounsfield_nn::data::{load_samples, split, LoadSpec};
use hounsfield_nn::infer::{predict_volume, BurnPredictor, InferenceSpec, Prediction};
use hounsfield_nn::train::{train, Resume, TrainConfig, TrainOptions};
use hounsfield_nn::Device;
use hounsfield_phantom::dataset::{AnatomyChoice, DatasetOptions, Task as DsTask};

use crate::common::{phantom_dataset, MemDataset};

fn seg_config(extra: &str) -> TrainConfig {
    let text = format!(
        r#"
task = "segmentation"
seed = 3
epochs = 2
steps_per_epoch = 3
batch_size = 2
patch_size = [32, 32]
[model]
architecture = "unet"
spatial_dims = "2"
channels = [4, 8]
out_channels = 2
[data]
manifest = "/mem/manifest.json"
label_ids = [0, 4]
unlisted_labels = "background"
validation_fraction = 0.34
[preprocessing]
normalization = {{ kind = "clip", min = -1000.0, max = 1000.0 }}
[optimizer]
lr = 0.01
{extra}
"#
    );
    TrainConfig::from_toml(&text, std::path::Path::new("train.toml")).unwrap()
}

fn torso(count: usize) -> MemDataset {
    phantom_dataset(&DatasetOptions {
        task: DsTask::Segmentation,
        count,
        size: 32,
        seed: 1,
        anatomy: AnatomyChoice::Torso,
        ..Default::default()
    })
}

fn run(
    config: &TrainConfig,
    ds: &MemDataset,
    out: &std::path::Path,
    resume: Resume,
    stop: Option<usize>,
) -> hounsfield_nn::train::TrainReport {
    let spec = LoadSpec {
        task: config.task,
        data: &config.data,
        preprocessing: &config.preprocessing,
        classes: config.model.out_channels(),
    };
    let samples = load_samples(&ds.cases, &ds.reader(), &spec, &mut |_, _| {}).unwrap();
    let (tr, va) = split(samples, config.data.validation_fraction);
    let opts =
        TrainOptions { out_dir: out.to_path_buf(), resume, stop_after_epochs: stop, ..Default::default() };
    train(config, &tr, &va, &opts, &mut |_| {}).unwrap()
}

#[test]
fn segmentation_trains_reproducibly_and_resumes_exactly() {
    let ds = torso(3);
    let config = seg_config("");
    let d = tempfile::tempdir().unwrap();
    let a = run(&config, &ds, &d.path().join("a"), Resume::Fresh, None);
    assert_eq!(a.cases, [2, 1]);
    assert_eq!(a.history.len(), 2);
    assert!(a.history.iter().all(|r| r.train_loss.is_finite()));
    assert!(a.history[1].metrics.contains_key("dice_mean") || a.history[1].metrics.contains_key("val_loss"));
    // Same seed, same numbers.
    let b = run(&config, &ds, &d.path().join("b"), Resume::Fresh, None);
    assert_eq!(a.history, b.history);
    // One epoch, stop, resume: identical to the uninterrupted run.
    let c1 = run(&config, &ds, &d.path().join("c"), Resume::Fresh, Some(1));
    assert!(c1.model_dir.is_none());
    let c2 = run(&config, &ds, &d.path().join("c"), Resume::FromCheckpoint, None);
    assert_eq!(c2.history, a.history, "resumed run differs from the uninterrupted one");
    // A different seed gives different numbers (the test above can fail).
    let other = run(&seg_config("").clone_with_seed(4), &ds, &d.path().join("e"), Resume::Fresh, None);
    assert_ne!(other.history, a.history);

    // The model folder loads and segments a case on its grid.
    let dir = a.model_dir.unwrap();
    let m = Model::load(&dir, &Device::flex()).unwrap();
    assert_eq!(m.card.model.task, Task::Segmentation);
    assert_eq!(m.card.output.label_ids, vec![0, 4]);
    let img = ds.reader()(&ds.cases[0].files["image"]).unwrap().into_f32();
    let spec = InferenceSpec::from_card(&m.card);
    // A 2-D model on a volume runs slice by slice: each slice segmented as if alone.
    let Prediction::Labels(whole) = predict_volume(
        &BurnPredictor { network: &m.network, device: Device::flex() },
        &spec,
        &[&img],
        &mut |_, _| {},
    )
    .unwrap() else {
        panic!("labels")
    };
    assert_eq!(whole.geometry(), img.geometry());
    let slice = hounsfield_imgproc::grid::extract_slice(&img, hounsfield_imgproc::Axis::Z, 16).unwrap();
    let Prediction::Labels(l) = predict_volume(
        &BurnPredictor { network: &m.network, device: Device::flex() },
        &spec,
        &[&slice],
        &mut |_, _| {},
    )
    .unwrap() else {
        panic!("labels")
    };
    assert_eq!(l.geometry(), slice.geometry());
    assert!(l.labels().iter().all(|&x| x == 0 || x == 4));
    let [nx, ny, _] = img.dims();
    assert_eq!(
        l.as_volume().data(),
        &whole.as_volume().data()[16 * nx * ny..17 * nx * ny],
        "slice 16 alone vs in the volume"
    );
}

trait WithSeed {
    fn clone_with_seed(&self, seed: u64) -> Self;
}
impl WithSeed for TrainConfig {
    fn clone_with_seed(&self, seed: u64) -> Self {
        TrainConfig { seed, ..self.clone() }
    }
}

#[test]
fn segmentation_loss_goes_down_on_lungs() {
    // Lungs (label 4) are the darkest tissue in CT: even a tiny 2-D U-Net learns them in a
    // few dozen steps. Deep supervision and residual units ride along.
    let ds = torso(2);
    let mut config = seg_config("[augmentation]\naffine_prob = 0.0\n");
    config.epochs = 3;
    config.steps_per_epoch = 8;
    config.data.validation_fraction = 0.0;
    config.foreground_fraction = 0.5;
    if let hounsfield_nn::models::ModelConfig::Unet(u) = &mut config.model {
        u.supervision = hounsfield_nn::models::Supervision::Deep;
        u.unit = hounsfield_nn::models::Unit::Residual;
    }
    let d = tempfile::tempdir().unwrap();
    let r = run(&config, &ds, d.path(), Resume::Fresh, None);
    let first = r.history[0].train_loss;
    let last = r.history[2].train_loss;
    assert!(last < first, "loss did not decrease: {first} → {last}");
}

#[test]
fn registration_synthesis_and_classification_train() {
    let d = tempfile::tempdir().unwrap();
    // Learned registration: VoxelMorph with scaling and squaring on 2-D slices of pairs.
    let reg = phantom_dataset(&DatasetOptions {
        task: DsTask::Registration,
        count: 2,
        size: 32,
        seed: 2,
        ..Default::default()
    });
    let c = TrainConfig::from_toml(
        r#"
task = "registration"
epochs = 1
steps_per_epoch = 2
batch_size = 1
patch_size = [32, 32]
[model]
architecture = "voxelmorph"
spatial_dims = "2"
unet_channels = [4, 8]
integration_steps = 4
[data]
manifest = "/mem/manifest.json"
inputs = ["moving", "fixed"]
validation_fraction = 0.0
[loss]
folding = 0.1
"#,
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let r = run(&c, &reg, &d.path().join("reg"), Resume::Fresh, None);
    assert!(r.history[0].metrics["ncc_after"].is_finite());
    // Synthesis: T1 → CT with a DnCNN-style net, target clipped to [−1000, 1000] HU.
    let syn = phantom_dataset(&DatasetOptions {
        task: DsTask::Synthesis,
        count: 2,
        size: 32,
        seed: 2,
        ..Default::default()
    });
    let c = TrainConfig::from_toml(
        r#"
task = "synthesis"
epochs = 1
steps_per_epoch = 2
patch_size = [32, 32]
[model]
architecture = "dncnn"
depth = 3
features = 4
[data]
manifest = "/mem/manifest.json"
inputs = ["t1"]
target = "ct"
validation_fraction = 0.0
[preprocessing]
target_normalization = { kind = "clip", min = -1000.0, max = 1000.0 }
"#,
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let r = run(&c, &syn, &d.path().join("syn"), Resume::Fresh, None);
    assert!(r.history[0].metrics["mae_normalized"].is_finite());
    let m = Model::load(&r.model_dir.unwrap(), &Device::flex()).unwrap();
    assert!(m.card.output.normalization.is_some());
    // Classification: a ResNet on metadata classes; phantom diagnosis cases carry no class
    // field, so a missing field must be a clear error.
    let diag = phantom_dataset(&DatasetOptions {
        task: DsTask::Diagnosis,
        count: 2,
        size: 32,
        seed: 2,
        ..Default::default()
    });
    let c = TrainConfig::from_toml(
        r#"
task = "classification"
epochs = 1
steps_per_epoch = 1
patch_size = [32, 32, 32]
[model]
architecture = "resnet"
width = 2
[data]
manifest = "/mem/manifest.json"
class_field = "class"
"#,
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let spec = LoadSpec { task: c.task, data: &c.data, preprocessing: &c.preprocessing, classes: 2 };
    let e = load_samples(&diag.cases, &diag.reader(), &spec, &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("class"), "{e}");
    let mut samples = {
        let mut cases = diag.cases.clone();
        for (i, k) in cases.iter_mut().enumerate() {
            k.metadata = serde_json::json!({ "class": i % 2 });
        }
        load_samples(&cases, &diag.reader(), &spec, &mut |_, _| {}).unwrap()
    };
    let va = vec![samples.pop().unwrap()];
    let opts = TrainOptions { out_dir: d.path().join("cls"), ..Default::default() };
    let r = train(&c, &samples, &va, &opts, &mut |_| {}).unwrap();
    assert!((0.0..=1.0).contains(&r.history[0].metrics["accuracy"]));
}
