"""Which face a recording is spotted on, and the crop box that follows it.

The published extraction crops every frame of a video with the box of its first face
(:mod:`feature_extraction.video`): the dataset's faces sit still. A recording's face moves, so spotting follows
it. :class:`FaceFollower` keeps the box while the face stays in it and looks for the face again in the whole
frame when it has left: when no landmarks are found in the box, or when the landmarks' centre has moved by more
than :data:`DRIFT` of the box's width or height since the box was set. The box then moves to the detection
nearest to it, and the frame is cropped and its landmarks found again there. No flow is computed across a
change of box (:class:`feature_extraction.rows.RowBuilder` makes that row a break). A frame is lost only where
no landmarks are found, in the box or in the box the face moved to. While no face is found anywhere, the whole
frame is searched every :data:`SEARCH_EVERY` frames (the box is still tried on every frame).

Boxes are inclusive pixel bounds ``(top, bottom, left, right)`` (:mod:`feature_extraction.face`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from feature_extraction.face import Box, crop
from utils.errors import UserError

FACE_CHOICES = ("largest", "left", "right")  # or a number N: the N-th face from the left
# How far the face may move inside its box before it is looked for again: a fraction of the box's width (x) or
# height (y). A still face whose landmarks jitter by a few pixels never comes near it; a face halfway out of
# its box does.
DRIFT = 0.25
# While the face is away (no face anywhere), the whole frame is searched again every this many frames, not on
# every frame: a search costs 10-30 times a frame's work (dlib over the whole frame, upsampled when it finds
# nothing), and a face coming back where it left is found in its box anyway.
SEARCH_EVERY = 5


def face_choice(text: str) -> str | int:
    """``--face``: largest, left, right or a whole number from 1 (the N-th face from the left); else a one-line
    UserError."""
    if text in FACE_CHOICES:
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise UserError(f"--face must be {', '.join(FACE_CHOICES)} or a face number from 1 (left to right), "
                    f"got {text!r}")


def left_to_right(boxes: list[Box]) -> list[Box]:
    """``boxes`` ordered by their left edge (then top)."""
    return sorted(boxes, key=lambda box: (box[2], box[0]))


def choose_face(boxes: list[Box], choice: str | int) -> Box | None:
    """The box of ``choice`` among ``boxes`` (largest first, as :meth:`FaceLandmarker.face_boxes` gives them);
    None when a numbered face is not there."""
    if not boxes:
        return None
    if choice == "largest":
        return boxes[0]
    ordered = left_to_right(boxes)
    if choice == "left":
        return ordered[0]
    if choice == "right":
        return ordered[-1]
    return ordered[choice - 1] if choice <= len(ordered) else None


def _centre(box: Box) -> np.ndarray:
    top, bottom, left, right = box
    return np.array([(left + right) / 2, (top + bottom) / 2])


def nearest_face(boxes: list[Box], box: Box) -> Box:
    """The box among ``boxes`` whose centre is nearest to ``box``'s (the first on ties)."""
    distances = [float(np.hypot(*(_centre(other) - _centre(box)))) for other in boxes]
    return boxes[int(np.argmin(distances))]


@dataclass
class FaceTrack:
    """The crop boxes one face was followed with: ``(first resampled frame, box)`` each time the box was set,
    in order (a box holds until the next one)."""

    changes: list[tuple[int, Box]] = field(default_factory=list)

    def box_at(self, position: int) -> Box | None:
        """The box of resampled frame ``position`` (None before the first box)."""
        current = None
        for first, box in self.changes:
            if first > position:
                break
            current = box
        return current


class FaceFollower:
    """The crop box of one face, frame by frame (module docstring), and its :class:`FaceTrack`.

    ``landmarker`` has ``face_boxes(gray)`` and ``landmarks(crop, detect=mode)``
    (:class:`feature_extraction.face.FaceLandmarker`); ``box`` is the face's box on frame ``position``.
    """

    def __init__(self, landmarker, detect: str, box: Box, position: int):
        self._landmarker, self._detect = landmarker, detect
        self.box = box
        self.track = FaceTrack([(position, box)])
        self._reference: np.ndarray | None = None  # landmarks' centre on the box's first frame with landmarks
        self._next_search = position  # the first frame the whole frame may be searched on

    def place(self, gray: np.ndarray, position: int) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """``(cropped image, its landmarks or None, whether the box moved)`` of frame ``position``."""
        cropped = crop(gray, self.box)
        landmarks = self._landmarker.landmarks(cropped, detect=self._detect)
        if (landmarks is not None and not self._drifted(landmarks)) or position < self._next_search:
            return cropped, landmarks, False
        found = self._landmarker.face_boxes(gray)
        if not found:
            self._next_search = position + SEARCH_EVERY
            return cropped, landmarks, False
        box = nearest_face(found, self.box)
        if box == self.box:
            self._set_reference(landmarks)
            return cropped, landmarks, False
        moved_crop = crop(gray, box)
        moved_landmarks = self._landmarker.landmarks(moved_crop, detect=self._detect)
        if moved_landmarks is None and landmarks is not None:
            self._set_reference(landmarks)  # found here, not there: the face stays in this box
            return cropped, landmarks, False
        self.box = box
        self.track.changes.append((position, box))
        self._reference = None
        self._set_reference(moved_landmarks)
        return moved_crop, moved_landmarks, True

    def _set_reference(self, landmarks: np.ndarray | None) -> None:
        if landmarks is not None:
            self._reference = landmarks.mean(axis=0)

    def _drifted(self, landmarks: np.ndarray) -> bool:
        if self._reference is None:
            self._set_reference(landmarks)
            return False
        top, bottom, left, right = self.box
        size = np.array([right - left + 1, bottom - top + 1])
        return bool(np.any(np.abs(landmarks.mean(axis=0) - self._reference) > DRIFT * size))
