"""Optical flow between consecutive cropped frames and its 8-bit quantisation.

METHOD.md 2.3: TV-L1 flow, stored by the published pipeline as 8-bit images
with bound 10 (the dense_flow tool) and read back as ``q/255 - 0.5``. Features
are in those units: about flow_px / 20.

Flow fields are (H, W, 2) float32 with components (x, y) in pixels, y down
(OpenCV's convention).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from utils.registry import FLOW_METHODS

DEFAULT_FLOW = "tvl1"  # the published flow
QUANT_BOUND = 10.0  # dense_flow's --bound: components clipped to [-10, 10] px
QUANT_LEVELS = 255.0

# DIS presets offered by --dis-preset.
DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
# Default DIS preset: MEDIUM, chosen from tests/benchmarks/bench_sensitivity.py (README
# "Flow sensitivity"): it lifts 25 of 30 planted micro-expressions above the quiet level of
# their video where FAST lifts 18 and ULTRAFAST 21, with every macro-expression, and the flow
# call is a small part of the per-frame work, so a whole extraction costs about the same.
DEFAULT_DIS_PRESET = "medium"
# Farneback: OpenCV's documented example parameters (pyr_scale, levels,
# winsize, iterations, poly_n, poly_sigma, flags).
FARNEBACK_PARAMS = (0.5, 3, 15, 3, 5, 1.2, 0)

# TV-L1 parameter sets, named for what they reproduce, as cv2.optflow.DualTVL1OpticalFlow
# setter names -> values.
# * opencv-cpu: the CPU implementation's defaults (5x5 median filter, 10 outer x 30 inner
#   iterations per warp).
# * published-gpu: what dense_flow (-a=tvl1) ran, cv::cuda::OpticalFlowDual_TVL1's defaults
#   (tau 0.25, lambda 0.15, theta 0.3, 5 scales, 5 warps, epsilon 0.01, 300 iterations,
#   scale step 0.8, gamma 0), as far as the CPU API expresses them: no median filtering
#   (kernel size 1) and one outer loop of 300 inner iterations per warp.
TVL1_PARAMS = {
    "opencv-cpu": {"Tau": 0.25, "Lambda": 0.15, "Theta": 0.3, "ScalesNumber": 5, "WarpingsNumber": 5,
                   "Epsilon": 0.01, "InnerIterations": 30, "OuterIterations": 10, "ScaleStep": 0.8,
                   "Gamma": 0.0, "MedianFiltering": 5},
    "published-gpu": {"Tau": 0.25, "Lambda": 0.15, "Theta": 0.3, "ScalesNumber": 5, "WarpingsNumber": 5,
                      "Epsilon": 0.01, "InnerIterations": 300, "OuterIterations": 1, "ScaleStep": 0.8,
                      "Gamma": 0.0, "MedianFiltering": 1},
}
# Default TV-L1 set: opencv-cpu. In the sensitivity benchmark (README "Flow sensitivity") it
# lifts every planted event of the short footage; the published set differs from it by about
# 0.12 quantisation steps at about 15% more time, so it is opt-in via
# --flow-preset published rather than a cost every run pays.
DEFAULT_TVL1_PARAMS = "opencv-cpu"

# How the 8-bit flow codes reach the ROI features: as they are (codes), or each component
# image JPEG-encoded at OpenCV's default quality 95 and decoded again (jpeg95), as the
# published pipeline stored them on disk and read them back.
FLOW_STORAGES = ("codes", "jpeg95")
FLOW_JPEG_QUALITY = 95  # dense_flow's cv::imwrite default

FlowFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


def make_tvl1(params: str):
    """A ``cv2.optflow.DualTVL1OpticalFlow`` with the named set of :data:`TVL1_PARAMS`."""
    if params not in TVL1_PARAMS:
        raise ValueError(f"unknown TV-L1 parameter set {params!r}; choose one of {', '.join(TVL1_PARAMS)}")
    solver = cv2.optflow.DualTVL1OpticalFlow_create()
    for name, value in TVL1_PARAMS[params].items():
        getattr(solver, f"set{name}")(value)
    return solver


@dataclass(frozen=True)
class FlowMethod:
    """An optical flow method, an entry of :data:`FLOW_METHODS` (config key ``extraction_flow``, ``--flow``).

    ``make(option)`` returns a function ``(gray_i, gray_i1) -> flow (H, W, 2) float32 px``; ``option`` is the
    value of the :class:`~feature_extraction.video.FlowSettings` field named ``option_field`` (the one option
    that varies this method's features, named in the cache key), None when it has none. ``auto_face_detect``:
    the face-detection mode ``auto`` means with this flow. ``zero_on_identical``: its flow between two identical
    images is exactly zero (tests/test_spot_long.py checks it on a face crop and noise), so a frame that
    resampling repeats needs no flow run.
    """

    name: str
    make: Callable[[str | None], FlowFunction]
    auto_face_detect: str
    option_field: str | None = None
    zero_on_identical: bool = False


def _dis(preset: str) -> FlowFunction:
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; choose one of {', '.join(DIS_PRESETS)}")
    solver = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return lambda first, second: solver.calc(first, second, None)


def _tvl1(params: str) -> FlowFunction:
    solver = make_tvl1(params)
    return lambda first, second: solver.calc(first, second, None)


def _farneback(_: None) -> FlowFunction:
    return lambda first, second: cv2.calcOpticalFlowFarneback(first, second, None, *FARNEBACK_PARAMS)


# The entries FLOW_METHODS (utils/registry.py) names. Face detection: as published for TV-L1, fast for the
# speed flows. Farneback's flow between identical images is not exactly zero (up to 0.15 px).
TVL1 = FlowMethod("tvl1", _tvl1, auto_face_detect="full", option_field="tvl1_params", zero_on_identical=True)
DIS = FlowMethod("dis", _dis, auto_face_detect="fast", option_field="dis_preset", zero_on_identical=True)
FARNEBACK = FlowMethod("farneback", _farneback, auto_face_detect="fast")


def make_flow(method: str, dis_preset: str = DEFAULT_DIS_PRESET,
              tvl1_params: str = DEFAULT_TVL1_PARAMS) -> FlowFunction:
    """A function ``(gray_i, gray_i1) -> flow (H, W, 2) float32 px``.

    ``method`` names an entry of :data:`FLOW_METHODS`; ``dis_preset`` (a key of :data:`DIS_PRESETS`) applies
    to DIS, ``tvl1_params`` (a key of :data:`TVL1_PARAMS`) to TV-L1. Inputs are 2-D uint8 images of equal
    shape. The returned function keeps its OpenCV object, so make one per video (or per worker) and reuse it.
    """
    entry = FLOW_METHODS[method]
    options = {"dis_preset": dis_preset, "tvl1_params": tvl1_params}
    return entry.make(options[entry.option_field] if entry.option_field else None)


def jpeg_round_trip(codes: np.ndarray, quality: int = FLOW_JPEG_QUALITY) -> np.ndarray:
    """(H, W, 2) uint8 codes -> the same after each component image went through JPEG.

    As dense_flow wrote ``flow_x`` / ``flow_y`` (``cv::imwrite`` of a one-channel
    8-bit image, quality 95 by default) and the feature code read them back.
    """
    out = np.empty_like(codes)
    for component in range(codes.shape[-1]):
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(codes[..., component]),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding of a flow component failed")
        out[..., component] = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return out


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


def stored_flow(flow: np.ndarray, quantise: bool = True, storage: str = "codes") -> np.ndarray:
    """Flow in px -> the compact form kept until its ROI features are computed.

    Quantised: the (H, W, 2) uint8 codes of :func:`quantise_flow` (a quarter
    of float32's memory), after :func:`jpeg_round_trip` when ``storage`` is
    ``jpeg95``; unquantised: float32 feature units ``v / 20`` (``storage``
    must be ``codes``: JPEG needs 8-bit images). :func:`to_feature_units`
    turns either into feature units.
    """
    if storage not in FLOW_STORAGES:
        raise ValueError(f"unknown flow storage {storage!r}; choose one of {', '.join(FLOW_STORAGES)}")
    if quantise:
        codes = quantise_flow(flow)
        return jpeg_round_trip(codes) if storage == "jpeg95" else codes
    return np.asarray(flow, dtype=np.float32) / np.float32(2 * QUANT_BOUND)


def to_feature_units(stored: np.ndarray) -> np.ndarray:
    """:func:`stored_flow` output (any leading shape) -> float32 feature units.

    uint8 codes ``q`` give ``q / 255 - 0.5``; float32 is already in feature units.
    """
    return _CODE_VALUES[stored] if stored.dtype == np.uint8 else stored
