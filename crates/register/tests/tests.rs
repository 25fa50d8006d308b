//! Integration tests of hounsfield-register.
