"""A rerun of feature extraction over a fully cached tree, as a fraction of the first run.

Run by hand (prints its figures; pytest does not collect it):

    python tests/benchmarks/bench_extraction_rerun.py [--videos 4] [--frames 120] [--faceless 1] [--flow dis]
                                                      [--jobs 2]

Footage: the sample face of ``tests/fx_footage.py`` in 640 x 480 frames, half the videos as MJPG video
files (decoding them is what a rerun used to repeat), half as JPEG frame folders, in a generic-layout
tree; plus ``--faceless`` MJPG clips of the same length without a face (they fail: no face on any frame;
a rerun used to decode them again, as their failure was not cached). Both runs go through ``python -m
feature_extraction``'s ``main`` in this process, so the figure is the extraction's own (no interpreter
start-up). The rerun must report every face video as cached and every faceless one as a cached failure.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
os.environ.setdefault("TQDM_DISABLE", "1")
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from feature_extraction.__main__ import main as extract  # noqa: E402
from fx_footage import HEAD_PERIOD, face_frames, write_frames  # noqa: E402


def write_clip(path: Path, frames: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()


def make_tree(raw: Path, n_videos: int, n_frames: int, n_faceless: int) -> None:
    period = face_frames(HEAD_PERIOD, face_px=250)
    frames = [period[t % HEAD_PERIOD] for t in range(n_frames)]
    for index in range(n_videos):
        subject = raw / f"subj{index % 2}"
        if index % 2:
            write_frames(subject / f"vid{index}", frames)
        else:
            write_clip(subject / f"vid{index}.avi", frames)
    blank = [np.full_like(frames[0], 128)] * n_frames
    for index in range(n_faceless):
        write_clip(raw / "subj0" / f"faceless{index}.avi", blank)


def timed(argv: list[str], expected_status: int) -> tuple[float, str]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = extract(argv)
    seconds = time.perf_counter() - started
    if status != expected_status:
        sys.exit(f"extraction failed (exit {status}):\n{out.getvalue()[-2000:]}")
    return seconds, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--faceless", type=int, default=1)
    parser.add_argument("--flow", default="dis")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw", Path(tmp) / "out"
        make_tree(raw, args.videos, args.frames, args.faceless)
        argv = ["--layout", "generic", "--raw-root", str(raw), "--out", str(out), "--flow", args.flow,
                "--jobs", str(args.jobs)]
        status = 1 if args.faceless else 0
        first, _ = timed(argv, status)
        rerun, summary = timed(argv, status)
        known = f" ({args.faceless} known from the cache)" if args.faceless else ""
        assert f"0 extracted, {args.videos} skipped (cached), {args.faceless} failed{known}" in summary, summary
        print(f"{args.videos} videos + {args.faceless} faceless x {args.frames} frames, --flow {args.flow}, "
              f"--jobs {args.jobs}: first run {first:.2f} s, cached rerun {rerun:.3f} s = "
              f"{100 * rerun / first:.1f}% of the first run")


if __name__ == "__main__":
    main()
