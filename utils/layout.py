"""The run output layout of FORMATS.md ("Run output"), in one place.

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
        for folder in (self.root / "output_csv", self.root / "nms_csv"):
            shutil.rmtree(folder, ignore_errors=True)
        for path in (self.epoch_metrics, self.best_res, self.selected_scores, self.logs / "training_key.json",
                     *self.logs.glob("events.out.tfevents.*")):
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
