"""The output folders of spot.py under ``--out``: one per input, never shared, found again on a rerun, and
replaced as a set.

``<out>/<name>/`` or ``<out>/<name>-N/`` holds an input's ``spots.csv``, ``timeline.png``, ``spots.json``
(which records the input's full path under ``input`` and the SHA-256 of the ``spots.eaf`` it wrote under
``spots_eaf_sha256``), ``spots.eaf``, unless skipped ``report.html`` and ``preview.webm``, and when asked
``annotated.webm``; ``<out>/logs/<folder name>.log`` the traceback of an input that met an internal error.

A spot writes an input's outputs into a hidden staging folder beside its folder (:func:`output_set`) and swaps
them in only when all are written, so a spot that fails halfway leaves the earlier set whole. Every other file
in the folder is the user's and stays. A ``spots.eaf`` whose bytes are no longer those spot wrote (corrected in
ELAN) is kept as ``spots.edited-<n>.eaf`` (the first free n) before the new set comes in, and the rerun says so.
A spot killed in the middle of a swap leaves the earlier folder aside under a hidden name; the next spot into
that folder puts back what was the user's (:func:`recover_killed_swap`).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from utils.errors import UserError
from utils.names import check_path_name

# The files a spot writes into an input's folder, replaced as a set on a rerun; anything else there is the user's.
# annotated.mp4: what --video wrote before it wrote WebM.
SPOT_OUTPUTS = frozenset({"spots.csv", "spots.json", "spots.eaf", "timeline.png", "report.html", "preview.webm",
                          "annotated.webm", "annotated.mp4"})
EAF_NAME = "spots.eaf"
EAF_DIGEST_KEY = "spots_eaf_sha256"  # in spots.json: the digest of the spots.eaf spot wrote beside it
EDITED_EAF = "spots.edited-{}.eaf"
# Under --out: the traceback logs, and the command's tasks (stamps, logs of pool workers and Slurm jobs:
# pipeline/spot.py); so no input's folder may be named so.
ERROR_LOGS = "logs"
TASKS_FOLDER = ".tasks"


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


def _folder_record(folder: Path) -> str | None:
    """The input ``folder`` records (:func:`recorded_input`); for a folder a killed swap left aside (gone, its
    earlier self hidden beside it until :func:`recover_killed_swap`), the input the hidden one records."""
    if folder.exists():
        return recorded_input(folder)
    return next((found for aside in _siblings(folder, "old") if (found := recorded_input(aside)) is not None), None)


def output_folders(inputs: list[str], names: list[str], out: Path) -> list[Path]:
    """One output folder under ``out`` for each input (its full path, all distinct) and name, never shared.

    An input gets ``out/<name>`` or ``out/<name>-N``: the folder whose ``spots.json`` records this input
    when there is one (a rerun; a folder a killed swap left aside counts as the folder), else the first one
    that is absent or empty and not taken by an earlier input of the list. So ``a/take`` and ``b/take``, or an
    input named like one spotted before, each keep their own folder, run after run."""
    taken = {out / ERROR_LOGS, out / TASKS_FOLDER}
    folders = []
    for path, name in zip(inputs, names):
        check_path_name(name, path, "input name", local=True)
        aside = {owner for p in out.glob(f".{glob.escape(name)}-*.old") if (owner := _sibling_owner(p, "old"))}
        named = {p.name for p in out.glob(f"{glob.escape(name)}-*")} | aside
        numbered = sorted((n for n in named if n[len(name) + 1:].isdigit()), key=lambda n: int(n[len(name) + 1:]))
        candidates = [out / name, *(out / n for n in numbered)]
        folder = next((c for c in candidates if c not in taken and _folder_record(c) == path), None)
        number = 1
        while folder is None:
            candidate = out / (name if number == 1 else f"{name}-{number}")
            if candidate not in taken and ((candidate.is_dir() and not any(candidate.iterdir())) or
                                           (not candidate.exists() and _folder_record(candidate) is None)):
                folder = candidate
            number += 1
        taken.add(folder)
        folders.append(folder)
    return folders


def file_digest(path: Path) -> str:
    """SHA-256 of the file at ``path``, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _recorded_digest(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / "spots.json").read_text(encoding="utf-8"))[EAF_DIGEST_KEY])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def keep_edited_eaf(folder: Path) -> Path | None:
    """Rename ``folder/spots.eaf`` to ``spots.edited-<n>.eaf`` when it is not what spot wrote there (its digest
    differs from the one ``spots.json`` records, or none is recorded); print one line saying so. Returns the
    new path, or None when there was nothing to keep."""
    eaf = folder / EAF_NAME
    if not eaf.is_file() or _recorded_digest(folder) == file_digest(eaf):
        return None
    number = 1
    while (folder / EDITED_EAF.format(number)).exists():
        number += 1
    kept = folder / EDITED_EAF.format(number)
    os.rename(eaf, kept)
    print(f"{eaf}: changed since spot wrote it (edited in ELAN?): kept as {kept.name}; spots.eaf is spot's own again")
    return kept


