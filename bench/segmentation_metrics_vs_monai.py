#!/usr/bin/env python3
"""Segmentation metrics: Hounsfield's `metrics::segmentation::evaluate` against MONAI's
DiceMetric, HausdorffDistanceMetric(percentile=95), SurfaceDistanceMetric(symmetric=True) and
SurfaceDiceMetric on the same 256³ label maps with anisotropic spacing, side by side.

    source ~/.cache/hounsfield/env.sh
    ~/.cache/hounsfield/torch-venv/bin/python bench/segmentation_metrics_vs_monai.py

(the torch venv comes from `scripts/setup.sh --bench`). Prints the values of both, their
largest relative difference, and the times (best of --repeats) with the ratio.
"""
import argparse, json, os, subprocess, sys, tempfile, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--size", type=int, default=256)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()

import torch
torch.set_num_threads(args.threads)
from monai.metrics import DiceMetric, HausdorffDistanceMetric, SurfaceDistanceMetric, SurfaceDiceMetric

n = args.size
spacing = (0.8, 0.8, 1.5)  # x, y, z in mm
tol = 1.5
z, y, x = np.meshgrid(*(np.arange(n) * s for s in (spacing[2], spacing[1], spacing[0])), indexing="ij")
c = n * 0.8 / 2

def scene(wobble, shift):
    bump = wobble * (np.sin(x * 0.11) + np.cos(y * 0.07) + np.sin(z * 0.05))
    lab = np.zeros((n, n, n), np.uint16)
    e = lambda cx, cy, cz, rx, ry, rz: ((x - cx - shift) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2
    lab[e(c * 0.7, c, c * 1.4, c * 0.45, c * 0.35, c * 0.5) + bump < 1] = 1
    lab[e(c * 1.35, c * 1.1, c * 1.7, c * 0.3, c * 0.4, c * 0.35) - bump < 1] = 2
    lab[e(c * 1.2, c * 0.6, c * 1.1, c * 0.12, c * 0.1, c * 0.15) < 1] = 3
    return lab

pred, ref = scene(0.12, 1.6), scene(0.0, 0.0)
labels = [1, 2, 3]
work = tempfile.mkdtemp()
pp, pr = os.path.join(work, "pred.raw"), os.path.join(work, "ref.raw")
pred.astype("<u2").tofile(pp)  # (z, y, x) C order = x-fastest
ref.astype("<u2").tofile(pr)

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "-q", "--release", "-p", "hounsfield-metrics", "--example", "seg_metrics_bench"], cwd=root, check=True)
exe = os.path.join(root, "target", "release", "examples", "seg_metrics_bench")
env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
out = subprocess.run([exe, pp, pr, f"{n},{n},{n}", ",".join(map(str, spacing)), str(args.repeats), str(tol)],
                     capture_output=True, text=True, check=True, env=env)
ours = json.loads(out.stdout)

# MONAI: one-hot [B, C, D0, D1, D2] with the spacing of those axes (z, y, x).
def onehot(l):
    return torch.from_numpy(np.stack([(l == k) for k in [0] + labels])[None].astype(np.float32))
yp, yr = onehot(pred), onehot(ref)
sp = [spacing[2], spacing[1], spacing[0]]
metrics = {
    "dice": lambda: DiceMetric(include_background=False)(yp, yr),
    "hd95": lambda: HausdorffDistanceMetric(include_background=False, percentile=95)(yp, yr, spacing=sp),
    "hd": lambda: HausdorffDistanceMetric(include_background=False)(yp, yr, spacing=sp),
    "assd": lambda: SurfaceDistanceMetric(include_background=False, symmetric=True)(yp, yr, spacing=sp),
    "nsd": lambda: SurfaceDiceMetric(class_thresholds=[tol] * len(labels), include_background=False)(yp, yr, spacing=sp),
}
theirs, times = {}, {}
for name, f in metrics.items():
    best = float("inf")
    for _ in range(args.repeats):
        t = time.perf_counter()
        v = f()
        best = min(best, time.perf_counter() - t)
    theirs[name] = v[0].tolist()
    times[name] = best

worst = 0.0
print(f"{'label':>5} {'metric':>6} {'MONAI':>14} {'Hounsfield':>14} {'rel diff':>9}")
for i, l in enumerate(labels):
    m = ours["report"]["labels"][str(l)]
    for name in metrics:
        a, b = theirs[name][i], m[name]
        d = abs(a - b) / max(abs(a), 1e-12)
        worst = max(worst, d)
        print(f"{l:>5} {name:>6} {a:>14.8f} {b:>14.8f} {d:>9.1e}")
total = sum(times.values())
core = times["dice"] + times["hd95"] + times["assd"]
print(f"largest relative difference {worst:.2e}")
print(f"MONAI times (s): " + ", ".join(f"{k} {v:.3f}" for k, v in times.items()))
print(f"MONAI Dice+HD95+ASSD {core:.3f} s, all five {total:.3f} s; Hounsfield all metrics at once {ours['seconds']:.3f} s")
print(f"ratio (Dice+HD95+ASSD): {core / ours['seconds']:.1f}x; (all five): {total / ours['seconds']:.1f}x")
