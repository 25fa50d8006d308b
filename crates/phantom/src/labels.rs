//! Label ids of the anatomical phantoms and the tissue each label is made of.
//!
//! One id space serves both phantoms, so a segmentation dataset mixing torso and head cases
//! has consistent labels. `0` is background (air outside the body). Nodules are labelled
//! individually from [`NODULE_LABEL_BASE`] on: nodule `n` (0-based) has label `100 + n`.
//!
//! | id | [`Label`] | name | tissue ([`Tissue`]) | phantom |
//! |---:|---|---|---|---|
//! | 0 | `Background` | background | air | both |
//! | 1 | `Skin` | skin | skin | torso |
//! | 2 | `Fat` | fat | fat | torso (subcutaneous, mediastinal) |
//! | 3 | `Muscle` | muscle | muscle | torso (body wall), head (neck) |
//! | 4 | `Lung` | lung | lung | torso |
//! | 5 | `PulmonaryVessel` | pulmonary vessel | blood | torso |
//! | 6 | `Airway` | airway | air | torso (trachea, bronchi) |
//! | 7 | `Heart` | heart | blood | torso |
//! | 8 | `Aorta` | aorta | blood | torso |
//! | 9 | `Liver` | liver | liver | torso |
//! | 10 | `Spleen` | spleen | spleen | torso |
//! | 11 | `KidneyRight` | right kidney | kidney | torso |
//! | 12 | `KidneyLeft` | left kidney | kidney | torso |
//! | 13 | `BoneCortical` | cortical bone | cortical bone | torso (ribs, sternum, vertebral shell) |
//! | 14 | `BoneCancellous` | cancellous bone | cancellous bone | torso (vertebral bodies) |
//! | 15 | `SoftTissue` | soft tissue | soft tissue | torso (abdominal contents, spinal canal) |
//! | 20 | `Scalp` | scalp | skin | head |
//! | 21 | `Skull` | skull | cortical bone | head |
//! | 22 | `Csf` | cerebrospinal fluid | CSF | head |
//! | 23 | `GreyMatter` | grey matter | grey matter | head |
//! | 24 | `WhiteMatter` | white matter | white matter | head |
//! | 25 | `Ventricles` | ventricles | CSF | head |
//! | 26 | `Lesion` | lesion | lesion | head (optional) |
//! | 100 + n | — | nodule n+1 | nodule | torso (optional; instance ids) |

use serde::Serialize;
use std::borrow::Cow;

/// First label id of lung nodules: nodule `n` (0-based) is labelled `NODULE_LABEL_BASE + n`.
pub const NODULE_LABEL_BASE: u16 = 100;

/// Most nodules one torso can hold (ids 100..=163).
pub const MAX_NODULES: usize = 64;

/// The named structures of the torso and head phantoms (see the [module table](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[repr(u16)]
#[allow(missing_docs)] // The module table documents every variant.
pub enum Label {
    Background = 0,
    Skin = 1,
    Fat = 2,
    Muscle = 3,
    Lung = 4,
    PulmonaryVessel = 5,
    Airway = 6,
    Heart = 7,
    Aorta = 8,
    Liver = 9,
    Spleen = 10,
    KidneyRight = 11,
    KidneyLeft = 12,
    BoneCortical = 13,
    BoneCancellous = 14,
    SoftTissue = 15,
    Scalp = 20,
    Skull = 21,
    Csf = 22,
    GreyMatter = 23,
    WhiteMatter = 24,
    Ventricles = 25,
    Lesion = 26,
}

impl Label {
    /// Every named label, ascending by id.
    pub const ALL: [Label; 23] = [
        Label::Background,
        Label::Skin,
        Label::Fat,
        Label::Muscle,
        Label::Lung,
        Label::PulmonaryVessel,
        Label::Airway,
        Label::Heart,
        Label::Aorta,
        Label::Liver,
        Label::Spleen,
        Label::KidneyRight,
        Label::KidneyLeft,
        Label::BoneCortical,
        Label::BoneCancellous,
        Label::SoftTissue,
        Label::Scalp,
        Label::Skull,
        Label::Csf,
        Label::GreyMatter,
        Label::WhiteMatter,
        Label::Ventricles,
        Label::Lesion,
    ];

    /// The label id stored in label volumes.
    pub const fn id(self) -> u16 {
        self as u16
    }

    /// The named label with id `id`, if any (nodule ids are not named labels).
    pub fn from_id(id: u16) -> Option<Label> {
        Label::ALL.iter().copied().find(|l| l.id() == id)
    }

