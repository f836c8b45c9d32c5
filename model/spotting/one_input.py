"""One input's flow: open the recording, extract its features and preview from one decoding, then for each
chosen face score, spot and write its outputs (``--faces all``: one folder per face, and ``faces.json``)."""
from __future__ import annotations

import glob
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from feature_extraction.adapters import recording_table_names
from feature_extraction.recording import (ALL_FACES, FaceFeatures, RecordingFeatures, lost_report,
                                          own_frames, recording_name)
from model.scoring import ensemble_scores
from model.spotting.extract import ExtractRequest, Preview, preview_path
from model.spotting.job import SpotJob
from model.spotting.outputs import load_plotting, spot_meta, write_outputs
from model.spotting.progress import stage_bar, timing_line
from model.spotting.review import SpotOutcome
from model.spotting.scores import lost_rows, windows_of, zero_rows
from model.spotting.spots import cap_text, spot_windows, spots_table
from utils.annotations import EXPRESSION_TYPES
from utils.io import atomic_write_text

FACE_FOLDER = "face-{}"  # with --faces all: each face's outputs, in the input's folder
FACES_INDEX = "faces.json"  # with --faces all: the input and its face folders


def subject_of_input(path: Path, subject: str) -> bool:
    """Whether ``path`` looks like a recording of ``subject``: its name in the path, or a layout's naming of the
    recording's folder or file stem (``s15/15_0507...`` is CAS(ME)^2's ``casme_015``)."""
    if subject in str(path.resolve()):
        return True
    return any(named == subject for named, _ in recording_table_names(recording_name(path)))


def spot_one(path: Path, folder: Path, job: SpotJob) -> pd.DataFrame:
    """One input (a full path) -> its spots table, written under ``folder`` (with ``--faces all``, one folder per
    face under it, and the tables joined with a ``face`` column)."""
    started = time.perf_counter()
    request = ExtractRequest.of(path, folder, job.out, job.fps, job.dataset_fps, job.settings, job.face, job.report)
    seen = [s for s in job.folds if subject_of_input(Path(path), s)]
    if seen and len(job.models) > 1:
        print(f"note: {path} looks like a video of subject {seen[0]}: the other folds' models saw it in training; "
              f"--folds {seen[0]} is the held-out choice")
    features, preview = job.extract(request, load_plotting)
    every_face = job.face == ALL_FACES
    try:
        print(faces_line(path, features, job.face))
        tables = []
        for face in features.faces:
            target = folder / FACE_FOLDER.format(face.number) if every_face else folder
            tables.append(spot_face(target, face, features, job, own_preview(preview, face, features)))
    finally:  # a preview (or a face's copy of it) the outputs did not take
        for unused in Path(job.out).glob(glob.escape(preview_path(job.out, folder).stem) + "*.webm"):
            unused.unlink(missing_ok=True)
    recording = features.recording
    print(timing_line(path, recording.n_frames / recording.source_fps, time.perf_counter() - started))
    if not every_face:
        return tables[0]
    atomic_write_text(folder / FACES_INDEX, json.dumps(
        {"input": str(path), "faces_found": features.faces_found,
         "faces": {str(face.number): FACE_FOLDER.format(face.number) for face in features.faces}}, indent=2) + "\n")
    return pd.concat([table.assign(face=face.number) for table, face in zip(tables, features.faces)],
                     ignore_index=True)


def faces_line(path: Path, features: RecordingFeatures, choice) -> str:
    """How many faces the first frame with a face showed, and which are spotted."""
    recording = features.recording
    number = own_frames(np.array([features.first_face]), features.indices, recording)[0][0]
    found = f"{path}: {features.faces_found} face(s) on frame {number}"
    if choice == ALL_FACES:
        return f"{found}; spotting each on its own"
    (face,) = features.faces
    return f"{found}; spotting face {face.number} from the left ({choice}; --face or --faces all to choose)"


def own_preview(preview, face: FaceFeatures, features: RecordingFeatures):
    """The preview for one face's outputs: the file itself for the last face, a copy for the others."""
    if preview is None or preview.path is None or face is features.faces[-1]:
        return preview
    copy = preview.path.with_name(f"{preview.path.stem}.face-{face.number}{preview.path.suffix}")
    shutil.copyfile(preview.path, copy)
    return Preview(copy)


def spot_face(folder: Path, face: FaceFeatures, features: RecordingFeatures, job: SpotJob, preview) -> pd.DataFrame:
    """One followed face of an input -> its spots table and outputs under ``folder``."""
    recording, indices, unreadable = features.recording, features.indices, features.unreadable
    named = f"{recording.path} (face {face.number})" if job.face == ALL_FACES else recording.path
    report = lost_report(named, face.lost_frames, unreadable, indices, recording)
    if report:
        print(report)
    windows = windows_of(face.rows, recording.name)
    with stage_bar(f"{recording.name}: scoring", len(windows.offsets), unit="window") as bar:
        scores = ensemble_scores([m.path for m in job.models], windows.features, job.device, bar.update)
    scores = zero_rows(scores, windows, lost_rows(face.lost_frames) | face.break_rows)
    kept, dropped = spot_windows(scores, windows, job.spotting.evaluation, job.stretch)
    if any(dropped.values()):
        print(f"note: {recording.path}: the cap of {cap_text(job.spotting.evaluation.top_k)} per stretch left out "
              f"{' and '.join(f'{n} {EXPRESSION_TYPES[t]}' for t, n in sorted(dropped.items()) if n)} lower-scoring "
              "interval(s) (spots.json: cap)")
    table = spots_table(kept, indices, recording)
    outcome = SpotOutcome(recording, indices, scores, windows, kept, table, face.lost_frames, unreadable)
    write_outputs(folder, outcome, spot_meta(outcome, face, features.faces_found, job, dropped), job, face.track,
                  preview)
    return table
