"""LAUNCHER=slurm: the graph's tasks that are not done, as Slurm arrays with dependencies.

The run lock comes first, before any other work: ``OUTPUT/slurm/run.lock`` holds the job ids of the last
submission. A rerun while any of them is queued or running submits nothing and touches nothing; the lock is
stale only once squeue no longer lists them (a failing squeue is asked again, and is never taken as "gone").

Then the decision of pipeline/graph.py: done tasks are left out. The others go in waves: a task's wave is one
more than the latest wave of the tasks it reads, and each wave is one array (``sbatch --array``) that starts
after the one before it has ended (``afterany``). Every array task runs the one generic entry
(``pipeline/slurm_task.sh`` -> ``python -m pipeline.task GRAPH --wave W``), which decides again, checks that
the tasks it reads are done (else it ends at once, naming them) and writes its status. SLURM_WAIT=1 waits for
the jobs and names every task that failed, with its log.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from utils.errors import UserError, print_error
from utils.layout import RunLayout

from pipeline.graph import Decider, label
from pipeline.request import REPO_ROOT, Request
from pipeline.runners import write_graph
from pipeline.task import say, status_path

SCRIPT = Path(__file__).with_name("slurm_task.sh")
LIVE_STATES = "PD,R,CG,CF,S"


def live_jobs(ids: list[str]) -> list[str]:
    """Those of ``ids`` still queued or running; UserError when squeue keeps failing."""
    live = []
    for job in ids:
        for attempt in range(3):
            result = subprocess.run(["squeue", "-h", "-o", "%A", "-t", LIVE_STATES, "-j", job], capture_output=True,
                                    text=True)
            if result.returncode == 0:
                if result.stdout.strip():
                    live.append(job)
                break
            if "Invalid job id" in result.stderr:  # purged after MinJobAge: gone
                break
            if attempt == 2:
                raise UserError(f"squeue failed 3 times: {result.stderr.strip()}")
            time.sleep(float(os.environ.get("SQUEUE_RETRY_S", "2")))
    return live


class RunLock:
    """``OUTPUT/slurm/run.lock``: ``submitting``, then ``jobs: <id> ...`` as each job is submitted."""

    def __init__(self, layout: RunLayout) -> None:
        self.path = layout.slurm_lock
        self.jobs: list[str] = []

    def _create(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.path, "x") as handle:
                handle.write("submitting\n")
        except FileExistsError:
            return False
        return True

    def take(self) -> None:
        """Take the lock; UserError naming the jobs that hold it, or the submission under way."""
        if self._create():
            return
        text = self.path.read_text()
        held = text.split(":", 1)[1].split() if text.startswith("jobs:") else []
        if not held:
            raise UserError(f"{self.path}: another submission to {self.path.parent.parent} is under way (or one "
                            "stopped before submitting anything: then remove the file)")
        try:
            live = live_jobs(held)
        except UserError as error:
            raise UserError(f"{self.path}: cannot tell whether jobs {' '.join(held)} of this run are still queued: "
                            f"{error}") from None
        if live:
            raise Held(live)
        say(f"{self.path}: jobs {' '.join(held)} have ended: submitting anew")
        self.path.unlink()
        if not self._create():
            raise UserError(f"{self.path}: another submission took the lock just now")

    def remember(self, job: str) -> None:
        self.jobs.append(job)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"jobs: {' '.join(self.jobs)}\n")
        tmp.replace(self.path)

    def release_if_empty(self) -> None:
        if not self.jobs:
            self.path.unlink(missing_ok=True)


class Held(Exception):
    def __init__(self, live: list[str]) -> None:
        super().__init__(" ".join(live))
        self.live = live


def waves(decider: Decider, todo: list[str]) -> list[list[str]]:
    """The tasks to submit by wave: one more than the latest wave of the submitted tasks each one reads."""
    wave_of: dict[str, int] = {}
    for task_id in todo:  # graph order: a task's dependencies come first
        deps = [wave_of[dep] for dep in decider.tasks[task_id].deps if dep in wave_of]
        wave_of[task_id] = 1 + max(deps) if deps else 0
    grouped = [[] for _ in range(max(wave_of.values()) + 1)] if wave_of else []
    for task_id, wave in wave_of.items():
        grouped[wave].append(task_id)
    return grouped


def sbatch(arguments: list[str]) -> str:
    result = subprocess.run(["sbatch", "--parsable", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"sbatch refused the job: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def submit(request: Request, decider: Decider, lock: RunLock) -> tuple[Path, list[list[str]], list[str]] | None:
    """Submit every task that is not done; ``(submission folder, waves, job ids)``, or None when all are done."""
    todo = []
    for task_id, task in decider.tasks.items():
        status = decider.to_run(task_id)
        if status.state == "done":
            say(f"{label(task)}: done before, skipped (FORCE=1 redoes it)")
        else:
            todo.append(task_id)
    if not todo:
        return None
    submission = request.output / "slurm" / f"{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    grouped = waves(decider, todo)
    graph = write_graph(submission / "graph.json", request, decider.tasks, grouped)
    options = [f"--cpus-per-task={request.threads}"]
    if decider.run.device.type == "cuda":
        options.append("--gres=gpu:1")
    options += list(request.sbatch_args)
    jobs: list[str] = []
    for index, wave in enumerate(grouped):
        after = [f"--dependency=afterany:{jobs[-1]}"] if jobs else []
        kinds = sorted({decider.tasks[t].kind for t in wave})
        job = sbatch([f"--job-name=auwgcn-{'-'.join(kinds)}", f"--array=0-{len(wave) - 1}", *after,
                      f"--output={submission}/wave{index}_%A_%a.out", *options, str(SCRIPT), str(REPO_ROOT),
                      sys.executable, str(graph), str(index)])
        lock.remember(job)
        jobs.append(job)
        say(f"submitted wave {index} as array {job}: {len(wave)} task(s) ({', '.join(kinds)})")
    return submission, grouped, jobs


def report(decider: Decider, submission: Path, grouped: list[list[str]], jobs: list[str]) -> int:
    """After the jobs: each task's status; the failures named with their logs (those that only waited on a
    failed task after them)."""
    failures, waited = [], []
    for index, (wave, job) in enumerate(zip(grouped, jobs)):
        for array_index, task_id in enumerate(wave):
            task = decider.tasks[task_id]
            log = submission / f"wave{index}_{job}_{array_index}.out"
            try:
                code, line = status_path(submission / "graph.json", task.file_name).read_text().split(" ", 1)
            except (OSError, ValueError):
                failures.append(f"{label(task)} ended without a status (killed or timed out?); log: {log}")
                continue
            if code == "0":
                continue
            (waited if "which is not done" in line else failures).append(f"{line.strip()}; log: {log}")
    for line in failures or waited:
        print_error(f"Slurm run failed: {line}")
    if failures and waited:
        print_error(f"... and {len(waited)} task(s) that needed them did not run")
    return 1 if failures or waited else 0


def run_slurm(request: Request, make_decider) -> int:
    """LAUNCHER=slurm: lock, decide, submit; with SLURM_WAIT=1 wait and report. ``make_decider()`` builds the
    graph (after the lock: it reads the config and the inputs)."""
    layout = RunLayout(request.output)
    lock = RunLock(layout)
    try:
        lock.take()
    except Held as held:
        jobs = held.live
        say(f"jobs of this run are still queued or running: {' '.join(jobs)}; nothing submitted "
            f"(squeue -j {','.join(jobs)}; scancel them to start over)")
        return 1
    try:
        decider = make_decider()
        submitted = submit(request, decider, lock)
    finally:
        lock.release_if_empty()
    if submitted is None:
        say(f"every task is done; nothing submitted; results in {request.output}")
        return 0
    submission, grouped, jobs = submitted
    say(f"follow: squeue -j {','.join(jobs)}; logs in {submission}/")
    if not request.slurm_wait:
        say(f"the tables appear in {request.output} when job {jobs[-1]} ends; rerun to submit only what is still "
            "missing")
        return 0
    say(f"waiting for jobs {' '.join(jobs)} (SLURM_WAIT=1"
        + (f", at most {request.slurm_wait_s} s)" if request.slurm_wait_s is not None else ")"))
    started = time.monotonic()
    while live_jobs(jobs):
        if request.slurm_wait_s is not None and time.monotonic() - started >= request.slurm_wait_s:
            raise UserError(f"waited SLURM_WAIT_S={request.slurm_wait_s} s: jobs {' '.join(jobs)} go on "
                            f"(squeue -j {','.join(jobs)}); rerun or look at {request.output} later")
        time.sleep(2)
    return report(decider, submission, grouped, jobs)
