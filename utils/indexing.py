"""The one place that converts between frames, feature rows and windows.

Conventions (METHOD.md sections 2.4-2.5 and 8.2):

* A video of F frames gives F-1 feature rows; feature row i is the flow from
  frame i to frame i+1 and lines up with annotation frame number i (the
  annotation tables are used as row indices directly, 1-based as they are).
* The rows are cut into windows of ``SEGMENT_LENGTH`` (256) rows. Window k has
  offset 256k and holds rows ``256k - PAD .. 256k + 256 + PAD - 1`` (PAD = 7,
  270 rows), zero-padded outside the video. Its file is
  ``<video_name>_<offset:04d>.npz``.
* A proposal found at window frame t (0..255 in the middle 256 rows) is
  reported at frame ``t + offset + 1``: the published +1, kept as default.
"""
from __future__ import annotations

import re

import numpy as np

SEGMENT_LENGTH = 256
RECEPTIVE_FIELD = 15
PAD = RECEPTIVE_FIELD // 2  # 7 rows of context on each side
WINDOW_ROWS = SEGMENT_LENGTH + 2 * PAD  # 270
PROPOSAL_FRAME_SHIFT = 1  # published: window frame t -> video frame t + offset + 1
# A feature row (METHOD.md 2.4): per facial region of interest (one graph node each), its (x, y) motion.
NUM_ROIS = 12
ROI_CHANNELS = 2
FEATURE_ROW_SHAPE = (NUM_ROIS, ROI_CHANNELS)

_WINDOW_NAME = re.compile(r"^(?P<video>.+)_(?P<offset>\d{4,5})\.npz$")


def window_count(n_rows: int) -> int:
    """Number of windows for a video with ``n_rows`` feature rows (last one partial)."""
    if n_rows <= 0:
        return 0
    return (n_rows + SEGMENT_LENGTH - 1) // SEGMENT_LENGTH


def window_offsets(n_rows: int) -> np.ndarray:
    """Offsets 256k of every window of a video with ``n_rows`` rows, shape (K,)."""
    return np.arange(window_count(n_rows), dtype=np.int64) * SEGMENT_LENGTH


def window_row_range(offset: int) -> tuple[int, int]:
    """Video rows [first, last] (inclusive) held by the window at ``offset``."""
    return offset - PAD, offset + SEGMENT_LENGTH + PAD - 1


def cut_window(rows: np.ndarray, offset: int) -> np.ndarray:
    """Rows ``offset-PAD .. offset+256+PAD-1`` of ``rows`` (axis 0), zero-padded.

    ``rows`` has shape (R, ...); the result has shape (270, ...), same dtype.
    """
    out = np.zeros((WINDOW_ROWS,) + rows.shape[1:], dtype=rows.dtype)
    first, last = window_row_range(offset)
    src_lo, src_hi = max(first, 0), min(last + 1, rows.shape[0])
    if src_hi > src_lo:
        out[src_lo - first:src_hi - first] = rows[src_lo:src_hi]
    return out


def stitch_windows(per_window: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One video's per-window values ``(W, 256)`` (a window's middle rows) laid back on its feature rows: a
    float32 track of ``max(offsets) + 256`` rows, index r is row r. Where windows overlap, the later one in
    ``offsets``' order wins (the published stitching, used by evaluation's plots and by spotting)."""
    track = np.zeros(int(np.max(offsets)) + SEGMENT_LENGTH, dtype=np.float32)
    for offset, values in zip(offsets, per_window):
        track[offset:offset + SEGMENT_LENGTH] = values
    return track


def window_file_name(video_name: str, offset: int) -> str:
    """``casme_016_0101`` and 512 -> ``casme_016_0101_0512.npz``."""
    return f"{video_name}_{offset:04d}.npz"


def parse_window_file_name(name: str) -> tuple[str, int]:
    """Inverse of :func:`window_file_name`; accepts 4 or 5 offset digits.

    Raises ``ValueError`` naming the file when the name does not fit.
    """
    match = _WINDOW_NAME.match(name)
    if match is None:
        raise ValueError(f"{name}: not a segment file name <video>_<offset>.npz")
    return match.group("video"), int(match.group("offset"))


def window_frame_to_video_frame(t, offset):
    """Frame number reported for window frame ``t`` (0..255) of the window at ``offset``."""
    return t + offset + PROPOSAL_FRAME_SHIFT


def middle(array, axis: int = -1):
    """Drop the PAD context rows at both ends of a 270-long axis, keeping 256."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(PAD, PAD + SEGMENT_LENGTH)
    return array[tuple(index)]
