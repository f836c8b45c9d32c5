"""Proposals from the per-frame scores of test windows (METHOD.md section 8.2).

One expression type at a time: micro and macro share this code and differ
only in their :class:`ProposalParams`.

Clipping, as read here: "d = left_min..left_max (clipped at 0)" means the
candidate start frames are ``max(t - d, 0)`` for every d in that range (and the
candidate ends ``min(t + d, T - 1)``). So near the window edge the clipped
candidates all collapse onto frame 0 (or 255); when the whole range lies below
0 (t = 0 or 1 with left_min = 2) the start is frame 0 itself, which may even
be t. The length test ``min_len <= e - s`` then rejects the too-short ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES, TYPE_INDEX, as_names
from utils.indexing import window_frame_to_video_frame

PROPOSAL_COLUMNS = ["video_name", "start_frame", "end_frame", "start_score", "end_score",
                    "apex_score", "type_idx", "score"]


@dataclass(frozen=True)
class ProposalParams:
    """Proposal rules of one expression type (METHOD.md sections 8.2 and 9).

    Distances and lengths are in frames. Micro: 2, 7, 2, 7 and
    micro_min..micro_max; macro (CAS(ME)^2): 7, 29, 7, 29 and
    macro_min..int(macro_average_len * 3 / 2).
    """

    type_idx: int  # 2 micro, 1 macro
    apex_threshold: float
    left_min: int
    left_max: int
    right_min: int
    right_max: int
    min_len: int
    max_len: int

    def __post_init__(self):
        for name, low, high in (("left", self.left_min, self.left_max),
                                ("right", self.right_min, self.right_max)):
            if not 0 <= low <= high:
                raise ValueError(f"proposal params: need 0 <= {name}_min <= {name}_max, got {low}, {high}")


# The config key of each ProposalParams field, per type (the published names). The macro length bound is
# int(macro_average_len * 3 / 2), not macro_max (published behaviour; macro_max and micro_average_len are read by
# nothing).
_PARAMETER_KEYS = {
    "micro": {"apex_threshold": "micro_apex_score_threshold", "left_min": "micro_left_min_dis",
              "left_max": "micro_left_max_dis", "right_min": "micro_right_min_dis", "right_max": "micro_right_max_dis",
              "min_len": "micro_min", "max_len": "micro_max"},
    "macro": {"apex_threshold": "macro_apex_score_threshold", "left_min": "macro_left_min_dis",
              "left_max": "macro_left_max_dis", "right_min": "macro_right_min_dis", "right_max": "macro_right_max_dis",
              "min_len": "macro_min", "max_len": "macro_average_len"},
}
_MAX_LEN_FACTOR = {"micro": (1, 1), "macro": (3, 2)}  # max_len = int(value * a / b)
PROPOSAL_CONFIG_KEYS = tuple(key for name in EXPRESSION_TYPES.values() for key in _PARAMETER_KEYS[name].values())


def proposal_params_from_config(config, expression: str) -> ProposalParams:
    """ProposalParams of ``expression`` ("micro" or "macro") from a config mapping with the published keys
    (:data:`PROPOSAL_CONFIG_KEYS`, ``micro_left_min_dis`` ...)."""
    if expression not in TYPE_INDEX:
        raise ValueError(f"unknown expression type {expression!r}; valid: micro, macro")
    values = {field: config[key] for field, key in _PARAMETER_KEYS[expression].items()}
    times, per = _MAX_LEN_FACTOR[expression]
    return ProposalParams(type_idx=TYPE_INDEX[expression], apex_threshold=float(values.pop("apex_threshold")),
                          max_len=int(values.pop("max_len") * times / per),
                          **{field: int(value) for field, value in values.items()})


def proposal_params(config) -> dict[int, ProposalParams]:
    """``{type_idx: ProposalParams}`` of both types, micro first."""
    return {type_idx: proposal_params_from_config(config, name) for type_idx, name in EXPRESSION_TYPES.items()}


def _best_offset_frames(scores: np.ndarray, low: int, high: int, sign: int) -> np.ndarray:
    """For every frame t of every window, the frame ``t + sign*d`` (d = low..high, clipped to the window)
    with the highest score: ``scores`` (W, T) -> frame indices (W, T).

    Ties go to the smallest d (the frame nearest to t), as np.argmax keeps the first. One shifted view
    of the edge-padded scores per d (a padded column reads as the clipped frame), so the cost is
    (high - low + 1) passes over (W, T) whatever the number of candidates.
    """
    n_frames = scores.shape[1]
    padding = ((0, 0), (high, 0)) if sign < 0 else ((0, 0), (0, high))
    padded = np.pad(scores, padding, mode="edge")

    def shifted(d: int) -> np.ndarray:  # shifted(d)[:, t] = scores[:, clip(t + sign*d)]
        first = high - d if sign < 0 else d
        return padded[:, first:first + n_frames]

    best = shifted(low).copy()
    best_d = np.full(scores.shape, low, dtype=np.int64)
    for d in range(low + 1, high + 1):
        candidate = shifted(d)
        better = candidate > best
        np.copyto(best, candidate, where=better)
        best_d[better] = d
    return np.clip(np.arange(n_frames) + sign * best_d, 0, n_frames - 1)


def find_proposals(start_p: np.ndarray, end_p: np.ndarray, apex: np.ndarray,
                   window_offsets: np.ndarray, window_videos, params: ProposalParams) -> pd.DataFrame:
    """Proposals of one type from W test windows.

    ``start_p``, ``end_p`` (W, T=256): start / end softmax probabilities of the
    middle frames; ``apex`` (W, T): apex sigmoid. ``window_offsets`` (W,): each
    window's first middle frame 256k; ``window_videos`` (W,): its video name.
    Returns the published proposals table (``PROPOSAL_COLUMNS``), rows in
    window order then window frame t ascending, frames as video frame numbers
    (``window_frame_to_video_frame``, the published +1), score =
    start_p[s] * end_p[e] * apex[t] in the input dtype.
    """
    start_p, end_p, apex = (np.asarray(a) for a in (start_p, end_p, apex))
    if start_p.ndim != 2 or start_p.shape != end_p.shape or start_p.shape != apex.shape:
        raise ValueError(f"find_proposals: start/end/apex scores must share one (W, T) shape, "
                         f"got {start_p.shape}, {end_p.shape}, {apex.shape}")
    window_offsets = np.asarray(window_offsets, dtype=np.int64)
    window_videos = np.asarray(window_videos, dtype=object)
    n_windows = start_p.shape[0]
    if window_offsets.shape != (n_windows,) or window_videos.shape != (n_windows,):
        raise ValueError(f"find_proposals: need {n_windows} window offsets and video names, "
                         f"got {window_offsets.shape} and {window_videos.shape}")

    # Only frames over the apex threshold can become proposals: work on those alone.
    w, tt = np.nonzero(apex > params.apex_threshold)  # row-major: window order, then t ascending
    rows, row_of = np.unique(w, return_inverse=True)  # the windows with a candidate
    s = _best_offset_frames(start_p[rows], params.left_min, params.left_max, -1)[row_of, tt]
    e = _best_offset_frames(end_p[rows], params.right_min, params.right_max, +1)[row_of, tt]
    length = e - s
    keep = ((start_p[w, s] > end_p[w, s]) & (start_p[w, e] < end_p[w, e])
            & (length >= params.min_len) & (length <= params.max_len))
    w, tt, s, e = w[keep], tt[keep], s[keep], e[keep]
    start_score, end_score, apex_score = start_p[w, s], end_p[w, e], apex[w, tt]
    offsets = window_offsets[w]
    return pd.DataFrame({
        "video_name": as_names(window_videos[w]),
        "start_frame": window_frame_to_video_frame(s, offsets).astype(np.int64),
        "end_frame": window_frame_to_video_frame(e, offsets).astype(np.int64),
        "start_score": start_score,
        "end_score": end_score,
        "apex_score": apex_score,
        "type_idx": np.full(len(w), params.type_idx, dtype=np.int64),
        "score": start_score * end_score * apex_score,
    }, columns=PROPOSAL_COLUMNS)
