"""One video: frames -> face crop -> landmarks + flow -> (F-1, 12, 2) ROI features.

METHOD.md section 2.1-2.4. Frame handling on hard footage (every case is
counted and reported, and never shifts rows against annotation frames):

* no face on the first frame: the crop box comes from the first frame that
  has one; all frames are still used (a note says which frame gave the box);
* a frame whose file cannot be read (or whose size differs from the first
  frame's) is replaced by the previous frame (the next readable one for
  leading frames), so its flow row is the known zero motion (no flow is
  run on two identical images); its label is reported;
* a cropped frame without a detected face / landmarks takes the last good
  landmarks (the first good ones for leading frames) and is counted;
* no readable frame, a single frame, no face on any frame or no landmarks on
  any frame: :class:`VideoFailure` with a one-line reason.

The face box of every cropped frame is detected in the mode
``settings.face_detect`` (``full`` as published, or ``fast``; see
:mod:`feature_extraction.face`); by default ``full`` for TV-L1, the
published-compatible flow, and ``fast`` for the speed flows DIS and
Farneback.

The settings (:class:`FlowSettings`, the presets) are feature_extraction/settings.py; the per-video cache is
feature_extraction/cache.py.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from feature_extraction.face import Box, FaceLandmarker, crop, to_gray
from feature_extraction.rows import RowBuilder
from feature_extraction.settings import FlowSettings

STAGES = ("decode", "face_box", "gray_crop", "landmarks", "flow", "quantise", "roi")

Frames = Iterable[tuple[str, "np.ndarray | None"]]


class VideoFailure(Exception):
    """A video that cannot give features; the message is the one-line reason."""


@dataclass
class VideoResult:
    """Features of one video and what went wrong on the way.

    ``features`` (n_frames - 1, 12, 2) float32 in feature units; row i is flow
    frame i -> i+1 with the landmarks of frame i+1. ``landmark_failures``
    counts frames whose landmarks were carried over; ``unreadable`` lists the
    labels of repeated frames; ``notes`` are one-line remarks (crop box not
    from the first frame); ``stage_seconds`` times each stage of
    :data:`STAGES` (empty when loaded from the cache).
    """

    features: np.ndarray
    n_frames: int
    landmark_failures: int = 0
    unreadable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


class _Timer:
    """Accumulates wall time per stage (perf_counter deltas, a few µs of overhead)."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - self._last
        self._last = now


def _find_crop_box(frames: Iterator, landmarker: FaceLandmarker) -> tuple[Box, int, str, np.ndarray]:
    """Scan frames until one has a face: ``(box, frame index, frame label, its gray image)``."""
    n_seen = n_readable = 0
    for index, (label, image) in enumerate(frames):
        n_seen += 1
        if image is None:
            continue
        n_readable += 1
        gray = to_gray(image)
        box = landmarker.face_box(gray)
        if box is not None:
            return box, index, label, gray
    if n_seen == 0:
        raise VideoFailure("no frames")
    if n_readable == 0:
        raise VideoFailure(f"none of its {n_seen} frames can be read")
    raise VideoFailure(f"no face found on any of its {n_seen} frames")


def extract_video(open_frames: Callable[[], Frames], settings: FlowSettings, landmarker: FaceLandmarker,
                  on_frame: Callable[[], None] | None = None) -> VideoResult:
    """ROI features of one video (METHOD.md 2.1-2.4), with the crop box of its first frame with a face.

    ``open_frames()`` returns a fresh iterable of ``(label, BGR or gray uint8
    image | None)`` in frame order; it is called a second time only when the
    first frame has no face. ``landmarker`` is a :class:`FaceLandmarker` (or
    anything with its ``face_box(gray)`` and ``landmarks(crop, detect=mode)``);
    ``on_frame`` is called once per frame processed (progress bars). Raises
    :class:`VideoFailure` with a one-line reason.
    """
    timer = _Timer()
    frames = iter(open_frames())
    box, box_index, box_label, first_gray = _find_crop_box(frames, landmarker)
    timer.lap("face_box")
    full_shape = first_gray.shape
    notes = []
    if box_index > 0:
        notes.append(f"no face on the first frame; crop box from frame {box_index} ({box_label}); "
                     "all frames kept")
        frames = iter(open_frames())  # restart: the frames before box_index are feature rows too
        first_gray = None
    rows = RowBuilder(settings, timer=timer)
    unreadable: list[str] = []
    while True:
        if first_gray is not None:
            label, gray, first_gray = box_label, first_gray, None
        else:
            item = next(frames, None)
            if item is None:
                break
            label, image = item
            timer.lap("decode")
            gray = None if image is None else to_gray(image)
        reason = frame_problem(gray, full_shape)
        if reason:  # repeat the previous frame: zero motion, same landmarks
            unreadable.append(f"{label} ({reason})")
            rows.add_copy()
        else:
            cropped = crop(gray, box)
            timer.lap("gray_crop")
            landmarks = landmarker.landmarks(cropped, detect=settings.face_detect)
            timer.lap("landmarks")
            rows.add(cropped, landmarks)
        if on_frame is not None:
            on_frame()
    check_rows(rows)
    return VideoResult(rows.finish(), rows.n_images, rows.track.failures, unreadable, notes, timer.seconds)


def frame_problem(gray: np.ndarray | None, full_shape: tuple[int, int]) -> str | None:
    """Why a frame cannot be used (None when it can): unreadable, or another size than the first frame's."""
    if gray is None:
        return "cannot be read"
    if gray.shape != full_shape:
        return f"size {gray.shape[::-1]} differs from {full_shape[::-1]}"
    return None


def check_rows(rows: RowBuilder) -> None:
    """VideoFailure when the images give no rows: no landmarks on any of them, or a single image."""
    track = rows.track
    if track.pending == track.n_images:
        raise VideoFailure(f"no face landmarks found on any of its {track.n_images} cropped frames")
    if track.n_images < 2:
        raise VideoFailure("only one frame: a flow needs two")
