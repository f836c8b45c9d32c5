"""Everything a command's inputs are spotted with, checked and resolved once, before any extraction: the run's
folds, config section and models, the extraction settings, ``--anno``, ``--out`` and the NMS cap's stretch."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from model.spotting.caps import CapStretch, cap_stretch
from model.spotting.extract import InputExtractor
from model.spotting.models import FoldModel, models_line, run_models
from model.spotting.options import SpotOptions
from model.spotting.plan import extraction_plan
from model.spotting.review import GroundTruth, read_ground_truth
from model.spotting.settings import SpotSettings
from model.spotting.run_facts import PUBLISHED_NOTE
from model.spotting.spots import cap_text
from utils.errors import UserError
from utils.spot_outputs import check_writable


@dataclass(frozen=True)
class SpotJob:
    """Everything one input is spotted with, resolved once for the whole command."""

    models: list[FoldModel]
    folds: list[str]
    settings: object  # feature_extraction.settings.FlowSettings
    config: object  # utils.config.DatasetConfig: its section name and file
    spotting: SpotSettings
    device: torch.device
    extract: InputExtractor  # model/spotting/extract.py: in the helper process, or here
    run: Path
    out: Path
    fps: float | None
    video: bool
    anno: GroundTruth | None  # --anno as read before any output was written
    report: bool
    face: str | int
    stretch: CapStretch

    @property
    def dataset_fps(self) -> float:
        return self.spotting.fps


# (run folder, config, folds, final model?) -> None, or a UserError when a model no longer matches the run
StaleCheck = Callable[[Path, object, list, bool], None]


def resolve_job(options: SpotOptions, landmarker=None, refuse_stale: StaleCheck | None = None,
                helper=None) -> SpotJob:
    """The :class:`SpotJob` of ``options``, printing what was chosen and why. ``landmarker``: None for dlib's
    (feature_extraction.face.FaceLandmarker, loaded where the first input is extracted; its model file is
    checked here). ``refuse_stale``: asked about the models unless the user named them (``--folds`` or
    ``--epoch``): the run's decisions live in the pipeline package (pipeline/stale.py). ``helper``: spot.py's
    extraction helper (model/spotting/helper.py), or None."""
    from feature_extraction.record import describe
    from utils.cli import resolve_device

    plan = extraction_plan(options)
    if plan.dataset_line:
        print(plan.dataset_line)
    folds, config, spotting, settings = plan.folds, plan.config, plan.spotting, plan.settings
    device = resolve_device(spotting.device)
    models, final = run_models(options.run, folds, options.epoch, every_fold=options.folds is None)
    if refuse_stale is not None and options.folds is None and options.epoch == "selected":
        refuse_stale(options.run, config, folds, final)
    print(f"extraction settings: {describe(plan.recorded)} "
          f"({'from ' + plan.origin if plan.origin != PUBLISHED_NOTE else plan.origin})")
    if plan.warning:
        print(plan.warning)
    fps = spotting.fps
    truth = read_ground_truth(options.anno, fps)  # before any output: it may be one
    check_writable(plan.out, default=options.out is None)
    print(models_line(models, final))
    stretch = cap_stretch(spotting.features, spotting.annotations)
    print(f"NMS cap: {cap_text(spotting.evaluation.top_k)} per stretch of {stretch.windows} windows "
          f"({stretch.rows / fps:.1f} s at {fps:g} fps; {stretch.source})")
    if landmarker is None:
        from feature_extraction.face import landmark_model_path

        try:
            landmark_model_path()
        except FileNotFoundError as error:
            raise UserError(str(error)) from None
    return SpotJob(models, folds, settings, config, spotting, device, InputExtractor(landmarker, helper),
                   Path(options.run), plan.out, options.fps, options.video, truth, options.report, options.face,
                   stretch)
