"""Counting true positives of one subject under the four matching rules (METHOD.md 8.4).

All rules compare proposals and ground truth of the same video and type only,
with the raw annotation frames (a row with end_frame 0 never matches but
counts in M).

``megc`` is the MEGC challenge's spotting evaluator (see :func:`megc_counts`);
it counts matched *expressions*, so its (TP, N, M) are TP, TP + FP and
TP + FN of the challenge rather than "proposals kept" and "rows annotated".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES
from utils.nms import temporal_iou

MATCHING_RULES = ("published", "paper2023", "one-to-one", "megc")
_KEPT_COLUMNS = ("video_name", "start_frame", "end_frame", "score", "type_idx")
_TRUTH_COLUMNS = ("video_name", "start_frame", "end_frame", "type_idx")


def _check_columns(table: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"count_matches: {what} table lacks columns {missing}")


def _pair_iou(kept: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """(N, M) tIoU of every kept proposal with every ground-truth row; -1 where
    the video or the type differ, so such pairs lose every comparison."""
    iou = temporal_iou(kept["start_frame"].to_numpy()[:, None], kept["end_frame"].to_numpy()[:, None],
                       truth["start_frame"].to_numpy()[None, :], truth["end_frame"].to_numpy()[None, :])
    same = ((kept["video_name"].to_numpy(dtype=object)[:, None] == truth["video_name"].to_numpy(dtype=object)[None, :])
            & (kept["type_idx"].to_numpy()[:, None] == truth["type_idx"].to_numpy()[None, :]))
    return np.where(same, iou, -1.0)


def _true_positives(iou: np.ndarray, scores: np.ndarray, rule: str) -> np.ndarray:
    """Boolean (N,): which kept proposals count as true positives under ``rule``."""
    n_kept, n_truth = iou.shape
    tp = np.zeros(n_kept, dtype=bool)
    if n_kept == 0 or n_truth == 0:
        return tp
    if rule == "published":
        # Per ground-truth row, its best proposal (first in NMS order on ties) is found if tIoU > 0.5.
        best = np.argmax(iou, axis=0)
        tp[best[iou[best, np.arange(n_truth)] > 0.5]] = True
    elif rule == "paper2023":
        tp = iou.max(axis=1) > 0.5
    else:  # one-to-one: greedy by score, inherently sequential over the (few) proposals
        free = np.ones(n_truth, dtype=bool)
        for i in np.argsort(-scores, kind="stable"):
            candidates = np.where(free, iou[i], -1.0)
            j = int(np.argmax(candidates))  # first ground-truth row on ties
            if candidates[j] >= 0.5:
                tp[i], free[j] = True, False
    return tp


def true_positive_flags(kept: pd.DataFrame, ground_truth: pd.DataFrame, rule: str = "published") -> np.ndarray:
    """Boolean (N,): which rows of ``kept`` count as true positives under ``rule`` (see :func:`count_matches`)."""
    if rule not in MATCHING_RULES:
        raise ValueError(f"unknown matching rule {rule!r}; valid rules: {', '.join(MATCHING_RULES)}")
    _check_columns(kept, _KEPT_COLUMNS, "kept proposals")
    _check_columns(ground_truth, _TRUTH_COLUMNS, "ground-truth")
    if rule == "megc":  # a prediction reaching at least one expression
        return _megc_scan(kept, ground_truth)[0]
    return _true_positives(_pair_iou(kept, ground_truth), kept["score"].to_numpy(dtype=np.float64), rule)


def megc_iou(pred_start, pred_end, truth_start, truth_end) -> np.ndarray:
    """IoU over inclusive integer frames (length = offset - onset + 1), broadcasting; 0 where a
    side has no frames (an expression with offset 0 or offset < onset cannot be matched)."""
    ps, pe, ts, te = (np.asarray(x, dtype=np.int64) for x in (pred_start, pred_end, truth_start, truth_end))
    inter = np.maximum(np.minimum(pe, te) - np.maximum(ps, ts) + 1, 0)
    len_p, len_t = pe - ps + 1, te - ts + 1
    union = len_p + len_t - inter
    valid = (len_p > 0) & (len_t > 0)
    return np.divide(inter, union, out=np.zeros(np.broadcast(inter, union).shape), where=valid)


def _megc_scan(kept: pd.DataFrame, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The evaluator's pass: ``(reached (N,), counted (N,), matched (M,))`` booleans.

    A prediction is counted when its video has an expression of its type; in
    written order, it reaches every such expression no earlier prediction
    matched with :func:`megc_iou` >= 0.5, and matches them all.
    """
    iou = megc_iou(kept["start_frame"].to_numpy()[:, None], kept["end_frame"].to_numpy()[:, None],
                   truth["start_frame"].to_numpy()[None, :], truth["end_frame"].to_numpy()[None, :])
    same = ((kept["video_name"].to_numpy(dtype=object)[:, None] == truth["video_name"].to_numpy(dtype=object)[None, :])
            & (kept["type_idx"].to_numpy()[:, None] == truth["type_idx"].to_numpy()[None, :]))
    hit = same & (iou >= 0.5)
    counted = same.any(axis=1)
    reached = np.zeros(len(kept), dtype=bool)
    matched = np.zeros(len(truth), dtype=bool)
    for i in np.flatnonzero(counted & hit.any(axis=1)):  # sequential by definition: earlier predictions go first
        new = hit[i] & ~matched
        reached[i] = new.any()
        matched |= new
    return reached, counted, matched


