"""ELAN ``.eaf`` files, through pympi-ling: spotted intervals out, corrected intervals back in.

Out (:func:`write_spots_eaf`): tiers ``macro`` and ``micro``; one annotation per ``spots.csv`` row from the
start of its onset frame to the end of its offset frame, in integer milliseconds (``onset_s * 1000`` and
``offset_s * 1000 + 1000 / fps``: an interval covers its frames, and a one-frame interval keeps a length, which
ELAN requires); the score as the annotation value; the input linked as the media file. ELAN intervals have no
inner point, so the apex travels as a header property ``apex_ms <tier> <begin>-<end>`` holding the start of the
apex frame in milliseconds, like the interval's own times; the input's name (``video_name``) and frame rate
(``frame_rate``) travel as header properties too. ELAN keeps header properties when it saves. The document date
is fixed, so that the same spots give the same bytes.

In (:func:`read_eaf`): the annotations of tiers ``macro`` and ``micro`` as frames counted from 1 at the given
rate, the way the annotation table counts them (the n-th frame of the input is frame n, whatever number its file
name holds): onset ``round(begin * fps / 1000) + 1``, apex likewise, offset ``round(end * fps / 1000)`` (to the
nearest frame boundary; a time half-way through a frame keeps that frame in the interval). An annotation whose
times still match its apex property keeps that apex; one a person moved or added gets apex 0 ("not annotated":
training then takes the middle, METHOD.md section 2.6). ``video_name`` is the ``video_name`` property, else the
linked media's name (a file's stem, a folder's whole name); ``subject`` the name of the folder holding the media
(the generic layout ``<subject>/<video>``). utils/annotations.py turns this into the paper's table.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from utils.errors import UserError
from utils.io import atomic_path

EAF_TIERS = ("macro", "micro")  # the tiers written and read, named as the annotation table's expression types
FRAME_RATE_PROPERTY = "frame_rate"
VIDEO_NAME_PROPERTY = "video_name"
# ELAN's DATE is required; the clock's date would make every spots.eaf differ from the last one.
FIXED_DATE = "1970-01-01T00:00:00+00:00"
_APEX_PROPERTY = re.compile(r"^apex(_ms)? (macro|micro) (\d+)-(\d+)$")  # "apex ..." (no _ms): a frame number, as
# files written before the apex became a time hold it (counted from 1 at the file's frame_rate)
_MIME_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".avi": "video/x-msvideo", ".mov": "video/quicktime",
               ".mkv": "video/x-matroska"}


@dataclass(frozen=True)
class EafIntervals:
    """What an EAF says for the annotation table: ``intervals`` are ``(tier, onset, apex, offset)`` frames counted
    from 1 at the reading rate, apex 0 when not annotated; ordered by tier (EAF_TIERS order), then time."""

    video_name: str
    subject: str
    intervals: tuple[tuple[str, int, int, int], ...]


def _round_half_up(values: np.ndarray) -> np.ndarray:
    """Nearest integer, halves up (np.rint rounds halves to even: 16.5 -> 16 but 17.5 -> 18)."""
    return np.floor(values + 0.5).astype(np.int64)


def interval_milliseconds(onset_s: np.ndarray, offset_s: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(begin, end)`` integer milliseconds of intervals from their onset and offset frame start times (seconds);
    the end is the end of the offset frame."""
    begin = _round_half_up(np.asarray(onset_s, dtype=np.float64) * 1000)
    end = _round_half_up((np.asarray(offset_s, dtype=np.float64) + 1 / fps) * 1000)
    return begin, np.maximum(end, begin + 1)


def _frames_starting(milliseconds: np.ndarray, fps: float) -> np.ndarray:
    """1-based frames whose start is nearest to each time in ``milliseconds`` (a half-way time takes the later)."""
    return np.ceil(np.asarray(milliseconds, dtype=np.float64) * fps / 1000 - 0.5).astype(np.int64) + 1


