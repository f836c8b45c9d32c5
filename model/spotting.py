"""Spot expressions in a new recording: frames -> features (as extracted for the run) -> fold ensemble
scores -> the evaluation's proposals and NMS -> intervals in the input's own frame numbering and seconds.

Frame conventions (utils/indexing.py): the recording is first resampled to the dataset's rate
(config key ``fps``). Resampled frame j (0-based) is source frame ``source_index[j]`` (0-based);
an interval frame p reported by the proposals (1-based, as the annotation tables count) is
resampled frame p - 1, so it maps to source frame number ``source_index[p - 1] + 1`` for a video
file and to the frame's own number (the integer in its file name) for a frame folder. Seconds are
``source_index / source_fps`` with the input's real rate.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from dataset.segments import WindowSet
from feature_extraction.adapters.frames import ordered_frames
from dataset.targets import normalise_features
from model.evaluation import epoch_proposals
from model.scoring import Scores, average_scores, batched_scores, load_state_dict
from utils.annotations import EXPRESSION_TYPES, TYPE_INDEX
from utils.errors import UserError
from utils.indexing import PROPOSAL_FRAME_SHIFT, SEGMENT_LENGTH, cut_window, window_offsets
from utils.io import atomic_path, atomic_write_csv, atomic_write_text
from utils.layout import FoldLayout
from utils.nms import nms, nms_top_k
from utils.plots import TYPE_COLOURS

SPOT_COLUMNS = ["type", "onset_frame", "apex_frame", "offset_frame", "onset_s", "offset_s", "score"]
_LAST_INTEGER = re.compile(r"(\d+)(?!.*\d)")  # a subject name's number (casme_015 -> 15)


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
    folds = sorted(p.name for p in run_dir.iterdir() if p.is_dir() and FoldLayout(p).checkpoints())
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
                number = json.loads(layout.eval_info.read_text())["selected_epoch"]
            except (ValueError, KeyError) as error:
                raise UserError(f"{layout.eval_info}: unreadable ({error})") from None
            if number is None:
                raise UserError(f"{layout.eval_info}: fold {subject} selected no epoch; use --epoch last|N")
        else:
            number = int(epoch)
        if number not in checkpoints:
            raise UserError(f"{layout.checkpoint(number)}: no checkpoint for epoch {number} of fold {subject}")
        chosen.append(FoldModel(subject, int(number), checkpoints[number]))
    return chosen


def ensemble_scores(models: list[FoldModel], windows: WindowSet, device: torch.device) -> Scores:
    """The fold models' scores on ``windows``, averaged per frame over the folds."""
    inputs = torch.from_numpy(normalise_features(windows.features)).to(device)
    states = [load_state_dict(m.path) for m in models]
    return average_scores(batched_scores(states, [m.path for m in models], inputs, device))


# --------------------------------------------------------------------------- frames and time


@dataclass(frozen=True)
class Recording:
    """An input: a video file or a frame folder; ``numbers`` are its frames' own numbers (1-based for a file)."""

    path: Path
    name: str
    source_fps: float
    frame_paths: tuple[Path, ...] = ()
    numbers: tuple[int, ...] = ()
    n_frames: int = 0

    @property
    def is_video(self) -> bool:
        return not self.frame_paths


