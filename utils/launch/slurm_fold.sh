#!/usr/bin/env bash
# Slurm array task: line SLURM_ARRAY_TASK_ID+1 of TASKS ("SEED SUBJECT") is the fold to run.
# Writes <TASKS folder>/status/<task id> ("<exit code> <seed> <subject>") for the pooling job.
set -uo pipefail
tasks="$1"
here="$AUWGCN_ROOT"  # Slurm runs a copy of this script: the repository comes from pipeline.sh
read -r seed subject < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$tasks")
THREADS="${THREADS:-${SLURM_CPUS_PER_TASK:-1}}" QUIET=1
export THREADS QUIET
bash "$here/utils/launch/fold.sh" "$seed" "$subject" "[task $SLURM_ARRAY_TASK_ID]"
rc=$?
mkdir -p "$(dirname "$tasks")/status"
echo "$rc $seed $subject" > "$(dirname "$tasks")/status/$SLURM_ARRAY_TASK_ID.tmp"
mv "$(dirname "$tasks")/status/$SLURM_ARRAY_TASK_ID.tmp" "$(dirname "$tasks")/status/$SLURM_ARRAY_TASK_ID"
exit "$rc"
