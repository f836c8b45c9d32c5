#!/usr/bin/env bash
# Pool the folds into the final table(s) and draw the plots: once per seed, then the seed table.
# pool.sh SUBJECT...   (environment as set by pipeline.sh; SEEDS empty = the config's seed)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/utils/launch/common.sh"
read -r -a seeds <<< "${SEEDS:--}"
for seed in "${seeds[@]}"; do
  out="$(run_output "$seed")"
  [ "$seed" = - ] || say "seed $seed:"
  "$PYTHON" -m utils.final_results --output "$out" --subjects "$@" --megc-frames "${MEGC_FRAMES:-published}" \
    || fail "could not pool the folds of $out"
  "$PYTHON" -m utils.plots --dataset "$DATASET" --config "$CONFIG" --output "$out" --subjects "$@" \
    || fail "could not draw the plots of $out"
done
if [ -n "${SEEDS:-}" ]; then
  "$PYTHON" -m utils.seed_table --output "$OUTPUT" --seeds "${seeds[@]}" || fail "could not pool the seeds"
fi
