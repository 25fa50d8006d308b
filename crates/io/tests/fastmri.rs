//! fastMRI / ISMRMRD HDF5 k-space written by h5py (the reference writer, over libhdf5), read
//! back exactly; broken files give typed errors.

use std::path::Path;

use hounsfield_io::fastmri::{self, FastMriError, SliceSelection};

use crate::common::py_json;

/// Writes the files of `WRITE` into `dir`; each `<name>.h5` has its k-space as little-endian
/// complex64 in `<name>.bin` (C order), for an exact comparison.
const WRITE: &str = r#"
import sys, json, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(5)
def cplx(shape, dt=np.complex64):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
def dump(name, k):
    k.astype('<c8').tofile(f"{d}/{name}.bin")
hdr = ("<?xml version='1.0'?><ismrmrdHeader xmlns=\"http://www.ismrm.org/ISMRMRD\"><encoding>"
       "<encodedSpace><matrixSize><x>24</x><y>20</y><z>1</z></matrixSize>"
       "<fieldOfView_mm><x>48.0</x><y>30.0</y><z>3.5</z></fieldOfView_mm></encodedSpace>"
       "<reconSpace><matrixSize><x>12</x><y>20</y><z>1</z></matrixSize>"
       "<fieldOfView_mm><x>24</x><y>30</y><z>3.5</z></fieldOfView_mm></reconSpace>"
       "</encoding></ismrmrdHeader>")
k = cplx((3, 4, 24, 20))
with h5py.File(f"{d}/multi.h5", "w") as f:
    f["kspace"] = k
    f["mask"] = np.arange(20) % 3 == 0
    f["ismrmrd_header"] = hdr
    f.attrs["acquisition"] = "CORPDFS_FBK"
    f.attrs["max"] = 0.25
    f.attrs["patient_id"] = "abc"
dump("multi", k)
k = cplx((2, 16, 12))
with h5py.File(f"{d}/single.h5", "w") as f:
    f["kspace"] = k
    f["mask"] = (np.arange(12) % 2).astype(np.float32)
dump("single", k)
k = cplx((3, 2, 16, 10))
with h5py.File(f"{d}/gzip.h5", "w") as f:
    f.create_dataset("kspace", data=k.astype(">c8"), chunks=(1, 1, 5, 4), compression="gzip", shuffle=True)
dump("gzip", k)
k = cplx((2, 2, 6, 5), np.complex128)
with h5py.File(f"{d}/c128.h5", "w") as f:
    f.create_dataset("kspace", data=k, chunks=(1, 2, 6, 5), compression="gzip")
dump("c128", k)
with h5py.File(f"{d}/float.h5", "w") as f:
    f["kspace"] = np.zeros((2, 3, 4), np.float32)
padded = np.dtype({"names": ["r", "i"], "formats": ["<f4", "<f4"], "offsets": [0, 4], "itemsize": 16})
with h5py.File(f"{d}/padded.h5", "w") as f:
    f["kspace"] = np.zeros((1, 1, 2, 2), padded)
with h5py.File(f"{d}/rank2.h5", "w") as f:
    f["kspace"] = cplx((6, 5))
with h5py.File(f"{d}/none.h5", "w") as f:
    f["reconstruction_rss"] = np.zeros((2, 3, 4), np.float32)
with h5py.File(f"{d}/badmask.h5", "w") as f:
    f["kspace"] = cplx((1, 2, 4, 5))
    f["mask"] = np.ones(4, bool)
with h5py.File(f"{d}/huge.h5", "w") as f:
    f.create_dataset("kspace", shape=(4, 1000, 4000, 4000), dtype=np.complex64, chunks=(1, 1, 64, 64))
with open(f"{d}/multi.h5", "rb") as f:
    b = f.read()
