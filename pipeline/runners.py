"""Running a graph: in this process (JOBS=1) or on a local pool of worker processes (JOBS > 1), each running one
task as pipeline/task.py does (as Slurm's array tasks do). Both ask the decision of pipeline/graph.py before starting
a task: a done task starts nothing.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from utils.errors import UserError, print_error
from utils.io import atomic_write_text

from pipeline.graph import Decider, clear_stale, dependents, label
from pipeline.request import Request
from pipeline.run import Task
from pipeline.task import run_in_worker, run_one, say, use_threads

LOG_TAIL = 15  # lines of a failed task's log shown on the terminal


def graph_document(request: Request, tasks: dict[str, Task], waves: list[list[str]] | None = None) -> dict:
    document = {"request": request.to_json(), "tasks": [task.to_json() for task in tasks.values()]}
    if waves is not None:
        document["waves"] = waves
    return document


def write_graph(path: Path, request: Request, tasks: dict[str, Task], waves: list[list[str]] | None = None) -> Path:
    return atomic_write_text(path, json.dumps(graph_document(request, tasks, waves), indent=1) + "\n")


def run_inline(decider: Decider, keep_going: bool = False) -> int:
    """Every task in graph order, in this process; the first failure stops the run (finished tasks are kept),
    unless ``keep_going`` (tasks that read nothing of each other: spot.py's inputs)."""
    use_threads(decider.run.request.threads)
    ids = list(decider.tasks)
    failed = 0
    for index, task_id in enumerate(ids, 1):
        code, line = run_one(decider, task_id, f"[{index}/{len(ids)}] ")
        if code:
            clear_after(decider, [task_id])
            print_error(f"{line}; fix it and rerun: finished tasks are kept")
            if not keep_going:
                return 1
            failed += 1
    return 1 if failed else 0


def clear_after(decider: Decider, failed: list[str]) -> None:
    """The tasks after failed ones lose their old outputs (pipeline/graph.py's clear_stale)."""
    for name in dict.fromkeys(name for task_id in failed for name in dependents(decider.tasks, task_id)):
        try:
            clear_stale(decider, name)
        except UserError:  # a folder this run must not touch: it was refused already
            pass


def _tail(log: Path, name: str) -> None:
    try:
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
    except OSError:
        return
    for line in lines:
        print(f"[{name}] {line}", file=sys.stderr)


def run_pool(decider: Decider, graph_file: Path, keep_going: bool = False) -> int:
    """Up to JOBS tasks at once, each run by the generic task entry in one of JOBS worker processes (started
    once: a task costs no interpreter start), its output in ``<run>/pipeline_logs/<task>.log``. A task starts
    once the tasks it reads are done, and only when the decision says it is not done. The first failure starts
    no more tasks (unless ``keep_going``: tasks that read nothing of each other); the running ones finish."""
    run = decider.run
    jobs = run.request.jobs
    waiting = list(decider.tasks)
    finished: set[str] = set()
    running: dict[Future, tuple[str, Path]] = {}
    failed: list[tuple[str, str]] = []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while waiting or running:
            for task_id in list(waiting):
                if (failed and not keep_going) or len(running) >= jobs:
                    break
                task = decider.tasks[task_id]
                if not set(task.deps) <= finished:
                    continue
                waiting.remove(task_id)
                status = decider.to_run(task_id)
                if status.state == "done":
                    say(f"{label(task)}: done before, skipped (FORCE=1 redoes it)")
                    finished.add(task_id)
                    continue
                log = run.layout.task_log(task.file_name)
                log.parent.mkdir(parents=True, exist_ok=True)
                say(f"{label(task)} ({status.reason}); log: {log}")
                running[pool.submit(run_in_worker, str(graph_file), task_id, str(log))] = (task_id, log)
            if not running:
                if waiting and not failed:  # nothing can start, nothing runs: a dependency never finished
                    failed.append((waiting[0], "the tasks it reads did not finish"))
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task_id, log = running.pop(future)
                decider.forget(task_id)
                task = decider.tasks[task_id]
                try:
                    why = f"exit {future.result()}"
                except BrokenProcessPool as error:  # the worker died (a native crash, killed for memory)
                    why = f"its worker process died: {error}"
                if why == "exit 0":
                    finished.add(task_id)
                    say(f"{label(task)}: finished")
                else:
                    _tail(log, task.file_name)
                    failed.append((task_id, f"{why}; log: {log}"))
    clear_after(decider, [task_id for task_id, _ in failed])
    for task_id, why in failed:
        print_error(f"{label(decider.tasks[task_id])} failed ({why}); fix it and rerun: finished tasks are kept")
    return 1 if failed else 0
