#!/usr/bin/env bash
# The learning curve's run (docs/results/quality/curve): the default model's architecture trained from scratch
# with the style loss the ceiling test chose (--style-loss), evaluated at each number of pairs seen.
#   bash scripts/train_curve.sh [RUN_DIR] [PAIRS ...]       # default: runs/curve 16000 64000 256000
# Resumable: run it again and training goes on from the last checkpoint; stages already evaluated are skipped.
# Precision: bf16 autocast where the device computes bf16 natively, else fp32 (scripts/precision.sh).
# GPU: DEVICE=cuda BATCH=128 (and --device-data, see scripts/gpu_burst.sh for bursts).
set -euo pipefail
RUN_DIR=${1:-runs/curve}
PAIRS=("${@:2}"); [ ${#PAIRS[@]} -gt 0 ] || PAIRS=(16000 64000 256000)
PYTHON=${PYTHON:-.venv/bin/python}
DATA=${DATA:-runs/data}
BATCH=${BATCH:-8}
source "$(dirname "$0")/precision.sh"
[ -d "$DATA/photos" ] || "$PYTHON" -m waestyle data prepare --out "$DATA" --size 128 --seed 0
"$PYTHON" scripts/learning_curve.py "$RUN_DIR" --pairs "${PAIRS[@]}" --batch-size "$BATCH" \
  --ceiling "${CEILING:-Lite0 Gram + mean/std + pixel colours}" -- \
  --data "$DATA/photos" --data "$DATA/styles" --device "${DEVICE:-cpu}" --precision "$PRECISION" \
  --arch spatial --image-size 128 --content-dim 64 --style-dim 64 --content-stride 8 --res-blocks 2 \
  --features random-vgg19-quarter --style-size 256 --nested-content --size-aware --content-loss-by-size \
  --content-size-power 2 --style-size-power 1 --reconstruction-size-power 2 \
  --style-loss "${STYLE_LOSS:-lite0-moments-pixels}" --style-loss-weight 1 \
  --content-loss-weight 0.5 --content-features efficientnet-lite0 --mmd-weight 0.1 --lr 3e-4 --grad-clip 1 \
  --checkpoint-every 250 --sample-every 1000 --seed 0
