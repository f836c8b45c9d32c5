"""Counting true positives of one subject under the three matching rules (METHOD.md 8.4).

All rules compare proposals and ground truth of the same video and type only,
with the raw annotation frames (a row with end_frame 0 never matches but
counts in M).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from utils.nms import temporal_iou

MATCHING_RULES = ("published", "paper2023", "one-to-one")
EXPRESSION_TYPES = (2, 1)  # micro, macro
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
    return _true_positives(_pair_iou(kept, ground_truth), kept["score"].to_numpy(dtype=np.float64), rule)


def count_matches(kept: pd.DataFrame, ground_truth: pd.DataFrame,
                  rule: str = "published") -> dict[int, tuple[int, int, int]]:
    """(TP, N, M) of one subject for micro (2) and macro (1).

    ``kept``: the subject's NMS output (video_name, start_frame, end_frame,
    score, type_idx), rows in NMS order. ``ground_truth``: all its annotation
    rows (video_name, start_frame, end_frame, type_idx), raw frames. N counts
    the kept proposals of the type, M the annotation rows of the type (every
    row, whatever its frames). Returns ``{2: (tp, n, m), 1: (tp, n, m)}``.
    """
    tp = true_positive_flags(kept, ground_truth, rule)
    kept_type = kept["type_idx"].to_numpy()
    truth_type = ground_truth["type_idx"].to_numpy()
    return {t: (int(np.count_nonzero(tp & (kept_type == t))), int(np.count_nonzero(kept_type == t)),
                int(np.count_nonzero(truth_type == t)))
            for t in EXPRESSION_TYPES}
