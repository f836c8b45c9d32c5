"""Synthetic segment files shaped like a real feature archive, for tests and benchmarks.

Features are small noise plus a smooth bump on a few ROIs inside every
annotated interval (brows for micro, mouth for macro), so a model can learn
something; labels come from the real label rules (feature_extraction.segments).

python -m dataset.synthetic_features --anno CSV --out DIR [--seed 0] [--min-rows 2000]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from feature_extraction.segments import frame_labels, write_annotation_csv, write_video_segments
from utils.annotations import MACRO, MICRO, NAME_COLUMNS, read_annotation_table
from utils.errors import exit_process
from utils.indexing import FEATURE_ROW_SHAPE
from utils.names import check_path_name

# Which ROIs move and how much (feature units, about px / 20), per type.
MOTION = {MICRO: (np.array([0, 1, 4, 5]), 0.06), MACRO: (np.array([8, 9, 10, 11]), 0.25)}


def video_lengths(annotations: pd.DataFrame, min_rows: int, rng: np.random.Generator) -> dict[str, int]:
    """Rows per video: past its last annotated frame, at least ``min_rows``."""
    last = annotations.groupby("video_name")[["start_frame", "apex_frame", "end_frame"]].max().max(axis=1)
    margin = rng.integers(50, 400, size=len(last))
    return {video: int(max(min_rows, frame + extra)) for (video, frame), extra in zip(last.items(), margin)}


def synthetic_video_features(n_rows: int, rows: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """``(n_rows, 12, 2)`` float32: noise plus a sine bump on the type's ROIs over each [start, end]."""
    features = rng.normal(0.0, 0.02, size=(n_rows, *FEATURE_ROW_SHAPE)).astype(np.float32)
    for start, end, type_idx in rows[["start_frame", "end_frame", "type_idx"]].to_numpy():
        if type_idx not in MOTION or start <= 0 or end <= start:
            continue
        rois, amplitude = MOTION[type_idx]
        end = min(end, n_rows - 1)
        profile = np.sin(np.linspace(0, np.pi, end - start + 1)) * amplitude
        features[start:end + 1, rois, 1] -= profile[:, None]
    return features


def write_synthetic_features(out_root: Path, annotations: pd.DataFrame, seed: int = 0, min_rows: int = 2000,
                             show_progress: bool = False, source: str | Path = "annotation table") -> dict[str, int]:
    """Write ``train/`` and ``test/`` segment files and ``annotations.csv`` for every annotated video.

    Every subject and video name becomes a folder or file name: one that cannot (``../x``) is refused in one
    line naming ``source`` (the sheet the table came from) before anything is written.
    """
    for column in NAME_COLUMNS:
        for name in annotations[column].unique():
            check_path_name(name, source, column)
    rng = np.random.default_rng(seed)
    lengths = video_lengths(annotations, min_rows, rng)
    by_video = dict(tuple(annotations.groupby("video_name", sort=True)))
    for video, n_rows in tqdm(sorted(lengths.items()), desc="synthetic videos", disable=not show_progress):
        rows = by_video[video]
        features = synthetic_video_features(n_rows, rows, rng)
        write_video_segments(out_root, rows["subject"].iloc[0], video, features, frame_labels(n_rows, rows))
    write_annotation_csv(Path(out_root) / "annotations.csv", annotations)
    return lengths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic feature archive for an annotation table.")
    parser.add_argument("--anno", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-rows", type=int, default=2000)
    args = parser.parse_args(argv)
    from utils.errors import run_cli

    def run() -> None:
        lengths = write_synthetic_features(args.out, read_annotation_table(args.anno), args.seed, args.min_rows,
                                           show_progress=True, source=args.anno)
        print(f"wrote {len(lengths)} videos, {sum(lengths.values())} rows to {args.out}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
