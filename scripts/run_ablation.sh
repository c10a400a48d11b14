#!/usr/bin/env bash
# The ablation behind docs/results/quality/: the default recipe's changes added one at a time, each run for the
# same steps on the same data with the same seed (scripts/train_default.sh's data and schedule, shortened).
#   bash scripts/run_ablation.sh [OUT]        # runs in OUT/1-... OUT/6-...; about 45 minutes on 2 CPU cores
# Then: python scripts/quality_report.py --before ... --ablation "NAME=OUT/1-..." ...
set -euo pipefail
OUT=${1:-runs/ablation}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/data}
STEPS=${STEPS:-600}
[ -d "$DATA/photos" ] || "$WAESTYLE" data prepare --out "$DATA" --size 128 --seed 0
COMMON=(--data "$DATA/photos" --data "$DATA/styles" --arch spatial --image-size 128 --content-dim 64 --style-dim 64
        --content-stride 8 --nested-content --mmd-weight 0.1 --batch-size 8 --lr 3e-4 --grad-clip 1.0
        --steps "$STEPS" --seed 0 --checkpoint-every 200 --sample-every "$STEPS")
run() {  # NAME, then the options of that row
  local dir="$OUT/$1"; shift
  [ -f "$dir/model.safetensors" ] && grep -q "\"step\": $STEPS" "$dir/config.json" && return 0
  local resume=(); [ -d "$dir/checkpoints" ] && resume=(--resume)
  "$WAESTYLE" train "${COMMON[@]}" --out "$dir" "${resume[@]}" "$@"
}
OLD=(--features efficientnet-lite0 --res-blocks 1 --style-loss-weight 0.1 --content-loss-weight 0.05)
VGG=(--features random-vgg19-quarter --res-blocks 1 --style-loss-weight 0.1 --content-loss-weight 0.05)
run 1-previous-recipe "${OLD[@]}"
run 2-random-vgg "${VGG[@]}"
# The style size changes only how a style image is read at transfer time: row 2's weights, read at 256 px.
mkdir -p "$OUT/3-style-read-at-256"
cp "$OUT/2-random-vgg/model.safetensors" "$OUT/2-random-vgg/log.csv" "$OUT/3-style-read-at-256/"
"${PYTHON:-.venv/bin/python}" -c 'import json, sys; c = json.load(open(sys.argv[1])); c["model"]["style_size"] = 256
json.dump(c, open(sys.argv[2], "w"), indent=2)' "$OUT/2-random-vgg/config.json" "$OUT/3-style-read-at-256/config.json"
run 4-strong-style-loss --features random-vgg19-quarter --res-blocks 1 --style-size 256 \
  --style-loss-weight 1.0 --content-loss-weight 0.5
run 5-two-res-blocks --features random-vgg19-quarter --res-blocks 2 --style-size 256 \
  --style-loss-weight 1.0 --content-loss-weight 0.5
run 6-content-loss-by-size --features random-vgg19-quarter --res-blocks 2 --style-size 256 \
  --style-loss-weight 1.0 --content-loss-weight 0.5 --content-loss-by-size
