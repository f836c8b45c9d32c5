"""Benchmark: one LOSO fold at CAS(ME)^2 scale, train 100 epochs and evaluate 85 checkpoints.

python tests/benchmarks/bench_core.py [--anno ../shared/data/casme2_annotations.csv] [--subject casme_015]
                                      [--device cpu] [--keep DIR]

Synthetic features are generated for every annotated video of the table (about
95 videos, 240k feature rows, 22 subjects); the fold's training set is every
window with an expression outside the held-out subject (about 280 windows).
Prints wall-clock seconds of `python train.py` and `python eval.py` (process
start included) and their peak resident memory.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from dataset.synthetic_features import write_synthetic_features  # noqa: E402
from utils.annotations import read_annotation_table  # noqa: E402


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of this child) for one command run to completion."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = __import__("os").wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"benchmark: {' '.join(command)} failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anno", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "casme2_annotations.csv")
    parser.add_argument("--subject", default="casme_015")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    args = parser.parse_args()
    if not args.anno.is_file():
        raise SystemExit(f"benchmark: {args.anno} not found (the paper's CAS(ME)^2 table, ../shared/data)")

    work = args.keep or Path(tempfile.mkdtemp(prefix="auwgcn-bench-"))
    annotations = read_annotation_table(args.anno)
    started = time.perf_counter()
    lengths = write_synthetic_features(work / "features", annotations, seed=0, min_rows=2000)
    print(f"features: {len(lengths)} videos, {sum(lengths.values())} rows, "
          f"{annotations['subject'].nunique()} subjects, written in {time.perf_counter() - started:.1f} s")

    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(segment_feat_root=str(work / "features"), anno_csv=str(work / "features" / "annotations.csv"),
                   adjacency=None, subject_list=sorted(annotations["subject"].unique()))
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({"cas(me)^2": section}))
    common = ["--dataset", "cas(me)^2", "--config", str(config), "--output", str(work / "run"),
              "--subject", args.subject, "--device", args.device, "--quiet"]

    train_s, train_mb = timed([sys.executable, str(REPO_ROOT / "train.py"), *common])
    eval_s, eval_mb = timed([sys.executable, str(REPO_ROOT / "eval.py"), *common])
    windows = yaml.safe_load((work / "run" / args.subject / "logs" / "config.txt").read_text())["training_windows"]
    checkpoints = len(list((work / "run" / args.subject / "output_csv").glob("*.csv")))
    print(f"fold {args.subject}: {windows} training windows, device {args.device}, "
          f"torch threads {__import__('torch').get_num_threads()}")
    print(f"train: {section['epochs']} epochs in {train_s:.1f} s (peak {train_mb:.0f} MB)")
    print(f"eval: {section['epochs'] - section['epoch_begin']} checkpoints in {eval_s:.2f} s "
          f"({checkpoints} with proposals; peak {eval_mb:.0f} MB)")
    print(f"peak memory of this benchmark's children: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
