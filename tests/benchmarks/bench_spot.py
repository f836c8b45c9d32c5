"""Benchmark: `python spot.py` on a 60 s, 30 fps, 640 x 480 clip against extracting the clip's features alone.

python tests/benchmarks/bench_spot.py [--run data/runs/mesynth] [--dataset mesynth] [--seconds 60]

Needs a demo run (`bash pipeline.sh`). The clip loops the demo's first rendered video (a real face
photo) to the length asked for. Extraction alone is feature_extraction.video.extract_video with the
run's recorded settings, timed in-process; the spot command is timed as a whole process (start-up,
model loading, extraction, inference, proposals, plots). Target: spot <= 1.5 x extraction.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from feature_extraction.face import FaceLandmarker  # noqa: E402
from feature_extraction.recording import extract_recording, open_recording, resample_indices  # noqa: E402
from model.spotting import run_folds, run_settings  # noqa: E402
from utils.config import load_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=REPO_ROOT / "data" / "runs" / "mesynth")
    parser.add_argument("--dataset", default="mesynth")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    config = load_config(args.dataset)
    frames = sorted((Path(config["raw_root"]) / "rawpic").rglob("img*.jpg"),
                    key=lambda p: (p.parent.name, int(p.stem[3:])))
    if not frames:
        raise SystemExit(f"benchmark: no demo frames under {config['raw_root']}: run `bash pipeline.sh` first")
    first_video = [p for p in frames if p.parent == frames[0].parent]
    work = Path(tempfile.mkdtemp(prefix="auwgcn-bench-spot-"))
    clip = work / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    n_frames = int(args.seconds * 30)
    for index in range(n_frames):
        writer.write(cv2.resize(cv2.imread(str(first_video[index % len(first_video)])), (640, 480)))
    writer.release()

    folds = [f for f in run_folds(args.run) if (args.run / f / "eval_info.json").is_file()]  # evaluated folds
    settings, origin = run_settings(args.run, folds)
    recording = open_recording(clip, None, 30.0)
    indices = resample_indices(recording.n_frames, recording.source_fps, float(config.get("fps", 30)))
    started = time.perf_counter()
    extract_recording(recording, indices, settings, FaceLandmarker())
    extraction = time.perf_counter() - started

    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPO_ROOT / "spot.py"), str(clip), "--run", str(args.run),
                             "--dataset", args.dataset, "--epoch", "selected", "--folds", ",".join(folds),
                             "--out", str(work / "spots")],
                            capture_output=True, text=True)
    spot = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"benchmark: spot.py failed: {result.stdout[-800:]}{result.stderr[-800:]}")
    print(f"clip: {n_frames} frames, 640x480, 30 fps; settings {settings} ({origin}); {len(folds)} fold(s)")
    print(f"extraction alone: {extraction:.1f} s")
    print(f"spot.py, whole command: {spot:.1f} s")
    print(f"ratio spot / extraction: {spot / extraction:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
