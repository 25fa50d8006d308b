#!/usr/bin/env bash
# Reproduces the shipped segmentation model (torso) and the brain-tissue experiment (not shipped
# yet: undertrained, see models/README.md) from the project's own phantoms, then scores each on
# held-out phantoms (seeds the training sets never used). CPU only; on 2 cores about 60 min for
# the torso model and 45 min for the brain model.
#
#   scripts/train_models.sh [WORK_DIR] [torso|brain|all]   (defaults /tmp/hounsfield-train, all)
#
# Writes WORK_DIR/torso_run/model and WORK_DIR/brain_run/model (card + weights; the first is
# models/torso-organs) and prints Dice/HD95 per structure: eight organs
# on five held-out torsos; CSF, grey and white matter and ventricles on five held-out heads
# rendered as T1, T2 and PD (the contrast-generalization gap of the random-contrast model).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/hounsfield-train}"
which="${2:-all}"
mkdir -p "$work"
cargo build --release -j2 -p hounsfield
hf=target/release/hounsfield

# Mean Dice, its minimum and mean HD95 per label over the JSON files given, one row per label.
table() {
  python3 - "$@" <<'PY'
import json, sys, statistics
names = dict(a.split("=", 1) for a in sys.argv[1].split(","))
runs = [json.load(open(p)) for p in sys.argv[2:]]
print(f"{'structure':>17} {'Dice mean':>9} {'min':>6} {'HD95 mm':>8}")
for k, n in names.items():
    d = [r["labels"][k]["dice"] for r in runs if r["labels"][k]["dice"] is not None]
    h = [r["labels"][k]["hd95"] for r in runs if r["labels"][k]["hd95"] is not None]
    print(f"{n:>17} {statistics.mean(d):>9.3f} {min(d):>6.3f} {statistics.mean(h) if h else float('nan'):>8.2f}")
PY
}

if [[ "$which" == all || "$which" == torso ]]; then
  "$hf" -q phantom dataset --task segmentation --anatomy torso --count 24 --size 96 --seed 11 -o "$work/torso96"
  sed "s|DATA/manifest.json|$work/torso96/manifest.json|" models/configs/torso_organs.toml > "$work/torso.toml"
  "$hf" train --config "$work/torso.toml" -o "$work/torso_run"
  for seed in 1001 1002 1003 1004 1005; do
    "$hf" -q phantom torso --size 96 --seed "$seed" -o "$work/held_$seed.nii.gz" --labels "$work/held_${seed}_truth.nii.gz"
    "$hf" -q segment --input "$work/held_$seed.nii.gz" --method model --model "$work/torso_run/model" -o "$work/held_${seed}_pred.nii.gz"
    "$hf" -q eval segmentation --pred "$work/held_${seed}_pred.nii.gz" --ref "$work/held_${seed}_truth.nii.gz" \
      --labels 4,7,8,9,10,11,12,14 --json > "$work/held_${seed}.json"
  done
  echo "torso-organs, five held-out torsos (96³, 4.17 mm):"
  table "4=lung,7=heart,8=aorta,9=liver,10=spleen,11=right kidney,12=left kidney,14=vertebral bodies" \
    "$work"/held_100[1-5].json
fi

if [[ "$which" == all || "$which" == brain ]]; then
  "$hf" -q phantom dataset --task segmentation --anatomy head --random-contrast --count 24 --size 96 --seed 21 -o "$work/head96"
  sed "s|DATA/manifest.json|$work/head96/manifest.json|" models/configs/brain_tissue.toml > "$work/brain.toml"
  "$hf" train --config "$work/brain.toml" -o "$work/brain_run"
  for contrast in t1 t2 pd; do
    for seed in 2001 2002 2003 2004 2005; do
      base="$work/head_${contrast}_$seed"
      # Clinical-looking MR: 1.5 T spin echo, 2 % Rician noise, a 20 % bias field.
      "$hf" -q phantom head --size 96 --seed "$seed" --modality "$contrast" --noise 0.02 --bias 0.2 \
        -o "$base.nii.gz" --labels "${base}_truth.nii.gz"
      "$hf" -q segment --input "$base.nii.gz" --method model --model "$work/brain_run/model" -o "${base}_pred.nii.gz"
      "$hf" -q eval segmentation --pred "${base}_pred.nii.gz" --ref "${base}_truth.nii.gz" \
        --labels 22,23,24,25 --json > "$base.json"
    done
    echo "brain-tissue on $contrast, five held-out heads (96³, 2.29 mm):"
    table "22=CSF,23=grey matter,24=white matter,25=ventricles" "$work"/head_${contrast}_200[1-5].json
  done
fi
