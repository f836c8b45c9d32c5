"""The run's task graph and the one decision of the project: is a task done?

A task (:class:`pipeline.run.Task`) is a unit of work of one kind (pipeline/tasks.py). Its **key** is a hash of
exactly what it reads (:meth:`Decider.status`): the resolved config values its kind lists, the content of the files
it reads (as digests, never paths), the subjects, the seed, the run's thread count and device, and the keys of the
tasks whose outputs it consumes. A task's outputs record the key in a **stamp**, written last and atomically in
the folder of its outputs (utils/layout.py). A task is **done** when its outputs are complete and its stamp holds
the key asked for now. A task whose key changed has its old outputs cleared before it runs again
(:func:`execute`), so old and new outputs never mix. A task whose dependencies are not all done has no key yet
(its inputs are still to be written): it waits.

Every runner (pipeline/runners.py, pipeline/slurm.py) and every entry (``python -m pipeline``, ``python -m
pipeline.task``, eval.py's inner models, spot.py's check) asks this module; nothing else decides.
"""
from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dataset.settings import DataSettings
from utils.config import check_subject
from utils.errors import UserError

from pipeline.run import Run, Task, digest, read_stamp, write_stamp
from pipeline.tasks import KINDS, key_reads


def check_request(run: Run) -> None:
    """What can be checked before any work: every fold a subject of subject_list (the config, with the
    request's overrides, was checked when :class:`Run` loaded it)."""
    for subject in run.subjects:
        check_subject(subject, DataSettings.from_config(run.config).subjects)
    if len(set(run.subjects)) != len(run.subjects):
        raise UserError(f"SUBJECTS names a subject twice: {' '.join(run.subjects)}")


# --------------------------------------------------------------------------- how a stamp differs from what is asked now


