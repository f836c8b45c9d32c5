"""eval.py --selection inner-cv outside pipeline.sh: a fold's inner models brought up to date as the pipeline's
tasks of kind ``inner`` (pipeline/tasks.py), by the same decision."""
from __future__ import annotations

from pathlib import Path

from model.settings import InnerModelSettings

from pipeline.graph import Decider, execute
from pipeline.request import Request
from pipeline.run import Run, Task
from pipeline.tasks import Inner


def fold_inner_selection(config, output: Path, subject: str) -> dict:
    """eval.py --selection inner-cv outside pipeline.sh: the fold's inner models brought up to date as the
    pipeline's tasks (trained only when what they read changed), then the fold's epoch from them."""
    import torch

    from model.inner_cv import choose_inner_epoch

    request = Request(dataset=config.name, config=config.source, output=Path(output).resolve(),
                      threads=torch.get_num_threads())
    run = Run(request, config)
    groups = InnerModelSettings.from_config(config).groups(subject)
    tasks = [Task(Inner.name, subject=subject, group=group) for group in range(len(groups))]
    decider = Decider(run, {task.id: task for task in tasks})
    for task in tasks:
        execute(decider, task.id)
    return choose_inner_epoch(config, output, subject)
