"""Spot expressions in a new recording: features (feature_extraction.recording, as extracted for the run)
-> fold ensemble scores -> the evaluation's proposals and NMS -> intervals in the input's own frame
numbering and seconds -> ``<out>/<input name>/``.

:func:`spot_inputs` is spot.py's work on a :class:`SpotOptions`; :func:`spot_one` is one input's flow.
Frame and second conventions: :mod:`feature_extraction.recording`.
"""
from __future__ import annotations

import glob
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from dataset.segments import WindowSet
from dataset.targets import normalise_features
from feature_extraction.adapters import recording_table_names
from feature_extraction.recording import (ALL_FACES, FaceFeatures, Recording, RecordingFeatures, lost_report,
                                          lost_stretches, map_frames, open_recording, own_frames, recording_name)
from model.evaluation import epoch_proposals
from model.final_model import FINAL_FOLDER, final_checkpoint
from model.scoring import INFERENCE_BATCH, Scores, average_scores, batched_scores, load_state_dict
from model.spot_caps import CapStretch, cap_stretch, capped_nms
from model.spot_extract import Preview, extract_input, preview_path
from model.spot_progress import stage_bar, timing_line
from utils.annotations import EXPRESSION_TYPES
from utils.errors import UserError, failure_line
from utils.indexing import PROPOSAL_FRAME_SHIFT, SEGMENT_LENGTH, cut_window, window_offsets
from utils.io import atomic_write_csv, atomic_write_text
from utils.layout import FoldLayout
from utils.metrics import read_eval_info
from utils.nms import nms_top_k
from utils.proposals import proposal_params
from utils.spot_outputs import (EAF_DIGEST_KEY, EAF_NAME, check_writable, error_log, file_digest, output_folders,
                                output_set)

SPOT_COLUMNS = ["type", "onset_frame", "apex_frame", "offset_frame", "onset_s", "offset_s", "score"]
DEFAULT_DATASET = "mesynth"
# Errors that are the input's or the machine's problem (a codec, a full disk), not the program's.
EXPECTED_ERRORS = (OSError, cv2.error)


# --------------------------------------------------------------------------- the run's models


@dataclass(frozen=True)
class FoldModel:
    subject: str
    epoch: int
    path: Path


