"""The run output layout of FORMATS.md ("Run output"), and every other path of a run folder, in one place.

``<output>/<subject>/models/checkpoint_epoch_<epoch:03d>.pth.tar`` holds
``{'epoch': epoch + 1, 'state_dict': ...}`` for the 0-based ``epoch``.

With a ``checkpoints_root`` (a published checkpoint archive, same layout) the
fold's ``models`` folder is ``<checkpoints_root>/<subject>/models`` and every
result still goes under ``<output>/<subject>``: nothing here writes, renames or
deletes anything under ``checkpoints_root``.
"""
from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint_epoch_(\d+)\.pth\.tar$")
RECORD_NAME = "extraction.json"  # the extraction record (feature_extraction/record.py), also copied into a fold's logs/
STAMPS = "stamps"  # each task's stamp: <the folder of its outputs>/stamps/<task kind>.json (pipeline/graph.py)


def stamp_path(folder: Path, kind: str) -> Path:
    """The stamp of the ``kind`` task whose outputs live in ``folder``."""
    return Path(folder) / STAMPS / f"{kind}.json"


@dataclass(frozen=True)
class FoldLayout:
    root: Path  # <output>/<subject>
    archive_root: Path | None = None  # <checkpoints_root>/<subject>, read only; None: checkpoints live in root

    @classmethod
    def of(cls, output: str | Path, subject: str, checkpoints_root: str | Path | None = None) -> "FoldLayout":
        archive = Path(checkpoints_root) / subject if checkpoints_root is not None else None
        return cls(Path(output) / subject, archive)

    @property
    def models(self) -> Path:
        return (self.archive_root or self.root) / "models"

    @property
    def reads_archive(self) -> bool:
        """Checkpoints come from a read-only archive: clear_run leaves them alone."""
        return self.archive_root is not None

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def checkpoint(self, epoch: int) -> Path:
        return self.models / f"checkpoint_epoch_{epoch:03d}.pth.tar"

    def proposals_csv(self, epoch: int) -> Path:
        return self.root / "output_csv" / f"proposals_epoch_{epoch:03d}.csv"

    def nms_csv(self, epoch: int) -> Path:
        return self.root / "nms_csv" / f"final_proposals_epoch_{epoch:03d}.csv"

    @property
    def epoch_metrics(self) -> Path:
        return self.root / "epoch_metrics.csv"

    @property
    def best_res(self) -> Path:
        return self.root / "best_res.csv"

    @property
    def eval_info(self) -> Path:
        """Project extra: which matching rule, selection protocol and epoch produced best_res.csv."""
        return self.root / "eval_info.json"

    def has_foreign_results(self) -> bool:
        """A ``best_res.csv`` this project did not write (no ``eval_info.json`` beside it), e.g. the authors' archive."""
        return self.best_res.is_file() and not self.eval_info.is_file()

    def inner_run(self, group: int) -> "FoldLayout":
        """Inner model ``group`` of selection inner-cv, in the same layout: ``<output>/<subject>/inner/<group>/``."""
        return FoldLayout(self.root / "inner" / str(group))

    @property
    def selected_scores(self) -> Path:
        """Project extra: per-frame apex scores of the selected epoch, for plots."""
        return self.root / "selected_scores.npz"

    @property
    def training_config(self) -> Path:
        """The resolved config the model was trained with (the published name; utils.config.save_resolved_config)."""
        return self.logs / "config.txt"

    @property
    def extraction_record(self) -> Path:
        """The features' extraction record as training found it (copied from the archive's, :data:`RECORD_NAME`)."""
        return self.logs / RECORD_NAME

    @property
    def eval_config(self) -> Path:
        return self.logs / "eval_config.txt"

    @property
    def adjacency(self) -> Path:
        """The matrix built for this model alone (adjacency_scope train, an inner model, the final model)."""
        return self.root / "adjacency.npy"

    def stamp(self, kind: str) -> Path:
        return stamp_path(self.root, kind)

    def clear_evaluation(self) -> None:
        """Remove what evaluation writes (``eval_info.json`` first: a kill part-way never looks evaluated)."""
        self.eval_info.unlink(missing_ok=True)
        for folder in (self.root / "output_csv", self.root / "nms_csv"):
            shutil.rmtree(folder, ignore_errors=True)
        for path in (self.epoch_metrics, self.best_res, self.selected_scores, self.eval_config):
            path.unlink(missing_ok=True)

    def clear_run(self) -> None:
        """Remove the checkpoints and everything derived from them, so a new training run starts clean.

        Without this, a shorter rerun would leave old checkpoints that evaluation would pick up.
        Checkpoints read from an archive are never removed. ``eval_info.json`` goes first: a kill
        part-way never leaves a fold that looks evaluated next to missing or foreign counts.
        """
        self.eval_info.unlink(missing_ok=True)
        if not self.reads_archive:
            for path in self.checkpoints().values():
                path.unlink()
        self.clear_evaluation()
        for path in self.logs.glob("events.out.tfevents.*"):
            path.unlink(missing_ok=True)

    def checkpoints(self) -> dict[int, Path]:
        """Saved checkpoints by 0-based epoch, ascending."""
        if not self.models.is_dir():
            return {}
        found = {}
        for path in self.models.iterdir():
            match = _CHECKPOINT.match(path.name)
            if match:
                found[int(match.group(1))] = path
        return dict(sorted(found.items()))


