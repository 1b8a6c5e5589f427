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
# Both share one Whisper pass per clip. Each installed model carries its ONNX export (int8 Whisper
# encoder where faster, fp32 heads: escucha export --quantize dynamic), which the torch-free
# runtime runs. Takes about 4 minutes on 2 cores.
# The fast model (src/escucha/assets/fast, --model fast) is configs/fast.json alone: Whisper layer 2
# only, over the loudest 1.5 s of each input.
#   MODELS="fast" scripts/train_bundled_model.sh    # only one of them (default: "default fast")
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
install() {  # built folder, asset name
  $ESCUCHA export "$1" --quantize dynamic --force
  [ "${INSTALL:-1}" = 1 ] || { echo "built $1 (INSTALL=0: not installed)"; return; }
  rm -rf "src/escucha/assets/$2"
  cp -r "$1" "src/escucha/assets/$2"
  echo "bundled: $(du -sh "src/escucha/assets/$2" | cut -f1) in src/escucha/assets/$2"
}
for m in ${MODELS:-default fast}; do
  case $m in
    default)
      train configs/whisper-lr.json whisper-lr
      train configs/whisper-lr-tel.json whisper-lr-tel
      $ESCUCHA ensemble "$OUT/whisper-lr" "$OUT/whisper-lr-tel" --bands wide any -o "$OUT/ensemble" --force
      install "$OUT/ensemble" model ;;
    fast)
      train configs/fast.json fast
      install "$OUT/fast/checkpoint" fast ;;
    *) echo "unknown model $m (default, fast)" >&2; exit 2 ;;
  esac
done
