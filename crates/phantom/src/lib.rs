//! Digital anatomical phantoms with ground-truth labels, modality contrast models (CT HU, MR T1/T2/PD), random smooth deformations, dataset generation.
