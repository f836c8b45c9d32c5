"""The review outputs of one spotted input, from what the spot step already has: ``spots.eaf`` always, and unless
``--no-report`` a browser-playable ``preview.webm`` and ``report.html`` (utils/review/spot_page.py), with the
input's ground truth from ``--anno`` when it is one of the table's videos.

Ground truth is matched in the model's frames (the annotation table's, the dataset rate: as evaluation matches)
and shown in the input's numbering and seconds through the spot step's own frame mapping.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES
from feature_extraction.recording import Recording, iter_source, lost_stretches, map_frames
from model.spotting import stitched
from utils.errors import UserError
from utils.matching import true_positive_flags
from utils.review.flags import truth_found_flags
from utils.review.spot_page import SpotReview, write_spot_page

_CASME2_FOLDER = re.compile(r"^(\d+)_(\d{4})")  # rawpic/s15/15_0101disgustingteeth -> casme_015_0101
_SAMM_FOLDER = re.compile(r"^(\d{3})_(\d+)$")   # SAMM_longvideos/006_1 -> samm_006_1


@dataclass(frozen=True)
class SpotOutcome:
    """What the spot step has of one input, in its own terms (model/spotting.py): ``kept`` is the NMS table in
    the model's 1-based frames with ``apex_frame``; ``table`` the ``spots.csv`` table; ``lost_frames`` and
    ``unreadable`` bool (J,) per resampled frame; ``indices`` (J,) their source frame indices."""

    recording: Recording
    indices: np.ndarray
    scores: object  # model.scoring.Scores of ``windows``
    windows: object  # dataset.segments.WindowSet
    kept: pd.DataFrame
    table: pd.DataFrame
    lost_frames: np.ndarray
    unreadable: np.ndarray


def table_video_names(path: Path) -> list[str]:
    """Names the dataset layouts give the recording at ``path``: its own, CAS(ME)^2's and SAMM-LV's."""
    name = path.name if path.is_dir() else path.stem
    names = [name]
    casme = _CASME2_FOLDER.match(name)
    if casme:
        names.append(f"casme_{int(casme.group(1)):03d}_{casme.group(2)}")
    samm = _SAMM_FOLDER.match(name)
    if samm:
        names.append(f"samm_{name}")
    return names


@lru_cache(maxsize=4)
def _annotations(path: str, fps: float) -> pd.DataFrame:
    from utils.annotations import read_annotation_table

    return read_annotation_table(path, fps=fps)


def input_truth(anno: Path, recording: Recording, model_fps: float) -> tuple[pd.DataFrame | None, str | None]:
    """``(the input's rows of the annotation table or EAF, None)`` or ``(None, one-line notice)``."""
    table = _annotations(str(anno), float(model_fps))
    names = table_video_names(Path(recording.path))
    rows = table[table["video_name"].isin(names)].reset_index(drop=True)
    if rows.empty:
        return None, f"{anno}: no ground truth for {recording.path} (looked for video {', '.join(names)})"
    return rows, None


def truth_lane(rows: pd.DataFrame, outcome: SpotOutcome, rule: str) -> tuple[pd.DataFrame, np.ndarray]:
    """``(truth in the input's numbering with 'matched', per spots.csv row: matched)`` under ``rule``."""
    name = outcome.recording.name
    truth = rows.assign(video_name=name, end_frame=np.maximum(rows["end_frame"], 0))
    kept = outcome.kept.assign(video_name=name)
    found = truth_found_flags(kept, truth, rule)
    onset, onset_s = map_frames(np.maximum(truth["start_frame"], 1), outcome.indices, outcome.recording)
    offset, offset_s = map_frames(np.maximum(truth["end_frame"], truth["start_frame"]), outcome.indices,
                                  outcome.recording)
    apex, _ = map_frames(np.maximum(truth["apex_frame"], 1), outcome.indices, outcome.recording)
    lane = pd.DataFrame({"type": truth["type_idx"].map(EXPRESSION_TYPES).to_numpy(), "onset_frame": onset, "apex_frame": apex,
                         "offset_frame": offset, "onset_s": onset_s, "offset_s": offset_s, "matched": found})
    if outcome.table.empty:
        return lane, np.zeros(0, dtype=bool)
    hits = kept.assign(matched=true_positive_flags(kept, truth, rule))
    mapped = pd.DataFrame({"type": hits["type_idx"].map(EXPRESSION_TYPES).to_numpy(),
                           "onset_frame": map_frames(hits["start_frame"], outcome.indices, outcome.recording)[0],
                           "offset_frame": map_frames(hits["end_frame"], outcome.indices, outcome.recording)[0],
                           "matched": hits["matched"].to_numpy()})
    # spots.csv is the kept table mapped and re-sorted: join back on the interval (NMS keeps no two equal ones).
    joined = outcome.table.merge(mapped.drop_duplicates(["type", "onset_frame", "offset_frame"]),
                                 on=["type", "onset_frame", "offset_frame"], how="left")
    return lane, joined["matched"].fillna(False).to_numpy(dtype=bool)


def review_of(outcome: SpotOutcome, config, truth: pd.DataFrame | None, spot_matched, video: str | None,
              notes: list[str]) -> SpotReview:
    """The spot page's data: tracks per feature row (row r starts at resampled frame r), in the input's seconds."""
    recording, indices = outcome.recording, outcome.indices
    n_rows = len(indices) - 1
    tracks = {kind: {EXPRESSION_TYPES[t]: track[:n_rows] for t, track in stitched(values, outcome.windows).items()}
              for kind, values in (("start", outcome.scores.start), ("apex", outcome.scores.apex),
                                   ("end", outcome.scores.end))}
    lost_only = outcome.lost_frames & ~outcome.unreadable
    return SpotReview(
        name=recording.name, input_path=str(recording.path), fps=recording.source_fps,
        duration=recording.n_frames / recording.source_fps, times=indices[:n_rows] / recording.source_fps,
        start=tracks["start"], apex=tracks["apex"], end=tracks["end"],
        thresholds={name: float(config[f"{name}_apex_score_threshold"]) for name in EXPRESSION_TYPES.values()},
        spots=outcome.table, lost=lost_stretches(lost_only, indices, recording),
        unreadable=lost_stretches(outcome.unreadable, indices, recording), spot_matched=spot_matched,
        truth=truth, video=video, notes=notes, matching=config["matching"])


def write_review(folder: Path, outcome: SpotOutcome, config, anno: Path | None = None,
                 report: bool = True, preview=None) -> list[Path]:
    """``spots.eaf``, and with ``report`` ``preview.webm`` and ``report.html``, under ``folder``; returns what was
    written. A problem with ``anno`` or the preview is printed as one line naming the file; the rest is written.
    ``preview``: the preview spotting wrote while it extracted the features (model.spot_extract.Preview), moved
    into ``folder``; None: written here from the recording."""
    from feature_extraction.preview import write_preview
    from utils.elan import write_spots_eaf

    recording = outcome.recording
    written = [write_spots_eaf(folder / "spots.eaf", outcome.table, Path(recording.path), recording.source_fps)]
    if not report:
        return written
    notes, truth, spot_matched, video = [], None, None, None
    if anno is not None:
        try:
            rows, notice = input_truth(Path(anno), recording, float(config.get("fps", recording.source_fps)))
        except UserError as error:
            rows, notice = None, str(error)
        if notice:
            print(notice)
            notes.append(notice)
        else:
            truth, spot_matched = truth_lane(rows, outcome, config["matching"])
    try:
        if preview is None:
            written.append(write_preview(folder / "preview.webm", (image for _, image in iter_source(recording)),
                                         recording.source_fps))
        elif preview.path is None:
            raise UserError(preview.problem)
        else:
            os.replace(preview.path, folder / "preview.webm")
            written.append(folder / "preview.webm")
        video = "preview.webm"
    except UserError as error:
        print(f"{error}; report.html is written without video")
        notes.append(f"No video: {error}")
    written.append(write_spot_page(folder / "report.html",
                                   review_of(outcome, config, truth, spot_matched, video, notes)))
    return written
