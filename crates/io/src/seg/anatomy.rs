//! SNOMED CT codes for the structures Hounsfield segments, with the segmentation property
//! category each belongs to (DICOM PS3.16 CID 7150 categories; types from CID 7191 *Tissue
//! Segmentation Property Types*, CID 7192 *Anatomical Structure Segmentation Property
//! Types*, CID 7194 *Morphologically Abnormal Structure Segmentation Property Types*), and a
//! recommended display colour.
//!
//! Names are those of the phantom labels (`hounsfield_phantom::label_name`), plus a few
//! aliases; lookup ignores case and surrounding spaces, and `"nodule 3"` finds `nodule`.
//!
//! | name | category | type (SCT) | modifier | CID |
//! |---|---|---|---|---|
//! | skin | Tissue 85756007 | Skin 39937001 | | 7191 |
//! | fat | Tissue | Fat (adipose tissue) 55603005 | | 7191 |
//! | muscle | Tissue | Muscle (tissue) 91727004 | | 7191 |
//! | soft tissue | Tissue | Soft tissue 87784001 | | 7191 |
//! | cortical bone, cancellous bone, bone | Tissue | Bone (tissue) 3138006 | | 7191 |
//! | lung | Anatomical Structure 91723000 | Lung 39607008 | | 7192 |
//! | pulmonary vessel, blood vessel | Anatomical Structure | Blood vessel 59820001 | | 7192 |
//! | airway | Anatomical Structure | Airway structure 89187006 | | 7192 |
//! | trachea | Anatomical Structure | Trachea 44567001 | | 7192 |
//! | heart | Anatomical Structure | Heart 80891009 | | 7192 |
//! | aorta | Anatomical Structure | Aorta 15825003 | | 7192 |
//! | liver | Anatomical Structure | Liver 10200004 | | 7192 |
//! | spleen | Anatomical Structure | Spleen 78961009 | | 7192 |
//! | kidney | Anatomical Structure | Kidney 64033007 | | 7192 |
//! | right kidney | Anatomical Structure | Kidney 64033007 | Right 24028007 | 7192, 244 |
//! | left kidney | Anatomical Structure | Kidney 64033007 | Left 7771000 | 7192, 244 |
//! | spine | Anatomical Structure | Spine 421060004 | | 7192 |
//! | scalp | Anatomical Structure | Scalp 41695006 | | 7192 |
//! | skull | Anatomical Structure | Skull 89546000 | | 7192 |
//! | brain | Anatomical Structure | Brain 12738006 | | 7192 |
//! | grey matter, gray matter | Anatomical Structure | Gray matter 389081007 | | 7192 |
//! | white matter | Anatomical Structure | White matter 389080008 | | 7192 |
//! | cerebrospinal fluid, csf | Anatomical Structure | Cerebrospinal fluid 65216001 | | 7192 |
//! | ventricles | Anatomical Structure | Brain ventricle 35764002 | | 7192 |
//! | lesion | Morphologically Abnormal Structure 49755003 | Lesion 52988006 | | 7194 |
//! | nodule, nodule N | Morphologically Abnormal Structure | Nodule 27925004 | | 7194 |
//!
//! "Anatomical Structure" is SCT 91723000, the value CID 7150 and pydicom's code dictionary
//! (hence highdicom's `codes.SCT.AnatomicalStructure`) give today; older DCMQI and highdicom
//! examples use the retired 123037004. The CIDs have no concept for cortical vs cancellous
//! bone or for pulmonary vessels, so those share a broader type and keep their own
//! SegmentLabel.

use super::Code;

const TISSUE: (&str, &str) = ("85756007", "Tissue");
const ANATOMY: (&str, &str) = ("91723000", "Anatomical Structure");
const ABNORMAL: (&str, &str) = ("49755003", "Morphologically Abnormal Structure");
const RIGHT: (&str, &str) = ("24028007", "Right");
const LEFT: (&str, &str) = ("7771000", "Left");

type Row = (
    &'static [&'static str],
    (&'static str, &'static str),
    (&'static str, &'static str),
    Option<(&'static str, &'static str)>,
    [u8; 3],
);

