"""The report task: ``<run>/report.html`` (utils/review/run_page.py) and a preview of each test video whose raw
frames are known (the section's ``raw_root``, else the raw tree a fold's extraction record names).

A preview is ``previews/<video>.webm``, with its own stamp (``previews/stamps/<video>.json``) holding the key of
what it shows: the video's frames (their fingerprint), the rate and the height. The report keeps a preview
whose stamp matches and writes the others, so one changed video re-encodes one preview; previews of videos no
longer reported are removed.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dataset.settings import ExtractionSettings
from model.settings import PoolingSettings
from model.spotting.settings import DEFAULT_FPS
from utils.cores import usable_cores
from utils.errors import UserError
from utils.io import atomic_write_text
from utils.layout import stamp_path
from utils.names import check_path_name

from pipeline.run import Run, digest, raw_videos, read_stamp

RUN_PREVIEW_HEIGHT = 240  # pixels: one preview per test video, so smaller (and 4x cheaper) than a spot page's


@dataclass(frozen=True)
class ReportSettings:
    """What the report reads from a section: ``fps``, the videos' rate (the previews' seconds; None when the
    section names none: a fold's extraction record's, else DEFAULT_FPS), ``raw``, its extraction (None without
    ``raw_root``: a fold's extraction record names the raw frames) and ``pooling``, the annotation table and
    RATIO_SCALE the page matches with."""

    fps: float | None
    raw: ExtractionSettings | None
    pooling: PoolingSettings

    # The others reach the report's key through the pooled results' key and the previews' keys.
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ("fps",)

    @classmethod
    def from_config(cls, config) -> "ReportSettings":
        fps = config.get("fps")
        return cls(float(fps) if fps else None, ExtractionSettings.from_config(config),
                   PoolingSettings.from_config(config))


def _sources(run: Run, seed: str) -> tuple[dict, float] | None:
    """``({video_name: (VideoSource, fingerprint)}, fps)`` of the reported subjects' raw videos, or None."""
    subjects = set(run.subjects)
    settings = ReportSettings.from_config(run.config)
    if settings.raw is not None:
        return {video.video_name: (video, fingerprint) for video, fingerprint in raw_videos(run)
                if video.subject in subjects}, settings.fps or DEFAULT_FPS
    from feature_extraction.adapters import discover_videos, source_fingerprint
    from feature_extraction.record import read_record

    for subject in run.subjects:
        record = read_record(run.output(seed).fold(subject).extraction_record)
        if record and record.get("raw_root") and record.get("dataset") and Path(record["raw_root"]).is_dir():
            videos, _ = discover_videos(record["dataset"], Path(record["raw_root"]))
            return ({video.video_name: (video, source_fingerprint(video)) for video in videos
                     if video.subject in subjects}, settings.fps or float(record.get("fps") or DEFAULT_FPS))
    return None


def preview_keys(run: Run, seed: str) -> dict[str, str] | None:
    """The key of each preview the report shows (None: the raw frames are not known)."""
    known = _sources(run, seed)
    if known is None:
        return None
    sources, fps = known
    return {name: digest([fingerprint, fps, RUN_PREVIEW_HEIGHT]) for name, (_, fingerprint) in sorted(sources.items())}


def _write_previews(run: Run, seed: str, keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Bring every preview up to date; ``(video -> link relative to the run, notes)``."""
    from feature_extraction.adapters import iter_frames
    from feature_extraction.preview import write_preview

    layout = run.output(seed)
    sources, fps = _sources(run, seed)
    folder = layout.preview("x").parent
    for old in folder.glob("*.webm") if folder.is_dir() else ():
        if old.stem not in keys:
            old.unlink()
            stamp_path(folder, old.stem).unlink(missing_ok=True)

    def attach(name: str) -> str | None:
        try:
            check_path_name(name, folder, "video name")
        except UserError as error:
            return str(error)
        path, stamp = layout.preview(name), stamp_path(folder, name)
        recorded = read_stamp(stamp)
        if path.is_file() and recorded is not None and recorded["key"] == keys[name]:
            return None
        stamp.unlink(missing_ok=True)
        try:
            frames = (image for _, image in iter_frames(sources[name][0]))
            write_preview(path, frames, fps, RUN_PREVIEW_HEIGHT)
        except UserError as error:
            return str(error)
        atomic_write_text(stamp, json.dumps({"key": keys[name]}) + "\n")
        return None

    # VP8 encoding dominates the report; the encoder releases the GIL, so the videos share the cores.
    with ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        notes = [note for note in pool.map(attach, sorted(keys)) if note]
    for note in notes:
        print(note)
    links = {name: layout.preview(name).relative_to(layout.root).as_posix() for name in keys
             if layout.preview(name).is_file()}
    return links, notes


def write_report(run: Run, seed: str, keys: dict[str, str] | None) -> Path:
    from pipeline.final_results import read_final_results
    from utils.annotations import read_annotation_table
    from utils.review.run_page import write_run_page

    layout = run.output(seed)
    if keys is None:
        previews, notes = {}, ["No previews: no fold's extraction record names the raw frames (raw_root), so rows "
                               "show their timelines alone."]
    else:
        previews, notes = _write_previews(run, seed, keys)
    table, document = read_final_results(layout.root)
    pooling = ReportSettings.from_config(run.config_of(seed)).pooling
    return write_run_page(layout.root, list(run.subjects), table, document,
                          read_annotation_table(pooling.annotations), pooling.ratio_scale, previews, notes)
