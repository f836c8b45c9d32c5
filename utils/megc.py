"""A LOSO run in the MEGC challenge's file format: ``megc_predictions.csv`` and ``megc_ground_truth.csv``.

Both have the columns ``subject, video, onset, offset, emotion`` that the
challenge's spotting evaluator reads (it needs ``emotion`` for the recognition
half of STRS), then ``type`` (``micro`` / ``macro``, to score one type at a
time); subject and video are named as in the annotation table, so the official
evaluator can score the run or it can be submitted. ``emotion`` is the
annotation table's own ``emotion`` column where it has one, else
:data:`EMOTION_PLACEHOLDER`; predictions always carry the placeholder (AUW-GCN
spots, it does not recognise emotions, so the recognition half of STRS means
nothing for it).

Predictions are each fold's NMS output of its selected epoch, in NMS order:
the evaluator takes predictions in written order, so the order is part of the
result. Their frames (:data:`MEGC_FRAMES`): ``published`` (default) as the NMS
files hold them, with the published +1 frame shift (METHOD.md, proposals),
the frames evaluation counted, so the official evaluator on these files gives
the ``megc`` counts of ``final_results.json``; ``raw`` without the shift (one
frame less), the frames the network's rows point at. Ground truth is the
annotation rows of the run's subjects, frames as the table has them (divided
by ``RATIO_SCALE``, which is 1 in every shipped section, exactly as evaluation
compares them), whatever ``MEGC_FRAMES``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from utils.annotations import EXPRESSION_TYPES, as_names, read_annotation_table, subject_ground_truth
from utils.errors import UserError
from utils.io import atomic_write_csv
from utils.layout import FoldLayout
from utils.indexing import PROPOSAL_FRAME_SHIFT
from utils.metrics import selected_kept

MEGC_COLUMNS = ["subject", "video", "onset", "offset", "emotion", "type"]
EMOTION_PLACEHOLDER = "unknown"  # no emotion: every prediction, and a table without an emotion column
MEGC_FRAMES = ("published", "raw")
PREDICTIONS_FILE, GROUND_TRUTH_FILE = "megc_predictions.csv", "megc_ground_truth.csv"


def _megc_rows(subject: str, rows: pd.DataFrame, shift: int = 0) -> pd.DataFrame:
    """Rows with video_name, start_frame, end_frame, type_idx (optional emotion) -> MEGC_COLUMNS.

    Types other than 1, 2 are dropped; ``shift`` is added to onset and offset;
    an empty or missing emotion becomes :data:`EMOTION_PLACEHOLDER`.
    """
    rows = rows[rows["type_idx"].isin(list(EXPRESSION_TYPES))]
    emotion = (rows["emotion"].astype(object).where(rows["emotion"].notna(), "").astype(str).str.strip()
               if "emotion" in rows.columns else pd.Series("", index=rows.index))
    return pd.DataFrame({"subject": as_names([subject] * len(rows)), "video": as_names(rows["video_name"].astype(str)),
                         "onset": rows["start_frame"].to_numpy(dtype="int64") + shift,
                         "offset": rows["end_frame"].to_numpy(dtype="int64") + shift,
                         "emotion": emotion.where(emotion != "", EMOTION_PLACEHOLDER).to_numpy(dtype=object),
                         "type": rows["type_idx"].map(EXPRESSION_TYPES).to_numpy()}, columns=MEGC_COLUMNS)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [part for part in parts if len(part)]  # empty frames would only blur the dtypes
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MEGC_COLUMNS)


def prediction_table(output: Path, subject: str, selected_epoch: int | None,
                     frames: str = "published") -> pd.DataFrame:
    """One fold's predictions in MEGC_COLUMNS: its kept proposals at its selected epoch
    (utils.metrics.selected_kept).

    ``frames``: ``published`` keeps the NMS file's frames, ``raw`` takes the published +1 shift off.
    """
    kept = selected_kept(FoldLayout.of(output, subject), selected_epoch)
    return _megc_rows(subject, kept, shift=0 if frames == "published" else -PROPOSAL_FRAME_SHIFT)


def ground_truth_table(anno_csv: Path, subjects: list[str], ratio_scale: int = 1) -> pd.DataFrame:
    """The annotation rows of ``subjects`` (in the given subject order, table order within) in MEGC_COLUMNS."""
    table = read_annotation_table(anno_csv)
    parts = []
    for subject in subjects:
        rows = subject_ground_truth(table, subject, ratio_scale)
        if "emotion" in table.columns:  # subject_ground_truth keeps the rows in table order
            rows["emotion"] = table.loc[table["subject"] == subject, "emotion"].to_numpy()
        parts.append(_megc_rows(subject, rows))
    return _concat(parts)


def left_out_expressions(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, int]:
    """Per type, the expressions of subjects with no prediction of that type: the evaluator leaves them out."""
    counts = {}
    for name in EXPRESSION_TYPES.values():
        predicted = set(predictions.loc[predictions["type"] == name, "subject"])
        of_type = truth[truth["type"] == name]
        counts[name] = int((~of_type["subject"].isin(predicted)).sum())
    return counts


def write_megc_files(output: Path, folds: list[tuple[str, int | None]], anno_csv: Path,
                     ratio_scale: int = 1, frames: str = "published") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``<output>/megc_predictions.csv`` and ``megc_ground_truth.csv`` for ``(subject, selected_epoch)``
    folds, prediction frames as ``frames`` (:data:`MEGC_FRAMES`) says; returns both tables."""
    if frames not in MEGC_FRAMES:
        raise UserError(f"MEGC frames must be one of {', '.join(MEGC_FRAMES)}, not {frames!r}")
    predictions = _concat([prediction_table(output, subject, epoch, frames) for subject, epoch in folds])
    truth = ground_truth_table(anno_csv, [subject for subject, _ in folds], ratio_scale)
    atomic_write_csv(output / PREDICTIONS_FILE, predictions)
    atomic_write_csv(output / GROUND_TRUTH_FILE, truth)
    return predictions, truth
