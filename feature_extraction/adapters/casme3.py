"""CAS(ME)^3 part A (30 fps): ``<root>/spNO.<n>/<letter>/color/<N>.jpg``, subject ``spNO.<n>``, video
``spNO.<n>_<letter, lower case>`` (letters on disk and in the sheet are matched case-insensitively).
Annotations: the part A ``.xls``, frames kept as the sheet has them (1-based, 30 fps)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from feature_extraction.adapters.frames import TreeWarning, VideoSource, frames_for_discovery, visible_entries
from feature_extraction.adapters.sheets import (EXPRESSION_TYPE_TEXT, annotation_frame, as_text, drop_blank_rows,
                                                frame_cell, header_columns, header_row, read_sheets)
from utils.errors import UserError

ANNOTATION_REQUIRED = True
CLIPS_TO_FRAME_COUNTS = False
_CASME3_SUBJECT = re.compile(r"^\s*spNO\.(\d+)\s*$", re.IGNORECASE)
_CASME3_VIDEO_DIR = re.compile(r"^[A-Za-z]+$")
_WHOLE_NUMBER = re.compile(r"^(\d+)$")


def discover(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    for subject_dir in visible_entries(raw_root):
        match = _CASME3_SUBJECT.match(subject_dir.name)
        if not (subject_dir.is_dir() and match):
            problems.append(TreeWarning(f"{subject_dir}: not a CAS(ME)^3 subject folder spNO.<n>; skipped"))
            continue
        subject = _subject(match)
        for video_dir in visible_entries(subject_dir):
            if not (video_dir.is_dir() and _CASME3_VIDEO_DIR.match(video_dir.name)):
                problems.append(TreeWarning(f"{video_dir}: not a CAS(ME)^3 video folder <letter>; skipped"))
                continue
            color = next((d for d in visible_entries(video_dir) if d.is_dir() and d.name.lower() == "color"), None)
            if color is None:
                problems.append(f"{video_dir}: no color/ folder of frames; skipped")
                continue
            _, frames = frames_for_discovery(color, problems, _WHOLE_NUMBER)
            if frames:
                videos.append(VideoSource(subject, _video_name(subject, video_dir.name), frames))
    return videos, problems


def _subject(match: re.Match) -> str:
    """``spNO.<n>`` with the number as a plain integer (``spNO.01`` and ``spNO.1`` are one subject)."""
    return f"spNO.{int(match.group(1))}"


def _video_name(subject: str, letter: str) -> str:
    return f"{subject}_{letter.lower()}"


def table_names(name: str) -> None:
    """A recording's own name (a letter, or ``color``) does not give its subject: None."""
    return None


_CASME3_SHEET = "AU+Emotion"
_CASME3_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type")


def read_annotations(path: Path, videos: list[VideoSource], frame_counts: dict[str, int] | None,
                     notices: list[str]) -> pd.DataFrame:
    """The part A ``.xls``: sheet ``AU+Emotion`` (opened by name), frames as written (text cells read as
    integers)."""
    sheets = read_sheets(path, engine="calamine")  # calamine reads the legacy .xls; pandas deprecates xlrd
    named = {str(name).strip().lower(): sheet for name, sheet in sheets.items()}
    sheet = named.get(_CASME3_SHEET.lower())
    if sheet is None:
        raise UserError(f"{path}: no sheet {_CASME3_SHEET!r} (sheets: {', '.join(map(str, sheets))})")
    first = header_row(sheet, _CASME3_HEADER)
    if first is None:
        raise UserError(f"{path}: sheet {_CASME3_SHEET!r} has no header row with {', '.join(_CASME3_HEADER)}")
    column = header_columns(sheet, first, _CASME3_HEADER)
    data = drop_blank_rows(sheet.iloc[first + 1:])
    rows = []
    for row, cells in zip(data.index, data.itertuples(index=False)):
        where = f"{path}: sheet {_CASME3_SHEET!r} row {row + 1}"
        subject_cell = as_text(cells[column["Subject"]])
        match = _CASME3_SUBJECT.match(subject_cell)
        if match is None:
            raise UserError(f"{where}: Subject {subject_cell!r} is not spNO.<n>")
        letter = as_text(cells[column["Filename"]]).strip()
        if not _CASME3_VIDEO_DIR.match(letter):
            raise UserError(f"{where}: Filename {letter!r} is not a letter")
        kind = as_text(cells[column["Expression type"]]).strip()
        type_idx = EXPRESSION_TYPE_TEXT.get(kind.lower())
        if type_idx is None:
            raise UserError(f"{where}: Expression type {kind!r} is neither Macro-expression nor Micro-expression")
        subject = _subject(match)
        frames = [frame_cell(path, row, name, cells[column[name]]) for name in ("Onset", "Apex", "Offset")]
        rows.append((subject, _video_name(subject, letter), *frames, type_idx, as_text(cells[column["AU"]])))
    return annotation_frame(rows)