    /// Human-readable name (lowercase).
    pub const fn name(self) -> &'static str {
        match self {
            Label::Background => "background",
            Label::Skin => "skin",
            Label::Fat => "fat",
            Label::Muscle => "muscle",
            Label::Lung => "lung",
            Label::PulmonaryVessel => "pulmonary vessel",
            Label::Airway => "airway",
            Label::Heart => "heart",
            Label::Aorta => "aorta",
            Label::Liver => "liver",
            Label::Spleen => "spleen",
            Label::KidneyRight => "right kidney",
            Label::KidneyLeft => "left kidney",
            Label::BoneCortical => "cortical bone",
            Label::BoneCancellous => "cancellous bone",
            Label::SoftTissue => "soft tissue",
            Label::Scalp => "scalp",
            Label::Skull => "skull",
            Label::Csf => "cerebrospinal fluid",
            Label::GreyMatter => "grey matter",
            Label::WhiteMatter => "white matter",
            Label::Ventricles => "ventricles",
            Label::Lesion => "lesion",
        }
    }

    /// The tissue the structure is made of (what the contrast models look up).
    pub const fn tissue(self) -> Tissue {
        match self {
            Label::Background | Label::Airway => Tissue::Air,
            Label::Skin | Label::Scalp => Tissue::Skin,
            Label::Fat => Tissue::Fat,
            Label::Muscle => Tissue::Muscle,
            Label::Lung => Tissue::Lung,
            Label::PulmonaryVessel | Label::Heart | Label::Aorta => Tissue::Blood,
            Label::Liver => Tissue::Liver,
            Label::Spleen => Tissue::Spleen,
            Label::KidneyRight | Label::KidneyLeft => Tissue::Kidney,
            Label::BoneCortical | Label::Skull => Tissue::BoneCortical,
            Label::BoneCancellous => Tissue::BoneCancellous,
            Label::SoftTissue => Tissue::SoftTissue,
            Label::Csf | Label::Ventricles => Tissue::Csf,
            Label::GreyMatter => Tissue::GreyMatter,
            Label::WhiteMatter => Tissue::WhiteMatter,
            Label::Lesion => Tissue::Lesion,
        }
    }
}

/// The label of nodule `index` (0-based), or `None` beyond [`MAX_NODULES`].
pub fn nodule_label(index: usize) -> Option<u16> {
    (index < MAX_NODULES).then(|| NODULE_LABEL_BASE + index as u16)
}

/// The name of label id `id`: a named [`Label`]'s name, `"nodule N"` (1-based) for nodule
/// ids, `None` for ids the phantoms never use.
pub fn label_name(id: u16) -> Option<Cow<'static, str>> {
    if let Some(l) = Label::from_id(id) {
        return Some(Cow::Borrowed(l.name()));
    }
    let n = id.checked_sub(NODULE_LABEL_BASE)? as usize;
    (n < MAX_NODULES).then(|| Cow::Owned(format!("nodule {}", n + 1)))
}

/// The tissue of label id `id` (nodule ids are [`Tissue::Nodule`]), `None` for unused ids.
pub fn tissue_of(id: u16) -> Option<Tissue> {
    if let Some(l) = Label::from_id(id) {
        return Some(l.tissue());
    }
    let n = id.checked_sub(NODULE_LABEL_BASE)? as usize;
    (n < MAX_NODULES).then_some(Tissue::Nodule)
}

/// Tissue classes with their own CT and MR properties (tables in [`crate::contrast`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[allow(missing_docs)] // Names are the tissues; the contrast tables document their values.
pub enum Tissue {
    Air,
    Lung,
    Fat,
    Muscle,
    Blood,
    Liver,
    Spleen,
    Kidney,
    BoneCortical,
    BoneCancellous,
    SoftTissue,
    Skin,
    Csf,
    GreyMatter,
    WhiteMatter,
    Lesion,
    Nodule,
}

impl Tissue {
    /// Every tissue.
    pub const ALL: [Tissue; 17] = [
        Tissue::Air,
        Tissue::Lung,
        Tissue::Fat,
        Tissue::Muscle,
        Tissue::Blood,
        Tissue::Liver,
        Tissue::Spleen,
        Tissue::Kidney,
        Tissue::BoneCortical,
        Tissue::BoneCancellous,
        Tissue::SoftTissue,
        Tissue::Skin,
        Tissue::Csf,
        Tissue::GreyMatter,
        Tissue::WhiteMatter,
        Tissue::Lesion,
        Tissue::Nodule,
    ];
}

/// The largest label id any phantom can produce (the last nodule id).
pub const MAX_LABEL: u16 = NODULE_LABEL_BASE + MAX_NODULES as u16 - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_tissues_are_consistent() {
        for (i, l) in Label::ALL.iter().enumerate() {
            assert_eq!(Label::from_id(l.id()), Some(*l));
            assert_eq!(label_name(l.id()).as_deref(), Some(l.name()));
            assert_eq!(tissue_of(l.id()), Some(l.tissue()));
            if i > 0 {
                assert!(Label::ALL[i - 1].id() < l.id(), "ALL is ascending");
            }
        }
        assert_eq!(label_name(100).as_deref(), Some("nodule 1"));
        assert_eq!(label_name(MAX_LABEL).as_deref(), Some("nodule 64"));
        assert_eq!(label_name(MAX_LABEL + 1), None);
        assert_eq!(label_name(17), None);
        assert_eq!(tissue_of(103), Some(Tissue::Nodule));
        assert_eq!(nodule_label(2), Some(102));
        assert_eq!(nodule_label(MAX_NODULES), None);
    }
}
