"""Every input of a command: each attempted on its own (one failing never stops the others), its failure turned
into one line, and the summary at the end. Running the inputs as tasks (in this process, on a local pool or on
Slurm) is pipeline/spot.py's."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import pandas as pd

from model.spotting.job import SpotJob
from model.spotting.one_input import FACES_INDEX, spot_one
from utils.errors import UserError, failure_line
from utils.spot_outputs import error_log

# Errors that are the input's or the machine's problem (a codec, a full disk), not the program's.
EXPECTED_ERRORS = (OSError, cv2.error)


@dataclass(frozen=True)
class Outcome:
    """One input's result: its spots table and folder, or the one-line reason it failed."""

    path: Path
    folder: Path
    table: pd.DataFrame | None = None
    reason: str = ""


def distinct_inputs(inputs: list[Path]) -> list[Path]:
    """The inputs as full paths (symbolic links resolved), each once, in the order given; repeats are noted."""
    seen: dict[Path, Path] = {}
    for path in inputs:
        full = Path(path).resolve()
        if full in seen:
            print(f"note: {path} is {seen[full]} again: spotted once")
        else:
            seen[full] = Path(path)
    return list(seen)


def attempt(path: Path, folder: Path, job: SpotJob) -> Outcome:
    """:func:`~model.spotting.one_input.spot_one`, with any error but an interrupt turned into a failed Outcome: a
    user error or a machine error (a codec, a full disk) as its one line, anything else as a likely bug whose
    traceback goes to a log the line names."""
    try:
        table = spot_one(path, folder, job)
    except UserError as error:
        return Outcome(path, folder, reason=str(error))
    except Exception as error:  # one input never sinks the others
        return Outcome(path, folder, reason=f"{path}: " + failure_line(error, error_log(job.out, folder), str(path),
                                                                       EXPECTED_ERRORS))
    error_log(job.out, folder).unlink(missing_ok=True)  # from an earlier failed run
    return Outcome(path, folder, table)


def outputs_complete(folder: Path, job: SpotJob) -> bool:
    """Whether ``folder`` holds an input's whole set of outputs as ``job`` writes them (with ``--faces all``, each
    face's folder that ``faces.json`` lists). The preview is not required: an encoder that refused it is no
    failure of the input."""
    wanted = {"spots.csv", "spots.json", "spots.eaf", "timeline.png"} | ({"report.html"} if job.report else set()) \
        | ({"annotated.webm"} if job.video else set())
    faces = _face_folders(folder)
    return bool(faces) and all(face.is_dir() and wanted <= {p.name for p in face.iterdir() if p.is_file()}
                               for face in faces)


def _face_folders(folder: Path) -> list[Path] | None:
    """The folders holding an input's spots: ``folder`` itself, or those ``faces.json`` lists (None: unreadable)."""
    index = folder / FACES_INDEX
    if not index.is_file():
        return [folder] if folder.is_dir() else []
    try:
        return [folder / name for name in json.loads(index.read_text(encoding="utf-8"))["faces"].values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def written_spots(folder: Path) -> pd.DataFrame:
    """The spots table an input's folder holds, as :func:`~model.spotting.one_input.spot_one` returned it (with
    ``--faces all`` the faces' tables joined, with a ``face`` column)."""
    index = folder / FACES_INDEX
    if not index.is_file():
        return pd.read_csv(folder / "spots.csv")
    faces = json.loads(index.read_text(encoding="utf-8"))["faces"]
    return pd.concat([pd.read_csv(folder / name / "spots.csv").assign(face=int(number))
                      for number, name in faces.items()], ignore_index=True)


def summarise(outcomes: list[Outcome]) -> int:
    """Print each input's spots, then each failure's line, then the count; 1 when any input failed."""
    failed = [o for o in outcomes if o.table is None]
    for outcome in outcomes:
        if outcome.table is not None:
            print(f"\n{outcome.path}: {len(outcome.table)} interval(s) -> {outcome.folder}")
            if len(outcome.table):
                print(outcome.table.to_string(index=False))
    if failed:
        print()
    for outcome in failed:
        print(f"FAILED {outcome.reason}")
    done = len(outcomes) - len(failed)
    print(f"\nspotted {done} of {len(outcomes)} input(s)" + (f"; failed: {len(failed)}" if failed else ""))
    return 1 if failed else 0
