"""What the adapters share about annotation files: sheets, header rows, cells, and the typed paper table."""
from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

import numpy as np
import pandas as pd

from feature_extraction.adapters.frames import VideoSource
from utils.annotations import ANNOTATION_COLUMNS, FRAME_COLUMNS, TYPE_INDEX, with_name_columns
from utils.errors import UserError

# The type column's text in the CAS(ME)^2 and CAS(ME)^3 sheets ("macro-expression"), any case -> type_idx.
EXPRESSION_TYPE_TEXT = {f"{name}-expression": type_idx for name, type_idx in TYPE_INDEX.items()}


def annotation_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (subject, video_name, start, apex, end, type_idx, au) -> the typed table."""
    return typed_table(pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS)))


def typed_table(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's columns in order: frames and type_idx int64, names as :func:`as_names`, au str."""
    table = table.loc[:, list(ANNOTATION_COLUMNS)].copy()
    for column in (*FRAME_COLUMNS, "type_idx"):
        table[column] = table[column].astype("int64")
    table["au"] = table["au"].astype("str")
    return with_name_columns(table)


def check_subjects(path: Path, table: pd.DataFrame, videos: list[VideoSource]) -> None:
    """A row naming a discovered video must name that video's subject too."""
    known = pd.Series({video.video_name: video.subject for video in videos}, dtype="str")
    expected = table["video_name"].map(known)
    wrong = expected.notna() & (expected != table["subject"])
    if wrong.any():
        row = int(np.flatnonzero(wrong.to_numpy())[0])
        raise UserError(f"{path}: puts video {table['video_name'].iat[row]} in subject "
                         f"{table['subject'].iat[row]}, but its frames are in subject {expected.iat[row]}")


def read_sheets(path: Path, engine: str = "openpyxl") -> dict[str, pd.DataFrame]:
    """All sheets of a spreadsheet by name, in file order, no header, cells as Python objects."""
    try:
        return pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine=engine)
    except Exception as error:  # the engines raise many types for a bad file
        raise UserError(f"{path}: cannot read as a spreadsheet ({type(error).__name__}: {error})") from None


def header_row(sheet: pd.DataFrame, names: tuple[str, ...]) -> int | None:
    """Index of the first of the sheet's first 30 rows that holds every column name of ``names`` (any case)."""
    wanted = {name.lower() for name in names}
    for index in range(min(len(sheet), 30)):
        if wanted <= {as_text(cell).strip().lower() for cell in sheet.iloc[index]}:
            return index
    return None


def header_columns(sheet: pd.DataFrame, row: int, names: tuple[str, ...]) -> dict[str, int]:
    """``{name: column index}`` of ``names`` in the header ``row`` (found by :func:`header_row`)."""
    cells = [as_text(cell).strip().lower() for cell in sheet.iloc[row]]
    return {name: cells.index(name.lower()) for name in names}


def is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


def as_int(value) -> int | None:
    """An integer cell (int, integral float, or digit text) as int; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def as_text(value) -> str:
    """A cell as the text a person sees: 12 -> '12', blank -> '', strings unchanged."""
    if is_blank(value) and not isinstance(value, str):
        return ""
    number = None if isinstance(value, str) else as_int(value)
    return str(number) if number is not None else str(value)


def frame_cell(path: Path, row: int, column: str, value) -> int:
    number = as_int(value)
    if number is None:
        shown = "(empty)" if is_blank(value) else repr(value)
        raise UserError(f"{path}: row {row + 1}: {column} {shown} is not a whole frame number")
    return number


def drop_blank_rows(sheet: pd.DataFrame) -> pd.DataFrame:
    blank = sheet.map(is_blank).all(axis=1)
    return sheet.loc[~blank]


def as_real(value) -> float | None:
    """A numeric cell (number or number text) as a finite float; anything else None."""
    if isinstance(value, bool) or is_blank(value):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        return None
    return float(value)