def open_recording(path: Path, folder_fps: float) -> Recording:
    """A :class:`Recording`; one-line UserError for a missing, unreadable or empty input."""
    path = Path(path)
    if path.is_dir():
        numbers, frames = ordered_frames(path)  # the adapters' frame-folder rule
        if len(frames) < 2:
            raise UserError(f"{path}: a frame folder needs at least 2 frame images")
        return Recording(path, path.name, float(folder_fps), frames, numbers, len(frames))
    if not path.is_file():
        raise UserError(f"{path}: no such video file or frame folder")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UserError(f"{path}: OpenCV cannot open this video file (corrupt or unknown format)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        count = 0
        while capture.grab():
            count += 1
    finally:
        capture.release()
    if count < 2:
        raise UserError(f"{path}: {'no decodable frame' if count == 0 else 'only one frame'} (corrupt or empty video)")
    if not fps or not np.isfinite(fps) or fps <= 0:
        raise UserError(f"{path}: the video reports no frame rate")
    return Recording(path, path.stem, float(fps), numbers=tuple(range(1, count + 1)), n_frames=count)


def resample_indices(n_source: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Source frame index (0-based) of every resampled frame: the nearest source frame at ``j / target_fps``.

    Equal rates give ``0 .. n-1``; 60 -> 30 fps gives ``0, 2, 4, ...``. Shape (J,), int64.
    """
    if abs(source_fps - target_fps) < 1e-6:
        return np.arange(n_source, dtype=np.int64)
    duration = n_source / source_fps
    count = max(int(np.floor(duration * target_fps + 1e-9)), 1)
    indices = np.rint(np.arange(count) * source_fps / target_fps).astype(np.int64)
    return np.minimum(indices, n_source - 1)


def iter_resampled(recording: Recording, indices: np.ndarray):
    """``(label, BGR image | None)`` of every resampled frame, in order (each source frame decoded once).

    None marks a frame that cannot be read: an unreadable image file, or for a video every frame from the
    first one the decoder fails on (after a failure the decoder's position no longer says which frame comes),
    so that there are always ``len(indices)`` frames and the later ones keep their numbers."""
    if not recording.is_video:
        for index in indices:
            frame_path = recording.frame_paths[index]
            yield str(frame_path), cv2.imread(str(frame_path), cv2.IMREAD_COLOR)
        return
    wanted = np.bincount(indices, minlength=recording.n_frames)  # how often each source frame is used
    capture = cv2.VideoCapture(str(recording.path))
    ok = True
    try:
        for index in range(recording.n_frames):
            image = None
            if ok and wanted[index] == 0:
                ok = capture.grab()
            elif ok:
                ok, image = capture.read()
            for _ in range(wanted[index]):
                yield f"{recording.path}#{index + 1}", image if ok else None
    finally:
        capture.release()


def map_frames(frames: np.ndarray, indices: np.ndarray, recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """Proposal frames (1-based, resampled) -> (the input's own frame numbers, seconds), clipped to the input."""
    resampled = np.clip(np.asarray(frames, dtype=np.int64) - PROPOSAL_FRAME_SHIFT, 0, len(indices) - 1)
    source = indices[resampled]
    return np.asarray(recording.numbers, dtype=np.int64)[source], source / recording.source_fps


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


def spot_windows(scores: Scores, windows: WindowSet, config) -> pd.DataFrame:
    """The evaluation's proposals and NMS on (ensemble) scores: NMS_COLUMNS plus apex_frame."""
    proposals = epoch_proposals(scores, windows, config)
    if proposals.empty:
        return pd.DataFrame(columns=["video_name", "start_frame", "end_frame", "score", "type_idx", "apex_frame"])
    kept = nms(proposals, nms_top_k(config))
    # The apex of a kept interval: the frame of highest apex score inside it (proposals keep no apex frame).
    apex_track = stitched(scores.apex, windows)
    apex = [int(s + np.argmax(apex_track[t][s - PROPOSAL_FRAME_SHIFT:max(e, s)])) if e > s else int(s)
            for s, e, t in kept[["start_frame", "end_frame", "type_idx"]].to_numpy()]
    return kept.assign(apex_frame=np.asarray(apex, dtype=np.int64))


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


# --------------------------------------------------------------------------- outputs


def write_outputs(folder: Path, table: pd.DataFrame, meta: dict, scores: Scores, windows: WindowSet,
                  indices: np.ndarray, recording: Recording, lost_frames: np.ndarray) -> list[Path]:
    """``spots.csv``, ``spots.json`` and ``timeline.png`` under ``folder`` (each written atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(folder / "spots.csv", table)
    atomic_write_text(folder / "spots.json", json.dumps({**meta, "spots": table.to_dict(orient="records")},
                                                        indent=2) + "\n")
    plot_timeline(folder / "timeline.png", recording.name, scores, windows, indices, recording, table, lost_frames)
    return [folder / "spots.csv", folder / "spots.json", folder / "timeline.png"]


def lost_stretches(lost_frames: np.ndarray, indices: np.ndarray, recording: Recording) -> list[tuple[float, float]]:
    """``(begin, end)`` seconds of each run of lost resampled frames (bool (J,)); resampled frame j lasts until
    frame j + 1 begins (the last one until the recording ends), so one lost frame is a visible stretch."""
    lost = lost_frames.astype(np.int8)
    starts = np.flatnonzero(np.diff(np.concatenate([[0], lost])) == 1)
    ends = np.flatnonzero(np.diff(np.concatenate([lost, [0]])) == -1)
    seconds = np.append(indices, recording.n_frames) / recording.source_fps
    return [(float(seconds[first]), float(seconds[last + 1])) for first, last in zip(starts, ends)]


def plot_timeline(path: Path, title: str, scores: Scores, windows: WindowSet, indices: np.ndarray,
                  recording: Recording, table: pd.DataFrame, lost_frames: np.ndarray) -> Path:
    """Apex (solid) and action (dashed) scores over seconds, spotted intervals shaded, face-lost stretches
    (no face found, or the frame unreadable) hatched."""
    from matplotlib.figure import Figure  # no pyplot: no process-wide backend state

    n_rows = len(indices) - 1
    seconds = indices[:n_rows] / recording.source_fps  # feature row r starts at resampled frame r
    figure = Figure(figsize=(12, 3.2))
    axis = figure.add_subplot()
    for t, name in EXPRESSION_TYPES.items():
        colour = TYPE_COLOURS[t]
        axis.plot(seconds, stitched(scores.apex, windows)[t][:n_rows], color=colour, linewidth=0.9,
                  label=f"{name} apex")
        if scores.action is not None:
            axis.plot(seconds, stitched(scores.action, windows)[t][:n_rows], color=colour, linewidth=0.7,
                      linestyle="--", alpha=0.7, label=f"{name} action")
    for row in table.itertuples():
        axis.axvspan(row.onset_s, row.offset_s, color=TYPE_COLOURS[TYPE_INDEX[row.type]], alpha=0.25)
    for number, (begin, end) in enumerate(lost_stretches(lost_frames, indices, recording)):
        axis.axvspan(begin, end, facecolor="none", edgecolor="0.3", hatch="//",
                     label="face lost / unreadable" if number == 0 else None)
    axis.axhline(0.5, color="0.5", linestyle=":", linewidth=0.8)
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("score")
    axis.set_title(f"{title}: apex/action scores, spotted intervals shaded (orange micro, blue macro)")
    axis.legend(loc="upper right", fontsize=7, ncol=3)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=80, format="png")
    return path


# --------------------------------------------------------------------------- extraction, as for the run


class _FrameWatch:
    """A FaceLandmarker wrapper that also hands out the frames, so that each landmarks call (one per frame the
    extractor could read and crop) is tied to its resampled frame: ``read[j]`` whether frame j reached the
    landmarker, ``found[j]`` whether a face was found on it. extract_video repeats the previous frame for
    an unreadable one without a landmarks call, so such a frame stays unread and counts as face-lost."""

    def __init__(self, landmarker, recording: Recording, indices: np.ndarray):
        self._landmarker = landmarker
        self._recording, self._indices = recording, indices
        self._position = -1  # resampled frame last handed out (extract_video works frame by frame)
        self.read = np.zeros(len(indices), bool)
        self.found = np.zeros(len(indices), bool)

    def frames(self):
        for position, item in enumerate(iter_resampled(self._recording, self._indices)):
            self._position = position
            yield item

    def face_box(self, gray):
        return self._landmarker.face_box(gray)

    def landmarks(self, crop, detect="full"):
        points = self._landmarker.landmarks(crop, detect=detect)
        self.read[self._position] = True
        self.found[self._position] = points is not None
        return points


def extract_recording(recording: Recording, indices: np.ndarray, settings, landmarker):
    """Features of the resampled recording through feature_extraction.video.extract_video (the extractor's own
    code and settings): ``(rows (R, 12, 2), lost_frames bool (J,), unreadable_frames bool (J,), result)``.
    A frame is lost when no face was found on it or it could not be read (``unreadable_frames``, a subset).
    A recording that gives no features (no face at all, no readable frame, ...) is a UserError naming it."""
    from feature_extraction.video import VideoFailure, extract_video

    watch = _FrameWatch(landmarker, recording, indices)
    try:
        result = extract_video(watch.frames, settings, watch)
    except VideoFailure as failure:
        raise UserError(f"{recording.path}: {failure}") from None
    return result.features, ~watch.found, ~watch.read, result


def own_frames(positions: np.ndarray, indices: np.ndarray, recording: Recording) -> tuple[list[int], list[str]]:
    """Resampled frames -> the input's own ``(frame numbers, names)``, each source frame once: the names are
    the file names of a frame folder, else the frame numbers."""
    source = np.unique(indices[positions])
    numbers = [int(recording.numbers[i]) for i in source]
    return numbers, [str(n) for n in numbers] if recording.is_video else [recording.frame_paths[i].name for i in source]


def lost_report(path: Path, lost_frames: np.ndarray, unreadable: np.ndarray, indices: np.ndarray,
                recording: Recording, shown: int = 10) -> str | None:
    """The one printed line about face-lost frames (naming the unreadable ones), or None when there are none."""
    if not lost_frames.any():
        return None
    line = f"{path}: face lost on {int(lost_frames.sum())} of {len(lost_frames)} frames: scored 0 there"
    if unreadable.any():
        _, names = own_frames(np.flatnonzero(unreadable), indices, recording)
        kind = "frame(s)" if recording.is_video else "file(s)"
        line += (f"; {len(names)} unreadable {kind} among them: {', '.join(names[:shown])}"
                 f"{' ...' if len(names) > shown else ''}")
    return line


# --------------------------------------------------------------------------- the command


PUBLISHED_NOTE = "no extraction record in the run: using the published defaults"


def run_settings(run_dir: Path, folds: list[str], config):
    """``(FlowSettings, where they came from)``: the run's record (a fold's logs/, else the features root),
    or the published defaults."""
    from feature_extraction.record import RECORD_NAME, read_record, settings_from_record
    from feature_extraction.video import FlowSettings

    candidates = [FoldLayout.of(run_dir, s).logs / RECORD_NAME for s in folds]
    candidates.append(Path(config["segment_feat_root"]) / RECORD_NAME)
    for candidate in candidates:
        record = read_record(candidate)
        if record is not None:
            return settings_from_record(record), str(candidate)
    return FlowSettings(), PUBLISHED_NOTE


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


def spot_inputs(args) -> int:
    """spot.py's work: every input spotted, a summary, exit status 1 when any input failed."""
    from feature_extraction.face import FaceLandmarker
    from feature_extraction.record import describe
    from utils.cli import resolve_device
    from utils.config import load_config

    config = load_config(args.dataset, args.config).with_overrides(device=args.device)
    device = resolve_device(config["device"])
    folds = run_folds(args.run)
    if args.folds != "all":
        wanted = [s.strip() for s in args.folds.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in folds]
        if unknown:
            raise UserError(f"{args.run}: no fold {', '.join(unknown)} (folds: {', '.join(folds)})")
        folds = wanted
    models = choose_models(args.run, folds, args.epoch)
    settings, origin = run_settings(args.run, folds, config)
    print(f"extraction settings: {describe(settings)} ({'from ' + origin if origin != PUBLISHED_NOTE else origin})")
    settings, warning = requested_settings(settings, args.flow, args.face_detect)
    if warning:
        print(warning)
    dataset_fps = float(config.get("fps", 30))
    out = args.out if args.out is not None else Path(args.run) / "spots"
    print(f"models: {len(models)} fold(s): " + ", ".join(f"{m.subject}@{m.epoch}" for m in models))
    landmarker = FaceLandmarker()
    failures, done = [], []
    for path in args.inputs:
        try:
            table, folder = spot_one(path, models, settings, config, device, dataset_fps,
                                     args.fps or dataset_fps, out, landmarker, args.run, folds, args.video)
            done.append((path, table, folder))
        except UserError as error:
            print(f"FAILED {error}")
            failures.append(str(error))
    for path, table, folder in done:
        print(f"\n{path}: {len(table)} interval(s) -> {folder}")
        if len(table):
            print(table.to_string(index=False))
    print(f"\nspotted {len(done)} of {len(args.inputs)} input(s)" + (f"; failed: {len(failures)}" if failures else ""))
    return 1 if failures else 0


def subject_of_input(path: Path, subject: str) -> bool:
    """Whether ``path`` looks like a recording of ``subject``: its name in the path, or the CAS(ME)^2 raw
    naming (``s15/15_0507...`` for ``casme_015``)."""
    if subject in str(path.resolve()):
        return True
    number = _LAST_INTEGER.search(subject)
    return number is not None and re.match(rf"0*{int(number.group(1))}_", path.name) is not None


def spot_one(path: Path, models: list[FoldModel], settings, config, device, dataset_fps: float,
             folder_fps: float, out: Path, landmarker, run_dir: Path, folds: list[str], video: bool = False):
    """One input -> its output folder; returns ``(spots table, folder)``."""
    from feature_extraction.record import record_dict

    recording = open_recording(path, folder_fps)
    seen = [s for s in folds if subject_of_input(Path(path), s)]
    if seen and len(models) > 1:
        print(f"note: {path} looks like a video of subject {seen[0]}: the other folds' models saw it in training; "
              f"--folds {seen[0]} is the held-out choice")
    indices = resample_indices(recording.n_frames, recording.source_fps, dataset_fps)
    rows, lost_frames, unreadable, result = extract_recording(recording, indices, settings, landmarker)
    report = lost_report(path, lost_frames, unreadable, indices, recording)
    if report:
        print(report)
    windows = windows_of(rows, recording.name)
    scores = zero_rows(ensemble_scores(models, windows, device), windows, lost_rows(lost_frames))
    table = spots_table(spot_windows(scores, windows, config), indices, recording)
    meta = {"input": str(path), "run": str(run_dir), "folds": [m.subject for m in models],
            "epochs": {m.subject: m.epoch for m in models}, "extraction": record_dict(settings),
            "input_fps": recording.source_fps, "model_fps": dataset_fps, "frames": recording.n_frames,
            "face_lost_frames": int(lost_frames.sum()),
            "unreadable_frames": own_frames(np.flatnonzero(unreadable), indices, recording)[0]}
    folder = out / recording.name
    write_outputs(folder, table, meta, scores, windows, indices, recording, lost_frames)
    if video:
        write_annotated_video(folder / "annotated.mp4", recording, table, landmarker)
    return table, folder


def write_annotated_video(path: Path, recording: Recording, table: pd.DataFrame, landmarker) -> Path:
    """An MP4 of the input at its own rate: the face box (found on the first frame with a face) and a
    label ``MACRO 0.83`` while a spotted interval is active. Written atomically."""
    from feature_extraction.face import to_gray

    numbers = np.asarray(recording.numbers)
    active = [(row.onset_frame, row.offset_frame, f"{row.type.upper()} {row.score:.2f}") for row in table.itertuples()]
    frames = iter_resampled(recording, np.arange(recording.n_frames))
    box, writer = None, None
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # OpenCV picks the container from the suffix
    try:
        for number, (_, image) in zip(numbers, frames):
            if image is None:
                continue
            if writer is None:
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), recording.source_fps,
                                         (image.shape[1], image.shape[0]))
            if box is None:
                box = landmarker.face_box(to_gray(image))
            if box is not None:
                top, bottom, left, right = (int(v) for v in box)  # feature_extraction.face.Box order
                cv2.rectangle(image, (left, top), (right, bottom), (0, 200, 0), 2)
            labels = [text for onset, offset, text in active if onset <= number <= offset]
            for line, text in enumerate(labels):
                cv2.putText(image, text, (10, 30 + 28 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 255), 2)
            writer.write(image)
        if writer is not None:
            writer.release()
            writer = None
            os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        tmp.unlink(missing_ok=True)
    return path
