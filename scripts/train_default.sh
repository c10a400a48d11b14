#!/usr/bin/env bash
# The recipe of the bundled default model (src/waestyle/assets/model), as it was trained.
#   bash scripts/train_default.sh [RUN_DIR]      # then copy RUN_DIR/config.json and model.safetensors
# Needs `make install` (scikit-image is in the test extra) and, for the full training set,
# `apt-get install lomiri-wallpapers-16.04`. Took about 40 minutes on 2 CPU cores.
set -euo pipefail
RUN_DIR=${1:-runs/default}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/demo-data}
[ -d "$DATA/photos" ] || "$WAESTYLE" data prepare-demo --out "$DATA" --count 600 --seed 0
"$WAESTYLE" train --data "$DATA/photos" --data "$DATA/styles" --out "$RUN_DIR" \
  --arch spatial --image-size 64 --content-dim 64 --style-dim 64 --content-stride 8 --nested-content \
  --style-loss-weight 0.1 --content-loss-weight 0.05 --mmd-weight 0.1 \
  --batch-size 16 --lr 1e-3 --steps "${STEPS:-3000}" --seed 0 \
  --checkpoint-every 250 --sample-every 500 "${@:2}"
