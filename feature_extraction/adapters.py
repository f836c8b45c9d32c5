"""Dataset adapters: find the videos of a raw dataset copy and read its annotations.

Three layouts are understood (FORMATS.md, "Raw datasets as users receive them"):

* ``cas(me)^2``: ``rawpic/s<SS>/<SS>_<CCCC><name>/img<N>.jpg`` (30 fps). The
  folder's own ``SS_`` prefix names the subject, so the misplaced
  ``rawpic/s19/23_0502funnyerrors`` is ``casme_023_0502``.
* ``samm``: ``SAMM_longvideos/<SSS>_<V>/<SSS>_<V>_<NNNN>.jpg`` (200 fps), used
  at 25 fps: 25-fps frame i is the file numbered 8i+1 (the number, not the
  file's position, so rows stay aligned with the annotations' ``(f-1)//8``).
  A folder whose numbering has gaps or does not start at 1 is reported; a
  missing 8i+1 file stands in the list under the name it would have and reads
  as an unreadable frame (the previous frame repeated).
* ``cas(me)^3`` (part A, 30 fps): ``<root>/spNO.<n>/<letter>/color/<N>.jpg``,
  subject ``spNO.<n>``, video ``spNO.<n>_<letter, lower case>`` (letters on
  disk and in the sheet are matched case-insensitively).
* ``generic``: ``<root>/<subject>/<video>/`` image frames, or
  ``<root>/<subject>/<video>.<ext>`` video files read with OpenCV.

Frames are always ordered by the integer in their name, never as text
(``img1000`` comes after ``img999``).

The annotation readers turn the official spreadsheets into the paper's table
(``subject,video_name,start_frame,apex_frame,end_frame,type_idx,au``), row for
row the same as ``../shared/data/casme2_annotations.csv`` and
``samm_lv_25fps_annotations.csv``; CAS(ME)^3 frames are kept as the sheet has
them (1-based, 30 fps).
"""
from __future__ import annotations

import hashlib
import math
import numbers
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from utils.annotations import ANNOTATION_COLUMNS, FRAME_COLUMNS, read_annotation_table, with_name_columns
from utils.errors import UserError

DATASETS = ("cas(me)^2", "samm", "cas(me)^3", "generic")

MACRO, MICRO = 1, 2

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"})

# CAS(ME)^2 stimulus codes and the folder suffix each carries on disk (FORMATS.md).
CASME2_CODES = {
    "0101": "disgustingteeth", "0102": "eatingworms", "0401": "girlcrashing",
    "0402": "beatingpregnantwoman", "0502": "funnyerrors", "0503": "unnyfarting",
    "0505": "funnyinnovations", "0507": "climbingthewall", "0508": "funnydunkey",
}
SAMM_FRAME_STEP = 8  # 200 fps -> 25 fps

_CASME2_SUBJECT_DIR = re.compile(r"^s(\d+)$")
_CASME2_VIDEO_DIR = re.compile(r"^(\d+)_(\d{4})(.*)$")
_CASME2_FRAME = re.compile(r"^img(\d+)$", re.IGNORECASE)
_SAMM_VIDEO_DIR = re.compile(r"^(\d+)_(\d+)$")
_SAMM_FRAME = re.compile(r"_(\d+)$")
_CASME3_SUBJECT = re.compile(r"^\s*spNO\.(\d+)\s*$", re.IGNORECASE)
_CASME3_VIDEO_DIR = re.compile(r"^[A-Za-z]+$")
_WHOLE_NUMBER = re.compile(r"^(\d+)$")
_LAST_INTEGER = re.compile(r"(\d+)(?!.*\d)")


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


# --------------------------------------------------------------------------- discovery


class TreeWarning(str):
    """A raw-tree problem that was handled (a stray entry left alone, irregular numbering extracted anyway).

    Still a one-line ``str``; the extraction lists it as a warning, a failure only under ``--strict``.
    Any other problem line is a video that was not extracted.
    """



