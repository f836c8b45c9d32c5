"""``python -m pipeline``: what pipeline.sh runs. Reads the environment interface (pipeline/request.py, README.md,
docs/cluster.md), builds the run's task graph and brings it up to date: in this process (JOBS=1), on a local
pool (JOBS > 1) or on Slurm (LAUNCHER=slurm).

Errors follow every CLI's convention (utils/errors.py): one line ``error: <message>`` on stderr each. Exit status
0 when every task is done; 2 when the run stopped on a problem it names (a bad variable, config or subject, a
run already writing the folder, no sbatch: refused before any work; or SLURM_WAIT_S ran out); 1 when a task
failed (each failed task named in its line, finished tasks kept) or Slurm jobs of the run are still queued.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Mapping

from utils.cli import Parser
from utils.errors import UserError, exit_process, run_cli


def _local_lock(output):
    """Held while a local run writes ``output``: a second run on the same folder is refused, not interleaved.
    The folder itself is locked, so nothing is written into an archive given as OUTPUT."""
    output.mkdir(parents=True, exist_ok=True)
    handle = os.open(output, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise UserError(f"{output}: another pipeline run is writing this folder; wait for it or end it") from None
    return handle


def run(env: Mapping[str, str]) -> int:
    """The request of ``env`` brought up to date; UserError for a problem that stops the run."""
    from pipeline.graph import Decider, check_request
    from pipeline.request import request_from_env
    from pipeline.run import Run
    from pipeline.runners import run_inline, run_pool, write_graph
    from pipeline.task import say
    from pipeline.tasks import build_graph

    started = time.monotonic()
    request = request_from_env(env)

    def decider() -> Decider:
        run = Run(request)
        check_request(run)
        return Decider(run, build_graph(run))

    say(f"dataset '{request.dataset}', config {request.config}, output {request.output}")
    if request.launcher == "slurm":
        from pipeline.slurm import run_slurm

        return run_slurm(request, decider)
    graph = decider()  # reads only: a bad request is refused before the run folder is made
    lock = _local_lock(request.output)
    try:
        say(f"{len(graph.tasks)} tasks, {request.jobs} at once, {request.threads} torch threads each")
        if request.jobs == 1:
            code = run_inline(graph)
        else:
            code = run_pool(graph, write_graph(graph.run.layout.pool_graph, request, graph.tasks))
    finally:
        os.close(lock)
    if code == 0:
        where = "seed_results.csv" if request.seeded else "final_results.csv"
        plots = "seed_<s>/plots/" if request.seeded else "plots/"
        say(f"finished in {time.monotonic() - started:.0f} s; results in {request.output / where}, plots in "
            f"{request.output / plots}")
    return code


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    Parser(prog="bash pipeline.sh", description=__doc__.split("\n\n")[0]).parse_args(argv)
    return run_cli(lambda: run(os.environ if env is None else env))


if __name__ == "__main__":
    exit_process(main())
