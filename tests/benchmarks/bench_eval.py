"""Benchmark: evaluate one fold's 85 checkpoints, this project's evaluation against a plain
published-style evaluation, in the same run on the same trained checkpoints.

python tests/benchmarks/bench_eval.py [--anno ../shared/data/casme2_annotations.csv] [--subject casme_015]
                                      [--epochs 100] [--keep DIR] [--repeats 3]

The features are synthetic at CAS(ME)^2 scale (bench_core.py's generator); the fold is trained
first with ``train.py`` (100 epochs, not timed), so the checkpoints give the proposals a trained
model gives. The reference is the published evaluation written plainly after METHOD.md section 8,
step by step as the published code takes it: per epoch, load the checkpoint into a model, read
the subject's test windows from disk and run them in batches of 128, find proposals frame by
frame in Python, write the proposals CSV, NMS and matching per (video, type) with Python loops,
write the NMS CSV, one metrics row; then the selection. Ours is ``model.evaluation.evaluate_fold``
(every output file of eval.py). Both run in-process, with the allocator setting eval.py makes, after one untimed warm-up, the best
of ``--repeats`` runs is printed, and the reference's per-epoch F1 is checked against ours.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

from core_fixtures import predict  # noqa: E402
from dataset.segments import test_windows  # noqa: E402
from dataset.synthetic_features import write_synthetic_features  # noqa: E402
from dataset.targets import normalise_features  # noqa: E402
from model.auwgcn import AUWGCN  # noqa: E402
from model.evaluation import evaluate_fold  # noqa: E402
from model.scoring import load_state_dict  # noqa: E402
from utils.annotations import EXPRESSION_TYPES  # noqa: E402
from utils.annotations import read_annotation_table, subject_ground_truth  # noqa: E402
from utils.cli import reuse_freed_memory  # noqa: E402
from utils.config import load_config  # noqa: E402
from utils.layout import FoldLayout  # noqa: E402
from utils.proposals import PROPOSAL_COLUMNS, proposal_params_from_config  # noqa: E402

PUBLISHED_BATCH = 128


def loop_proposals(start, end, apex, offsets, videos, params) -> list[tuple]:
    """The published proposal search, frame by frame in Python (METHOD.md 8.2)."""
    rows = []
    for w in range(start.shape[0]):
        for t in range(start.shape[1]):
            if apex[w, t] <= params.apex_threshold:
                continue
            starts = [max(t - d, 0) for d in range(params.left_min, params.left_max + 1)]
            ends = [min(t + d, start.shape[1] - 1) for d in range(params.right_min, params.right_max + 1)]
            s = max(starts, key=lambda f: (start[w, f], -abs(f - t)))
            e = max(ends, key=lambda f: (end[w, f], -abs(f - t)))
            if start[w, s] > end[w, s] and start[w, e] < end[w, e] and params.min_len <= e - s <= params.max_len:
                rows.append((videos[w], s + offsets[w] + 1, e + offsets[w] + 1, start[w, s], end[w, e], apex[w, t],
                             params.type_idx, start[w, s] * end[w, e] * apex[w, t]))
    return rows


def tiou(a_start, a_end, b_start, b_end) -> float:
    inter = max(0, min(a_end, b_end) - max(a_start, b_start))
    union = (a_end - a_start) + (b_end - b_start) - inter
    return inter / union if union > 0 else 0.0


def loop_nms(table: pd.DataFrame, top_k: dict[int, int]) -> pd.DataFrame:
    """METHOD.md 8.3 per (video, type), one proposal at a time."""
    kept = []
    for (_, type_idx), group in table.groupby(["video_name", "type_idx"], sort=True):
        rows = [list(row) for row in group.sort_values("score", ascending=False, kind="stable").itertuples(index=False)]
        chosen = []
        while rows and len(chosen) < top_k[type_idx]:
            best = max(range(len(rows)), key=lambda i: (rows[i][7], -i))
            if rows[best][7] == 0:
                break
            top = rows.pop(best)
            chosen.append(top)
            for row in rows:
                if tiou(top[1], top[2], row[1], row[2]) > 0.5:
                    row[7] = 0.0
        kept += chosen
    return pd.DataFrame(kept, columns=PROPOSAL_COLUMNS)


def loop_counts(kept: pd.DataFrame, truth: pd.DataFrame) -> dict[int, tuple[int, int, int]]:
    """The `published` rule (METHOD.md 8.4), one ground-truth row at a time."""
    counts = {}
    for type_idx in EXPRESSION_TYPES:
        proposals = [row for row in kept.itertuples(index=False) if row.type_idx == type_idx]
        found = set()
        rows = truth[truth["type_idx"] == type_idx]
        for row in rows.itertuples(index=False):
            overlaps = [(tiou(p.start_frame, p.end_frame, row.start_frame, row.end_frame), -i)
                        for i, p in enumerate(proposals) if p.video_name == row.video_name]
            if overlaps and max(overlaps)[0] > 0.5:
                found.add(-max(overlaps)[1])
        counts[type_idx] = (len(found), len(proposals), len(rows))
    return counts


def f1(tp: int, n: int, m: int) -> float:
    precision, recall = (tp / n if n else 0.0), (tp / m if m else 0.0)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def published_style(config, subject: str, checkpoints: dict[int, Path], out: Path) -> dict[int, float]:
    """The plain published-style evaluation of every checkpoint; returns {epoch: all_f1}."""
    truth = subject_ground_truth(read_annotation_table(config["anno_csv"]), subject, config["RATIO_SCALE"])
    top_k = {2: config["nms_top_K_micro"], 1: config["nms_top_K_macro"]}
    out.mkdir(parents=True, exist_ok=True)
    metrics = {}
    for epoch, path in checkpoints.items():
        state = load_state_dict(path)
        model = AUWGCN(state["graph_embedding.0.gc1.adj"])
        model.load_state_dict(state)
        windows = test_windows(Path(config["segment_feat_root"]), subject)  # the published loader reads them per epoch
        rows = []
        for first in range(0, len(windows), PUBLISHED_BATCH):
            batch = slice(first, first + PUBLISHED_BATCH)
            scores = predict(model, torch.from_numpy(normalise_features(windows.features[batch])))
            for t, name in EXPRESSION_TYPES.items():
                rows += loop_proposals(scores.start[t], scores.end[t], scores.apex[t], windows.offsets[batch],
                                       windows.video_names[batch], proposal_params_from_config(config, name))
        if not rows:
            continue
        table = pd.DataFrame(rows, columns=PROPOSAL_COLUMNS)
        table.to_csv(out / f"proposals_epoch_{epoch:03d}.csv", index=False)
        kept = loop_nms(table, top_k)
        kept.to_csv(out / f"final_proposals_epoch_{epoch:03d}.csv", index=False)
        counts = loop_counts(kept, truth)
        metrics[epoch] = f1(*(sum(c[i] for c in counts.values()) for i in range(3)))
    return metrics


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anno", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "casme2_annotations.csv")
    parser.add_argument("--subject", default="casme_015")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="work folder (kept; a trained fold there is reused)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.anno.is_file():
        raise SystemExit(f"benchmark: {args.anno} not found (the paper's CAS(ME)^2 table, ../shared/data)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="auwgcn-bench-eval-"))
    config_path = work / "config.yaml"
    if not config_path.is_file():
        annotations = read_annotation_table(args.anno)
        write_synthetic_features(work / "features", annotations, seed=0, min_rows=2000)
        section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
        section.update(segment_feat_root=str(work / "features"), anno_csv=str(work / "features" / "annotations.csv"),
                       adjacency=None, subject_list=sorted(annotations["subject"].unique()), epochs=args.epochs)
        config_path.write_text(yaml.safe_dump({"cas(me)^2": section}))
    config = load_config("cas(me)^2", config_path)
    layout = FoldLayout.of(work / "run", args.subject)
    if len(layout.checkpoints()) < config["epochs"]:
        print(f"training fold {args.subject} ({config['epochs']} epochs, not timed) ...", flush=True)
        subprocess.run([sys.executable, str(REPO_ROOT / "train.py"), "--dataset", "cas(me)^2", "--config",
                        str(config_path), "--output", str(work / "run"), "--subject", args.subject, "--device", "cpu",
                        "--quiet"], check=True)
    checkpoints = {e: p for e, p in layout.checkpoints().items() if e >= config["epoch_begin"]}
    device = torch.device("cpu")
    reuse_freed_memory()  # as eval.py does, for both evaluations

    first_epoch = min(checkpoints)
    published_style(config, args.subject, {first_epoch: checkpoints[first_epoch]}, work / "warmup")  # warm-up
    ours = best_of(args.repeats, lambda: evaluate_fold(config, args.subject, work / "run", device, show_progress=False))
    reference_metrics = {}
    reference = best_of(args.repeats, lambda: reference_metrics.update(
        published_style(config, args.subject, checkpoints, work / "reference")))

    ours_metrics = pd.read_csv(layout.epoch_metrics).set_index("epoch")["all_f1"].to_dict()
    agree = ours_metrics.keys() == reference_metrics.keys() and all(
        abs(ours_metrics[e] - reference_metrics[e]) < 1e-9 for e in ours_metrics)
    windows = test_windows(Path(config["segment_feat_root"]), args.subject)
    print(f"fold {args.subject}: {len(checkpoints)} checkpoints, {len(windows)} test windows, "
          f"{len(ours_metrics)} epochs with proposals, torch threads {torch.get_num_threads()}, "
          f"best of {args.repeats}")
    print(f"evaluation (this project, every eval.py output): {ours:.2f} s")
    print(f"published-style evaluation (plain, METHOD.md 8): {reference:.2f} s")
    print(f"ratio: {reference / ours:.1f}x; per-epoch all_f1 of the two {'agree' if agree else 'DIFFER'}")


if __name__ == "__main__":
    main()