def discover_videos(dataset: str, raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    """All videos under ``raw_root`` and one-line problems about what was skipped.

    Returns ``(videos sorted by (subject, video_name), problems)``. A video
    folder without frames, with frame names that carry no frame number, with
    an unknown CAS(ME)^2 code, or a name that fits no layout is skipped and
    reported; so is a second video with an already-seen ``video_name``.
    Raises ``FileNotFoundError`` when ``raw_root`` does not exist and
    ``ValueError`` when it is empty, not a folder, or holds no video at all.
    """
    _check_dataset(dataset)
    raw_root = Path(raw_root)
    if not raw_root.exists():
        raise FileNotFoundError(f"{raw_root}: raw dataset folder not found")
    if not raw_root.is_dir():
        raise UserError(f"{raw_root}: not a folder")
    if not _visible_entries(raw_root):
        raise UserError(f"{raw_root}: raw dataset folder is empty")
    finder = {"cas(me)^2": _discover_casme2, "samm": _discover_samm, "cas(me)^3": _discover_casme3,
              "generic": _discover_generic}[dataset]
    found, problems = finder(raw_root)
    videos, duplicates = _drop_duplicate_names(found)
    problems += duplicates
    if not videos:
        detail = f" ({problems[0]}{' ...' if len(problems) > 1 else ''})" if problems else ""
        raise UserError(f"{raw_root}: no {dataset} videos found{detail}")
    return sorted(videos, key=lambda v: (v.subject, v.video_name)), problems


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")


def _visible_entries(folder: Path) -> list[Path]:
    """Entries of ``folder`` sorted by name, without hidden ones (``.DS_Store``...)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _drop_duplicate_names(videos: list[VideoSource]) -> tuple[list[VideoSource], list[str]]:
    """Keep the first video of each name (in discovery order); report the others."""
    kept: dict[str, VideoSource] = {}
    problems = []
    for video in videos:
        first = kept.setdefault(video.video_name, video)
        if first is not video:
            problems.append(f"{video.source_path}: video {video.video_name} already found at "
                            f"{first.source_path}; skipped")
    return list(kept.values()), problems


def _ordered_frames(folder: Path, frame_number: re.Pattern) -> tuple[tuple[int, ...], tuple[Path, ...], str | None]:
    """Image files of ``folder`` ordered by the frame number ``frame_number`` finds in the stem.

    Files that are not images are ignored. Returns ``(numbers, paths, None)``
    or ``((), (), problem)`` when the folder has no image or an image name
    carries no frame number (its place in the video would be a guess).
    """
    images = [p for p in _visible_entries(folder) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        return (), (), f"{folder}: no frame images; skipped"
    keyed = []
    for path in images:
        match = frame_number.search(path.stem)
        if match is None:
            return (), (), f"{folder}: cannot read a frame number from {path.name}; skipped"
        keyed.append((int(match.group(1)), path.name, path))
    keyed.sort(key=lambda item: item[:2])
    return tuple(item[0] for item in keyed), tuple(item[2] for item in keyed), None


def _casme2_root(raw_root: Path) -> Path:
    """``raw_root/rawpic`` when present, else ``raw_root`` itself (it may be rawpic)."""
    return raw_root / "rawpic" if (raw_root / "rawpic").is_dir() else raw_root


def _discover_casme2(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    for subject_dir in _visible_entries(_casme2_root(raw_root)):
        if not (subject_dir.is_dir() and _CASME2_SUBJECT_DIR.match(subject_dir.name)):
            problems.append(TreeWarning(f"{subject_dir}: not a CAS(ME)^2 subject folder s<SS>; skipped"))
            continue
        for video_dir in _visible_entries(subject_dir):
            match = _CASME2_VIDEO_DIR.match(video_dir.name)
            if not video_dir.is_dir() or match is None:
                problems.append(TreeWarning(f"{video_dir}: not a CAS(ME)^2 video folder <SS>_<CCCC><name>; skipped"))
                continue
            if match.group(2) not in CASME2_CODES:
                problems.append(f"{video_dir}: unknown CAS(ME)^2 code {match.group(2)}; skipped")
                continue
            _, frames, problem = _ordered_frames(video_dir, _CASME2_FRAME)
            if problem:
                problems.append(problem)
                continue
            # The folder's own SS_ prefix names the subject (s19/23_0502... is subject 23).
            subject = f"casme_{int(match.group(1)):03d}"
            videos.append(VideoSource(subject, f"{subject}_{match.group(2)}", frames))
    return videos, problems


def _discover_samm(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    root = raw_root / "SAMM_longvideos" if (raw_root / "SAMM_longvideos").is_dir() else raw_root
    for video_dir in _visible_entries(root):
        match = _SAMM_VIDEO_DIR.match(video_dir.name)
        if not video_dir.is_dir() or match is None:
            problems.append(TreeWarning(f"{video_dir}: not a SAMM-LV video folder <SSS>_<V>; skipped"))
            continue
        numbers, frames, problem = _ordered_frames(video_dir, _SAMM_FRAME)
        if not problem:
            frames, problem = _samm_25fps_frames(video_dir, numbers, frames)
        if problem:
            problems.append(problem)
        if frames:
            videos.append(VideoSource(f"samm_{match.group(1)}", f"samm_{video_dir.name}", frames))
    return videos, problems


def _samm_25fps_frames(video_dir: Path, numbers: tuple[int, ...],
                       paths: tuple[Path, ...]) -> tuple[tuple[Path, ...], str | None]:
    """The 25-fps frames of a SAMM-LV folder and a problem line about its numbering (or None).

    25-fps frame i is the file numbered 8i+1 (``numbers[j]`` belongs to
    ``paths[j]``), for i = 0 .. (last number - 1) // 8. A missing 8i+1 file
    keeps its place under the name it would have (``<folder>_<8i+1:04d>``),
    so :func:`iter_frames` reads it as unreadable and every later row stays
    at its annotation frame. Numbering with gaps, duplicates or a first
    number other than 1 is reported, naming the folder; no 8i+1 number at
    all gives ``((), problem)`` (skipped).
    """
    by_number: dict[int, Path] = {}
    for number, path in zip(numbers, paths):
        by_number.setdefault(number, path)  # a duplicate number keeps the first file in name order
    wanted = range(1, numbers[-1] + 1, SAMM_FRAME_STEP)
    if not wanted:
        return (), f"{video_dir}: no frame numbered 1 or more; skipped"
    suffix = paths[0].suffix
    frames = tuple(by_number.get(n, video_dir / f"{video_dir.name}_{n:04d}{suffix}") for n in wanted)
    if numbers == tuple(range(1, len(numbers) + 1)):
        return frames, None
    absent = sum(n not in by_number for n in wanted)
    return frames, TreeWarning(f"{video_dir}: frame numbers are not 1..N without gaps ({len(numbers)} files "
                               f"numbered {numbers[0]}..{numbers[-1]}); extracted with 25-fps frame i = file "
                               f"number 8i+1, {absent} of those {len(wanted)} files missing (read as unreadable "
                               "frames)")


def _discover_casme3(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    for subject_dir in _visible_entries(raw_root):
        match = _CASME3_SUBJECT.match(subject_dir.name)
        if not (subject_dir.is_dir() and match):
            problems.append(TreeWarning(f"{subject_dir}: not a CAS(ME)^3 subject folder spNO.<n>; skipped"))
            continue
        subject = f"spNO.{int(match.group(1))}"
        for video_dir in _visible_entries(subject_dir):
            if not (video_dir.is_dir() and _CASME3_VIDEO_DIR.match(video_dir.name)):
                problems.append(TreeWarning(f"{video_dir}: not a CAS(ME)^3 video folder <letter>; skipped"))
                continue
            color = next((d for d in _visible_entries(video_dir) if d.is_dir() and d.name.lower() == "color"), None)
            if color is None:
                problems.append(f"{video_dir}: no color/ folder of frames; skipped")
                continue
            _, frames, problem = _ordered_frames(color, _WHOLE_NUMBER)
            if problem:
                problems.append(problem)
                continue
            videos.append(VideoSource(subject, f"{subject}_{video_dir.name.lower()}", frames))
    return videos, problems


def _discover_generic(raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    videos, problems = [], []
    for subject_dir in _visible_entries(raw_root):
        if not subject_dir.is_dir():
            problems.append(TreeWarning(f"{subject_dir}: not a subject folder; skipped"))
            continue
        for entry in _visible_entries(subject_dir):
            if entry.is_dir():
                _, frames, problem = _ordered_frames(entry, _LAST_INTEGER)
                if problem:
                    problems.append(problem)
                    continue
                videos.append(VideoSource(subject_dir.name, entry.name, frames))
            elif entry.suffix.lower() in VIDEO_SUFFIXES:
                videos.append(VideoSource(subject_dir.name, entry.stem, video_file=entry))
            else:
                problems.append(TreeWarning(f"{entry}: neither a frame folder nor a video file "
                                            f"({', '.join(sorted(VIDEO_SUFFIXES))}); skipped"))
    return videos, problems


# --------------------------------------------------------------------------- frames


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
    capture = _open_video(source.video_file)
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
    capture = _open_video(source.video_file)
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


def _open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise UnopenableVideo(f"{path}: OpenCV cannot open this video file")
    return capture


# --------------------------------------------------------------------------- annotations


def load_annotations(dataset: str, anno_path: Path | None, videos: list[VideoSource],
                     frame_counts: dict[str, int] | None = None, notices: list[str] | None = None) -> pd.DataFrame:
    """The paper's annotation table for ``dataset``, one row per expression.

    Columns ``subject, video_name, start_frame, apex_frame, end_frame,
    type_idx, au`` (frames int64, in the frame rate the features use; 0 = not
    annotated, SAMM apex -1 = not annotated), in the source file's row order.

    * ``cas(me)^2``: the official xlsx (sheet 0 data, sheet 1 participant ->
      folder, sheet 2 clip name -> code; sheets opened by index).
    * ``samm``: the official xlsx, frames f -> ``(f-1)//8`` with 0 and -1
      kept; an offset past the video is clipped to the video's last 25-fps
      frame index ``count-1``. ``frame_counts`` maps video_name to its 25-fps
      frame count; without it the counts of ``videos`` are used (a video
      known to neither is not clipped).
    * ``cas(me)^3``: the part A ``.xls`` (sheet ``AU+Emotion``, opened by
      name), frames as written (text cells read as integers).
    * ``generic``: an optional CSV already in the paper's format; ``None``
      gives an empty table.

    One-line notices about what was read but converted (SAMM fractional
    frame numbers) are appended to ``notices`` when given.

    Every row's subject must agree with the subject of the discovered video
    of the same name. Raises ``ValueError`` naming the file and the problem
    when the file is unreadable or does not fit.
    """
    _check_dataset(dataset)
    if anno_path is None:
        if dataset != "generic":
            raise UserError(f"{dataset}: an annotation file is required")
        return _annotation_frame([])
    anno_path = Path(anno_path)
    if not anno_path.is_file():
        raise UserError(f"{anno_path}: annotation file not found")
    if dataset == "cas(me)^2":
        table = _casme2_annotations(anno_path)
    elif dataset == "cas(me)^3":
        table = _casme3_annotations(anno_path)
    elif dataset == "samm":
        if frame_counts is None:
            frame_counts = {video.video_name: count_frames(video) for video in videos}
        table = _samm_annotations(anno_path, frame_counts, notices if notices is not None else [])
    elif anno_path.suffix.lower() == ".eaf":  # a recording corrected in ELAN: utils/elan.py
        table = read_annotation_table(anno_path)
    else:
        table = _generic_annotations(anno_path)
    _check_subjects(anno_path, table, videos)
    return table


def _annotation_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (subject, video_name, start, apex, end, type_idx, au) -> the typed table."""
    return _typed(pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS)))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's columns in order: frames and type_idx int64, the others str."""
    table = table.loc[:, list(ANNOTATION_COLUMNS)].copy()
    for column in (*FRAME_COLUMNS, "type_idx"):
        table[column] = table[column].astype("int64")
    table["au"] = table["au"].astype("str")
    return with_name_columns(table)


