#!/usr/bin/env bash
# The main job: set up (idempotent), then enhance the shipped noisy clip on the emulated
# multi-core RISC-V MCU (QEMU virt, 8 worker harts) with the default model, the mixed FP16-INT8
# GRU-256, and print
# the instructions per hop (QEMU -icount: exact and deterministic; DSP, each layer, busiest hart,
# against the 1.5 M budget of a 6.25 ms hop at 240 MHz) and PESQ-WB / STOI before and after against
# the clean reference.
#   extra arguments go to `rnnse enhance` (e.g. --model models/lstm256 --scheme int8+ --target host)
#   --target gvsoc: the same on GVSoC's pulp-open model (cycles per hop), GVSoC set up first when
#   missing (scripts/setup-gvsoc.sh: a few minutes, once)
#   --target pmsis | pmsis-file: the PMSIS firmware on GVSoC, the model booted from its flash
#   (docs/board.md); GVSoC and pulp-sdk (scripts/setup-pulp-sdk.sh) set up first when missing
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
prev=""
for a in "$@"; do
  target=""
  case "$a" in --target=*) target="${a#--target=}" ;; *) if [ "$prev" = "--target" ]; then target="$a"; fi ;; esac
  case "$target" in
    gvsoc|pmsis|pmsis-file)
      if [ -z "${RNNSE_GVSOC:-}" ]; then bash scripts/setup-gvsoc.sh; fi
      if [ "$target" != gvsoc ] && [ -z "${RNNSE_PULP_SDK:-}" ]; then bash scripts/setup-pulp-sdk.sh; fi ;;
  esac
  prev="$a"
done
mkdir -p out
exec .venv/bin/rnnse enhance samples/demo_noisy.wav -o out/demo_enhanced.wav \
    --target virt --model models/gru256 --scheme mixed --clean samples/demo_clean.wav "$@"
