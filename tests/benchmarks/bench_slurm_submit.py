"""Submitting the graph's waves: plain sbatch/squeue (what pipeline/slurm.py does) against submitit (DETR's Slurm
launcher), on the real one-node Slurm of tests/slurm_cluster.py.

python tests/benchmarks/bench_slurm_submit.py [--tasks 8] [--repeat 3]

For each: the time to submit one array of N trivial tasks with a dependency on a previous job, the time to ask
the state of every task once, whether that state is right (queued or running while held, then gone or
completed), and the time until all N have ended. submitit is imported from PYTHONPATH (it is not a dependency
of the project: pip install submitit into a folder of its own and put it on PYTHONPATH to run this).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from slurm_cluster import ensure_slurm  # noqa: E402


def cpu_name() -> str:
    text = Path("/proc/cpuinfo").read_text()
    name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
    return f"{name} ({'AVX-512' if 'avx512f' in text else 'no AVX-512'})"


def run(command: list[str], env: dict) -> str:
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()


def plain(env: dict, folder: Path, tasks: int) -> dict:
    script = folder / "task.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    blocker = run(["sbatch", "--parsable", "--hold", "--output=/dev/null", str(script)], env)
    started = time.perf_counter()
    array = run(["sbatch", "--parsable", f"--array=0-{tasks - 1}", f"--dependency=afterany:{blocker}",
                 f"--output={folder}/%A_%a.out", str(script)], env)
    submit = time.perf_counter() - started
    started = time.perf_counter()
    states = run(["squeue", "-h", "-o", "%T", "-j", array], env).split()
    state = time.perf_counter() - started
    right = bool(states) and all(s == "PENDING" for s in states)
    run(["scontrol", "release", blocker], env)
    started = time.perf_counter()
    while run(["squeue", "-h", "-o", "%A", "-j", array], env):
        time.sleep(0.2)
    return {"submit": submit, "state": state, "state right": right, "all ended": time.perf_counter() - started}


def with_submitit(env: dict, folder: Path, tasks: int) -> dict:
    import os

    import submitit

    os.environ.update({k: v for k, v in env.items() if k.startswith("SLURM")})
    blocker = run(["sbatch", "--parsable", "--hold", "--output=/dev/null", "--wrap", "true"], env)
    executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=0)
    executor.update_parameters(cpus_per_task=1, additional_parameters={"dependency": f"afterany:{blocker}"})
    started = time.perf_counter()
    jobs = executor.map_array(abs, list(range(tasks)))
    submit = time.perf_counter() - started
    started = time.perf_counter()
    states = [job.state for job in jobs]
    state = time.perf_counter() - started
    right = all(s == "PENDING" for s in states)
    run(["scontrol", "release", blocker], env)
    started = time.perf_counter()
    results = [job.result() for job in jobs]
    assert results == list(range(tasks))
    return {"submit": submit, "state": state, "state right": right, "states seen": sorted(set(states)),
            "all ended": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = ensure_slurm()
    print(f"CPU: {cpu_name()}; {args.tasks} array tasks, {args.repeat} repeats (a shared machine: ratios count)")
    for name, measure in (("sbatch/squeue", plain), ("submitit", with_submitit)):
        rows = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                rows.append(measure(env, Path(folder), args.tasks))
        summary = {key: statistics.median(r[key] for r in rows) for key in ("submit", "state", "all ended")}
        extra = {key: rows[-1][key] for key in rows[-1] if key not in summary}
        print(f"{name:>14}: submit {summary['submit'] * 1000:7.1f} ms, state of every task {summary['state'] * 1000:7.1f}"
              f" ms, all ended after release {summary['all ended']:5.1f} s; {extra}")


if __name__ == "__main__":
    main()
