#!/usr/bin/env bash
# Slurm job after the fold array (afterany): checks the extraction and every task succeeded, then pools and
# plots, then with FINAL=1 trains the final model (utils/launch/final.sh).
# slurm_pool.sh SUBMISSION_DIR N_TASKS SUBJECT...   Writes SUBMISSION_DIR/pool.rc last (0 = table written).
# A failed pooling removes the run's earlier final_results.* / seed_results.*: no stale table is left to
# be read as this run's.
set -uo pipefail
dir="$1" n="$2"; shift 2
here="$AUWGCN_ROOT"  # Slurm runs a copy of this script: the repository comes from pipeline.sh
source "$here/utils/launch/common.sh"
finish() {
  if [ "$1" != 0 ]; then
    read -r -a seeds <<< "${SEEDS:--}"
    for seed in "${seeds[@]}"; do rm -f "$(run_output "$seed")"/final_results.{csv,json}; done
    rm -f "$OUTPUT"/seed_results.{csv,json}
  fi
  echo "$1" > "$dir/pool.rc.tmp"; mv "$dir/pool.rc.tmp" "$dir/pool.rc"; exit "$1"
}
if ! bash "$here/utils/launch/slurm_extract_check.sh" "$dir" "$@" 2> "$dir/failed.txt"; then
  cat "$dir/failed.txt" >&2
  finish 1
fi
failed=()
for ((task = 0; task < n; task++)); do
  if [ ! -f "$dir/status/$task" ]; then
    failed+=("$(sed -n "$((task + 1))p" "$dir/tasks.txt" | awk '{print ($1 == "-" ? $2 : $2 " (seed " $1 ")")}') (task $task ended without a status: killed or timed out?)")
    continue
  fi
  read -r rc seed subject < "$dir/status/$task"
  [ "$rc" = 0 ] || failed+=("$subject$([ "$seed" = - ] || echo " (seed $seed)") (task $task, exit $rc)")
done
if [ "${#failed[@]}" -gt 0 ]; then
  printf '[pipeline] error: fold failed: %s\n' "${failed[@]}" | tee "$dir/failed.txt" >&2
  finish 1
fi
bash "$here/utils/launch/pool.sh" "$@" || finish $?
[ "${FINAL:-0}" != 1 ] || bash "$here/utils/launch/final.sh" "$@" || finish $?
finish 0
