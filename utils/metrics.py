"""Precision / recall / F1, per-epoch rows, pooled scores and per-video counts (METHOD.md 8.5, 8.7); epoch
selection is utils/selection.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES, MACRO, MICRO, with_name_columns
from utils.errors import UserError
from utils.layout import FoldLayout
from utils.matching import MatchingRule
from utils.nms import NMS_COLUMNS, read_nms_table
from utils.selection import epoch_row

_GROUPS = (*EXPRESSION_TYPES.values(), "all")
SCORE_ROWS = (*EXPRESSION_TYPES.values(), "overall")  # the rows of every pooled table: micro, macro, overall
COUNT_COLUMNS = [f"{g}_{c}" for g in _GROUPS for c in ("tp", "n", "m")]
EPOCH_METRIC_COLUMNS = [f"{g}_{c}" for g in _GROUPS for c in ("precision", "recall", "f1")] + COUNT_COLUMNS + ["epoch"]
VIDEO_COUNT_COLUMNS = ["subject", "video", "type", "tp", "fp", "fn"]  # video_counts.csv: one row per video and type


def precision_recall_f1(tp, n, m) -> tuple[float, float, float]:
    """P = TP/N, R = TP/M, F1 = 2PR/(P+R); each 0 where undefined (N = 0, M = 0, P + R = 0)."""
    precision = tp / n if n > 0 else 0.0
    recall = tp / m if m > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def _counts_with_all(counts: dict[int, tuple[int, int, int]]) -> dict[str, int]:
    """COUNT_COLUMNS from ``{MICRO: (tp, n, m), MACRO: (tp, n, m)}``; all = micro + macro."""
    missing = sorted(set(EXPRESSION_TYPES) - set(counts))
    if missing:
        raise ValueError(f"counts lack expression types {missing} (need {MICRO} = micro and {MACRO} = macro)")
    row = {}
    for type_idx, prefix in EXPRESSION_TYPES.items():
        row.update(zip((f"{prefix}_tp", f"{prefix}_n", f"{prefix}_m"), (int(v) for v in counts[type_idx])))
    for c in ("tp", "n", "m"):
        row[f"all_{c}"] = row[f"micro_{c}"] + row[f"macro_{c}"]
    return {c: row[c] for c in COUNT_COLUMNS}


def epoch_metrics_row(counts: dict[int, tuple[int, int, int]], epoch: int) -> dict:
    """One epoch_metrics.csv row (keys ``EPOCH_METRIC_COLUMNS``, in order) from (TP, N, M) per type."""
    totals = _counts_with_all(counts)
    row = {}
    for g in _GROUPS:
        row.update(zip((f"{g}_precision", f"{g}_recall", f"{g}_f1"),
                       precision_recall_f1(totals[f"{g}_tp"], totals[f"{g}_n"], totals[f"{g}_m"])))
    row.update(totals)
    row["epoch"] = int(epoch)
    return {c: row[c] for c in EPOCH_METRIC_COLUMNS}


def empty_counts_row(m_micro: int, m_macro: int) -> dict:
    """best_res.csv row (``COUNT_COLUMNS``) when the chosen epoch has no proposal: TP = N = 0, M kept."""
    return _counts_with_all({MICRO: (0, 0, m_micro), MACRO: (0, 0, m_macro)})


def read_epoch_metrics(path: Path) -> pd.DataFrame:
    """A fold's ``epoch_metrics.csv`` (one row per epoch with proposals, ``EPOCH_METRIC_COLUMNS``; the counts
    and ``epoch`` are what readers use). Raises :class:`UserError` naming the file when it cannot be read or
    lacks one of those columns."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable epoch metrics table ({str(error).splitlines()[0]})") from None
    missing = [c for c in (*COUNT_COLUMNS, "epoch") if c not in table.columns]
    if missing:
        raise UserError(f"{path}: epoch metrics table lacks column(s) {', '.join(missing)}")
    return table


