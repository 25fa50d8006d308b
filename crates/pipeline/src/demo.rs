//! The built-in demo study: a seeded torso CT phantom and a head MR phantom taken through
//! every step that exists. `hounsfield demo` runs it; `hounsfield demo --print-pipeline` shows
//! it as a pipeline file, which `hounsfield run` accepts as is.

use crate::error::PipelineError;
use crate::pipeline::Pipeline;

/// Default voxels per side of the demo's phantoms.
pub const DEFAULT_SIZE: usize = 128;

/// The demo pipeline as TOML, for phantoms of `size`³ voxels and a `seed`.
pub fn pipeline_toml(size: usize, seed: u64) -> String {
    // Ultrasound speckle needs ~10 scatterers per resolution cell (50 per mm²); small test
    // demos use fewer (the speckle is then not fully developed, which they do not check).
    let us_density = if size >= 64 { 50 } else { 5 };
    format!(
        r#"name = "Hounsfield demo study"

# 1. Data: a torso CT with lung nodules and a head MR, each with exact ground-truth labels.
[[step]]
id = "torso-ct"
kind = "phantom"
anatomy = "torso"
modality = "ct"
size = {size}
seed = {seed}
nodules = 3
supersample = 2
image = "ct"
labels = "ct_truth"

[[step]]
id = "head-mr"
kind = "phantom"
anatomy = "head"
modality = "t1"
size = {size}
seed = {seed}
lesion = true
supersample = 2
image = "mr"
labels = "mr_truth"

[[step]]
id = "ct-organs"
kind = "label-stats"
image = "ct"
labels = "ct_truth"

[[step]]
id = "mr-tissues"
kind = "label-stats"
image = "mr"
labels = "mr_truth"

# 2. Segmentation: classical CT body and lungs on the torso, the shipped deep model's organs on
#    the same CT, and brain tissue (CSF, GM, WM) on the head MR inside an intracranial mask
#    carried over from the built-in atlas; Dice, HD95 and ASSD against the phantoms' labels.
[[step]]
id = "ct-lung-segmentation"
kind = "segment"
image = "ct"
method = "ct-lungs"
output = "ct_seg"
truth = "ct_truth"
truth_groups = {{ "2" = [4, 5, 6] }}

# The shipped 3-D U-Net (built into the binary) on the same CT: eight organs, each scored.
[[step]]
id = "ct-organ-segmentation"
kind = "segment"
image = "ct"
method = "model"
model = "torso-organs"
output = "ct_organs"
truth = "ct_truth"
truth_groups = {{ "4" = [4], "7" = [7], "8" = [8], "9" = [9], "10" = [10], "11" = [11], "12" = [12], "14" = [14] }}

[[step]]
id = "brain-tissue-segmentation"
kind = "segment"
image = "mr"
method = "brain"
weighting = "t1"
output = "mr_seg"
truth = "mr_truth"
truth_groups = {{ "1" = [22, 25], "2" = [23], "3" = [24] }}

# 3. Reconstruction: fan-beam CT of the torso at full and low dose, FBP and TV, and a radiograph;
#    MRI of a head slice from 4x undersampled 8-coil k-space (zero-filled, SENSE, compressed sensing);
#    ultrasound B-mode from simulated channel data.
[[step]]
id = "ct-reconstruction"
kind = "ct-recon"
input = "ct"
views = 360
dose = 2e4
seed = {seed}
output = "recon"

[[step]]
id = "mri-reconstruction"
kind = "mri-recon"
input = "mr"
coils = 8
acceleration = 4.0
seed = {seed}
output = "mri"

# Ultrasound: a linear array's plane waves over a cyst phantom and point targets, DAS B-mode from
# one angle, compounded, and with the coherence factor; contrast, CNR and resolution.
[[step]]
id = "ultrasound"
kind = "ultrasound"
angles = 11
density = {us_density}
seed = {seed}
output = "us"

# 4. Ground truth for registration: the head deformed by a known diffeomorphism.
[[step]]
id = "head-deformed"
kind = "deform"
image = "mr"
labels = "mr_truth"
output = "mr_moved"
output_labels = "mr_moved_truth"
field = "mr_field"
magnitude_mm = 6.0
seed = {seed}

# 5. Registration: the head MR registered back onto its deformed copy (rigid, affine, then the
#    symmetric diffeomorphic method), and a CT of the same head onto it rigidly by mutual information.
[[step]]
id = "head-registration"
kind = "register"
fixed = "mr_moved"
moving = "mr"
transform = "syn"
metric = "ncc"
fixed_labels = "mr_moved_truth"
moving_labels = "mr_truth"
truth_field = "mr_field"
output = "mr_registered"
output_labels = "mr_registered_truth"

[[step]]
id = "head-ct"
kind = "phantom"
anatomy = "head"
modality = "ct"
size = {size}
seed = {seed}
lesion = true
supersample = 2
image = "head_ct"
labels = "head_ct_truth"

[[step]]
id = "mr-to-ct-registration"
kind = "register"
fixed = "mr_moved"
moving = "head_ct"
transform = "rigid"
metric = "mi"
fixed_labels = "mr_moved_truth"
moving_labels = "head_ct_truth"
truth_field = "mr_field"
output = "head_ct_registered"

[[step]]
id = "mr-smoothed"
kind = "smooth"
input = "mr"
output = "mr_smooth"
sigma_mm = 2.0

# 6. Outputs.
[[step]]
id = "save-ct"
kind = "save"
role = "ct"
path = "ct.nii.gz"

[[step]]
id = "save-ct-truth"
kind = "save"
role = "ct_truth"
path = "ct_labels.nii.gz"

[[step]]
id = "save-mr"
kind = "save"
role = "mr"
path = "mr.nii.gz"

[[step]]
id = "save-mr-truth"
kind = "save"
role = "mr_truth"
path = "mr_labels.nii.gz"

[[step]]
id = "save-mr-moved"
kind = "save"
role = "mr_moved"
path = "mr_moved.nii.gz"

[[step]]
id = "save-field"
kind = "save"
role = "mr_field"
path = "mr_field.nii.gz"

[[step]]
id = "save-recon"
kind = "save"
role = "recon_tv_low"
path = "ct_slice_tv_low_dose.nii.gz"

[[step]]
id = "save-mri-cs"
kind = "save"
role = "mri_cs"
path = "mr_slice_cs.nii.gz"

[[step]]
id = "save-us"
kind = "save"
role = "us_compound"
path = "us_bmode.nii.gz"

[[step]]
id = "save-mr-registered"
kind = "save"
role = "mr_registered"
path = "mr_registered.nii.gz"
"#
    )
}

/// The demo pipeline for phantoms of `size`³ voxels.
pub fn pipeline(size: usize, seed: u64) -> Result<Pipeline, PipelineError> {
    if !(16..=512).contains(&size) {
        return Err(PipelineError::Parse {
            line: 0,
            message: format!("demo size must be between 16 and 512 voxels, got {size}"),
        });
    }
    Pipeline::from_toml_str(&pipeline_toml(size, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_pipeline_parses_and_orders() {
        let p = pipeline(32, 7).unwrap();
        let order = p.order(&|_| false).unwrap();
        assert_eq!(order.len(), p.steps.len());
        assert!(pipeline(8, 7).is_err());
    }
}