def _check_subjects(path: Path, table: pd.DataFrame, videos: list[VideoSource]) -> None:
    """A row naming a discovered video must name that video's subject too."""
    known = pd.Series({video.video_name: video.subject for video in videos}, dtype="str")
    expected = table["video_name"].map(known)
    wrong = expected.notna() & (expected != table["subject"])
    if wrong.any():
        row = int(np.flatnonzero(wrong.to_numpy())[0])
        raise UserError(f"{path}: puts video {table['video_name'].iat[row]} in subject "
                         f"{table['subject'].iat[row]}, but its frames are in subject {expected.iat[row]}")


def _read_sheets(path: Path) -> list[pd.DataFrame]:
    """All sheets of a spreadsheet, by index, no header, cells as Python objects."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as error:  # openpyxl raises many types for a bad file
        raise UserError(f"{path}: cannot read as a spreadsheet ({type(error).__name__}: {error})") from None
    return list(sheets.values())


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


def _as_int(value) -> int | None:
    """An integer cell (int, integral float, or digit text) as int; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _as_text(value) -> str:
    """A cell as the text a person sees: 12 -> '12', blank -> '', strings unchanged."""
    if _is_blank(value) and not isinstance(value, str):
        return ""
    number = None if isinstance(value, str) else _as_int(value)
    return str(number) if number is not None else str(value)


