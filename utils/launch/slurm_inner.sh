#!/usr/bin/env bash
# Slurm array task of inner-cv: line SLURM_ARRAY_TASK_ID+1 of TASKS ("SEED SUBJECT GROUP") is the inner
# model to train and evaluate. The fold array runs after this one and redoes any inner model left missing.
set -uo pipefail
here="$AUWGCN_ROOT"  # Slurm runs a copy of this script: the repository comes from pipeline.sh
read -r seed subject group < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$1")
THREADS="${THREADS:-${SLURM_CPUS_PER_TASK:-1}}" QUIET=1
export THREADS QUIET
exec bash "$here/utils/launch/inner.sh" "$seed" "$subject" "$group" "[inner task $SLURM_ARRAY_TASK_ID]"
