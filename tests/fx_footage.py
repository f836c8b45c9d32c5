"""Synthetic face footage for the feature-extraction tests and benchmark (not a test module).

A real face photo (matplotlib's sample ``grace_hopper.jpg``) is scaled so its
dlib face box is about ``face_px`` wide, placed in 640 x 480 frames, moved by a
small head translation per frame and, optionally, warped so the brow on the
image's left (landmarks 17-21) rises smoothly over the clip.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from feature_extraction.face import FaceLandmarker, crop, to_gray

FRAME_SIZE = (640, 480)  # width, height
LEFT_BROW = slice(17, 22)  # iBUG landmarks 17-21: the brow on the image's left (ROIs 0-2)


def face_photo() -> np.ndarray:
    """The sample face photo, BGR uint8."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def full_frame_landmarks(frame: np.ndarray, landmarker: FaceLandmarker) -> np.ndarray:
    """(68, 2) landmarks of the face in a full frame, in frame pixels."""
    gray = to_gray(frame)
    top, bottom, left, right = landmarker.face_box(gray)
    points = landmarker.landmarks(crop(gray, (top, bottom, left, right)))
    return points + [left, top]


def _placed_face(face_px: int, landmarker: FaceLandmarker) -> np.ndarray:
    """A 640 x 480 frame with the photo's face about ``face_px`` wide at the frame centre."""
    photo = face_photo()
    top, bottom, left, right = landmarker.face_box(to_gray(photo))
    scale = face_px / (right - left + 1)
    scaled = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    centre = np.array([(left + right) / 2, (top + bottom) / 2]) * scale
    width, height = FRAME_SIZE
    shift = np.array([width / 2, height / 2]) - centre
    return cv2.warpAffine(scaled, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), FRAME_SIZE,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))


HEAD_PERIOD = 40  # frames: the head drifts for 20 frames, then back


def face_frames(n_frames: int, face_px: int = 160, head_step=(0.4, 0.25), brow_raise_px: float = 0.0,
                landmarker: FaceLandmarker | None = None) -> list[np.ndarray]:
    """``n_frames`` BGR (480, 640, 3) frames of the face.

    Frame t is the placed face translated by ``d(t) * head_step`` px (x, y),
    d(t) = min(t mod 40, 40 - t mod 40) (t for the first 20 frames, so the
    face never drifts more than 20 steps; without a brow raise the clip
    repeats every :data:`HEAD_PERIOD` frames) and,
    when ``brow_raise_px`` > 0, with the left brow raised by
    ``brow_raise_px * t / (n_frames - 1)`` px (a Gaussian displacement field
    of sigma face_px / 16 around landmarks 17-21).
    """
    landmarker = landmarker or FaceLandmarker()
    base = _placed_face(face_px, landmarker)
    height, width = base.shape[:2]
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    weight = np.zeros((height, width), np.float32)
    if brow_raise_px:
        sigma = face_px / 16
        for x, y in full_frame_landmarks(base, landmarker)[LEFT_BROW]:
            weight = np.maximum(weight, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)))
    frames = []
    for t in range(n_frames):
        lift = brow_raise_px * t / max(n_frames - 1, 1)
        drift = min(t % HEAD_PERIOD, HEAD_PERIOD - t % HEAD_PERIOD)
        dx, dy = drift * head_step[0], drift * head_step[1]
        # Backward map: the output pixel (x, y) shows input (x - dx, y - dy + lift * weight),
        # so content moves by (dx, dy) and the brow by an extra -lift (upwards).
        map_x = (xx - dx).astype(np.float32)
        map_y = (yy - dy + lift * weight).astype(np.float32)  # cv2.remap needs float32 maps
        frames.append(cv2.remap(base, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return frames


def write_frames(folder: Path, frames: list[np.ndarray], pattern: str = "img{:03d}.jpg", first: int = 1) -> list[Path]:
    """Write ``frames`` as JPEG files named ``pattern.format(first + i)``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames):
        path = folder / pattern.format(first + index)
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths
