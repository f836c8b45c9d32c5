"""One input's (or one face's) outputs, written into a staging folder and swapped in as a set
(utils/spot_outputs.py): ``spots.csv``, ``timeline.png``, the review outputs (review.py), ``annotated.webm`` when
asked, and ``spots.json`` with the run facts, the face's track and the cap's record."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from feature_extraction.recording import FaceFeatures, Recording, lost_stretches, map_frames, own_frames
from model.spotting.job import SpotJob
from model.spotting.review import SpotOutcome, write_review
from model.spotting.spots import stitched
from utils.annotations import EXPRESSION_TYPES
from utils.indexing import PROPOSAL_FRAME_SHIFT
from utils.io import atomic_write_csv, atomic_write_text
from utils.spot_outputs import EAF_DIGEST_KEY, EAF_NAME, file_digest, output_set


def spot_meta(outcome: SpotOutcome, face: FaceFeatures, faces_found: int, job: SpotJob,
              dropped: dict[int, int]) -> dict:
    """``spots.json`` without its spots: the input, the run facts, the face and the cap."""
    from feature_extraction.record import record_dict

    recording, indices = outcome.recording, outcome.indices
    return {"input": str(recording.path), "run": str(job.run), "dataset": job.config.name,
            "folds": [m.subject for m in job.models], "epochs": {m.subject: m.epoch for m in job.models},
            "extraction": record_dict(job.settings), "input_fps": recording.source_fps,
            "model_fps": job.dataset_fps, "frames": recording.n_frames,
            "face_lost_frames": len(own_frames(np.flatnonzero(face.lost_frames), indices, recording)[0]),
            "unreadable_frames": own_frames(np.flatnonzero(outcome.unreadable), indices, recording)[0],
            "faces_found": faces_found, "face": face_record(face, job.face, indices, recording),
            "cap": cap_record(job, dropped)}


def face_record(face: FaceFeatures, choice, indices: np.ndarray, recording: Recording) -> dict:
    """``spots.json``'s ``face``: which face, and its crop boxes over time (``top, bottom, left, right``, inclusive
    pixels of the input) from the input frame (and second) each was set on; ``breaks``: the frames whose flow
    from the frame before was not computed, since the box moved."""
    first = np.array([position for position, _ in face.track.changes])
    numbers, seconds = map_frames(first + PROPOSAL_FRAME_SHIFT, indices, recording)
    breaks, _ = map_frames(np.flatnonzero(face.break_rows) + 1 + PROPOSAL_FRAME_SHIFT, indices, recording)
    return {"number": face.number, "choice": choice,
            "track": [{"frame": int(n), "s": round(float(s), 4), "box": [int(v) for v in box]}
                      for n, s, (_, box) in zip(numbers, seconds, face.track.changes)],
            "breaks": [int(n) for n in breaks]}


def cap_record(job: SpotJob, dropped: dict[int, int]) -> dict:
    """``spots.json``'s ``cap``: intervals kept per stretch and type, the stretch, and what the cap left out."""
    fps = job.dataset_fps
    return {"per_stretch": {EXPRESSION_TYPES[t]: int(k) for t, k in job.spotting.evaluation.top_k.items()},
            "stretch_windows": job.stretch.windows, "stretch_model_frames": job.stretch.rows,
            "stretch_s": round(job.stretch.rows / fps, 4), "stretch_source": job.stretch.source,
            "left_out": {EXPRESSION_TYPES[t]: int(n) for t, n in dropped.items()}}


def load_plotting() -> None:
    """Import what :func:`write_outputs` draws the timeline with (matplotlib: about 0.4 s), ahead of time: spot
    does it while its helper process extracts the first input."""
    import utils.plots  # noqa: F401


def write_outputs(folder: Path, outcome: SpotOutcome, meta: dict, job: SpotJob, track, preview) -> list[Path]:
    """Every output of one input's face, written into a staging folder and swapped into ``folder`` as a set
    (:func:`utils.spot_outputs.output_set`): ``spots.csv``, ``timeline.png``, the review outputs (``preview``:
    the preview written during the extraction), ``annotated.webm`` when asked (with the face's ``track``), and
    ``spots.json`` (``meta`` and the spots) with the digest of the ``spots.eaf`` written. Returns the files as
    they lie in ``folder``."""
    from feature_extraction.recording import write_annotated_video
    from utils.plots import plot_spot_timeline

    recording, indices, table = outcome.recording, outcome.indices, outcome.table
    n_rows = len(indices) - 1
    seconds = indices[:n_rows] / recording.source_fps  # feature row r starts at resampled frame r

    def per_row(values):
        return None if values is None else {t: track[:n_rows] for t, track in stitched(values, outcome.windows).items()}

    with output_set(folder) as staging:
        written = [atomic_write_csv(staging / "spots.csv", table)]
        written.append(plot_spot_timeline(staging / "timeline.png", recording.name,
                                          recording.n_frames / recording.source_fps, seconds,
                                          per_row(outcome.scores.apex), per_row(outcome.scores.action),
                                          list(zip(table["onset_s"], table["offset_s"], table["type"])),
                                          lost_stretches(outcome.lost_frames, indices, recording)))
        written += write_review(staging, outcome, job.spotting.evaluation, job.anno, job.report, shown=folder, preview=preview)
        if job.video:
            intervals = [(row.onset_frame, row.offset_frame, f"{row.type.upper()} {row.score:.2f}")
                         for row in table.itertuples()]
            written.append(write_annotated_video(staging / "annotated.webm", recording, intervals, track, indices))
        written.append(atomic_write_text(staging / "spots.json", json.dumps(
            {**meta, EAF_DIGEST_KEY: file_digest(staging / EAF_NAME), "spots": table.to_dict(orient="records")},
            indent=2) + "\n"))
    return [folder / Path(path).name for path in written]
