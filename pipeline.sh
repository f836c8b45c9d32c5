#!/usr/bin/env bash
# Leave-one-subject-out run: prepare the data, train and evaluate every fold, pool the scores, plot.
# Every step is a task keyed by what it reads, redone only when that changes (python -m pipeline, pipeline/).
#
# Environment (all optional):
#   DATASET    config section (default: mesynth, the bundled demo)
#   CONFIG     config file (default: config.yaml beside this script)
#   OUTPUT     run folder (default: data/runs/<DATASET> beside this script)
#   SUBJECTS   space-separated subjects (default: the section's subject_list)
#   FORCE=1    redo every task of the run (training, evaluation, pooling...; not the feature extraction)
#   EVAL_ONLY=1  evaluate existing checkpoints without training
#   CHECKPOINTS  read-only checkpoint root (e.g. the published archive); results go to OUTPUT
#   DEVICE     cpu | cuda | auto (default: the config's device)
#   MATCHING   matching rule; SELECTION  epoch selection protocol (eval.py --help lists both); SELECTION=inner-cv
#              takes each fold's epoch from inner models on its training subjects (needs adjacency_scope: train;
#              each inner model is a task of its own)
#   FINAL=1    after the LOSO: train one model on every subject at the LOSO's epoch, in OUTPUT/final/
#   MEGC_FRAMES  published (default: as evaluated, +1 shift) | raw: prediction frames of the MEGC files
#   JOBS       tasks run at once (default 1: all in this process); also the extraction's workers
#   THREADS    torch threads per task (default: cores / JOBS, at least 1); same THREADS -> same bytes
#   SEEDS      e.g. "1 2 3": one LOSO per seed in OUTPUT/seed_<s>/, plus OUTPUT/seed_results.csv
#   LAUNCHER   local (default) | slurm: the tasks not done yet as Slurm arrays with dependencies
#   SBATCH_ARGS  extra sbatch options, e.g. "--partition=gpu --time=02:00:00 --cpus-per-task=4"
#   SLURM_WAIT=1  with LAUNCHER=slurm: wait for the jobs; non-zero exit naming each failed task
#   SLURM_WAIT_S  with SLURM_WAIT=1: wait at most this many seconds (default: no limit)
#   EXTRACT_SHARDS=N  with LAUNCHER=slurm: extract raw_root as an array of N shards, then merge
#   PYTHON     interpreter (default: python)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python}" -P -m pipeline "$@"  # -P: the repository, not the caller's folder, comes first
