"""Benchmark: evaluate one fold's 85 checkpoints, this project's batched evaluation against a
published-style per-checkpoint loop, in the same run on the same checkpoints.

python tests/benchmarks/bench_eval.py [--anno ../shared/data/casme2_annotations.csv] [--subject casme_015]
                                      [--epochs 100] [--keep DIR]

The features are synthetic at CAS(ME)^2 scale (bench_core.py's generator). The checkpoints are
written from one short training run's model with perturbed weights (training time is not what is
measured here). The reference does what the published evaluation does per epoch: load the
checkpoint into a model, run the test windows, then find proposals with Python loops over
windows and frames, NMS, and write the CSVs. Both are timed in-process, after imports.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from dataset.segments import test_windows  # noqa: E402
from dataset.synthetic_features import write_synthetic_features  # noqa: E402
from dataset.targets import normalise_features  # noqa: E402
from model.auwgcn import AUWGCN  # noqa: E402
from model.evaluation import evaluate_fold  # noqa: E402
from model.scoring import TYPES, load_state_dict, predict  # noqa: E402
from model.training import save_checkpoint  # noqa: E402
from utils.annotations import read_annotation_table  # noqa: E402
from utils.config import load_config  # noqa: E402
from utils.nms import nms  # noqa: E402
from utils.proposals import proposal_params_from_config  # noqa: E402


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


def published_style(config, checkpoints: dict[int, Path], windows, out: Path) -> None:
    inputs = torch.from_numpy(normalise_features(windows.features))
    top_k = {2: config["nms_top_K_micro"], 1: config["nms_top_K_macro"]}
    out.mkdir(parents=True, exist_ok=True)
    for epoch, path in checkpoints.items():
        state = load_state_dict(path)
        model = AUWGCN(state["graph_embedding.0.gc1.adj"])
        model.load_state_dict(state)
        scores = predict(model, inputs)
        rows = []
        for t, name in TYPES.items():
            rows += loop_proposals(scores.start[t], scores.end[t], scores.apex[t], windows.offsets,
                                   windows.video_names, proposal_params_from_config(config, name))
        table = pd.DataFrame(rows, columns=["video_name", "start_frame", "end_frame", "start_score", "end_score",
                                            "apex_score", "type_idx", "score"])
        table.to_csv(out / f"proposals_epoch_{epoch:03d}.csv", index=False)
        if len(table):
            nms(table, top_k).to_csv(out / f"final_proposals_epoch_{epoch:03d}.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anno", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "casme2_annotations.csv")
    parser.add_argument("--subject", default="casme_015")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    if not args.anno.is_file():
        raise SystemExit(f"benchmark: {args.anno} not found (the paper's CAS(ME)^2 table, ../shared/data)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="auwgcn-bench-eval-"))
    annotations = read_annotation_table(args.anno)
    write_synthetic_features(work / "features", annotations, seed=0, min_rows=2000)
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(segment_feat_root=str(work / "features"), anno_csv=str(work / "features" / "annotations.csv"),
                   adjacency=str(work / "adjacency.npy"), subject_list=sorted(annotations["subject"].unique()),
                   epochs=args.epochs, device="cpu")
    (work / "config.yaml").write_text(yaml.safe_dump({"cas(me)^2": section}))
    config = load_config("cas(me)^2", work / "config.yaml")

    # Checkpoints whose apex channel fires on some frames, so proposals are found as after training.
    generator = torch.Generator().manual_seed(0)
    model = AUWGCN(torch.rand(12, 12, generator=generator))
    layout_root = work / "run" / args.subject / "models"
    for epoch in range(args.epochs):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.02 * torch.randn(parameter.shape, generator=generator))
        save_checkpoint(layout_root / f"checkpoint_epoch_{epoch:03d}.pth.tar", epoch, model)
    checkpoints = {e: layout_root / f"checkpoint_epoch_{e:03d}.pth.tar" for e in range(config["epoch_begin"], args.epochs)}
    windows = test_windows(work / "features", args.subject)

    started = time.perf_counter()
    evaluate_fold(config, args.subject, work / "run", torch.device("cpu"), show_progress=False)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    published_style(config, checkpoints, windows, work / "reference")
    reference = time.perf_counter() - started
    print(f"fold {args.subject}: {len(checkpoints)} checkpoints, {len(windows)} test windows, "
          f"torch threads {torch.get_num_threads()}")
    print(f"evaluation (batched, this project): {ours:.2f} s")
    print(f"published-style per-checkpoint loop: {reference:.2f} s")
    print(f"ratio: {reference / ours:.1f}x")


if __name__ == "__main__":
    main()