def frames_of_milliseconds(begin: np.ndarray, end: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """1-based ``(onset, offset)`` frames of ``[begin, end)`` millisecond intervals at ``fps``."""
    onset = _frames_starting(begin, fps)
    offset = _round_half_up(np.asarray(end, dtype=np.float64) * fps / 1000)
    return onset, np.maximum(offset, onset)


def write_spots_eaf(path: Path, spots, media: Path, name: str, fps: float) -> Path:
    """``spots`` (a table with ``type``, ``onset_s``, ``apex_s``, ``offset_s``, ``score``: the input's seconds) ->
    an EAF at ``path`` (atomic) linking ``media``, the input named ``name``; tiers macro and micro."""
    from pympi.Elan import Eaf

    eaf = Eaf(author="AUW-GCN spot.py")
    eaf.adocument["DATE"] = FIXED_DATE
    eaf.remove_tier("default")
    media = Path(media).resolve()
    relative = Path(os.path.relpath(media, Path(path).resolve().parent)).as_posix()
    eaf.add_linked_file(media.as_uri(), relpath=relative, mimetype=_MIME_TYPES.get(media.suffix.lower(), "video/*"))
    eaf.add_property(FRAME_RATE_PROPERTY, repr(float(fps)))
    eaf.add_property(VIDEO_NAME_PROPERTY, name)
    for tier in EAF_TIERS:
        eaf.add_tier(tier)
    begin, end = interval_milliseconds(spots["onset_s"], spots["offset_s"], fps)
    apex = _round_half_up(np.asarray(spots["apex_s"], dtype=np.float64) * 1000)
    for row, start, stop, apex_ms in zip(spots.itertuples(), begin, end, apex):
        eaf.add_annotation(row.type, int(start), int(stop), value=f"{row.score:.4f}")
        eaf.add_property(f"apex_ms {row.type} {start}-{stop}", str(int(apex_ms)))
    with atomic_path(path) as tmp:
        tmp.unlink()  # pympi renames an existing file to .bak before writing
        eaf.to_file(str(tmp))
    return Path(path)


def read_eaf(path: Path, fps: float | None = None) -> EafIntervals:
    """An EAF's intervals in frames at ``fps`` (the input's rate; None takes the file's ``frame_rate`` property).

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
        properties = {str(key): str(value) for key, value in eaf.get_properties()}
        media = [(entry.get("MEDIA_URL"), entry.get("RELATIVE_MEDIA_URL")) for entry in eaf.get_linked_files()]
    except Exception as error:  # pympi raises XML, key and value errors of many kinds for a malformed file
        raise UserError(f"{path}: not a readable ELAN .eaf file ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else 'malformed'})") from None
    unknown = [tier for tier in tiers if tier not in EAF_TIERS]
    if unknown:
        raise UserError(f"{path}: tier {unknown[0]!r} is not one of {', '.join(EAF_TIERS)} "
                        "(rename or delete it in ELAN)")
    file_fps = _positive_float(properties.get(FRAME_RATE_PROPERTY))
    fps = fps or file_fps
    if fps is None:
        raise UserError(f"{path}: no frame rate: the file has no '{FRAME_RATE_PROPERTY}' property and none was given")
    apexes = _apex_milliseconds(properties, file_fps)
    intervals = []
    for tier in EAF_TIERS:
        for annotation in sorted(tiers.get(tier, []), key=lambda a: a[:2]):
            start, stop = int(annotation[0]), int(annotation[1])
            (onset,), (offset,) = frames_of_milliseconds([start], [stop], fps)
            apex = int(_frames_starting([apexes[(tier, start, stop)]], fps)[0]) if (tier, start, stop) in apexes else 0
            intervals.append((tier, int(onset), apex if onset <= apex <= offset else 0, int(offset)))
    video_name, subject = _media_names(path, media)
    return EafIntervals(properties.get(VIDEO_NAME_PROPERTY) or video_name, subject, tuple(intervals))


def _positive_float(text: str | None) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def _apex_milliseconds(properties: dict[str, str], file_fps: float | None) -> dict[tuple[str, int, int], float]:
    """``(tier, begin, end)`` -> the apex frame's start in milliseconds, from the apex properties."""
    apexes = {}
    for key, value in properties.items():
        match = _APEX_PROPERTY.match(key)
        if not match or not value.strip().lstrip("-").isdigit():
            continue
        if match.group(1):
            apexes[(match.group(2), int(match.group(3)), int(match.group(4)))] = float(value)
        elif file_fps is not None:
            apexes[(match.group(2), int(match.group(3)), int(match.group(4)))] = (int(value) - 1) * 1000 / file_fps
    return apexes


def _media_names(path: Path, media: list[tuple[str | None, str | None]]) -> tuple[str, str]:
    """``(video_name, subject)`` of the first linked media: a folder's whole name (``sess.2024.05``), a file's stem,
    and the name of the folder holding it; without media, the EAF's own stem and folder."""
    linked = next(((url, relative) for url, relative in media if url or relative), None)
    if linked is None:
        return path.stem, path.parent.name
    url, relative = linked
    target = Path(unquote(urlparse(url or relative).path))
    here = path.parent / unquote(urlparse(relative).path) if relative else target
    is_folder = target.is_dir() or here.is_dir()
    return (target.name if is_folder or not target.suffix else target.stem), (target.parent.name or path.parent.name)
