"""A new recording as spotting reads it: a video file or a frame folder -> frames resampled to the features' rate
-> features by the extractor's own code, following the face, and every resampled frame mapped back to the
input's own frame numbers and seconds.

Frame conventions (utils/indexing.py): the recording is resampled to the dataset's rate (config key
``fps``). Resampled frame j (0-based) is source frame ``source_index[j]`` (0-based); an interval frame p
reported by the proposals (1-based, as the annotation tables count) is resampled frame p - 1, so it maps
to source frame number ``source_index[p - 1] + 1`` for a video file and to the frame's own number (the
integer in its file name) for a frame folder. Seconds are ``source_index / source_fps`` with the input's
real rate.

The recording is decoded once (feature_extraction/decode.py): the extraction reads the resampled frames while
the decoder hands every source frame to the preview writer. A frame that resampling repeats is not searched
for landmarks again, nor is its zero flow computed (feature_extraction/rows.py), so the rows are those of
every resampled frame processed on its own. The flows run in a worker thread while the landmarks of the next
frame are found. The face is followed (feature_extraction/tracking.py).
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from feature_extraction.adapters.frames import ordered_frames
from feature_extraction.decode import DecodedFrames, folder_reader, resampled_count, video_reader
from feature_extraction.decode import resample_indices  # noqa: F401 - spotting's callers read it here
from feature_extraction.rows import RowBuilder
from feature_extraction.tracking import FaceFollower, FaceTrack, choose_face, left_to_right
from feature_extraction.video import FlowSettings, VideoFailure, check_rows, frame_problem
from utils.errors import UserError
from utils.indexing import PROPOSAL_FRAME_SHIFT

# A rate a video container reports outside this range is a broken header, not a camera (frames per second).
VIDEO_RATE_RANGE = (1.0, 1000.0)
ALL_FACES = "all"


@dataclass(frozen=True)
class Recording:
    """An input: a video file or a frame folder; ``numbers`` are its frames' own numbers (1-based for a file).

    A video file's frames are counted while it is decoded for its features: until then ``n_frames`` is 0 and
    ``header_frames`` is the count its container announces (0 when none; for progress only)."""

    path: Path
    name: str
    source_fps: float
    frame_paths: tuple[Path, ...] = ()
    numbers: tuple[int, ...] | range = ()
    n_frames: int = 0
    header_frames: int = 0

    @property
    def is_video(self) -> bool:
        return not self.frame_paths

    def counted(self, n_frames: int) -> "Recording":
        """This video file with its decoded frame count."""
        return dataclasses.replace(self, n_frames=n_frames, numbers=range(1, n_frames + 1))


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
    """A :class:`Recording`; one-line UserError for a missing, unopenable or empty input or a broken rate.

    ``fps`` (the user's ``--fps``, None when not given) is the input's rate, for a video file too;
    without it a frame folder runs at ``folder_fps`` and a video at the rate its container reports,
    which must be finite and within :data:`VIDEO_RATE_RANGE`. A video file is opened, not decoded: its frames
    are counted by :func:`extract_recording`."""
    path = Path(path)
    if path.is_dir():
        numbers, frame_paths = ordered_frames(path)  # the adapters' frame-folder rule
        if len(frame_paths) < 2:
            raise UserError(f"{path}: a frame folder needs at least 2 frame images")
        return Recording(path, recording_name(path), float(fps or folder_fps), frame_paths, numbers,
                         len(frame_paths), len(frame_paths))
    if not path.is_file():
        raise UserError(f"{path}: no such video file or frame folder")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UserError(f"{path}: OpenCV cannot open this video file (corrupt or unknown format)")
        reported = capture.get(cv2.CAP_PROP_FPS)
        announced = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        capture.release()
    low, high = VIDEO_RATE_RANGE
    if fps is None and not (math.isfinite(reported) and low <= reported <= high):
        raise UserError(f"{path}: the video reports a frame rate of {reported} fps, outside {low:g}-{high:g}: "
                        "give its real rate with --fps")
    header = int(announced) if math.isfinite(announced) and announced > 0 else 0
    return Recording(path, recording_name(path), float(fps or reported), header_frames=header)


def source_reader(recording: Recording):
    """The ``(read, release)`` pair of feature_extraction/decode.py for the recording's source frames."""
    return folder_reader(recording.frame_paths) if not recording.is_video else video_reader(recording.path)


def iter_source(recording: Recording):
    """``(label, BGR image | None)`` of every source frame, in order (None: unreadable)."""
    read, release = source_reader(recording)
    try:
        while (item := read()) is not None:
            yield item
    finally:
        release()


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


# --------------------------------------------------------------------------- extraction, following the face


@dataclass
class FaceFeatures:
    """One followed face: ``rows`` (R, 12, 2) feature rows; ``lost_frames`` bool (J,) per resampled frame, True
    where no landmarks were found for this face (or the frame is unreadable); ``break_rows`` bool (R,), rows
    across a change of its crop box (no flow computed); ``track`` its boxes; ``number`` its place from the left
    among the faces of the first frame with a face (1-based)."""

    rows: np.ndarray
    lost_frames: np.ndarray
    break_rows: np.ndarray
    track: FaceTrack
    number: int


@dataclass
class RecordingFeatures:
    """What :func:`extract_recording` found: the counted ``recording``, ``indices`` (J,) the source index of
    every resampled frame, ``unreadable`` bool (J,), ``faces_found`` on ``first_face`` (the first resampled frame
    with a face) and one :class:`FaceFeatures` per face spotted."""

    recording: Recording
    indices: np.ndarray
    unreadable: np.ndarray
    faces_found: int
    first_face: int
    faces: list[FaceFeatures]


class _Faces:
    """The followed faces' row builders, frame by frame; before the first face, frames are counted as leading
    (zero-motion copies of the first cropped image, lost)."""

    def __init__(self, landmarker, settings: FlowSettings, choice: str | int, worker):
        self._landmarker, self._settings, self._choice, self._worker = landmarker, settings, choice, worker
        self.followers: list[FaceFollower] = []
        self.builders: list[RowBuilder] = []
        self.found: list[list[bool]] = []
        self.numbers: list[int] = []
        self.leading = 0
        self.faces_found = 0
        self.first_face = -1

    def copy(self, replay: bool) -> None:
        """The previous frame again: unreadable (``replay`` False) or repeated by resampling (``replay``)."""
        if not self.builders:
            self.leading += 1
            return
        for builder, found in zip(self.builders, self.found):
            builder.add_copy(replay)
            found.append(replay and found[-1])

    def image(self, gray: np.ndarray, position: int) -> None:
        """A readable frame: each face's crop and landmarks; the faces are chosen on the first frame with one."""
        if not self.followers and not self._start(gray, position):
            self.leading += 1
            return
        for follower, builder, found in zip(self.followers, self.builders, self.found):
            cropped, landmarks, moved = follower.place(gray, position)
            builder.add(cropped, landmarks, moved)
            found.append(landmarks is not None)

    def _start(self, gray: np.ndarray, position: int) -> bool:
        boxes = self._landmarker.face_boxes(gray)
        if not boxes:
            return False
        ordered = left_to_right(boxes)
        chosen = ordered if self._choice == ALL_FACES else [choose_face(boxes, self._choice)]
        if chosen == [None]:
            raise UserError(f"face {self._choice} asked, but the first frame with a face (resampled frame "
                            f"{position + 1}) shows {len(boxes)}")
        self.faces_found, self.first_face = len(boxes), position
        for box in chosen:
            self.followers.append(FaceFollower(self._landmarker, self._settings.face_detect, box, position))
            builder = RowBuilder(self._settings, self._worker)
            for _ in range(self.leading):
                builder.add_copy()
            self.builders.append(builder)
            self.found.append([False] * self.leading)
            self.numbers.append(ordered.index(box) + 1)
        return True


def extract_recording(recording: Recording, target_fps: float, settings: FlowSettings, landmarker,
                      face: str | int = "largest", on_source: Callable[[np.ndarray | None], None] | None = None,
                      on_frame: Callable[[], None] | None = None) -> RecordingFeatures:
    """Features of the recording resampled to ``target_fps``, with the extractor's settings, following the face
    ``face`` (feature_extraction.tracking: largest, left, right, a number from the left, or :data:`ALL_FACES`).

    ``landmarker`` has ``face_boxes(gray)`` and ``landmarks(crop, detect=mode)``; ``on_source`` gets every source
    frame (the preview), ``on_frame`` is called per resampled frame (progress). A recording that gives no features
    (no face at all, no readable frame, a single frame...) is a UserError naming it."""
    unreadable: list[bool] = []
    full_shape = None
    with _one_opencv_thread(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow") as worker:
        faces = _Faces(landmarker, settings, face, worker)
        frames = DecodedFrames(source_reader(recording), recording.source_fps, target_fps, on_source)
        stream = iter(frames)
        try:
            for frame in stream:
                if full_shape is None and frame.gray is not None:
                    full_shape = frame.gray.shape
                problem = frame.gray is None or frame_problem(frame.gray, full_shape) is not None
                unreadable.append(problem)
                if problem:
                    faces.copy(replay=False)
                elif frame.repeat:  # the previous frame's image again (a repeat of an unreadable one is too)
                    faces.copy(replay=True)
                else:
                    faces.image(frame.gray, frame.position)
                if on_frame is not None:
                    on_frame()
        finally:
            stream.close()  # stops the decoding thread at once when the extraction failed
        counted = recording.counted(frames.n_source) if recording.is_video else recording
        _check_frames(counted, unreadable, faces)
        results = [_face_features(builder, found, follower.track, number, counted)
                   for builder, found, follower, number in zip(faces.builders, faces.found, faces.followers,
                                                               faces.numbers)]
    return RecordingFeatures(counted, frames.indices, np.asarray(unreadable, bool), faces.faces_found,
                             faces.first_face, results)


@contextmanager
def _one_opencv_thread():
    """OpenCV's own worker threads off while extracting: the flow thread and the landmarks already keep two cores
    busy, and on a face crop OpenCV's parallel loops cost more than they gain (any thread count gives the same
    flow)."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _check_frames(recording: Recording, unreadable: list[bool], faces: _Faces) -> None:
    """UserError naming the recording when its frames give no features."""
    path = recording.path
    if recording.is_video and recording.n_frames < 2:
        raise UserError(f"{path}: {'no decodable frame' if recording.n_frames == 0 else 'only one frame'} "
                        "(corrupt or empty video)")
    if all(unreadable):
        raise UserError(f"{path}: none of its {len(unreadable)} frames can be read")
    if not faces.builders:
        raise UserError(f"{path}: no face found on any of its {len(unreadable)} frames")


def _face_features(builder: RowBuilder, found: list[bool], track: FaceTrack, number: int,
                   recording: Recording) -> FaceFeatures:
    try:
        check_rows(builder)
    except VideoFailure as failure:
        raise UserError(f"{recording.path}: {failure}") from None
    rows = builder.finish()
    breaks = np.zeros(len(rows), bool)
    breaks[builder.breaks] = True
    return FaceFeatures(rows, ~np.asarray(found, bool), breaks, track, number)


def expected_frames(recording: Recording, target_fps: float) -> int | None:
    """How many resampled frames the recording should give (progress bars): exact for a frame folder, from the
    container's announced count for a video (None when it announces none)."""
    count = recording.n_frames or recording.header_frames
    return resampled_count(count, recording.source_fps, target_fps) if count else None


def lost_report(path: Path, lost_frames: np.ndarray, unreadable: np.ndarray, indices: np.ndarray,
                recording: Recording, shown: int = 10) -> str | None:
    """The one printed line about face-lost frames, counted in the input's own frames (naming the unreadable
    ones), or None when there are none."""
    if not lost_frames.any():
        return None
    lost, _ = own_frames(np.flatnonzero(lost_frames), indices, recording)
    line = f"{path}: face lost on {len(lost)} of {recording.n_frames} frames: scored 0 there"
    if unreadable.any():
        _, names = own_frames(np.flatnonzero(unreadable), indices, recording)
        kind = "frame(s)" if recording.is_video else "file(s)"
        line += (f"; {len(names)} unreadable {kind} among them: {', '.join(names[:shown])}"
                 f"{' ...' if len(names) > shown else ''}")
    return line


# --------------------------------------------------------------------------- the recording, annotated


def write_annotated_video(path: Path, recording: Recording, intervals: list[tuple[int, int, str]],
                          track: FaceTrack, indices: np.ndarray) -> Path:
    """A browser-playable WebM (feature_extraction/preview.py) of the input at its own rate: the followed face's box
    (``track``, over resampled frames whose source indices are ``indices``) and each label of ``intervals``
    (``(onset, offset, text)`` in the input's own frame numbers) while it is active; an unreadable frame shows the
    previous one, so the timing holds. Written atomically."""
    from feature_extraction.preview import write_browser_video

    # The box of each source frame: that of the first resampled frame made from it (or before it).
    position_of = np.searchsorted(indices, np.arange(recording.n_frames), side="right") - 1

    def drawn():
        for index, (number, (_, image)) in enumerate(zip(recording.numbers, iter_source(recording))):
            if image is not None:
                box = track.box_at(int(position_of[index]))
                if box is not None:
                    top, bottom, left, right = (int(v) for v in box)  # feature_extraction.face.Box order
                    cv2.rectangle(image, (left, top), (right, bottom), (0, 200, 0), 2)
                labels = [text for onset, offset, text in intervals if onset <= number <= offset]
                for line, text in enumerate(labels):
                    cv2.putText(image, text, (10, 30 + 28 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 255), 2)
            yield image

    return write_browser_video(path, drawn(), recording.source_fps)
