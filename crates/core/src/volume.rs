//! `Volume<T>`, `LabelVolume` and the type-erased `AnyVolume` that readers return.

use crate::error::{checked_voxels, CoreError};
use crate::geometry::Geometry;
use crate::linalg::Vec3;

/// A voxel value type: the integer and float types medical formats store.
pub trait Scalar: Copy + Send + Sync + PartialOrd + Default + std::fmt::Debug + 'static {
    /// Name as `hounsfield info` prints it (`"int16"`, `"float32"`, …).
    const NAME: &'static str;
    /// Lossless widening to `f64` (for `u64`-free types this is exact).
    fn to_f64(self) -> f64;
    /// Conversion from `f64`: rounds to nearest and saturates for integer types; NaN becomes 0.
    fn from_f64(v: f64) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty => $name:literal),*) => {$(
        impl Scalar for $t {
            const NAME: &'static str = $name;
            #[inline]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline]
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0 since Rust 1.45.
                v.round() as $t
            }
        }
    )*};
}
int_scalar!(u8 => "uint8", i8 => "int8", u16 => "uint16", i16 => "int16", u32 => "uint32", i32 => "int32");

impl Scalar for f32 {
    const NAME: &'static str = "float32";
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "float64";
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A 3-D image: voxels stored x-fastest (column, row, slice) with the grid's [`Geometry`].
///
/// A 2-D image is a volume of depth 1. Two volumes are equal only when their dimensions,
/// geometry and voxels are all equal.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume<T> {
    dims: [usize; 3],
    geometry: Geometry,
    data: Vec<T>,
}

impl<T> Volume<T> {
    /// Wraps `data` (x-fastest) as a volume. Fails when the length does not match `dims`.
    pub fn from_vec(dims: [usize; 3], geometry: Geometry, data: Vec<T>) -> Result<Self, CoreError> {
        let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if dims.contains(&0) {
            return Err(CoreError::InvalidDims { dims, reason: "every extent must be at least 1" });
        }
        match expected {
            Some(n) if n == data.len() => Ok(Self { dims, geometry, data }),
            Some(n) => Err(CoreError::DataLength { dims, expected: n, len: data.len() }),
            None => Err(CoreError::InvalidDims { dims, reason: "voxel count overflows" }),
        }
    }

    /// Dimensions `[nx, ny, nz]`.
    #[inline]
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// The grid's geometry.
    #[inline]
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Replaces the geometry (the voxels stay).
    pub fn set_geometry(&mut self, geometry: Geometry) {
        self.geometry = geometry;
    }

    /// Voxels, x-fastest.
    #[inline]
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// Mutable voxels, x-fastest.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the volume and returns its voxels.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Consumes the volume and returns dims, geometry and voxels.
    pub fn into_parts(self) -> ([usize; 3], Geometry, Vec<T>) {
        (self.dims, self.geometry, self.data)
    }

    /// Number of voxels.
    #[inline]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Always false: a volume has at least one voxel.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Linear offset of voxel `(i, j, k)` (no bounds check on the components).
    #[inline]
    pub fn offset(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// Voxel `(i, j, k)`, or `None` outside the grid.
    #[inline]
    pub fn get(&self, i: usize, j: usize, k: usize) -> Option<&T> {
        if i < self.dims[0] && j < self.dims[1] && k < self.dims[2] {
            self.data.get(self.offset(i, j, k))
        } else {
            None
        }
    }

    /// Mutable voxel `(i, j, k)`, or `None` outside the grid.
    #[inline]
    pub fn get_mut(&mut self, i: usize, j: usize, k: usize) -> Option<&mut T> {
        if i < self.dims[0] && j < self.dims[1] && k < self.dims[2] {
            let o = self.offset(i, j, k);
            self.data.get_mut(o)
        } else {
            None
        }
    }

    /// A new volume on the same grid with `f` applied to every voxel.
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> Volume<U> {
        Volume { dims: self.dims, geometry: self.geometry, data: self.data.iter().map(f).collect() }
    }

    /// A new volume on the same grid with other voxels (length must match).
    pub fn with_data<U>(&self, data: Vec<U>) -> Result<Volume<U>, CoreError> {
        Volume::from_vec(self.dims, self.geometry, data)
    }

    /// True when `other` has the same dimensions and a geometry equal within `tol` (mm and
    /// direction cosines).
    pub fn same_grid<U>(&self, other: &Volume<U>, tol: f64) -> bool {
        self.dims == other.dims && self.geometry.approx_eq(&other.geometry, tol)
    }

    /// Fails with [`CoreError::GridMismatch`] unless `other` is on the same grid (tolerance
    /// 1e-4 mm, the precision DICOM positions are written with).
    pub fn require_same_grid<U>(&self, other: &Volume<U>) -> Result<(), CoreError> {
        if self.same_grid(other, 1e-4) {
            Ok(())
        } else {
            Err(CoreError::GridMismatch(format!(
                "dims {:?} vs {:?}, geometry {:?} vs {:?}",
                self.dims, other.dims, self.geometry, other.geometry
            )))
        }
    }

    /// World position of voxel centre `(i, j, k)`.
    pub fn index_to_world(&self, i: f64, j: f64, k: f64) -> Vec3 {
        self.geometry.index_to_world([i, j, k])
    }

    /// True when the volume has a single slice (a 2-D image).
    pub fn is_2d(&self) -> bool {
        self.dims[2] == 1
    }
}

impl<T: Clone> Volume<T> {
    /// A volume filled with `value`. The size is checked against the memory cap.
    pub fn filled(dims: [usize; 3], geometry: Geometry, value: T) -> Result<Self, CoreError> {
        let n = checked_voxels(dims, std::mem::size_of::<T>().max(1))?;
        Ok(Self { dims, geometry, data: vec![value; n] })
    }
}

impl<T: Scalar> Volume<T> {
    /// A zero-filled volume (size checked against the memory cap).
    pub fn zeros(dims: [usize; 3], geometry: Geometry) -> Result<Self, CoreError> {
        Self::filled(dims, geometry, T::default())
    }

