#!/usr/bin/env bash
# Slurm array task: line SLURM_ARRAY_TASK_ID+1 of TASKS ("SEED SUBJECT") is the fold to run.
# Writes <TASKS folder>/status/<task id> ("<exit code> <seed> <subject>") for the pooling job.
# When the submission's extraction array did not give the fold its features, ends at once (exit 3).
set -uo pipefail
tasks="$1"
dir="$(dirname "$tasks")"
here="$AUWGCN_ROOT"  # Slurm runs a copy of this script: the repository comes from pipeline.sh
read -r seed subject < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$tasks")
THREADS="${THREADS:-${SLURM_CPUS_PER_TASK:-1}}" QUIET=1
export THREADS QUIET
if bash "$here/utils/launch/slurm_extract_check.sh" "$dir" "$subject"; then
  bash "$here/utils/launch/fold.sh" "$seed" "$subject" "[task $SLURM_ARRAY_TASK_ID]"
  rc=$?
else
  rc=3
fi
mkdir -p "$dir/status"
echo "$rc $seed $subject" > "$dir/status/$SLURM_ARRAY_TASK_ID.tmp"
mv "$dir/status/$SLURM_ARRAY_TASK_ID.tmp" "$dir/status/$SLURM_ARRAY_TASK_ID"
exit "$rc"
