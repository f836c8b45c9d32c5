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

Per-video results are cached as ``<out>/cache/<subject>/<video_name>.npz``
(see :func:`save_cached` / :func:`load_cached`) with what they depend on: the
settings key, :data:`FEATURE_VERSION`, the versions of the libraries that
compute them (:func:`library_key`) and a fingerprint of the source frames;
any mismatch, or a cache file that cannot be read, means recompute. A video
that failed for a reason the same inputs will always give again (no face on
any frame, a file OpenCV cannot open) is cached as a failure under the same
key (:func:`save_cached_failure`), so a rerun reports it without decoding it.
"""
from __future__ import annotations

import functools
import hashlib
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import dlib
import numpy as np

from feature_extraction.face import DETECT_MODES, Box, FaceLandmarker, crop, landmark_model_path, to_gray
from feature_extraction.flow import (DEFAULT_DIS_PRESET, DEFAULT_FLOW, DEFAULT_TVL1_PARAMS, DIS_PRESETS, FLOW_METHODS,
                                    FLOW_STORAGES, TVL1_PARAMS)
from feature_extraction.rows import RowBuilder
from utils.indexing import FEATURE_ROW_SHAPE
from utils.io import atomic_write_bytes
from utils.names import check_path_name

STAGES = ("decode", "face_box", "gray_crop", "landmarks", "flow", "quantise", "roi")
# Bump whenever a change to the extraction code changes the features of some
# video: cached results of another version are recomputed.
FEATURE_VERSION = 2

Frames = Iterable[tuple[str, "np.ndarray | None"]]


class VideoFailure(Exception):
    """A video that cannot give features; the message is the one-line reason."""


@dataclass(frozen=True)
class FlowSettings:
    """Every choice that changes a video's features (flat, JSON-serialisable fields).

    ``method``: the flow (an entry of :data:`FLOW_METHODS`); ``dis_preset``: DIS preset
    (:data:`~feature_extraction.flow.DIS_PRESETS`, used by DIS only);
    ``tvl1_params``: TV-L1 parameter set (:data:`~feature_extraction.flow.TVL1_PARAMS`,
    used by TV-L1 only); ``quantise``: the published 8-bit codes; ``storage``:
    ``codes`` or ``jpeg95`` (the codes through JPEG quality 95, as published;
    needs ``quantise``); ``face_detect``: ``full``, ``fast``, or ``auto``,
    which is replaced by the flow's own mode (``FlowMethod.auto_face_detect``).
    """

    method: str = DEFAULT_FLOW
    quantise: bool = True
    face_detect: str = "auto"
    dis_preset: str = DEFAULT_DIS_PRESET
    tvl1_params: str = DEFAULT_TVL1_PARAMS
    storage: str = "codes"

    def __post_init__(self):
        flow = FLOW_METHODS[self.method]  # an unknown name: one line
        if self.face_detect == "auto":
            object.__setattr__(self, "face_detect", flow.auto_face_detect)  # frozen dataclass
        if self.face_detect not in DETECT_MODES:
            raise ValueError(f"unknown face-detection mode {self.face_detect!r}; "
                             f"choose one of auto, {', '.join(DETECT_MODES)}")
        for value, allowed, what in ((self.dis_preset, DIS_PRESETS, "DIS preset"),
                                     (self.tvl1_params, TVL1_PARAMS, "TV-L1 parameter set"),
                                     (self.storage, FLOW_STORAGES, "flow storage")):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        if self.storage != "codes" and not self.quantise:
            raise ValueError(f"flow storage {self.storage!r} stores 8-bit codes; it cannot go with no quantisation")

    @property
    def key(self) -> str:
        """Cache key: ``tvl1-q8-full-opencv-cpu``, ``dis-float-fast-medium``,
        ``tvl1-q8-full-published-gpu-jpeg95``, ...; it names only the options that
        apply to the method (the DIS preset does not change TV-L1 features)."""
        option = FLOW_METHODS[self.method].option_field
        variant = getattr(self, option) if option else None
        storage = None if self.storage == "codes" else self.storage
        parts = (self.method, "q8" if self.quantise else "float", self.face_detect, variant, storage)
        return "-".join(part for part in parts if part)


# Named extraction presets, as the flags of ``python -m feature_extraction --flow-preset`` they stand for
# (explicit flags win there). ``published``: as the published features were made (dense_flow's TV-L1 on the
# GPU, its 8-bit codes through JPEG, full face detection); spotting with a run that records no extraction
# (the published checkpoint archive) uses it too.
FLOW_PRESETS = {"published": {"flow": "tvl1", "tvl1_params": "published-gpu", "flow_storage": "jpeg95",
                              "face_detect": "full"}}
_PRESET_FLAGS = {"flow": "method", "flow_storage": "storage"}  # flag name -> FlowSettings field, where they differ


def preset_settings(name: str) -> FlowSettings:
    """The FlowSettings of :data:`FLOW_PRESETS` ``name`` (the other fields at their defaults)."""
    return FlowSettings(**{_PRESET_FLAGS.get(flag, flag): value for flag, value in FLOW_PRESETS[name].items()})


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


# --------------------------------------------------------------------------- cache


def cache_path(out_root: Path, subject: str, video_name: str) -> Path:
    """``<out_root>/cache/<subject>/<video_name>.npz``; a one-line UserError for a name that is no plain file name."""
    folder = Path(out_root) / "cache"
    check_path_name(subject, folder, "subject name")
    check_path_name(video_name, folder, "video name")
    return folder / subject / f"{video_name}.npz"


def library_key() -> str:
    """``opencv=4.12.0;dlib=19.24.9;model=<12 hex>``: the libraries the features depend on.

    OpenCV computes the flow and decodes the frames, dlib finds faces and
    landmarks with the 68-point model file (its SHA-1, read once per file
    state): an upgrade of either, or another model file, changes features,
    so it changes the cache key and the videos are extracted again.
    """
    model = landmark_model_path()
    status = model.stat()
    model_hash = _file_sha1(model, status.st_size, status.st_mtime_ns)
    return f"opencv={cv2.__version__};dlib={dlib.__version__};model={model_hash}"


@functools.lru_cache(maxsize=4)
def _file_sha1(path: Path, size: int, mtime_ns: int) -> str:
    """First 12 hex digits of the SHA-1 of ``path`` (size and time only key the memo: ~0.1 s for 100 MB)."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _key_fields(settings: FlowSettings, source: str) -> dict[str, np.ndarray]:
    """What a cache entry depends on, as stored beside it (all must match for a hit)."""
    return {"settings": np.array(settings.key), "version": np.int64(FEATURE_VERSION),
            "libraries": np.array(library_key()), "source": np.array(source)}


