#!/usr/bin/env bash
# The run behind docs/results/paper/: the research's two experiments on the demo training set,
# evaluated on the bundled (held-out) demo images. About 35 minutes on 2 CPU cores with 1 thread.
#   bash scripts/run_paper_experiment.sh [OUT]      # report in OUT/report/
set -euo pipefail
OUT=${1:-runs/paper-demo}
WAESTYLE=${WAESTYLE:-.venv/bin/waestyle}
DATA=${DATA:-runs/demo-data}
ASSETS=src/waestyle/assets
[ -d "$DATA/photos" ] || "$WAESTYLE" data prepare-demo --out "$DATA" --count 600 --seed 0
"$WAESTYLE" experiment paper --data-single "$DATA/photos" --data-mixed "$DATA/photos" --data-mixed "$DATA/styles" \
  --out "$OUT" --steps 1500 --content "$ASSETS/content" --style "$ASSETS/style" --baselines gatys,peer
