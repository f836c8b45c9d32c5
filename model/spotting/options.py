"""What spot.py was asked: :class:`SpotOptions`, and the ``--folds`` flag read into it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from utils.errors import UserError


@dataclass(frozen=True)
class SpotOptions:
    """What spot.py was asked; None means the flag was left out."""

    inputs: tuple[Path, ...]
    run: Path
    dataset: str | None = None  # None: the run's own config section
    config: Path | None = None
    folds: tuple[str, ...] | None = None  # None: every fold of the run
    epoch: str = "selected"  # selected | last | a number
    out: Path | None = None  # None: <run>/spots
    device: str | None = None
    flow: str | None = None
    face_detect: str | None = None
    fps: float | None = None  # the inputs' frame rate, for video files too
    video: bool = False
    anno: Path | None = None  # annotation table or .eaf: ground truth on the review page
    report: bool = True  # report.html and preview.webm beside spots.csv
    face: str | int = "largest"  # largest | left | right | N (from the left) | all: each face on its own

    def to_json(self) -> dict:
        """As JSON values (paths as text), for a task that runs in another process (pipeline/spot.py)."""
        return {field.name: _json_value(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, document: dict) -> "SpotOptions":
        values = dict(document)
        values["inputs"] = tuple(Path(path) for path in values["inputs"])
        values["folds"] = None if values["folds"] is None else tuple(values["folds"])
        for name in ("run", "config", "out", "anno"):
            values[name] = None if values[name] is None else Path(values[name])
        return cls(**values)


def _json_value(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    return value


def fold_list(text: str) -> tuple[str, ...] | None:
    """``--folds``: None for ``all``, else the comma-separated subjects; empty or repeated ones are a UserError."""
    if text == "all":
        return None
    folds = tuple(part.strip() for part in text.split(","))
    if not all(folds):
        raise UserError(f"--folds {text!r}: an empty fold name; give all or comma-separated subjects")
    repeated = sorted({fold for fold in folds if folds.count(fold) > 1})
    if repeated:
        raise UserError(f"--folds {text!r}: {', '.join(repeated)} given more than once")
    return folds
