"""What inner-cv costs: the demo LOSO under ``SELECTION=inner-cv`` against the plain LOSO, in the same run.

Run by hand (prints its figures; pytest does not collect it):

    python tests/benchmarks/bench_inner_cv.py [--dataset mesynth] [--config FILE] [--jobs 1 2]

Both LOSOs run through ``bash pipeline.sh`` from empty run folders, with ``adjacency_scope: train`` (which
inner-cv needs; the plain LOSO takes it too, so both train the same outer models) and the section's
``inner_folds`` (K, default 3). The features must be there already (a first ``bash pipeline.sh`` extracts
the demo's). Per JOBS it prints the whole wall time and the fold phase (from the first fold or training
task to the start of pooling: pooling and the report's previews cost both runs the same), and the ratio
against the target 1.1 x (K + 1).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from utils.config import load_config  # noqa: E402
from pipeline.protocol_table import scope_config  # noqa: E402

STAMP = re.compile(r"^\[pipeline (\d\d:\d\d:\d\d)\] (.*)$")


def fold_phase_s(stdout: str) -> float:
    """Seconds from the first fold or training task line to the pooling line (pipeline.sh's timestamps)."""
    start = end = None
    for line in stdout.splitlines():
        match = STAMP.match(line)
        if not match:
            continue
        stamp, text = datetime.strptime(match.group(1), "%H:%M:%S"), match.group(2)
        if start is None and re.match(r"\d+ (folds|trainings)", text):
            start = stamp
        if text.endswith("pooling"):
            end = stamp
    if start is None or end is None:
        raise RuntimeError("pipeline.sh printed no fold phase")
    return (end - start).total_seconds() % 86400


def loso(config: Path, dataset: str, output: Path, selection: str, jobs: int) -> tuple[float, float]:
    env = {**os.environ, "DATASET": dataset, "CONFIG": str(config), "OUTPUT": str(output), "SELECTION": selection,
           "JOBS": str(jobs), "PYTHON": sys.executable}
    started = time.perf_counter()
    result = subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{selection}, JOBS={jobs}: pipeline.sh failed\n{result.stderr[-3000:]}")
    return wall, fold_phase_s(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mesynth")
    parser.add_argument("--config", default=None)
    parser.add_argument("--jobs", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="auwgcn-bench-inner-"))
    config = scope_config(args.dataset, args.config, work, "train")
    k = load_config(args.dataset, str(config))["inner_folds"]
    print(f"{args.dataset}, K = {k}, {os.cpu_count()} cores, runs in {work}")
    for jobs in args.jobs:
        plain = loso(config, args.dataset, work / f"plain_jobs{jobs}", "best-on-test", jobs)
        inner = loso(config, args.dataset, work / f"inner_jobs{jobs}", "inner-cv", jobs)
        print(f"JOBS={jobs}: plain LOSO {plain[0]:.0f} s (folds {plain[1]:.0f} s), inner-cv {inner[0]:.0f} s "
              f"(folds {inner[1]:.0f} s): {inner[0] / plain[0]:.2f}x whole, {inner[1] / plain[1]:.2f}x folds; "
              f"target <= {1.1 * (k + 1):.1f}x", flush=True)


if __name__ == "__main__":
    main()
