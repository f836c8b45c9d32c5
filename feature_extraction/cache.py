"""The per-video feature cache, ``<out>/cache/<subject>/<video_name>.npz``.

A video's result (feature_extraction.video.VideoResult) is stored (:func:`save_cached` / :func:`load_cached`)
with what it depends on: the settings key, :data:`FEATURE_VERSION`, the versions of the libraries that
compute them (:func:`library_key`) and a fingerprint of the source frames; any mismatch, or a cache file that cannot be read, means recompute. A video
that failed for a reason the same inputs will always give again (no face on
any frame, a file OpenCV cannot open) is cached as a failure under the same
key (:func:`save_cached_failure`), so a rerun reports it without decoding it.
"""
from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import cv2
import dlib
import numpy as np

from feature_extraction.face import landmark_model_path
from feature_extraction.settings import FlowSettings
from feature_extraction.video import VideoResult
from utils.indexing import FEATURE_ROW_SHAPE
from utils.io import atomic_write_bytes
from utils.names import check_path_name

# Bump whenever a change to the extraction code changes the features of some
# video: cached results of another version are recomputed.
FEATURE_VERSION = 2


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
