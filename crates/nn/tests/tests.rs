//! Integration tests of hounsfield-nn.
