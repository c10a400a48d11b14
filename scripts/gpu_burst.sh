#!/usr/bin/env bash
# One time-boxed training burst on a GPU machine that has PyTorch but not waestyle's packages or data, resumable
# across bursts and machines: the run's checkpoint files are all it needs.
#
#   bash scripts/gpu_burst.sh run              # there: train RUN_DIR for MINUTES, copy what a resume needs to $OUT
#   bash scripts/gpu_burst.sh collect DIR      # here: put the files that came back (DIR) into RUN_DIR and
#                                              # rebuild its model folder from the checkpoint
#
#   bash scripts/gpu_burst.sh prepare          # here, before the first burst: what travels with the repository
#
# `prepare` makes (where missing) the data and the cut feature weights, 64 MB at most with the repository:
#   waestyle data prepare --out runs/data256 --size 256
#   waestyle data bundle runs/data256 --out $DATA --max-mb $MAX_MB      # runs/bundle, 38 MB
#   python scripts/export_feature_weights.py --out runs/weights
# and says what the repository, the bundle and the weights weigh together. Then run
# `bash scripts/gpu_burst.sh run` on the GPU machine carrying runs/bundle, runs/weights and, to resume,
# RUN_DIR (its newest checkpoint only: `collect` keeps just that). Each burst writes a checkpoint when its time
# is up (train --max-minutes), in files of at most 15 MiB; `collect` then `run` again goes on from it.
# Settings (environment): RUN_DIR (runs/burst), MINUTES (8), DEVICE (cuda), BATCH (128), IMAGE_SIZE (256),
# STEPS (the run's total, 100000), COMPILE (set: torch.compile the step), SNAPSHOTS (the steps whose float16
# model folders come back for the learning curve: 500,1000,2000,4000,8000,16000, i.e. 64k to 2M pairs at batch
# 128; evaluate each with `waestyle evaluate --model RUN_DIR/snapshots/step-N`), and any extra
# `waestyle train` options after the action. Size budget: the repository (20 MB) + runs/bundle + runs/weights
# (3 MB) + a resumed run must stay under the upload limit: 61.6 MB went through, 64.6 MB was refused. A full
# checkpoint of the default architecture is 50 MB (weights and Adam state), so across sessions carry only the
# model folder, packed with `waestyle export --half` (8 MB), and start the next run with --init-from it (Adam
# restarts) beside a bundle of at most 30 MB; within one session the machine keeps RUN_DIR between bursts.
set -euo pipefail
ACTION=${1:-run}
RUN_DIR=${RUN_DIR:-runs/burst}
DATA=${DATA:-runs/bundle}

if [ "$ACTION" = prepare ]; then
  PYTHON=${PYTHON:-.venv/bin/python}
  [ -d runs/data256/photos ] || "$PYTHON" -m waestyle data prepare --out runs/data256 --size 256
  [ -f "$DATA/files.csv" ] || "$PYTHON" -m waestyle data bundle runs/data256 --out "$DATA" --max-mb "${MAX_MB:-38}"
  [ -d runs/weights ] || "$PYTHON" scripts/export_feature_weights.py --out runs/weights
  tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  extra=$(du -cb "$DATA" runs/weights | tail -1 | cut -f1)
  echo "to carry: repository $((tree / 1000000)) MB + $DATA and runs/weights $((extra / 1000000)) MB" \
    "= $(((tree + extra) / 1000000)) MB (61.6 MB went through, 64.6 MB was refused)"
  exit 0
fi

if [ "$ACTION" = collect ]; then
  FROM=${2:?usage: gpu_burst.sh collect DIR}
  mkdir -p "$RUN_DIR/checkpoints"
  rm -f "$RUN_DIR"/checkpoints/step-*.safetensors  # the newest checkpoint is the one that came back
  cp "$FROM"/step-*.safetensors "$RUN_DIR/checkpoints/"
  cp "$FROM/log.csv" "$RUN_DIR/"
  cp "$FROM"/sample-*.png "$RUN_DIR/" 2>/dev/null || true
  [ -d "$FROM/snapshots" ] && mkdir -p "$RUN_DIR/snapshots" && cp -r "$FROM"/snapshots/step-* "$RUN_DIR/snapshots/"
  # The model folder (config.json + model.safetensors) from the newest checkpoint: the same weights.
  "${PYTHON:-.venv/bin/python}" - "$RUN_DIR" <<'EOF'
