#!/usr/bin/env bash
# FINAL=1 part of pipeline.sh: after the pooled table, one model on every subject at the LOSO's epoch,
# per seed, in <run>/final/ (python -m model.final_model). final.sh SUBJECT...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/utils/launch/common.sh"
read -r -a seeds <<< "${SEEDS:--}"
if [ -n "${THREADS:-}" ]; then export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"; fi
for seed in "${seeds[@]}"; do
  flags=(--dataset "$DATASET" --config "$CONFIG" --output "$(run_output "$seed")" --subjects "$@")
  [ "$seed" = - ] || flags+=(--seed "$seed")
  [ -n "${DEVICE:-}" ] && flags+=(--device "$DEVICE")
  [ -n "${MATCHING:-}" ] && flags+=(--matching "$MATCHING")
  [ "${QUIET:-0}" = 1 ] && flags+=(--quiet)
  "$PYTHON" -m model.final_model "${flags[@]}" || fail "could not train the final model of $(run_output "$seed")"
done
