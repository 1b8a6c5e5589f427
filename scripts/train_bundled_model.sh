#!/usr/bin/env bash
# Train the model shipped inside the package on every RAVDESS actor available (01-20 here)
# and install it in src/escucha/assets/model.
#   scripts/train_bundled_model.sh [DATA=../shared/data/ravdess]
# The bundle is the recipe that 5-fold cross-validation by actor found best (docs/results.md):
# - for full-band audio, an equal-weight ensemble of three augmented M5 networks
#   (configs/m5-aug-last.json, seeds 0 1 2; 80 epochs, last epoch kept) and eGeMAPS + linear
#   SVM (configs/egemaps-svm-final.json, C fixed);
# - for telephone-band audio (detected from the input's spectrum), two M5 networks trained
#   with the telephone-channel augmentation (configs/m5-aug-tel-last.json, seeds 0 1).
# With every actor in training there is no held-out speaker left to select anything on.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/ravdess}
OUT=${OUT:-runs/bundled}
ESCUCHA=${ESCUCHA:-.venv/bin/escucha}
THREADS=${THREADS:-1}
train() {  # config seed name
  $ESCUCHA train --data "$DATA" --config "$1" --seed "$2" --split all --val-speakers 0 --threads "$THREADS" \
    --out "$OUT/$3" --force --no-report --quiet
}
for seed in 0 1 2; do train configs/m5-aug-last.json "$seed" "m5-aug-s$seed"; done
for seed in 0 1; do train configs/m5-aug-tel-last.json "$seed" "m5-aug-tel-s$seed"; done
train configs/egemaps-svm-final.json 0 egemaps-svm
$ESCUCHA ensemble "$OUT"/m5-aug-s0 "$OUT"/m5-aug-s1 "$OUT"/m5-aug-s2 "$OUT"/egemaps-svm "$OUT"/m5-aug-tel-s0 "$OUT"/m5-aug-tel-s1 \
  --bands wide wide wide wide narrow narrow -o "$OUT/ensemble" --force
rm -rf src/escucha/assets/model
cp -r "$OUT/ensemble" src/escucha/assets/model
echo "bundled: $(du -sh src/escucha/assets/model | cut -f1) in src/escucha/assets/model"