/// (names, category, type, modifier, sRGB display colour). Colours follow 3D Slicer's
/// generic anatomy palette where it has the structure.
const TABLE: &[Row] = &[
    (&["skin"], TISSUE, ("39937001", "Skin"), None, [177, 122, 101]),
    (&["fat"], TISSUE, ("55603005", "Fat"), None, [230, 220, 70]),
    (&["muscle"], TISSUE, ("91727004", "Muscle"), None, [192, 104, 88]),
    (&["soft tissue"], TISSUE, ("87784001", "Soft tissue"), None, [200, 180, 160]),
    (&["cortical bone", "bone"], TISSUE, ("3138006", "Bone"), None, [241, 214, 145]),
    (&["cancellous bone"], TISSUE, ("3138006", "Bone"), None, [220, 180, 120]),
    (&["lung"], ANATOMY, ("39607008", "Lung"), None, [197, 165, 145]),
    (&["pulmonary vessel", "blood vessel"], ANATOMY, ("59820001", "Blood vessel"), None, [216, 101, 79]),
    (&["airway"], ANATOMY, ("89187006", "Airway structure"), None, [182, 228, 255]),
    (&["trachea"], ANATOMY, ("44567001", "Trachea"), None, [182, 228, 255]),
    (&["heart"], ANATOMY, ("80891009", "Heart"), None, [206, 110, 84]),
    (&["aorta"], ANATOMY, ("15825003", "Aorta"), None, [224, 97, 76]),
    (&["liver"], ANATOMY, ("10200004", "Liver"), None, [221, 130, 101]),
    (&["spleen"], ANATOMY, ("78961009", "Spleen"), None, [157, 108, 162]),
    (&["kidney"], ANATOMY, ("64033007", "Kidney"), None, [185, 102, 83]),
    (&["right kidney"], ANATOMY, ("64033007", "Kidney"), Some(RIGHT), [185, 102, 83]),
    (&["left kidney"], ANATOMY, ("64033007", "Kidney"), Some(LEFT), [165, 92, 73]),
    (&["spine"], ANATOMY, ("421060004", "Spine"), None, [241, 214, 145]),
    (&["scalp"], ANATOMY, ("41695006", "Scalp"), None, [177, 122, 101]),
    (&["skull"], ANATOMY, ("89546000", "Skull"), None, [241, 214, 145]),
    (&["brain"], ANATOMY, ("12738006", "Brain"), None, [250, 250, 225]),
    (&["grey matter", "gray matter"], ANATOMY, ("389081007", "Gray matter"), None, [150, 150, 150]),
    (&["white matter"], ANATOMY, ("389080008", "White matter"), None, [250, 250, 225]),
    (&["cerebrospinal fluid", "csf"], ANATOMY, ("65216001", "Cerebrospinal fluid"), None, [88, 106, 215]),
    (&["ventricles"], ANATOMY, ("35764002", "Brain ventricle"), None, [88, 106, 215]),
    (&["lesion"], ABNORMAL, ("52988006", "Lesion"), None, [255, 255, 0]),
    (&["nodule"], ABNORMAL, ("27925004", "Nodule"), None, [255, 160, 0]),
];

/// The coded meaning of a named structure (see the [module table](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnatomyCode {
    /// Segmented Property Category (CID 7150).
    pub category: Code,
    /// Segmented Property Type.
    pub property_type: Code,
    /// Segmented Property Type Modifier (laterality), if any.
    pub modifier: Option<Code>,
    /// Recommended display colour, sRGB.
    pub color: [u8; 3],
}

fn sct((value, meaning): (&str, &str)) -> Code {
    Code::sct(value, meaning)
}

/// The codes of the structure called `name` (case-insensitive; `"nodule 7"` is a nodule),
/// or `None` for a name the table does not know.
pub fn anatomy_code(name: &str) -> Option<AnatomyCode> {
    let key = name.trim().to_ascii_lowercase();
    let key = match key.strip_prefix("nodule") {
        Some(rest) if rest.trim().chars().all(|c| c.is_ascii_digit()) => "nodule".to_string(),
        _ => key,
    };
    TABLE.iter().find(|row| row.0.contains(&key.as_str())).map(|&(_, category, ty, modifier, color)| {
        AnatomyCode { category: sct(category), property_type: sct(ty), modifier: modifier.map(sct), color }
    })
}

/// Every name [`anatomy_code`] knows.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().flat_map(|row| row.0.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let liver = anatomy_code(" Liver ").unwrap();
        assert_eq!(liver.property_type.value, "10200004");
        assert_eq!(liver.category.value, "91723000");
        assert_eq!(anatomy_code("nodule 12").unwrap().property_type.value, "27925004");
        assert_eq!(anatomy_code("left kidney").unwrap().modifier.unwrap().value, "7771000");
        assert!(anatomy_code("nodules of doom").is_none());
        assert!(known_names().count() > 25);
    }
}
