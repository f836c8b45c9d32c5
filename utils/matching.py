"""Counting true positives of one subject under the four matching rules (METHOD.md 8.4).

Each rule is a :class:`MatchingRule` in :data:`MATCHING_RULES`, which the config key ``matching`` and the
``--matching`` flags name. All rules compare proposals and ground truth of the same video and type only,
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
from utils.registry import Registry

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


class MatchingRule:
    """A matching rule (METHOD.md 8.4): which kept proposals are true positives, which ground-truth rows are
    found, and the (TP, N, M) counts of one subject.

    ``kept``: NMS output (video_name, start_frame, end_frame, score, type_idx), rows in NMS order;
    ``truth``: annotation rows (video_name, start_frame, end_frame, type_idx), raw frames. A rule defines
    :meth:`pair_flags`; the rest follows from it.
    """

    name = ""
    # Lines printed under a pooled table counted with this rule (format fields: left_out_micro, left_out_macro).
    table_notes: tuple[str, ...] = ()
    # Whether a subject's counts are the sum of its videos' counts (the run report's per-video rows).
    counts_add_up_per_video = True

    def pair_flags(self, kept: pd.DataFrame, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(true positives (N,), found ground-truth rows (M,))`` booleans; both tables non-empty."""
        raise NotImplementedError

    def flags(self, kept: pd.DataFrame, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`pair_flags` after the columns are checked; all False when either table is empty."""
        _check_columns(kept, _KEPT_COLUMNS, "kept proposals")
        _check_columns(truth, _TRUTH_COLUMNS, "ground-truth")
        if len(kept) == 0 or len(truth) == 0:
            return np.zeros(len(kept), dtype=bool), np.zeros(len(truth), dtype=bool)
        return self.pair_flags(kept, truth)

    def counts(self, kept: pd.DataFrame, truth: pd.DataFrame) -> dict[int, tuple[int, int, int]]:
        """``{MICRO: (tp, n, m), MACRO: (tp, n, m)}``: N the kept proposals of the type, M its annotation rows
        (every row, whatever its frames)."""
        tp, _ = self.flags(kept, truth)
        kept_type, truth_type = kept["type_idx"].to_numpy(), truth["type_idx"].to_numpy()
        return {t: (int(np.count_nonzero(tp & (kept_type == t))), int(np.count_nonzero(kept_type == t)),
                    int(np.count_nonzero(truth_type == t)))
                for t in EXPRESSION_TYPES}


class Published(MatchingRule):
    """Per ground-truth row, its best proposal (first in NMS order on ties) is a true positive if tIoU > 0.5."""

    name = "published"

    def pair_flags(self, kept, truth):
        iou = _pair_iou(kept, truth)
        best = np.argmax(iou, axis=0)
        tp = np.zeros(len(kept), dtype=bool)
        tp[best[iou[best, np.arange(len(truth))] > 0.5]] = True
        return tp, iou.max(axis=0) > 0.5


class Paper2023(MatchingRule):
    """Every proposal with tIoU > 0.5 to some ground-truth row is a true positive (TP may exceed M)."""

    name = "paper2023"
    table_notes = ("note: paper2023 counts matching proposals, so TP can exceed M (FN < 0, recall > 1)",)

    def pair_flags(self, kept, truth):
        iou = _pair_iou(kept, truth)
        return iou.max(axis=1) > 0.5, iou.max(axis=0) > 0.5


class OneToOne(MatchingRule):
    """Greedy by score: each proposal takes its best free ground-truth row (the first on ties) if tIoU >= 0.5."""

    name = "one-to-one"

    def pair_flags(self, kept, truth):
        iou = _pair_iou(kept, truth)
        tp, found = np.zeros(len(kept), dtype=bool), np.zeros(len(truth), dtype=bool)
        # inherently sequential over the (few) proposals
        for i in np.argsort(-kept["score"].to_numpy(dtype=np.float64), kind="stable"):
            candidates = np.where(found, -1.0, iou[i])
            j = int(np.argmax(candidates))
            if candidates[j] >= 0.5:
                tp[i], found[j] = True, True
        return tp, found


class Megc(MatchingRule):
    """The MEGC challenge's spotting evaluator (:func:`megc_counts`). It counts matched *expressions*, so its
    (TP, N, M) are TP, TP + FP and TP + FN of the challenge (a left-out subject's type gives (0, 0, 0)), and
    P = TP/N and R = TP/M downstream are the challenge's."""

    name = "megc"
    table_notes = (
        "note: megc counts as the MEGC spotting evaluator: TP = expressions matched (one prediction may match "
        "several), FP = predictions matching none; N = TP + FP, M = TP + FN",
        "note: megc does not count predictions on a video without an expression of their type, and leaves out "
        "a subject with no prediction of a type, with its expressions of that type: {left_out_micro} micro and "
        "{left_out_macro} macro expressions left out here")
    counts_add_up_per_video = False  # a subject's type is left out as a whole

    def pair_flags(self, kept, truth):
        reached, _, matched = _megc_scan(kept, truth)  # true positive: a prediction reaching an expression
        return reached, matched

    def counts(self, kept, truth):
        return {t: (tp, tp + fp, tp + fn) for t, (tp, fp, fn, _) in megc_counts(kept, truth).items()}


# The rules by name (config key matching, eval.py --matching, MATCHING=): a new rule is a MatchingRule and a line.
MATCHING_RULES: Registry[MatchingRule] = Registry("matching rule", {
    rule.name: rule for rule in (Published(), Paper2023(), OneToOne(), Megc())})


def count_matches(kept: pd.DataFrame, ground_truth: pd.DataFrame,
                  rule: str = "published") -> dict[int, tuple[int, int, int]]:
    """(TP, N, M) of one subject for micro (2) and macro (1) under ``rule`` (:meth:`MatchingRule.counts`):
    ``{2: (tp, n, m), 1: (tp, n, m)}``. An unknown rule is a one-line error."""
    return MATCHING_RULES[rule].counts(kept, ground_truth)


def true_positive_flags(kept: pd.DataFrame, ground_truth: pd.DataFrame, rule: str = "published") -> np.ndarray:
    """Boolean (N,): which rows of ``kept`` count as true positives under ``rule``."""
    return MATCHING_RULES[rule].flags(kept, ground_truth)[0]


def truth_found_flags(kept: pd.DataFrame, ground_truth: pd.DataFrame, rule: str = "published") -> np.ndarray:
    """Boolean (M,): which rows of ``ground_truth`` ``rule`` counts as found by a row of ``kept``.

    published and paper2023: a proposal of the same video and type with tIoU > 0.5 (for published, the row's
    best proposal, a true positive); one-to-one: the row a true positive was assigned to; megc: the evaluator's
    matched expressions.
    """
    return MATCHING_RULES[rule].flags(kept, ground_truth)[1]
