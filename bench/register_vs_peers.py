#!/usr/bin/env python3
"""Registration side by side: Hounsfield vs SimpleITK, elastix and ANTs on the same inputs.

    source ~/.cache/hounsfield/env.sh
    cargo build --release -p hounsfield -p hounsfield-register --example phantom_pair
    $HOUNSFIELD_PYTHON bench/register_vs_peers.py [--work /tmp/regbench] [--skip-large]

Inputs: head phantom pairs with a known random smooth deformation (8 mm), written by
`cargo run --release -p hounsfield-register --example phantom_pair` (fixed T1, moving T1 and
CT contrast, label maps, ~500 landmark pairs): a 64³ pair (3.4 mm voxels) and a
160×192×224 pair (1.1 mm voxels; the issue's timing target).

Every tool runs as its own process (wall time and peak RSS by /usr/bin/time) and leaves a
displacement field on the fixed grid (fixed → moving, ITK convention); every field is then
scored the same way here with SimpleITK: TRE on the landmarks, mean Dice of the warped moving
labels against the fixed labels, % folding (Jacobian determinant ≤ 0).

Peers: SimpleITK Mattes-MI affine (ITK v4 framework, regular-step GD, 3 levels, 10 %
sampling), elastix (Debian /usr/bin/elastix, 2 threads) rigid then B-spline with its default
parameter maps (from itk-elastix's GetDefaultParameterMap), ANTs SyN (antspyx, default
`type_of_transform='SyN'`: affine then SyN by MI/CC).
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
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parent.parent
HF = ROOT / "target/release/hounsfield"
PAIR = ROOT / "target/release/examples/phantom_pair"
PY = sys.executable


def timed(cmd, log):
    """Runs cmd under /usr/bin/time; returns (wall s, peak RSS MiB)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M"] + [str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    text = Path(log).read_text()
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}); see {log}:\n{text[-2000:]}")
    rss = [int(l.split()[1]) for l in text.splitlines() if l.startswith("MAXRSS")]
    return wall, (rss[-1] / 1024.0 if rss else float("nan"))


def landmarks(p):
    return np.loadtxt(p, delimiter=",", skiprows=1)


def score(pair, field_path):
    fixed_labels = sitk.ReadImage(str(pair / "fixed_labels.nii.gz"))
    moving_labels = sitk.ReadImage(str(pair / "moving_labels.nii.gz"))
    fa, ma = landmarks(pair / "fixed_landmarks.csv"), landmarks(pair / "moving_landmarks.csv")
    if field_path is None:
        t = sitk.Transform(3, sitk.sitkIdentity)
        jac = None
    else:
        f = sitk.ReadImage(str(field_path), sitk.sitkVectorFloat64)
        jac = sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(f))
        t = sitk.DisplacementFieldTransform(f)
    mapped = np.array([t.TransformPoint(tuple(map(float, p))) for p in fa])
    tre = np.linalg.norm(mapped - ma, axis=1)
    w = sitk.Resample(moving_labels, fixed_labels, t, sitk.sitkNearestNeighbor, 0, moving_labels.GetPixelID())
    a, b = sitk.GetArrayFromImage(fixed_labels), sitk.GetArrayFromImage(w)
    dice = []
    for l in np.unique(a):
        if l == 0:
            continue
        x, y = a == l, b == l
        dice.append(2.0 * (x & y).sum() / max(x.sum() + y.sum(), 1))
    fold = 100.0 * float((jac <= 0).mean()) if jac is not None else 0.0
    return {"tre_mean": float(tre.mean()), "tre_max": float(tre.max()), "dice": float(np.mean(dice)), "folding_pct": fold}