def read_best_res(path: Path) -> dict[str, int]:
    """A fold's ``best_res.csv`` (one row of ``COUNT_COLUMNS``) as ``{column: count}``. Raises :class:`UserError`
    naming the file when it is missing, unreadable or not one such row."""
    if not Path(path).is_file():
        raise UserError(f"{path}: missing; evaluate the fold first (python eval.py ...)")
    try:
        best = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable best_res table ({str(error).splitlines()[0]})") from None
    if [c for c in COUNT_COLUMNS if c not in best.columns] or len(best) != 1:
        raise UserError(f"{path}: expected one row with {', '.join(COUNT_COLUMNS)}")
    return {c: int(best[c].iloc[0]) for c in COUNT_COLUMNS}


def read_eval_info(path: Path) -> dict:
    """A fold's (or inner model's) ``eval_info.json``: the evaluation's record (matching rule, selection, the
    selected epoch, ``m_without_proposals``...). Raises :class:`UserError` naming the file when it is missing or
    not a JSON object."""
    if not Path(path).is_file():
        raise UserError(f"{path}: missing; evaluate the fold first (python eval.py ...)")
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not JSON ({str(error).splitlines()[0]})") from None
    if not isinstance(info, dict):
        raise UserError(f"{path}: not a JSON object")
    return info


def pooled_scores(best_rows: pd.DataFrame) -> pd.DataFrame:
    """Final scores from one best_res row per fold (``COUNT_COLUMNS``).

    Counts are summed over folds first, then P, R, F1 computed. Returns a
    table indexed micro / macro / overall with columns
    tp, fp, fn, n, m, precision, recall, f1 (fp = n - tp, fn = m - tp).
    """
    missing = [c for c in COUNT_COLUMNS if c not in best_rows.columns]
    if missing:
        raise ValueError(f"best_res rows lack columns {missing}")
    sums = best_rows[COUNT_COLUMNS].sum(axis=0)
    for c in ("tp", "n", "m"):
        if sums[f"all_{c}"] != sums[f"micro_{c}"] + sums[f"macro_{c}"]:
            raise ValueError(f"best_res rows: all_{c} is not micro_{c} + macro_{c}")
    records = []
    for g in _GROUPS:
        tp, n, m = (int(sums[f"{g}_{c}"]) for c in ("tp", "n", "m"))
        records.append((tp, n - tp, m - tp, n, m) + precision_recall_f1(tp, n, m))
    return pd.DataFrame(records, columns=["tp", "fp", "fn", "n", "m", "precision", "recall", "f1"],
                        index=pd.Index(SCORE_ROWS))


def summed_epoch_metrics(parts: list[tuple[pd.DataFrame, dict[str, int]]], epochs: list[int]) -> pd.DataFrame:
    """Per-epoch metrics of several evaluations pooled: counts summed over the parts, then P, R, F1.

    ``parts``: each evaluation's epoch_metrics table and its M per type without proposals
    (``{'micro': m, 'macro': m}``, eval_info.json's ``m_without_proposals``). An epoch missing from a part's
    table (it had no proposal there) counts TP 0, N 0 and that M, as best_res.csv does for such an epoch.
    Returns one row per epoch of ``epochs`` (``EPOCH_METRIC_COLUMNS``).
    """
    names = list(EXPRESSION_TYPES.values())
    totals = np.zeros((len(epochs), len(names), 3), dtype=np.int64)  # (epoch, type, tp/n/m)
    position = {epoch: i for i, epoch in enumerate(epochs)}
    for table, m_without in parts:
        counts = np.zeros_like(totals)
        for t, name in enumerate(names):
            counts[:, t, 2] = m_without[name]
        rows = table[table["epoch"].isin(epochs)]
        where = rows["epoch"].map(position).to_numpy(dtype=np.int64)
        for t, name in enumerate(names):
            counts[where, t] = rows[[f"{name}_tp", f"{name}_n", f"{name}_m"]].to_numpy(dtype=np.int64)
        totals += counts
    return pd.DataFrame([epoch_metrics_row({t: tuple(totals[i, k]) for k, t in enumerate(EXPRESSION_TYPES)}, epoch)
                         for i, epoch in enumerate(epochs)], columns=EPOCH_METRIC_COLUMNS)


