# LAUNCHER=slurm part of pipeline.sh (sourced; uses its tasks, subjects, total): one array task per fold
# that is not done yet, by the same rule as a local run (utils.fold_status), then a pooling job after
# the array. Prints the job ids; SLURM_WAIT=1 waits for the pooled table. Always exits.
command -v sbatch >/dev/null || fail "LAUNCHER=slurm but sbatch is not on PATH"
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
  # The demo's videos are rendered here, once: shards starting together would each render the same tree.
  "$PYTHON" -m dataset.prepare --dataset "$DATASET" --config "$CONFIG" --render-only \
    || fail "could not render the demo videos of '$DATASET' (see above)"
  # Single quotes: the task id is expanded in the task. The last shard to finish merges.
  prepare_id="$(sbatch --parsable --job-name=auwgcn-extract --array="1-$EXTRACT_SHARDS" \
    --output="$submission/extract_%A_%a.out" ${sbatch_args[@]+"${sbatch_args[@]}"} --wrap \
    "cd '$here' && '$PYTHON' -m dataset.prepare --dataset '$DATASET' --config '$CONFIG' --jobs ${THREADS:-1} --shard \$SLURM_ARRAY_TASK_ID/$EXTRACT_SHARDS")" \
    || fail "sbatch refused the extraction array (see above)"
  prepare_id="${prepare_id%%;*}"
  fold_after=(--dependency="afterany:$prepare_id")  # a failed video fails only its folds, named
  say "submitted extraction array $prepare_id: $EXTRACT_SHARDS shards"
fi
if [ "${#inner_tasks[@]}" -gt 0 ] && [ "$todo" -gt 0 ]; then  # inner-cv: the folds' inner models first
  while read -r task; do for ((group = 0; group < groups; group++)); do echo "$task $group"; done
  done < "$submission/tasks.txt" > "$submission/inner_tasks.txt"
  n_inner="$(wc -l < "$submission/inner_tasks.txt")"
  inner_id="$(sbatch --parsable --job-name=auwgcn-inner --array="0-$((n_inner - 1))" ${fold_after[@]+"${fold_after[@]}"} \
    --output="$submission/inner_%A_%a.out" ${sbatch_args[@]+"${sbatch_args[@]}"} \
    "$here/utils/launch/slurm_inner.sh" "$submission/inner_tasks.txt")" || fail "sbatch refused the inner array (see above)"
  inner_id="${inner_id%%;*}"
  fold_after=(--dependency="afterany:$inner_id")  # a failed inner task is redone, named, by its fold's task
  say "submitted inner array $inner_id: $n_inner inner models (inner-cv)"
fi
pool_after=()
if [ "$todo" -gt 0 ]; then
  array_id="$(sbatch --parsable --job-name=auwgcn-folds --array="0-$((todo - 1))" ${fold_after[@]+"${fold_after[@]}"} \
    --output="$submission/fold_%A_%a.out" ${sbatch_args[@]+"${sbatch_args[@]}"} \
    "$here/utils/launch/slurm_fold.sh" "$submission/tasks.txt")" || fail "sbatch refused the fold array (see above)"
  array_id="${array_id%%;*}"
  pool_after=(--dependency="afterany:$array_id")
  say "submitted fold array $array_id: $todo of $total folds (the others are done)"
fi
pool_id="$(sbatch --parsable --job-name=auwgcn-pool --output="$submission/pool_%j.out" \
  ${pool_after[@]+"${pool_after[@]}"} ${SBATCH_ARGS:-} \
  "$here/utils/launch/slurm_pool.sh" "$submission" "$todo" "${subjects[@]}")" \
  || fail "sbatch refused the pooling job (see above)"
pool_id="${pool_id%%;*}"
say "submitted pooling job $pool_id$([ "$todo" = 0 ] || echo " (runs after array $array_id)")"
say "follow: squeue -j ${array_id:+$array_id,}$pool_id; logs in $submission/"
if [ "${SLURM_WAIT:-0}" != 1 ]; then
  say "the table appears in $OUTPUT when job $pool_id ends; rerun to submit only the folds still missing"
  exit 0
fi
say "waiting for job $pool_id (SLURM_WAIT=1)"
while [ ! -f "$submission/pool.rc" ]; do
  if ! squeue -h -j "$pool_id" 2>/dev/null | grep -q .; then
    sleep 2  # the job may have just written its file
    [ -f "$submission/pool.rc" ] || fail "pooling job $pool_id ended without a result; see $submission/pool_$pool_id.out"
  fi
  sleep 2
done
cat "$submission/pool_$pool_id.out"
[ "$(cat "$submission/pool.rc")" = 0 ] || fail "Slurm run failed: $(paste -sd ';' "$submission/failed.txt" 2>/dev/null | sed 's/\[pipeline\] error: //g' || echo "pooling failed, see $submission/pool_$pool_id.out")"
say "finished in $((SECONDS - started)) s; results in $OUTPUT"
exit 0
