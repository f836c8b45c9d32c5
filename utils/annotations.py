"""The paper's annotation table: ``subject,video_name,start_frame,apex_frame,end_frame,type_idx,au``."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from utils.errors import UserError

ANNOTATION_COLUMNS = ("subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx", "au")
FRAME_COLUMNS = ("start_frame", "apex_frame", "end_frame")


def read_annotation_table(path: str | Path, fps: float | None = None) -> pd.DataFrame:
    """Read and validate an annotation CSV (or an ELAN ``.eaf``, utils/elan.py, its times counted as frames at
    ``fps``, default the file's own rate); frames and type as int, au as str.

    Raises :class:`UserError` with one line naming the file for a missing file,
    unreadable CSV, missing columns or non-integer frames.
    """
    path = Path(path)
    if path.suffix.lower() == ".eaf":
        from utils.elan import read_eaf_table

        return read_eaf_table(path, fps)
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
    return table


def subject_ground_truth(table: pd.DataFrame, subject: str, ratio_scale: int = 1) -> pd.DataFrame:
    """The rows of ``subject`` with frames divided by ``RATIO_SCALE`` (1 for both published datasets)."""
    rows = table.loc[table["subject"] == subject, ["video_name", "start_frame", "apex_frame", "end_frame", "type_idx"]]
    rows = rows.reset_index(drop=True)
    if ratio_scale != 1:
        for column in FRAME_COLUMNS:
            rows[column] = rows[column] // ratio_scale
    return rows
