"""spot.py's work over its inputs: the job resolved once (model/spotting/job.py, with this package's check that
the models still match the run), then every input spotted, one failing never stopping the others, and the
summary; exit status 1 when any input failed."""
from __future__ import annotations

from model.spotting.batch import attempt, distinct_inputs, summarise
from model.spotting.job import resolve_job
from model.spotting.options import SpotOptions
from utils.spot_outputs import output_folders

from pipeline.stale import refuse_stale_models


def spot_inputs(options: SpotOptions, landmarker=None) -> int:
    """Every input of ``options`` spotted, then the summary; 1 when any failed. Every check of the run, the flags
    and ``--out`` comes before any extraction. ``landmarker``: None for dlib's."""
    from feature_extraction.recording import recording_name

    job = resolve_job(options, landmarker, refuse_stale_models)
    inputs = distinct_inputs(list(options.inputs))
    folders = output_folders([str(path) for path in inputs], [recording_name(path) for path in inputs], job.out)
    return summarise([attempt(path, folder, job) for path, folder in zip(inputs, folders)])
