"""python -m dataset.mesynth --out DIR [--seed 0] [--subjects N] [--videos-per-subject N] [--frames N] [--jobs N]"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from dataset.mesynth.generate import (DEFAULT_FRAMES, DEFAULT_SUBJECTS, DEFAULT_VIDEOS_PER_SUBJECT,
                                      generate_dataset)
from utils.errors import UserError, exit_process, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataset.mesynth", description=(
        "Write a small synthetic face-video dataset in the CAS(ME)^2 raw layout, with its annotation workbook."))
    parser.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subjects", type=int, default=DEFAULT_SUBJECTS)
    parser.add_argument("--videos-per-subject", type=int, default=DEFAULT_VIDEOS_PER_SUBJECT)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames per video (30 fps)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)

    def run() -> None:
        start = time.perf_counter()
        try:
            workbook = generate_dataset(args.out, seed=args.seed, n_subjects=args.subjects,
                                        videos_per_subject=args.videos_per_subject, frames_per_video=args.frames,
                                        jobs=args.jobs)
        except (ValueError, RuntimeError, OSError) as error:
            raise UserError(str(error)) from None
        print(f"demo dataset ready: {workbook} ({time.perf_counter() - start:.1f} s)")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
