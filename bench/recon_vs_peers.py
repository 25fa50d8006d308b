#!/usr/bin/env python
"""CT reconstruction, side by side with the peers, on the same inputs, in one run.

    ~/.cache/hounsfield/venv/bin/python bench/recon_vs_peers.py [--skip-3d] [--skip-memory]

Builds `crates/recon/examples/recon_bench.rs` in release, then:

1. 2-D parallel beam, scikit-image 0.26: its Shepp-Logan phantom resized to 512², `radon`
   (circle=True) over 360 and 60 views in [0°, 180°). scikit-image `iradon` (ramp) vs our
   FBP (Ram-Lak) on the same sinogram; one `iradon_sart` iteration vs one of our SART
   iterations (relaxation 0.15 for both); our TV vs FBP on 60 views. RMSE inside the
   reconstruction circle against the phantom.
2. 3-D cone beam, RTK (PyPI itk-rtk) CPU FDK vs ours: exact line integrals of the 3-D
   Shepp-Logan (SOD 500 mm, SDD 1000 mm, 256² panel of 2 mm, 360 views over 360°) into a
   256³ volume of 1 mm; RMSE over the central half of the slices against the ellipsoids
   sampled on the grid.
3. Memory: a 512³ FDK from 360 projections of 512² streamed one batch at a time, peak RSS
   from /usr/bin/time -v.

Timings are the best of several runs, both tools on the same 2 cores. Results go to stdout
as JSON and markdown; docs/benchmarks.md records one run.
"""

import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "examples" / "recon_bench"


def best(n, f):
    t, out = float("inf"), None
    for _ in range(n):
        s = time.perf_counter()
        out = f()
        t = min(t, time.perf_counter() - s)
    return t, out