def run_folds(run_dir: Path) -> list[str]:
    """Subjects of ``run_dir`` that hold checkpoints (``<subject>/models/checkpoint_epoch_NNN.pth.tar``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run folder not found")
    folds = sorted(p.name for p in run_dir.iterdir()
                   if p.is_dir() and p.name != FINAL_FOLDER and FoldLayout(p).checkpoints())
    if not folds:
        raise UserError(f"{run_dir}: no checkpoints in <subject>/models/checkpoint_epoch_NNN.pth.tar "
                        "(not a run folder pipeline.sh wrote, nor the published checkpoint layout)")
    return folds


def choose_models(run_dir: Path, folds: list[str], epoch: str) -> list[FoldModel]:
    """One checkpoint per fold: ``selected`` (eval_info.json's epoch), ``last`` or a fixed epoch number."""
    chosen = []
    for subject in folds:
        layout = FoldLayout.of(run_dir, subject)
        checkpoints = layout.checkpoints()
        if not checkpoints:
            raise UserError(f"{layout.models}: no checkpoint_epoch_NNN.pth.tar")
        if epoch == "last":
            number = max(checkpoints)
        elif epoch == "selected":
            if not layout.eval_info.is_file():
                raise UserError(f"{layout.eval_info}: missing, so fold {subject} has no selected epoch "
                                "(run eval.py, or use --epoch last|N)")
            try:
                number = read_eval_info(layout.eval_info)["selected_epoch"]
            except KeyError as error:
                raise UserError(f"{layout.eval_info}: unreadable ({error})") from None
            if number is None:
                raise UserError(f"{layout.eval_info}: fold {subject} selected no epoch; use --epoch last|N")
        else:
            number = int(epoch)
        if number not in checkpoints:
            raise UserError(f"{layout.checkpoint(number)}: no checkpoint for epoch {number} of fold {subject}")
        chosen.append(FoldModel(subject, int(number), checkpoints[number]))
    return chosen


SCORED_WINDOWS = 8 * INFERENCE_BATCH  # windows scored per step of the progress bar (whole inference batches)


def ensemble_scores(models: list[FoldModel], windows: WindowSet, device: torch.device,
                    on_windows=None) -> Scores:
    """The fold models' scores on ``windows``, averaged per frame over the folds. ``on_windows(n)`` is told of
    each block of ``n`` windows scored (a progress bar); blocks are whole inference batches, so the numbers are
    those of one pass over all windows."""
    states = [load_state_dict(m.path) for m in models]
    parts = []
    for first in range(0, len(windows.offsets), SCORED_WINDOWS):
        block = torch.from_numpy(normalise_features(windows.features[first:first + SCORED_WINDOWS])).to(device)
        parts.append(average_scores(batched_scores(states, [m.path for m in models], block, device)))
        if on_windows is not None:
            on_windows(block.shape[0])
    return joined_scores(parts)


def joined_scores(parts: list[Scores]) -> Scores:
    """Scores of consecutive blocks of windows as one, block after block."""
    if len(parts) == 1:
        return parts[0]

    def joined(field: str):
        if getattr(parts[0], field) is None:
            return None
        return {t: np.concatenate([getattr(part, field)[t] for part in parts]) for t in EXPRESSION_TYPES}

    return Scores(joined("start"), joined("end"), joined("apex"), joined("action"))


# --------------------------------------------------------------------------- scores -> spots


def windows_of(rows: np.ndarray, name: str) -> WindowSet:
    """A recording's feature rows ``(R, 12, 2)`` cut into the 270-row windows eval reads (labels all zero)."""
    offsets = window_offsets(len(rows))
    features = np.stack([cut_window(rows.astype(np.float32), int(o)) for o in offsets])
    return WindowSet(features, np.zeros((len(offsets), features.shape[1], 8), np.int32),
                     np.array([name] * len(offsets), dtype=object), offsets)


def lost_rows(lost_frames: np.ndarray) -> np.ndarray:
    """Feature rows (bool (J-1,)) that touch a lost frame (bool (J,)): row r is the flow from frame r to r+1."""
    return lost_frames[:-1] | lost_frames[1:]


def zero_rows(scores: Scores, windows: WindowSet, lost_rows: np.ndarray) -> Scores:
    """``scores`` with every score of the feature rows in ``lost_rows`` (bool (R,)) set to 0 (no face there)."""
    if not lost_rows.any():
        return scores
    positions = windows.offsets[:, None] + np.arange(SEGMENT_LENGTH)[None, :]
    mask = np.zeros(positions.shape, bool)
    inside = positions < len(lost_rows)
    mask[inside] = lost_rows[positions[inside]]

    def cleared(values):
        return None if values is None else {t: np.where(mask, 0, v).astype(v.dtype) for t, v in values.items()}

    return Scores(cleared(scores.start), cleared(scores.end), cleared(scores.apex), cleared(scores.action))


def spot_windows(scores: Scores, windows: WindowSet, config,
                 stretch: CapStretch | None = None) -> tuple[pd.DataFrame, dict[int, int]]:
    """The evaluation's proposals and NMS on (ensemble) scores, NMS's cap per ``stretch`` of the recording (None:
    per video, as the evaluation; model/spot_caps.py): ``(NMS_COLUMNS plus apex_frame, per type the intervals
    the cap left out)``."""
    proposals = epoch_proposals(scores, windows, proposal_params(config))
    if proposals.empty:
        return (pd.DataFrame(columns=["video_name", "start_frame", "end_frame", "score", "type_idx", "apex_frame"]),
                dict.fromkeys(EXPRESSION_TYPES, 0))
    kept, dropped = capped_nms(proposals, nms_top_k(config), stretch)
    # The apex of a kept interval: the frame of highest apex score inside it (proposals keep no apex frame).
    apex_track = stitched(scores.apex, windows)
    apex = [int(s + np.argmax(apex_track[t][s - PROPOSAL_FRAME_SHIFT:max(e, s)])) if e > s else int(s)
            for s, e, t in kept[["start_frame", "end_frame", "type_idx"]].to_numpy()]
    return kept.assign(apex_frame=np.asarray(apex, dtype=np.int64)), dropped


def stitched(values: dict[int, np.ndarray], windows: WindowSet) -> dict[int, np.ndarray]:
    """Per type, the per-row track of one recording's windows: index r is feature row r."""
    length = int(windows.offsets.max()) + SEGMENT_LENGTH
    tracks = {}
    for t, per_window in values.items():
        track = np.zeros(length, np.float32)
        for offset, row in zip(windows.offsets, per_window):
            track[offset:offset + SEGMENT_LENGTH] = row
        tracks[t] = track
    return tracks


def spots_table(kept: pd.DataFrame, indices: np.ndarray, recording: Recording) -> pd.DataFrame:
    """The ``spots.csv`` table (SPOT_COLUMNS), in the input's numbering, sorted by onset."""
    onset, onset_s = map_frames(kept["start_frame"].to_numpy(), indices, recording)
    offset, offset_s = map_frames(kept["end_frame"].to_numpy(), indices, recording)
    apex, _ = map_frames(kept["apex_frame"].to_numpy(), indices, recording)
    table = pd.DataFrame({"type": [EXPRESSION_TYPES[int(t)] for t in kept["type_idx"]], "onset_frame": onset,
                          "apex_frame": apex, "offset_frame": offset, "onset_s": np.round(onset_s, 4),
                          "offset_s": np.round(offset_s, 4), "score": kept["score"].to_numpy(float)},
                         columns=SPOT_COLUMNS)
    return table.sort_values(["onset_frame", "type"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- what the run applies


PUBLISHED_NOTE = ("no extraction record in the run: the published extraction, "
                  "as python -m feature_extraction --flow-preset published")


def run_settings(run_dir: Path, folds: list[str]):
    """``(FlowSettings, where they came from)``: the chosen folds' extraction record (``logs/extraction.json``),
    or, when none has one (the published checkpoint archive), the published extraction preset
    (feature_extraction.video.FLOW_PRESETS). Folds whose records differ are a UserError naming two."""
    from feature_extraction.record import read_record, settings_from_record
    from feature_extraction.video import preset_settings

    found = {}
    for subject in folds:
        path = FoldLayout.of(run_dir, subject).extraction_record
        record = read_record(path)
        if record is not None:
            found.setdefault(settings_from_record(record), path)
    if len(found) > 1:
        (first, one), (second, other) = list(found.items())[:2]
        raise UserError(f"{other}: the fold's features were extracted with other settings than {one}'s "
                        f"({second} against {first}); spot one fold's group at a time with --folds")
    if not found:
        return preset_settings("published"), PUBLISHED_NOTE
    ((settings, path),) = found.items()
    return settings, str(path)


def run_dataset(run_dir: Path, folds: list[str], asked: str | None) -> str:
    """The config section to spot with: the one the chosen folds were trained on (``logs/config.txt``), printed
    when ``asked`` is None (``--dataset`` left out); another ``asked`` is a UserError. A run without the
    record (the published archive) takes ``asked``, else :data:`DEFAULT_DATASET`."""
    sections: dict[str, Path] = {}
    for subject in folds:
        path = FoldLayout.of(run_dir, subject).training_config
        if not path.is_file():
            continue
        try:
            section = json.loads(path.read_text(encoding="utf-8"))["dataset"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path}: no readable training config ({type(error).__name__}: {error})") from None
        sections.setdefault(str(section), path)
    if len(sections) > 1:
        (first, one), (second, other) = list(sections.items())[:2]
        raise UserError(f"{other}: trained on config section '{second}', but {one} on '{first}'; "
                        "spot one section's folds at a time with --folds")
    if not sections:
        if asked is None:
            print(f"dataset: {DEFAULT_DATASET} (the run records no config section; give --dataset otherwise)")
        return asked or DEFAULT_DATASET
    ((section, path),) = sections.items()
    if asked is None:
        print(f"dataset: {section} (the run's own section, from {path})")
    elif asked != section:
        raise UserError(f"{path}: the run was trained on config section '{section}', not --dataset '{asked}'; "
                        f"leave --dataset out to use '{section}'")
    return section


def requested_settings(settings, flow: str | None, face_detect: str | None):
    """``settings`` with the flags' changes, and a one-line warning naming both when they differ."""
    import dataclasses

    from feature_extraction.record import describe

    changes = {k: v for k, v in (("method", flow), ("face_detect", face_detect)) if v is not None}
    if not changes:
        return settings, None
    try:
        wanted = dataclasses.replace(settings, **changes)
    except ValueError as error:
        raise UserError(str(error)) from None
    if wanted == settings:
        return settings, None
    return wanted, f"warning: extracting with {describe(wanted)}, but the run's features were made with " \
                   f"{describe(settings)}"


def fold_list(text: str) -> tuple[str, ...] | None:
    """``--folds``: None for ``all``, else the comma-separated subjects; empty or repeated ones are a UserError."""
    if text == "all":
        return None
    folds = tuple(part.strip() for part in text.split(","))
    if not all(folds):
        raise UserError(f"--folds {text!r}: an empty fold name; give all or comma-separated subjects")
    repeated = sorted({fold for fold in folds if folds.count(fold) > 1})
    if repeated:
        raise UserError(f"--folds {text!r}: {', '.join(repeated)} given more than once")
    return folds


def chosen_folds(run_dir: Path, wanted: tuple[str, ...] | None) -> list[str]:
    """The run's folds (:func:`run_folds`), or the ``wanted`` ones, each of which must be among them."""
    folds = run_folds(run_dir)
    if wanted is None:
        return folds
    unknown = [s for s in wanted if s not in folds]
    if unknown:
        raise UserError(f"{run_dir}: no fold {', '.join(unknown)} (folds: {', '.join(folds)})")
    return list(wanted)


# --------------------------------------------------------------------------- outputs


def distinct_inputs(inputs: list[Path]) -> list[Path]:
    """The inputs as full paths (symbolic links resolved), each once, in the order given; repeats are noted."""
    seen: dict[Path, Path] = {}
    for path in inputs:
        full = Path(path).resolve()
        if full in seen:
            print(f"note: {path} is {seen[full]} again: spotted once")
        else:
            seen[full] = Path(path)
    return list(seen)


def write_outputs(folder: Path, outcome, meta: dict, job: SpotJob, track, preview) -> list[Path]:
    """Every output of one input's face (``outcome``: a model.spot_review.SpotOutcome), written into a staging
    folder and swapped into ``folder`` as a set (:func:`utils.spot_outputs.output_set`): ``spots.csv``,
    ``timeline.png``, the review outputs (model/spot_review.py; ``preview``: the preview written during the
    extraction), ``annotated.webm`` when asked (with the face's ``track``), and ``spots.json`` with the digest
    of the ``spots.eaf`` written. Returns the files as they lie in ``folder``."""
    from feature_extraction.recording import write_annotated_video
    from model.spot_review import write_review  # the review page builds on this module
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
        written += write_review(staging, outcome, job.config, job.anno, job.report, shown=folder, preview=preview)
        if job.video:
            intervals = [(row.onset_frame, row.offset_frame, f"{row.type.upper()} {row.score:.2f}")
                         for row in table.itertuples()]
            written.append(write_annotated_video(staging / "annotated.webm", recording, intervals, track, indices))
        written.append(atomic_write_text(staging / "spots.json", json.dumps(
            {**meta, EAF_DIGEST_KEY: file_digest(staging / EAF_NAME), "spots": table.to_dict(orient="records")},
            indent=2) + "\n"))
    return [folder / Path(path).name for path in written]


# --------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class SpotOptions:
    """What spot.py was asked; None means the flag was left out."""

    inputs: tuple[Path, ...]
    run: Path
    dataset: str | None = None  # None: the run's own config section
    config: Path | None = None
    folds: tuple[str, ...] | None = None  # None: every fold of the run
    epoch: str = "selected"  # selected | last | a number
    out: Path | None = None  # None: <run>/spots
    device: str | None = None
    flow: str | None = None
    face_detect: str | None = None
    fps: float | None = None  # the inputs' frame rate, for video files too
    video: bool = False
    anno: Path | None = None  # annotation table or .eaf: ground truth on the review page
    report: bool = True  # report.html and preview.webm beside spots.csv
    face: str | int = "largest"  # largest | left | right | N (from the left) | all: each face on its own


@dataclass(frozen=True)
class SpotJob:
    """Everything one input is spotted with, resolved once for the whole command."""

    models: list[FoldModel]
    folds: list[str]
    settings: object  # feature_extraction.video.FlowSettings
    config: object  # utils.config.DatasetConfig
    device: torch.device
    landmarker: object  # feature_extraction.face.FaceLandmarker, or a stand-in with face_boxes and landmarks
    run: Path
    out: Path
    fps: float | None
    video: bool
    anno: object  # model.spot_review.GroundTruth: --anno as read before any output was written, or None
    report: bool
    face: str | int
    stretch: CapStretch

    @property
    def dataset_fps(self) -> float:
        return float(self.config.get("fps", 30))


@dataclass(frozen=True)
class Outcome:
    """One input's result: its spots table and folder, or the one-line reason it failed."""

    path: Path
    folder: Path
    table: pd.DataFrame | None = None
    reason: str = ""


def spot_inputs(options: SpotOptions, landmarker=None) -> int:
    """spot.py's work: every input spotted (one failing never stops the others), a summary, exit status 1 when
    any input failed. Every check of the run, the flags and ``--out`` comes before any extraction.
    ``landmarker``: None for dlib's (feature_extraction.face.FaceLandmarker)."""
    from feature_extraction.record import describe
    from utils.cli import resolve_device
    from utils.config import load_config

    folds = chosen_folds(options.run, options.folds)
    dataset = run_dataset(options.run, folds, options.dataset)
    config = load_config(dataset, options.config).with_overrides(device=options.device)
    device = resolve_device(config["device"])
    final = final_checkpoint(options.run, options.epoch) if options.folds is None else None
    models = [FoldModel(FINAL_FOLDER, *final)] if final else choose_models(options.run, folds, options.epoch)
    if options.folds is None and options.epoch == "selected":  # a model named explicitly is used as it is
        refuse_stale_models(options.run, config, folds, final is not None)
    settings, origin = run_settings(options.run, folds)
    print(f"extraction settings: {describe(settings)} ({'from ' + origin if origin != PUBLISHED_NOTE else origin})")
    settings, warning = requested_settings(settings, options.flow, options.face_detect)
    if warning:
        print(warning)
    from model.spot_review import read_ground_truth  # the review page builds on this module

    truth = read_ground_truth(options.anno, float(config.get("fps", 30)))  # before any output: it may be one
    out = options.out if options.out is not None else Path(options.run) / "spots"
    check_writable(out, default=options.out is None)
    inputs = distinct_inputs(list(options.inputs))
    print(f"models: the final model (every subject, {FINAL_FOLDER}/) @{final[0]}" if final else
          f"models: {len(models)} fold(s): " + ", ".join(f"{m.subject}@{m.epoch}" for m in models))
    stretch = cap_stretch(config)
    print(f"NMS cap: {cap_text(config)} per stretch of {stretch.windows} windows "
          f"({stretch.rows / float(config.get('fps', 30)):.1f} s at {float(config.get('fps', 30)):g} fps; "
          f"{stretch.source})")
    if landmarker is None:
        from feature_extraction.face import FaceLandmarker

        landmarker = FaceLandmarker()
    job = SpotJob(models, folds, settings, config, device, landmarker, Path(options.run), out, options.fps,
                  options.video, truth, options.report, options.face, stretch)
    folders = output_folders([str(path) for path in inputs], [recording_name(path) for path in inputs], out)
    outcomes = [attempt(path, folder, job) for path, folder in zip(inputs, folders)]
    return summarise(outcomes)


def refuse_stale_models(run: Path, config, folds: list[str], final: bool) -> None:
    """A model pipeline.sh made whose key no longer matches the run's current config is refused (pipeline/stale.py:
    the run's decisions live in the pipeline package, which may import this one)."""
    from pipeline.stale import refuse_stale_models as check

    check(run, config, folds, final)


def cap_text(config) -> str:
    """``5 macro, 5 micro``: the kept intervals per video of each type (the config's ``nms_top_K_*``)."""
    return ", ".join(f"{count} {EXPRESSION_TYPES[t]}" for t, count in sorted(nms_top_k(config).items()))


def attempt(path: Path, folder: Path, job: SpotJob) -> Outcome:
    """:func:`spot_one`, with any error but an interrupt turned into a failed Outcome: a user error or a
    machine error (a codec, a full disk) as its one line, anything else as a likely bug whose traceback goes
    to a log the line names."""
    try:
        table = spot_one(path, folder, job)
    except UserError as error:
        return Outcome(path, folder, reason=str(error))
    except Exception as error:  # one input never sinks the others
        return Outcome(path, folder, reason=f"{path}: " + failure_line(error, error_log(job.out, folder), str(path),
                                                                       EXPECTED_ERRORS))
    error_log(job.out, folder).unlink(missing_ok=True)  # from an earlier failed run
    return Outcome(path, folder, table)


def summarise(outcomes: list[Outcome]) -> int:
    """Print each input's spots, then each failure's line, then the count; 1 when any input failed."""
    failed = [o for o in outcomes if o.table is None]
    for outcome in outcomes:
        if outcome.table is not None:
            print(f"\n{outcome.path}: {len(outcome.table)} interval(s) -> {outcome.folder}")
            if len(outcome.table):
                print(outcome.table.to_string(index=False))
    if failed:
        print()
    for outcome in failed:
        print(f"FAILED {outcome.reason}")
    done = len(outcomes) - len(failed)
    print(f"\nspotted {done} of {len(outcomes)} input(s)" + (f"; failed: {len(failed)}" if failed else ""))
    return 1 if failed else 0


def subject_of_input(path: Path, subject: str) -> bool:
    """Whether ``path`` looks like a recording of ``subject``: its name in the path, or a layout's naming of the
    recording's folder or file stem (``s15/15_0507...`` is CAS(ME)^2's ``casme_015``)."""
    if subject in str(path.resolve()):
        return True
    return any(named == subject for named, _ in recording_table_names(recording_name(path)))


FACE_FOLDER = "face-{}"  # with --faces all: each face's outputs, in the input's folder
FACES_INDEX = "faces.json"  # with --faces all: the input and its face folders


def spot_one(path: Path, folder: Path, job: SpotJob) -> pd.DataFrame:
    """One input (a full path) -> its spots table, written under ``folder`` (with ``--faces all``, one folder per
    face under it, and the tables joined with a ``face`` column)."""
    started = time.perf_counter()
    recording = open_recording(path, job.fps, job.dataset_fps)
    seen = [s for s in job.folds if subject_of_input(Path(path), s)]
    if seen and len(job.models) > 1:
        print(f"note: {path} looks like a video of subject {seen[0]}: the other folds' models saw it in training; "
              f"--folds {seen[0]} is the held-out choice")
    features, preview = extract_input(recording, job.dataset_fps, job.settings, job.landmarker, job.face,
                                      preview_path(job.out, folder) if job.report else None)
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
    from feature_extraction.record import record_dict

    recording, indices, unreadable = features.recording, features.indices, features.unreadable
    named = f"{recording.path} (face {face.number})" if job.face == ALL_FACES else recording.path
    report = lost_report(named, face.lost_frames, unreadable, indices, recording)
    if report:
        print(report)
    windows = windows_of(face.rows, recording.name)
    with stage_bar(f"{recording.name}: scoring", len(windows.offsets), unit="window") as bar:
        scores = ensemble_scores(job.models, windows, job.device, bar.update)
    scores = zero_rows(scores, windows, lost_rows(face.lost_frames) | face.break_rows)
    kept, dropped = spot_windows(scores, windows, job.config, job.stretch)
    if any(dropped.values()):
        print(f"note: {recording.path}: the cap of {cap_text(job.config)} per stretch left out "
              f"{' and '.join(f'{n} {EXPRESSION_TYPES[t]}' for t, n in sorted(dropped.items()) if n)} lower-scoring "
              "interval(s) (spots.json: cap)")
    table = spots_table(kept, indices, recording)
    meta = {"input": str(recording.path), "run": str(job.run), "dataset": job.config.name,
            "folds": [m.subject for m in job.models], "epochs": {m.subject: m.epoch for m in job.models},
            "extraction": record_dict(job.settings), "input_fps": recording.source_fps,
            "model_fps": job.dataset_fps, "frames": recording.n_frames,
            "face_lost_frames": len(own_frames(np.flatnonzero(face.lost_frames), indices, recording)[0]),
            "unreadable_frames": own_frames(np.flatnonzero(unreadable), indices, recording)[0],
            "faces_found": features.faces_found, "face": face_record(face, job.face, indices, recording),
            "cap": cap_record(job, dropped)}
    from model.spot_review import SpotOutcome  # the review page builds on this module

    write_outputs(folder, SpotOutcome(recording, indices, scores, windows, kept, table, face.lost_frames, unreadable),
                  meta, job, face.track, preview)
    return table


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
    return {"per_stretch": {EXPRESSION_TYPES[t]: int(k) for t, k in nms_top_k(job.config).items()},
            "stretch_windows": job.stretch.windows, "stretch_model_frames": job.stretch.rows,
            "stretch_s": round(job.stretch.rows / fps, 4), "stretch_source": job.stretch.source,
            "left_out": {EXPRESSION_TYPES[t]: int(n) for t, n in dropped.items()}}
