//! Classical CT segmentation of the body and the lungs by thresholds, connected components
//! and hole filling (the approach of most lung-CAD preprocessing, e.g. Hu, Hoffman &
//! Reinhardt, IEEE TMI 20:490–498, 2001, without its optimal-threshold iteration).

use hounsfield_core::{LabelVolume, Scalar, Volume};
use hounsfield_imgproc::components::{connected_components, largest_component, Connectivity};
use hounsfield_imgproc::morphology::{fill_holes, fill_holes_slices};
use hounsfield_imgproc::Axis;

use crate::error::{invalid, SegmentError};

/// Options of [`body_and_lungs`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CtOptions {
    /// Body/air boundary, HU (default −500: halfway between air and soft tissue).
    pub body_threshold_hu: f64,
    /// Voxels of the body below this are air-filled (lungs, airways, gas), HU (default −400).
    pub lung_threshold_hu: f64,
    /// The second-largest air component is kept as the other lung when it holds at least this
    /// fraction of the largest one (default 0.2: lungs are of similar size, bowel gas is not).
    pub second_lung_fraction: f64,
}

impl Default for CtOptions {
    fn default() -> Self {
        Self { body_threshold_hu: -500.0, lung_threshold_hu: -400.0, second_lung_fraction: 0.2 }
    }
}

/// Body and lung masks (0/1) on the CT's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct CtSegmentation {
    /// Everything inside the skin, lungs included.
    pub body: Volume<u8>,
    /// Both lungs with their vessels (and the airways connected to them).
    pub lungs: Volume<u8>,
}

impl CtSegmentation {
    /// One label map: 1 = body outside the lungs, 2 = lungs, 0 = outside the body.
    pub fn to_labels(&self) -> Result<LabelVolume, SegmentError> {
        let data =
            self.body
                .data()
                .iter()
                .zip(self.lungs.data())
                .map(|(&b, &l)| if l != 0 { 2 } else { u16::from(b != 0) });
        Ok(LabelVolume::new(self.body.with_data(data.collect())?))
    }
}

/// The index axis closest to the patient's superior–inferior axis: axial slices are taken
/// across it.
pub fn axial_axis(geometry: &hounsfield_core::Geometry) -> Axis {
    let z = |c: usize| geometry.direction[2][c].abs();
    match (0..3).max_by(|&a, &b| z(a).total_cmp(&z(b))).unwrap_or(2) {
        0 => Axis::X,
        1 => Axis::Y,
        _ => Axis::Z,
    }
}

/// Segments the body and the lungs of a CT in HU:
/// 1. body = the largest 6-connected component above `body_threshold_hu` (drops the table
///    and air), holes filled in every axial slice (the lungs, open to the outside through
///    the trachea in 3-D, are closed in-plane) and then in 3-D;
/// 2. lungs = the body's voxels below `lung_threshold_hu`, its largest 6-connected
///    component and the second largest when it is a lung-sized one, with the vessels (holes
///    of each axial slice) filled.
pub fn body_and_lungs<T: Scalar>(ct: &Volume<T>, opts: &CtOptions) -> Result<CtSegmentation, SegmentError> {
    if !(opts.body_threshold_hu.is_finite() && opts.lung_threshold_hu.is_finite()) {
        return Err(invalid("thresholds", "must be finite"));
    }
    if !(0.0..=1.0).contains(&opts.second_lung_fraction) {
        return Err(invalid(
            "second_lung_fraction",
            format!("{} is outside 0..=1", opts.second_lung_fraction),
        ));
    }
    let axial = axial_axis(ct.geometry());
    let above = ct.map(|v| u8::from(v.to_f64() > opts.body_threshold_hu));
    if above.data().iter().all(|&v| v == 0) {
        return Err(SegmentError::Empty(format!(
            "no voxel above {} HU: is this a CT in HU?",
            opts.body_threshold_hu
        )));
    }
    let body = largest_component(&above, Connectivity::Six)?;
    let body = fill_holes(&fill_holes_slices(&body, axial)?)?;
    let air: Vec<u8> = ct
        .data()
        .iter()
        .zip(body.data())
        .map(|(v, &b)| u8::from(b != 0 && v.to_f64() < opts.lung_threshold_hu))
        .collect();
    let air = ct.with_data(air)?;
    let comps = connected_components(&air, Connectivity::Six)?;
    let keep = match comps.sizes.as_slice() {
        [] => 0,
        [_] => 1,
        [a, b, ..] => 1 + usize::from(*b as f64 >= opts.second_lung_fraction * *a as f64),
    };
    let lungs = comps.labels.map(|&l| u8::from(l != 0 && (l as usize) <= keep));
    let lungs = fill_holes_slices(&lungs, axial)?;
    Ok(CtSegmentation { body, lungs })
}
