"""Tiny look-alikes of the official annotation spreadsheets, built from tables in the paper's format.

They reproduce the quirks FORMATS.md lists, so a parser that reads them back
must give the table they were built from:

* CAS(ME)^2: sheet 0 without header (participant 1..22, clip ``<name>_<k>``,
  1-based frames with 0 kept, AU, emotion, ``macro-expression``/
  ``micro-expression``, self-report), sheet 1 ``naming rule1`` (folder number,
  ``s<SS>``, participant), sheet 2 ``naming rule2`` (code as text, name);
  sheet names vary, so the parser must open sheets by index.
* SAMM-LV: 10 preamble rows, header at row index 9, Filename
  ``<SSS>_<V>_<k>``, 200-fps frames f with (f-1)//8 equal to the table's
  value (0 and -1 kept), offsets of a video's last annotated frame written
  past the video, wrong Durations, ``Macro``/``Micro - 1/2``, AU text as is
  (whole numbers stored as numbers, as Excel does); optionally fractional
  frame numbers (566.4000000000001), as 178 of the 502 rows of the V3
  release carry.
* CAS(ME)^3 part A: a legacy ``.xls`` whose sheet ``AU+Emotion`` is not the
  first, header row Subject, Filename (a letter, either case), Onset, Apex,
  Offset (stored as text), AU, Expression type (``Macro-expression``/
  ``Micro-expression``), Objective class.
"""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd

from utils.annotations import ANNOTATION_COLUMNS, with_name_columns

CASME2_FOLDERS = (15, 16, *range(19, 28), *range(29, 39), 40)  # participant 1..22 -> s15 .. s40
CASME2_CLIP_NAMES = {"0101": "disgust1", "0102": "disgust2", "0401": "anger1", "0402": "anger2",
                     "0502": "happy1", "0503": "happy2", "0505": "happy3", "0507": "happy4",
                     "0508": "happy5"}
SAMM_HEADER = ("Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
               "Action Units", "Notes")


def _cell_au(au: str):
    """Excel stores an AU typed as ``12`` as the number 12."""
    return int(au) if au.isdigit() else au


def _occurrence(table: pd.DataFrame) -> list[int]:
    """1-based index of each row among the rows of its video (the ``_k`` of a clip name)."""
    return (table.groupby("video_name", sort=False).cumcount() + 1).tolist()


def write_casme2_xlsx(path: Path, table: pd.DataFrame, sheet_names=("Sheet1", "naming rule1", "naming rule2"),
                      headers: bool = True, numeric_codes: bool = False) -> Path:
    """Write a CAS(ME)^2 code_final look-alike holding ``table`` (the paper's columns).

    ``headers`` puts a header row on sheets 1 and 2 (sheet 0 never has one);
    ``numeric_codes`` stores codes as numbers (101) instead of text ('0101').
    """
    book = openpyxl.Workbook()
    data, rule1, rule2 = book.active, book.create_sheet(), book.create_sheet()
    for sheet, name in zip((data, rule1, rule2), sheet_names):
        sheet.title = name
    participant = {folder: index + 1 for index, folder in enumerate(CASME2_FOLDERS)}
    for row, k in zip(table.itertuples(index=False), _occurrence(table)):
        folder, code = int(row.subject.split("_")[1]), row.video_name.split("_")[2]
        kind = "macro-expression" if row.type_idx == 1 else "micro-expression"
        data.append([participant[folder], f"{CASME2_CLIP_NAMES[code]}_{k}", int(row.start_frame),
                     int(row.apex_frame), int(row.end_frame), _cell_au(row.au), "others", kind, "happy"])
    if headers:
        rule1.append(["folder number", "folder name", "participant"])
        rule2.append(["code", "name"])
    for folder, number in participant.items():
        rule1.append([folder, f"s{folder}", number])
    for code, name in CASME2_CLIP_NAMES.items():
        rule2.append([int(code) if numeric_codes else code, name])
    book.save(path)
    return path