def _frame_cell(path: Path, row: int, column: str, value) -> int:
    number = _as_int(value)
    if number is None:
        shown = "(empty)" if _is_blank(value) else repr(value)
        raise UserError(f"{path}: row {row + 1}: {column} {shown} is not a whole frame number")
    return number


def _drop_blank_rows(sheet: pd.DataFrame) -> pd.DataFrame:
    blank = sheet.map(_is_blank).all(axis=1)
    return sheet.loc[~blank]


def _casme2_annotations(path: Path) -> pd.DataFrame:
    sheets = _read_sheets(path)
    if len(sheets) < 3:
        raise UserError(f"{path}: expected 3 sheets (expressions, naming rule1, naming rule2), found {len(sheets)}")
    folders = _casme2_participant_folders(path, sheets[1])
    codes = _casme2_clip_codes(path, sheets[2])
    data = _drop_blank_rows(sheets[0])
    if data.shape[1] < 9:
        raise UserError(f"{path}: sheet 0 has {data.shape[1]} columns, expected 9 "
                         "(participant, clip, onset, apex, offset, AU, emotion, type, self-report)")
    types = {"macro-expression": MACRO, "micro-expression": MICRO}
    rows = []
    for row, cells in zip(data.index, data.itertuples(index=False)):
        participant, clip, onset, apex, offset, au, _, kind = cells[:8]
        folder = folders.get(_as_int(participant))
        if folder is None:
            raise UserError(f"{path}: sheet 0 row {row + 1}: participant {participant!r} is not in sheet 1")
        clip_name = _as_text(clip).strip().split("_")[0]
        code = codes.get(clip_name.lower())
        if code is None:
            raise UserError(f"{path}: sheet 0 row {row + 1}: clip {clip!r} has no code in sheet 2")
        type_idx = types.get(_as_text(kind).strip().lower())
        if type_idx is None:
            raise UserError(f"{path}: sheet 0 row {row + 1}: type {kind!r} is neither "
                             "macro-expression nor micro-expression")
        subject = f"casme_{folder:03d}"
        frames = [_frame_cell(path, row, name, value)
                  for name, value in zip(("onset", "apex", "offset"), (onset, apex, offset))]
        rows.append((subject, f"{subject}_{code}", *frames, type_idx, _as_text(au)))
    return _annotation_frame(rows)


