//! Geometry is kept: outputs land on the input grid whatever the model's spacing.

use hounsfield_core::{Geometry, Volume};
use hounsfield_nn::card::{CardInput, CardModel, Model, ModelCard, Task};
use hounsfield_nn::infer::{predict_volume, BurnPredictor, InferenceConfig, InferenceSpec, Prediction};
use hounsfield_nn::models::{DnCnnConfig, ModelConfig, UNetConfig};
use hounsfield_nn::normalize::Normalization;
use hounsfield_nn::ops::SpatialDims;
use hounsfield_nn::Device;

fn oblique() -> Geometry {
    let (c, s) = (20f64.to_radians().cos(), 20f64.to_radians().sin());
    Geometry {
        origin: [-31.5, 12.25, 80.0],
        spacing: [0.9, 1.1, 2.5],
        direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

fn card(arch: ModelConfig, task: Task, spacing: Option<[f64; 3]>) -> ModelCard {
    ModelCard {
        model: CardModel {
            name: "t".into(),
            description: String::new(),
            task,
            weights: "weights.bpk".into(),
            sha256: String::new(),
            created_by: String::new(),
        },
        input: CardInput {
            modalities: vec!["CT".into()],
            spacing,
            orientation: "LPS".into(),
            normalization: Normalization::ZScore,
        },
        output: Default::default(),
        inference: InferenceConfig { window: Some([8, 16, 16]), ..Default::default() },
        architecture: arch,
        training: Default::default(),
        metrics: Default::default(),
    }
}

#[test]
fn segmentation_output_is_on_the_input_grid() {
    let dev = Device::flex();
    let arch = ModelConfig::Unet(UNetConfig { channels: vec![4, 8], out_channels: 3, ..Default::default() });
    let c = card(arch.clone(), Task::Segmentation, Some([2.0, 2.0, 2.0]));
    let net = arch.init(&dev).unwrap();
    let img = Volume::from_vec([21, 17, 7], oblique(), (0..21 * 17 * 7).map(|i| (i % 13) as f32).collect())
        .unwrap();
    let spec = InferenceSpec::from_card(&c);
    let p = predict_volume(&BurnPredictor { network: &net, device: dev }, &spec, &[&img], &mut |_, _| {})
        .unwrap();
    let Prediction::Labels(l) = p else { panic!("labels expected") };
    assert_eq!(l.dims(), img.dims());
    assert_eq!(l.geometry(), img.geometry());
    assert!(l.labels().iter().all(|&x| x < 3));
}

#[test]
fn synthesis_2d_output_is_on_the_input_grid_also_slice_by_slice() {
    let dev = Device::flex();
    let arch = ModelConfig::Dncnn(DnCnnConfig { depth: 3, features: 4, ..Default::default() });
    let c = card(arch.clone(), Task::Synthesis, Some([0.5, 0.5, 1.0]));
    let net = arch.init(&dev).unwrap();
    let img =
        Volume::from_vec([19, 23, 1], oblique(), (0..19 * 23).map(|i| (i % 7) as f32).collect()).unwrap();
    let spec = InferenceSpec::from_card(&c);
    let pred = BurnPredictor { network: &net, device: dev.clone() };
    let p = predict_volume(&pred, &spec, &[&img], &mut |_, _| {}).unwrap();
    let Prediction::Images(v) = p else { panic!("images expected") };
    assert_eq!(v[0].dims(), img.dims());
    assert_eq!(v[0].geometry(), img.geometry());
    // A volume goes slice by slice: every slice equals the slice run alone.
    let vol =
        Volume::from_vec([19, 23, 3], oblique(), (0..19 * 23 * 3).map(|i| (i % 7) as f32).collect()).unwrap();
    let Prediction::Images(v3) = predict_volume(&pred, &spec, &[&vol], &mut |_, _| {}).unwrap() else {
        panic!()
    };
    assert_eq!(v3[0].dims(), vol.dims());
    assert_eq!(v3[0].geometry(), vol.geometry());
    let _ = SpatialDims::D2;
}

#[test]
fn saved_model_reloads_with_identical_outputs() {
    let dev = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let arch = ModelConfig::Unet(UNetConfig { channels: vec![4, 8], ..Default::default() });
    let mut m = Model {
        card: card(arch.clone(), Task::Segmentation, None),
        network: arch.init(&dev).unwrap(),
        dir: Default::default(),
    };
    m.save(dir.path()).unwrap();
    let back = Model::load(dir.path(), &dev).unwrap();
    let x = hounsfield_nn::bridge::tensor_from_vec(
        (0..512).map(|i| (i % 5) as f32).collect(),
        [1, 1, 8, 8, 8],
        &dev,
    );
    let a = hounsfield_nn::bridge::tensor_to_vec(m.network.forward(x.clone()));
    let b = hounsfield_nn::bridge::tensor_to_vec(back.network.forward(x));
    assert_eq!(a, b);
    assert_eq!(back.card, m.card);
}
