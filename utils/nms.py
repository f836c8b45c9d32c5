"""Temporal IoU and the published greedy NMS (METHOD.md section 8.3)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES, with_name_columns
from utils.errors import UserError

NMS_COLUMNS = ["video_name", "start_frame", "end_frame", "score", "type_idx"]


def read_nms_table(path: Path) -> pd.DataFrame:
    """A written ``nms_csv`` file: video names as text (a video named ``001`` stays ``'001'``), frames as numbers.

    Raises :class:`UserError` naming the file when it cannot be read or lacks a column of ``NMS_COLUMNS``.
    """
    try:
        kept = pd.read_csv(path, dtype={"video_name": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable NMS table ({str(error).splitlines()[0]})") from None
    missing = [c for c in NMS_COLUMNS if c not in kept.columns]
    if missing:
        raise UserError(f"{path}: NMS table lacks column(s) {', '.join(missing)}")
    return with_name_columns(kept)


def temporal_iou(starts_a, ends_a, starts_b, ends_b) -> np.ndarray:
    """tIoU = inter / (len_a + len_b - inter), broadcasting a against b.

    len = end - start and inter = max(0, min(ends) - max(starts)), in frames.
    Where the denominator is <= 0 (or NaN) the result is 0, so a
    ground-truth row with end_frame 0 never matches and nothing warns.
    """
    starts_a, ends_a, starts_b, ends_b = (np.asarray(x, dtype=np.float64)
                                          for x in (starts_a, ends_a, starts_b, ends_b))
    inter = np.maximum(np.minimum(ends_a, ends_b) - np.maximum(starts_a, starts_b), 0.0)
    union = (ends_a - starts_a) + (ends_b - starts_b) - inter
    valid = union > 0
    return np.divide(inter, union, out=np.zeros(np.broadcast(inter, union).shape), where=valid)


def _group_codes(proposals: pd.DataFrame) -> np.ndarray:
    """(video_name, type_idx) group of every row, numbered in order of first appearance."""
    video_codes, _ = pd.factorize(proposals["video_name"], sort=False)
    type_codes, type_values = pd.factorize(proposals["type_idx"], sort=False)
    codes, _ = pd.factorize(video_codes.astype(np.int64) * len(type_values) + type_codes, sort=False)
    return codes


# The config key of each type's NMS quota.
_TOP_K_KEYS = {"micro": "nms_top_K_micro", "macro": "nms_top_K_macro"}
NMS_CONFIG_KEYS = tuple(_TOP_K_KEYS[name] for name in EXPRESSION_TYPES.values())


def nms_top_k(config) -> dict[int, int]:
    """``{type_idx: kept intervals per video}`` from the config keys :data:`NMS_CONFIG_KEYS`."""
    return {type_idx: config[_TOP_K_KEYS[name]] for type_idx, name in EXPRESSION_TYPES.items()}


def nms(proposals: pd.DataFrame, top_k: dict[int, int], iou_threshold: float = 0.5) -> pd.DataFrame:
    """Greedy NMS per (video_name, type_idx) over a proposals table.

    Per group: take the highest-scoring remaining proposal (ties: the first in
    a stable descending sort of the input order), stop if its score is 0,
    zero the score of every other proposal with tIoU > ``iou_threshold`` to
    it, until ``top_k[type_idx]`` are kept. Returns ``NMS_COLUMNS`` with the
    original scores; groups in order of first appearance in the input, rows of
    a group in the order they were kept.

    All groups advance together: one vectorised pass per kept rank, so at
    most max(top_k) passes over the whole table.
    """
    missing = [c for c in NMS_COLUMNS if c not in proposals.columns]
    if missing:
        raise ValueError(f"nms: proposals table lacks columns {missing}")
    unknown = sorted(set(pd.unique(proposals["type_idx"])) - set(top_k))
    if unknown:
        raise ValueError(f"nms: no top_k for type_idx {unknown} (top_k has {sorted(top_k)})")
    if proposals.empty:
        return proposals.loc[:, NMS_COLUMNS].reset_index(drop=True)

    group = _group_codes(proposals)
    score = proposals["score"].to_numpy(dtype=np.float64)
    order = np.lexsort((-score, group))  # stable: by group, score descending, input order on ties
    group, score = group[order], score[order]
    start = proposals["start_frame"].to_numpy(dtype=np.float64)[order]
    end = proposals["end_frame"].to_numpy(dtype=np.float64)[order]
    n_groups = group[-1] + 1
    group_type = np.empty(n_groups, dtype=np.int64)
    group_type[group] = proposals["type_idx"].to_numpy()[order]
    quota = np.array([top_k[t] for t in group_type], dtype=np.int64)

    # Suppressed and kept rows get score 0: within a group the rows still
    # alive keep their descending order, so the first one alive is the pick,
    # and a group whose first alive row has score 0 (none left) is finished.
    alive = score.copy()
    kept_rank = np.full(len(score), -1, dtype=np.int64)
    n_kept = np.zeros(n_groups, dtype=np.int64)
    for rank in range(int(quota.max())):
        candidates = np.flatnonzero((alive > 0) & (n_kept[group] < quota[group]))
        if candidates.size == 0:
            break
        picked_groups, first = np.unique(group[candidates], return_index=True)
        picks = candidates[first]
        kept_rank[picks] = rank
        alive[picks] = 0.0
        n_kept[picked_groups] += 1
        pick_of_group = np.full(n_groups, -1, dtype=np.int64)
        pick_of_group[picked_groups] = picks
        rows = np.flatnonzero(pick_of_group[group] >= 0)
        pick = pick_of_group[group[rows]]
        iou = temporal_iou(start[rows], end[rows], start[pick], end[pick])
        alive[rows[iou > iou_threshold]] = 0.0

    kept = np.flatnonzero(kept_rank >= 0)
    kept = kept[np.lexsort((kept_rank[kept], group[kept]))]
    return proposals.iloc[order[kept]].loc[:, NMS_COLUMNS].reset_index(drop=True)
