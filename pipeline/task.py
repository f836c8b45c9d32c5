"""Running one task of a graph: :func:`run_one` brings it up to date in this process (the inline runner, every
worker of the local pool, every Slurm array task), and the one generic task entry:

python -m pipeline.task GRAPH TASK_ID            (the local pool, JOBS > 1)
python -m pipeline.task GRAPH --wave W           (a Slurm array task: task SLURM_ARRAY_TASK_ID of wave W)

GRAPH is the JSON file the runner wrote (the request and the tasks). A Slurm array task also writes
``<GRAPH's folder>/status/<task>`` (``<exit status> <one line>``) for the submitting side's report.
Exit status: 0 done (now or before), 2 a user error or a task it needs not done, 1 anything else; a failure is
one line ``error: <task> failed: ...`` on stderr.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from utils.cli import Parser, reuse_freed_memory
from utils.errors import UserError, exit_process, print_error
from utils.io import atomic_write_text

from pipeline.graph import Decider, TaskFailed, execute, label
from pipeline.request import Request
from pipeline.run import Run, Task


def say(message: str) -> None:
    """A progress line of the run on stdout; errors are utils.errors.print_error's ``error: ...`` on stderr."""
    print(f"[pipeline {datetime.now():%H:%M:%S}] {message}", flush=True)


def use_threads(threads: int) -> None:
    """Every training and evaluation of a run uses the same torch thread count: the same count, the same bytes."""
    import torch

    torch.set_num_threads(threads)


def run_one(decider: Decider, task_id: str, prefix: str = "") -> tuple[int, str]:
    """Bring one task up to date in this process; ``(exit status, one line)``. 0: done (now or before); 2: a
    user error (bad input, a task it needs not done); 1: anything else (its traceback is printed first)."""
    task = decider.tasks[task_id]
    try:
        status = decider.to_run(task_id)
        if status.state != "done":
            say(f"{prefix}{label(task)} ({status.reason})")
        started = time.monotonic()
        found = execute(decider, task_id)
    except UserError as error:
        return 2, f"{label(task)} failed: {error}"
    except TaskFailed as error:
        return 1, str(error)
    except Exception as error:  # a bug, most likely: the whole traceback, then its one line
        traceback.print_exc()
        return 1, f"{label(task)} failed: internal error (likely a bug) {type(error).__name__}: {error}"
    if found.state == "done":
        say(f"{prefix}{label(task)}: done before, skipped (FORCE=1 redoes it)")
    else:
        say(f"{prefix}{label(task)}: finished in {time.monotonic() - started:.0f} s")
    return 0, "done"


def status_path(graph: Path, task_file_name: str) -> Path:
    return Path(graph).parent / "status" / task_file_name


def run_in_worker(graph_file: str, task_id: str, log: str) -> int:
    """The generic task entry in a pool worker, its output (and its child processes') going to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    handle = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    try:
        return main([graph_file, task_id])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (handle, *saved):
            os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description="Bring one task of a pipeline graph up to date.")
    parser.add_argument("graph", type=Path)
    parser.add_argument("task", nargs="?", default=None, help="the task's id (or --wave)")
    parser.add_argument("--wave", type=int, default=None, help="Slurm: the wave whose task SLURM_ARRAY_TASK_ID runs")
    args = parser.parse_args(argv)
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
        print_error(line)
    if args.wave is not None:
        atomic_write_text(status_path(args.graph, tasks[task_id].file_name), f"{code} {line}\n")
    return code


if __name__ == "__main__":
    exit_process(main())
