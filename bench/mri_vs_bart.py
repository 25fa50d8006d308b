#!/usr/bin/env python3
"""MRI reconstruction side by side with BART (Debian `bart`), on the same k-space, mask and
coil maps, all made by BART itself:

    bart phantom -k -s 8 -x 256 ksp                 # 8-coil analytic Shepp-Logan k-space
    bart poisson -Y 256 -Z 256 -y 2 -z 2 -C 24 -s 7 # Poisson-disc mask, 24x24 calibration
    bart transpose 0 2 ; bart fmac ksp mask uksp    # undersampled k-space
    bart ecalib -m 1 uksp sens                      # ESPIRiT maps (used by both tools)
    bart pics -S [-l1 -r L | -R T:3:0:L] uksp sens  # CG-SENSE, l1-wavelet, TV

then runs `crates/recon/examples/mri_vs_bart.rs` (release) on the same files. Every timing is
the best of REPEATS runs with 2 threads for both tools (OMP_NUM_THREADS / RAYON_NUM_THREADS);
BART's times are whole-process wall times (its file reading is ~10 ms of them), ours are the
library calls. PSNR: magnitudes against Σ conj(S)·IFFT(ksp) over the whole image, peak = the
reference's maximum.

    python3 bench/mri_vs_bart.py [--repeats 3] [--lambda 0.01] [--workdir DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bart(*args, cwd):
    subprocess.run(["bart", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(repeats, *args, cwd):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        bart(*args, cwd=cwd)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.01)
    ap.add_argument("--workdir")
    ap.add_argument("--poisson", default="-y 2 -z 2 -C 24 -s 7")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = "2"
    os.environ["RAYON_NUM_THREADS"] = "2"
    os.environ["MRI_LAMBDA"] = str(a.lam)
    d = a.workdir or tempfile.mkdtemp(prefix="mri_vs_bart_")
    os.makedirs(d, exist_ok=True)
    bart("phantom", "-k", "-s", "8", "-x", "256", "ksp", cwd=d)
    bart("poisson", "-Y", "256", "-Z", "256", *a.poisson.split(), "pmask", cwd=d)
    bart("transpose", "0", "2", "pmask", "mask", cwd=d)
    bart("fmac", "ksp", "mask", "uksp", cwd=d)
    lam = str(a.lam)
    t = {
        "bart_ecalib_s": timed(a.repeats, "ecalib", "-m", "1", "uksp", "sens", cwd=d),
        "bart_sense_s": timed(a.repeats, "pics", "-S", "-i", "30", "uksp", "sens", "bart_sense", cwd=d),
        "bart_l1_s": timed(a.repeats, "pics", "-S", "-l1", "-r", lam, "uksp", "sens", "bart_l1", cwd=d),
        "bart_tv_s": timed(a.repeats, "pics", "-S", "-R", f"T:3:0:{lam}", "uksp", "sens", "bart_tv", cwd=d),
    }
    subprocess.run(["cargo", "build", "--release", "-q", "-j2", "-p", "hounsfield-recon", "--example", "mri_vs_bart"],
                   cwd=ROOT, check=True)
    out = subprocess.run([os.path.join(ROOT, "target/release/examples/mri_vs_bart"), d, str(a.repeats)],
                         check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)
    ours.update(t)
    print(json.dumps(ours, indent=1))
    rows = [
        ("ESPIRiT maps (ecalib -m 1)", ours["espirit_s"], t["bart_ecalib_s"],
         f"NRMSE vs BART {100 * ours['espirit_nrmse_vs_bart']:.2f} % over {ours['espirit_support_px']} px", ""),
        ("CG-SENSE, 30 it.", ours["sense_s"], t["bart_sense_s"], f"{ours['sense_psnr']:.2f}", f"{ours['bart_sense_psnr']:.2f}"),
        (f"CS l1-wavelet, λ={lam}, 30 it.", ours["l1_s"], t["bart_l1_s"], f"{ours['l1_psnr']:.2f}", f"{ours['bart_l1_psnr']:.2f}"),
        (f"CS TV, λ={lam}, 30 ADMM it.", ours["tv_s"], t["bart_tv_s"], f"{ours['tv_psnr']:.2f}", f"{ours['bart_tv_psnr']:.2f}"),
    ]
    print(f"\n256² × 8 coils, R = {ours['acceleration']:.2f}, zero-filled PSNR {ours['zero_filled_psnr']:.2f} dB; "
          f"SENSE with our own ESPIRiT maps: {ours['sense_own_maps_psnr']:.2f} dB\n")
    print("| task | ours (s) | BART (s) | BART / ours | PSNR ours (dB) | PSNR BART (dB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, o, b, po, pb in rows:
        print(f"| {name} | {o:.3f} | {b:.3f} | {b / o:.1f}× | {po} | {pb} |")
    print(f"\nfiles in {d}", file=sys.stderr)


if __name__ == "__main__":
    main()
