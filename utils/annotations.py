"""The paper's annotation table: ``subject,video_name,start_frame,apex_frame,end_frame,type_idx,au``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.elan import EafIntervals, read_eaf
from utils.errors import UserError

ANNOTATION_COLUMNS = ("subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx", "au")
FRAME_COLUMNS = ("start_frame", "apex_frame", "end_frame")
NAME_COLUMNS = ("subject", "video_name")

MICRO, MACRO = 2, 1  # type_idx values of the published tables
# type_idx -> name. Micro first: the order of every per-type loop, table block and column group.
EXPRESSION_TYPES = {MICRO: "micro", MACRO: "macro"}
TYPE_INDEX = {name: type_idx for type_idx, name in EXPRESSION_TYPES.items()}

# The 8 per-row label columns of the segment files (FORMATS.md): each type's start, apex, end and action marks.
LABEL_MARKS = ("start", "apex", "end", "action")
LABEL_COLUMNS = tuple(f"{name}_{mark}" for name in EXPRESSION_TYPES.values() for mark in LABEL_MARKS)


def label_column(type_idx: int, mark: str) -> int:
    """Index in :data:`LABEL_COLUMNS` of ``mark`` (one of :data:`LABEL_MARKS`) for ``type_idx``."""
    return LABEL_COLUMNS.index(f"{EXPRESSION_TYPES[type_idx]}_{mark}")


def as_names(values, index=None) -> pd.Series:
    """Subject or video names as Python ``str`` in an ``object`` column: the one dtype of names in every table.

    pandas 3 infers its own string dtype where pandas 2 kept ``object``; fixing the dtype here keeps tables
    built by different paths (and read back from CSV) equal under either version.
    """
    if isinstance(values, pd.Series):
        index = values.index if index is None else index
        values = values.to_numpy(dtype=object)
    return pd.Series(np.asarray(values, dtype=object), index=index, dtype=object)


def with_name_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each of its :data:`NAME_COLUMNS` (and ``video``) as :func:`as_names`."""
    for column in (*NAME_COLUMNS, "video"):
        if column in table.columns:
            table[column] = as_names(table[column])
    return table


def read_annotation_table(path: str | Path, fps: float | None = None) -> pd.DataFrame:
    """Read and validate an annotation CSV (or an ELAN ``.eaf``, utils/elan.py, its times counted as frames at
    ``fps``, default the file's own rate); frames and type as int, au as str.

    Raises :class:`UserError` with one line naming the file for a missing file,
    unreadable CSV, missing columns or non-integer frames.
    """
    path = Path(path)
    if path.suffix.lower() == ".eaf":
        return eaf_table(read_eaf(path, fps))
    if not path.is_file():
        raise UserError(f"{path}: annotation file not found")
    try:
        table = pd.read_csv(path, dtype={"subject": str, "video_name": str, "au": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable annotation CSV ({str(error).splitlines()[0]})") from None
    missing = [column for column in ANNOTATION_COLUMNS if column not in table.columns]
    if missing:
        raise UserError(f"{path}: annotation table lacks column(s) {', '.join(missing)}")
    for column in (*FRAME_COLUMNS, "type_idx"):
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any() or (values % 1 != 0).any():
            row = int(values.isna().to_numpy().argmax()) if values.isna().any() else int((values % 1 != 0).argmax())
            raise UserError(f"{path}: column '{column}' must hold integers (data row {row + 1})")
        table[column] = values.astype("int64")
    return with_name_columns(table)


def eaf_table(eaf: EafIntervals) -> pd.DataFrame:
    """An EAF's intervals (utils/elan.py) as the paper's table: ANNOTATION_COLUMNS, ``au`` empty."""
    rows = [(eaf.subject, eaf.video_name, onset, apex, offset, TYPE_INDEX[tier], "")
            for tier, onset, apex, offset in eaf.intervals]
    table = pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))
    for column in (*FRAME_COLUMNS, "type_idx"):
        table[column] = table[column].astype("int64")
    table["au"] = table["au"].astype("str")
    return with_name_columns(table)


def subject_ground_truth(table: pd.DataFrame, subject: str, ratio_scale: int = 1) -> pd.DataFrame:
    """The rows of ``subject`` with frames divided by ``RATIO_SCALE`` (1 for both published datasets)."""
    rows = table.loc[table["subject"] == subject, ["video_name", "start_frame", "apex_frame", "end_frame", "type_idx"]]
    rows = rows.reset_index(drop=True)
    if ratio_scale != 1:
        for column in FRAME_COLUMNS:
            rows[column] = rows[column] // ratio_scale
    return rows
