//! Model folders: checksum, card/weights mismatch, bad cards.

use hounsfield_nn::card::{check_modality, CardInput, CardModel, Model, ModelCard, Task, CARD_FILE};
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

#[test]
fn in_memory_models_are_checked_like_folders() {
    let d = tempfile::tempdir().unwrap();
    saved(d.path());
    let text = std::fs::read_to_string(d.path().join(CARD_FILE)).unwrap();
    let mut w = std::fs::read(d.path().join("weights.bpk")).unwrap();
    let dev = Device::flex();
    let m = Model::from_memory(&text, &w, std::path::Path::new("<built-in>/m"), &dev).unwrap();
    assert_eq!(m.card.model.name, "m");
    w[0] ^= 1;
    let e = Model::from_memory(&text, &w, std::path::Path::new("<built-in>/m"), &dev).unwrap_err();
    assert!(matches!(e, NnError::Checksum { .. }), "{e}");
}

#[test]
fn the_card_modality_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let ct = saved(d.path()).card;
    // A CT body image (air at −1000 HU) passes; a magnitude MR image (0…1) fails.
    let hu: Vec<f32> = (0..1000).map(|i| -1000.0 + 2.0 * i as f32).collect();
    let mr: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
    check_modality(&ct, None, &hu).unwrap();
    let e = check_modality(&ct, None, &mr).unwrap_err().to_string();
    assert!(e.contains("does not look like CT"), "{e}");
    // A declared modality decides: DICOM `MR` for a CT model fails, whatever the values.
    assert!(check_modality(&ct, Some("MR"), &hu).is_err());
    check_modality(&ct, Some("CT"), &mr).unwrap();
    // An MR model refuses an image that is mostly air in HU, and takes the MR one.
    let mut t1 = ct.clone();
    t1.input.modalities = vec!["MR-T1".into()];
    assert!(check_modality(&t1, None, &hu).unwrap_err().to_string().contains("looks like CT"));
    check_modality(&t1, None, &mr).unwrap();
    check_modality(&t1, Some("MR"), &mr).unwrap();
}