import sys
from pathlib import Path
from waestyle.core.config import ModelConfig
from waestyle.models.io import save_model
from waestyle.training.checkpoints import latest_checkpoint
run = Path(sys.argv[1])
checkpoint = latest_checkpoint(run)
save_model(run, ModelConfig.from_dict(checkpoint.model_config), checkpoint.model, checkpoint.step)
print(f"collected step {checkpoint.step} into {run}")
EOF
  exit 0
fi

# No progress bar in a log (TQDM_MININTERVAL: a line a minute); the log.csv rows say how it goes.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" WAESTYLE_FEATURE_WEIGHTS="$PWD/runs/weights" \
  PYTHONUNBUFFERED=1 TQDM_MININTERVAL=60
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$RUN_DIR/out}
mkdir -p "$OUT"
resume=(); [ -d "$RUN_DIR/checkpoints" ] && resume=(--resume)
compile=(); [ -n "${COMPILE:-}" ] && compile=(--compile)
"$PYTHON" -m waestyle train --out "$RUN_DIR" "${resume[@]}" "${compile[@]}" --data "$DATA/photos" --data "$DATA/styles" \
  --device "${DEVICE:-cuda}" --device-data --precision bf16 --workers "${WORKERS:-8}" \
  --max-minutes "${MINUTES:-8}" --steps "${STEPS:-100000}" --batch-size "${BATCH:-128}" \
  --image-size "${IMAGE_SIZE:-256}" --checkpoint-every 1000 --sample-every 1000 --log-every 10 \
  --snapshots "${SNAPSHOTS:-500,1000,2000,4000,8000,16000}" "${@:2}" \
  2>&1 | tr '\r' '\n' | tee "$OUT/train.txt"
# What a resume needs (the newest checkpoint, main file and parts: `collect` rebuilds the model folder from it),
# the log, the last sample: at most 8 files come back.
newest=$(ls "$RUN_DIR"/checkpoints/step-????????.safetensors | tail -1)
cp "${newest%.safetensors}"*.safetensors "$OUT/"
cp "$RUN_DIR/log.csv" "$OUT/"
# The learning curve's points (float16 model folders, 8 MB each; at batch 128, step 500 is 64,000 pairs).
[ -d "$RUN_DIR/snapshots" ] && cp -r "$RUN_DIR/snapshots" "$OUT/"
last=$(ls "$RUN_DIR"/samples/*.png | tail -1) && cp "$last" "$OUT/sample-$(basename "$last")"
"$PYTHON" - "$RUN_DIR/log.csv" "${BATCH:-128}" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
# This burst's rows (elapsed_s restarts with each process), past its first fifth (start-up and compilation):
# steps done over the wall time they took, the data, the step and the bookkeeping all counted.
starts = [i for i in range(1, len(rows)) if float(rows[i]["elapsed_s"]) < float(rows[i - 1]["elapsed_s"])]
burst = rows[(starts or [0])[-1]:]
a, b = burst[len(burst) // 5], burst[-1]
steps, seconds = int(b["step"]) - int(a["step"]), float(b["elapsed_s"]) - float(a["elapsed_s"])
if steps > 0 and seconds > 0:
    print(f"steps {burst[0]['step']}-{b['step']}; steps {a['step']}-{b['step']}: {steps / seconds:.2f} steps/s, "
          f"{steps * int(sys.argv[2]) / seconds:.0f} pairs/s (wall clock)")
else:
    print(f"steps {burst[0]['step']}-{b['step']}: too few logged rows for a rate")
EOF
ls -la "$OUT"
