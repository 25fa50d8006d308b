//! Integration tests of hounsfield-register: phantoms with known transforms, ITK's example
//! data with their documented transforms, and SimpleITK run side by side.

mod common;
mod deformable;
mod rigid;