SITK_AFFINE = r"""
import sys, time, SimpleITK as sitk
fixed, moving, out = sys.argv[1:4]
f = sitk.ReadImage(fixed, sitk.sitkFloat32); m = sitk.ReadImage(moving, sitk.sitkFloat32)
t0 = time.perf_counter()
init = sitk.CenteredTransformInitializer(f, m, sitk.AffineTransform(3), sitk.CenteredTransformInitializerFilter.GEOMETRY)
r = sitk.ImageRegistrationMethod()
r.SetMetricAsMattesMutualInformation(50)
r.SetMetricSamplingStrategy(r.RANDOM); r.SetMetricSamplingPercentage(0.1, 1)
r.SetInterpolator(sitk.sitkLinear)
r.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 200, relaxationFactor=0.5)
r.SetOptimizerScalesFromPhysicalShift()
r.SetShrinkFactorsPerLevel([4, 2, 1]); r.SetSmoothingSigmasPerLevel([2, 1, 0])
r.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
r.SetInitialTransform(init, inPlace=False)
t = r.Execute(f, m)
print("REG_SECONDS", time.perf_counter() - t0)
df = sitk.TransformToDisplacementField(t, sitk.sitkVectorFloat64, f.GetSize(), f.GetOrigin(), f.GetSpacing(), f.GetDirection())
sitk.WriteImage(df, out)
"""

ANTS_SYN = r"""
import sys, time, ants
fixed, moving, out, tmp = sys.argv[1:5]
f = ants.image_read(fixed); m = ants.image_read(moving)
t0 = time.perf_counter()
r = ants.registration(f, m, type_of_transform="SyN", outprefix=tmp + "/ants_")
print("REG_SECONDS", time.perf_counter() - t0)
comp = ants.apply_transforms(f, m, r["fwdtransforms"], compose=tmp + "/comp_")
import SimpleITK as sitk
sitk.WriteImage(sitk.ReadImage(comp, sitk.sitkVectorFloat64), out)
"""

ELASTIX_MAPS = r"""
import sys, itk
po = itk.ParameterObject.New()
for name in ("rigid", "bspline"):
    m = po.GetDefaultParameterMap(name)
    m["ResultImagePixelType"] = ("float",)
    def fmt(v):
        try:
            float(v)
            return v
        except ValueError:
            return '"' + v + '"'
    with open(sys.argv[1] + "/" + name + ".txt", "w") as f:
        for k, vals in m.items():
            f.write("(" + k + " " + " ".join(fmt(v) for v in vals) + ")\n")
"""


def reg_seconds(log):
    for l in Path(log).read_text().splitlines():
        if l.startswith("REG_SECONDS"):
            return float(l.split()[1])
    return float("nan")


def run_tools(pair, work, tools, moving="moving.nii.gz"):
    rows = []
    fixed, mov = pair / "fixed.nii.gz", pair / moving
    work.mkdir(parents=True, exist_ok=True)
    base = score(pair, None)
    rows.append(dict(tool="(before)", method="identity", wall=0.0, reg=0.0, rss=float("nan"), **base))
    for tool in tools:
        field = work / f"{tool}.nii.gz"
        log = work / f"{tool}.log"
        if tool.startswith("hounsfield-"):
            kind = tool.split("-", 1)[1]
            wall, rss = timed([HF, "register", "--fixed", fixed, "--moving", mov, "--transform", kind,
                               "-o", work / f"{tool}_warped.nii.gz", "--out-field", field, "--json", "-q"], log)
            text = Path(log).read_text()
            js = json.loads(text[text.index("{"):text.rindex("}") + 1])
            reg, method = js["seconds"], {"affine": "rigid+affine (MI)", "bspline": "rigid+affine+B-spline (MI)",
                                          "syn": "rigid+affine (MI) + SyN (LNCC)"}[kind]
        elif tool == "simpleitk-affine":
            wall, rss = timed([PY, "-c", SITK_AFFINE, fixed, mov, field], log)
            reg, method = reg_seconds(log), "affine (Mattes MI)"
        elif tool == "elastix-bspline":
            ed = work / "elastix"
            ed.mkdir(exist_ok=True)
            subprocess.run([PY, "-c", ELASTIX_MAPS, ed], check=True)
            wall, rss = timed(["elastix", "-f", fixed, "-m", mov, "-p", ed / "rigid.txt", "-p", ed / "bspline.txt",
                               "-out", ed, "-threads", "2"], log)
            reg, method = wall, "rigid+B-spline (default maps)"
            subprocess.run(["transformix", "-def", "all", "-tp", ed / "TransformParameters.1.txt", "-out", ed,
                            "-threads", "2"], check=True, stdout=subprocess.DEVNULL)
            df = next(p for p in ed.iterdir() if p.name.startswith("deformationField"))
            sitk.WriteImage(sitk.ReadImage(str(df), sitk.sitkVectorFloat64), str(field))
        elif tool == "ants-syn":
            tmp = work / "ants"
            tmp.mkdir(exist_ok=True)
            wall, rss = timed([PY, "-c", ANTS_SYN, fixed, mov, field, tmp], log)
            reg, method = reg_seconds(log), "affine + SyN (default)"
        else:
            raise ValueError(tool)
        q = score(pair, field)
        rows.append(dict(tool=tool, method=method, wall=wall, reg=reg, rss=rss, **q))
        print(f"  {tool:22s} wall {wall:7.2f} s  reg {reg:7.2f} s  RSS {rss:7.0f} MiB  TRE {q['tre_mean']:.3f} mm "
              f"(max {q['tre_max']:.2f})  Dice {q['dice']:.4f}  folding {q['folding_pct']:.4f} %", flush=True)
    return rows