def _leaves(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        leaves = {}
        for name, item in value.items():
            leaves.update(_leaves(item, f"{prefix}{name} " if not isinstance(item, dict) else f"{prefix}{name}: "))
        return leaves
    return {prefix.rstrip(": ").strip(): value}


def changes(recorded: dict | None, asked: dict) -> str:
    """What differs between a stamp's reads and the reads asked now, in a few words."""
    if not isinstance(recorded, dict):
        return "not done yet"
    was, now = _leaves(recorded), _leaves(asked)
    phrases = []
    for name in sorted(set(was) | set(now), key=lambda n: (n.count(":"), n)):
        if was.get(name) == now.get(name):
            continue
        if name not in was or name not in now:
            phrases.append(f"{name} {'new' if name not in was else 'gone'}")
        elif isinstance(now[name], str) and len(now[name]) == 64:  # a content digest
            phrases.append(f"{name} changed")
        else:
            phrases.append(f"{name} {was[name]} -> {now[name]}")
    shown = phrases[:3] + ([f"{len(phrases) - 3} more"] if len(phrases) > 3 else [])
    return ", ".join(shown) or "not done yet"


# --------------------------------------------------------------------------- the decision


@dataclass
class Status:
    """``state``: ``done``, ``todo`` (its key is known and not recorded) or ``waiting`` (a dependency is not
    done, so its inputs are not there yet); ``reason`` in a few words."""

    state: str
    reason: str
    key: str | None = None
    reads: dict | None = None


@dataclass
class Decider:
    """Statuses of a graph's tasks, each computed once and forgotten when the task or one it depends on runs."""

    run: Run
    tasks: dict[str, Task]
    statuses: dict[str, Status] = field(default_factory=dict)

    def status(self, task_id: str, ignore_deps: bool = False) -> Status:
        if task_id in self.statuses and not ignore_deps:
            return self.statuses[task_id]
        task = self.tasks[task_id]
        if not ignore_deps:
            for dep in task.deps:
                before = self.status(dep)
                if before.state != "done":
                    self.statuses[task_id] = Status("waiting", f"after {label(self.tasks[dep])}")
                    return self.statuses[task_id]
        kind = KINDS[task.kind]
        reads = key_reads(self.run, task, lambda dep: self.status(dep).key)
        key = digest(reads)
        stamp = read_stamp(kind.stamp(self.run, task))
        if stamp is None or stamp["key"] != key:
            status = Status("todo", changes(stamp and stamp.get("reads"), reads), key, reads)
        elif not kind.complete(self.run, task, reads):
            status = Status("todo", "its outputs are incomplete", key, reads)
        else:
            status = Status("done", "done before", key, reads)
        if not ignore_deps:
            self.statuses[task_id] = status
        return status

    def to_run(self, task_id: str) -> Status:
        """The status a runner acts on: with FORCE=1 a done task of a kind FORCE redoes is to do (the tasks
        that read it still find it done: FORCE redoes each task once, in graph order)."""
        status = self.status(task_id)
        if status.state == "done" and self.run.request.force and KINDS[self.tasks[task_id].kind].forced:
            return Status("todo", "FORCE=1", status.key, status.reads)
        return status

    def forget(self, task_id: str) -> None:
        """``task_id`` ran: its status and those of every task after it are asked anew."""
        for name in [task_id, *dependents(self.tasks, task_id)]:
            self.statuses.pop(name, None)


def label(task: Task) -> str:
    return KINDS[task.kind].label(task)


@contextlib.contextmanager
def task_lock(stamp: Path) -> Iterator[None]:
    """One process at a time brings a task up to date (a rerun beside a run it survived, two Slurm jobs)."""
    lock = stamp.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{lock}: another process is running this task now; wait for it or end it") from None
        yield


class TaskFailed(Exception):
    """A task's run raised: ``cause`` is its one line."""

    def __init__(self, task: Task, cause: str) -> None:
        super().__init__(f"{label(task)} failed: {cause}")
        self.task = task
        self.cause = cause


def dependents(tasks: dict[str, Task], task_id: str) -> list[str]:
    """The tasks that read ``task_id``'s outputs, directly or through others, in graph order."""
    found = {task_id}
    for task in tasks.values():  # the graph is in dependency order
        if found & set(task.deps):
            found.add(task.id)
    return [name for name in tasks if name in found and name != task_id]


def clear_stale(decider: Decider, task_id: str) -> None:
    """A task whose inputs are not all there (a task it reads failed) cannot hold current outputs: its stamp and
    outputs go, so that no old table is read as this run's."""
    task = decider.tasks[task_id]
    kind = KINDS[task.kind]
    kind.refuse(decider.run, task)
    stamp = kind.stamp(decider.run, task)
    # no stamps folder: the task never ran here, and no lock file is made where there was none
    with task_lock(stamp) if stamp.parent.is_dir() else contextlib.nullcontext():
        stamp.unlink(missing_ok=True)
        kind.clear(decider.run, task)
    decider.statuses.pop(task_id, None)


def execute(decider: Decider, task_id: str) -> Status:
    """Bring one task up to date: check its dependencies, decide, clear its old outputs, run it, stamp it.
    Returns the status it was found in (``done``: nothing was run)."""
    run, task = decider.run, decider.tasks[task_id]
    kind = KINDS[task.kind]
    kind.refuse(run, task)
    for dep in task.deps:
        before = decider.status(dep)
        if before.state != "done":
            clear_stale(decider, task_id)
            raise UserError(f"{label(task)} needs {label(decider.tasks[dep])}, which is not done ({before.reason})")
    stamp = kind.stamp(run, task)
    with task_lock(stamp):
        decider.statuses.pop(task_id, None)  # another process may have done it meanwhile
        status = decider.to_run(task_id)
        if status.state == "done":
            return status
        stamp.unlink(missing_ok=True)  # first: a kill from here on leaves the task not done
        kind.clear(run, task)
        kind.run(run, task, status.reads)
        if not kind.complete(run, task, status.reads):
            raise TaskFailed(task, "it ended without all its outputs (likely a bug)")
        write_stamp(stamp, task, status.key, status.reads)
    if kind.writes_inputs:
        run.inputs_changed()
    decider.forget(task_id)
    decider.statuses[task_id] = Status("done", "done now", status.key, status.reads)
    return status
