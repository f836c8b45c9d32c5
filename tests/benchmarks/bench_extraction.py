"""Feature-extraction speed: frames/s per flow method, face-detection mode and --jobs, and ms/frame per stage.

Run by hand (prints its figures; pytest does not collect it):

    python tests/benchmarks/bench_extraction.py [--videos 4] [--frames 300] [--tvl1-frames 16] [--face-px 250]

Footage: matplotlib's sample face photo placed in 640 x 480 frames with a
small head drift (``tests/fx_footage.py``), written as JPEG into a temporary
CAS(ME)^2-layout tree (``rawpic/s15/15_0101disgustingteeth/img001.jpg`` ...);
the crop (the dlib face box) is about 0.9 x ``--face-px`` square (printed).
The batch runs through ``feature_extraction.batch.extract_all``, the code the
CLI uses (worker start-up included in the wall time), without writing
segments. DIS runs with both face-detection modes (``fast``, its default, and
``full``, the published one), so the "all but flow" figures show what full-
resolution detection costs per frame; TV-L1 runs with its default ``full``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
os.environ.setdefault("TQDM_DISABLE", "1")  # figures only: no per-video progress bars
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from feature_extraction.adapters import discover_videos  # noqa: E402
from feature_extraction.adapters.casme2 import CASME2_CODES  # noqa: E402
from feature_extraction.batch import extract_all  # noqa: E402
from feature_extraction.face import FaceLandmarker, to_gray  # noqa: E402
from feature_extraction.settings import FlowSettings  # noqa: E402
from feature_extraction.video import STAGES  # noqa: E402
from fx_footage import HEAD_PERIOD, face_frames, write_frames  # noqa: E402


def make_tree(root: Path, n_videos: int, n_frames: int, face_px: int) -> None:
    """``n_videos`` CAS(ME)^2-layout folders of ``n_frames`` JPEG frames each (one period, repeated)."""
    period = face_frames(HEAD_PERIOD, face_px=face_px)
    frames = [period[t % HEAD_PERIOD] for t in range(n_frames)]
    for code, name in list(CASME2_CODES.items())[:n_videos]:
        write_frames(root / "rawpic" / "s15" / f"15_{code}{name}", frames)


def run(videos, settings: FlowSettings, jobs: int, out: Path) -> tuple[float, int, dict[str, float]]:
    """(wall seconds, frames, summed stage seconds) for one batch."""
    started = time.perf_counter()
    outcomes = list(extract_all(videos, settings, out, jobs))
    seconds = time.perf_counter() - started
    failed = [f"{o.video.video_name}: {o.reason}" for o in outcomes if o.status == "failed"]
    if failed:
        raise SystemExit(f"benchmark footage failed: {failed}")
    stages = {stage: sum(o.result.stage_seconds[stage] for o in outcomes) for stage in STAGES}
    return seconds, sum(o.result.n_frames for o in outcomes), stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=300, help="frames per video for DIS")
    parser.add_argument("--tvl1-frames", type=int, default=16, help="frames per video for TV-L1 (~0.4 s each)")
    parser.add_argument("--face-px", type=int, default=280, help="photo face width (crop ~0.9x)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        make_tree(temp / "dis", args.videos, args.frames, args.face_px)
        make_tree(temp / "tvl1", args.videos, args.tvl1_frames, args.face_px)
        first = next(iter((temp / "dis").rglob("img001.jpg")))
        box = FaceLandmarker().face_box(to_gray(cv2.imread(str(first))))
        print(f"footage: {args.videos} videos, 640x480 JPEG, crop {box[1] - box[0] + 1} x {box[3] - box[2] + 1} px; "
              f"{args.frames} frames each for DIS, {args.tvl1_frames} for TV-L1")
        # DIS FAST beside the default MEDIUM: the ratio of their frames/s is what the preset costs.
        for method, face_detect, preset in (("dis", "fast", "medium"), ("dis", "fast", "fast"), ("dis", "full", "medium"),
                                            ("tvl1", "full", "medium")):
            videos, _ = discover_videos("cas(me)^2", temp / method)
            settings = FlowSettings(method, face_detect=face_detect, dis_preset=preset)
            for jobs in (1, 2):
                seconds, n_frames, stages = run(videos, settings, jobs, temp / f"out_{settings.key}_{jobs}")
                per_frame = {stage: 1000 * value / n_frames for stage, value in stages.items()}
                rest = sum(value for stage, value in per_frame.items() if stage != "flow")
                print(f"{settings.key} --jobs {jobs}: {n_frames / seconds:7.1f} frames/s "
                      f"({n_frames} frames in {seconds:.2f} s)")
                print("    ms/frame (summed over workers): "
                      + ", ".join(f"{stage} {value:.2f}" for stage, value in per_frame.items())
                      + f"; all but flow {rest:.2f}")
    print(f"numpy {np.__version__}; 2 jobs = 2 spawned workers with cv2.setNumThreads(1); "
          "1 job = this process with OpenCV's default threads")


if __name__ == "__main__":
    main()
