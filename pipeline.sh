#!/usr/bin/env bash
# Leave-one-subject-out run: prepare the data, train and evaluate every fold, pool the scores, plot.
#
# Environment (all optional):
#   DATASET    config section (default: mesynth, the bundled demo)
#   CONFIG     config file (default: config.yaml beside this script)
#   OUTPUT     run folder (default: data/runs/<DATASET> beside this script)
#   SUBJECTS   space-separated subjects (default: the section's subject_list)
#   FORCE=1    redo folds that already have best_res.csv
#   EVAL_ONLY=1  evaluate existing checkpoints (e.g. the published ones) without training
#   DEVICE     cpu | cuda | auto (default: the config's device)
#   MATCHING   published | paper2023 | one-to-one | megc      SELECTION  best-on-test | fixed-epoch | last-epoch
#   JOBS       worker processes for demo generation and feature extraction (default 2)
#   PYTHON     interpreter (default: python)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python}"
DATASET="${DATASET:-mesynth}"
CONFIG="${CONFIG:-$here/config.yaml}"
OUTPUT="${OUTPUT:-$here/data/runs/$DATASET}"
FORCE="${FORCE:-0}"
EVAL_ONLY="${EVAL_ONLY:-0}"
JOBS="${JOBS:-2}"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"

device_flag=()
[ -n "${DEVICE:-}" ] && device_flag=(--device "$DEVICE")
eval_flags=()
[ -n "${MATCHING:-}" ] && eval_flags+=(--matching "$MATCHING")
[ -n "${SELECTION:-}" ] && eval_flags+=(--selection "$SELECTION")

say() { printf '[pipeline %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '[pipeline] error: %s\n' "$*" >&2; exit 1; }

started=$SECONDS
say "dataset '$DATASET', config $CONFIG, output $OUTPUT"
if [ "$EVAL_ONLY" != 1 ]; then
  "$PYTHON" -m dataset.prepare --dataset "$DATASET" --config "$CONFIG" --jobs "$JOBS" \
    || fail "could not prepare dataset '$DATASET' (see above)"
fi
if [ -z "${SUBJECTS:-}" ]; then
  SUBJECTS="$("$PYTHON" -m utils.config "$DATASET" subject_list --config "$CONFIG")" \
    || fail "could not read subject_list of '$DATASET' from $CONFIG"
fi
read -r -a subjects <<< "$SUBJECTS"
[ "${#subjects[@]}" -gt 0 ] || fail "no subjects to run"

total=${#subjects[@]}
index=0
for subject in "${subjects[@]}"; do
  index=$((index + 1))
  fold="$OUTPUT/$subject"
  if [ -f "$fold/best_res.csv" ] && [ "$FORCE" != 1 ]; then
    say "[$index/$total] $subject: done before, skipped (FORCE=1 redoes it)"
    continue
  fi
  if [ "$EVAL_ONLY" != 1 ]; then
    say "[$index/$total] $subject: training"
    "$PYTHON" "$here/train.py" --dataset "$DATASET" --output "$OUTPUT" --subject "$subject" --config "$CONFIG" \
      ${device_flag[@]+"${device_flag[@]}"} || fail "fold $subject failed while training (exit $?); fix it and rerun: finished folds are kept"
  fi
  say "[$index/$total] $subject: evaluating"
  "$PYTHON" "$here/eval.py" --dataset "$DATASET" --output "$OUTPUT" --subject "$subject" --config "$CONFIG" \
    ${device_flag[@]+"${device_flag[@]}"} ${eval_flags[@]+"${eval_flags[@]}"} \
    || fail "fold $subject failed while evaluating (exit $?); fix it and rerun: finished folds are kept"
done

say "all $total folds done; pooling"
"$PYTHON" -m utils.final_results --output "$OUTPUT" --subjects "${subjects[@]}" || fail "could not pool the folds"
"$PYTHON" -m utils.plots --dataset "$DATASET" --config "$CONFIG" --output "$OUTPUT" --subjects "${subjects[@]}" \
  || fail "could not draw the plots"
say "finished in $((SECONDS - started)) s; results in $OUTPUT/final_results.csv, plots in $OUTPUT/plots/"
