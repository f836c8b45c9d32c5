"""A new recording as spotting reads it: a video file or a frame folder -> frames resampled to the features'
rate -> features by the extractor's own code, and every resampled frame mapped back to the input's own
frame numbers and seconds.

Frame conventions (utils/indexing.py): the recording is resampled to the dataset's rate (config key
``fps``). Resampled frame j (0-based) is source frame ``source_index[j]`` (0-based); an interval frame p
reported by the proposals (1-based, as the annotation tables count) is resampled frame p - 1, so it maps
to source frame number ``source_index[p - 1] + 1`` for a video file and to the frame's own number (the
integer in its file name) for a frame folder. Seconds are ``source_index / source_fps`` with the input's
real rate.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from feature_extraction.adapters.frames import ordered_frames
from feature_extraction.face import to_gray
from feature_extraction.video import FlowSettings, VideoFailure, VideoResult, extract_video
from utils.errors import UserError
from utils.indexing import PROPOSAL_FRAME_SHIFT

# A rate a video container reports outside this range is a broken header, not a camera (frames per second).
VIDEO_RATE_RANGE = (1.0, 1000.0)


@dataclass(frozen=True)
class Recording:
    """An input: a video file or a frame folder; ``numbers`` are its frames' own numbers (1-based for a file)."""

    path: Path
    name: str
    source_fps: float
    frame_paths: tuple[Path, ...] = ()
    numbers: tuple[int, ...] = ()
    n_frames: int = 0

    @property
    def is_video(self) -> bool:
        return not self.frame_paths


def frame_rate(text: str, flag: str = "--fps") -> float:
    """A frame rate given by the user: a finite number above 0 (frames per second), else a one-line UserError."""
    try:
        rate = float(text)
    except (TypeError, ValueError):
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise UserError(f"{flag} must be a finite number of frames per second above 0, got {text!r}")
    return rate


def recording_name(path: Path) -> str:
    """The name an input's outputs are filed under: a folder's name, a video file's stem; ``.`` and ``..``
    are named after the folder they stand for."""
    path = Path(path)
    name = path.name if path.is_dir() else path.stem
    if name in ("", ".", ".."):
        name = Path(os.path.abspath(path)).name or "root"
    return name


def open_recording(path: Path, fps: float | None, folder_fps: float) -> Recording:
    """A :class:`Recording`; one-line UserError for a missing, unreadable or empty input or a broken rate.

    ``fps`` (the user's ``--fps``, None when not given) is the input's rate, for a video file too;
    without it a frame folder runs at ``folder_fps`` and a video at the rate its container reports,
    which must be finite and within :data:`VIDEO_RATE_RANGE`."""
    path = Path(path)
    if path.is_dir():
        numbers, frame_paths = ordered_frames(path)  # the adapters' frame-folder rule
        if len(frame_paths) < 2:
            raise UserError(f"{path}: a frame folder needs at least 2 frame images")
        return Recording(path, recording_name(path), float(fps or folder_fps), frame_paths, numbers,
                         len(frame_paths))
    if not path.is_file():
        raise UserError(f"{path}: no such video file or frame folder")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UserError(f"{path}: OpenCV cannot open this video file (corrupt or unknown format)")
        reported = capture.get(cv2.CAP_PROP_FPS)
        count = 0
        while capture.grab():
            count += 1
    finally:
        capture.release()
    if count < 2:
        raise UserError(f"{path}: {'no decodable frame' if count == 0 else 'only one frame'} (corrupt or empty video)")
    low, high = VIDEO_RATE_RANGE
    if fps is None and not (math.isfinite(reported) and low <= reported <= high):
        raise UserError(f"{path}: the video reports a frame rate of {reported} fps, outside {low:g}-{high:g}: "
                        "give its real rate with --fps")
    return Recording(path, recording_name(path), float(fps or reported), numbers=tuple(range(1, count + 1)),
                     n_frames=count)


