"""What the adapters share about frames: a video source, the frame-folder rule, reading frames, the fingerprint."""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from utils.errors import UserError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"})
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class VideoSource:
    """One video of a raw dataset copy.

    Either ``frame_paths`` (ordered frame images, already subsampled to the
    rate the features use) or ``video_file`` (a file OpenCV decodes; every
    ``frame_step``-th decoded frame is kept, starting with the first) is set.
    """

    subject: str
    video_name: str
    frame_paths: tuple[Path, ...] = ()
    video_file: Path | None = None
    frame_step: int = 1

    @property
    def source_path(self) -> Path:
        """The video folder or file, for messages."""
        if self.video_file is not None:
            return self.video_file
        return self.frame_paths[0].parent if self.frame_paths else Path(self.video_name)

class TreeWarning(str):
    """A raw-tree problem that was handled (a stray entry left alone, irregular numbering extracted anyway).

    Still a one-line ``str``; the extraction lists it as a warning, a failure only under ``--strict``.
    Any other problem line is a video that was not extracted.
    """


def visible_entries(folder: Path) -> list[Path]:
    """Entries of ``folder`` sorted by name, without hidden ones (``.DS_Store``...)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def ordered_frames(folder: Path, frame_name: re.Pattern | None = None) -> tuple[tuple[int, ...], tuple[Path, ...]]:
    """The frame images of ``folder`` and their frame numbers, in frame order: ``(numbers, paths)``.

    The one rule for every frame folder, a dataset's video folder or a spot.py input. Images are the
    visible files with an image suffix: hidden files and macOS ``._*`` sidecars are left out, as are files
    of other kinds. A frame's number is the one number of its stem (``img12``, ``0012``, ``frame_12``);
    a layout whose names hold more numbers (SAMM-LV's ``006_1_0012``) or must look one way (CAS(ME)^2's
    ``img<N>``) gives ``frame_name``, a pattern whose group 1 is the frame number. Frames are ordered by
    that integer, never as text (``img1000`` after ``img999``).

    Raises a one-line :class:`UserError` naming the folder when it has no image, when a name has no frame
    number or several numbers (its place in the video would be a guess), and naming both files when two
    have the same number.
    """
    images = [p for p in visible_entries(folder) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise UserError(f"{folder}: no frame images")
    first_with: dict[int, Path] = {}
    for path in images:
        number = _frame_number(path, frame_name)
        earlier = first_with.setdefault(number, path)
        if earlier is not path:
            raise UserError(f"{folder}: {earlier.name} and {path.name} both have frame number {number}")
    numbers = tuple(sorted(first_with))
    return numbers, tuple(first_with[n] for n in numbers)


def _frame_number(path: Path, frame_name: re.Pattern | None) -> int:
    if frame_name is not None:
        match = frame_name.search(path.stem)
        if match is None:
            raise UserError(f"{path.parent}: cannot read a frame number from {path.name}")
        return int(match.group(1))
    found = _NUMBER.findall(path.stem)
    if not found:
        raise UserError(f"{path.parent}: cannot read a frame number from {path.name}")
    if len(found) > 1:
        raise UserError(f"{path.parent}: {path.name} holds several numbers ({', '.join(found)}); a frame name "
                        "holds one, its frame number")
    return int(found[0])


def iter_frames(source: VideoSource) -> Iterator[tuple[str, np.ndarray | None]]:
    """Yield ``(label, image)`` for every frame of ``source`` in order.

    ``image`` is a BGR uint8 (H, W, 3) array, or ``None`` when the frame file
    cannot be read. ``label`` is the frame's path, or ``<file>#<index>`` with
    the 0-based decoded frame index for a video file. Raises ``ValueError``
    when a video file cannot be opened.
    """
    if source.video_file is None:
        for path in source.frame_paths:
            # A missing file (a SAMM numbering gap) is unreadable; checked first to keep OpenCV quiet.
            yield str(path), cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        return
    capture = open_video(source.video_file)
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                return
            if index % source.frame_step == 0:
                yield f"{source.video_file}#{index}", image
            index += 1
    finally:
        capture.release()


def count_frames(source: VideoSource) -> int:
    """Number of frames :func:`iter_frames` yields for ``source``.

    For a video file the frames are decoded-and-counted (container frame
    counts are unreliable), without converting them to images.
    """
    if source.video_file is None:
        return len(source.frame_paths)
    capture = open_video(source.video_file)
    try:
        decoded = 0
        while capture.grab():
            decoded += 1
    finally:
        capture.release()
    return -(-decoded // source.frame_step)


FINGERPRINT_BLOCK = 4096  # bytes read from each end of every source file


def source_fingerprint(source: VideoSource) -> str:
    """A short string that changes when the frames of ``source`` change (the cache key's source part).

    A SHA-1 over every source file (each frame image, or the one video file):
    its name, size and the first and last :data:`FINGERPRINT_BLOCK` bytes (the
    whole file when it is shorter than two blocks), plus the frame count or a
    video file's ``frame_step``. No modification time: a tree copied to another
    machine, or restored from an archive, matches its original. A change that
    keeps a file's size and both ends (an edit inside a large video file) goes
    unseen. Names rather than full paths, so a moved dataset stays valid; a
    file that cannot be read counts as size -1.
    """
    files = (source.video_file,) if source.video_file is not None else source.frame_paths
    digest = hashlib.sha1()
    for path in files:
        digest.update(f"{path.name}\0{_size_and_ends(path)}\n".encode("utf-8", "surrogateescape"))
    kind = f"file/{source.frame_step}" if source.video_file is not None else f"frames/{len(files)}"
    return f"{kind}:{digest.hexdigest()}"


def _size_and_ends(path: Path) -> str:
    """``<size>:<sha1 of the first and last FINGERPRINT_BLOCK bytes>``, or ``-1`` when unreadable."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            ends = handle.read(FINGERPRINT_BLOCK)
            if size > FINGERPRINT_BLOCK:
                handle.seek(max(FINGERPRINT_BLOCK, size - FINGERPRINT_BLOCK))
                ends += handle.read(FINGERPRINT_BLOCK)
    except OSError:
        return "-1"
    return f"{size}:{hashlib.sha1(ends).hexdigest()}"


class UnopenableVideo(UserError):
    """A video file OpenCV cannot open: the same file always fails the same way (the failure is cached)."""


def open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise UnopenableVideo(f"{path}: OpenCV cannot open this video file")
    return capture


def frames_for_discovery(folder: Path, problems: list[str],
                         frame_name: re.Pattern | None = None) -> tuple[tuple[int, ...], tuple[Path, ...]]:
    """:func:`ordered_frames` while walking a raw tree: a folder that breaks the rule is one problem line
    (``...; skipped``) in ``problems`` and gives ``((), ())``, so one bad folder never stops the walk."""
    try:
        return ordered_frames(folder, frame_name)
    except UserError as error:
        problems.append(f"{error}; skipped")
        return (), ()
