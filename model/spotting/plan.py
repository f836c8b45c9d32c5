"""What a command's inputs are extracted with, resolved from spot.py's options alone, without torch: the run's
folds and config section, the extraction settings and ``--out`` (:func:`extraction_plan`, part of the job
model/spotting/job.py resolves); and the first input's extraction request, which spot.py offers its extraction
helper (model/spotting/helper.py) before it imports torch (:func:`first_request`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from feature_extraction.recording import recording_name
from feature_extraction.settings import FlowSettings
from model.spotting.extract import ExtractRequest
from model.spotting.models import chosen_folds
from model.spotting.options import SpotOptions
from model.spotting.run_facts import requested_settings, run_dataset, run_settings
from model.spotting.settings import SpotSettings
from utils.config import DatasetConfig, load_config
from utils.spot_outputs import output_folders


@dataclass(frozen=True)
class ExtractionPlan:
    """The run's ``folds`` and ``config`` section (with ``--device``; ``dataset_line`` says which section when
    ``--dataset`` was left out), its ``spotting`` settings, the extraction settings it recorded (``recorded``,
    read from ``origin``) and those applied (``settings``: ``--flow`` and ``--face-detect`` on them, with
    ``warning`` when they differ from the training's), and ``out``."""

    folds: list[str]
    config: DatasetConfig
    dataset_line: str | None
    spotting: SpotSettings
    recorded: FlowSettings
    origin: str
    settings: FlowSettings
    warning: str | None
    out: Path


def extraction_plan(options: SpotOptions) -> ExtractionPlan:
    """The :class:`ExtractionPlan` of ``options``; a one-line UserError for a run or a flag it cannot serve."""
    folds = chosen_folds(options.run, options.folds)
    dataset, dataset_line = run_dataset(options.run, folds, options.dataset)
    config = load_config(dataset, options.config).with_overrides(device=options.device)
    recorded, origin = run_settings(options.run, folds)
    settings, warning = requested_settings(recorded, options.flow, options.face_detect)
    out = options.out if options.out is not None else Path(options.run) / "spots"
    return ExtractionPlan(folds, config, dataset_line, SpotSettings.from_config(config), recorded, origin, settings,
                          warning, out)


def first_request(options: SpotOptions) -> ExtractRequest | None:
    """The request the first input will be extracted with when the command extracts it itself (JOBS=1, no
    Slurm); None when it was spotted before (a rerun may skip it) or cannot be resolved (the job's resolution
    then says why). A guess the helper compares with the request really made, so no check needs repeating."""
    try:
        plan = extraction_plan(options)
        path = Path(options.inputs[0]).resolve()  # as model/spotting/batch.distinct_inputs gives it
        (folder,) = output_folders([str(path)], [recording_name(path)], plan.out)
        if folder.exists():
            return None
        return ExtractRequest.of(path, folder, plan.out, options.fps, plan.spotting.fps, plan.settings,
                                 options.face, options.report)
    except Exception:  # noqa: BLE001 - a guess never fails the command: the job's resolution reports the error
        return None
