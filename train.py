"""Train one leave-one-subject-out fold.

python train.py --dataset <cas(me)^2|samm|mesynth> --output <dir> --subject <subject> [--config FILE] [--device DEV]
"""
import argparse
from pathlib import Path

from utils.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--dataset", required=True, help="config section, e.g. cas(me)^2, samm, mesynth")
    parser.add_argument("--output", required=True, type=Path, help="run folder; the fold goes to <output>/<subject>")
    parser.add_argument("--subject", required=True, help="held-out subject, e.g. casme_015")
    parser.add_argument("--config", default=None, help="config file (default: config.yaml beside this script)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 or auto (default: the config's device)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()

    def run() -> None:
        from model.training import resolve_device, train_fold
        from utils.config import load_config

        config = load_config(args.dataset, args.config).with_overrides(device=args.device)
        layout = train_fold(config, args.subject, args.output, resolve_device(config["device"]),
                            show_progress=not args.quiet)
        print(f"trained {args.subject}: {config['epochs']} checkpoints in {layout.models}")

    run_cli(run)


if __name__ == "__main__":
    main()
