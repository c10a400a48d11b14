#!/usr/bin/env bash
# The recipe of the bundled default model (src/waestyle/assets/model), as it was trained, in two stages:
#   1. RUN_DIR: ablation row 4 from scratch (random-VGG Gram style terms, content term in EfficientNet-Lite0),
#      4,000 steps;
#   2. RUN_DIR-tuned: that model fine-tuned (--init-from) for 1,500 steps with a size-aware decoder, the
#      reconstruction and content terms weighted by (k / 64)^2 and the style term by 64 / k, so a smaller
#      --content-dim draws more style, and a pixel-colour term (ablation row 12).
#   bash scripts/train_default.sh [RUN_DIR]
#   waestyle export --model RUN_DIR-tuned --half src/waestyle/assets/model --overwrite   # the bundled copy
# Resumable: run it again (in a later session too) and each stage continues from its last checkpoint;
# STEPS=N / TUNE_STEPS=N extend a finished stage. Needs `make install` and the Debian packages listed in
# docs/MODEL_CARD.md (`apt-get install tuxpaint-stamps-default wesnoth-1.16-data stellarium-data krita-data
# gimp-data-extras mypaint-data-extras lomiri-wallpapers-16.04`); missing ones are skipped and listed in SOURCES.md.
# On 2 CPU cores: stage 1 about 50 minutes, stage 2 about 30. The bundled model ran both on a GPU (bf16).
set -euo pipefail
RUN_DIR=${1:-runs/default}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/data}
[ -d "$DATA/photos" ] || "$WAESTYLE" data prepare --out "$DATA" --size 128 --seed 0
COMMON=(--data "$DATA/photos" --data "$DATA/styles" --style-loss-weight 1.0 --content-loss-weight 0.5
        --content-loss-by-size --content-features efficientnet-lite0 --mmd-weight 0.1 --batch-size 8
        --grad-clip 1.0 --checkpoint-every 250 --sample-every 1000)
resume() { [ -d "$1/checkpoints" ] && echo --resume || true; }
# A stage that is done (its model at the asked steps) is skipped, so a rerun goes straight to the next.
done_at() { [ -f "$1/config.json" ] && grep -q "\"step\": $2," "$1/config.json"; }
done_at "$RUN_DIR" "${STEPS:-4000}" || "$WAESTYLE" train "${COMMON[@]}" --out "$RUN_DIR" $(resume "$RUN_DIR") \
  --arch spatial --image-size 128 --content-dim 64 --style-dim 64 --content-stride 8 --res-blocks 2 \
  --features random-vgg19-quarter --style-size 256 --nested-content --content-size-power 1.0 \
  --lr 3e-4 --steps "${STEPS:-4000}" --seed 0 "${@:2}"
TUNED="$RUN_DIR-tuned"
done_at "$TUNED" "${TUNE_STEPS:-1500}" || "$WAESTYLE" train "${COMMON[@]}" --out "$TUNED" $(resume "$TUNED") \
  --init-from "$RUN_DIR" --size-aware --colour-loss-weight 1.0 --reconstruction-size-power 2 \
  --content-size-power 2 --style-size-power 1 --lr 2e-4 --steps "${TUNE_STEPS:-1500}" --seed 1 "${@:2}"