def rmse_circle(a, b):
    n = a.shape[0]
    y, x = np.mgrid[:n, :n] - n // 2
    m = x * x + y * y <= (n // 2) ** 2
    return float(np.sqrt(np.mean((a[m] - b[m]) ** 2)))


def ours(*args):
    out = subprocess.run([str(BIN), *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def bench_2d(d):
    from skimage.data import shepp_logan_phantom
    from skimage.transform import iradon, iradon_sart, radon, resize

    img = resize(shepp_logan_phantom(), (512, 512), anti_aliasing=False)
    img.astype("<f4").tofile(d / "phantom.raw")
    res = {}
    for views in (360, 60):
        theta = np.linspace(0, 180, views, endpoint=False)
        sino = radon(img, theta, circle=True)  # (columns, views)
        # Hounsfield layout: columns x views, x-fastest = NumPy [views][columns].
        np.ascontiguousarray(sino.T).astype("<f4").tofile(d / f"sino{views}.raw")
        t, rec = best(3, lambda: iradon(sino, theta, filter_name="ramp", circle=True))
        res[f"skimage_fbp{views}_s"] = t
        res[f"skimage_fbp{views}_rmse"] = rmse_circle(rec, img)
        if views == 360:
            # iradon_sart modifies its `image=` argument in place: start from None each time.
            t, rec = best(2, lambda: iradon_sart(sino, theta, relaxation=0.15))
            res["skimage_sart_iter_s"] = t
            res["skimage_sart1_rmse"] = rmse_circle(rec, img)
    res.update(ours("fbp2d", d))
    return res


def bench_3d(d, n=256, views=360):
    import itk
    from itk import RTK as rtk

    res = ours("cone", d, n, views)
    proj = np.fromfile(d / "proj.raw", dtype="<f4").reshape(views, n, n)
    P = itk.image_from_array(np.ascontiguousarray(proj))
    P.SetSpacing([2.0, 2.0, 1.0])
    P.SetOrigin([-(n // 2) * 2.0, -(n // 2) * 2.0, 0.0])
    # RTK rotates about its y axis with the source on +z at angle 0. Our frame maps to RTK's
    # as (x, y, z) -> (x, z, -y); our angle theta is RTK's gantry angle -theta.
    geo = rtk.ThreeDCircularProjectionGeometry.New()
    for i in range(views):
        geo.AddProjection(500.0, 1000.0, (-360.0 * i / views) % 360.0, 0.0, 0.0)
    image = itk.Image[itk.F, 3]

    def run():
        src = rtk.ConstantImageSource[image].New()
        src.SetSize([n, n, n])
        src.SetSpacing([1.0] * 3)
        src.SetOrigin([-(n // 2), -(n // 2), float(n // 2)])
        src.SetDirection(itk.matrix_from_array(np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)))
        src.SetConstant(0.0)
        fdk = rtk.FDKConeBeamReconstructionFilter[image].New()
        fdk.SetInput(0, src.GetOutput())
        fdk.SetInput(1, P)
        fdk.SetGeometry(geo)
        fdk.Update()
        return itk.array_from_image(fdk.GetOutput())

    t, out = best(2, run)
    truth = np.fromfile(d / "truth.raw", dtype="<f4").reshape(n, n, n)
    mine = np.fromfile(d / "ours_fdk.raw", dtype="<f4").reshape(n, n, n)
    sl = slice(n // 4, 3 * n // 4)
    # Also inside the field of view (the cylinder every projection covers, radius
    # SOD * sin(atan(half panel / SDD)) = 124 mm), where both tools reconstruct.
    y, x = np.mgrid[:n, :n] - n // 2
    fov = (x * x + y * y) <= (500.0 * np.sin(np.arctan(256.0 / 1000.0))) ** 2
    res["rtk_fdk_s"] = t
    res["rtk_fdk_rmse"] = float(np.sqrt(np.mean((out[sl] - truth[sl]) ** 2)))
    res["fdk_rmse"] = float(np.sqrt(np.mean((mine[sl] - truth[sl]) ** 2)))
    res["rtk_fdk_rmse_fov"] = float(np.sqrt(np.mean((out[sl][:, fov] - truth[sl][:, fov]) ** 2)))
    res["fdk_rmse_fov"] = float(np.sqrt(np.mean((mine[sl][:, fov] - truth[sl][:, fov]) ** 2)))
    res["fdk_vs_rtk_rms_difference_fov"] = float(np.sqrt(np.mean((mine[sl][:, fov] - out[sl][:, fov]) ** 2)))
    return res


def bench_memory(n=512, views=360):
    out = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN), "stream", str(n), str(views)], check=True, capture_output=True, text=True
    )
    res = json.loads(out.stdout)
    for line in out.stderr.splitlines():
        if "Maximum resident set size" in line:
            res["peak_rss_mib"] = int(line.split(":")[1]) / 1024
    res["rss_over_volume_plus_projections"] = res["peak_rss_mib"] / (res["volume_mib"] + res["projections_mib"])
    return res


def main():
    subprocess.run(
        ["cargo", "build", "--release", "-p", "hounsfield-recon", "--example", "recon_bench", "-j2"], cwd=ROOT, check=True
    )
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        res["2d"] = bench_2d(d)
        if "--skip-3d" not in sys.argv:
            res["3d"] = bench_3d(d)
    if "--skip-memory" not in sys.argv:
        res["memory"] = bench_memory()
    print(json.dumps(res, indent=2))
    r = res["2d"]
    print("\n| task | peer | peer | ours | ratio |")
    print("|---|---|---|---|---|")
    print(f"| FBP 512², 360 views: time | iradon | {r['skimage_fbp360_s']:.3f} s | {r['fbp360_s']:.4f} s | {r['skimage_fbp360_s'] / r['fbp360_s']:.1f}× faster |")
    print(f"| FBP 512², 360 views: RMSE | iradon | {r['skimage_fbp360_rmse']:.5f} | {r['fbp360_rmse']:.5f} | {r['fbp360_rmse'] / r['skimage_fbp360_rmse']:.3f} |")
    print(f"| SART, one iteration (with set-up): time | iradon_sart | {r['skimage_sart_iter_s']:.2f} s | {r['sart_iter_s']:.3f} s | {r['skimage_sart_iter_s'] / r['sart_iter_s']:.1f}× faster |")
    print(f"| SART, each further iteration: time | iradon_sart | {r['skimage_sart_iter_s']:.2f} s | {r['sart_next_iter_s']:.3f} s | {r['skimage_sart_iter_s'] / r['sart_next_iter_s']:.1f}× faster |")
    print(f"| 60 views: TV vs FBP RMSE | (FBP) | {r['fbp60_rmse']:.4f} | {r['tv60_rmse']:.4f} | {r['tv60_rmse'] / r['fbp60_rmse']:.2f}× |")
    if "3d" in res:
        c = res["3d"]
        print(f"| FDK 256³, 360 × 256²: time | RTK | {c['rtk_fdk_s']:.2f} s | {c['fdk_s']:.2f} s | {c['rtk_fdk_s'] / c['fdk_s']:.2f}× faster |")
        print(f"| FDK 256³: RMSE, central slab | RTK | {c['rtk_fdk_rmse']:.5f} | {c['fdk_rmse']:.5f} | {c['fdk_rmse'] / c['rtk_fdk_rmse']:.3f} |")
        print(f"| FDK 256³: RMSE, central slab in the FOV | RTK | {c['rtk_fdk_rmse_fov']:.5f} | {c['fdk_rmse_fov']:.5f} | {c['fdk_rmse_fov'] / c['rtk_fdk_rmse_fov']:.3f} |")
    if "memory" in res:
        m = res["memory"]
        print(f"| FDK 512³ streamed: peak RSS | — | {m['volume_mib'] + m['projections_mib']:.0f} MiB vol+proj | {m['peak_rss_mib']:.0f} MiB | {m['rss_over_volume_plus_projections']:.2f}× |")


if __name__ == "__main__":
    main()
