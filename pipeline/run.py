"""What the kinds of task (pipeline/tasks.py) and the decision (pipeline/graph.py) share: a :class:`Task`, the
:class:`Run` its settings come from (with the per-process caches several tasks read: the section's extraction
settings, the raw tree's videos), :func:`digest` and the stamp files.

It imports no other module of pipeline/ but the request, so that the kinds and the decision can both build on it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dataset.settings import DataSettings
from utils.config import DatasetConfig, load_config
from utils.errors import UserError
from utils.io import atomic_write_text
from utils.layout import FeatureLayout, RunLayout
from utils.manifest import ContentIndex

from pipeline.request import Request


@dataclass(frozen=True)
class Task:
    """One unit of work. ``seed`` is ``-`` for the config's own seed (and for the feature tasks); ``shard`` is
    ``(k, n)`` for extraction shard k of n; ``deps``: the ids of the tasks whose outputs it reads."""

    kind: str
    seed: str = "-"
    subject: str | None = None
    group: int | None = None
    shard: tuple[int, int] | None = None
    deps: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        parts = [self.kind] + ([f"seed_{self.seed}"] if self.seed != "-" else [])
        parts += [self.subject] if self.subject is not None else []
        parts += [f"inner{self.group}"] if self.group is not None else []
        parts += [f"{self.shard[0]}of{self.shard[1]}"] if self.shard is not None else []
        return "/".join(parts)

    @property
    def file_name(self) -> str:
        """The id as one file name (logs, Slurm statuses)."""
        return self.id.replace("/", ".")

    def to_json(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "subject": self.subject, "group": self.group,
                "shard": list(self.shard) if self.shard else None, "deps": list(self.deps)}

    @classmethod
    def from_json(cls, document: dict) -> "Task":
        return cls(document["kind"], document["seed"], document["subject"], document["group"],
                   tuple(document["shard"]) if document["shard"] else None, tuple(document["deps"]))


def digest(value) -> str:
    """The sha256 of a JSON value's canonical text: a key, or one digest standing for many."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Run:
    """What every task of one request reads its settings from: the request, the config (with the request's
    overrides), the run layout, the content index and the per-process caches."""

    def __init__(self, request: Request, config: DatasetConfig | None = None) -> None:
        self.request = request
        base = config or load_config(request.dataset, request.config)
        self.config = base.with_overrides(device=request.device, matching=request.matching,
                                          selection=request.selection)
        self.layout = RunLayout(request.output)
        self.features = FeatureLayout(DataSettings.from_config(self.config).features)
        self.content = ContentIndex()
        self.memo: dict = {}  # values several tasks read (the raw tree's fingerprints...), cleared as inputs change
        self._segment_cache = None
        self._device = None

    def config_of(self, seed: str) -> DatasetConfig:
        return self.config if seed == "-" else self.config.with_overrides(seed=int(seed))

    def output(self, seed: str) -> RunLayout:
        return self.layout.seed(seed)

    @property
    def subjects(self) -> tuple[str, ...]:
        """The folds to run: SUBJECTS, else the section's subject_list."""
        return self.request.subjects or DataSettings.from_config(self.config).subjects

    @property
    def device(self):
        if self._device is None:
            from utils.cli import config_device

            self._device = config_device(self.config)
        return self._device

    @property
    def segment_cache(self):
        """Subjects' windows read once per process (a fold's inner models share their files)."""
        if self._segment_cache is None:
            from model.inner_cv import SegmentCache

            self._segment_cache = SegmentCache()
        return self._segment_cache

    def inputs_changed(self) -> None:
        """A task wrote files others read: forget what was read from them."""
        self.memo.clear()
        self._segment_cache = None


# --------------------------------------------------------------------------- stamps


def read_stamp(path: Path) -> dict | None:
    try:
        stamp = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and isinstance(stamp.get("key"), str) else None


def write_stamp(path: Path, task: Task, key: str, reads: dict) -> None:
    atomic_write_text(path, json.dumps({"task": task.id, "key": key, "reads": reads}, indent=1, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- what several tasks read of the raw tree


def extraction_settings(run: Run):
    """``(layout, FlowSettings, the settings' run key)`` of the section's extraction, read once per pass."""
    if "settings" not in run.memo:
        from dataset.prepare import extraction_request
        from dataset.settings import ExtractionSettings
        from feature_extraction.batch import run_key

        extraction = ExtractionSettings.from_config(run.config)
        settings = extraction_request(extraction, 1).settings
        run.memo["settings"] = (extraction.layout, settings, run_key(settings))
    return run.memo["settings"]


def raw_videos(run: Run) -> list:
    """The raw tree's videos, with their fingerprints, discovered once per pass."""
    if "videos" not in run.memo:
        from dataset.settings import ExtractionSettings
        from feature_extraction.adapters import discover_videos, source_fingerprint

        layout, _, _ = extraction_settings(run)
        try:
            videos, _ = discover_videos(layout, ExtractionSettings.from_config(run.config).raw_root)
        except (OSError, ValueError) as error:
            raise UserError(str(error)) from None
        run.memo["videos"] = [(video, source_fingerprint(video)) for video in videos]
    return run.memo["videos"]
