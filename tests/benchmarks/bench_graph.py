"""What the task graph costs: the decision per task, and a rerun with nothing changed, against the work itself.

python tests/benchmarks/bench_graph.py [--subjects 6] [--epochs 4] [--run DIR --dataset D]

On a tiny synthetic LOSO (or, with --run, a finished run such as the demo's data/runs/mesynth): the time to
decide every task of the graph (computing its key from what it reads and comparing its stamp), per task, and
the time of a whole rerun in this process that finds every task done; as reference, the time the same run
took to do its tasks from nothing (the tiny LOSO only), per task.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[1])]

from bench_slurm_submit import cpu_name  # noqa: E402


def decide_all(env: dict) -> tuple[int, float]:
    from pipeline.graph import Decider, check_request
    from pipeline.run import Run
    from pipeline.request import request_from_env
    from pipeline.tasks import build_graph

    started = time.perf_counter()
    run = Run(request_from_env(env))
    check_request(run)
    decider = Decider(run, build_graph(run))
    states = [decider.status(task_id).state for task_id in decider.tasks]
    elapsed = time.perf_counter() - started
    assert set(states) == {"done"}, states
    return len(states), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--run", type=Path, default=None, help="a finished run folder (its request: --dataset...)")
    parser.add_argument("--dataset", default="mesynth")
    parser.add_argument("--config", default=None)
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    import os

    from core_fixtures import run_pipeline, tiny_archive

    print(f"CPU: {cpu_name()}; a shared machine: compare the ratios")
    with tempfile.TemporaryDirectory() as folder:
        if args.run is None:
            root = Path(folder)
            config = tiny_archive(root, [f"subj_{i}" for i in range(args.subjects)], epochs=args.epochs)
            env = {**os.environ, "DATASET": "tiny", "CONFIG": str(config), "OUTPUT": str(root / "run"),
                   "THREADS": args.threads}
            started = time.perf_counter()
            assert run_pipeline(env).returncode == 0
            first = time.perf_counter() - started
        else:
            env = {**os.environ, "DATASET": args.dataset, "OUTPUT": str(args.run), "THREADS": args.threads,
                   **({"CONFIG": args.config} if args.config else {})}
            first = None
        decisions = [decide_all(env) for _ in range(3)]
        tasks = decisions[0][0]
        decide = statistics.median(elapsed for _, elapsed in decisions)
        reruns = []
        for _ in range(3):
            started = time.perf_counter()
            result = run_pipeline(env)
            reruns.append(time.perf_counter() - started)
            assert result.returncode == 0 and result.stdout.count("done before") == tasks, result.stdout
        rerun = statistics.median(reruns)
    print(f"{tasks} tasks: deciding all {decide * 1000:.0f} ms ({decide / tasks * 1000:.1f} ms a task); "
          f"a rerun with nothing changed, in this process, {rerun:.2f} s ({rerun / tasks * 1000:.1f} ms a task)")
    if first is not None:
        print(f"the same tasks done from nothing: {first:.1f} s ({first / tasks * 1000:.0f} ms a task); "
              f"deciding is {decide / first * 100:.2f}% of it")


if __name__ == "__main__":
    main()
