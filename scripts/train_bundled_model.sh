#!/usr/bin/env bash
# Train the model shipped inside the package on every RAVDESS actor available (01-20 here)
# and install it in src/escucha/assets/model.
#   scripts/train_bundled_model.sh [DATA=../shared/data/ravdess]
# The bundle is the recipe that 5-fold cross-validation by actor found best (docs/results.md):
# an equal-weight ensemble of three augmented M5 networks (configs/m5-aug-last.json, seeds
# 0, 1, 2; 80 epochs, last epoch kept) and eGeMAPS + linear SVM (configs/egemaps-svm-final.json,
# C fixed). With every actor in training there is no held-out speaker left to select anything on.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/ravdess}
OUT=${OUT:-runs/bundled}
ESCUCHA=${ESCUCHA:-.venv/bin/escucha}
members=()
for seed in 0 1 2; do
  $ESCUCHA train --data "$DATA" --config configs/m5-aug-last.json --seed "$seed" --split all --val-speakers 0 \
    --out "$OUT/m5-aug-s$seed" --force --no-report
  members+=("$OUT/m5-aug-s$seed")
done
$ESCUCHA train --data "$DATA" --config configs/egemaps-svm-final.json --split all --val-speakers 0 \
  --out "$OUT/egemaps-svm" --force --no-report
$ESCUCHA ensemble "${members[@]}" "$OUT/egemaps-svm" -o "$OUT/ensemble" --force
rm -rf src/escucha/assets/model
cp -r "$OUT/ensemble" src/escucha/assets/model
echo "bundled: $(du -sh src/escucha/assets/model | cut -f1) in src/escucha/assets/model"
