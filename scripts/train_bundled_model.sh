#!/usr/bin/env bash
# Train the model shipped inside the package on every RAVDESS actor available (01-20 here)
# and install it in src/escucha/assets/model.
#   scripts/train_bundled_model.sh [DATA=../shared/data/ravdess]
# The bundle is an equal-weight ensemble of the configurations that cross-validation by actor
# found best together (docs/results.md): M5 on raw 8 kHz audio (configs/m5.json, 60 epochs,
# last epoch kept) and eGeMAPS + linear SVM (C fixed to the median of the CV folds' choices).
# With every actor in training there is no held-out speaker left to select anything on.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/ravdess}
OUT=${OUT:-runs/bundled}
ESCUCHA=${ESCUCHA:-.venv/bin/escucha}
$ESCUCHA train --data "$DATA" --config configs/m5.json --split all --val-speakers 0 --out "$OUT/m5" --force --no-report
$ESCUCHA train --data "$DATA" --config configs/egemaps-svm-final.json --split all --val-speakers 0 --out "$OUT/egemaps-svm" --force --no-report
$ESCUCHA ensemble "$OUT/m5" "$OUT/egemaps-svm" -o "$OUT/ensemble" --force
rm -rf src/escucha/assets/model
cp -r "$OUT/ensemble" src/escucha/assets/model
echo "bundled: $(du -sh src/escucha/assets/model | cut -f1) in src/escucha/assets/model"
