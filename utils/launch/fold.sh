#!/usr/bin/env bash
# One fold of one seed: decide (utils.fold_status), then train and/or evaluate. Used by pipeline.sh
# for local runs and by slurm_fold.sh as an array task, so both follow one resume rule.
#
# fold.sh SEED SUBJECT LABEL    SEED "-" = the config's seed. Environment as set by pipeline.sh;
# FOLD_LOG=FILE sends train/eval output to FILE (parallel runs) and prints its tail on failure.
# TRAIN_ONLY=1 stops after training (inner-cv's training tasks: the fold is evaluated once its inner
# models are done).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/utils/launch/common.sh"
seed="$1" subject="$2" label="$3"
out="$(run_output "$seed")"
ckpt="$(checkpoints_root "$seed")"
name="$subject"
[ "$seed" = - ] || name="$subject (seed $seed)"

common=(--dataset "$DATASET" --config "$CONFIG" --output "$out" --subject "$subject")
status_flags=()
[ -n "$ckpt" ] && status_flags+=(--checkpoints "$ckpt")
[ "${EVAL_ONLY:-0}" = 1 ] && status_flags+=(--eval-only)
[ "${FORCE:-0}" = 1 ] && status_flags+=(--force)
[ "$seed" = - ] || status_flags+=(--seed "$seed")  # the training key holds the seed the fold trains with
eval_flags=()
[ -n "${MATCHING:-}" ] && eval_flags+=(--matching "$MATCHING")
[ -n "${SELECTION:-}" ] && eval_flags+=(--selection "$SELECTION")
[ -n "$ckpt" ] && eval_flags+=(--checkpoints "$ckpt")
run_flags=()
[ -n "${DEVICE:-}" ] && run_flags+=(--device "$DEVICE")
{ [ -n "${FOLD_LOG:-}" ] || [ "${QUIET:-0}" = 1 ]; } && run_flags+=(--quiet)
train_flags=()
[ "$seed" = - ] || train_flags+=(--seed "$seed")

# A fold's results must not depend on what runs beside it: its thread count is fixed here.
if [ -n "${THREADS:-}" ]; then export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"; fi

step() {  # step WHAT COMMAND...: run one stage, naming the fold when it fails
  local what="$1"; shift
  if [ -n "${FOLD_LOG:-}" ]; then
    mkdir -p "$(dirname "$FOLD_LOG")"
    "$@" >>"$FOLD_LOG" 2>&1 && return 0
    local rc=$?
    tail -n 15 "$FOLD_LOG" | sed "s/^/[$subject] /" >&2
  else
    "$@" && return 0
    local rc=$?
  fi
  fail "fold $name failed while $what (exit $rc); fix it and rerun: finished folds are kept"
}

decision="$("$PYTHON" -m utils.fold_status "${common[@]}" ${status_flags[@]+"${status_flags[@]}"} \
  ${MATCHING:+--matching "$MATCHING"} ${SELECTION:+--selection "$SELECTION"})" \
  || fail "fold $name: could not decide what it needs (see above)"
action="${decision%%$'\t'*}" reason="${decision#*$'\t'}"
train_only="${TRAIN_ONLY:-0}"
case "$action" in
  done) say "$label $name: $reason"; exit 0 ;;
  train) say "$label $name: training ($reason)"
    step training "$PYTHON" "$here/train.py" "${common[@]}" ${run_flags[@]+"${run_flags[@]}"} \
      ${train_flags[@]+"${train_flags[@]}"}
    [ "$train_only" != 1 ] || { say "$label $name: trained"; exit 0; }
    say "$label $name: evaluating" ;;
  evaluate) [ "$train_only" != 1 ] || { say "$label $name: trained already"; exit 0; }
    say "$label $name: evaluating, checkpoints kept ($reason)" ;;
  *) fail "fold $name: unexpected decision '$decision'" ;;
esac
step evaluating "$PYTHON" "$here/eval.py" "${common[@]}" ${run_flags[@]+"${run_flags[@]}"} \
  ${eval_flags[@]+"${eval_flags[@]}"} ${train_flags[@]+"${train_flags[@]}"}
say "$label $name: finished"
