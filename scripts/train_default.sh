#!/usr/bin/env bash
# The recipe of the bundled default model (src/waestyle/assets/model), as it was trained.
#   bash scripts/train_default.sh [RUN_DIR]      # then copy RUN_DIR/config.json and model.safetensors
# Resumable: run it again (in a later session too) and it continues from RUN_DIR's last checkpoint;
# STEPS=N extends a finished run. Needs `make install` and the Debian packages listed in
# docs/MODEL_CARD.md (`apt-get install tuxpaint-stamps-default wesnoth-1.16-data stellarium-data krita-data
# gimp-data-extras mypaint-data-extras lomiri-wallpapers-16.04`); missing ones are skipped and listed in SOURCES.md.
set -euo pipefail
RUN_DIR=${1:-runs/default}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/data}
[ -d "$DATA/photos" ] || "$WAESTYLE" data prepare --out "$DATA" --size 128 --seed 0
RESUME=()
[ -d "$RUN_DIR/checkpoints" ] && RESUME=(--resume)
"$WAESTYLE" train --data "$DATA/photos" --data "$DATA/styles" --out "$RUN_DIR" "${RESUME[@]}" \
  --arch spatial --image-size 128 --content-dim 64 --style-dim 64 --content-stride 8 --res-blocks 2 \
  --features random-vgg19-quarter --style-size 256 --content-features efficientnet-lite0 \
  --nested-content --content-loss-by-size --content-size-power 1.0 \
  --style-loss-weight 1.0 --content-loss-weight 0.5 --mmd-weight 0.1 \
  --batch-size 8 --lr 3e-4 --grad-clip 1.0 --steps "${STEPS:-4000}" --seed 0 \
  --checkpoint-every 250 --sample-every 1000 "${@:2}"