def table(title, rows, ref=None):
    out = [f"\n**{title}**\n", "| tool | method | wall s | registration s | peak RSS MiB | TRE mean mm | TRE max mm | mean Dice | folding % |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['tool']} | {r['method']} | {r['wall']:.2f} | {r['reg']:.2f} | {r['rss']:.0f} | {r['tre_mean']:.3f} | "
                   f"{r['tre_max']:.2f} | {r['dice']:.4f} | {r['folding_pct']:.4f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "regbench"))
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--skip-small", action="store_true", help="only the 160x192x224 pair")
    a = ap.parse_args()
    work = Path(a.work)
    pairs = [] if a.skip_small else [("head64", "64,64,64", None)]
    if not a.skip_large:
        pairs.append(("head160x192x224", "160,192,224", "1.1"))
    md = []
    for name, dims, spacing in pairs:
        pair = work / name / "pair"
        if not (pair / "moving_landmarks.csv").exists():
            args = [PAIR, pair, dims] + ([spacing] if spacing else [])
            t0 = time.perf_counter()
            subprocess.run([str(x) for x in args], check=True)
            print(f"{name}: pair written in {time.perf_counter() - t0:.1f} s")
        large = name != "head64"
        tools = ["hounsfield-affine", "simpleitk-affine", "hounsfield-bspline", "elastix-bspline", "hounsfield-syn"]
        if not large:
            tools.append("ants-syn")
        print(f"{name} (T1 → deformed T1):", flush=True)
        rows = run_tools(pair, work / name / "t1", tools)
        md.append(table(f"{name}: T1 → deformed T1", rows))
        def find(t):
            return next(r for r in rows if r["tool"] == t)
        e, h = find("elastix-bspline"), find("hounsfield-bspline")
        ratio = f"hounsfield affine+B-spline / elastix rigid+B-spline wall time: {h['wall'] / e['wall']:.2f}"
        s, ha = find("simpleitk-affine"), find("hounsfield-affine")
        ratio += f"; hounsfield affine / SimpleITK affine: {ha['wall'] / s['wall']:.2f}"
        if not large:
            an, hs = find("ants-syn"), find("hounsfield-syn")
            ratio += f"; hounsfield SyN / ANTs SyN: {hs['wall'] / an['wall']:.2f}"
        print("  " + ratio)
        md.append("\n" + ratio + "\n")
        if not large:
            print(f"{name} (T1 → deformed CT contrast, mutual information):", flush=True)
            rows = run_tools(pair, work / name / "ct", ["hounsfield-affine", "simpleitk-affine", "hounsfield-bspline",
                                                        "elastix-bspline"], moving="moving_ct.nii.gz")
            md.append(table(f"{name}: T1 → deformed CT contrast (MI)", rows))
    (work / "results.md").write_text("\n".join(md) + "\n")
    print(f"\nmarkdown tables in {work / 'results.md'}")


if __name__ == "__main__":
    main()
