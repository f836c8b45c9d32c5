#!/usr/bin/env bash
# One of a fold's K + 1 trainings under inner-cv, as its own task (pipeline.sh with JOBS > 1, and the
# Slurm training array): GROUP "outer" trains the fold's own model (fold.sh, TRAIN_ONLY=1); GROUP k trains
# and evaluates inner model k (inner.sh). The fold's evaluation task runs after all of them.
#
# training.sh SEED SUBJECT GROUP LABEL    environment as for fold.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="$1" subject="$2" group="$3" label="$4"
if [ "$group" = outer ]; then
  TRAIN_ONLY=1 exec bash "$here/utils/launch/fold.sh" "$seed" "$subject" "$label"
fi
exec bash "$here/utils/launch/inner.sh" "$seed" "$subject" "$group" "$label"