def _casme2_participant_folders(path: Path, sheet: pd.DataFrame) -> dict[int, int]:
    """Sheet 1 (naming rule1): folder number, folder name, participant -> {participant: folder}.

    Rows whose cells do not fit (a header row) are ignored.
    """
    folders = {}
    for cells in sheet.itertuples(index=False):
        if len(cells) < 3:
            break
        folder, participant = _as_int(cells[0]), _as_int(cells[2])
        if folder is not None and participant is not None:
            folders[participant] = folder
    if not folders:
        raise UserError(f"{path}: sheet 1 (naming rule1) has no rows folder number, folder name, participant")
    return folders


def _casme2_clip_codes(path: Path, sheet: pd.DataFrame) -> dict[str, str]:
    """Sheet 2 (naming rule2): code, name -> {name (lower case): 4-digit code}.

    A code stored as a number (101) is read back as text ('0101'); rows whose
    cells do not fit (a header row) are ignored.
    """
    codes = {}
    for cells in sheet.itertuples(index=False):
        if len(cells) < 2:
            break
        code, name = _as_int(cells[0]), _as_text(cells[1]).strip()
        if code is not None and name:
            codes[name.lower()] = f"{code:04d}"
    if not codes:
        raise UserError(f"{path}: sheet 2 (naming rule2) has no rows code, name")
    return codes


