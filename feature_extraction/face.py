"""Face boxes and 68 landmarks with dlib (METHOD.md 2.1-2.2).

Images are 2-D uint8 grayscale arrays (the flow is computed on grayscale too,
so every frame is converted once). Boxes are inclusive pixel bounds
``(top, bottom, left, right)``; landmarks are (68, 2) int32 (x, y) pixels,
iBUG-300W order, in the coordinates of the image they were found in.

Per cropped frame the face box is detected again (METHOD.md 2.2), in one of
two modes (:data:`DETECT_MODES`); the shape predictor always runs on the
full-resolution crop:

* ``full`` (as published): dlib's HOG detector on the crop at its own
  resolution, no upsampling. A tight crop whose face touches the border
  sometimes gives no detection; then the crop is retried with a replicated
  border of :data:`FULL_RETRY_BORDER` of its shorter side, upsampled once
  (also catching faces under HOG's ~80 px minimum). About 3 ms a frame on a
  ~260 px crop, 1 ms on a ~150 px one (one thread).
* ``fast``: the detector runs on a copy scaled so its shorter side is
  :data:`DETECT_SIDE_PX` px, with a replicated border of
  :data:`DETECT_BORDER` of that side, and the box is scaled back (~0.5 ms a
  frame whatever the crop size). The coarser box moves the landmarks by
  about 2 px on average (up to ~10 px) against ``full``, while a ROI patch
  is 11 px wide: a speed option, not the published features.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import dlib
import numpy as np

MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
# "fast" mode's detection copy of a cropped frame: shorter side 90 px plus a 9 px replicated
# border. On a ~260 px crop with the face shifted by +-12 % and scaled 0.85-1.08
# it found 36/36 faces in ~0.6 ms (70 px: 0.35 ms, also 36/36, but the box, and
# so the landmarks' starting shape, is coarser; 120 px: 1.0-1.3 ms).
DETECT_SIDE_PX = 90
DETECT_BORDER = 0.1  # as a fraction of DETECT_SIDE_PX
FULL_RETRY_BORDER = 0.1  # "full" mode's retry: border as a fraction of the crop's shorter side
DETECT_MODES = ("full", "fast")

Box = tuple[int, int, int, int]  # (top, bottom, left, right), inclusive


def landmark_model_path() -> Path:
    """Path of dlib's 68-point model shipped in ``face_recognition_models``.

    Found with ``importlib.util.find_spec`` (importing the package needs
    pkg_resources). Raises ``FileNotFoundError`` with a one-line reason.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package face_recognition_models is not installed: it holds dlib's "
                                f"{MODEL_FILE}")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dlib's 68-point landmark model is missing")
    return path


def _largest(rects) -> "dlib.rectangle | None":
    """The detection with the largest area (the subject, not a face in the background)."""
    return max(rects, key=lambda r: r.width() * r.height(), default=None)


class FaceLandmarker:
    """dlib's frontal face detector + 68-point shape predictor, reused per frame."""

    def __init__(self, model_path: Path | None = None):
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(model_path or landmark_model_path()))

    def face_box(self, gray: np.ndarray) -> Box | None:
        """The largest face in a full frame as an inclusive box clipped to the image, or None.

        Runs the detector at full resolution (once per video, so its cost does
        not matter), upsampling once when the plain pass finds nothing.
        """
        boxes = self.face_boxes(gray)
        return boxes[0] if boxes else None

    def face_boxes(self, gray: np.ndarray) -> list[Box]:
        """Every face in a full frame, largest first (as detected, before clipping), as inclusive boxes clipped
        to the image; the plain pass, else one upsampled pass, as :meth:`face_box`."""
        rects = self._detector(gray, 0) or self._detector(gray, 1)
        height, width = gray.shape
        boxes = []
        for rect in sorted(rects, key=lambda r: r.width() * r.height(), reverse=True):  # stable: ties keep order
            top, bottom = max(rect.top(), 0), min(rect.bottom(), height - 1)
            left, right = max(rect.left(), 0), min(rect.right(), width - 1)
            if top <= bottom and left <= right:
                boxes.append((top, bottom, left, right))
        return boxes

    def _detect_fast(self, crop: np.ndarray) -> "dlib.rectangle | None":
        """Face rectangle of a cropped frame, found on a small bordered copy, in crop pixels."""
        scale = DETECT_SIDE_PX / min(crop.shape)
        small = cv2.resize(crop, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        border = int(round(DETECT_BORDER * DETECT_SIDE_PX))
        padded = cv2.copyMakeBorder(small, border, border, border, border, cv2.BORDER_REPLICATE)
        rect = _largest(self._detector(padded, 0))
        if rect is None:
            return None
        back = lambda v: int(round((v - border) / scale))  # noqa: E731 - tiny local conversion
        return dlib.rectangle(back(rect.left()), back(rect.top()), back(rect.right()), back(rect.bottom()))

    def _detect_full(self, crop: np.ndarray) -> "dlib.rectangle | None":
        """Face rectangle of a cropped frame found at its own resolution, in crop pixels."""
        rect = _largest(self._detector(crop, 0))
        if rect is not None:
            return rect
        border = int(FULL_RETRY_BORDER * min(crop.shape))
        padded = cv2.copyMakeBorder(crop, border, border, border, border, cv2.BORDER_REPLICATE)
        rect = _largest(self._detector(padded, 1))
        if rect is None:
            return None
        return dlib.rectangle(rect.left() - border, rect.top() - border, rect.right() - border,
                              rect.bottom() - border)

    def landmarks(self, crop: np.ndarray, detect: str = "full") -> np.ndarray | None:
        """(68, 2) int32 landmarks (x, y) of the face in a cropped frame, or None if no face.

        ``detect`` is the face-box mode, ``full`` or ``fast`` (module docstring).
        """
        if detect not in DETECT_MODES:
            raise ValueError(f"unknown face-detection mode {detect!r}; choose one of {', '.join(DETECT_MODES)}")
        rect = self._detect_full(crop) if detect == "full" else self._detect_fast(crop)
        if rect is None:
            return None
        shape = self._predictor(crop, rect)
        return np.array([(point.x, point.y) for point in shape.parts()], dtype=np.int32)


def crop(gray: np.ndarray, box: Box) -> np.ndarray:
    """``gray[top:bottom+1, left:right+1]`` (inclusive bounds, no resizing), contiguous.

    dlib needs a contiguous buffer; the copy of a ~250 x 250 crop is cheap.
    """
    top, bottom, left, right = box
    return np.ascontiguousarray(gray[top:bottom + 1, left:right + 1])


def to_gray(frame: np.ndarray) -> np.ndarray:
    """BGR (H, W, 3) or already-gray (H, W) uint8 -> (H, W) uint8."""
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
