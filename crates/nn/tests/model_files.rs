//! Model folders: checksum, card/weights mismatch, bad cards.

use hounsfield_nn::card::{CardInput, CardModel, Model, ModelCard, Task, CARD_FILE};
use hounsfield_nn::models::{ModelConfig, UNetConfig};
use hounsfield_nn::{Device, NnError};

fn saved(dir: &std::path::Path) -> Model {
    let dev = Device::flex();
    let arch = ModelConfig::Unet(UNetConfig { channels: vec![4, 8], ..Default::default() });
    let card = ModelCard {
        model: CardModel {
            name: "m".into(),
            description: String::new(),
            task: Task::Segmentation,
            weights: "weights.bpk".into(),
            sha256: String::new(),
            created_by: String::new(),
        },
        input: CardInput {
            modalities: vec!["CT".into()],
            spacing: None,
            orientation: "LPS".into(),
            normalization: Default::default(),
        },
        output: Default::default(),
        inference: Default::default(),
        architecture: arch.clone(),
        training: Default::default(),
        metrics: Default::default(),
    };
    let mut m = Model { card, network: arch.init(&dev).unwrap(), dir: Default::default() };
    m.save(dir).unwrap();
    m
}

#[test]
fn corrupted_weights_fail_the_checksum() {
    let d = tempfile::tempdir().unwrap();
    saved(d.path());
    let w = d.path().join("weights.bpk");
    let mut bytes = std::fs::read(&w).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&w, bytes).unwrap();
    let e = Model::load(d.path(), &Device::flex()).unwrap_err();
    assert!(matches!(e, NnError::Checksum { .. }), "{e}");
}

#[test]
fn a_card_that_does_not_match_the_weights_is_refused() {
    let d = tempfile::tempdir().unwrap();
    saved(d.path());
    let p = d.path().join(CARD_FILE);
    let text = std::fs::read_to_string(&p).unwrap();
    // Same checksum, different architecture: wider first level.
    let changed = text.replace("channels = [\n    4,\n    8,\n]", "channels = [\n    6,\n    8,\n]");
    assert_ne!(changed, text, "card layout changed: {text}");
    std::fs::write(&p, changed).unwrap();
    let e = Model::load(d.path(), &Device::flex()).unwrap_err();
    assert!(matches!(e, NnError::CardMismatch { .. }), "{e}");
    // One level more: tensors missing from the weights.
    std::fs::write(
        &p,
        text.replace("channels = [\n    4,\n    8,\n]", "channels = [\n    4,\n    8,\n    16,\n]"),
    )
    .unwrap();
    let e = Model::load(d.path(), &Device::flex()).unwrap_err();
    assert!(matches!(e, NnError::CardMismatch { .. }), "{e}");
}

#[test]
fn invalid_cards_name_the_problem() {
    let d = tempfile::tempdir().unwrap();
    saved(d.path());
    let p = d.path().join(CARD_FILE);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("modalities = [\"CT\"]", "modalities = [\"CT\", \"PET\"]")).unwrap();
    let e = Model::load(d.path(), &Device::flex()).unwrap_err();
    assert!(e.to_string().contains("input.modalities"), "{e}");
    std::fs::write(&p, "this is = not [ toml").unwrap();
    let e = Model::load(d.path(), &Device::flex()).unwrap_err();
    assert!(matches!(e, NnError::Parse { .. }), "{e}");
    let e = Model::load(&d.path().join("nowhere"), &Device::flex()).unwrap_err();
    assert!(matches!(e, NnError::File { .. }), "{e}");
}
