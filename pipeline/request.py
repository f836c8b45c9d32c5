"""What a run is asked to do: pipeline.sh's environment interface (README.md, docs/cluster.md), read and checked
in one place, with a one-line error for a bad value before any work.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from utils.cores import usable_cores
from utils.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = ("local", "slurm")
MEGC_FRAME_CHOICES = ("published", "raw")  # utils/megc.py's MEGC_FRAMES, checked there too


@dataclass(frozen=True)
class Request:
    """One pipeline.sh invocation. Paths are absolute (a Slurm task starts elsewhere); ``seeds`` holds ``-``
    for the config's own seed; ``threads`` is the torch thread count every training and evaluation uses."""

    dataset: str
    config: Path
    output: Path
    subjects: tuple[str, ...] | None = None
    seeds: tuple[str, ...] = ("-",)
    force: bool = False
    eval_only: bool = False
    checkpoints: Path | None = None
    device: str | None = None
    matching: str | None = None
    selection: str | None = None
    final: bool = False
    megc_frames: str = "published"
    jobs: int = 1
    threads: int = 1
    launcher: str = "local"
    sbatch_args: tuple[str, ...] = ()
    slurm_wait: bool = False
    slurm_wait_s: int | None = None
    extract_shards: int | None = None
    spot: dict | None = None  # spot.py's inputs as tasks (pipeline/spot.py): its options and each input's folder

    @property
    def seeded(self) -> bool:
        """A SEEDS run: one LOSO per seed in OUTPUT/seed_<s>/ and a seed table."""
        return self.seeds != ("-",)

    @property
    def trains(self) -> bool:
        """Fold models are trained (not EVAL_ONLY, no read-only CHECKPOINTS archive)."""
        return not self.eval_only and self.checkpoints is None

    @property
    def inline(self) -> bool:
        """The tasks run in this process, one after the other (JOBS=1, no Slurm)."""
        return self.launcher != "slurm" and self.jobs == 1

    def to_json(self) -> dict:
        return {key: (str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value)
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, document: dict) -> "Request":
        values = dict(document)
        for key in ("config", "output", "checkpoints"):
            values[key] = None if values.get(key) is None else Path(values[key])
        for key in ("subjects", "seeds", "sbatch_args"):
            values[key] = None if values.get(key) is None else tuple(values[key])
        return cls(**values)


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "") or "0"
    if value not in ("0", "1"):
        raise UserError(f"{name} must be 0 or 1, not '{value}'")
    return value == "1"


def _whole(env: Mapping[str, str], name: str, minimum: int = 1) -> int | None:
    value = env.get(name, "")
    if value == "":
        return None
    if not re.fullmatch(r"[0-9]+", value) or int(value) < minimum:
        kind = "a positive whole number" if minimum else "a whole number of seconds"
        raise UserError(f"{name} must be {kind}, not '{value}'")
    return int(value)


def _absolute(path: str) -> Path:
    return Path(os.path.abspath(path))


def _cpus_per_task(sbatch_args: tuple[str, ...]) -> int | None:
    """``--cpus-per-task`` / ``-c`` given in SBATCH_ARGS: the threads a Slurm task gets without THREADS."""
    for index, argument in enumerate(sbatch_args):
        match = re.fullmatch(r"--cpus-per-task=([0-9]+)", argument)
        if match:
            return int(match.group(1))
        if argument in ("--cpus-per-task", "-c") and index + 1 < len(sbatch_args):
            return int(sbatch_args[index + 1]) if sbatch_args[index + 1].isdigit() else None
    return None


def request_from_env(env: Mapping[str, str]) -> Request:
    """The request of pipeline.sh's environment; UserError (one line) for a bad value."""
    launcher = env.get("LAUNCHER", "") or "local"
    if launcher not in LAUNCHERS:
        raise UserError(f"LAUNCHER must be local or slurm, not '{launcher}'")
    if launcher == "slurm" and shutil.which("sbatch", path=env.get("PATH")) is None:
        raise UserError("LAUNCHER=slurm but sbatch is not on PATH")
    dataset = env.get("DATASET", "") or "mesynth"
    jobs = _whole(env, "JOBS") or 1
    sbatch_args = tuple(env.get("SBATCH_ARGS", "").split())
    threads = _whole(env, "THREADS")
    if threads is None:  # the same THREADS gives the same bytes: a run names its count once
        threads = max(1, usable_cores() // jobs) if launcher == "local" else (_cpus_per_task(sbatch_args) or 1)
    megc_frames = env.get("MEGC_FRAMES", "") or "published"
    if megc_frames not in MEGC_FRAME_CHOICES:
        raise UserError(f"MEGC_FRAMES must be published or raw, not '{megc_frames}'")
    seeds = tuple(env.get("SEEDS", "").split())
    for seed in seeds:
        if not re.fullmatch(r"-?[0-9]+", seed):
            raise UserError(f"SEEDS: '{seed}' is not a whole number")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"SEEDS names a seed twice: {' '.join(seeds)}")
    subjects = tuple(env.get("SUBJECTS", "").split()) or None
    checkpoints = env.get("CHECKPOINTS", "")
    output = env.get("OUTPUT", "") or str(REPO_ROOT / "data" / "runs" / dataset)
    return Request(
        dataset=dataset, config=_absolute(env.get("CONFIG", "") or str(REPO_ROOT / "config.yaml")),
        output=_absolute(output), subjects=subjects, seeds=seeds or ("-",), force=_flag(env, "FORCE"),
        eval_only=_flag(env, "EVAL_ONLY"), checkpoints=_absolute(checkpoints) if checkpoints else None,
        device=env.get("DEVICE") or None, matching=env.get("MATCHING") or None,
        selection=env.get("SELECTION") or None, final=_flag(env, "FINAL"), megc_frames=megc_frames, jobs=jobs,
        threads=threads, launcher=launcher, sbatch_args=sbatch_args, slurm_wait=_flag(env, "SLURM_WAIT"),
        slurm_wait_s=_whole(env, "SLURM_WAIT_S", minimum=0), extract_shards=_whole(env, "EXTRACT_SHARDS"))
