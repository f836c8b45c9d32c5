#!/usr/bin/env bash
# Slurm array task of inner-cv: line SLURM_ARRAY_TASK_ID+1 of TASKS ("SEED SUBJECT GROUP", GROUP "outer" or
# an inner group) is one of the folds x (K + 1) trainings (utils/launch/training.sh). The fold array runs
# after this one, evaluates, and redoes any training left missing.
set -uo pipefail
here="$AUWGCN_ROOT"  # Slurm runs a copy of this script: the repository comes from pipeline.sh
read -r seed subject group < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$1")
THREADS="${THREADS:-${SLURM_CPUS_PER_TASK:-1}}" QUIET=1
export THREADS QUIET
exec bash "$here/utils/launch/training.sh" "$seed" "$subject" "$group" "[training task $SLURM_ARRAY_TASK_ID]"