def samm_frame(value: int, jitter: int) -> int:
    """A 200-fps frame f with (f-1)//8 == value (jitter 0..7 picks which); 0 and -1 kept."""
    return value if value in (0, -1) else 8 * value + 1 + jitter


def write_samm_xlsx(path: Path, table: pd.DataFrame, frame_counts: dict[str, int],
                    sheet_name: str = "FACS_Movement_Only", fractional_every: int = 0) -> Path:
    """Write a SAMM_LongVideos_V*_Release look-alike holding ``table`` (25-fps frames).

    An end frame equal to the video's last 25-fps frame (``frame_counts`` - 1)
    is written three 25-fps frames past the video, so only clipping gives it
    back. With ``fractional_every`` k > 0, every k-th row's annotated frames
    get a fraction (f + 0.4000000000001, so ``(f-1)//8`` is unchanged).
    """
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = sheet_name
    preamble = [["SAMM Long Videos"], ["Facial movement annotations"], [], ["Onset 0 / Apex -1: not coded"],
                [], ["Version", 2], [], [], ["Type: Macro or Micro - 1/2"]]
    for line in preamble:
        sheet.append(line)
    sheet.append(list(SAMM_HEADER))
    for index, (row, k) in enumerate(zip(table.itertuples(index=False), _occurrence(table))):
        jitter = index % 8
        subject, take = row.video_name.split("_")[1:3]
        end = int(row.end_frame)
        if end == frame_counts[row.video_name] - 1:
            end += 3
        onset, apex, offset = (samm_frame(int(v), jitter) for v in (row.start_frame, row.apex_frame, end))
        if fractional_every and index % fractional_every == 0:
            onset, apex, offset = (f if f in (0, -1) else f + 0.4000000000001 for f in (onset, apex, offset))
        duration = 999 if index % 5 == 0 else offset - onset + 1  # some Durations are wrong on purpose
        kind = "Macro" if row.type_idx == 1 else "Micro - 1/2"
        sheet.append([int(subject), f"{subject}_{take}_{k}", index % 4 + 1, onset, apex, offset, duration,
                      kind, _cell_au(row.au), f"note {index}" if index % 3 == 0 else None])
    book.save(path)
    return path


CASME3_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class")


def write_casme3_xls(path: Path, table: pd.DataFrame, upper_letters: bool = True) -> Path:
    """Write a CAS(ME)3_part_A_v2.xls look-alike holding ``table`` (subject ``spNO.<n>``, video
    ``spNO.<n>_<letter>``); frames as text, every other row's letter in upper case when ``upper_letters``."""
    import xlwt

    book = xlwt.Workbook()
    book.add_sheet("readme").write(0, 0, "CAS(ME)^3 part A")  # the data sheet is found by name, not place
    sheet = book.add_sheet("AU+Emotion")
    for col, name in enumerate(CASME3_HEADER):
        sheet.write(0, col, name)
    for index, row in enumerate(table.itertuples(index=False), start=1):
        letter = row.video_name.rsplit("_", 1)[1]
        letter = letter.upper() if upper_letters and index % 2 else letter
        kind = "Macro-expression" if row.type_idx == 1 else "Micro-expression"
        cells = [row.subject, letter, str(int(row.start_frame)), str(int(row.apex_frame)), str(int(row.end_frame)),
                 _cell_au(row.au), kind, "negative"]
        for col, value in enumerate(cells):
            sheet.write(index, col, value)
    book.save(str(path))
    return path


def table(rows) -> pd.DataFrame:
    """Annotation rows (paper format) typed as the adapters return them, for comparisons."""
    frame = pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))
    for column in ANNOTATION_COLUMNS[2:6]:
        frame[column] = frame[column].astype("int64")
    frame["au"] = frame["au"].astype("str")
    return with_name_columns(frame)
