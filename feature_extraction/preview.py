"""Browser-playable videos: VP8 in WebM, which OpenCV's bundled FFmpeg writes and every current browser plays
(OpenCV's default ``mp4v`` is MPEG-4 Part 2, which browsers refuse; its H.264 needs an encoder the wheels lack).

``write_preview`` writes a review copy of a recording, scaled down to about ``PREVIEW_HEIGHT`` pixels high, at
the recording's own rate with one output frame per input frame, so that second ``t`` of the preview is second
``t`` of the input and the review page can seek by the spots' seconds. ``browser_video_writer`` is the writer
both the preview and the annotated video use.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from utils.errors import UserError

PREVIEW_HEIGHT = 480
BROWSER_VIDEO_SUFFIX = ".webm"
_FOURCC = "VP80"  # VP9 ("VP90") also works here, but encodes several times slower for the same review use


def preview_size(width: int, height: int, target_height: int = PREVIEW_HEIGHT) -> tuple[int, int]:
    """``(width, height)`` scaled to ``target_height`` (never up), both even as the VP8 encoder wants."""
    scale = min(1.0, target_height / height)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def browser_video_writer(path: Path, fps: float, size: tuple[int, int], named: Path | None = None) -> cv2.VideoWriter:
    """An opened VP8/WebM writer for ``path`` (its suffix must be .webm); UserError naming ``named`` (the file
    being written through the temporary ``path``; default ``path``) when the encoder refuses."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*_FOURCC), float(fps), tuple(int(v) for v in size))
    if not writer.isOpened():
        writer.release()
        raise UserError(f"{named or path}: OpenCV's FFmpeg cannot open a VP8/WebM encoder ({size[0]}x{size[1]} at {fps:g} fps)")
    return writer


def write_browser_video(path: Path, frames: Iterable[np.ndarray | None], fps: float,
                        target_height: int | None = None) -> Path:
    """Write ``frames`` (BGR images; None = unreadable, shown as the previous frame so the timing holds) to
    ``path`` atomically, scaled to ``target_height`` when given. UserError naming ``path`` when nothing could be
    written (no readable frame, or the encoder refuses)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # OpenCV picks the container from the suffix
    writer, size, last, pending = None, None, None, 0
    try:
        for image in frames:
            if image is None and last is None:
                pending += 1  # unreadable before the first readable frame: written once a size is known
                continue
            if image is not None:
                if size is None:
                    height, width = image.shape[:2]
                    size = preview_size(width, height, target_height) if target_height else (width, height)
                    writer = browser_video_writer(tmp, fps, size, path)
                last = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if image.shape[1::-1] != size else image
            for _ in range(pending + 1):
                writer.write(last)
            pending = 0
        if writer is None:
            raise UserError(f"{path}: no readable frame to write")
        writer.release()
        writer = None
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise UserError(f"{path}: the VP8/WebM encoder wrote nothing")
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        tmp.unlink(missing_ok=True)
    return path


def write_preview(path: Path, frames: Iterable[np.ndarray | None], fps: float,
                  height: int = PREVIEW_HEIGHT) -> Path:
    """A review page's preview: ``frames`` at ``fps``, about ``height`` pixels high (default PREVIEW_HEIGHT)."""
    return write_browser_video(path, frames, fps, height)
