"""onnxruntime peer for bench/nn_unet.sh: times the benchmark U-Net (unet_bench.onnx) on
1x1x128^3 and a 192^3 sliding window (96^3 windows, overlap 0.5, Gaussian weighting) with
a fixed number of intra-op threads.

    python nn_unet_ort.py unet_bench.onnx THREADS
"""
import resource
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = np.full((1, 1, 128, 128, 128), 0.5, dtype=np.float32)
    sess.run(None, {"input": x})
    t = []
    for _ in range(3):
        s = time.perf_counter()
        sess.run(None, {"input": x})
        t.append(time.perf_counter() - s)
    t.sort()
    print(f"onnxruntime 3-D U-Net forward 1x1x128^3: median {t[1]:.3f} s (min {t[0]:.3f}, 3 runs)")
    # Sliding window, same placement and weighting as hounsfield's inferer.
    n, w = 192, 96
    starts = [0, 48, 96]
    ax = np.exp(-((np.arange(w) - (w - 1) / 2) ** 2) / (2 * (w / 8) ** 2))
    g = (ax[:, None, None] * ax[None, :, None] * ax[None, None, :]).astype(np.float32)
    vol = (np.arange(n ** 3) * 7919 % 1000).astype(np.float32).reshape(n, n, n) / 1000
    s = time.perf_counter()
    acc = np.zeros((2, n, n, n), np.float32)
    wsum = np.zeros((n, n, n), np.float32)
    for z in starts:
        for y in starts:
            for xx in starts:
                o = sess.run(None, {"input": vol[None, None, z:z + w, y:y + w, xx:xx + w]})[0][0]
                e = np.exp(o - o.max(0))
                p = e / e.sum(0)
                acc[:, z:z + w, y:y + w, xx:xx + w] += p * g
                wsum[z:z + w, y:y + w, xx:xx + w] += g
    labels = acc.argmax(0)
    el = time.perf_counter() - s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"onnxruntime sliding window 1x1x192^3, 96^3 windows (27, numpy accumulation): {el:.2f} s, peak RSS {peak:.0f} MiB")
    del labels


if __name__ == "__main__":
    main()
