"""The published per-video NMS cap, applied to a long recording one stretch at a time.

The evaluation keeps at most ``nms_top_K_micro`` / ``nms_top_K_macro`` intervals per video (METHOD.md 8.3), the
paper's protocol, and it stays so there. A recording of an hour is not one dataset video: capped as one, its
few intervals would all come from its best minutes. So spotting cuts the recording into stretches of about the
length of the dataset's videos, a whole number of 256-row windows, and applies the cap to each stretch as the
evaluation applies it to each video. The stretch does not depend on the recording: a stretch of a recording made
by joining dataset videos of that length is spotted as the video itself (apart from the windows next to a
join, whose context differs).

The length is the median window count of the dataset's videos, read from where the dataset's facts are
(:func:`cap_stretch`): the names of the features' test windows (``<video>_<offset>.npz``: exact), else the
annotation table (the last annotated frame of each video: a lower bound), else :data:`DEFAULT_STRETCH_WINDOWS`.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES
from utils.errors import UserError
from utils.indexing import PROPOSAL_FRAME_SHIFT, SEGMENT_LENGTH, parse_window_file_name
from utils.nms import nms

# CAS(ME)^2's median video, by its annotation table's last annotated frames (8 windows, about 68 s at 30 fps):
# the dataset the published model was trained on, for a config whose features and table are both missing.
DEFAULT_STRETCH_WINDOWS = 8


@dataclass(frozen=True)
class CapStretch:
    """A stretch of ``windows`` windows of 256 feature rows, and where that length came from."""

    windows: int
    source: str

    @property
    def rows(self) -> int:
        return self.windows * SEGMENT_LENGTH


def _median_windows(counts: list[int]) -> int:
    """The median of per-video window counts, rounded half up, at least 1."""
    return max(1, int(math.floor(float(np.median(counts)) + 0.5)))


def windows_per_video(features_root: Path) -> list[int]:
    """Window count of every video with test windows under ``<features_root>/test/<subject>/`` (file names only)."""
    counts: Counter = Counter()
    for path in Path(features_root).glob("test/*/*.npz"):
        try:
            video, _ = parse_window_file_name(path.name)
        except ValueError:
            continue
        counts[(path.parent.name, video)] += 1
    return list(counts.values())


def annotated_windows(anno_csv: Path) -> list[int]:
    """Per video of the annotation table, the windows up to its last annotated frame (a lower bound)."""
    from utils.annotations import read_annotation_table

    table = read_annotation_table(anno_csv)
    last = table.groupby("video_name")[["start_frame", "apex_frame", "end_frame"]].max().max(axis=1)
    return [max(1, math.ceil(int(frame) / SEGMENT_LENGTH)) for frame in last]


def cap_stretch(features: Path, anno: Path) -> CapStretch:
    """The stretch of the dataset whose features (segment_feat_root) and annotation table (anno_csv) these are
    (module docstring), saying where its length came from."""
    counts = windows_per_video(features)
    if counts:
        return CapStretch(_median_windows(counts), f"features: median of {len(counts)} videos under {features}/test")
    if anno.is_file():
        try:
            counts = annotated_windows(anno)
        except UserError:
            counts = []
        if counts:
            return CapStretch(_median_windows(counts), f"annotation table: median of the last annotated frames "
                                                       f"of {len(counts)} videos in {anno} (a lower bound)")
    return CapStretch(DEFAULT_STRETCH_WINDOWS, "default: CAS(ME)^2's median video (neither the dataset's "
                                               "features nor its annotation table were found)")


def capped_nms(proposals: pd.DataFrame, top_k: dict[int, int],
               stretch: CapStretch | None) -> tuple[pd.DataFrame, dict[int, int]]:
    """The published NMS (utils/nms.py) with ``top_k`` per stretch and type (``stretch`` None: per video, as the
    evaluation), and per type how many more intervals NMS would have kept without the cap.

    ``proposals`` hold one recording's (or video's) proposals with 1-based frames; the result keeps their
    ``video_name``. Greedy NMS keeps intervals in score order, so the capped result is the first ``top_k`` of
    each group of the uncapped one."""
    grouped = proposals
    if stretch is not None:
        stretch_index = (proposals["start_frame"].to_numpy(np.int64) - PROPOSAL_FRAME_SHIFT) // stretch.rows
        grouped = proposals.assign(video_name=[f"{name}#{index}" for name, index in
                                               zip(proposals["video_name"], stretch_index)])
    kept = nms(grouped, top_k)
    uncapped = nms(grouped, {t: len(grouped) for t in top_k})
    dropped = {t: int((uncapped["type_idx"] == t).sum() - (kept["type_idx"] == t).sum()) for t in EXPRESSION_TYPES}
    names = dict(zip(grouped["video_name"], proposals["video_name"]))
    return kept.assign(video_name=kept["video_name"].map(names)), dropped
