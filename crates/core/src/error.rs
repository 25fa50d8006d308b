//! The shared error vocabulary and the memory cap that every allocation sized by input data
//! is checked against.

use std::sync::atomic::{AtomicU64, Ordering};

/// Errors of the core types. Library crates wrap this in their own error enums.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A voxel buffer does not hold `dims[0]·dims[1]·dims[2]` elements.
    #[error("data length {len} does not match dimensions {dims:?} ({expected} voxels)")]
    DataLength {
        /// Declared dimensions.
        dims: [usize; 3],
        /// Voxels the dimensions imply.
        expected: usize,
        /// Length of the buffer given.
        len: usize,
    },
    /// Dimensions with a zero extent or whose product overflows.
    #[error("invalid dimensions {dims:?}: {reason}")]
    InvalidDims {
        /// The dimensions.
        dims: [usize; 3],
        /// Why they are invalid.
        reason: &'static str,
    },
    /// Origin, spacing or direction are not usable (non-finite, non-positive spacing,
    /// singular direction).
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    /// An allocation sized by input data would exceed the memory cap.
    #[error(
        "declared size of {bytes} bytes exceeds the memory cap of {cap} bytes (raise it with --memory-cap)"
    )]
    MemoryCap {
        /// Bytes the allocation needs.
        bytes: u128,
        /// The cap in force.
        cap: u64,
    },
    /// Two images that must share a grid (dimensions and geometry) do not.
    #[error("grid mismatch: {0}")]
    GridMismatch(String),
    /// A parameter outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name as the user sees it.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// The default memory cap: 8 GiB.
pub const DEFAULT_MEMORY_CAP: u64 = 8 << 30;

static MEMORY_CAP: AtomicU64 = AtomicU64::new(DEFAULT_MEMORY_CAP);

/// The memory cap in bytes that allocations sized by input data are checked against.
pub fn memory_cap() -> u64 {
    MEMORY_CAP.load(Ordering::Relaxed)
}

/// Sets the process-wide memory cap (bytes). The CLI sets it from `--memory-cap`.
pub fn set_memory_cap(bytes: u64) {
    MEMORY_CAP.store(bytes, Ordering::Relaxed);
}

/// Checks that `count` elements of `elem_size` bytes fit under the memory cap, and returns
/// `count` as `usize`. Call this before allocating anything whose size comes from a file
/// header, the network or the command line.
pub fn check_alloc(count: u128, elem_size: usize) -> Result<usize, CoreError> {
    let bytes = count.saturating_mul(elem_size as u128);
    let cap = memory_cap();
    if bytes > cap as u128 || count > usize::MAX as u128 {
        return Err(CoreError::MemoryCap { bytes, cap });
    }
    Ok(count as usize)
}

/// Number of voxels for `dims`, checked against overflow, zero extents and the memory cap for
/// elements of `elem_size` bytes.
pub fn checked_voxels(dims: [usize; 3], elem_size: usize) -> Result<usize, CoreError> {
    if dims.contains(&0) {
        return Err(CoreError::InvalidDims { dims, reason: "every extent must be at least 1" });
    }
    let n = dims.iter().fold(1u128, |a, &d| a.saturating_mul(d as u128));
    check_alloc(n, elem_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_refused() {
        assert!(matches!(checked_voxels([1 << 20, 1 << 20, 1 << 20], 4), Err(CoreError::MemoryCap { .. })));
        assert!(matches!(checked_voxels([usize::MAX, usize::MAX, 2], 1), Err(CoreError::MemoryCap { .. })));
        assert!(matches!(checked_voxels([0, 4, 4], 1), Err(CoreError::InvalidDims { .. })));
        assert_eq!(checked_voxels([4, 5, 6], 4).unwrap(), 120);
    }
}