def save_cached(path: Path, result: VideoResult, settings: FlowSettings, source: str) -> None:
    """Write ``result`` to ``path`` atomically (temporary name + os.replace) with what it depends on.

    Stored beside the arrays: ``settings`` (:attr:`FlowSettings.key`),
    ``version`` (:data:`FEATURE_VERSION`), ``libraries`` (:func:`library_key`)
    and ``source``, the fingerprint of the frames it was made from
    (``adapters.source_fingerprint``).
    """
    buffer = io.BytesIO()
    np.savez(buffer, features=result.features, n_frames=np.int64(result.n_frames),
             landmark_failures=np.int64(result.landmark_failures),
             unreadable=np.array(result.unreadable, dtype=str), notes=np.array(result.notes, dtype=str),
             **_key_fields(settings, source))
    atomic_write_bytes(path, buffer.getvalue())


def save_cached_failure(path: Path, reason: str, settings: FlowSettings, source: str) -> None:
    """Cache that the video failed for ``reason`` (one line) under the same key as a result."""
    buffer = io.BytesIO()
    np.savez(buffer, failure=np.array(reason), **_key_fields(settings, source))
    atomic_write_bytes(path, buffer.getvalue())


def cache_mismatch(path: Path, settings: FlowSettings, source: str) -> str | None:
    """Why the cache file at ``path`` does not serve ``settings`` and ``source``; None when it does.

    The reason is a phrase such as ``not extracted yet``, ``extracted with other
    settings (dis-q8-fast-medium; asked: tvl1-q8-full-opencv-cpu)``, ``extracted from
    frames that changed since`` or ``unreadable``.
    """
    if not path.is_file():
        return "not extracted yet"
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {key: data[key][()] for key in ("settings", "version", "libraries", "source") if key in data}
    except Exception:  # whatever makes it unreadable, the video is extracted again
        return "its cache file is unreadable"
    asked = {key: value[()] for key, value in _key_fields(settings, source).items()}
    for key, what in (("settings", "settings"), ("version", "feature version"), ("libraries", "library versions")):
        if key not in stored or stored[key] != asked[key]:
            return f"extracted with other {what} ({stored.get(key, 'not recorded')}; asked: {asked[key]})"
    if stored["source"] != asked["source"]:
        return "extracted from frames that changed since"
    return None


def load_cached_failure(path: Path, settings: FlowSettings, source: str) -> str | None:
    """The reason of a failure cached at ``path`` for ``settings`` and ``source``; None when there is none."""
    if cache_mismatch(path, settings, source) is not None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["failure"]) if "failure" in data else None
    except Exception:
        return None


def load_cached(path: Path, settings: FlowSettings, source: str) -> VideoResult | None:
    """The cached result at ``path``, or None when it must be (re)computed.

    None when the file is missing or cannot be read (truncated, empty, not an
    npz, keys or shapes wrong), holds a failure, or was made with other
    ``settings``, another :data:`FEATURE_VERSION`, other libraries or from
    other frames (``source`` fingerprint).
    """
    if cache_mismatch(path, settings, source) is not None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            result = VideoResult(data["features"].astype(np.float32), int(data["n_frames"]),
                                 int(data["landmark_failures"]), [str(s) for s in data["unreadable"]],
                                 [str(s) for s in data["notes"]])
    # The cache only saves time: whatever makes it unreadable (BadZipFile, EOFError, OSError,
    # ValueError, KeyError, ...), the video is extracted again rather than the run stopped.
    except Exception:
        return None
    if result.features.shape != (result.n_frames - 1, *FEATURE_ROW_SHAPE):
        return None
    return result
