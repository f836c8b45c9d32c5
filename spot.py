"""Spot macro- and micro-expressions in recordings with a trained LOSO run (or the published checkpoints).

python spot.py INPUT [INPUT ...] --run RUN_DIR [--dataset D] [--config FILE] [--folds all|S1,S2,...]
               [--epoch selected|last|N] [--out DIR] [--device DEV] [--flow M] [--face-detect M] [--fps F] [--video]
               [--anno TABLE|FILE.eaf] [--no-report] [--face largest|left|right|N | --faces all]

INPUT: a video file OpenCV reads, or a folder of frame images (ordered by the one number in each name;
hidden files and ._ sidecars are ignored).
Writes <out>/<input name>/spots.csv, spots.json, spots.eaf (ELAN), timeline.png, report.html and preview.webm
(default --out: <RUN_DIR>/spots); an input named like another one, in this command or spotted before into the
same --out, gets <input name>-N. With a final model in RUN_DIR/final/ (FINAL=1 bash pipeline.sh) and no
--folds, that model is used; otherwise the fold ensemble. The face is followed when it moves; with several
faces, --face chooses one and --faces all spots each into <input name>/face-N/ (docs/spot.md).
Inputs are tasks of pipeline.sh's runners (JOBS, THREADS, LAUNCHER=slurm, SLURM_WAIT, FORCE); a rerun skips
those spotted before into the same --out with the same models and settings.
"""
import os
from pathlib import Path

from utils.cli import Parser, add_config, add_dataset
from utils.errors import exit_process, run_cli
from utils.registry import FLOW_METHODS


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="video file or frame folder")
    parser.add_argument("--run", required=True, type=Path, help="run folder (pipeline.sh output or published checkpoints)")
    add_dataset(parser, required=False, help="config section; default: the one the run was trained on (mesynth when "
                                             "it records none)")
    add_config(parser)
    parser.add_argument("--folds", default="all", help="all (default) or comma-separated subjects")
    parser.add_argument("--epoch", default="selected", help="selected (eval_info.json, default), last, or a number")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default <RUN_DIR>/spots)")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default: the config's device)")
    parser.add_argument("--flow", default=None, choices=FLOW_METHODS,
                        help="optical flow; default: the run's recorded settings")
    parser.add_argument("--face-detect", default=None, help="full|fast; default: the run's recorded settings")
    parser.add_argument("--fps", default=None,
                        help="frame rate of the inputs (default: a video's own, the dataset's for a frame folder)")
    parser.add_argument("--video", action="store_true", help="also write annotated.webm: the face box and a label while an interval is active")
    parser.add_argument("--anno", type=Path, default=None,
                        help="annotation table (paper's CSV format) or ELAN .eaf: inputs that are its videos get a ground-truth lane")
    parser.add_argument("--no-report", action="store_true", help="skip report.html and preview.webm (spots.eaf is still written)")
    faces = parser.add_mutually_exclusive_group()
    faces.add_argument("--face", default="largest",
                       help="the face to spot when there are several: largest (default), left, right, or N, the "
                            "N-th from the left on the first frame with a face")
    faces.add_argument("--faces", choices=("all",), default=None,
                       help="all: spot each face of the first frame with a face on its own, into <input>/face-N/")
    args = parser.parse_args(argv)
    if args.epoch not in ("selected", "last") and not args.epoch.isdigit():
        parser.error(f"--epoch must be selected, last or a number, got {args.epoch!r}")

    def run() -> int:
        from model.spotting.helper import ExtractionHelper

        helper = ExtractionHelper.start()  # first: it loads dlib while this process imports torch
        try:
            return spot_with(helper)
        finally:
            if helper is not None:
                helper.close()

    def spot_with(helper) -> int:
        from feature_extraction.recording import ALL_FACES, frame_rate
        from feature_extraction.tracking import face_choice
        from model.spotting.options import SpotOptions, fold_list
        from model.spotting.plan import first_request
        from pipeline.request import request_from_env
        from utils.cli import reuse_freed_memory

        options = SpotOptions(inputs=tuple(args.inputs), run=args.run, dataset=args.dataset, config=args.config,
                              folds=fold_list(args.folds), epoch=args.epoch, out=args.out, device=args.device,
                              flow=args.flow, face_detect=args.face_detect,
                              fps=None if args.fps is None else frame_rate(args.fps), video=args.video,
                              anno=args.anno, report=not args.no_report,
                              face=ALL_FACES if args.faces else face_choice(args.face))
        if helper is not None and request_from_env(os.environ).inline:
            helper.offer(first_request(options))  # before torch is imported: the helper starts on it meanwhile
        from pipeline.spot import spot_inputs

        reuse_freed_memory()
        return spot_inputs(options, helper=helper)

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
