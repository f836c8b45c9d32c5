"""A LOSO run in the MEGC challenge's file format: ``megc_predictions.csv`` and ``megc_ground_truth.csv``.

Both have the columns ``subject, video, onset, offset, type`` (type ``micro`` /
``macro``), subject and video named as in the annotation table, so the
official spotting evaluator can score the run (once per type) or it can be
submitted. Predictions are each fold's NMS output of its selected epoch, in
NMS order: the evaluator takes predictions in written order, so the order is
part of the result. Ground truth is the annotation rows of the run's
subjects, frames as the table has them (divided by ``RATIO_SCALE``, which is
1 in every shipped section, exactly as evaluation compares them).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from utils.annotations import EXPRESSION_TYPES, read_annotation_table, subject_ground_truth
from utils.errors import UserError
from utils.io import atomic_write_csv
from utils.layout import FoldLayout

MEGC_COLUMNS = ["subject", "video", "onset", "offset", "type"]
PREDICTIONS_FILE, GROUND_TRUTH_FILE = "megc_predictions.csv", "megc_ground_truth.csv"


def _megc_rows(subject: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with video_name, start_frame, end_frame, type_idx -> MEGC_COLUMNS (types other than 1, 2 dropped)."""
    rows = rows[rows["type_idx"].isin(list(EXPRESSION_TYPES))]
    return pd.DataFrame({"subject": subject, "video": rows["video_name"].astype(str).to_numpy(),
                         "onset": rows["start_frame"].to_numpy(dtype="int64"),
                         "offset": rows["end_frame"].to_numpy(dtype="int64"),
                         "type": rows["type_idx"].map(EXPRESSION_TYPES).to_numpy()}, columns=MEGC_COLUMNS)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [part for part in parts if len(part)]  # empty frames would only blur the dtypes
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MEGC_COLUMNS)


def prediction_table(output: Path, subject: str, selected_epoch: int | None) -> pd.DataFrame:
    """One fold's predictions in MEGC_COLUMNS: its selected epoch's NMS file (none when no epoch was chosen)."""
    if selected_epoch is None:
        return pd.DataFrame(columns=MEGC_COLUMNS)
    path = FoldLayout.of(output, subject).nms_csv(int(selected_epoch))
    if not path.is_file():
        raise UserError(f"{path}: missing, but eval_info.json selects epoch {selected_epoch}; re-evaluate the fold")
    try:
        kept = pd.read_csv(path, dtype={"video_name": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable NMS table ({str(error).splitlines()[0]})") from None
    missing = [c for c in ("video_name", "start_frame", "end_frame", "type_idx") if c not in kept.columns]
    if missing:
        raise UserError(f"{path}: NMS table lacks column(s) {', '.join(missing)}")
    return _megc_rows(subject, kept)


def evaluation_annotations(output: Path, subjects: list[str]) -> tuple[Path, int]:
    """``(anno_csv, RATIO_SCALE)`` the folds were evaluated with, from their ``logs/eval_config.txt``.

    Raises :class:`UserError` when a file is missing or unreadable, or the folds disagree.
    """
    seen = {}
    for subject in subjects:
        path = FoldLayout.of(output, subject).logs / "eval_config.txt"
        try:
            config = json.loads(path.read_text())
            seen[subject] = (str(config["anno_csv"]), int(config["RATIO_SCALE"]))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise UserError(f"{path}: cannot read anno_csv and RATIO_SCALE ({type(error).__name__}: {error})") from None
    if len(set(seen.values())) > 1:
        raise UserError(f"{output}: folds were evaluated with different annotation tables "
                        f"({', '.join(sorted({v[0] for v in seen.values()}))})")
    anno_csv, ratio_scale = next(iter(seen.values()))
    return Path(anno_csv), ratio_scale


def ground_truth_table(anno_csv: Path, subjects: list[str], ratio_scale: int = 1) -> pd.DataFrame:
    """The annotation rows of ``subjects`` (in the given subject order, table order within) in MEGC_COLUMNS."""
    table = read_annotation_table(anno_csv)
    return _concat([_megc_rows(s, subject_ground_truth(table, s, ratio_scale)) for s in subjects])


def left_out_expressions(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, int]:
    """Per type, the expressions of subjects with no prediction of that type: the evaluator leaves them out."""
    counts = {}
    for name in EXPRESSION_TYPES.values():
        predicted = set(predictions.loc[predictions["type"] == name, "subject"])
        of_type = truth[truth["type"] == name]
        counts[name] = int((~of_type["subject"].isin(predicted)).sum())
    return counts


def write_megc_files(output: Path, folds: list[tuple[str, int | None]], anno_csv: Path,
                     ratio_scale: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``<output>/megc_predictions.csv`` and ``megc_ground_truth.csv`` for ``(subject, selected_epoch)``
    folds; returns both tables."""
    predictions = _concat([prediction_table(output, subject, epoch) for subject, epoch in folds])
    truth = ground_truth_table(anno_csv, [subject for subject, _ in folds], ratio_scale)
    atomic_write_csv(output / PREDICTIONS_FILE, predictions)
    atomic_write_csv(output / GROUND_TRUTH_FILE, truth)
    return predictions, truth
