#!/usr/bin/env bash
# Leave-one-subject-out run: prepare the data, train and evaluate every fold, pool the scores, plot.
#
# Environment (all optional):
#   DATASET    config section (default: mesynth, the bundled demo)
#   CONFIG     config file (default: config.yaml beside this script)
#   OUTPUT     run folder (default: data/runs/<DATASET> beside this script)
#   SUBJECTS   space-separated subjects (default: the section's subject_list)
#   FORCE=1    redo every fold (a fold is otherwise skipped only when its eval_info.json matches this request)
#   EVAL_ONLY=1  evaluate existing checkpoints without training
#   CHECKPOINTS  read-only checkpoint root (e.g. the published archive); results go to OUTPUT
#   DEVICE     cpu | cuda | auto (default: the config's device)
#   MATCHING   matching rule; SELECTION  epoch selection protocol (eval.py --help lists both); SELECTION=inner-cv
#              takes each fold's epoch from inner models on its training subjects (needs adjacency_scope: train;
#              with JOBS > 1 or Slurm each fold's K + 1 trainings are their own tasks, then the evaluations)
#   FINAL=1    after the LOSO: train one model on every subject at the LOSO's epoch, in OUTPUT/final/
#              (with LAUNCHER=slurm in the pooling job)
#   MEGC_FRAMES  published (default: as evaluated, +1 shift) | raw: prediction frames of the MEGC files
#   JOBS       folds trained and evaluated at once (default 1); also the prepare step's workers
#   THREADS    torch threads per fold (default: cores / JOBS, at least 1); same THREADS -> same bytes
#   SEEDS      e.g. "1 2 3": one LOSO per seed in OUTPUT/seed_<s>/, plus OUTPUT/seed_results.csv
#   LAUNCHER   local (default) | slurm: one sbatch array task per fold to do, then a pooling job
#   SBATCH_ARGS  extra sbatch options, e.g. "--partition=gpu --time=02:00:00 --cpus-per-task=4"
#   SLURM_WAIT=1  with LAUNCHER=slurm: wait for the pooled table; non-zero exit naming a failed fold
#   SLURM_WAIT_S  with SLURM_WAIT=1: wait at most this many seconds (default: no limit)
#   EXTRACT_SHARDS=N  with LAUNCHER=slurm: extract raw_root as an array of N shards, the folds after it
#   PYTHON     interpreter (default: python)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/utils/launch/common.sh"
PYTHON="${PYTHON:-python}"
DATASET="${DATASET:-mesynth}"
CONFIG="${CONFIG:-$here/config.yaml}"
OUTPUT="${OUTPUT:-$here/data/runs/$DATASET}"
FORCE="${FORCE:-0}"
EVAL_ONLY="${EVAL_ONLY:-0}"
JOBS="${JOBS:-1}"
LAUNCHER="${LAUNCHER:-local}"
SEEDS="${SEEDS:-}"
cores="$(nproc 2>/dev/null || echo 1)"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || fail "JOBS must be a positive whole number, not '$JOBS'"
if [ -z "${THREADS:-}" ] && [ "$LAUNCHER" = local ]; then THREADS=$((cores / JOBS)); [ "$THREADS" -ge 1 ] || THREADS=1; fi
[ -z "${THREADS:-}" ] || [[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || fail "THREADS must be a positive whole number, not '$THREADS'"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" AUWGCN_ROOT="$here"
FINAL="${FINAL:-0}"
export PYTHON DATASET CONFIG OUTPUT FORCE EVAL_ONLY SEEDS FINAL
export CHECKPOINTS="${CHECKPOINTS:-}" DEVICE="${DEVICE:-}" MATCHING="${MATCHING:-}" SELECTION="${SELECTION:-}"
export THREADS="${THREADS:-}"
MEGC_FRAMES="${MEGC_FRAMES:-published}"
[[ "$MEGC_FRAMES" =~ ^(published|raw)$ ]] || fail "MEGC_FRAMES must be published or raw, not '$MEGC_FRAMES'"
export MEGC_FRAMES

[ "$LAUNCHER" != slurm ] || command -v sbatch > /dev/null || fail "LAUNCHER=slurm but sbatch is not on PATH"
started=$SECONDS
say "dataset '$DATASET', config $CONFIG, output $OUTPUT"
if [ "$EVAL_ONLY" != 1 ] && [ -z "$CHECKPOINTS" ] && { [ "$LAUNCHER" != slurm ] || [ -z "${EXTRACT_SHARDS:-}" ]; }; then
  "$PYTHON" -m dataset.prepare --dataset "$DATASET" --config "$CONFIG" --jobs "$(( JOBS > 2 ? JOBS : 2 ))" \
    || fail "could not prepare dataset '$DATASET' (see above)"
fi
if [ -z "${SUBJECTS:-}" ]; then
  SUBJECTS="$("$PYTHON" -m utils.config "$DATASET" subject_list --config "$CONFIG")" \
    || fail "could not read subject_list of '$DATASET' from $CONFIG"
fi
read -r -a subjects <<< "$SUBJECTS"
[ "${#subjects[@]}" -gt 0 ] || fail "no subjects to run"
read -r -a seeds <<< "${SEEDS:--}"
tasks=()  # "SEED SUBJECT", seeds outer so one seed's folds finish together
for seed in "${seeds[@]}"; do for subject in "${subjects[@]}"; do tasks+=("$seed $subject"); done; done
total=${#tasks[@]}
# inner-cv: every fold's K + 1 trainings ("SEED SUBJECT outer" and "SEED SUBJECT GROUP", the inner models
# evaluated too) run as their own tasks before the folds' evaluations, so that JOBS or Slurm spread all
# folds x (K + 1) of them; JOBS=1 leaves the inner models to each fold's evaluation (one process per fold).
training_tasks=()
selection="${SELECTION:-$("$PYTHON" -m utils.config "$DATASET" selection --config "$CONFIG")}" \
  || fail "could not read selection of '$DATASET' from $CONFIG"
if [ "$selection" = inner-cv ] && [ "$EVAL_ONLY" != 1 ] && [ -z "$CHECKPOINTS" ] \
    && { [ "$JOBS" -gt 1 ] || [ "$LAUNCHER" = slurm ]; }; then
  groups="$("$PYTHON" -m utils.config "$DATASET" inner_folds --config "$CONFIG")" || fail "could not read inner_folds"
  for task in "${tasks[@]}"; do mapfile -t -O "${#training_tasks[@]}" training_tasks < <(fold_trainings "$task" "$groups"); done
fi

if [ "$LAUNCHER" = slurm ]; then
  source "$here/utils/launch/slurm_submit.sh"  # submits, and with SLURM_WAIT=1 waits; exits
fi
[ "$LAUNCHER" = local ] || fail "LAUNCHER must be local or slurm, not '$LAUNCHER'"

# Local: up to JOBS folds at once, each with THREADS torch threads. With JOBS > 1 a fold's own output
# goes to <run>/pipeline_logs/<subject>.log so the terminal keeps one line per fold event.
declare -A running=()
failed=""
reap() {  # wait for one task; remember the first that failed
  local pid rc=0
  wait -n -p pid || rc=$?
  [ "$rc" = 0 ] || [ -n "$failed" ] || failed="${running[$pid]}"
  unset "running[$pid]"
}
run_tasks() {  # run_tasks SCRIPT TASK...: each "SEED SUBJECT [GROUP]" through utils/launch/SCRIPT
  local script="$1" index=0 task seed subject group
  shift
  for task in "$@"; do
    index=$((index + 1))
    read -r seed subject group <<< "$task"
    if [ "$JOBS" = 1 ]; then
      bash "$here/utils/launch/$script" $task "[$index/$#]" || exit 1
      continue
    fi
    while [ "${#running[@]}" -ge "$JOBS" ]; do reap; done
    [ -z "$failed" ] || break  # the first failing task stops the run: start no more
    FOLD_LOG="$(run_output "$seed")/pipeline_logs/$subject$(task_log_suffix "$group").log" \
      bash "$here/utils/launch/$script" $task "[$index/$#]" &
    running[$!]="$task"
  done
  while [ "${#running[@]}" -gt 0 ]; do reap; done
  [ -z "$failed" ] || fail "stopped after ${failed#* } failed (see above); finished ones are kept"
}

# Local: up to JOBS tasks at once, each with THREADS torch threads. With JOBS > 1 a task's own output
# goes to <run>/pipeline_logs/<subject>[.inner<group>].log so the terminal keeps one line per event.
if [ "${#training_tasks[@]}" -gt 0 ]; then
  say "${#training_tasks[@]} trainings (inner-cv: $total folds x $((groups + 1))), $JOBS at once, $THREADS torch threads each"
  run_tasks training.sh "${training_tasks[@]}"
fi
say "$total folds, $JOBS at once, $THREADS torch threads each"
run_tasks fold.sh "${tasks[@]}"

say "all $total folds done; pooling"
bash "$here/utils/launch/pool.sh" "${subjects[@]}"
[ "$FINAL" != 1 ] || bash "$here/utils/launch/final.sh" "${subjects[@]}"
say "finished in $((SECONDS - started)) s; results in $OUTPUT/$([ -z "$SEEDS" ] && echo final_results.csv || echo seed_results.csv), plots in $OUTPUT/$([ -z "$SEEDS" ] || echo 'seed_<s>/')plots/"