_SAMM_HEADER = ("Filename", "Onset", "Apex", "Offset", "Type", "Action Units")


def _samm_annotations(path: Path, frame_counts: dict[str, int], notices: list[str]) -> pd.DataFrame:
    sheet = _read_sheets(path)[0]
    header_row = _samm_header_row(sheet)
    if header_row is None:
        raise UserError(f"{path}: sheet 0 has no header row with {', '.join(_SAMM_HEADER)} in its first 30 rows")
    names = [_as_text(cell).strip().lower() for cell in sheet.iloc[header_row]]
    column = {name: names.index(name.lower()) for name in _SAMM_HEADER}
    data = _drop_blank_rows(sheet.iloc[header_row + 1:])
    rows, fractional_rows = [], 0
    for row, cells in zip(data.index, data.itertuples(index=False)):
        filename = _as_text(cells[column["Filename"]]).strip()
        parts = filename.split("_")
        if len(parts) < 2 or not all(part.isdigit() for part in parts[:2]):
            raise UserError(f"{path}: row {row + 1}: Filename {filename!r} is not <SSS>_<V>_<n>")
        kind = _as_text(cells[column["Type"]]).strip()
        if not kind:
            raise UserError(f"{path}: row {row + 1}: Type is empty")
        video_name = f"samm_{parts[0]}_{parts[1]}"
        (onset, f1), (apex, f2), (offset, f3) = (_samm_frame(path, row, name, cells[column[name]])
                                                 for name in ("Onset", "Apex", "Offset"))
        fractional_rows += f1 or f2 or f3
        count = frame_counts.get(video_name)
        if count is not None and offset > count - 1:
            offset = count - 1  # an offset past the video ends at its last 25-fps frame
        rows.append((f"samm_{parts[0]}", video_name, onset, apex, offset,
                     MACRO if kind.lower() == "macro" else MICRO, _as_text(cells[column["Action Units"]])))
    if fractional_rows:
        notices.append(f"{path}: {fractional_rows} of {len(rows)} rows have fractional frame numbers; "
                       f"converted with (f - 1) // {SAMM_FRAME_STEP} on the real value, as the paper's table")
    return _annotation_frame(rows)


def _samm_header_row(sheet: pd.DataFrame) -> int | None:
    """Index of the first row holding every column name of ``_SAMM_HEADER`` (row 9 in the releases)."""
    wanted = {name.lower() for name in _SAMM_HEADER}
    for index in range(min(len(sheet), 30)):
        cells = {_as_text(cell).strip().lower() for cell in sheet.iloc[index]}
        if wanted <= cells:
            return index
    return None


