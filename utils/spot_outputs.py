"""The output folders of spot.py under ``--out``: one per input, never shared, found again on a rerun.

``<out>/<name>/`` or ``<out>/<name>-N/`` holds an input's ``spots.csv``, ``timeline.png``, ``spots.json``
(which records the input's full path under ``input``), ``spots.eaf``, unless skipped ``report.html`` and
``preview.webm``, and when asked ``annotated.webm``; ``<out>/logs/<folder name>.log`` the traceback of an input that met an internal error.
"""
from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path

from utils.errors import UserError

# Outputs of an earlier spot of the same input that a run may not write again: removed before writing.
STALE_OUTPUTS = ("annotated.*", "report.html", "preview.*")
# Under --out: the traceback logs (so no input's folder may be named so).
ERROR_LOGS = "logs"


def check_writable(out: Path, default: bool) -> None:
    """Make sure files can be created in ``out`` before anything is extracted; a one-line UserError saying
    where to point ``--out`` otherwise (``default``: ``out`` is the run's own ``spots`` folder)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=out)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        where = ("the run folder (a read-only checkpoint archive?) takes no outputs: " if default else "") + \
            "point --out at a writable folder"
        raise UserError(f"{out}: cannot write the outputs here ({error.strerror or error}); {where}") from None


def recorded_input(folder: Path) -> str | None:
    """The input path a spot output folder's ``spots.json`` (or, spotted with ``--faces all``, ``faces.json``)
    records, None when it has none readable."""
    for name in ("spots.json", "faces.json"):
        try:
            return str(json.loads((folder / name).read_text(encoding="utf-8"))["input"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def output_folders(inputs: list[str], names: list[str], out: Path) -> list[Path]:
    """One output folder under ``out`` for each input (its full path, all distinct) and name, never shared.

    An input gets ``out/<name>`` or ``out/<name>-N``: the folder whose ``spots.json`` records this input
    when there is one (a rerun), else the first one that is absent or empty and not taken by an earlier
    input of the list. So ``a/take`` and ``b/take``, or an input named like one spotted before, each keep
    their own folder, run after run."""
    taken = {out / ERROR_LOGS}
    folders = []
    for path, name in zip(inputs, names):
        numbered = [p for p in out.glob(f"{glob.escape(name)}-*") if p.name[len(name) + 1:].isdigit()]
        candidates = [out / name, *sorted(numbered, key=lambda p: int(p.name[len(name) + 1:]))]
        folder = next((c for c in candidates if c not in taken and recorded_input(c) == path), None)
        number = 1
        while folder is None:
            candidate = out / (name if number == 1 else f"{name}-{number}")
            if candidate not in taken and (not candidate.exists() or
                                           (candidate.is_dir() and not any(candidate.iterdir()))):
                folder = candidate
            number += 1
        taken.add(folder)
        folders.append(folder)
    return folders


def remove_stale(folder: Path) -> None:
    """Create ``folder`` if needed and remove the earlier outputs there that this run may not rewrite."""
    folder.mkdir(parents=True, exist_ok=True)
    for pattern in STALE_OUTPUTS:
        for stale in folder.glob(pattern):
            stale.unlink()


def error_log(out: Path, folder: Path) -> Path:
    """Where the traceback of an input's internal error goes: ``<out>/logs/<folder name>.log``."""
    return out / ERROR_LOGS / f"{folder.name}.log"
