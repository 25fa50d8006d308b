#!/usr/bin/env bash
# Side-by-side benchmark of the 3-D U-Net (channels 16-32-64-128, strides 2) on 2 CPU
# threads: burn flex (convolutions, instance norms, leaky ReLUs through hounsfield_nn::cpu),
# tract (ONNX) and onnxruntime, plus the sliding window and a 2-D training step, and
# burn-flex's own conv3d against nn::cpu's; and PyTorch + MONAI on the same network (bench/nn_vs_torch.py, when
# scripts/setup.sh --bench has made ~/.cache/hounsfield/torch-venv). Prints every figure;
# docs/benchmarks.md records a run.
#
#   bench/nn_unet.sh            (needs scripts/setup.sh: onnx + onnxruntime in the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-2}"
py="${HOUNSFIELD_PYTHON:-$HOME/.cache/hounsfield/venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" crates/nn/tests/data/make_onnx.py "$work" --bench
export RAYON_NUM_THREADS="$threads"
cargo bench -p hounsfield-nn --bench nn --no-run -j2 >/dev/null 2>&1 || cargo bench -p hounsfield-nn --bench nn --no-run -j2
b() { cargo bench -q -p hounsfield-nn --bench nn -- "$@" 2>/dev/null; }
echo "threads: $threads ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
b conv
b forward
b tract "$work/unet_bench.onnx"
OMP_NUM_THREADS="$threads" "$py" bench/nn_unet_ort.py "$work/unet_bench.onnx" "$threads"
tpy="${TORCH_PYTHON:-$HOME/.cache/hounsfield/torch-venv/bin/python}"
if [ -x "$tpy" ]; then
  for m in forward window train; do OMP_NUM_THREADS="$threads" "$tpy" bench/nn_vs_torch.py "$m" "$threads"; done
else
  echo "PyTorch/MONAI: $tpy missing (scripts/setup.sh --bench installs it)"
fi
b window
b window "$work/unet_bench.onnx"
b train