def megc_counts(kept: pd.DataFrame, ground_truth: pd.DataFrame) -> dict[int, tuple[int, int, int, int]]:
    """The MEGC spotting evaluator on one subject: ``{type: (tp, fp, fn, left_out)}`` for micro (2), macro (1).

    Per type, as the evaluator is run once per type: predictions on a video
    without an expression of that type are not counted; when the subject has
    no prediction of that type at all, it is left out (TP = FP = FN = 0) and
    its expressions of that type are returned as ``left_out``. Otherwise, per
    video, predictions are taken in their written order (the rows of
    ``kept``), each compared with every expression not matched by an earlier
    prediction: a TP for each one with :func:`megc_iou` >= 0.5 (so one
    prediction may count several), an FP if none. Unmatched expressions are FN.
    """
    _check_columns(kept, _KEPT_COLUMNS, "kept proposals")
    _check_columns(ground_truth, _TRUTH_COLUMNS, "ground-truth")
    reached, counted, matched = _megc_scan(kept, ground_truth)
    kept_type, truth_type = kept["type_idx"].to_numpy(), ground_truth["type_idx"].to_numpy()
    counts = {}
    for t in EXPRESSION_TYPES:
        of_type = truth_type == t
        if not np.any(kept_type == t):
            counts[t] = (0, 0, 0, int(np.count_nonzero(of_type)))
            continue
        tp = int(np.count_nonzero(matched & of_type))
        fp = int(np.count_nonzero(counted & ~reached & (kept_type == t)))
        counts[t] = (tp, fp, int(np.count_nonzero(of_type)) - tp, 0)
    return counts


def count_matches(kept: pd.DataFrame, ground_truth: pd.DataFrame,
                  rule: str = "published") -> dict[int, tuple[int, int, int]]:
    """(TP, N, M) of one subject for micro (2) and macro (1).

    ``kept``: the subject's NMS output (video_name, start_frame, end_frame,
    score, type_idx), rows in NMS order. ``ground_truth``: all its annotation
    rows (video_name, start_frame, end_frame, type_idx), raw frames. N counts
    the kept proposals of the type, M the annotation rows of the type (every
    row, whatever its frames). Returns ``{2: (tp, n, m), 1: (tp, n, m)}``.
    Under ``megc`` (:func:`megc_counts`) N is TP + FP and M is TP + FN of the
    challenge (a left-out subject's type gives (0, 0, 0)), so that
    P = TP/N and R = TP/M downstream are the challenge's.
    """
    if rule == "megc":
        return {t: (tp, tp + fp, tp + fn) for t, (tp, fp, fn, _) in megc_counts(kept, ground_truth).items()}
    tp = true_positive_flags(kept, ground_truth, rule)
    kept_type = kept["type_idx"].to_numpy()
    truth_type = ground_truth["type_idx"].to_numpy()
    return {t: (int(np.count_nonzero(tp & (kept_type == t))), int(np.count_nonzero(kept_type == t)),
                int(np.count_nonzero(truth_type == t)))
            for t in EXPRESSION_TYPES}
