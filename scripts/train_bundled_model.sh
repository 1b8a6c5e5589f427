#!/usr/bin/env bash
# Train the model shipped inside the package on every speaker of the shared corpora and install
# it in src/escucha/assets/model.
#   scripts/train_bundled_model.sh [DATA_ROOT=../shared/data]
# The recipe is the one leave-one-corpus-out and speaker-independent CV favoured
# (docs/results.md, "Multi-corpus"): the frozen Whisper tiny.en encoder (layers 1-3, mean + std
# over time) and two logistic regressions trained on RAVDESS (actors 01-20), EmoDB and SAVEE:
# - configs/whisper-lr.json on the clean clips, answering for full-band input ("wide");
# - configs/whisper-lr-tel.json on telephone versions of the same clips (300-3400 Hz, 8 kHz,
#   G.711), answering for every input ("any"): alone for telephone-band input, averaged with the
#   first for full-band input (the pair generalises across corpora better than either).
# Both share one Whisper pass per clip. Takes about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-../shared/data}
DATA=("$ROOT/ravdess" "$ROOT/emodb" "$ROOT/savee")
OUT=${OUT:-runs/bundled}
ESCUCHA=${ESCUCHA:-.venv/bin/escucha}
THREADS=${THREADS:-2}
train() {  # config name
  $ESCUCHA train --data "${DATA[@]}" --config "$1" --split all --val-speakers 0 --threads "$THREADS" \
    --out "$OUT/$2" --force --no-report --quiet
}
train configs/whisper-lr.json whisper-lr
train configs/whisper-lr-tel.json whisper-lr-tel
$ESCUCHA ensemble "$OUT/whisper-lr" "$OUT/whisper-lr-tel" --bands wide any -o "$OUT/ensemble" --force
[ "${INSTALL:-1}" = 1 ] || { echo "built $OUT/ensemble (INSTALL=0: not installed)"; exit 0; }
rm -rf src/escucha/assets/model
cp -r "$OUT/ensemble" src/escucha/assets/model
echo "bundled: $(du -sh src/escucha/assets/model | cut -f1) in src/escucha/assets/model"
