#!/usr/bin/env python3
"""NIfTI read speed: Hounsfield vs nibabel vs SimpleITK, side by side on the same files.

Writes 256^3 int16 and float32 volumes (oblique affine) as .nii and .nii.gz with nibabel,
builds and runs the Rust example `crates/io/examples/nifti_read.rs` (release), times nibabel
(`np.asanyarray(nib.load(f, mmap=False).dataobj)`: data actually loaded, not a lazy memory
map) and SimpleITK (`sitk.ReadImage(f)`) on the same files in the same run, checks that all
three read the same voxels (sum) and geometry, and prints best-of-N times and speed ratios.

Every timing is a warm-page-cache read (each file is read once before timing), the way a
pipeline re-reads its intermediate files.

Run (from the repository root):
    source ~/.cache/hounsfield/env.sh
    $HOUNSFIELD_PYTHON bench/nifti_read_vs_peers.py [--repeats 7] [--size 256]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np
import SimpleITK as sitk

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_and_median(fn, repeats):
    fn()  # warm the page cache and the code paths
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2], out


def make_files(d, n):
    rng = np.random.default_rng(1)
    # A smooth body-like phantom plus noise: gzip ratios like real CT/MR.
    z, y, x = np.mgrid[0:n, 0:n, 0:n].astype(np.float32) / n - 0.5
    body = (x * x + y * y * 1.5 + z * z * 0.8 < 0.16).astype(np.float32)
    ct = (-1000 + body * 1040 + rng.normal(0, 20, (n, n, n)) * body).astype(np.int16)
    mr = (body * 400 + rng.normal(0, 5, (n, n, n))).astype(np.float32)
    c, s = np.cos(0.2), np.sin(0.2)
    affine = np.array([[0.9 * c, -0.9 * s, 0, -115.2], [0.9 * s, 0.9 * c, 0, 98.1], [0, 0, 1.2, -150.0], [0, 0, 0, 1]])
    files = []
    for name, arr in (("int16", ct), ("float32", mr)):
        img = nib.Nifti1Image(np.asfortranarray(arr.transpose(2, 1, 0)), affine)
        img.header.set_xyzt_units("mm")
        for ext in ("nii", "nii.gz"):
            # Different base names on purpose: given `x.nii.gz`, nifti1_io (inside ITK) opens
            # `x.nii` instead whenever that file exists, which would time the wrong file.
            p = os.path.join(d, f"{name}_{n}_{ext.replace('.', '')}.{ext}")
            nib.save(img, p)
            files.append((name, ext, p))
    return files


def rust_times(paths, repeats):
    subprocess.run(
        ["cargo", "build", "--release", "-p", "hounsfield-io", "--example", "nifti_read", "-j2", "-q"],
        cwd=ROOT,
        check=True,
    )
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "examples", "nifti_read")
    for p in paths:  # warm the page cache
        subprocess.run([exe, "1", p], check=True, capture_output=True)
    out = subprocess.run([exe, str(repeats)] + paths, check=True, capture_output=True, text=True).stdout
    return {j["file"]: j for j in map(json.loads, out.splitlines())}


def lps_geometry_nib(img):
    a = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine
    return a[:3, 3]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    print(f"machine: {os.cpu_count()} cores; SimpleITK {sitk.Version.VersionString()} ({threads} threads), "
          f"nibabel {nib.__version__}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as d:
        files = make_files(d, args.size)
        rust = rust_times([p for _, _, p in files], args.repeats)
        rows = []
        for name, ext, p in files:
            nb_best, nb_med, nb = best_and_median(lambda: np.asanyarray(nib.load(p, mmap=False).dataobj), args.repeats)
            sk_best, sk_med, sk = best_and_median(lambda: sitk.ReadImage(p), args.repeats)
            r = rust[p]
            # Agreement: same voxel sum (exact for int16, f64 sums of the same f32 values) and origin.
            sums = (float(r["sum"]), float(nb.astype(np.float64).sum()), float(sitk.GetArrayViewFromImage(sk).astype(np.float64).sum()))
            same_vox = abs(sums[0] - sums[1]) <= 1e-9 * abs(sums[1]) + 1e-6 and abs(sums[0] - sums[2]) <= 1e-9 * abs(sums[2]) + 1e-6
            o_nib = lps_geometry_nib(nib.load(p))
            geo = max(np.abs(np.array(r["origin"]) - o_nib).max(), np.abs(np.array(r["origin"]) - np.array(sk.GetOrigin())).max())
            rows.append((f"{name} .{ext}", r["best_s"], nb_best, sk_best, r["median_s"], nb_med, sk_med, same_vox, geo))
    print()
    print(f"{args.size}^3, best of {args.repeats} (median in brackets), warm page cache")
    hdr = f"{'file':<16}{'hounsfield':>20}{'nibabel':>20}{'SimpleITK':>20}{'vs nibabel':>12}{'vs sitk':>10}  voxels  origin"
    print(hdr)
    print("-" * len(hdr))
    for label, rb, nb, sb, rm, nm, sm, same, geo in rows:
        print(f"{label:<16}{rb * 1e3:>9.1f} ms ({rm * 1e3:5.1f}){nb * 1e3:>9.1f} ms ({nm * 1e3:5.1f})"
              f"{sb * 1e3:>9.1f} ms ({sm * 1e3:5.1f}){nb / rb:>11.2f}x{sb / rb:>9.2f}x  {'same' if same else 'DIFFER'}    {geo:.1e} mm")
    ok = all(r[7] for r in rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