def checkpoints_fingerprint(checkpoints: dict[int, Path]) -> str:
    """Identity of a set of checkpoint files (epochs, names, sizes, mtimes): equal when they were not touched."""
    digest = hashlib.sha256()
    for epoch, path in sorted(checkpoints.items()):
        stat = path.stat()
        digest.update(f"{epoch}:{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RunLayout:
    """A run folder (``OUTPUT`` of pipeline.sh, or one seed's ``OUTPUT/seed_<s>``): its folds, pooled files,
    final model, run report, stamps and the launcher's files."""

    root: Path

    def seed(self, seed: str) -> "RunLayout":
        """The run folder of one seed of a ``SEEDS`` run (``-``: the config's seed, this folder itself)."""
        return self if seed == "-" else RunLayout(self.root / f"seed_{seed}")

    def fold(self, subject: str, checkpoints_root: Path | None = None) -> FoldLayout:
        return FoldLayout.of(self.root, subject, checkpoints_root)

    @property
    def final(self) -> FoldLayout:
        """The final model (FINAL=1): ``<run>/final/`` in the fold layout."""
        return FoldLayout(self.root / "final")

    @property
    def final_info(self) -> Path:
        return self.final.root / "final_info.json"

    @property
    def shared_adjacency(self) -> Path:
        """The matrix built from the whole annotation table (adjacency_scope all), shared by every fold."""
        return self.root / "adjacency_all.npy"

    @property
    def final_results_csv(self) -> Path:
        return self.root / "final_results.csv"

    @property
    def final_results_json(self) -> Path:
        return self.root / "final_results.json"

    @property
    def video_counts(self) -> Path:
        """Pooling's TP / FP / FN per test video and type (utils.metrics.read_video_counts), for the run report."""
        return self.root / "video_counts.csv"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def f1_plot(self) -> Path:
        return self.plots / "f1_by_epoch.png"

    def timeline_plot(self, subject: str, video: str) -> Path:
        return self.plots / "timelines" / subject / f"{video}.png"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def preview(self, video: str) -> Path:
        return self.root / "previews" / f"{video}.webm"

    @property
    def seed_results_csv(self) -> Path:
        return self.root / "seed_results.csv"

    @property
    def seed_results_json(self) -> Path:
        return self.root / "seed_results.json"

    def stamp(self, kind: str) -> Path:
        return stamp_path(self.root, kind)

    @property
    def lock(self) -> Path:
        """Held (flock) by the local run writing this folder."""
        return self.root / "pipeline.lock"

    def task_log(self, name: str) -> Path:
        """Where a task run by the local pool (JOBS > 1) writes its output."""
        return self.root / "pipeline_logs" / f"{name}.log"

    @property
    def pool_graph(self) -> Path:
        """The graph the local pool's workers read (pipeline/task.py)."""
        return self.root / "pipeline_logs" / "graph.json"

    @property
    def slurm(self) -> Path:
        """The Slurm launcher's folder: one sub-folder per submission (graph, logs, task statuses)."""
        return self.root / "slurm"

    @property
    def slurm_lock(self) -> Path:
        """Job ids of the last Slurm submission to this folder: no other is made while they are queued."""
        return self.slurm / "run.lock"


@dataclass(frozen=True)
class FeatureLayout:
    """A feature archive (``segment_feat_root``, FORMATS.md): windows, annotation table, extraction record,
    content manifest, the extraction's cache and its tasks' stamps."""

    root: Path

    def split(self, split: str, subject: str) -> Path:
        """``train/<subject>`` or ``test/<subject>``."""
        return self.root / split / subject

    @property
    def annotations(self) -> Path:
        return self.root / "annotations.csv"

    @property
    def record(self) -> Path:
        """The extraction record (feature_extraction/record.py)."""
        return self.root / RECORD_NAME

    @property
    def manifest(self) -> Path:
        """Size, modification time and content hash of every window file (utils/manifest.py)."""
        return self.root / "manifest.json"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def stamp(self, kind: str) -> Path:
        return stamp_path(self.root, kind)


def raw_stamp(raw_root: Path, kind: str) -> Path:
    """The stamp of a task writing a raw tree (the demo's rendering): a hidden file beside the tree, since the
    tree is the generator's alone (it refuses a folder holding anything else)."""
    raw_root = Path(raw_root)
    return raw_root.parent / f".{raw_root.name}.{kind}.json"
