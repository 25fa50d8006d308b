//! BART `.cfl/.hdr` against BART itself (Debian `bart`, installed by `scripts/setup.sh`): an
//! array we write is read by `bart fmac` and `bart show`, and what BART writes we read back
//! sample for sample; a header whose sizes do not match the data is a typed error.

use std::path::{Path, PathBuf};
use std::process::Command;

use hounsfield_io::cfl::{self, CflError};

/// The BART binary; panics with the fix when it is missing (tests never skip).
fn bart() -> PathBuf {
    let p = std::env::var_os("HOUNSFIELD_BART")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/bart"));
    assert!(p.exists(), "BART not found at {}: run scripts/setup.sh", p.display());
    p
}

fn run_bart(args: &[&str], dir: &Path) -> String {
    let out = Command::new(bart()).args(args).current_dir(dir).output().expect("bart runs");
    assert!(out.status.success(), "bart {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn written_array_goes_through_bart_fmac_and_back() {
    let dir = tempfile::tempdir().unwrap();
    // 3 × 2 × 1 × 2 (x, y, z, coil): sample i = (i, −i/2).
    let dims = [3, 2, 1, 2];
    let data: Vec<[f32; 2]> = (0..12).map(|i| [i as f32, -0.5 * i as f32]).collect();
    cfl::write(&dir.path().join("a.cfl"), &dims, &data).unwrap();
    // `bart show` prints the samples column-major, one per cell: our order.
    let shown = run_bart(&["show", "a"], dir.path());
    let cells: Vec<&str> = shown.split_whitespace().skip(1).take(3).collect();
    assert_eq!(
        cells,
        ["+1.000000e+00-5.000000e-01i", "+2.000000e+00-1.000000e+00i", "+3.000000e+00-1.500000e+00i"]
    );
    // a·conj(a) summed over the coil dimension (flag 8): |a|² per pixel, a BART computation.
    run_bart(&["fmac", "-C", "-s", "8", "a", "a", "b"], dir.path());
    let b = cfl::read(&dir.path().join("b")).unwrap();
    assert_eq!(b.dims16()[..4], [3, 2, 1, 1]);
    for (p, v) in b.data.iter().enumerate() {
        let want: f32 = [p, p + 6].iter().map(|&i| 1.25 * (i * i) as f32).sum();
        // Exact small integers and quarters: BART's float arithmetic rounds nothing here.
        assert_eq!(*v, [want, 0.0], "pixel {p}");
    }
}

#[test]
fn bart_phantom_kspace_reads_with_its_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    run_bart(&["phantom", "-k", "-s", "4", "-x", "32", "k"], dir.path());
    let k = cfl::read(&dir.path().join("k.cfl")).unwrap();
    assert_eq!(k.dims16()[..5], [32, 32, 1, 4, 1]);
    assert_eq!(k.len(), 32 * 32 * 4);
    // Written back by us and compared by BART: `bart nrmse` of identical arrays is 0.
    cfl::write(&dir.path().join("k2"), &k.dims, &k.data).unwrap();
    let e: f64 = run_bart(&["nrmse", "k", "k2"], dir.path()).trim().parse().unwrap();
    assert_eq!(e, 0.0);
}

#[test]
fn mismatched_header_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    run_bart(&["ones", "2", "4", "4", "o"], dir.path());
    assert_eq!(cfl::read(&dir.path().join("o")).unwrap().data, vec![[1.0, 0.0]; 16]);
    std::fs::write(dir.path().join("o.hdr"), "# Dimensions\n4 5 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n").unwrap();
    let e = cfl::read(&dir.path().join("o")).unwrap_err();
    assert!(matches!(e, CflError::ReadSize { expected: 160, actual: 128, .. }), "{e}");
    assert!(e.to_string().contains("o.cfl"), "{e}");
    std::fs::remove_file(dir.path().join("o.cfl")).unwrap();
    assert!(matches!(cfl::read(&dir.path().join("o")), Err(CflError::Fs { .. })));
}