def selected_kept(layout: FoldLayout, selected_epoch: int | None) -> pd.DataFrame:
    """The fold's kept proposals (its NMS file, ``NMS_COLUMNS``, in NMS order) at its selected epoch: none when no
    epoch was chosen or the chosen one had no proposal (no row in ``epoch_metrics.csv``). Raises
    :class:`UserError` naming the NMS file when it is missing although the epoch had proposals."""
    if selected_epoch is None:
        return pd.DataFrame(columns=NMS_COLUMNS)
    path = layout.nms_csv(int(selected_epoch))
    if path.is_file():
        return read_nms_table(path)
    if layout.epoch_metrics.is_file() and epoch_row(read_epoch_metrics(layout.epoch_metrics), selected_epoch) is None:
        return pd.DataFrame(columns=NMS_COLUMNS)
    raise UserError(f"{path}: missing, but eval_info.json selects epoch {selected_epoch}; re-evaluate the fold")


def scored_videos(layout: FoldLayout) -> list[str]:
    """The videos of the fold's ``selected_scores.npz`` (keys ``<video>:<type>``), sorted; none without it."""
    if not layout.selected_scores.is_file():
        return []
    with np.load(layout.selected_scores) as archive:
        return sorted({key.rsplit(":", 1)[0] for key in archive.files})


def video_counts(subject: str, videos: list[str], kept: pd.DataFrame, truth: pd.DataFrame,
                 rule: MatchingRule) -> pd.DataFrame:
    """TP, FP, FN of each video of ``videos`` (and every video ``kept`` or ``truth`` names), sorted by name, and
    type (micro, macro): ``rule`` counting the video's rows alone. ``VIDEO_COUNT_COLUMNS``; FP = N - TP and
    FN = M - TP (negative FN where ``rule`` lets TP exceed M).

    ``kept``: the fold's NMS output at its selected epoch; ``truth``: its annotation rows (subject_ground_truth).
    Where ``rule.counts_add_up_per_video`` the rows of a subject add up to its fold's counts, since the rule
    compares proposals and rows of the same video only.
    """
    names = sorted(set(videos) | set(truth["video_name"]) | set(kept["video_name"]))
    kept_video, truth_video = kept["video_name"].to_numpy(dtype=object), truth["video_name"].to_numpy(dtype=object)
    rows = []
    for video in names:
        counts = rule.counts(kept[kept_video == video].reset_index(drop=True),
                             truth[truth_video == video].reset_index(drop=True))
        for type_idx, name in EXPRESSION_TYPES.items():
            tp, n, m = counts[type_idx]
            rows.append((subject, video, name, tp, n - tp, m - tp))
    return with_name_columns(pd.DataFrame(rows, columns=VIDEO_COUNT_COLUMNS))


def read_video_counts(path: Path) -> pd.DataFrame:
    """A run's ``video_counts.csv`` (pipeline/final_results.py): ``VIDEO_COUNT_COLUMNS``, names as text (a video
    named ``001`` stays ``001``), counts as int. Raises :class:`UserError` naming the file when it is missing,
    unreadable or lacks a column."""
    if not Path(path).is_file():
        raise UserError(f"{path}: missing; pool the run first (bash pipeline.sh with the same OUTPUT)")
    try:
        table = pd.read_csv(path, dtype={"subject": str, "video": str, "type": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable video counts table ({str(error).splitlines()[0]})") from None
    missing = [c for c in VIDEO_COUNT_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"{path}: video counts table lacks column(s) {', '.join(missing)}")
    return with_name_columns(table[VIDEO_COUNT_COLUMNS])
