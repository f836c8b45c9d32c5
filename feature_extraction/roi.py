"""ROI motion features from a flow field and landmarks (METHOD.md section 2.4).

All functions are vectorised over a batch of flow frames and over the 12 ROIs;
there is no Python loop over frames, ROIs or pixels.

Units: flow vectors are in feature units (the dequantised ``q/255 - 0.5`` of
:mod:`feature_extraction.flow`, about flow_px / 20); the features come out in
the same units. Image convention: x to the right, y DOWN (row index), both for
landmark coordinates and for the flow's second component, so a vector
pointing up on screen has a negative y and an angle near 270 degrees.

Decisions where METHOD.md is silent (kept identical in the brute-force
reference of tests/test_fx_roi.py):

* Angles are ``degrees(atan2(y, x)) mod 360`` in float64; a vector on a sector
  edge belongs to the sector that starts there (sectors are half-open
  ``[lo, hi)``). A zero vector has angle 0.
* "The k largest by magnitude": a stable descending sort by magnitude, so
  equal magnitudes are taken in the patch's row-major (raster) order.
* ``k = int(n * fraction)`` with n the size of the dominant sector (floor,
  like ``int(n * 0.88)``). When k is 0 (a sector of one vector for 0.6, or an
  empty or nearly empty patch at the image border) the summary is the zero
  vector: there is no motion evidence to average.
* Patches and the global rectangle are inclusive pixel ranges clipped to the
  image; a patch entirely outside the image is empty and summarises to zero.
* The global rectangle spans rows min(y29, y30) - w .. max(y29, y30) + w and
  columns min(x29, x30) - w .. max(x29, x30) + w, inclusive,
  w = int(0.35 * (x42 - x39) / 2) (truncation toward zero, as Python's int).
"""
from __future__ import annotations

import numpy as np

# Landmarks (0-based, iBUG-68) the 12 ROIs are centred on, in feature order:
# brows 18 19 20 23 24 25, nose 28 30, mouth 48 51 54 57.
ROI_LANDMARKS = (18, 19, 20, 23, 24, 25, 28, 30, 48, 51, 54, 57)
ROI_RADIUS = 5  # patch rows y-5..y+5 and columns x-5..x+5: 11 x 11 vectors

# Sector edges in degrees: sector j is [edges[j], edges[j+1]); the last one
# wraps round through 360 to edges[0].
GLOBAL_SECTOR_EDGES = (45.0, 135.0, 225.0, 315.0)
ROI_SECTOR_EDGES = (30.0, 150.0, 210.0, 330.0)
GLOBAL_KEEP_FRACTION = 0.88
ROI_KEEP_FRACTION = 0.6
UNIT_EPS = 1e-6  # unit(v) = v / (|v| + 1e-6)

# Landmarks that define the global (head motion) rectangle and its widening.
NOSE_RECT_LANDMARKS = (29, 30)
INNER_EYE_CORNERS = (39, 42)
NOSE_RECT_WIDEN = 0.35


def sector_index(vectors: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Sector of each vector, int array of shape ``vectors.shape[:-1]``.

    ``vectors`` (..., 2) as (x, y) with y down; angle = atan2(y, x) in
    [0, 360) degrees. Sector j covers [edges[j], edges[j+1]); the last sector
    covers [edges[-1], 360) and [0, edges[0]).
    """
    angles = np.degrees(np.arctan2(vectors[..., 1], vectors[..., 0])) % 360.0
    return (np.digitize(angles, edges) - 1) % len(edges)


def dominant_direction_summary(vectors: np.ndarray, valid: np.ndarray,
                               edges: tuple[float, ...], keep_fraction: float) -> np.ndarray:
    """``unit(sum) * mean magnitude`` of the largest vectors of the dominant sector.

    ``vectors`` (..., n, 2) float, ``valid`` (..., n) bool (False marks padding
    outside a clipped patch). Per leading index: the sector holding most valid
    vectors (the first on ties), of those the ``int(count * keep_fraction)``
    largest by magnitude (stable: ties in index order). Returns (..., 2)
    float64; zero where nothing is kept.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n_sectors = len(edges)
    sectors = np.where(valid, sector_index(vectors, edges), n_sectors)  # padding -> extra bin
    counts = (sectors[..., None] == np.arange(n_sectors)).sum(axis=-2)  # (..., n_sectors)
    dominant = counts.argmax(axis=-1)  # argmax returns the first sector on ties
    chosen = sectors == dominant[..., None]
    keep = (np.take_along_axis(counts, dominant[..., None], axis=-1)[..., 0] * keep_fraction).astype(np.int64)

    magnitudes = np.sqrt(vectors[..., 0] ** 2 + vectors[..., 1] ** 2)
    order = np.argsort(np.where(chosen, -magnitudes, np.inf), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1]), axis=-1)
    kept = rank < keep[..., None]

    total = (vectors * kept[..., None]).sum(axis=-2)
    mean_magnitude = (magnitudes * kept).sum(axis=-1) / np.maximum(keep, 1)
    norm = np.sqrt(total[..., 0] ** 2 + total[..., 1] ** 2)
    return total / (norm + UNIT_EPS)[..., None] * mean_magnitude[..., None]


