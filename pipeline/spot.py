"""spot.py's inputs as tasks of the run's runners, one task of kind ``spot`` per input (pipeline/tasks.py).

The job is resolved once, before any extraction (model/spotting/job.py, with pipeline/stale.py's check that the
models still match the run), and every input gets its output folder under ``--out``
(utils/spot_outputs.output_folders). The tasks then run as a run's do, chosen by the environment variables
pipeline.sh reads: in this process (JOBS=1, the default), on a local pool of JOBS worker processes, or as a
Slurm array (LAUNCHER=slurm; SLURM_WAIT=1 waits for it and prints the summary), with THREADS, SBATCH_ARGS,
SLURM_WAIT_S and FORCE=1 (spot every input again). An input whose task is done, spotted before into the same
``--out`` with the same models and settings from the same content (pipeline/tasks.py's ``Spot`` says what its
key holds), is skipped; the others are spotted. One failing input never stops the others: each failure is one
line of the summary, and the exit status is 1.

``<out>/.tasks/`` (utils/spot_outputs.TASKS_FOLDER) holds the command's stamps, the failed inputs' lines, the
pool's graph and logs and Slurm's submissions.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from model.spotting.batch import Outcome, distinct_inputs, outputs_complete, summarise, written_spots
from model.spotting.job import SpotJob, resolve_job
from model.spotting.options import SpotOptions
from utils.spot_outputs import TASKS_FOLDER, output_folders

from pipeline.graph import Decider
from pipeline.request import Request, request_from_env
from pipeline.run import Run, Task
from pipeline.runners import run_inline, run_pool, write_graph
from pipeline.stale import refuse_stale_models
from pipeline.tasks import KINDS, SPOT_JOB, Spot, spot_failure


def spot_inputs(options: SpotOptions, landmarker=None, env: Mapping[str, str] | None = None, helper=None) -> int:
    """Every input of ``options`` spotted as a task (module docstring), then the summary; 1 when any failed.
    Every check of the run, the flags, the runner's variables (``env``, default the process's environment) and
    ``--out`` comes before any extraction. ``landmarker``: None for dlib's (a stand-in serves this process
    only: pool workers and Slurm tasks load dlib's). ``helper``: spot.py's extraction helper
    (model/spotting/helper.py), which extracts the first input spotted in this process, or None."""
    from feature_extraction.recording import recording_name

    runner = request_from_env(os.environ if env is None else env)
    job = resolve_job(options, landmarker, refuse_stale_models, helper)
    inputs = distinct_inputs(list(options.inputs))
    folders = output_folders([str(path) for path in inputs], [recording_name(path) for path in inputs], job.out)
    request = spot_request(runner, options, job, dict(zip((folder.name for folder in folders), inputs)))
    run = Run(request, job.config)
    run.memo[SPOT_JOB] = job
    tasks = [Task(Spot.name, subject=folder.name) for folder in folders]
    decider = Decider(run, {task.id: task for task in tasks})
    if request.launcher == "slurm":
        from pipeline.slurm import run_slurm

        job.extract.close()  # Slurm's tasks extract the inputs
        code = run_slurm(request, lambda: decider)
        if not request.slurm_wait:
            return code
    elif request.inline:
        run_inline(decider, keep_going=True)
    else:
        job.extract.close()  # the pool's workers extract the inputs
        run_pool(decider, write_graph(run.layout.pool_graph, request, decider.tasks), keep_going=True)
    return summarise([task_outcome(run, job, task, path, folder) for task, path, folder in zip(tasks, inputs, folders)])


def spot_request(runner: Request, options: SpotOptions, job: SpotJob, inputs: dict[str, Path]) -> Request:
    """The request of a spot command: the runner's settings of ``runner`` (pipeline.sh's variables), the config
    the job was resolved with, ``<out>/.tasks`` as the run folder, and the options and inputs (by output folder
    name) a worker process resolves the same job from."""
    resolved = dataclasses.replace(options, dataset=job.config.name, out=job.out)
    return Request(dataset=job.config.name, config=Path(job.config.source),
                   output=Path(job.out).resolve() / TASKS_FOLDER, device=options.device, force=runner.force,
                   jobs=runner.jobs, threads=runner.threads, launcher=runner.launcher, sbatch_args=runner.sbatch_args,
                   slurm_wait=runner.slurm_wait, slurm_wait_s=runner.slurm_wait_s,
                   spot={"options": resolved.to_json(), "inputs": {name: str(path) for name, path in inputs.items()}})


def task_outcome(run: Run, job: SpotJob, task: Task, path: Path, folder: Path) -> Outcome:
    """One input's line of the summary, from what its task left: its failure's line, or its spots as written."""
    failure = spot_failure(run, task)
    if failure.is_file():
        return Outcome(path, folder, reason=failure.read_text(encoding="utf-8").strip())
    if KINDS[Spot.name].stamp(run, task).is_file() and outputs_complete(folder, job):
        return Outcome(path, folder, written_spots(folder))
    return Outcome(path, folder, reason=f"{path}: not spotted: its task did not finish (logs in {run.layout.root})")