with open(f"{d}/truncated.h5", "wb") as f:
    f.write(b[: len(b) // 2])
with open(f"{d}/text.h5", "w") as f:
    f.write("not an HDF5 file at all")
print(json.dumps({"h5py": h5py.__version__}))
"#;

fn write_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    py_json(WRITE, &[dir.path().to_str().unwrap()]);
    dir
}

fn expected(dir: &Path, name: &str) -> Vec<[f32; 2]> {
    let b = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
    b.chunks_exact(8)
        .map(|c| {
            [f32::from_le_bytes(c[..4].try_into().unwrap()), f32::from_le_bytes(c[4..].try_into().unwrap())]
        })
        .collect()
}

#[test]
fn fastmri_h5py_files_read_exactly() {
    let dir = write_files();
    let d = dir.path();

    // Multi-coil: every slice, then one.
    let all = fastmri::read(&d.join("multi.h5"), SliceSelection::All).unwrap();
    let want = expected(d, "multi");
    assert_eq!(
        (all.slices, all.first_slice, all.file_slices, all.coils, all.rows, all.cols, all.single_coil),
        (3, 0, 3, 4, 24, 20, false)
    );
    assert_eq!(all.data, want);
    let mask: Vec<f32> = (0..20).map(|i| if i % 3 == 0 { 1.0 } else { 0.0 }).collect();
    assert_eq!(all.mask.as_deref(), Some(&mask[..]));
    assert_eq!(all.acquisition.as_deref(), Some("CORPDFS_FBK"));
    assert_eq!(all.string_attributes.get("patient_id").map(String::as_str), Some("abc"));
    assert_eq!(all.numeric_attributes.get("max"), Some(&0.25));
    let h = all.header.as_ref().unwrap();
    assert!(h.xml.starts_with("<?xml") && h.xml.ends_with("</ismrmrdHeader>"));
    let e = h.encoded.unwrap();
    assert_eq!((e.matrix, e.fov_mm), ([24, 20, 1], [48.0, 30.0, 3.5]));
    assert_eq!(h.recon.unwrap().matrix, [12, 20, 1]);
    // Encoded x (24) runs along the rows: columns 30/20 mm, rows 48/24 mm.
    assert_eq!(h.pixel_spacing(all.rows, all.cols), Some([1.5, 2.0]));
    assert_eq!(h.slice_thickness(), Some(3.5));

    let per_slice = 4 * 24 * 20;
    let mid = fastmri::read(&d.join("multi.h5"), SliceSelection::Middle).unwrap();
    assert_eq!((mid.slices, mid.first_slice, mid.file_slices), (1, 1, 3));
    assert_eq!(mid.data, want[per_slice..2 * per_slice]);
    let last = fastmri::read(&d.join("multi.h5"), SliceSelection::Index(2)).unwrap();
    assert_eq!(last.data, want[2 * per_slice..]);
    assert_eq!(last.first_slice, 2);
    let e = fastmri::read(&d.join("multi.h5"), SliceSelection::Index(3)).unwrap_err();
    assert!(matches!(e, FastMriError::SliceOutOfRange { slice: 3, slices: 3, .. }), "{e}");

    // From memory, as the fuzz target reads.
    let bytes = std::fs::read(d.join("multi.h5")).unwrap();
    let mem = fastmri::read_bytes(&bytes, SliceSelection::All, Path::new("multi.h5")).unwrap();
    assert_eq!(mem, all);

    // Single-coil.
    let s = fastmri::read(&d.join("single.h5"), SliceSelection::All).unwrap();
    assert_eq!((s.slices, s.coils, s.rows, s.cols, s.single_coil), (2, 1, 16, 12, true));
    assert_eq!(s.data, expected(d, "single"));
    assert_eq!(s.mask.unwrap(), (0..12).map(|i| (i % 2) as f32).collect::<Vec<_>>());
    assert!(s.header.is_none() && s.acquisition.is_none());

    // Chunked, shuffled, gzip, big-endian complex64; chunks do not divide the shape.
    let g = fastmri::read(&d.join("gzip.h5"), SliceSelection::All).unwrap();
    assert_eq!((g.slices, g.coils, g.rows, g.cols), (3, 2, 16, 10));
    assert_eq!(g.data, expected(d, "gzip"));
    let g1 = fastmri::read(&d.join("gzip.h5"), SliceSelection::Index(1)).unwrap();
    assert_eq!(g1.data, expected(d, "gzip")[320..640]);

    // complex128, narrowed to f32 exactly as numpy narrows it.
    let c = fastmri::read(&d.join("c128.h5"), SliceSelection::All).unwrap();
    assert_eq!(c.data, expected(d, "c128"));
}

#[test]
fn fastmri_broken_files_give_typed_errors() {
    let dir = write_files();
    let d = dir.path();
    let err = |name: &str| fastmri::read(&d.join(name), SliceSelection::All).unwrap_err();

    let e = err("truncated.h5");
    assert!(matches!(e, FastMriError::Truncated { .. }), "{e}");
    let e = err("text.h5");
    assert!(matches!(e, FastMriError::NotHdf5 { .. }), "{e}");
    let e = err("float.h5");
    assert!(matches!(e, FastMriError::Dtype { dataset: "kspace", .. }), "{e}");
    // A {r, i} compound padded to 16 bytes (the fuzzer's inflated-size compound, written
    // honestly): refused, not read with the wrong stride.
    let e = err("padded.h5");
    assert!(matches!(e, FastMriError::Dtype { dataset: "kspace", .. }), "{e}");
    let e = err("rank2.h5");
    assert!(matches!(e, FastMriError::Shape { dataset: "kspace", .. }), "{e}");
    let e = err("none.h5");
    assert!(matches!(e, FastMriError::NoKspace { .. }), "{e}");
    let e = err("badmask.h5");
    assert!(matches!(e, FastMriError::Shape { dataset: "mask", .. }), "{e}");
    let e = err("missing.h5");
    assert!(matches!(e, FastMriError::Fs { .. }), "{e}");
    // 4 × 1000 coils × 4000² declared, nothing stored: refused before allocating, whole and
    // per slice (128 GB each, over the default 8 GiB cap).
    let e = err("huge.h5");
    assert!(matches!(e, FastMriError::Core(hounsfield_core::CoreError::MemoryCap { .. })), "{e}");
    let e = fastmri::read(&d.join("huge.h5"), SliceSelection::Middle).unwrap_err();
    assert!(matches!(e, FastMriError::Core(hounsfield_core::CoreError::MemoryCap { .. })), "{e}");
    // Through the crate's error type, with the file named.
    let io: hounsfield_io::IoError = err("none.h5").into();
    assert!(io.to_string().contains("none.h5"), "{io}");

    // Every prefix of a valid file is an error or a correct read, never a panic.
    let bytes = std::fs::read(d.join("gzip.h5")).unwrap();
    let whole = fastmri::read_bytes(&bytes, SliceSelection::All, Path::new("gzip.h5")).unwrap();
    for n in (0..bytes.len()).step_by(97) {
        if let Ok(k) = fastmri::read_bytes(&bytes[..n], SliceSelection::All, Path::new("cut.h5")) {
            assert_eq!(k.data, whole.data, "prefix of {n} bytes");
        }
    }
}
