"""The annotation workbook in the official CAS(ME)^2 format, written byte-reproducibly."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl

from dataset.mesynth.casme2_stats import SUBJECT_FOLDER_NUMBERS, TYPE_SHEET_TEXT, VIDEO_CODES
from dataset.mesynth.plan import LABELLED_KINDS, VideoPlan
from utils.io import atomic_write_bytes

ANNOTATION_FILE_NAME = "CAS(ME)^2code_final.xlsx"
FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
FIXED_ISO_TIME = "2000-01-01T00:00:00Z"


def estimated_emotion(au_string: str) -> str:
    """Coarse emotion class of an AU combination, for column 7 of sheet 0."""
    aus = set(au_string.split("+"))
    if "12" in aus:
        return "positive"
    if aus & {"4", "9", "10", "15", "24"}:
        return "negative"
    if aus & {"1", "2", "5"}:
        return "surprise"
    return "others"


def annotation_rows(plans: list[VideoPlan]) -> list[list]:
    """Rows of sheet 0 (9 columns, no header): participant, clip name (<rule2 name>_<k>, k the
    1-based expression number within the video), onset, apex, offset (1-based frames), AU
    string, estimated emotion, 'macro-expression'/'micro-expression', self-reported emotion."""
    rows = []
    for plan in sorted(plans, key=lambda p: (p.participant, p.code)):
        _, clip_stem, reported = VIDEO_CODES[plan.code]
        for k, e in enumerate(plan.expressions, start=1):
            rows.append([plan.participant, f"{clip_stem}_{k}", e.onset, e.apex, e.offset, e.au,
                         estimated_emotion(e.au), TYPE_SHEET_TEXT[LABELLED_KINDS[e.kind]], reported])
    return rows


def _normalised_zip(data: bytes) -> bytes:
    """Rewrite an xlsx (a zip) with fixed member times and fixed document dates, so that equal
    content gives equal bytes (openpyxl stamps the save time into both)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                                 rb"\g<1>" + FIXED_ISO_TIME.encode(), content)
            member = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = info.external_attr
            dst.writestr(member, content)
    return out.getvalue()


def write_annotation_workbook(plans: list[VideoPlan], path: Path) -> Path:
    """Write the CAS(ME)^2-style workbook of the planned expressions to ``path`` (atomically).

    Sheet 0 'CASME2-coding': the annotation rows; sheet 1 'naming rule1': folder number,
    folder name (s15), participant number for all 22 participants; sheet 2 'naming rule2':
    video code as text ('0101') and clip-name stem ('disgust1'). No header rows.
    """
    workbook = openpyxl.Workbook()
    coding = workbook.active
    coding.title = "CASME2-coding"
    for row in annotation_rows(plans):
        coding.append(row)
    rule1 = workbook.create_sheet("naming rule1")
    for participant, number in enumerate(SUBJECT_FOLDER_NUMBERS, start=1):
        rule1.append([number, f"s{number}", participant])
    rule2 = workbook.create_sheet("naming rule2")
    for code, (_, clip_stem, _) in VIDEO_CODES.items():
        rule2.append([code, clip_stem])
    for cell in rule2["A"]:
        cell.number_format = "@"  # text, as in the real file, so '0101' keeps its zero
    buffer = io.BytesIO()
    workbook.save(buffer)
    atomic_write_bytes(path, _normalised_zip(buffer.getvalue()))
    return path
