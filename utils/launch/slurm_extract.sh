#!/usr/bin/env bash
# Slurm array task: extraction shard SLURM_ARRAY_TASK_ID of N (python -m dataset.prepare --shard); the last
# shard to finish merges. Writes SUBMISSION/extract_status/<task id> ("<exit code>") for the folds' check.
# slurm_extract.sh SUBMISSION N   (environment as set by pipeline.sh: arguments, not a --wrap string, so any
# character in a path is passed as it is)
set -uo pipefail
dir="$1" n="$2"
"$PYTHON" -m dataset.prepare --dataset "$DATASET" --config "$CONFIG" --jobs "${THREADS:-1}" \
  --shard "$SLURM_ARRAY_TASK_ID/$n"
rc=$?
mkdir -p "$dir/extract_status"
echo "$rc" > "$dir/extract_status/$SLURM_ARRAY_TASK_ID.tmp"
mv "$dir/extract_status/$SLURM_ARRAY_TASK_ID.tmp" "$dir/extract_status/$SLURM_ARRAY_TASK_ID"
exit "$rc"
