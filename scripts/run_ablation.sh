#!/usr/bin/env bash
# The ablation behind docs/results/quality/: the default recipe's changes added one at a time, each row trained
# for the same steps on the same data with the same seed and batch (scripts/train_default.sh's schedule).
#   bash scripts/run_ablation.sh [OUT]              # rows in OUT/1-... OUT/8-..., one after another (CPU: ~2.5 h each)
#   DEVICE=cuda PARALLEL=1 bash scripts/run_ablation.sh OUT [TRAIN OPTIONS]   # all rows at once on one GPU
# Rows 9-15 fine-tune row 4 (--init-from) for TUNE_STEPS (1,500) steps each: the default recipe's second stage
# is row 12. Row 16 (row 12 tuned on with a colour-histogram term) was run by hand, see the quality report.
# Resumable like the default recipe. Then: python scripts/quality_report.py --ablation "NAME=OUT/1-..." ...
set -euo pipefail
OUT=${1:-runs/ablation}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/data}
STEPS=${STEPS:-10000}
[ -d "$DATA/photos" ] || $WAESTYLE data prepare --out "$DATA" --size 128 --seed 0
COMMON=(--data "$DATA/photos" --data "$DATA/styles" --arch spatial --image-size 128 --content-dim 64 --style-dim 64
        --content-stride 8 --nested-content --mmd-weight 0.1 --batch-size 8 --lr 3e-4 --grad-clip 1.0
        --steps "$STEPS" --seed 0 --checkpoint-every 1000 --sample-every "$STEPS" --device "${DEVICE:-cpu}"
        --workers "${WORKERS:-0}" "${@:2}")
source "$(dirname "$0")/train_row.sh"
run() { local name=$1; shift; train_row "$OUT/$name" "$STEPS" "${COMMON[@]}" "$@"; }  # NAME, the row's options
# Each row adds one change to the row above it (row 1 is the recipe before issue 11, row 2 the first attempt).
ROW2=(--features random-vgg19-quarter --res-blocks 2 --style-size 256 --style-loss-weight 1.0
      --content-loss-weight 0.5 --content-loss-by-size)
ROW3=("${ROW2[@]}" --content-size-power 1.0)
ROW4=("${ROW3[@]}" --content-features efficientnet-lite0)
ROW5=("${ROW4[@]}" --upsample bilinear)
ROW6=("${ROW5[@]}" --moment-loss-weight 1.0)
ROW7=("${ROW6[@]}" --tv-weight 2.0)
# The default recipe (scripts/train_default.sh) is row 4: rows 5-7 did not help (docs/results/quality/README.md),
# nor did row 8's two changes, which aim at the content-size knob.
ROW8=("${ROW4[@]}" --style-size-power 0.5 --content-fill prior)
run 1-previous-recipe --features efficientnet-lite0 --res-blocks 1 --style-loss-weight 0.1 --content-loss-weight 0.05
run 2-random-vgg-strong-style "${ROW2[@]}"
run 3-content-weight-linear-in-k "${ROW3[@]}"
run 4-content-in-pretrained-lite0 "${ROW4[@]}"
run 5-bilinear-upsampling "${ROW5[@]}"
run 6-feature-moment-loss "${ROW6[@]}"
run 7-total-variation "${ROW7[@]}"
run 8-prior-fill-and-style-by-size "${ROW8[@]}"
wait
TUNE_STEPS=${TUNE_STEPS:-1500}
tune() {  # NAME, then the options of that row; each starts from row 4's model
  local name=$1; shift
  train_row "$OUT/$name" "$TUNE_STEPS" "${COMMON[@]}" "${ROW4[@]}" --init-from "$OUT/4-content-in-pretrained-lite0" \
    --steps "$TUNE_STEPS" --lr 2e-4 --seed 1 --checkpoint-every 250 "$@"
}
KNOB=(--size-aware --reconstruction-size-power 1 --style-size-power 0.5)
tune 9-colour-term --colour-loss-weight 1
tune 10-size-aware-knob "${KNOB[@]}"
tune 11-colour-and-knob --colour-loss-weight 1 "${KNOB[@]}"
tune 12-colour-and-strong-knob --colour-loss-weight 1 --size-aware --reconstruction-size-power 2 --style-size-power 1 \
  --content-size-power 2
tune 13-row11-prior-fill --colour-loss-weight 1 "${KNOB[@]}" --content-fill prior
tune 14-row11-colour3 --colour-loss-weight 3 "${KNOB[@]}"
tune 15-row9-style2 --colour-loss-weight 1 --style-loss-weight 2
wait
