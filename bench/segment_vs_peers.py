#!/usr/bin/env python3
"""MR brain tissue classification: Hounsfield's `segment::brain::brain_tissue` (Gaussian
mixture + Potts MRF) against ANTs Atropos (antspyx; k-means initialisation, MRF) on the same
T1 head phantom and the same intracranial mask, side by side.

    source ~/.cache/hounsfield/env.sh
    $HOUNSFIELD_PYTHON bench/segment_vs_peers.py [--size 128]

(antspyx comes from `scripts/setup.sh --bench`). Prints Dice per tissue against the
phantom's labels and the times.
"""
import argparse, os, subprocess, tempfile, time
import numpy as np
import SimpleITK as sitk

ap = argparse.ArgumentParser()
ap.add_argument("--size", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--noise", type=float, default=0.03, help="Rician noise, fraction of the brightest tissue (BrainWeb's 3%% level)")
args = ap.parse_args()
os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
import ants

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp()
subprocess.run(["cargo", "build", "-q", "--release", "-p", "hounsfield-segment", "--example", "brain_bench"], cwd=root, check=True)
hf = os.path.join(root, "target", "release", "hounsfield")
if not os.path.exists(hf):
    hf = os.path.join(root, "target", "debug", "hounsfield")
t1, truth = os.path.join(work, "t1.nii.gz"), os.path.join(work, "truth.nii.gz")
subprocess.run([hf, "-q", "phantom", "head", "--size", str(args.size), "--seed", "3", "--noise", str(args.noise), "--supersample", "2", "-o", t1, "--labels", truth], check=True)

img = sitk.ReadImage(t1)
# ×1000: Atropos refuses classes whose variance is below 1e-6 (its determinant check is
# absolute) and the phantom's T1 signal is 0…0.5; the scale changes neither classification.
a = sitk.GetArrayFromImage(img).astype(np.float32) * 1000  # (z, y, x)
lab = sitk.GetArrayFromImage(sitk.ReadImage(truth))
mask = np.isin(lab, [22, 23, 24, 25]).astype(np.uint8)
sp = img.GetSpacing()                                       # (x, y, z)
pi, pm, po = (os.path.join(work, n) for n in ("img.f32", "mask.u8", "out.u16"))
a.tofile(pi); mask.tofile(pm)
exe = os.path.join(root, "target", "release", "examples", "brain_bench")
env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
nz, ny, nx = a.shape
ours_t = float(subprocess.run([exe, pi, pm, f"{nx},{ny},{nz}", ",".join(map(str, sp)), po],
                              capture_output=True, text=True, check=True, env=env).stdout)
ours = np.fromfile(po, dtype="<u2").reshape(a.shape)

ai = ants.from_numpy(a.transpose(2, 1, 0).copy(), spacing=sp)
am = ants.from_numpy(mask.transpose(2, 1, 0).astype(np.float32).copy(), spacing=sp)
t = time.perf_counter()
seg = ants.atropos(a=ai, x=am, i="kmeans[3]", m="[0.3,1x1x1]", c="[15,0]", priorweight=0.0)
ants_t = time.perf_counter() - t
theirs = seg["segmentation"].numpy().transpose(2, 1, 0).astype(np.uint16)

def dice(x, y):
    return 2 * np.logical_and(x, y).sum() / (x.sum() + y.sum())

print(f"T1 head phantom {args.size}^3, noise {args.noise:.0%}, spacing {sp[0]:.2f} mm, {int(mask.sum())} voxels in the mask")
print(f"{'tissue':>14} {'Hounsfield':>11} {'Atropos':>9}")
for name, ours_l, truth_l in (("CSF", 1, [22, 25]), ("grey matter", 2, [23]), ("white matter", 3, [24])):
    ref = np.isin(lab, truth_l)
    print(f"{name:>14} {dice(ours == ours_l, ref):>11.3f} {dice(theirs == ours_l, ref):>9.3f}")
print(f"time: Hounsfield {ours_t:.2f} s, Atropos {ants_t:.2f} s, ratio {ants_t / ours_t:.1f}x")
