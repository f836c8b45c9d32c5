"""Dataset adapters: find the videos of a raw dataset copy and read its annotations.

One module per layout (FORMATS.md, "Raw datasets as users receive them"), each with its raw-tree
discovery and its annotation reader: :mod:`.casme2` (CAS(ME)^2), :mod:`.samm` (SAMM-LV), :mod:`.casme3`
(CAS(ME)^3 part A) and :mod:`.generic` (any plain ``<subject>/<video>`` tree). What they share lives in
:mod:`.frames` (video sources, the one frame-folder rule, reading frames) and :mod:`.sheets` (spreadsheet
cells and the typed paper table). :data:`~utils.registry.RAW_LAYOUTS` (utils/registry.py) is the one
registry: the extraction CLI's ``--dataset``, the config key ``raw_layout``, ``dataset.prepare`` and spotting
read it.

An adapter module has:

* ``ANNOTATION_REQUIRED``: False when extraction without an annotation file gives an empty table;
* ``CLIPS_TO_FRAME_COUNTS``: True when ``read_annotations`` clips offsets to the videos' frame counts (so the
  extraction counts the frames of videos not cached yet);
* ``discover(raw_root) -> (videos, problems)``;
* ``read_annotations(path, videos, frame_counts, notices) -> table``: the official file as the paper's table
  (``subject,video_name,start_frame,apex_frame,end_frame,type_idx,au``), row for row the same as
  ``../shared/data/casme2_annotations.csv`` and ``samm_lv_25fps_annotations.csv``;
* ``table_names(name) -> (subject, video_name) | None``: the names the layout gives a recording whose folder
  (or file stem) is ``name``, None when ``name`` does not follow the layout (spot.py finds a recording's rows
  of the table and its fold with it).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from feature_extraction.adapters.frames import (TreeWarning, UnopenableVideo, VideoSource, count_frames, iter_frames,
                                                source_fingerprint, visible_entries)
from utils.errors import UserError
from utils.names import check_path_name
from utils.registry import RAW_LAYOUTS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RAW_LAYOUTS", "TreeWarning", "UnopenableVideo", "VideoSource", "count_frames", "discover_videos",
           "iter_frames", "load_annotations", "recording_table_names", "source_fingerprint"]


def discover_videos(dataset: str, raw_root: Path) -> tuple[list[VideoSource], list[str]]:
    """All videos under ``raw_root`` and one-line problems about what was skipped.

    Returns ``(videos sorted by (subject, video_name), problems)``. A video
    folder without frames, with frame names that break the frame-folder rule
    (:func:`~feature_extraction.adapters.frames.ordered_frames`), with an
    unknown CAS(ME)^2 code, or a name that fits no layout is skipped and
    reported; so is a second video with an already-seen ``video_name``, and
    a video whose subject or video name cannot name a file (``a\\b``, see
    :func:`utils.names.check_path_name`): every output path is built from them.
    Raises ``FileNotFoundError`` when ``raw_root`` does not exist and
    ``ValueError`` when it is empty, not a folder, or holds no video at all.
    """
    adapter = RAW_LAYOUTS[dataset]
    raw_root = Path(raw_root)
    if not raw_root.exists():
        raise FileNotFoundError(f"{raw_root}: raw dataset folder not found")
    if not raw_root.is_dir():
        raise UserError(f"{raw_root}: not a folder")
    if not visible_entries(raw_root):
        raise UserError(f"{raw_root}: raw dataset folder is empty")
    found, problems = adapter.discover(raw_root)
    videos, duplicates = _drop_duplicate_names(_drop_unusable_names(found, problems))
    problems += duplicates
    if not videos:
        detail = f" ({problems[0]}{' ...' if len(problems) > 1 else ''})" if problems else ""
        raise UserError(f"{raw_root}: no {dataset} videos found{detail}")
    return sorted(videos, key=lambda v: (v.subject, v.video_name)), problems


def _drop_unusable_names(videos: list[VideoSource], problems: list[str]) -> list[VideoSource]:
    """The videos whose subject and video name are plain file names; a problem line for each other one."""
    usable = []
    for video in videos:
        try:
            check_path_name(video.subject, video.source_path, "subject name")
            check_path_name(video.video_name, video.source_path, "video name")
        except UserError as error:
            problems.append(f"{error}; skipped")
            continue
        usable.append(video)
    return usable


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


def load_annotations(dataset: str, anno_path: Path | None, videos: list[VideoSource],
                     frame_counts: dict[str, int] | None = None, notices: list[str] | None = None) -> pd.DataFrame:
    """The paper's annotation table for ``dataset``, one row per expression.

    Columns ``subject, video_name, start_frame, apex_frame, end_frame,
    type_idx, au`` (frames int64, in the frame rate the features use; 0 = not
    annotated, SAMM apex -1 = not annotated), in the source file's row order.

    Each adapter's ``read_annotations`` says how its file is read; a
    dataset whose adapter has ``ANNOTATION_REQUIRED = False`` (generic)
    gives an empty table for ``anno_path=None``. One-line notices about what
    was read but converted (SAMM fractional frame numbers) are appended to
    ``notices`` when given.

    Every row's subject must agree with the subject of the discovered video
    of the same name. Raises ``ValueError`` naming the file and the problem
    when the file is unreadable or does not fit.
    """
    # Imported here, not above: the frame reading that spotting's extraction helper imports through this
    # package then needs no pandas, and the helper starts extracting 0.25 s sooner (model/spotting/helper.py).
    from feature_extraction.adapters.sheets import annotation_frame, check_subjects
    from utils.annotations import read_annotation_table

    adapter = RAW_LAYOUTS[dataset]
    if anno_path is None:
        if adapter.ANNOTATION_REQUIRED:
            raise UserError(f"{dataset}: an annotation file is required")
        return annotation_frame([])
    anno_path = Path(anno_path)
    if not anno_path.is_file():
        raise UserError(f"{anno_path}: annotation file not found")
    if anno_path.suffix.lower() == ".eaf":  # a recording corrected in ELAN (utils/elan.py), for any layout
        table = read_annotation_table(anno_path)
    else:
        table = adapter.read_annotations(anno_path, videos, frame_counts, notices if notices is not None else [])
    check_subjects(anno_path, table, videos)
    return table


def recording_table_names(name: str) -> list[tuple[str, str]]:
    """``(subject, video_name)`` of the paper's table for a recording whose folder (or file stem) is ``name``, one
    pair per layout whose naming ``name`` follows (``15_0101disgustingteeth`` -> ``casme_015_0101``)."""
    return [names for _, adapter in RAW_LAYOUTS.items() if (names := adapter.table_names(name)) is not None]
