"""Optical flow between consecutive cropped frames and its 8-bit quantisation.

METHOD.md 2.3: TV-L1 flow, stored by the published pipeline as 8-bit images
with bound 10 (the dense_flow tool) and read back as ``q/255 - 0.5``. Features
are in those units: about flow_px / 20.

Flow fields are (H, W, 2) float32 with components (x, y) in pixels, y down
(OpenCV's convention).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

FLOW_METHODS = ("tvl1", "dis", "farneback")
QUANT_BOUND = 10.0  # dense_flow's --bound: components clipped to [-10, 10] px
QUANT_LEVELS = 255.0

# DIS preset: FAST. On ~250 x 250 grayscale face crops (one thread) ULTRAFAST
# takes ~0.7 ms, FAST ~1.2 ms and MEDIUM ~6 ms per frame; FAST adds the
# spatial propagation / variational refinement iterations that ULTRAFAST
# skips while keeping the flow call well under the rest of the per-frame work.
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST
# Farneback: OpenCV's documented example parameters (pyr_scale, levels,
# winsize, iterations, poly_n, poly_sigma, flags).
FARNEBACK_PARAMS = (0.5, 3, 15, 3, 5, 1.2, 0)

FlowFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


def make_flow(method: str) -> FlowFunction:
    """A function ``(gray_i, gray_i1) -> flow (H, W, 2) float32 px``.

    ``method`` is one of :data:`FLOW_METHODS`; TV-L1 uses
    ``cv2.optflow.DualTVL1OpticalFlow_create()`` with its default parameters.
    Inputs are 2-D uint8 images of equal shape. The returned function keeps
    its OpenCV object, so make one per video (or per worker) and reuse it.
    """
    if method == "tvl1":
        solver = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda first, second: solver.calc(first, second, None)
    if method == "dis":
        solver = cv2.DISOpticalFlow_create(DIS_PRESET)
        return lambda first, second: solver.calc(first, second, None)
    if method == "farneback":
        return lambda first, second: cv2.calcOpticalFlowFarneback(first, second, None, *FARNEBACK_PARAMS)
    raise ValueError(f"unknown flow method {method!r}; choose one of {', '.join(FLOW_METHODS)}")


def quantise_flow(flow: np.ndarray) -> np.ndarray:
    """dense_flow's 8-bit codes: ``clip(rint(255 * (v + 10) / 20), 0, 255)``, uint8.

    Computed in float64: ``(v + 10) * 12.75`` rounds the same exact real
    number once, as dense_flow's ``(v - (-10)) * 255. / 20`` does (12.75 and
    v + 10 are exact in float64). ``np.rint`` rounds half to even like
    OpenCV's ``cvRound``; 0 px gives 128.
    """
    scaled = np.asarray(flow, dtype=np.float64) + QUANT_BOUND
    scaled *= QUANT_LEVELS / (2 * QUANT_BOUND)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, QUANT_LEVELS, out=scaled)
    return scaled.astype(np.uint8)


# Feature value of each 8-bit code, q / 255 - 0.5 in float32.
_CODE_VALUES = np.arange(256, dtype=np.float32) / np.float32(QUANT_LEVELS) - np.float32(0.5)


def stored_flow(flow: np.ndarray, quantise: bool = True) -> np.ndarray:
    """Flow in px -> the compact form kept until its ROI features are computed.

    Quantised: the (H, W, 2) uint8 codes of :func:`quantise_flow` (a quarter
    of float32's memory); unquantised: float32 feature units ``v / 20``.
    :func:`to_feature_units` turns either into feature units.
    """
    if quantise:
        return quantise_flow(flow)
    return np.asarray(flow, dtype=np.float32) / np.float32(2 * QUANT_BOUND)


def to_feature_units(stored: np.ndarray) -> np.ndarray:
    """:func:`stored_flow` output (any leading shape) -> float32 feature units.

    uint8 codes ``q`` give ``q / 255 - 0.5``; float32 is already in feature units.
    """
    return _CODE_VALUES[stored] if stored.dtype == np.uint8 else stored


def flow_to_feature_units(flow: np.ndarray, quantise: bool = True) -> np.ndarray:
    """Flow in px -> feature units, float32 of the same shape.

    Quantised (the published default): ``q / 255 - 0.5`` with ``q`` from
    :func:`quantise_flow`, so 0 px -> 128/255 - 0.5, +-10 px and beyond ->
    +-0.5. Unquantised: the same linear map without rounding or clipping,
    ``v / 20``.
    """
    return to_feature_units(stored_flow(flow, quantise))
