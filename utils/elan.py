"""ELAN ``.eaf`` files, through pympi-ling: spotted intervals out, corrected intervals back in as the paper's
annotation table.

Out (:func:`write_spots_eaf`): tiers ``macro`` and ``micro``; one annotation per ``spots.csv`` row from the
start of its onset frame to the end of its offset frame, in integer milliseconds (``onset_s * 1000`` and
``offset_s * 1000 + 1000 / fps``: an interval covers its frames, and a one-frame interval keeps a length, which
ELAN requires); the score as the annotation value; the input linked as the media file. ELAN intervals have no
inner point, so the apex frame and the frame rate travel as header properties (``apex <tier> <begin>-<end>``
and ``frame_rate``); ELAN keeps header properties when it saves.

In (:func:`read_eaf_table`): the annotations of tiers ``macro`` and ``micro`` -> rows
``subject,video_name,start_frame,apex_frame,end_frame,type_idx,au`` with frames counted from 1 at the given
rate: onset ``round(begin * fps / 1000) + 1``, offset ``round(end * fps / 1000)`` (to the nearest frame boundary;
a time half-way through a frame keeps that frame in the interval). An annotation whose times
still match its apex property keeps that apex; one a person moved or added gets apex 0 ("not annotated":
training then takes the middle, METHOD.md section 2.6). ``video_name`` is the linked media's name (its stem
for a file), ``subject`` the name of the folder holding it (the generic layout ``<subject>/<video>``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from utils.annotations import ANNOTATION_COLUMNS, MACRO, MICRO
from utils.errors import UserError
from utils.io import atomic_path

EAF_TIERS = {"macro": MACRO, "micro": MICRO}  # tier name -> type_idx of the annotation table
FRAME_RATE_PROPERTY = "frame_rate"
_APEX_PROPERTY = re.compile(r"^apex (macro|micro) (\d+)-(\d+)$")
_MIME_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".avi": "video/x-msvideo", ".mov": "video/quicktime",
               ".mkv": "video/x-matroska"}


def _round_half_up(values: np.ndarray) -> np.ndarray:
    """Nearest integer, halves up (np.rint rounds halves to even: 16.5 -> 16 but 17.5 -> 18)."""
    return np.floor(values + 0.5).astype(np.int64)


def interval_milliseconds(onset_s: np.ndarray, offset_s: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(begin, end)`` integer milliseconds of intervals from their onset and offset frame start times (seconds);
    the end is the end of the offset frame."""
    begin = _round_half_up(np.asarray(onset_s, dtype=np.float64) * 1000)
    end = _round_half_up((np.asarray(offset_s, dtype=np.float64) + 1 / fps) * 1000)
    return begin, np.maximum(end, begin + 1)


def frames_of_milliseconds(begin: np.ndarray, end: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """1-based ``(onset, offset)`` frames of ``[begin, end)`` millisecond intervals at ``fps``."""
    # Nearest frame boundary (ms are rounded); a time half-way through a frame keeps that frame in the interval.
    onset = np.ceil(np.asarray(begin, dtype=np.float64) * fps / 1000 - 0.5).astype(np.int64) + 1
    offset = _round_half_up(np.asarray(end, dtype=np.float64) * fps / 1000)
    return onset, np.maximum(offset, onset)


def write_spots_eaf(path: Path, spots: pd.DataFrame, media: Path, fps: float) -> Path:
    """``spots`` (spots.csv columns) -> an EAF at ``path`` (atomic) linking ``media``; tiers macro and micro."""
    from pympi.Elan import Eaf

    eaf = Eaf(author="AUW-GCN spot.py")
    eaf.remove_tier("default")
    media = Path(media).resolve()
    relative = Path(os.path.relpath(media, Path(path).resolve().parent)).as_posix()
    eaf.add_linked_file(media.as_uri(), relpath=relative, mimetype=_MIME_TYPES.get(media.suffix.lower(), "video/*"))
    eaf.add_property(FRAME_RATE_PROPERTY, repr(float(fps)))
    for tier in EAF_TIERS:
        eaf.add_tier(tier)
    begin, end = interval_milliseconds(spots["onset_s"], spots["offset_s"], fps)
    for row, start, stop in zip(spots.itertuples(), begin, end):
        eaf.add_annotation(row.type, int(start), int(stop), value=f"{row.score:.4f}")
        eaf.add_property(f"apex {row.type} {start}-{stop}", str(int(row.apex_frame)))
    with atomic_path(path) as tmp:
        tmp.unlink()  # pympi renames an existing file to .bak before writing
        eaf.to_file(str(tmp))
    return Path(path)


def read_eaf_table(path: Path, fps: float | None = None) -> pd.DataFrame:
    """An EAF -> the paper's annotation table (ANNOTATION_COLUMNS), rows by tier (macro, micro) then time.

    ``fps``: the rate of the frames to count (the input's); None takes the file's ``frame_rate`` property.
    One-line UserError naming the file for an unreadable or malformed EAF, a tier other than macro and micro,
    or no frame rate.
    """
    from pympi.Elan import Eaf

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: annotation file not found")
    try:
        eaf = Eaf(str(path))
        tiers = {tier: eaf.get_annotation_data_for_tier(tier) for tier in eaf.get_tier_names()}
        properties = dict(eaf.get_properties())
        media = [entry.get("MEDIA_URL") or entry.get("RELATIVE_MEDIA_URL") for entry in eaf.get_linked_files()]
    except Exception as error:  # pympi raises XML, key and value errors of many kinds for a malformed file
        raise UserError(f"{path}: not a readable ELAN .eaf file ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else 'malformed'})") from None
    unknown = [tier for tier in tiers if tier not in EAF_TIERS]
    if unknown:
        raise UserError(f"{path}: tier {unknown[0]!r} is not one of {', '.join(EAF_TIERS)} "
                        "(rename or delete it in ELAN)")
    if fps is None:
        try:
            fps = float(properties[FRAME_RATE_PROPERTY])
        except (KeyError, ValueError):
            raise UserError(f"{path}: no frame rate: the file has no '{FRAME_RATE_PROPERTY}' property "
                            "and none was given") from None
    video_name, subject = _media_names(path, media)
    apexes = {}
    for key, value in properties.items():
        match = _APEX_PROPERTY.match(str(key))
        if match and str(value).strip().lstrip("-").isdigit():
            apexes[(match.group(1), int(match.group(2)), int(match.group(3)))] = int(value)
    rows = []
    for tier, type_idx in EAF_TIERS.items():
        for annotation in sorted(tiers.get(tier, []), key=lambda a: a[:2]):
            start, stop = int(annotation[0]), int(annotation[1])
            (onset,), (offset,) = frames_of_milliseconds([start], [stop], fps)
            apex = apexes.get((tier, start, stop), 0)
            rows.append((subject, video_name, int(onset), apex if onset <= apex <= offset else 0, int(offset),
                         type_idx, ""))
    table = pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))
    for column in ("start_frame", "apex_frame", "end_frame", "type_idx"):
        table[column] = table[column].astype("int64")
    for column in ("subject", "video_name", "au"):
        table[column] = table[column].astype("str")
    return table


def _media_names(path: Path, media: list[str | None]) -> tuple[str, str]:
    """``(video_name, subject)`` of the first linked media: a file's stem (a folder's name) and its folder's
    name; without media, the EAF's own stem and folder."""
    linked = next((m for m in media if m), None)
    target = Path(unquote(urlparse(linked).path)) if linked else path
    return (target.stem if target.suffix else target.name), (target.parent.name or path.parent.name)
