# LAUNCHER=slurm part of pipeline.sh (sourced; uses its tasks, subjects, total): one array task per fold
# that is not done yet, by the same rule as a local run (utils.fold_status), then a pooling job after
# the array. Under inner-cv a training array of those folds x (K + 1) trainings runs first. Prints the
# job ids; SLURM_WAIT=1 waits for the pooled table (at most SLURM_WAIT_S seconds when set). Always exits. pipeline.sh has checked that sbatch is on PATH before any local work.
#
# One submission at a time per run folder: OUTPUT/slurm/run.lock holds the job ids of the last one. A
# rerun while any of them is still queued or running submits nothing and names them; the lock is stale
# only once squeue no longer lists them (a failing squeue is asked again, and is never taken as "gone").

# Slurm tasks start in the submitting folder, but one path must mean one file everywhere: absolute paths.
absolute() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
CONFIG="$(absolute "$CONFIG")" OUTPUT="$(absolute "$OUTPUT")"
case "$PYTHON" in */*) PYTHON="$(absolute "$PYTHON")" ;; esac  # a bare name is looked up on PATH
export CONFIG OUTPUT PYTHON

# live_jobs ID... -> prints those still queued or running (space-separated); exit 2 when squeue keeps failing
live_jobs() {
  local id out attempt live=()
  for id in "$@"; do
    for attempt in 1 2 3 0; do
      [ "$attempt" != 0 ] || { printf 'squeue failed 3 times: %s' "$out"; return 2; }
      if out="$(squeue -h -o %A -t PD,R,CG,CF,S -j "$id" 2>&1)"; then
        [ -z "$out" ] || live+=("$id")
        break
      fi
      case "$out" in *"Invalid job id"*) break ;; esac  # purged after MinJobAge: gone
      sleep "${SQUEUE_RETRY_S:-2}"
    done
  done
  printf '%s' "${live[*]-}"
}

lock="$OUTPUT/slurm/run.lock"
mkdir -p "$OUTPUT/slurm"
if ! ( set -o noclobber; echo "submitting" > "$lock" ) 2> /dev/null; then
  read -r -a held < <(sed -n 's/^jobs: //p' "$lock")
  [ "${#held[@]}" -gt 0 ] || fail "$lock: another submission to $OUTPUT is under way (or one stopped before submitting anything: then remove the file)"
  live="$(live_jobs "${held[@]}")" || fail "$lock: cannot tell whether jobs ${held[*]} of this run are still queued: $live"
  if [ -n "$live" ]; then
    say "jobs of this run are still queued or running: $live; nothing submitted (squeue -j ${live// /,}; scancel them to start over)"
    exit 1
  fi
  say "$lock: jobs ${held[*]} have ended: submitting anew"
  rm -f "$lock"
  ( set -o noclobber; echo "submitting" > "$lock" ) 2> /dev/null || fail "$lock: another submission took the lock just now"
fi
submitted=()
remember() {  # remember() ID: add a submitted job to the lock
  submitted+=("$1")
  printf 'jobs: %s\n' "${submitted[*]}" > "$lock.tmp" && mv "$lock.tmp" "$lock"
}
trap '[ "${#submitted[@]}" -gt 0 ] || rm -f "$lock"' EXIT  # nothing submitted: nothing to hold

submission="$OUTPUT/slurm/$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$submission"
: > "$submission/tasks.txt"
todo=0
index=0
for task in "${tasks[@]}"; do
  index=$((index + 1))
  read -r seed subject <<< "$task"
  out="$(run_output "$seed")" ckpt="$(checkpoints_root "$seed")"
  flags=()
  [ -n "$ckpt" ] && flags+=(--checkpoints "$ckpt")
  [ "$EVAL_ONLY" = 1 ] && flags+=(--eval-only)
  [ "$FORCE" = 1 ] && flags+=(--force)
  [ "$seed" = - ] || flags+=(--seed "$seed")
  decision="$("$PYTHON" -m utils.fold_status --dataset "$DATASET" --config "$CONFIG" --output "$out" \
    --subject "$subject" ${MATCHING:+--matching "$MATCHING"} ${SELECTION:+--selection "$SELECTION"} \
    ${flags[@]+"${flags[@]}"})" || fail "fold $subject: could not decide what it needs (see above)"
  if [ "${decision%%$'\t'*}" = done ]; then
    say "[$index/$total] $subject$([ "$seed" = - ] || echo " (seed $seed)"): ${decision#*$'\t'}"
    continue
  fi
  echo "$task" >> "$submission/tasks.txt"
  todo=$((todo + 1))
done

read -r -a sbatch_args <<< "${SBATCH_ARGS:-}"
[ "$DEVICE" = cuda ] && sbatch_args=(--gres=gpu:1 ${sbatch_args[@]+"${sbatch_args[@]}"})
[ -n "$THREADS" ] && sbatch_args=(--cpus-per-task="$THREADS" ${sbatch_args[@]+"${sbatch_args[@]}"})
fold_after=()
if [ -n "${EXTRACT_SHARDS:-}" ] && [ "$EVAL_ONLY" != 1 ] && [ -z "$CHECKPOINTS" ]; then
  [[ "$EXTRACT_SHARDS" =~ ^[1-9][0-9]*$ ]] || fail "EXTRACT_SHARDS must be a positive whole number"
  feature_root="$("$PYTHON" -m utils.config "$DATASET" segment_feat_root --config "$CONFIG")" \
    || fail "could not read segment_feat_root of '$DATASET' from $CONFIG"
  # The demo's videos are rendered here, once: shards starting together would each render the same tree.
  "$PYTHON" -m dataset.prepare --dataset "$DATASET" --config "$CONFIG" --render-only \
    || fail "could not render the demo videos of '$DATASET' (see above)"
  prepare_id="$(sbatch --parsable --job-name=auwgcn-extract --array="1-$EXTRACT_SHARDS" \
    --output="$submission/extract_%A_%a.out" ${sbatch_args[@]+"${sbatch_args[@]}"} \
    "$here/utils/launch/slurm_extract.sh" "$submission" "$EXTRACT_SHARDS")" \
    || fail "sbatch refused the extraction array (see above)"
  prepare_id="${prepare_id%%;*}"
  remember "$prepare_id"
  echo "$EXTRACT_SHARDS $prepare_id $feature_root" > "$submission/extract.txt"
  # afterany, then each fold task checks the extraction first (slurm_extract_check.sh) and ends at once,
  # naming the failed shard and its log, when the merge did not give it its features.
  fold_after=(--dependency="afterany:$prepare_id")
  say "submitted extraction array $prepare_id: $EXTRACT_SHARDS shards"
fi
if [ "${#training_tasks[@]}" -gt 0 ] && [ "$todo" -gt 0 ]; then  # inner-cv: folds x (K + 1) trainings first
  while read -r task; do fold_trainings "$task" "$groups"; done < "$submission/tasks.txt" > "$submission/training_tasks.txt"
  n_training="$(wc -l < "$submission/training_tasks.txt")"
  training_id="$(sbatch --parsable --job-name=auwgcn-train --array="0-$((n_training - 1))" ${fold_after[@]+"${fold_after[@]}"} \
    --output="$submission/training_%A_%a.out" ${sbatch_args[@]+"${sbatch_args[@]}"} \
    "$here/utils/launch/slurm_training.sh" "$submission/training_tasks.txt")" \
    || fail "sbatch refused the training array (see above)"
  training_id="${training_id%%;*}"
  remember "$training_id"
  fold_after=(--dependency="afterany:$training_id")  # a failed training is redone, named, by its fold's task
  say "submitted training array $training_id: $n_training trainings (inner-cv: $todo folds x $((groups + 1)))"
fi
pool_after=()
if [ "$todo" -gt 0 ]; then
  array_id="$(sbatch --parsable --job-name=auwgcn-folds --array="0-$((todo - 1))" ${fold_after[@]+"${fold_after[@]}"} \
    --output="$submission/fold_%A_%a.out" ${sbatch_args[@]+"${sbatch_args[@]}"} \
    "$here/utils/launch/slurm_fold.sh" "$submission/tasks.txt")" || fail "sbatch refused the fold array (see above)"
  array_id="${array_id%%;*}"
  remember "$array_id"
  pool_after=(--dependency="afterany:$array_id")
  say "submitted fold array $array_id: $todo of $total folds (the others are done)"
elif [ -n "${prepare_id:-}" ]; then
  pool_after=("${fold_after[@]}")
fi
pool_id="$(sbatch --parsable --job-name=auwgcn-pool --output="$submission/pool_%j.out" \
  ${pool_after[@]+"${pool_after[@]}"} ${SBATCH_ARGS:-} \
  "$here/utils/launch/slurm_pool.sh" "$submission" "$todo" "${subjects[@]}")" \
  || fail "sbatch refused the pooling job (see above)"
pool_id="${pool_id%%;*}"
remember "$pool_id"
say "submitted pooling job $pool_id$([ "$todo" = 0 ] || echo " (runs after array $array_id)")"
job_list="${submitted[*]}"
say "follow: squeue -j ${job_list// /,}; logs in $submission/"
if [ "${SLURM_WAIT:-0}" != 1 ]; then
  say "the table appears in $OUTPUT when job $pool_id ends; rerun to submit only the folds still missing"
  exit 0
fi
[ -z "${SLURM_WAIT_S:-}" ] || [[ "$SLURM_WAIT_S" =~ ^[0-9]+$ ]] || fail "SLURM_WAIT_S must be a whole number of seconds, not '$SLURM_WAIT_S'"
say "waiting for job $pool_id (SLURM_WAIT=1${SLURM_WAIT_S:+, at most $SLURM_WAIT_S s})"
waited_from=$SECONDS
while [ ! -f "$submission/pool.rc" ]; do
  if [ -n "${SLURM_WAIT_S:-}" ] && [ $((SECONDS - waited_from)) -ge "$SLURM_WAIT_S" ]; then
    fail "waited SLURM_WAIT_S=$SLURM_WAIT_S s: jobs $job_list go on (squeue -j ${job_list// /,}); rerun or look at $OUTPUT later"
  fi
  if live="$(live_jobs "$pool_id")" && [ -z "$live" ]; then
    sleep 2  # the job may have just written its file
    [ -f "$submission/pool.rc" ] || fail "pooling job $pool_id ended without a result; see $submission/pool_$pool_id.out"
  fi
  sleep 2
done
cat "$submission/pool_$pool_id.out"
[ "$(cat "$submission/pool.rc")" = 0 ] || fail "Slurm run failed: $(paste -sd ';' "$submission/failed.txt" 2>/dev/null | sed 's/\[pipeline\] error: //g' || echo "pooling failed, see $submission/pool_$pool_id.out")"
say "finished in $((SECONDS - started)) s; results in $OUTPUT"
exit 0