    /// Converts every voxel to `U` through `f64` (rounding and saturating for integers).
    pub fn cast<U: Scalar>(&self) -> Volume<U> {
        self.map(|v| U::from_f64(v.to_f64()))
    }

    /// Minimum, maximum and mean of the voxels (NaN voxels are ignored; all-NaN gives NaN).
    pub fn min_max_mean(&self) -> (f64, f64, f64) {
        let (mut lo, mut hi, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0usize);
        for &v in &self.data {
            let v = v.to_f64();
            if v.is_nan() {
                continue;
            }
            lo = lo.min(v);
            hi = hi.max(v);
            sum += v;
            n += 1;
        }
        if n == 0 {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            (lo, hi, sum / n as f64)
        }
    }
}

/// A label map: `u16` labels, 0 = background. Its own type so that only label-safe operations
/// (nearest-neighbour resampling, set operations) apply to it.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelVolume(Volume<u16>);

impl LabelVolume {
    /// Wraps a `u16` volume as a label map.
    pub fn new(volume: Volume<u16>) -> Self {
        Self(volume)
    }

    /// An all-background label map on the grid.
    pub fn background(dims: [usize; 3], geometry: Geometry) -> Result<Self, CoreError> {
        Ok(Self(Volume::zeros(dims, geometry)?))
    }

    /// The underlying `u16` volume.
    pub fn as_volume(&self) -> &Volume<u16> {
        &self.0
    }

    /// Mutable access to the underlying `u16` volume.
    pub fn as_volume_mut(&mut self) -> &mut Volume<u16> {
        &mut self.0
    }

    /// Unwraps into the `u16` volume.
    pub fn into_volume(self) -> Volume<u16> {
        self.0
    }

    /// The distinct non-zero labels present, ascending.
    pub fn labels(&self) -> Vec<u16> {
        let mut seen = vec![false; 65536];
        for &v in self.0.data() {
            seen[v as usize] = true;
        }
        (1..=u16::MAX).filter(|&l| seen[l as usize]).collect()
    }
}

impl std::ops::Deref for LabelVolume {
    type Target = Volume<u16>;
    fn deref(&self) -> &Volume<u16> {
        &self.0
    }
}

/// A volume of whichever voxel type a file holds.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum AnyVolume {
    U8(Volume<u8>),
    I8(Volume<i8>),
    U16(Volume<u16>),
    I16(Volume<i16>),
    U32(Volume<u32>),
    I32(Volume<i32>),
    F32(Volume<f32>),
    F64(Volume<f64>),
}

/// Runs `$body` with `$v` bound to the inner `Volume<T>` of an [`AnyVolume`], for any `T`.
#[macro_export]
macro_rules! with_any_volume {
    ($any:expr, $v:ident => $body:expr) => {
        match $any {
            $crate::AnyVolume::U8($v) => $body,
            $crate::AnyVolume::I8($v) => $body,
            $crate::AnyVolume::U16($v) => $body,
            $crate::AnyVolume::I16($v) => $body,
            $crate::AnyVolume::U32($v) => $body,
            $crate::AnyVolume::I32($v) => $body,
            $crate::AnyVolume::F32($v) => $body,
            $crate::AnyVolume::F64($v) => $body,
        }
    };
}

impl AnyVolume {
    /// Dimensions.
    pub fn dims(&self) -> [usize; 3] {
        with_any_volume!(self, v => v.dims())
    }

    /// Geometry.
    pub fn geometry(&self) -> &Geometry {
        with_any_volume!(self, v => v.geometry())
    }

