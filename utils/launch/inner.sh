#!/usr/bin/env bash
# One inner model of one fold (selection inner-cv): trained when needed, then evaluated on its group
# (python -m model.inner_cv, which follows the fold resume rule). Run as its own task by pipeline.sh
# (JOBS > 1) and by the Slurm training array through training.sh, before the folds' evaluation tasks,
# which then find it done.
#
# inner.sh SEED SUBJECT GROUP LABEL    environment as for fold.sh (FOLD_LOG, THREADS, QUIET)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/utils/launch/common.sh"
seed="$1" subject="$2" group="$3" label="$4"
name="$subject inner $group"
[ "$seed" = - ] || name="$name (seed $seed)"
flags=(--dataset "$DATASET" --config "$CONFIG" --output "$(run_output "$seed")" --subject "$subject" --group "$group")
[ "$seed" = - ] || flags+=(--seed "$seed")
[ -n "${DEVICE:-}" ] && flags+=(--device "$DEVICE")
[ -n "${MATCHING:-}" ] && flags+=(--matching "$MATCHING")
{ [ -n "${FOLD_LOG:-}" ] || [ "${QUIET:-0}" = 1 ]; } && flags+=(--quiet)
if [ -n "${THREADS:-}" ]; then export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"; fi
if [ -n "${FOLD_LOG:-}" ]; then
  mkdir -p "$(dirname "$FOLD_LOG")"
  "$PYTHON" -m model.inner_cv "${flags[@]}" >>"$FOLD_LOG" 2>&1 \
    || { tail -n 15 "$FOLD_LOG" | sed "s/^/[$subject inner $group] /" >&2; fail "$name failed; rerun: finished ones are kept"; }
else
  "$PYTHON" -m model.inner_cv "${flags[@]}" || fail "$name failed; rerun: finished ones are kept"
fi
say "$label $name: done"
