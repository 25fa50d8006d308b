#!/usr/bin/env bash
# Reproduces the shipped segmentation model from the project's own phantoms, then scores it on
# held-out phantoms (seeds the training set never used). CPU only; about 45-60 min on 2 cores.
#
#   scripts/train_models.sh [WORK_DIR]      (default /tmp/hounsfield-train)
#
# Writes WORK_DIR/torso_run/model (card + weights; copy it to models/torso-organs-64) and
# prints Dice/HD95 per organ on five held-out torsos.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/hounsfield-train}"
mkdir -p "$work"
cargo build --release -j2 -p hounsfield
hf=target/release/hounsfield
"$hf" -q phantom dataset --task segmentation --anatomy torso --count 24 --size 64 --seed 11 -o "$work/torso64"
sed "s|DATA/manifest.json|$work/torso64/manifest.json|" models/configs/torso_organs.toml > "$work/torso.toml"
"$hf" train --config "$work/torso.toml" -o "$work/torso_run"
for seed in 1001 1002 1003 1004 1005; do
  "$hf" -q phantom torso --size 64 --seed "$seed" -o "$work/held_$seed.nii.gz" --labels "$work/held_${seed}_truth.nii.gz"
  "$hf" -q segment --input "$work/held_$seed.nii.gz" --method model --model "$work/torso_run/model" -o "$work/held_${seed}_pred.nii.gz"
  "$hf" -q eval segmentation --pred "$work/held_${seed}_pred.nii.gz" --ref "$work/held_${seed}_truth.nii.gz" \
    --labels 4,7,8,9,10,11,12,14 --json > "$work/held_${seed}.json"
done
python3 - "$work" <<'PY'
import json, sys, glob, statistics
runs = [json.load(open(p)) for p in sorted(glob.glob(sys.argv[1] + "/held_*[0-9].json"))]
names = {"4": "lung", "7": "heart", "8": "aorta", "9": "liver", "10": "spleen", "11": "right kidney", "12": "left kidney", "14": "vertebral bodies"}
print(f"{'organ':>17} {'Dice mean':>9} {'min':>6} {'HD95 mm':>8}")
for k, n in names.items():
    d = [r["labels"][k]["dice"] for r in runs if r["labels"][k]["dice"] is not None]
    h = [r["labels"][k]["hd95"] for r in runs if r["labels"][k]["hd95"] is not None]
    print(f"{n:>17} {statistics.mean(d):>9.3f} {min(d):>6.3f} {statistics.mean(h) if h else float('nan'):>8.2f}")
PY
