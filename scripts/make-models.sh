#!/usr/bin/env bash
# How the shipped models are made, after training (README "Shipped models"):
#   quantize every scheme, evaluate FP32 and every scheme on both test sets, measure the
#   quantization choices one by one, write the spectrogram figure and models/REPORT.md.
#
#   bash scripts/make-models.sh [MODEL_DIR ...]      (default: models/lstm256 models/gru256)
#
# Needs the corpus (rnnse data build) and MODEL_DIR/model.pt. Takes about an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
rnnse=.venv/bin/rnnse
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(models/lstm256 models/gru256)
schemes=(fp16 mixed mixed+ int8 int8+)

for m in "${models[@]}"; do
  rm -f "$m/eval.json" "$m/ablation.json"
  for s in "${schemes[@]}"; do
    $rnnse quantize "$m" --scheme "$s" --calib data/corpus --n-calib 16 -o "$m/quant-$s.npz"
  done
  $rnnse eval "$m" --scheme fp32 --plot --plot-set real --quiet
  for s in "${schemes[@]}"; do
    $rnnse eval "$m" --scheme "$s" --quiet
  done
  $rnnse quant-ablation "$m" --json "$m/ablation.json" --quiet
done
$rnnse report "${models[@]}"
