#!/usr/bin/env bash
# How the shipped models are evaluated after training (README "Shipped models"):
#   quantize every scheme, evaluate FP32 (with the peers on the first model: RNNoise,
#   DeepFilterNet3 and noisereduce on the same clips) and every scheme on the test sets, write the
#   spectrogram figure, optionally measure the quantization choices one by one, and write
#   models/REPORT.md.
#
#   bash scripts/make-models.sh [MODEL_DIR ...]      (default: models/gru256 models/lstm256)
#   ABLATION=1 bash scripts/make-models.sh ...       (also rnnse quant-ablation on valid, ~15 min)
#
# Needs the corpus (rnnse data build) and MODEL_DIR/model.pt. About 40 minutes per model on
# 2 cores (the peers add about 15 to the first).
set -euo pipefail
cd "$(dirname "$0")/.."
rnnse=.venv/bin/rnnse
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(models/gru256 models/lstm256)
schemes=(fp16 mixed mixed+ int8 int8+)
peers=auto

for m in "${models[@]}"; do
  rm -f "$m/eval.json"
  for s in "${schemes[@]}"; do
    $rnnse quantize "$m" --scheme "$s" --calib data/corpus --n-calib 16 -o "$m/quant-$s.npz"
  done
  $rnnse eval "$m" --scheme fp32 --peers "$peers" --plot --plot-set speakers --quiet
  peers=none
  for s in "${schemes[@]}"; do
    case "$s" in
      mixed|int8+) $rnnse eval "$m" --scheme "$s" --quiet ;;          # with DNSMOS
      *) $rnnse eval "$m" --scheme "$s" --no-dnsmos --quiet ;;
    esac
  done
  if [ "${ABLATION:-0}" = 1 ]; then
    $rnnse quant-ablation "$m" --json "$m/ablation.json" --quiet
  fi
done
$rnnse report "${models[@]}"
