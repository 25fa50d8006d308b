//! Neural networks on burn: models, losses, training loop, augmentation, sliding-window inference, model cards, ONNX model loading.