_SIBLING_RANDOM_BYTES = 6  # a sibling's random part, written as twice as many hex digits
_SIBLING_NAME = re.compile(rf"\.(?P<folder>.+)\.[0-9a-f]{{{2 * _SIBLING_RANDOM_BYTES}}}\.(?P<role>new|old)")


def _sibling(folder: Path, role: str) -> Path:
    """A hidden, unused name beside ``folder`` (``.<name>.<random>.<role>``, role ``new`` or ``old``); no output
    folder starts with a dot followed by its own name and a random part, so :func:`output_folders` never picks
    one."""
    return folder.parent / f".{folder.name}.{secrets.token_hex(_SIBLING_RANDOM_BYTES)}.{role}"


def _sibling_owner(path: Path, role: str) -> str | None:
    """The name of the folder whose :func:`_sibling` with ``role`` ``path`` is, None when it is none."""
    match = _SIBLING_NAME.fullmatch(path.name)
    return match["folder"] if match and match["role"] == role and path.is_dir() else None


def _siblings(folder: Path, role: str) -> list[Path]:
    """The :func:`_sibling` folders of ``folder`` with ``role`` that exist, the last renamed first."""
    found = [path for path in folder.parent.glob(f".{glob.escape(folder.name)}.*.{role}")
             if _sibling_owner(path, role) == folder.name]
    return sorted(found, key=lambda path: (-path.stat().st_ctime_ns, path.name))


def recover_killed_swap(folder: Path) -> None:
    """Mend what a spot killed in the middle of :func:`swap_in` left beside ``folder``, saying so in one line.
    The earlier folder it had moved aside comes back whole when ``folder`` is gone (killed between the two
    renames); else the new set was in, and the user's files still aside move into ``folder``. A staging folder
    left by a killed spot goes. Called by the one process about to write ``folder``'s outputs: no other swap of
    ``folder`` is under way."""
    for staged in _siblings(folder, "new"):
        shutil.rmtree(staged, ignore_errors=True)
    for aside in _siblings(folder, "old"):
        if not folder.exists():
            os.rename(aside, folder)
            print(f"{folder}: put back as it was before a spot that was stopped while replacing its outputs")
            continue
        moved, left = [], []
        for entry in sorted(aside.iterdir()):
            if entry.name in SPOT_OUTPUTS and entry.is_file():
                continue
            if (folder / entry.name).exists():
                left.append(entry.name)
            else:
                os.rename(entry, folder / entry.name)
                moved.append(entry.name)
        if moved:
            print(f"{folder}: {', '.join(moved)} moved back in, from before a spot that was stopped while "
                  "replacing its outputs")
        if left:
            print(f"{aside}: {', '.join(left)} kept here, from before a spot that was stopped while replacing the "
                  f"outputs of {folder.name}: files of those names are there now")
        else:
            shutil.rmtree(aside)


def swap_in(staging: Path, folder: Path) -> None:
    """Make the outputs in ``staging`` the outputs of ``folder``: an edited ``spots.eaf`` is kept first
    (:func:`keep_edited_eaf`), the folder's other files that are not spot outputs move over, the earlier
    outputs go. ``staging`` is gone afterwards."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    keep_edited_eaf(folder)
    earlier = _sibling(folder, "old")
    os.rename(folder, earlier)
    try:
        os.rename(staging, folder)
    except OSError:
        os.rename(earlier, folder)
        raise
    for entry in earlier.iterdir():
        if not (entry.name in SPOT_OUTPUTS and entry.is_file()):
            os.rename(entry, folder / entry.name)
    shutil.rmtree(earlier)


@contextmanager
def output_set(folder: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``folder`` to write an input's outputs into (after
    :func:`recover_killed_swap`); when the block succeeds they replace ``folder``'s outputs as a set
    (:func:`swap_in`). When it fails, the staging folder is removed and ``folder`` is as it was; a UserError or
    OSError naming a staged file names it as it would have been in ``folder``."""
    recover_killed_swap(folder)
    staging = _sibling(folder, "new")
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()  # a plain mkdir, so the folder gets the usual permissions once it is swapped in
    try:
        try:
            yield staging
        except UserError as error:
            raise UserError(str(error).replace(str(staging), str(folder))) from None
        except OSError as error:
            if error.filename is None:
                raise
            raise type(error)(error.errno, error.strerror,
                              str(error.filename).replace(str(staging), str(folder))) from error
        swap_in(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def error_log(out: Path, folder: Path) -> Path:
    """Where the traceback of an input's internal error goes: ``<out>/logs/<folder name>.log``."""
    return out / ERROR_LOGS / f"{folder.name}.log"
