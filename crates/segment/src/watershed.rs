//! Marker-based watershed (Meyer's flooding, Beucher & Meyer 1993) as scikit-image's
//! `segmentation.watershed(image, markers)` computes it: a priority queue ordered by
//! (intensity, insertion age), seeded with every marker voxel in raster order; a popped voxel
//! gives its label to each unlabelled face neighbour (6-connectivity, visited in the order
//! −z, −y, −x, +x, +y, +z), which is pushed with the next age. Ties in intensity are thus
//! flooded first in, first out, and the result equals scikit-image's voxel for voxel when the
//! markers' intensities are distinct.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use hounsfield_core::{LabelVolume, Scalar, Volume};

use crate::error::{invalid, SegmentError};

#[derive(Clone, Copy, PartialEq)]
struct Item {
    value: f64,
    age: u64,
    index: usize,
}

impl Eq for Item {}

impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.total_cmp(&other.value).then(self.age.cmp(&other.age))
    }
}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Floods `image` (usually a gradient magnitude) from the non-zero `markers` (same grid):
/// every voxel connected to a marker gets the label of the marker whose flood reaches it first.
/// Voxels of `mask` = 0 (when given) are neither flooded nor labelled. NaN voxels are never
/// flooded.
pub fn watershed<T: Scalar>(
    image: &Volume<T>,
    markers: &LabelVolume,
    mask: Option<&Volume<u8>>,
) -> Result<LabelVolume, SegmentError> {
    image.require_same_grid(markers.as_volume())?;
    if let Some(m) = mask {
        image.require_same_grid(m)?;
    }
    let [nx, ny, nz] = image.dims();
    let plane = nx * ny;
    let data = image.data();
    let allowed = |o: usize| mask.is_none_or(|m| m.data()[o] != 0) && !data[o].to_f64().is_nan();
    let mut out: Vec<u16> = markers.data().to_vec();
    let mut heap = BinaryHeap::new();
    for (o, &l) in markers.data().iter().enumerate() {
        if l != 0 {
            if !allowed(o) {
                out[o] = 0;
                continue;
            }
            heap.push(Reverse(Item { value: data[o].to_f64(), age: 0, index: o }));
        }
    }
    if heap.is_empty() {
        return Err(invalid("markers", "no marker voxel (inside the mask)"));
    }
    let mut age = 0u64;
    while let Some(Reverse(item)) = heap.pop() {
        let o = item.index;
        let (i, j, k) = (o % nx, (o / nx) % ny, o / plane);
        let neighbours = crate::face_neighbours(o, [i, j, k], [nx, ny, nz]);
        for n in neighbours.into_iter().flatten() {
            if out[n] != 0 || !allowed(n) {
                continue;
            }
            age += 1;
            out[n] = out[o];
            heap.push(Reverse(Item { value: data[n].to_f64(), age, index: n }));
        }
    }
    Ok(LabelVolume::new(image.with_data(out)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hounsfield_core::Geometry;

    #[test]
    fn two_basins_split_at_the_ridge() {
        // 1-D profile with a ridge at x = 5.
        let v: Vec<f32> = (0..11).map(|i| 5.0 - (i as f32 - 5.0).abs()).collect();
        let img = Volume::from_vec([11, 1, 1], Geometry::default(), v).unwrap();
        let mut m = vec![0u16; 11];
        m[0] = 1;
        m[10] = 2;
        let markers = LabelVolume::new(Volume::from_vec([11, 1, 1], Geometry::default(), m).unwrap());
        let w = watershed(&img, &markers, None).unwrap();
        assert_eq!(&w.data()[..5], &[1; 5]);
        assert_eq!(&w.data()[6..], &[2; 5]);
    }
}
