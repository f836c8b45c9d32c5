#!/usr/bin/env bash
# One Slurm array task of a pipeline run (pipeline/slurm.py submits it): task SLURM_ARRAY_TASK_ID of wave WAVE
# of GRAPH, through the one generic task entry. Arguments, not a --wrap string, so any character in a path is
# passed as it is; Slurm runs a copy of this script, so the repository comes as an argument too.
#   slurm_task.sh REPO PYTHON GRAPH WAVE
export PYTHONPATH="$1${PYTHONPATH:+:$PYTHONPATH}"
exec "$2" -P -m pipeline.task "$3" --wave "$4"
