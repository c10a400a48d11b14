#!/usr/bin/env bash
# Issue 19's ablation rows: the default model (row 12 of scripts/run_ablation.sh, the bundled model) fine-tuned
# with the style loss the ceiling test chose, then with one change each; every row the same data, seed, batch,
# steps and learning rate, so the rows differ by their change alone.
#   bash scripts/ablation_lite0.sh [OUT]                  # CPU, one row after another (~10 min a row at 1,000 steps)
#   ROWS="17 20" bash scripts/ablation_lite0.sh [OUT]      # only those rows
#   DEVICE=cuda PARALLEL=1 BATCH=128 TUNE_STEPS=... bash scripts/ablation_lite0.sh OUT   # all rows at once on a GPU
# Resumable (run again: each row goes on from its checkpoint). Then evaluate them beside the default and the
# peer at 512 px on the held-out demo pairs:
#   waestyle evaluate --model src/waestyle/assets/model --model OUT/17-lite0-loss --model OUT/18-style-regions \
#     --content src/waestyle/assets/content --style src/waestyle/assets/style --baselines peer --size 512 \
#     --content-dims 64,16,4 --out OUT/report
set -euo pipefail
OUT=${1:-runs/ablation-lite0}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/data}
TUNE_STEPS=${TUNE_STEPS:-1000}
source "$(dirname "$0")/precision.sh"
[ -d "$DATA/photos" ] || $WAESTYLE data prepare --out "$DATA" --size 128 --seed 0
# The default recipe's second stage (row 12), its Gram-and-colour style terms replaced by the chosen loss.
COMMON=(--data "$DATA/photos" --data "$DATA/styles" --init-from default --image-size 128 --batch-size "${BATCH:-8}"
        --lr 2e-4 --grad-clip 1 --mmd-weight 0.1 --seed 1 --steps "$TUNE_STEPS" --checkpoint-every 250
        --sample-every "$TUNE_STEPS" --device "${DEVICE:-cpu}" --precision "$PRECISION"
        --workers "${WORKERS:-0}" --style-loss lite0-moments-pixels --style-loss-weight 1
        --content-loss-weight 0.5 --content-features efficientnet-lite0 --content-loss-by-size
        --content-size-power 2 --style-size-power 1 --reconstruction-size-power 2)
source "$(dirname "$0")/train_row.sh"
# NAME, the row's options; ROWS="17 20" trains only those rows.
tune() {
  local name=$1; shift
  [ -z "${ROWS:-}" ] || [[ " $ROWS " == *" ${name%%-*} "* ]] || return 0
  train_row "$OUT/$name" "$TUNE_STEPS" "${COMMON[@]}" "$@"
}
tune 17-lite0-loss
tune 18-style-regions --style-regions 4
tune 19-lite0-loss-and-colour-term --colour-loss-weight 1  # row 17 keeping row 12's pixel-colour term
tune 20-style-floor --style-floor 0.01  # row 17 with the style term's denominators held >= 1 % of the batch median
wait
