"""Browser-playable videos: VP9 in WebM, written with PyAV's FFmpeg (libvpx-vp9), which every current browser
plays. VP9 in real-time mode was chosen over OpenCV's single-threaded VP8, PyAV's VP8 and its
AV1 (SVT-AV1) by measurement (docs/spot.md "Speed"): on a 60 s 640x360 clip it encoded about 7x faster than
OpenCV's VP8 for a file 15x smaller, and AV1, smaller still, cost more time and prints encoder logs.

The encoder runs in one thread at the lowest scheduling priority: beside a feature extraction, which keeps the
main thread busy with landmarks, it then takes only the CPU time the extraction leaves idle, instead of slowing
the extraction's critical path. One encoder thread also costs about a fifth less CPU than two, and makes the
bytes the same on machines with any number of cores (libvpx's row threads change them).

``write_preview`` writes a review copy of a recording, scaled down to about ``PREVIEW_HEIGHT`` pixels high, at
the recording's own rate with one output frame per input frame, so that second ``t`` of the preview is second
``t`` of the input and the review page can seek by the spots' seconds. :class:`BrowserVideoWriter` takes the
frames one at a time and encodes them in a thread of its own, so that spotting writes the preview while it
extracts features from the same decoded frames. The bytes depend on the frames alone (FFmpeg's bitexact
mode: no random segment id, no date), so a rerun writes the same file.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from utils.errors import UserError

PREVIEW_HEIGHT = 270  # a 640 x 360 input's preview is 480 x 270: about half its pixels, a third less time
BROWSER_VIDEO_SUFFIX = ".webm"
CODEC = "libvpx-vp9"
# Real time, fastest speed step, no look-ahead, no adaptive quantisation (15 % less time); constant
# quality 36 capped at 250 kbit/s on average, so that a minute of preview stays under 3 MB (about 1.9 MB at the
# cap; short noisy clips overshoot it by up to a third) whatever the footage.
CODEC_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "aq-mode": "0",
                 "crf": "36", "b": "250k"}
KEYFRAME_SECONDS = 2.0  # the browser seeks from the keyframe before the target: at most this much to decode
LOWEST_PRIORITY = 19  # nice value of the encoder thread (module docstring)
QUEUED_FRAMES = 16  # frames waiting for the encoder thread (bounded: memory stays flat)
_END = object()


def preview_size(width: int, height: int, target_height: int = PREVIEW_HEIGHT) -> tuple[int, int]:
    """``(width, height)`` scaled to ``target_height`` (never up), both even as 4:2:0 video wants."""
    scale = min(1.0, target_height / height)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def _interpolation(image: np.ndarray, size: tuple[int, int]) -> int:
    """Area averaging for a reduction to half or less (against aliasing), else bilinear: OpenCV's area
    averaging at a ratio such as 3/4 costs 2 ms a 640 x 360 frame, as much as encoding it."""
    return cv2.INTER_AREA if size[1] * 2 <= image.shape[0] else cv2.INTER_LINEAR


def _bgr(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


class BrowserVideoWriter:
    """A WebM/VP9 file written atomically from frames given one at a time (:meth:`add`), encoded in a thread.

    ``path`` must end in .webm. Frames are BGR (or gray) uint8 images; None stands for an unreadable frame and
    shows the previous one, so the timing holds (unreadable frames before the first readable one show it). The
    size is the first readable frame's, scaled to ``target_height`` when given. :meth:`close` waits for the
    encoder and renames the file into place; :meth:`abort` drops it. ``on_frame`` is called in the encoder
    thread after each frame is encoded (a progress bar). A refusing encoder, or no readable frame at all, is a
    UserError naming ``path``."""

    def __init__(self, path: Path, fps: float, target_height: int | None = None,
                 on_frame: Callable[[], None] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self._fps, self._target_height, self._on_frame = fps, target_height, on_frame
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUED_FRAMES)
        self._error: BaseException | None = None
        self._written = False
        self._thread = threading.Thread(target=self._encode_all, name=f"encode {self.path.name}", daemon=True)
        self._thread.start()

    def add(self, image: np.ndarray | None) -> None:
        """Queue the next frame (blocks while the encoder is :data:`QUEUED_FRAMES` behind)."""
        self._raise_encoder_error()
        while True:
            try:
                self._queue.put(image, timeout=0.5)
                return
            except queue.Full:
                self._raise_encoder_error()

    def close(self) -> Path:
        """Finish the file and move it to ``path``; returns ``path``."""
        self._finish()
        self._raise_encoder_error()
        if not self._written:
            self._tmp.unlink(missing_ok=True)
            raise UserError(f"{self.path}: no readable frame to write")
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Stop the encoder and remove the unfinished file."""
        self._finish(drop=True)
        self._tmp.unlink(missing_ok=True)

    def _finish(self, drop: bool = False) -> None:
        if drop:  # empty the queue so that the end marker fits
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        if self._thread.is_alive():
            while self._thread.is_alive():
                try:
                    self._queue.put(_END, timeout=0.5)
                    break
                except queue.Full:
                    continue
            self._thread.join()

    def _raise_encoder_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._tmp.unlink(missing_ok=True)
            if isinstance(error, UserError):
                raise error
            raise UserError(f"{self.path}: the VP9/WebM encoder failed ({type(error).__name__}: {error})")

    def _frames(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            yield item

    def _encode_all(self) -> None:
        _lowest_priority()
        try:
            self._written = _encode(self._tmp, self._frames(), self._fps, self._target_height, self._on_frame,
                                    self.path)
        except BaseException as error:  # handed to the caller's thread
            self._error = error
            for _ in self._frames():  # keep taking frames until the end marker, so add() never blocks forever
                pass


def _lowest_priority() -> None:
    """This thread (Linux: a thread's own nice value) at the lowest priority; where the system has no per-thread
    priority the encoder simply runs at the process's."""
    if sys.platform.startswith("linux"):  # elsewhere a thread id is no process id to setpriority
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
        except OSError:
            pass


def _encode(tmp: Path, frames: Iterable[np.ndarray | None], fps: float, target_height: int | None,
            on_frame: Callable[[], None] | None, named: Path) -> bool:
    """Encode ``frames`` into ``tmp``; False when no frame was readable (nothing written)."""
    container, stream, size, last, pending, count = None, None, None, None, 0, 0
    rate = Fraction(fps).limit_denominator(1001)
    try:
        for image in frames:
            if image is None and last is None:
                pending += 1  # written once the first readable frame gives the size
                continue
            if image is not None:
                if size is None:
                    height, width = image.shape[:2]
                    size = preview_size(width, height, target_height) if target_height else preview_size(
                        width, height, height)
                    container, stream = _open(tmp, rate, size, named)
                resized = image if image.shape[1::-1] == size else cv2.resize(image, size,
                                                                              interpolation=_interpolation(image, size))
                last = av.VideoFrame.from_ndarray(cv2.cvtColor(_bgr(resized), cv2.COLOR_BGR2YUV_I420),
                                                  format="yuv420p")
            for _ in range(pending + 1):
                last.pts, last.time_base = count, 1 / rate
                count += 1
                for packet in stream.encode(last):
                    container.mux(packet)
                if on_frame is not None:
                    on_frame()
            pending = 0
        if stream is None:
            return False
        for packet in stream.encode():
            container.mux(packet)
    finally:
        if container is not None:
            container.close()
    return True


def _open(tmp: Path, rate: Fraction, size: tuple[int, int], named: Path):
    """An opened WebM container with its VP9 stream; UserError naming ``named`` when FFmpeg refuses."""
    try:
        container = av.open(str(tmp), "w", format="webm", options={"fflags": "+bitexact"})
        stream = container.add_stream(CODEC, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1  # module docstring: less CPU, and the same bytes on any machine
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        stream.codec_context.gop_size = max(1, int(round(float(rate) * KEYFRAME_SECONDS)))
        stream.options = dict(CODEC_OPTIONS)
    except (av.FFmpegError, ValueError) as error:  # an encoder this FFmpeg lacks is a ValueError
        raise UserError(f"{named}: PyAV's FFmpeg cannot open a VP9/WebM encoder "
                        f"({size[0]}x{size[1]} at {float(rate):g} fps: {error})") from None
    return container, stream


def write_browser_video(path: Path, frames: Iterable[np.ndarray | None], fps: float,
                        target_height: int | None = None, on_frame: Callable[[], None] | None = None) -> Path:
    """Write ``frames`` (BGR images; None = unreadable, shown as the previous frame) to ``path`` atomically, scaled
    to ``target_height`` when given. UserError naming ``path`` when nothing could be written."""
    writer = BrowserVideoWriter(path, fps, target_height, on_frame)
    try:
        for image in frames:
            writer.add(image)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def write_preview(path: Path, frames: Iterable[np.ndarray | None], fps: float,
                  height: int = PREVIEW_HEIGHT) -> Path:
    """A review page's preview: ``frames`` at ``fps``, about ``height`` pixels high (default PREVIEW_HEIGHT)."""
    return write_browser_video(path, frames, fps, height)
