"""A recording's frames decoded once, in a thread of their own, resampled to the features' rate.

Resampled frame j (0-based) is source frame ``rint(j * source_fps / target_fps)``, clipped to the last one, for
j below ``floor(duration * target_fps)`` (:func:`resample_indices`). :class:`Resampler` gives the same frames from
a stream whose length is known only at its end (a video file is decoded once, not counted first): a frame is
handed out as soon as the frames seen so far guarantee it is part of the result.

:class:`DecodedFrames` runs the decoder in a thread: it hands every source image to an optional ``on_source``
(the preview writer) and queues the resampled frames, each with its grayscale image, for the extraction. A source
frame is converted to grayscale once, and only when a resampled frame uses it.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from feature_extraction.face import to_gray

QUEUED_FRAMES = 32  # resampled frames decoded ahead of the extraction (bounded: memory stays flat)
_END = object()


def resampled_count(n_source: int, source_fps: float, target_fps: float) -> int:
    """How many frames ``n_source`` frames at ``source_fps`` give at ``target_fps`` (at least 1)."""
    if abs(source_fps - target_fps) < 1e-6:
        return n_source
    duration = n_source / source_fps
    return max(int(np.floor(duration * target_fps + 1e-9)), 1)


def resample_indices(n_source: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Source frame index (0-based) of every resampled frame: the nearest source frame at ``j / target_fps``.

    Equal rates give ``0 .. n-1``; 60 -> 30 fps gives ``0, 2, 4, ...``. Shape (J,), int64.
    """
    if abs(source_fps - target_fps) < 1e-6:
        return np.arange(n_source, dtype=np.int64)
    count = resampled_count(n_source, source_fps, target_fps)
    indices = np.rint(np.arange(count) * source_fps / target_fps).astype(np.int64)
    return np.minimum(indices, n_source - 1)


@dataclass(frozen=True)
class ResampledFrame:
    """Resampled frame ``position``: source frame ``source`` (0-based), its label, its grayscale image (None:
    unreadable) and whether it repeats the previous resampled frame's source frame."""

    position: int
    source: int
    label: str
    gray: np.ndarray | None
    repeat: bool


class Resampler:
    """:func:`resample_indices` over a stream of source frames (module docstring): :meth:`feed` each source frame
    in order, then :meth:`finish` with their count. Each source frame handed out is converted to grayscale once."""

    def __init__(self, source_fps: float, target_fps: float):
        self._ratio = (source_fps, target_fps)
        self._equal = abs(source_fps - target_fps) < 1e-6
        self._next = 0  # the next resampled frame to hand out
        self._held: deque[list] = deque()  # [index, label, image, gray] of source frames later ones may use
        self._tail: list | None = None  # the last source frame fed: the clipped frames at the end repeat it
        self._last_source = -1

    def source_of(self, position: int) -> int:
        """Source index of resampled frame ``position`` before clipping to the recording."""
        if self._equal:
            return position
        source_fps, target_fps = self._ratio
        return int(np.rint(position * source_fps / target_fps))

    def needs(self, index: int) -> bool:
        """Whether a resampled frame is source frame ``index`` (the frames before it were fed); the last frame of
        the recording may be needed anyway, as the clipped end."""
        position = self._next
        while self.source_of(position) < index:
            position += 1
        return self.source_of(position) == index

    def feed(self, index: int, label: str, image: np.ndarray | None) -> list[ResampledFrame]:
        """Source frame ``index`` (BGR or gray; None: unreadable): the resampled frames now certain."""
        self._tail = [index, label, image, None]
        if self.needs(index):
            self._held.append(self._tail)
        return self._hand_out(resampled_count(index + 1, *self._ratio), index)

    def finish(self, n_source: int) -> list[ResampledFrame]:
        """The remaining resampled frames once the recording has ``n_source`` frames."""
        return self._hand_out(resampled_count(n_source, *self._ratio), n_source - 1, clip=True)

    def _hand_out(self, limit: int, last: int, clip: bool = False) -> list[ResampledFrame]:
        out = []
        while self._next < limit:
            source = self.source_of(self._next)
            if source > last:
                if not clip:
                    break
                source = last
            while self._held and self._held[0][0] < source:
                self._held.popleft()
            held = self._held[0] if self._held and self._held[0][0] == source else self._tail
            index, label, image, gray = held
            if gray is None and image is not None:
                gray = held[3] = to_gray(image)
            out.append(ResampledFrame(self._next, index, label, gray, index == self._last_source))
            self._last_source = index
            self._next += 1
        return out


SourceReader = Callable[[], "tuple[str, np.ndarray | None] | None"]


def video_reader(path) -> tuple[SourceReader, Callable[[], None]]:
    """``(read, release)`` for a video file: ``read()`` gives the next frame's ``(label, BGR image or None)``
    (None: decoded but not convertible), or None at the end of the stream (or where the decoder stops)."""
    capture = cv2.VideoCapture(str(path))
    count = [0]

    def read():
        if not capture.grab():
            return None
        count[0] += 1
        ok, image = capture.retrieve()
        return f"{path}#{count[0]}", image if ok else None

    return read, capture.release


def folder_reader(frame_paths) -> tuple[SourceReader, Callable[[], None]]:
    """``(read, release)`` for a frame folder's images (as :func:`video_reader`; an image file OpenCV cannot
    read gives None)."""
    files = iter(frame_paths)

    def read():
        path = next(files, None)
        return None if path is None else (str(path), cv2.imread(str(path), cv2.IMREAD_COLOR))

    return read, lambda: None


class DecodedFrames:
    """The resampled frames of one recording, decoded in a thread (module docstring). Iterate once; afterwards
    ``n_source`` is the number of source frames and ``indices`` the source index of every resampled frame.

    ``reader`` is :func:`video_reader` or :func:`folder_reader` output; ``on_source(image | None)`` gets every
    source frame in order when given (run in the decoding thread)."""

    def __init__(self, reader: tuple[SourceReader, Callable[[], None]], source_fps: float, target_fps: float,
                 on_source: Callable[[np.ndarray | None], None] | None = None):
        self._read, self._release = reader
        self._resampler = Resampler(source_fps, target_fps)
        self._on_source = on_source
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED_FRAMES)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._indices: list[int] = []
        self.n_source = 0
        self._thread = threading.Thread(target=self._decode, name="decode", daemon=True)

    @property
    def indices(self) -> np.ndarray:
        return np.asarray(self._indices, dtype=np.int64)

    def __iter__(self) -> Iterator[ResampledFrame]:
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                self._indices.append(item.source)
                yield item
        finally:
            self._stop.set()
            while self._thread.is_alive():  # let a decoder blocked on a full queue see the stop
                try:
                    self._queue.get(timeout=0.1)
                except queue.Empty:
                    pass
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _put(self, frames: list[ResampledFrame]) -> bool:
        for frame in frames:
            while not self._stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.1)
                    break
                except queue.Full:
                    continue
        return not self._stop.is_set()

    def _decode(self) -> None:
        try:
            index = 0
            while not self._stop.is_set():
                item = self._read()
                if item is None:
                    break
                label, image = item
                if self._on_source is not None:
                    self._on_source(image)
                if not self._put(self._resampler.feed(index, label, image)):
                    return
                index += 1
            self.n_source = index
            if index and not self._stop.is_set():
                self._put(self._resampler.finish(index))
        except BaseException as error:  # handed to the consuming thread
            self._error = error
        finally:
            self._release()
            if not self._stop.is_set():
                self._queue.put(_END)
