"""CAS(ME)^2: ``rawpic/s<SS>/<SS>_<CCCC><name>/img<N>.jpg`` (30 fps).

The folder's own ``SS_`` prefix names the subject, so the misplaced ``rawpic/s19/23_0502funnyerrors`` is
``casme_023_0502``. Annotations: the official xlsx, row for row the paper's table
``casme2_annotations.csv``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from feature_extraction.adapters.frames import TreeWarning, VideoSource, frames_for_discovery, visible_entries
from feature_extraction.adapters.sheets import (EXPRESSION_TYPE_TEXT, annotation_frame, as_int, as_text,
                                                drop_blank_rows, frame_cell, read_sheets)
from utils.errors import UserError

ANNOTATION_REQUIRED = True
CLIPS_TO_FRAME_COUNTS = False
# Stimulus codes and the folder suffix each carries on disk (FORMATS.md).
CASME2_CODES = {
    "0101": "disgustingteeth", "0102": "eatingworms", "0401": "girlcrashing",
    "0402": "beatingpregnantwoman", "0502": "funnyerrors", "0503": "unnyfarting",
    "0505": "funnyinnovations", "0507": "climbingthewall", "0508": "funnydunkey",
}
_CASME2_SUBJECT_DIR = re.compile(r"^s(\d+)$")
_CASME2_VIDEO_DIR = re.compile(r"^(\d+)_(\d{4})(.*)$")
_CASME2_FRAME = re.compile(r"^img(\d+)$", re.IGNORECASE)


def _casme2_root(raw_root: Path) -> Path:
    """``raw_root/rawpic`` when present, else ``raw_root`` itself (it may be rawpic)."""
    return raw_root / "rawpic" if (raw_root / "rawpic").is_dir() else raw_root


def discover(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    for subject_dir in visible_entries(_casme2_root(raw_root)):
        if not (subject_dir.is_dir() and _CASME2_SUBJECT_DIR.match(subject_dir.name)):
            problems.append(TreeWarning(f"{subject_dir}: not a CAS(ME)^2 subject folder s<SS>; skipped"))
            continue
        for video_dir in visible_entries(subject_dir):
            match = _CASME2_VIDEO_DIR.match(video_dir.name)
            if not video_dir.is_dir() or match is None:
                problems.append(TreeWarning(f"{video_dir}: not a CAS(ME)^2 video folder <SS>_<CCCC><name>; skipped"))
                continue
            if match.group(2) not in CASME2_CODES:
                problems.append(f"{video_dir}: unknown CAS(ME)^2 code {match.group(2)}; skipped")
                continue
            _, frames = frames_for_discovery(video_dir, problems, _CASME2_FRAME)
            if not frames:
                continue
            # The folder's own SS_ prefix names the subject (s19/23_0502... is subject 23).
            videos.append(VideoSource(*_names(int(match.group(1)), match.group(2)), frames))
    return videos, problems


def _names(folder: int, code: str) -> tuple[str, str]:
    """``(subject, video_name)`` of subject folder number ``folder`` and stimulus ``code``: casme_015,
    casme_015_0101."""
    subject = f"casme_{folder:03d}"
    return subject, f"{subject}_{code}"


def table_names(name: str) -> tuple[str, str] | None:
    """A video folder ``<SS>_<CCCC><name>`` (``15_0101disgustingteeth``) -> ``(casme_015, casme_015_0101)``."""
    match = _CASME2_VIDEO_DIR.match(name)
    return _names(int(match.group(1)), match.group(2)) if match else None


def read_annotations(path: Path, videos: list[VideoSource], frame_counts: dict[str, int] | None,
                     notices: list[str]) -> pd.DataFrame:
    """The official xlsx: sheet 0 data, sheet 1 participant -> folder, sheet 2 clip name -> code (sheets
    opened by index)."""
    sheets = list(read_sheets(path).values())
    if len(sheets) < 3:
        raise UserError(f"{path}: expected 3 sheets (expressions, naming rule1, naming rule2), found {len(sheets)}")
    folders = _casme2_participant_folders(path, sheets[1])
    codes = _casme2_clip_codes(path, sheets[2])
    data = drop_blank_rows(sheets[0])
    if data.shape[1] < 9:
        raise UserError(f"{path}: sheet 0 has {data.shape[1]} columns, expected 9 "
                         "(participant, clip, onset, apex, offset, AU, emotion, type, self-report)")
    rows = []
    for row, cells in zip(data.index, data.itertuples(index=False)):
        participant, clip, onset, apex, offset, au, _, kind = cells[:8]
        folder = folders.get(as_int(participant))
        if folder is None:
            raise UserError(f"{path}: sheet 0 row {row + 1}: participant {participant!r} is not in sheet 1")
        clip_name = as_text(clip).strip().split("_")[0]
        code = codes.get(clip_name.lower())
        if code is None:
            raise UserError(f"{path}: sheet 0 row {row + 1}: clip {clip!r} has no code in sheet 2")
        type_idx = EXPRESSION_TYPE_TEXT.get(as_text(kind).strip().lower())
        if type_idx is None:
            raise UserError(f"{path}: sheet 0 row {row + 1}: type {kind!r} is neither "
                             "macro-expression nor micro-expression")
        frames = [frame_cell(path, row, name, value)
                  for name, value in zip(("onset", "apex", "offset"), (onset, apex, offset))]
        rows.append((*_names(folder, code), *frames, type_idx, as_text(au)))
    return annotation_frame(rows)


def _casme2_participant_folders(path: Path, sheet: pd.DataFrame) -> dict[int, int]:
    """Sheet 1 (naming rule1): folder number, folder name, participant -> {participant: folder}.

    Rows whose cells do not fit (a header row) are ignored.
    """
    folders = {}
    for cells in sheet.itertuples(index=False):
        if len(cells) < 3:
            break
        folder, participant = as_int(cells[0]), as_int(cells[2])
        if folder is not None and participant is not None:
            folders[participant] = folder
    if not folders:
        raise UserError(f"{path}: sheet 1 (naming rule1) has no rows folder number, folder name, participant")
    return folders


def _casme2_clip_codes(path: Path, sheet: pd.DataFrame) -> dict[str, str]:
    """Sheet 2 (naming rule2): code, name -> {name (lower case): 4-digit code}.

    A code stored as a number (101) is read back as text ('0101'); rows whose
    cells do not fit (a header row) are ignored.
    """
    codes = {}
    for cells in sheet.itertuples(index=False):
        if len(cells) < 2:
            break
        code, name = as_int(cells[0]), as_text(cells[1]).strip()
        if code is not None and name:
            codes[name.lower()] = f"{code:04d}"
    if not codes:
        raise UserError(f"{path}: sheet 2 (naming rule2) has no rows code, name")
    return codes
