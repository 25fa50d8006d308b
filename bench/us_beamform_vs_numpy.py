#!/usr/bin/env python3
"""Ultrasound delay-and-sum beamforming: `hounsfield recon us` against a vectorized NumPy
reference written here from the same documented algorithm (crates/recon/src/us/beamform.rs),
on the same channel data: 128 elements × 75 plane waves (±16°) × 2048 samples from
`hounsfield simulate us` (cyst phantom), to a 512 × 512 image over x ∈ [−19, 19] mm,
z ∈ [5, 50] mm, Hann apodization, f-number 1.5.

    source ~/.cache/hounsfield/env.sh
    $HOUNSFIELD_PYTHON bench/us_beamform_vs_numpy.py [--angles 75] [--pixels 512] [--threads 2]

The NumPy reference: analytic signal by FFT (as scipy.signal.hilbert), baseband IQ,
per transmission the delays of every pixel × element (receive delays computed once), linear
interpolation by fancy indexing, phase rotation, apodization over the dynamic aperture, a sum
over elements and transmissions; processed in row blocks so its arrays stay under ~1 GB.
NumPy's own BLAS threads are not used by these element-wise operations (it is effectively
single-threaded); ours runs on --threads rayon threads. Both are timed on the beamforming
alone (channel data already in memory: ours from `recon us --json`, which excludes reading
and writing). Prints the envelope difference relative to the peak (target < 1e-4) and the
speed ratio (target ≥ 5×).
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import tomllib

import nibabel as nib
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def numpy_das(rf, probe, x, z, f_number=1.5, block=32):
    """rf: (transmissions, elements, samples) float32. Returns the complex image (nz, nx)."""
    nt, ne, ns = rf.shape
    c = probe["speed_of_sound_m_s"] * 1e-3            # mm/us
    fs = probe["sampling_frequency_hz"] * 1e-6        # MHz
    fc = probe["centre_frequency_hz"] * 1e-6
    acq = probe["acquisition"]
    t0 = acq.get("start_time_s", 0.0) * 1e6
    angles = np.deg2rad(np.asarray(acq["angles_deg"], dtype=np.float64))
    ex = (np.arange(ne) - (ne - 1) / 2.0) * probe["pitch_mm"]
    # IQ: analytic signal (negative frequencies zeroed, positive doubled), then baseband.
    spec = np.fft.fft(rf.astype(np.float64), axis=-1)
    h = np.zeros(ns)
    h[0] = 1.0
    if ns % 2 == 0:
        h[ns // 2] = 1.0
        h[1:ns // 2] = 2.0
    else:
        h[1:(ns + 1) // 2] = 2.0
    analytic = np.fft.ifft(spec * h, axis=-1)
    t = t0 + np.arange(ns) / fs
    iq = (analytic * np.exp(-2j * np.pi * fc * t)).astype(np.complex64)
    iq_flat = iq.reshape(nt, ne * ns)
    # A zero sample past the end so out-of-range indices read 0.
    iq_pad = np.concatenate([iq_flat, np.zeros((nt, 1), np.complex64)], axis=1)
    out = np.zeros((len(z), len(x)), np.complex64)
    X = x[None, :, None]
    E = ex[None, None, :]
    for j0 in range(0, len(z), block):
        zz = z[j0:j0 + block][:, None, None]
        half = zz / (2.0 * f_number)
        dx = X - E
        inside = np.abs(dx) <= half                                    # (b, nx, ne)
        w = np.where(inside, 0.5 * (1.0 + np.cos(2.0 * np.pi * (-dx) / (2.0 * half))), 0.0)
        r = np.sqrt(dx * dx + zz * zz) / c
        rx_s = r * fs
        wrot = (w * np.exp(2j * np.pi * fc * r)).astype(np.complex64)
        acc = np.zeros((zz.shape[0], len(x)), np.complex64)
        elem_off = (np.arange(ne) * ns)[None, None, :]
        for ti, th in enumerate(angles):
            tau_tx = (X * np.sin(th) + zz * np.cos(th)) / c             # (b, nx, 1)
            s = (tau_tx - t0) * fs + rx_s
            k = np.floor(s).astype(np.int64)
            f = (s - k).astype(np.float32)
            valid = inside & (s >= 0.0) & (k + 1 < ns)
            idx = np.where(valid, elem_off + k, ne * ns)
            a = iq_pad[ti][idx]
            b = iq_pad[ti][np.where(valid, idx + 1, ne * ns)]
            v = a + f * (b - a)
            ssum = np.sum(v * wrot, axis=-1)
            acc += ssum * np.exp(2j * np.pi * fc * tau_tx[..., 0]).astype(np.complex64)
        out[j0:j0 + block] = acc
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--angles", type=int, default=75)
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--pixels", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    d = a.workdir or tempfile.mkdtemp(prefix="us_bench_")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "hounsfield"], cwd=ROOT, check=True)
    hf = os.path.join(ROOT, "target", "release", "hounsfield")
    rf_path = os.path.join(d, "rf.nii.gz")
    subprocess.run([hf, "-q", "simulate", "us", "--phantom", "cysts", "--angles", str(a.angles), "--samples",
                    str(a.samples), "--density", "20", "--seed", "1", "-o", rf_path], check=True)
    probe = tomllib.load(open(os.path.join(d, "rf.probe.toml"), "rb"))
    out = os.path.join(d, "env.nii.gz")
    args = [hf, "-q", "recon", "us", "--rf", rf_path, "--pixels", f"{a.pixels},{a.pixels}", "--x-mm", "-19,19",
            "--z-mm", "5,50", "--envelope", "--json", "-o", out]
    runs = [json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)["seconds"] for _ in range(3)]
    ours = min(runs)
    env_ours = np.asarray(nib.load(out).dataobj, dtype=np.float64)[:, :, 0].T      # (nz, nx)

    vol = np.asarray(nib.load(rf_path).dataobj, dtype=np.float32)                   # (ns, ne, nt)
    rf = np.ascontiguousarray(np.transpose(vol, (2, 1, 0)))                          # (nt, ne, ns)
    x = np.linspace(-19.0, 19.0, a.pixels)
    z = np.linspace(5.0, 50.0, a.pixels)
    t = time.perf_counter()
    img = numpy_das(rf, probe, x, z)
    theirs = time.perf_counter() - t
    env_np = np.abs(img).astype(np.float64)
    diff = np.max(np.abs(env_ours - env_np)) / np.max(env_np)
    print(f"channel data: {rf.shape[1]} elements x {rf.shape[0]} transmissions x {rf.shape[2]} samples -> {a.pixels}x{a.pixels}")
    print(f"hounsfield recon us ({a.threads} threads): {ours:.3f} s (runs {', '.join(f'{r:.3f}' for r in runs)})")
    print(f"numpy reference: {theirs:.3f} s")
    print(f"max |envelope difference| / peak: {diff:.2e} (target < 1e-4)")
    print(f"speed ratio: {theirs / ours:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