def resample_indices(n_source: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Source frame index (0-based) of every resampled frame: the nearest source frame at ``j / target_fps``.

    Equal rates give ``0 .. n-1``; 60 -> 30 fps gives ``0, 2, 4, ...``. Shape (J,), int64.
    """
    if abs(source_fps - target_fps) < 1e-6:
        return np.arange(n_source, dtype=np.int64)
    duration = n_source / source_fps
    count = max(int(np.floor(duration * target_fps + 1e-9)), 1)
    indices = np.rint(np.arange(count) * source_fps / target_fps).astype(np.int64)
    return np.minimum(indices, n_source - 1)


def iter_resampled(recording: Recording, indices: np.ndarray):
    """``(label, BGR image | None)`` of every resampled frame, in order (each source frame decoded once).

    None marks a frame that cannot be read: an unreadable image file, or for a video every frame from the
    first one the decoder fails on (after a failure the decoder's position no longer says which frame comes),
    so that there are always ``len(indices)`` frames and the later ones keep their numbers."""
    if not recording.is_video:
        for index in indices:
            frame_path = recording.frame_paths[index]
            yield str(frame_path), cv2.imread(str(frame_path), cv2.IMREAD_COLOR)
        return
    wanted = np.bincount(indices, minlength=recording.n_frames)  # how often each source frame is used
    capture = cv2.VideoCapture(str(recording.path))
    ok = True
    try:
        for index in range(recording.n_frames):
            image = None
            if ok and wanted[index] == 0:
                ok = capture.grab()
            elif ok:
                ok, image = capture.read()
            for _ in range(wanted[index]):
                yield f"{recording.path}#{index + 1}", image if ok else None
    finally:
        capture.release()


def map_frames(frames: np.ndarray, indices: np.ndarray, recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """Proposal frames (1-based, resampled) -> (the input's own frame numbers, seconds), clipped to the input."""
    resampled = np.clip(np.asarray(frames, dtype=np.int64) - PROPOSAL_FRAME_SHIFT, 0, len(indices) - 1)
    source = indices[resampled]
    return np.asarray(recording.numbers, dtype=np.int64)[source], source / recording.source_fps


def own_frames(positions: np.ndarray, indices: np.ndarray, recording: Recording) -> tuple[list[int], list[str]]:
    """Resampled frames -> the input's own ``(frame numbers, names)``, each source frame once: the names are
    the file names of a frame folder, else the frame numbers."""
    source = np.unique(indices[positions])
    numbers = [int(recording.numbers[i]) for i in source]
    return numbers, [str(n) for n in numbers] if recording.is_video else [recording.frame_paths[i].name for i in source]


def lost_stretches(lost_frames: np.ndarray, indices: np.ndarray, recording: Recording) -> list[tuple[float, float]]:
    """``(begin, end)`` seconds of each run of lost resampled frames (bool (J,)); resampled frame j lasts until
    frame j + 1 begins (the last one until the recording ends), so one lost frame is a visible stretch."""
    lost = lost_frames.astype(np.int8)
    starts = np.flatnonzero(np.diff(np.concatenate([[0], lost])) == 1)
    ends = np.flatnonzero(np.diff(np.concatenate([lost, [0]])) == -1)
    seconds = np.append(indices, recording.n_frames) / recording.source_fps
    return [(float(seconds[first]), float(seconds[last + 1])) for first, last in zip(starts, ends)]


# --------------------------------------------------------------------------- extraction, as for the run


class _FrameWatch:
    """A FaceLandmarker wrapper that also hands out the frames, so that each landmarks call (one per frame the
    extractor could read and crop) is tied to its resampled frame: ``read[j]`` whether frame j reached the
    landmarker, ``found[j]`` whether a face was found on it. extract_video repeats the previous frame for
    an unreadable one without a landmarks call, so such a frame stays unread and counts as face-lost."""

    def __init__(self, landmarker, recording: Recording, indices: np.ndarray):
        self._landmarker = landmarker
        self._recording, self._indices = recording, indices
        self._position = -1  # resampled frame last handed out (extract_video works frame by frame)
        self.read = np.zeros(len(indices), bool)
        self.found = np.zeros(len(indices), bool)

    def frames(self):
        for position, item in enumerate(iter_resampled(self._recording, self._indices)):
            self._position = position
            yield item

    def face_box(self, gray):
        return self._landmarker.face_box(gray)

    def landmarks(self, crop, detect="full"):
        points = self._landmarker.landmarks(crop, detect=detect)
        self.read[self._position] = True
        self.found[self._position] = points is not None
        return points


def extract_recording(recording: Recording, indices: np.ndarray, settings: FlowSettings,
                      landmarker) -> tuple[np.ndarray, np.ndarray, np.ndarray, VideoResult]:
    """Features of the resampled recording through feature_extraction.video.extract_video (the extractor's own
    code and settings): ``(rows (R, 12, 2), lost_frames bool (J,), unreadable_frames bool (J,), result)``.
    A frame is lost when no face was found on it or it could not be read (``unreadable_frames``, a subset).
    A recording that gives no features (no face at all, no readable frame, ...) is a UserError naming it."""
    watch = _FrameWatch(landmarker, recording, indices)
    try:
        result = extract_video(watch.frames, settings, watch)
    except VideoFailure as failure:
        raise UserError(f"{recording.path}: {failure}") from None
    return result.features, ~watch.found, ~watch.read, result


def lost_report(path: Path, lost_frames: np.ndarray, unreadable: np.ndarray, indices: np.ndarray,
                recording: Recording, shown: int = 10) -> str | None:
    """The one printed line about face-lost frames (naming the unreadable ones), or None when there are none."""
    if not lost_frames.any():
        return None
    line = f"{path}: face lost on {int(lost_frames.sum())} of {len(lost_frames)} frames: scored 0 there"
    if unreadable.any():
        _, names = own_frames(np.flatnonzero(unreadable), indices, recording)
        kind = "frame(s)" if recording.is_video else "file(s)"
        line += (f"; {len(names)} unreadable {kind} among them: {', '.join(names[:shown])}"
                 f"{' ...' if len(names) > shown else ''}")
    return line


# --------------------------------------------------------------------------- the recording, annotated


def write_annotated_video(path: Path, recording: Recording, intervals: list[tuple[int, int, str]],
                          landmarker) -> Path:
    """A browser-playable WebM (feature_extraction/preview.py) of the input at its own rate: the face box (found
    on the first frame with a face) and each label of ``intervals`` (``(onset, offset, text)`` in the input's own
    frame numbers) while it is active; an unreadable frame shows the previous one, so the timing holds. Written
    atomically."""
    from feature_extraction.preview import write_browser_video

    def drawn():
        box = None
        for number, (_, image) in zip(recording.numbers, iter_resampled(recording, np.arange(recording.n_frames))):
            if image is not None:
                box = landmarker.face_box(to_gray(image)) if box is None else box
                if box is not None:
                    top, bottom, left, right = (int(v) for v in box)  # feature_extraction.face.Box order
                    cv2.rectangle(image, (left, top), (right, bottom), (0, 200, 0), 2)
                labels = [text for onset, offset, text in intervals if onset <= number <= offset]
                for line, text in enumerate(labels):
                    cv2.putText(image, text, (10, 30 + 28 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 255), 2)
            yield image

    return write_browser_video(path, drawn(), recording.source_fps)
