#!/usr/bin/env python3
"""PyTorch and MONAI side of the nn benchmarks (bench/nn_unet.sh runs Hounsfield's side in the
same run). The network is the one `hounsfield_nn::models::UNetConfig::new(dims, 1, 2,
[16, 32, 64, 128])` builds: per level a stride-1 (first level) or stride-2 3×3(×3) convolution
and a second one, each followed by instance norm (affine) and leaky ReLU 0.01; decoder levels
up-sample by a 2×2(×2) stride-2 transposed convolution, concatenate the skip and apply the
same two convolutions; a 1×1 head gives 2 logits.

    python nn_vs_torch.py forward  THREADS     # 1×1×128³ forward, no grad
    python nn_vs_torch.py window   THREADS     # MONAI sliding_window_inference 192³, 96³ windows
    python nn_vs_torch.py train    THREADS     # 2-D U-Net, 8×1×128², Dice+CE, AdamW step

Needs torch and monai (`scripts/setup.sh --bench` puts them in ~/.cache/hounsfield/torch-venv:
PyPI's torch wheel is the CUDA build, about 4 GB installed, so only benchmarks use it). Each
mode runs in its own process so the peak RSS printed is that mode's.
"""
import resource
import os
import sys
import time

import torch
from torch import nn


class ConvNormAct(nn.Sequential):
    def __init__(self, d, cin, cout, stride):
        Conv = nn.Conv3d if d == 3 else nn.Conv2d
        Norm = nn.InstanceNorm3d if d == 3 else nn.InstanceNorm2d
        super().__init__(Conv(cin, cout, 3, stride, 1), Norm(cout, affine=True), nn.LeakyReLU(0.01))


class Level(nn.Sequential):
    def __init__(self, d, cin, cout, stride):
        super().__init__(ConvNormAct(d, cin, cout, stride), ConvNormAct(d, cout, cout, 1))


class UNet(nn.Module):
    def __init__(self, d, cin=1, cout=2, channels=(16, 32, 64, 128)):
        super().__init__()
        Up = nn.ConvTranspose3d if d == 3 else nn.ConvTranspose2d
        Conv = nn.Conv3d if d == 3 else nn.Conv2d
        self.enc = nn.ModuleList()
        c = cin
        for i, ch in enumerate(channels):
            self.enc.append(Level(d, c, ch, 1 if i == 0 else 2))
            c = ch
        self.ups = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(len(channels) - 1)):
            self.ups.append(Up(channels[i + 1], channels[i], 2, 2))
            self.dec.append(Level(d, 2 * channels[i], channels[i], 1))
        self.head = Conv(channels[0], cout, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
        skips.pop()
        for up, dec in zip(self.ups, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return self.head(x)


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label, runs, f):
    f()
    t = []
    for _ in range(runs):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    t.sort()
    print(f"{label}: median {t[runs // 2]:.3f} s (min {t[0]:.3f}, {runs} runs), peak RSS {peak_mib():.0f} MiB")


def main():
    mode, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if mode == "forward":
        net = UNet(3).eval()
        x = torch.rand(1, 1, 128, 128, 128)
        with torch.no_grad():
            timed("PyTorch 3-D U-Net forward 1x1x128^3", 3, lambda: net(x))
    elif mode == "window":
        from monai.inferers import sliding_window_inference
        import monai

        net = UNet(3).eval()
        n = int(os.environ.get("HOUNSFIELD_WINDOW_VOLUME", "192"))
        vol = (torch.arange(n ** 3) * 7919 % 1000).float().reshape(1, 1, n, n, n) / 1000
        with torch.no_grad():
            s = time.perf_counter()
            logits = sliding_window_inference(vol, (96, 96, 96), 1, net, overlap=0.5, mode="gaussian")
            labels = logits.softmax(1).argmax(1)
            el = time.perf_counter() - s
        print(
            f"MONAI {monai.__version__} sliding_window_inference 1x1x{n}^3, 96^3 windows, overlap 0.5, "
            f"Gaussian, softmax+argmax: {el:.2f} s, peak RSS {peak_mib():.0f} MiB ({labels.shape})"
        )
    elif mode == "train":
        from monai.losses import DiceCELoss

        net = UNet(2).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        loss_fn = DiceCELoss(softmax=True)
        x = torch.rand(8, 1, 128, 128)
        t = torch.zeros(8, 2, 128, 128)
        t[:, 1] = 1.0

        def step():
            opt.zero_grad()
            loss = loss_fn(net(x), t)
            loss.backward()
            opt.step()

        timed("PyTorch 2-D U-Net training step 8x1x128^2 (forward+backward+AdamW)", 3, step)
        print(f"parameters: {sum(p.numel() for p in net.parameters())}")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
