"""SAMM-LV: ``SAMM_longvideos/<SSS>_<V>/<SSS>_<V>_<NNNN>.jpg`` (200 fps), used at 25 fps.

25-fps frame i is the file numbered 8i+1 (the number, not the file's position, so rows stay aligned with
the annotations' ``(f-1)//8``). A folder whose numbering has gaps or does not start at 1 is reported; a
missing 8i+1 file stands in the list under the name it would have and reads as an unreadable frame (the
previous frame repeated). Annotations: the official xlsx, converted to 25-fps frames as the paper's table
``samm_lv_25fps_annotations.csv``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from feature_extraction.adapters.frames import (TreeWarning, VideoSource, count_frames, frames_for_discovery,
                                                visible_entries)
from feature_extraction.adapters.sheets import (annotation_frame, as_real, as_text, drop_blank_rows, header_columns,
                                                header_row, read_sheets)
from utils.annotations import MACRO, MICRO
from utils.errors import UserError

ANNOTATION_REQUIRED = True
CLIPS_TO_FRAME_COUNTS = True  # an offset past a video ends at its last 25-fps frame
SAMM_FRAME_STEP = 8  # 200 fps -> 25 fps
_SAMM_VIDEO_DIR = re.compile(r"^(\d+)_(\d+)$")
_SAMM_FRAME = re.compile(r"_(\d+)$")


def discover(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    root = raw_root / "SAMM_longvideos" if (raw_root / "SAMM_longvideos").is_dir() else raw_root
    for video_dir in visible_entries(root):
        match = _SAMM_VIDEO_DIR.match(video_dir.name)
        if not video_dir.is_dir() or match is None:
            problems.append(TreeWarning(f"{video_dir}: not a SAMM-LV video folder <SSS>_<V>; skipped"))
            continue
        numbers, frames = frames_for_discovery(video_dir, problems, _SAMM_FRAME)
        if not frames:
            continue
        frames, problem = _samm_25fps_frames(video_dir, numbers, frames)
        if problem:
            problems.append(problem)
        if frames:
            videos.append(VideoSource(*_names(match.group(1), match.group(2)), frames))
    return videos, problems


def _names(subject: str, video: str) -> tuple[str, str]:
    """``(subject, video_name)`` of a recording ``<SSS>_<V>``: samm_006, samm_006_1."""
    return f"samm_{subject}", f"samm_{subject}_{video}"


def table_names(name: str) -> tuple[str, str] | None:
    """A video folder ``<SSS>_<V>`` (``006_1``) -> ``(samm_006, samm_006_1)``."""
    match = _SAMM_VIDEO_DIR.match(name)
    return _names(match.group(1), match.group(2)) if match else None


def _samm_25fps_frames(video_dir: Path, numbers: tuple[int, ...],
                       paths: tuple[Path, ...]) -> tuple[tuple[Path, ...], str | None]:
    """The 25-fps frames of a SAMM-LV folder and a problem line about its numbering (or None).

    25-fps frame i is the file numbered 8i+1 (``numbers[j]`` belongs to
    ``paths[j]``), for i = 0 .. (last number - 1) // 8. A missing 8i+1 file
    keeps its place under the name it would have (``<folder>_<8i+1:04d>``),
    so :func:`iter_frames` reads it as unreadable and every later row stays
    at its annotation frame. Numbering with gaps or a first number other
    than 1 is reported, naming the folder; no 8i+1 number at all gives
    ``((), problem)`` (skipped).
    """
    by_number = dict(zip(numbers, paths))
    wanted = range(1, numbers[-1] + 1, SAMM_FRAME_STEP)
    if not wanted:
        return (), f"{video_dir}: no frame numbered 1 or more; skipped"
    suffix = paths[0].suffix
    frames = tuple(by_number.get(n, video_dir / f"{video_dir.name}_{n:04d}{suffix}") for n in wanted)
    if numbers == tuple(range(1, len(numbers) + 1)):
        return frames, None
    absent = sum(n not in by_number for n in wanted)
    return frames, TreeWarning(f"{video_dir}: frame numbers are not 1..N without gaps ({len(numbers)} files "
                               f"numbered {numbers[0]}..{numbers[-1]}); extracted with 25-fps frame i = file "
                               f"number 8i+1, {absent} of those {len(wanted)} files missing (read as unreadable "
                               "frames)")


_SAMM_HEADER = ("Filename", "Onset", "Apex", "Offset", "Type", "Action Units")


def read_annotations(path: Path, videos: list[VideoSource], frame_counts: dict[str, int] | None,
                     notices: list[str]) -> pd.DataFrame:
    """The official xlsx (sheet 0, header in row 9 of the releases): frames f -> ``(f-1)//8`` with 0 and -1
    kept; an offset past the video is clipped to the video's last 25-fps frame index ``count-1``.
    ``frame_counts`` maps video_name to its 25-fps frame count; without it the counts of ``videos`` are used
    (a video known to neither is not clipped). Fractional frame numbers are one line in ``notices``."""
    if frame_counts is None:
        frame_counts = {video.video_name: count_frames(video) for video in videos}
    sheet = next(iter(read_sheets(path).values()))
    first = header_row(sheet, _SAMM_HEADER)
    if first is None:
        raise UserError(f"{path}: sheet 0 has no header row with {', '.join(_SAMM_HEADER)} in its first 30 rows")
    column = header_columns(sheet, first, _SAMM_HEADER)
    data = drop_blank_rows(sheet.iloc[first + 1:])
    rows, fractional_rows = [], 0
    for row, cells in zip(data.index, data.itertuples(index=False)):
        filename = as_text(cells[column["Filename"]]).strip()
        parts = filename.split("_")
        if len(parts) < 2 or not all(part.isdigit() for part in parts[:2]):
            raise UserError(f"{path}: row {row + 1}: Filename {filename!r} is not <SSS>_<V>_<n>")
        kind = as_text(cells[column["Type"]]).strip()
        if not kind:
            raise UserError(f"{path}: row {row + 1}: Type is empty")
        subject, video_name = _names(parts[0], parts[1])
        (onset, f1), (apex, f2), (offset, f3) = (_samm_frame(path, row, name, cells[column[name]])
                                                 for name in ("Onset", "Apex", "Offset"))
        fractional_rows += f1 or f2 or f3
        count = frame_counts.get(video_name)
        if count is not None and offset > count - 1:
            offset = count - 1  # an offset past the video ends at its last 25-fps frame
        rows.append((subject, video_name, onset, apex, offset,
                     MACRO if kind.lower() == "macro" else MICRO, as_text(cells[column["Action Units"]])))
    if fractional_rows:
        notices.append(f"{path}: {fractional_rows} of {len(rows)} rows have fractional frame numbers; "
                       f"converted with (f - 1) // {SAMM_FRAME_STEP} on the real value, as the paper's table")
    return annotation_frame(rows)


def _samm_frame(path: Path, row: int, column: str, value) -> tuple[int, bool]:
    """A 200-fps frame number f -> ``((f-1)//8, f is fractional)``; 0 and -1 (missing) kept.

    The release sheets hold fractional numbers (566.4); ``(f-1)//8`` is taken
    on the real value, as the paper's table was made (566.4 -> 70).
    """
    frame = as_real(value)
    if frame is None:
        raise UserError(f"{path}: row {row + 1}: {column} {value!r} is not a frame number")
    if frame in (0, -1):
        return int(frame), False
    if frame < 1:
        raise UserError(f"{path}: row {row + 1}: {column} {value!r} is not a frame number (0 or -1 = missing, "
                         "else at least 1)")
    return int((frame - 1) // SAMM_FRAME_STEP), not float(frame).is_integer()