def gather_boxes(flow: np.ndarray, top: np.ndarray, bottom: np.ndarray,
                 left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow vectors inside inclusive pixel boxes, clipped to the image.

    ``flow`` (B, H, W, 2); ``top``/``bottom``/``left``/``right`` int arrays of
    shape (B, R) (inclusive bounds, may lie outside the image). Returns
    ``vectors`` (B, R, n, 2) in row-major order of each box and ``valid``
    (B, R, n), n = the largest clipped box area (padding is invalid).
    """
    n_frames, height, width = flow.shape[:3]
    top, left = np.maximum(top, 0), np.maximum(left, 0)
    bottom, right = np.minimum(bottom, height - 1), np.minimum(right, width - 1)
    box_h = max(int((bottom - top + 1).max(initial=0)), 0)
    box_w = max(int((right - left + 1).max(initial=0)), 0)
    rows = top[..., None] + np.arange(box_h)  # (B, R, h)
    cols = left[..., None] + np.arange(box_w)  # (B, R, w)
    valid = (rows <= bottom[..., None])[..., :, None] & (cols <= right[..., None])[..., None, :]
    frame = np.arange(n_frames)[:, None, None, None]
    vectors = flow[frame, np.clip(rows, 0, height - 1)[..., :, None], np.clip(cols, 0, width - 1)[..., None, :]]
    n_rois = top.shape[1]
    return (vectors.reshape(n_frames, n_rois, box_h * box_w, 2),
            valid.reshape(n_frames, n_rois, box_h * box_w))


def global_motion(flow: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Head motion per frame from the widened nose rectangle, (B, 2) float64.

    ``flow`` (B, H, W, 2) in feature units; ``landmarks`` (B, 68, 2) int (x, y)
    of the frame each flow ends on.
    """
    nose = landmarks[:, NOSE_RECT_LANDMARKS, :]  # (B, 2 landmarks, xy)
    left_eye, right_eye = INNER_EYE_CORNERS
    widen = np.trunc(NOSE_RECT_WIDEN * (landmarks[:, right_eye, 0] - landmarks[:, left_eye, 0]) / 2).astype(np.int64)
    lo, hi = nose.min(axis=1) - widen[:, None], nose.max(axis=1) + widen[:, None]  # (B, xy)
    vectors, valid = gather_boxes(flow, lo[:, None, 1], hi[:, None, 1], lo[:, None, 0], hi[:, None, 0])
    return dominant_direction_summary(vectors, valid, GLOBAL_SECTOR_EDGES, GLOBAL_KEEP_FRACTION)[:, 0]


def roi_features(flow: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The (B, 12, 2) float32 ROI features of METHOD.md 2.4.

    ``flow`` (B, H, W, 2): flow i (frame i -> i+1) in feature units, (x, y)
    with y down; ``landmarks`` (B, 68, 2) int pixel (x, y) of frame i+1 in the
    same (cropped) image. Head motion is removed from every patch vector
    before the per-ROI summary.
    """
    centres = landmarks[:, ROI_LANDMARKS, :].astype(np.int64)  # (B, 12, xy)
    x, y = centres[..., 0], centres[..., 1]
    vectors, valid = gather_boxes(flow, y - ROI_RADIUS, y + ROI_RADIUS, x - ROI_RADIUS, x + ROI_RADIUS)
    vectors = vectors - global_motion(flow, landmarks)[:, None, None, :]
    return dominant_direction_summary(vectors, valid, ROI_SECTOR_EDGES, ROI_KEEP_FRACTION).astype(np.float32)
