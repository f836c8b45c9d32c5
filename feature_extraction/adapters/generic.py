"""Any dataset in a plain layout: ``<root>/<subject>/<video>/`` image frames, or ``<root>/<subject>/<video>.<ext>``
video files read with OpenCV; annotations (optional) a CSV already in the paper's format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from feature_extraction.adapters.frames import (VIDEO_SUFFIXES, TreeWarning, VideoSource, frames_for_discovery,
                                                visible_entries)
from feature_extraction.adapters.sheets import typed_table
from utils.annotations import ANNOTATION_COLUMNS, FRAME_COLUMNS, MACRO, MICRO
from utils.errors import UserError

ANNOTATION_REQUIRED = False
CLIPS_TO_FRAME_COUNTS = False


def discover(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    for subject_dir in visible_entries(raw_root):
        if not subject_dir.is_dir():
            problems.append(TreeWarning(f"{subject_dir}: not a subject folder; skipped"))
            continue
        for entry in visible_entries(subject_dir):
            if entry.is_dir():
                _, frames = frames_for_discovery(entry, problems)
                if frames:
                    videos.append(VideoSource(subject_dir.name, entry.name, frames))
            elif entry.suffix.lower() in VIDEO_SUFFIXES:
                videos.append(VideoSource(subject_dir.name, entry.stem, video_file=entry))
            else:
                problems.append(TreeWarning(f"{entry}: neither a frame folder nor a video file "
                                            f"({', '.join(sorted(VIDEO_SUFFIXES))}); skipped"))
    return videos, problems


def table_names(name: str) -> None:
    """A generic tree's names are its folder and file names as they are: no naming rule to undo."""
    return None


def read_annotations(path: Path, videos: list[VideoSource], frame_counts: dict[str, int] | None,
                     notices: list[str]) -> pd.DataFrame:
    """A CSV already in the paper's format (``ANNOTATION_COLUMNS``), checked cell by cell."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as error:  # pandas raises several parser/decoding types
        raise UserError(f"{path}: cannot read as CSV ({type(error).__name__}: {error})") from None
    missing = [name for name in ANNOTATION_COLUMNS if name not in table.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing)} "
                         f"(expected {','.join(ANNOTATION_COLUMNS)})")
    for name in ("subject", "video_name"):
        empty = table[name].str.strip() == ""
        if empty.any():
            raise UserError(f"{path}: row {int(np.flatnonzero(empty.to_numpy())[0]) + 2}: {name} is empty")
    for name in (*FRAME_COLUMNS, "type_idx"):
        bad = ~table[name].str.fullmatch(r"\s*-?\d+\s*")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(f"{path}: row {row + 2}: {name} {table[name].iat[row]!r} is not an integer")
    table = typed_table(table)
    bad_type = ~table["type_idx"].isin([0, MACRO, MICRO])
    if bad_type.any():
        row = int(np.flatnonzero(bad_type.to_numpy())[0])
        raise UserError(f"{path}: row {row + 2}: type_idx {table['type_idx'].iat[row]} is not 0, 1 or 2")
    return table
