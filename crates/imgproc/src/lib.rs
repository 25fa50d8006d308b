//! Geometry-aware image operations: resampling and interpolation, Gaussian/gradient filters, intensity transforms, morphology, connected components, distance transforms.