def _samm_frame(path: Path, row: int, column: str, value) -> tuple[int, bool]:
    """A 200-fps frame number f -> ``((f-1)//8, f is fractional)``; 0 and -1 (missing) kept.

    The release sheets hold fractional numbers (566.4); ``(f-1)//8`` is taken
    on the real value, as the paper's table was made (566.4 -> 70).
    """
    frame = _as_real(value)
    if frame is None:
        raise UserError(f"{path}: row {row + 1}: {column} {value!r} is not a frame number")
    if frame in (0, -1):
        return int(frame), False
    if frame < 1:
        raise UserError(f"{path}: row {row + 1}: {column} {value!r} is not a frame number (0 or -1 = missing, "
                         "else at least 1)")
    return int((frame - 1) // SAMM_FRAME_STEP), not float(frame).is_integer()


def _as_real(value) -> float | None:
    """A numeric cell (number or number text) as a finite float; anything else None."""
    if isinstance(value, bool) or _is_blank(value):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        return None
    return float(value)


_CASME3_SHEET = "AU+Emotion"
_CASME3_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type")


def _casme3_annotations(path: Path) -> pd.DataFrame:
    try:
        # calamine reads the legacy .xls (and .xlsx); pandas deprecates its xlrd engine.
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="calamine")
    except Exception as error:  # calamine raises many types for a bad file
        raise UserError(f"{path}: cannot read as a spreadsheet ({type(error).__name__}: {error})") from None
    named = {str(name).strip().lower(): sheet for name, sheet in sheets.items()}
    sheet = named.get(_CASME3_SHEET.lower())
    if sheet is None:
        raise UserError(f"{path}: no sheet {_CASME3_SHEET!r} (sheets: {', '.join(map(str, sheets))})")
    header_row = next((i for i in range(min(len(sheet), 30))
                       if {n.lower() for n in _CASME3_HEADER} <= {_as_text(c).strip().lower() for c in sheet.iloc[i]}),
                      None)
    if header_row is None:
        raise UserError(f"{path}: sheet {_CASME3_SHEET!r} has no header row with {', '.join(_CASME3_HEADER)}")
    names = [_as_text(cell).strip().lower() for cell in sheet.iloc[header_row]]
    column = {name: names.index(name.lower()) for name in _CASME3_HEADER}
    types = {"macro-expression": MACRO, "micro-expression": MICRO}
    data = _drop_blank_rows(sheet.iloc[header_row + 1:])
    rows = []
    for row, cells in zip(data.index, data.itertuples(index=False)):
        where = f"{path}: sheet {_CASME3_SHEET!r} row {row + 1}"
        subject_cell = _as_text(cells[column["Subject"]])
        match = _CASME3_SUBJECT.match(subject_cell)
        if match is None:
            raise UserError(f"{where}: Subject {subject_cell!r} is not spNO.<n>")
        letter = _as_text(cells[column["Filename"]]).strip()
        if not _CASME3_VIDEO_DIR.match(letter):
            raise UserError(f"{where}: Filename {letter!r} is not a letter")
        kind = _as_text(cells[column["Expression type"]]).strip()
        type_idx = types.get(kind.lower())
        if type_idx is None:
            raise UserError(f"{where}: Expression type {kind!r} is neither Macro-expression nor Micro-expression")
        subject = f"spNO.{int(match.group(1))}"
        frames = [_frame_cell(path, row, name, cells[column[name]]) for name in ("Onset", "Apex", "Offset")]
        rows.append((subject, f"{subject}_{letter.lower()}", *frames, type_idx, _as_text(cells[column["AU"]])))
    return _annotation_frame(rows)


def _generic_annotations(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as error:  # pandas raises several parser/decoding types
        raise UserError(f"{path}: cannot read as CSV ({type(error).__name__}: {error})") from None
    missing = [name for name in ANNOTATION_COLUMNS if name not in table.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing)} "
                         f"(expected {','.join(ANNOTATION_COLUMNS)})")
    for name in ("subject", "video_name"):
        empty = table[name].str.strip() == ""
        if empty.any():
            raise UserError(f"{path}: row {int(np.flatnonzero(empty.to_numpy())[0]) + 2}: {name} is empty")
    for name in (*FRAME_COLUMNS, "type_idx"):
        bad = ~table[name].str.fullmatch(r"\s*-?\d+\s*")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(f"{path}: row {row + 2}: {name} {table[name].iat[row]!r} is not an integer")
    table = _typed(table)
    bad_type = ~table["type_idx"].isin([0, MACRO, MICRO])
    if bad_type.any():
        row = int(np.flatnonzero(bad_type.to_numpy())[0])
        raise UserError(f"{path}: row {row + 2}: type_idx {table['type_idx'].iat[row]} is not 0, 1 or 2")
    return table
