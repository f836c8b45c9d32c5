"""What a run applies to a new recording: the config section its folds were trained on, and the extraction
settings their features were made with (or the published ones), with the flags' changes."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from utils.errors import UserError
from utils.layout import FoldLayout

DEFAULT_DATASET = "mesynth"
PUBLISHED_NOTE = ("no extraction record in the run: the published extraction, "
                  "as python -m feature_extraction --flow-preset published")


def run_settings(run_dir: Path, folds: list[str]):
    """``(FlowSettings, where they came from)``: the chosen folds' extraction record (``logs/extraction.json``),
    or, when none has one (the published checkpoint archive), the published extraction preset
    (feature_extraction.settings.FLOW_PRESETS). Folds whose records differ are a UserError naming two."""
    from feature_extraction.record import read_record, settings_from_record
    from feature_extraction.settings import preset_settings

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


def run_dataset(run_dir: Path, folds: list[str], asked: str | None) -> tuple[str, str | None]:
    """``(section, line)``: the config section to spot with, the one the chosen folds were trained on
    (``logs/config.txt``), and the line that says so when ``asked`` is None (``--dataset`` left out; else None);
    another ``asked`` is a UserError. A run without the record (the published archive) takes ``asked``, else
    :data:`DEFAULT_DATASET`."""
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
        line = f"dataset: {DEFAULT_DATASET} (the run records no config section; give --dataset otherwise)"
        return asked or DEFAULT_DATASET, line if asked is None else None
    ((section, path),) = sections.items()
    if asked is not None and asked != section:
        raise UserError(f"{path}: the run was trained on config section '{section}', not --dataset '{asked}'; "
                        f"leave --dataset out to use '{section}'")
    return section, f"dataset: {section} (the run's own section, from {path})" if asked is None else None


def requested_settings(settings, flow: str | None, face_detect: str | None):
    """``settings`` with the flags' changes, and a one-line warning naming both when they differ."""
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
