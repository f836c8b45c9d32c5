"""What test-label selection is worth: the pooled F1 of each epoch-selection protocol, side by side.

python -m pipeline.protocol_table --dataset D --output DIR [--config FILE] [--seeds 1 2 3] [--jobs N] [--threads T]

Runs ``pipeline.sh`` once per adjacency scope and protocol, over the same seeds: with
``adjacency_scope: all`` best-on-test (the paper's protocol); with ``adjacency_scope: train`` best-on-test,
last-epoch, fixed-epoch (``abfcm_best_epoch``) and inner-cv. The protocols of one scope share their fold
trainings (a protocol change only re-evaluates; inner-cv adds its inner models). Each run's
``seed_results.json`` (mean and sample sd over the seeds) is kept in ``DIR/protocols.json``; the table is
printed and written to ``DIR/protocol_table.md``, and drawn in ``DIR/protocol_table.png``. Runs go to
``DIR/adjacency_<scope>/``. Every run uses the same ``THREADS`` (default: cores / jobs), which the table
names: another thread count moves the numbers like another seed (docs/cluster.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from utils.config import load_config
from utils.cores import usable_cores
from utils.errors import UserError, exit_process, run_cli
from utils.io import atomic_write_text
from utils.layout import RunLayout
from utils.metrics import SCORE_ROWS
from utils.plots import plot_protocol_table

RUNS = (("all", "best-on-test"), ("train", "best-on-test"), ("train", "last-epoch"), ("train", "fixed-epoch"),
        ("train", "inner-cv"))


def scope_config(dataset: str, config_file: str | None, output: Path, scope: str) -> Path:
    """A config file holding the section with ``adjacency_scope: scope`` (paths already resolved), checked by
    loading it back.

    Its ``selection`` is best-on-test, which every scope accepts: each run gives its own through
    ``SELECTION``, and a section whose own selection is inner-cv would be refused under scope ``all``.
    """
    values = dict(load_config(dataset, config_file).values, adjacency=None, adjacency_scope=scope,
                  selection="best-on-test")
    path = output / f"config_adjacency_{scope}.yaml"
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump({dataset: values}, sort_keys=False))
    load_config(dataset, path)
    return path


def run_protocols(dataset: str, config_file: str | None, output: Path, seeds: list[str], jobs: int,
                  threads: int) -> dict:
    from pipeline.__main__ import main as run_pipeline

    results = {"threads": threads, "runs": {}}
    for scope, selection in RUNS:
        run = output / f"adjacency_{scope}"
        env = {**os.environ, "DATASET": dataset, "CONFIG": str(scope_config(dataset, config_file, output, scope)),
               "OUTPUT": str(run), "SELECTION": selection, "SEEDS": " ".join(seeds), "JOBS": str(jobs),
               "THREADS": str(threads),
               "PYTHON": os.environ.get("PYTHON", sys.executable)}
        print(f"[protocol table] {selection}, adjacency_scope {scope}", flush=True)
        if run_pipeline([], env=env) != 0:
            raise UserError(f"{run}: the pipeline failed for selection {selection} (see above)")
        results["runs"][f"{selection} | {scope}"] = json.loads(RunLayout(run).seed_results_json.read_text())
    atomic_write_text(output / "protocols.json", json.dumps(results, indent=2) + "\n")
    return results


def format_protocol_table(results: dict) -> str:
    """Markdown: one row per protocol and scope, F1 mean ± sd per type."""
    runs = results["runs"]
    seeds = next(iter(runs.values()))["seeds"]
    lines = [f"F1, mean ± sd over seeds {' '.join(seeds)} (THREADS={results['threads']})",
             "", "| selection | adjacency | " + " | ".join(SCORE_ROWS) + " |", "|---|---|" + "---|" * len(SCORE_ROWS)]
    for key, document in runs.items():
        selection, scope = key.split(" | ")
        cells = []
        for t in SCORE_ROWS:
            f1 = document["f1"][t]
            cells.append(f"{f1['mean']:.4f}" + (f" ± {f1['std']:.4f}" if f1["std"] is not None else ""))
        lines.append(f"| {selection} | {scope} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from utils.cli import add_config, add_dataset, add_output

    parser = argparse.ArgumentParser(description="Pooled F1 of each epoch-selection protocol, side by side.")
    add_dataset(parser)
    add_config(parser)
    add_output(parser)
    parser.add_argument("--seeds", nargs="+", default=["1", "2", "3"])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per fold (default: cores / jobs)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--jobs and --threads must be at least 1")
    threads = args.threads or max(1, usable_cores() // args.jobs)

    def run() -> None:
        results = run_protocols(args.dataset, args.config, args.output, args.seeds, args.jobs, threads)
        table = format_protocol_table(results)
        atomic_write_text(args.output / "protocol_table.md", table + "\n")
        print(table)
        print(f"plot: {plot_protocol_table(args.output / 'protocol_table.png', results['runs'], table.splitlines()[0])}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
