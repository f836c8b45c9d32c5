"""The one generic task entry: bring one task of a written graph up to date.

python -m pipeline.task GRAPH TASK_ID            (the local pool, JOBS > 1)
python -m pipeline.task GRAPH --wave W           (a Slurm array task: task SLURM_ARRAY_TASK_ID of wave W)

GRAPH is the JSON file the runner wrote (the request and the tasks). A Slurm array task also writes
``<GRAPH's folder>/status/<task>`` (``<exit status> <one line>``) for the submitting side's report.
Exit status: 0 done (now or before), 2 a user error or a task it needs not done, 1 anything else.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from utils.io import atomic_write_text


def status_path(graph: Path, task_file_name: str) -> Path:
    return Path(graph).parent / "status" / task_file_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bring one task of a pipeline graph up to date.")
    parser.add_argument("graph", type=Path)
    parser.add_argument("task", nargs="?", default=None, help="the task's id (or --wave)")
    parser.add_argument("--wave", type=int, default=None, help="Slurm: the wave whose task SLURM_ARRAY_TASK_ID runs")
    args = parser.parse_args(argv)
    from utils.cli import reuse_freed_memory

    from pipeline.graph import Decider, Run, Task
    from pipeline.request import Request
    from pipeline.runners import fail_line, run_one, use_threads

    document = json.loads(args.graph.read_text())
    tasks = {task.id: task for task in map(Task.from_json, document["tasks"])}
    task_id = args.task if args.wave is None else document["waves"][args.wave][int(os.environ["SLURM_ARRAY_TASK_ID"])]
    request = Request.from_json(document["request"])
    reuse_freed_memory()
    use_threads(request.threads)
    try:
        decider = Decider(Run(request), tasks)
        code, line = run_one(decider, task_id)
    except Exception as error:  # the run itself cannot be set up (a config edited since): still one status
        code, line = 2, f"{task_id}: {type(error).__name__}: {error}"
    if code:
        fail_line(line)
    if args.wave is not None:
        atomic_write_text(status_path(args.graph, tasks[task_id].file_name), f"{code} {line}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
