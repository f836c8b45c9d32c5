"""The review outputs of one spotted input, from what the spot step already has: ``spots.eaf`` always, and unless
``--no-report`` a browser-playable ``preview.webm`` and ``report.html`` (utils/review/spot_page.py), with the
input's ground truth from ``--anno`` (read once, before any output is written) when it is one of the table's
videos.

Ground truth is matched in the model's frames (the annotation table's, the dataset rate: as evaluation matches)
and shown in the input's numbering and seconds through the spot step's own frame mapping.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.annotations import EXPRESSION_TYPES, read_annotation_table
from feature_extraction.adapters import recording_table_names
from feature_extraction.recording import Recording, iter_source, lost_stretches, map_frames
from model.settings import EvaluationSettings
from model.spotting.spots import stitched
from utils.errors import UserError
from utils.matching import true_positive_flags, truth_found_flags
from utils.review.spot_page import SpotReview, write_spot_page


@dataclass(frozen=True)
class SpotOutcome:
    """What the spot step has of one input, in its own terms (model/spotting/one_input.py): ``kept`` is the NMS table in
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


@dataclass(frozen=True)
class GroundTruth:
    """``--anno`` as read once per command, before any output is written (it may be an output of an earlier spot,
    a ``spots.eaf`` corrected in ELAN): its ``table`` in the model's frames, or the one ``problem`` line."""

    path: Path
    table: pd.DataFrame | None
    problem: str | None = None


def read_ground_truth(anno: Path | None, model_fps: float) -> GroundTruth | None:
    """``anno`` read at ``model_fps`` (an EAF's times become the model's frames; a table is in them already);
    None without ``anno``. A file that cannot be read is a GroundTruth with its problem, printed here once."""
    if anno is None:
        return None
    try:
        return GroundTruth(Path(anno), read_annotation_table(anno, fps=model_fps))
    except UserError as error:
        print(error)
        return GroundTruth(Path(anno), None, str(error))


def table_video_names(name: str) -> list[str]:
    """Names the dataset layouts give a recording named ``name``: its own, then each layout's (CAS(ME)^2's,
    SAMM-LV's: feature_extraction.adapters.recording_table_names)."""
    return [name, *(video for _, video in recording_table_names(name))]


def input_truth(truth: GroundTruth, recording: Recording) -> tuple[pd.DataFrame | None, str | None]:
    """``(the recording's rows of the ground truth, None)`` or ``(None, one-line notice)``."""
    if truth.table is None:
        return None, truth.problem
    names = table_video_names(recording.name)
    rows = truth.table[truth.table["video_name"].isin(names)].reset_index(drop=True)
    if rows.empty:
        return None, f"{truth.path}: no ground truth for {recording.path} (looked for video {', '.join(names)})"
    return rows, None


def frame_seconds(numbers, recording: Recording) -> np.ndarray:
    """The input's own frame numbers (those of spots.csv) -> their start in the input's seconds."""
    return np.searchsorted(np.asarray(recording.numbers), np.asarray(numbers, dtype=np.int64)) / recording.source_fps


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


def review_of(outcome: SpotOutcome, settings: EvaluationSettings, spots: pd.DataFrame, truth: pd.DataFrame | None, spot_matched,
              video: str | None, notes: list[str]) -> SpotReview:
    """The spot page's data: tracks per feature row (row r starts at resampled frame r), in the input's seconds;
    ``spots``: the spots.csv table with ``apex_s``."""
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
        thresholds={name: settings.proposals[t].apex_threshold for t, name in EXPRESSION_TYPES.items()},
        spots=spots, lost=lost_stretches(lost_only, indices, recording),
        unreadable=lost_stretches(outcome.unreadable, indices, recording), spot_matched=spot_matched,
        truth=truth, video=video, notes=notes, matching=settings.matching)


def write_review(folder: Path, outcome: SpotOutcome, settings: EvaluationSettings, truth: GroundTruth | None = None,
                 report: bool = True, shown: Path | None = None, preview=None) -> list[Path]:
    """``spots.eaf``, and with ``report`` ``preview.webm`` and ``report.html``, under ``folder``; returns what was
    written. ``truth``: ``--anno`` as read before any output was written. A problem with it or the preview is one
    printed line naming the file, as it will be found: under ``shown`` (default ``folder``), where ``folder`` is
    the staging folder of the input's output set; the rest is written. ``preview``: the preview spotting wrote
    while it extracted the features (model.spotting.extract.Preview), moved into ``folder``; None: written here from
    the recording."""
    from feature_extraction.preview import write_preview
    from utils.elan import write_spots_eaf

    recording = outcome.recording
    spots = outcome.table.assign(apex_s=frame_seconds(outcome.table["apex_frame"], recording))
    written = [write_spots_eaf(folder / "spots.eaf", spots, Path(recording.path), recording.name,
                               recording.source_fps)]
    if not report:
        return written
    notes, lane, spot_matched, video = [], None, None, None
    if truth is not None:
        rows, notice = input_truth(truth, recording)
        if notice:
            if truth.table is not None:  # an unreadable file was said once, when it was read
                print(notice)
            notes.append(notice)
        else:
            lane, spot_matched = truth_lane(rows, outcome, settings.matching)
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
        problem = str(error).replace(str(folder), str(shown or folder))
        print(f"{problem}; report.html is written without video")
        notes.append(f"No video: {problem}")
    written.append(write_spot_page(folder / "report.html",
                                   review_of(outcome, settings, spots, lane, spot_matched, video, notes)))
    return written
