//! A small Explicit VR Little Endian data-set builder with nested sequences (PS3.5 7.1.2,
//! 7.5): elements are kept sorted by tag, sequences and items get defined lengths.

use std::collections::BTreeMap;

use dicom_core::Tag;

/// One data set (the top level or a sequence item) under construction.
#[derive(Clone, Debug, Default)]
pub(crate) struct DataSet {
    elements: BTreeMap<(u16, u16), Vec<u8>>,
}

/// VRs whose header has a 4-byte length after two reserved bytes (PS3.5 7.1.2).
fn long_header(vr: &[u8; 2]) -> bool {
    matches!(vr, b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"UC" | b"UN" | b"UR" | b"UT")
}

impl DataSet {
    pub fn new() -> DataSet {
        DataSet::default()
    }

    /// Adds (or replaces) an element. Odd values are padded: UI and binary VRs with NUL,
    /// text with a space (PS3.5 6.2). Values longer than a short header allows are the
    /// caller's error; every caller here checks sizes first.
    pub fn put(&mut self, tag: Tag, vr: &[u8; 2], value: &[u8]) {
        let pad = value.len() % 2 == 1;
        let len = value.len() + pad as usize;
        let mut out = Vec::with_capacity(12 + len);
        out.extend_from_slice(&tag.0.to_le_bytes());
        out.extend_from_slice(&tag.1.to_le_bytes());
        out.extend_from_slice(vr);
        if long_header(vr) {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(len as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(len.min(u16::MAX as usize) as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
        if pad {
            out.push(if matches!(vr, b"UI" | b"OB" | b"UN") { 0 } else { b' ' });
        }
        self.elements.insert((tag.0, tag.1), out);
    }

    /// A text element.
    pub fn text(&mut self, tag: Tag, vr: &[u8; 2], s: &str) {
        self.put(tag, vr, s.as_bytes());
    }

    /// A US element with one or more values.
    pub fn us(&mut self, tag: Tag, values: &[u16]) {
        let b: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.put(tag, b"US", &b);
    }

    /// A UL element with one or more values.
    pub fn ul(&mut self, tag: Tag, values: &[u32]) {
        let b: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.put(tag, b"UL", &b);
    }

    /// An AT element (a tag as value: group, element).
    pub fn at(&mut self, tag: Tag, value: Tag) {
        let mut b = value.0.to_le_bytes().to_vec();
        b.extend_from_slice(&value.1.to_le_bytes());
        self.put(tag, b"AT", &b);
    }

    /// A sequence of items, each with a defined length.
    pub fn seq(&mut self, tag: Tag, items: &[DataSet]) {
        let mut body = Vec::new();
        for item in items {
            let bytes = item.to_bytes();
            body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            body.extend_from_slice(&bytes);
        }
        self.put(tag, b"SQ", &body);
    }

    /// Encoded length in bytes.
    pub fn len(&self) -> usize {
        self.elements.values().map(Vec::len).sum()
    }

    /// The encoded elements in tag order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for e in self.elements.values() {
            out.extend_from_slice(e);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_dictionary_std::tags;

    #[test]
    fn elements_sort_and_pad() {
        let mut d = DataSet::new();
        d.text(tags::SOP_INSTANCE_UID, b"UI", "1.2.3");
        d.us(tags::ROWS, &[4]);
        let b = d.to_bytes();
        // Rows (0028,0010) comes after SOPInstanceUID (0008,0018).
        assert_eq!(&b[0..4], &[0x08, 0x00, 0x18, 0x00]);
        assert_eq!(&b[6..8], &[6, 0]); // "1.2.3" padded with NUL to 6
        assert_eq!(b[13], 0);
        assert_eq!(&b[14..18], &[0x28, 0x00, 0x10, 0x00]);
    }

    #[test]
    fn sequences_have_defined_lengths() {
        let mut item = DataSet::new();
        item.us(tags::REFERENCED_SEGMENT_NUMBER, &[1]);
        let mut d = DataSet::new();
        d.seq(tags::SEGMENT_IDENTIFICATION_SEQUENCE, &[item]);
        let b = d.to_bytes();
        assert_eq!(&b[4..6], b"SQ");
        assert_eq!(u32::from_le_bytes([b[8], b[9], b[10], b[11]]), 8 + 10);
        assert_eq!(&b[12..16], &[0xFE, 0xFF, 0x00, 0xE0]);
        assert_eq!(u32::from_le_bytes([b[16], b[17], b[18], b[19]]), 10);
    }
}
