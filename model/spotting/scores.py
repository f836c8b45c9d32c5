"""A recording's feature rows as the windows the model reads, and its scores with the rows of lost frames set
to 0 (no face there). Scoring itself is model/scoring.py's :func:`~model.scoring.ensemble_scores`."""
from __future__ import annotations

import numpy as np

from dataset.segments import WindowSet
from model.scoring import Scores
from utils.indexing import SEGMENT_LENGTH, cut_window, window_offsets


def windows_of(rows: np.ndarray, name: str) -> WindowSet:
    """A recording's feature rows ``(R, 12, 2)`` cut into the 270-row windows eval reads (labels all zero)."""
    offsets = window_offsets(len(rows))
    features = np.stack([cut_window(rows.astype(np.float32), int(o)) for o in offsets])
    return WindowSet(features, np.zeros((len(offsets), features.shape[1], 8), np.int32),
                     np.array([name] * len(offsets), dtype=object), offsets)


def lost_rows(lost_frames: np.ndarray) -> np.ndarray:
    """Feature rows (bool (J-1,)) that touch a lost frame (bool (J,)): row r is the flow from frame r to r+1."""
    return lost_frames[:-1] | lost_frames[1:]


def zero_rows(scores: Scores, windows: WindowSet, lost_rows: np.ndarray) -> Scores:
    """``scores`` with every score of the feature rows in ``lost_rows`` (bool (R,)) set to 0 (no face there)."""
    if not lost_rows.any():
        return scores
    positions = windows.offsets[:, None] + np.arange(SEGMENT_LENGTH)[None, :]
    mask = np.zeros(positions.shape, bool)
    inside = positions < len(lost_rows)
    mask[inside] = lost_rows[positions[inside]]

    def cleared(values):
        return None if values is None else {t: np.where(mask, 0, v).astype(v.dtype) for t, v in values.items()}

    return Scores(cleared(scores.start), cleared(scores.end), cleared(scores.apex), cleared(scores.action))
