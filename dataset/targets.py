"""Training targets built from window labels, and input normalisation (METHOD.md section 3).

Labels ``(W, 270, 8)``: micro start, apex, end, action, macro start, apex, end, action.
Targets are per type (micro = 2, macro = 1), each ``(W, 256)`` after dropping the
7 context rows at both ends:

* ``classes``: 0 start, 1 end, 2 none (long);
* ``apex``: 1 at an apex, exp(-j^2/32) at distance j <= r, else 0;
* ``action``: the action column as 0/1.

Published quirks kept by default: neighbours are written only where ``i + j < 256``
(not 270), and apex neighbours only where ``i - j > 0`` (strictly).
``corrected=True`` uses ``< 270`` and ``>= 0`` instead.
"""
from __future__ import annotations

import numpy as np

from utils.annotations import EXPRESSION_TYPES, label_column
from utils.indexing import SEGMENT_LENGTH, WINDOW_ROWS, middle

FEATURE_MEAN = np.array([0.003463, 0.003873], dtype=np.float32)
FEATURE_STD = np.array([0.548588, 0.645621], dtype=np.float32)
NONE_CLASS = 2


def normalise_features(features: np.ndarray) -> np.ndarray:
    """``(..., 2)`` raw features -> ``(f - mean) / std`` per channel (x, y), float32."""
    return ((features - FEATURE_MEAN) / FEATURE_STD).astype(np.float32)


def _neighbour_writes(labels: np.ndarray, column: int, radius: int, corrected: bool):
    """Rows written around every labelled row: ``(window, row, distance j, sequence)`` arrays.

    ``sequence`` orders the writes as the published loop does (labelled rows ascending)
    so that a later label overwrites an earlier one.
    """
    windows, rows = np.nonzero(labels[:, :, column] > 0)
    upper = WINDOW_ROWS if corrected else SEGMENT_LENGTH
    distances = np.arange(-radius, radius + 1)
    target_rows = rows[:, None] + distances[None, :]
    valid = np.ones_like(target_rows, dtype=bool)
    valid &= (distances[None, :] >= 0) | (target_rows >= 0)          # left side: i - j >= 0
    valid &= (distances[None, :] <= 0) | (target_rows < upper)       # right side: i + j < 256 (quirk)
    sequence = np.broadcast_to(np.arange(len(rows))[:, None], target_rows.shape)
    windows = np.broadcast_to(windows[:, None], target_rows.shape)
    j = np.broadcast_to(np.abs(distances)[None, :], target_rows.shape)
    return windows[valid], target_rows[valid], j[valid], sequence[valid]


def _class_targets(labels: np.ndarray, type_idx: int, radius: int, corrected: bool) -> np.ndarray:
    classes = np.full(labels.shape[:2], NONE_CLASS, dtype=np.int64)
    for class_id, kind in ((0, "start"), (1, "end")):  # ends written after starts: they overwrite
        windows, rows, _, _ = _neighbour_writes(labels, label_column(type_idx, kind), radius, corrected)
        classes[windows, rows] = class_id
    return classes


def _apex_targets(labels: np.ndarray, type_idx: int, radius: int, corrected: bool) -> np.ndarray:
    apex = np.zeros(labels.shape[:2], dtype=np.float32)
    windows, rows, j, sequence = _neighbour_writes(labels, label_column(type_idx, "apex"), radius, corrected)
    if not corrected:
        keep = ~((rows == 0) & (j > 0))  # published: apex left neighbours need i - j > 0, so row 0 stays empty
        windows, rows, j, sequence = windows[keep], rows[keep], j[keep], sequence[keep]
    # Last writer wins: per (window, row) keep the write with the highest sequence number.
    cell = windows * WINDOW_ROWS + rows
    order = np.lexsort((sequence, cell))
    cell, j = cell[order], j[order]
    last = np.r_[cell[1:] != cell[:-1], True][:len(cell)]  # empty when the type has no apex
    apex.reshape(-1)[cell[last]] = np.exp(-(j[last] ** 2) / 32.0)
    return apex


def build_targets(labels: np.ndarray, normal_range: dict[int, int], corrected: bool = False) -> dict[str, np.ndarray]:
    """``labels (W, 270, 8)`` -> ``{micro,macro}_{classes,apex,action}``, each ``(W, 256)``.

    ``normal_range``: radius r per type, ``{MICRO: micro_normal_range, MACRO: macro_normal_range}``.
    """
    targets = {}
    for type_idx, name in EXPRESSION_TYPES.items():
        radius = normal_range[type_idx]
        targets[f"{name}_classes"] = middle(_class_targets(labels, type_idx, radius, corrected), axis=1)
        targets[f"{name}_apex"] = middle(_apex_targets(labels, type_idx, radius, corrected), axis=1)
        action = (labels[:, :, label_column(type_idx, "action")] > 0).astype(np.float32)
        targets[f"{name}_action"] = middle(action, axis=1)
    return {key: np.ascontiguousarray(value) for key, value in targets.items()}
