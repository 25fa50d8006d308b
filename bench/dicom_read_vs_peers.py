#!/usr/bin/env python3
"""Reading a 512x512x300 int16 CT series: hounsfield-io vs SimpleITK and pydicom+numpy.

Run (after scripts/setup.sh):

    source ~/.cache/hounsfield/env.sh
    $HOUNSFIELD_PYTHON bench/dicom_read_vs_peers.py [--slices 300] [--repeats 5] [--threads 2] [--rle]

The series (CT Image Storage, explicit VR little endian, or RLE Lossless with --rle;
int16 with RescaleIntercept -1024, one file per slice) is written once with pydicom into
$TMPDIR/hounsfield-bench/ct512x<slices>/ and reused. Every tool reads the same folder
in the same run, with warm page cache (one untimed read first): scan the folder, sort
the slices along the normal, apply the rescale, return one volume.

- hounsfield: `cargo run --release -p hounsfield-io --example dicom_read` (scan +
  select + read_series, files parsed in parallel with rayon; int16 output)
- SimpleITK: ImageSeriesReader with GetGDCMSeriesFileNames (ITK's series sort + GDCM)
- pydicom+numpy: dcmread every file, sort by ImagePositionPatient . normal, stack
  pixel_array, rescale to float32

Prints best/median wall time per tool, the ratio to hounsfield, and whether the
volumes agree (shape, origin, voxel sum/min/max).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def build_series(folder: Path, slices: int, rle: bool) -> None:
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    n = 512
    y, x = np.mgrid[0:n, 0:n]
    r = np.hypot(x - n / 2, y - n / 2)
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{k:04d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientName, ds.PatientID = "Bench^Phantom", "BENCH001"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [-250.0, -250.0, -300.0 + 1.25 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.9765625, 0.9765625]
        ds.SliceThickness = 1.25
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = n
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        # A water cylinder with a bone ring and some texture, air outside (stored = HU + 1024).
        hu = np.where(r < 200, 0, -1000) + np.where((r > 150) & (r < 160), 900, 0)
        hu = hu + ((x * 7 + y * 13 + k * 17) % 41) - 20
        ds.PixelData = (hu + 1024).astype("<i2").tobytes()
        if rle:
            from pydicom.uid import RLELossless
            ds.compress(RLELossless)
        ds.save_as(ds.filename, enforce_file_format=True)


def run_hounsfield(folder: Path, repeats: int, threads: int) -> dict:
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "hounsfield-io", "--example", "dicom_read", "-j2"],
        cwd=ROOT,
        check=True,
    )
    exe = ROOT / "target" / "release" / "examples" / "dicom_read"
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([str(exe), str(repeats), str(folder)], check=True, capture_output=True, text=True, env=env)
    j = json.loads(out.stdout.strip().splitlines()[-1])
    if "error" in j:
        sys.exit(f"hounsfield failed: {j['error']}")
    return {
        "best": j["best_s"],
        "median": j["median_s"],
        "shape": tuple(j["dims"][::-1]),
        "origin": j["origin"],
        "sum": j["sum"],
        "min": j["min"],
        "max": j["max"],
        "type": j["type"],
    }


def timed(fn, repeats):
    times, last = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2], last


def run_sitk(folder: Path, repeats: int, threads: int) -> dict:
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)

    def read():
        r = sitk.ImageSeriesReader()
        r.SetFileNames(r.GetGDCMSeriesFileNames(str(folder)))
        return r.Execute()

    best, med, img = timed(read, repeats)
    a = sitk.GetArrayViewFromImage(img)
    return {"best": best, "median": med, "shape": a.shape, "origin": list(img.GetOrigin()),
            "sum": float(a.sum(dtype=np.float64)), "min": float(a.min()), "max": float(a.max()),
            "type": img.GetPixelIDTypeAsString()}


def run_pydicom(folder: Path, repeats: int) -> dict:
    import pydicom

    def read():
        dss = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
        iop = np.array(dss[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        dss.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, dtype=float), normal)))
        vol = np.stack([d.pixel_array for d in dss]).astype(np.float32)
        vol *= float(dss[0].RescaleSlope)
        vol += float(dss[0].RescaleIntercept)
        return vol, [float(v) for v in dss[0].ImagePositionPatient]

    best, med, (vol, origin) = timed(read, repeats)
    return {"best": best, "median": med, "shape": vol.shape, "origin": origin,
            "sum": float(vol.sum(dtype=np.float64)), "min": float(vol.min()), "max": float(vol.max()),
            "type": str(vol.dtype)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rle", action="store_true", help="RLE Lossless files instead of uncompressed")
    args = ap.parse_args()

    name = f"ct512x{args.slices}" + ("_rle" if args.rle else "")
    folder = Path(tempfile.gettempdir()) / "hounsfield-bench" / name
    if len(list(folder.glob("*.dcm"))) != args.slices:
        print(f"writing the series with pydicom into {folder} ...", flush=True)
        build_series(folder, args.slices, args.rle)
    size = sum(p.stat().st_size for p in folder.glob("*.dcm"))
    for p in folder.glob("*.dcm"):  # warm the page cache for every tool alike
        p.read_bytes()
    print(f"series: {args.slices} files of 512x512 int16{' RLE' if args.rle else ''}, {size / 2**20:.0f} MiB; "
          f"{args.threads} threads, best of {args.repeats}", flush=True)

    results = {"hounsfield": run_hounsfield(folder, args.repeats, args.threads)}
    results["SimpleITK ImageSeriesReader"] = run_sitk(folder, args.repeats, args.threads)
    results["pydicom+numpy"] = run_pydicom(folder, args.repeats)

    ours = results["hounsfield"]
    print(f"{'tool':<30}{'best s':>9}{'median s':>10}{'ratio':>8}  agrees  (type)")
    disagree = False
    for name, r in results.items():
        ratio = r["best"] / ours["best"]
        agree = (tuple(r["shape"]) == tuple(ours["shape"])
                 and np.allclose(r["origin"], ours["origin"], atol=1e-6)
                 and r["sum"] == ours["sum"] and r["min"] == ours["min"] and r["max"] == ours["max"])
        disagree |= not agree
        print(f"{name:<30}{r['best']:>9.3f}{r['median']:>10.3f}{ratio:>7.1f}x  {'yes' if agree else 'NO '}    ({r['type']})")
    print(f"hounsfield: {'meets' if ours['best'] <= 1.5 else 'MISSES'} the 1.5 s target")
    if disagree:
        sys.exit("the tools read different volumes")


if __name__ == "__main__":
    main()
