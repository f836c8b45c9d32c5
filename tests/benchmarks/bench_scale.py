"""Scale-out figures: a 6-fold LOSO with JOBS=1 against JOBS=2, and how much THREADS moves the numbers.

Run by hand (prints its figures; pytest does not collect it):

    python tests/benchmarks/bench_scale.py [--epochs 30] [--subjects 6]

Tiny synthetic features (tests/core_fixtures.py style, two videos a subject); the LOSO runs through
``bash pipeline.sh`` with THREADS=1, so both runs do the same work and JOBS=2 must give the same bytes.
Then the same LOSO with JOBS=1 THREADS=2 (the default on 2 cores), to measure the float-order effect
of the thread count on the epoch metrics and the pooled table.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from core_fixtures import REPO_ROOT, tiny_annotations  # noqa: E402
from dataset.synthetic_features import write_synthetic_features  # noqa: E402


def make_dataset(root: Path, n_subjects: int, epochs: int) -> tuple[Path, list[str]]:
    base = tiny_annotations()
    subjects = [f"subj_{i:02d}" for i in range(n_subjects)]
    parts = []
    for i, subject in enumerate(subjects):  # reuse the three template subjects' rows, renamed
        template = base[base["subject"] == base["subject"].unique()[i % 3]].copy()
        template["video_name"] = template["video_name"].str.replace(template["subject"].iloc[0], subject)
        template["subject"] = subject
        parts.append(template)
    write_synthetic_features(root / "features", pd.concat(parts, ignore_index=True), seed=3, min_rows=600)
    values = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    values.update(segment_feat_root=str(root / "features"), anno_csv=str(root / "features" / "annotations.csv"),
                  adjacency=None, epochs=epochs, epoch_begin=epochs // 2,
                  subject_list=subjects, device="cpu", batch_size=2)
    (root / "config.yaml").write_text(yaml.safe_dump({"bench": values}, sort_keys=False))
    return root / "config.yaml", subjects


def loso(root: Path, config: Path, name: str, jobs: int, threads: int) -> float:
    env = {**os.environ, "DATASET": "bench", "CONFIG": str(config), "OUTPUT": str(root / name), "JOBS": str(jobs),
           "THREADS": str(threads), "PYTHON": sys.executable}
    started = time.perf_counter()
    result = subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"pipeline failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def same_bytes(a: Path, b: Path, subjects: list[str]) -> bool:
    names = ["final_results.csv"] + [f"{s}/{f}" for s in subjects for f in ("best_res.csv", "epoch_metrics.csv")]
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--subjects", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, subjects = make_dataset(root, args.subjects, args.epochs)
        serial = loso(root, config, "jobs1", jobs=1, threads=1)
        parallel = loso(root, config, "jobs2", jobs=2, threads=1)
        print(f"{args.subjects}-fold LOSO, {args.epochs} epochs, THREADS=1, {os.cpu_count()} cores: "
              f"JOBS=1 {serial:.1f} s, JOBS=2 {parallel:.1f} s, ratio {serial / parallel:.2f}x; "
              f"byte-identical: {same_bytes(root / 'jobs1', root / 'jobs2', subjects)}")
        loso(root, config, "threads2", jobs=1, threads=2)
        print(f"THREADS=2 against THREADS=1: byte-identical: {same_bytes(root / 'jobs1', root / 'threads2', subjects)}")
        for subject in subjects:
            one = pd.read_csv(root / "jobs1" / subject / "epoch_metrics.csv").set_index("epoch")
            two = pd.read_csv(root / "threads2" / subject / "epoch_metrics.csv").set_index("epoch")
            common = one.index.intersection(two.index)
            delta = (one.loc[common, "all_f1"] - two.loc[common, "all_f1"]).abs()
            print(f"  {subject}: epochs with proposals {len(one)} vs {len(two)}, all_f1 differs on "
                  f"{int((delta > 0).sum())} of {len(common)} common epochs (max |diff| {delta.max():.4f})")
        tables = [pd.read_csv(root / n / "final_results.csv").set_index("type")["f1"] for n in ("jobs1", "threads2")]
        print("pooled F1 THREADS=1 / THREADS=2: " + ", ".join(
            f"{t} {tables[0][t]:.4f} / {tables[1][t]:.4f}" for t in ("micro", "macro", "overall")))


if __name__ == "__main__":
    main()
