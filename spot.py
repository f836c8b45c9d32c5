"""Spot macro- and micro-expressions in recordings with a trained LOSO run (or the published checkpoints).

python spot.py INPUT [INPUT ...] --run RUN_DIR [--dataset D] [--config FILE] [--folds all|S1,S2,...]
               [--epoch selected|last|N] [--out DIR] [--device DEV] [--flow M] [--face-detect M] [--fps F] [--video]

INPUT: a video file OpenCV reads, or a folder of frame images (ordered by the one number in each name;
hidden files and ._ sidecars are ignored).
Writes <out>/<input name>/spots.csv, spots.json and timeline.png (default --out: <RUN_DIR>/spots).
"""
import argparse
from pathlib import Path

from feature_extraction.flow import FLOW_METHODS
from utils.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="video file or frame folder")
    parser.add_argument("--run", required=True, type=Path, help="run folder (pipeline.sh output or published checkpoints)")
    parser.add_argument("--dataset", default="mesynth", help="config section the run was trained with (default mesynth)")
    parser.add_argument("--config", default=None, help="config file (default: config.yaml beside the scripts)")
    parser.add_argument("--folds", default="all", help="all (default) or comma-separated subjects")
    parser.add_argument("--epoch", default="selected", help="selected (eval_info.json, default), last, or a number")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default <RUN_DIR>/spots)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default: the config's device)")
    parser.add_argument("--flow", default=None, choices=FLOW_METHODS,
                        help="optical flow; default: the run's recorded settings")
    parser.add_argument("--face-detect", default=None, help="full|fast; default: the run's recorded settings")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of frame-folder inputs (default: the dataset's fps)")
    parser.add_argument("--video", action="store_true", help="also write annotated.mp4: the face box and a label while an interval is active")
    args = parser.parse_args()
    if args.epoch not in ("selected", "last") and not args.epoch.isdigit():
        parser.error(f"--epoch must be selected, last or a number, got {args.epoch!r}")

    def run() -> int:
        from model.spotting import spot_inputs
        from utils.cli import reuse_freed_memory

        reuse_freed_memory()
        return spot_inputs(args)

    run_cli(run)


if __name__ == "__main__":
    main()