    /// Replaces the geometry.
    pub fn set_geometry(&mut self, g: Geometry) {
        with_any_volume!(self, v => v.set_geometry(g))
    }

    /// Voxel type name (`"int16"`, `"float32"`, …).
    pub fn type_name(&self) -> &'static str {
        fn name<T: Scalar>(_: &Volume<T>) -> &'static str {
            T::NAME
        }
        with_any_volume!(self, v => name(v))
    }

    /// Minimum, maximum and mean (NaN ignored).
    pub fn min_max_mean(&self) -> (f64, f64, f64) {
        with_any_volume!(self, v => v.min_max_mean())
    }

    /// Converts to `f32` (exact for every integer type up to 24 bits).
    pub fn to_f32(&self) -> Volume<f32> {
        match self {
            AnyVolume::F32(v) => v.clone(),
            other => with_any_volume!(other, v => v.cast::<f32>()),
        }
    }

    /// Converts to `f32`, consuming (no copy when already `f32`).
    pub fn into_f32(self) -> Volume<f32> {
        match self {
            AnyVolume::F32(v) => v,
            other => other.to_f32(),
        }
    }

    /// Converts to `f64`.
    pub fn to_f64(&self) -> Volume<f64> {
        with_any_volume!(self, v => v.cast::<f64>())
    }

    /// Interprets the voxels as labels: fails unless every voxel is an integer in 0..=65535.
    pub fn to_labels(&self) -> Result<LabelVolume, CoreError> {
        fn conv<T: Scalar>(v: &Volume<T>) -> Result<LabelVolume, CoreError> {
            let mut out = Vec::with_capacity(v.len());
            for &x in v.data() {
                let f = x.to_f64();
                if !(0.0..=65535.0).contains(&f) || f.fract() != 0.0 {
                    return Err(CoreError::InvalidParameter {
                        name: "labels",
                        reason: format!("voxel value {f} is not a label (integer 0..=65535)"),
                    });
                }
                out.push(f as u16);
            }
            Ok(LabelVolume::new(v.with_data(out)?))
        }
        with_any_volume!(self, v => conv(v))
    }
}

macro_rules! any_from {
    ($($t:ty => $var:ident),*) => {$(
        impl From<Volume<$t>> for AnyVolume {
            fn from(v: Volume<$t>) -> Self { AnyVolume::$var(v) }
        }
    )*};
}
any_from!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, f32 => F32, f64 => F64);

impl From<LabelVolume> for AnyVolume {
    fn from(v: LabelVolume) -> Self {
        AnyVolume::U16(v.into_volume())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_fastest_layout() {
        let v = Volume::from_vec([2, 3, 4], Geometry::default(), (0..24).collect::<Vec<i32>>()).unwrap();
        assert_eq!(*v.get(1, 0, 0).unwrap(), 1);
        assert_eq!(*v.get(0, 1, 0).unwrap(), 2);
        assert_eq!(*v.get(0, 0, 1).unwrap(), 6);
        assert_eq!(*v.get(1, 2, 3).unwrap(), 23);
        assert!(v.get(2, 0, 0).is_none());
    }

    #[test]
    fn length_mismatch_is_an_error() {
        assert!(matches!(
            Volume::from_vec([2, 2, 2], Geometry::default(), vec![0u8; 7]),
            Err(CoreError::DataLength { expected: 8, len: 7, .. })
        ));
        assert!(Volume::from_vec([0, 2, 2], Geometry::default(), Vec::<u8>::new()).is_err());
    }

    #[test]
    fn equality_includes_geometry() {
        let a = Volume::from_vec([2, 1, 1], Geometry::default(), vec![1.0f32, 2.0]).unwrap();
        let mut b = a.clone();
        assert_eq!(a, b);
        b.set_geometry(Geometry { origin: [0.0, 0.0, 1.0], ..Geometry::default() });
        assert_ne!(a, b);
    }

    #[test]
    fn cast_rounds_and_saturates() {
        let v =
            Volume::from_vec([4, 1, 1], Geometry::default(), vec![-3.6f64, 2.5, 70000.0, f64::NAN]).unwrap();
        assert_eq!(v.cast::<u16>().data(), &[0, 3, 65535, 0]);
        assert_eq!(v.cast::<i16>().data(), &[-4, 3, 32767, 0]);
    }

    #[test]
    fn any_volume_stats_and_labels() {
        let v: AnyVolume = Volume::from_vec([3, 1, 1], Geometry::default(), vec![0i16, 2, 7]).unwrap().into();
        assert_eq!(v.type_name(), "int16");
        assert_eq!(v.min_max_mean(), (0.0, 7.0, 3.0));
        assert_eq!(v.to_labels().unwrap().labels(), vec![2, 7]);
        let bad: AnyVolume = Volume::from_vec([1, 1, 1], Geometry::default(), vec![0.5f32]).unwrap().into();
        assert!(bad.to_labels().is_err());
    }
}
