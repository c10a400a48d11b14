# Sourced by the ablation scripts: `train_row DIR STEPS OPTION...` trains one row with `$WAESTYLE train OPTION...`
# into DIR, skipped when its model is at STEPS, resumed when it has checkpoints, and started in the background
# (output in DIR/train.log) when PARALLEL is set, so one GPU runs every row at once (then `wait`).
train_row() {
  local dir=$1 steps=$2
  shift 2
  [ -f "$dir/model.safetensors" ] && grep -q "\"step\": $steps," "$dir/config.json" && return 0
  local resume=()
  [ -d "$dir/checkpoints" ] && resume=(--resume)
  mkdir -p "$dir"
  if [ -n "${PARALLEL:-}" ]; then
    $WAESTYLE train "$@" --out "$dir" "${resume[@]}" >"$dir/train.log" 2>&1 &
  else
    $WAESTYLE train "$@" --out "$dir" "${resume[@]}"
  fi
}
