"""The extraction record: which settings made a segment_feat_root's features.

``<segment_feat_root>/extraction.json`` (written at the end of ``python -m
feature_extraction``, copied into each fold's ``logs/`` at training) holds::

    {"flow_settings": {<every FlowSettings field>}, "face_detect": "full",
     "feature_version": 2, "libraries": "opencv=...;dlib=...;model=...", "dataset": "cas(me)^2",
     "raw_root": "/data/CASME2"}

``raw_root`` (absolute; None when unknown) says where the frames were read, so that the run report
can link previews of them; it says nothing about the features.

The record is written last by the pass that writes the archive (an unsharded extraction or the merge), after
every window: it describes every window of the archive. ``libraries`` is
:func:`feature_extraction.video.library_key`, the library versions the features were computed with.

``flow_settings`` is ``dataclasses.asdict(FlowSettings)``, so fields added to
FlowSettings are recorded without a change here; reading tolerates missing
(older) and unknown (newer) keys: missing fields take FlowSettings' defaults.
Spotting reads it to extract a new recording exactly as the run's features were.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from feature_extraction.video import FEATURE_VERSION, FlowSettings, library_key
from utils.errors import UserError
from utils.io import atomic_write_text
from utils.layout import FeatureLayout

RAW_ROOT_KEY = "raw_root"


def record_dict(settings: FlowSettings, dataset: str | None = None, raw_root: Path | None = None) -> dict:
    """The record of ``settings`` (plain JSON types)."""
    return {"flow_settings": dataclasses.asdict(settings), "face_detect": settings.face_detect,
            "feature_version": FEATURE_VERSION, "libraries": library_key(), "dataset": dataset,
            RAW_ROOT_KEY: None if raw_root is None else str(Path(raw_root).resolve())}


def write_record(folder: Path, settings: FlowSettings, dataset: str | None = None,
                 raw_root: Path | None = None) -> Path:
    """Write the record of the archive ``folder`` (``FeatureLayout.record``) atomically; returns its path."""
    path = FeatureLayout(Path(folder)).record
    atomic_write_text(path, json.dumps(record_dict(settings, dataset, raw_root), indent=2, sort_keys=True) + "\n")
    return path


def settings_from_record(record: dict) -> FlowSettings:
    """FlowSettings of a record: known fields taken, missing ones at their defaults, unknown ones ignored."""
    fields = {field.name for field in dataclasses.fields(FlowSettings)}
    given = {key: value for key, value in dict(record.get("flow_settings") or {}).items() if key in fields}
    return FlowSettings(**given)


def read_record(path: Path) -> dict | None:
    """The record at ``path`` (None when absent); a file that is not a record is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("flow_settings", {}), dict):
            raise ValueError("not a JSON object with 'flow_settings'")
        settings_from_record(record)
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"{path}: not a readable extraction record ({str(error).splitlines()[0]})") from None
    return record


def describe(settings: FlowSettings) -> str:
    """One line: ``method=tvl1, quantise=True, face_detect=full`` (every field)."""
    return ", ".join(f"{key}={value}" for key, value in dataclasses.asdict(settings).items())
