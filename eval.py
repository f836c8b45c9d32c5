"""Evaluate one fold's checkpoints (own or published) and pick an epoch.

python eval.py --dataset <section: cas(me)^2|samm|cas(me)^3|mesynth|yours> --output <dir> --subject <subject> [--config FILE]
               [--device DEV] [--matching RULE] [--selection PROTOCOL] [--checkpoints DIR] [--seed N]
(--help lists the matching rules and selection protocols)
"""
from pathlib import Path

from utils.cli import check_run_folders, config_device, fold_parser, reuse_freed_memory
from utils.errors import exit_process, run_cli
from utils.matching import MATCHING_RULES
from utils.selection import SELECTION_PROTOCOLS, SelectionSettings


def main(argv: list[str] | None = None) -> int:
    parser = fold_parser(__doc__.strip().splitlines()[0])
    parser.add_argument("--matching", default=None, choices=MATCHING_RULES,
                        help="matching rule (default: the config's, 'published')")
    parser.add_argument("--selection", default=None, choices=SELECTION_PROTOCOLS,
                        help="epoch selection (default: the config's; best-on-test is the paper's, optimistic; "
                             "inner-cv trains inner models on the training subjects when they are missing)")
    parser.add_argument("--seed", type=int, default=None,
                        help="training seed of the inner models of inner-cv (default: the config's seed)")
    parser.add_argument("--checkpoints", default=None, type=Path,
                        help="read checkpoints from DIR/<subject>/models (e.g. the authors' archive), only read; "
                             "every result goes under --output")
    args = parser.parse_args(argv)

    def run() -> None:
        check_run_folders(args.output, args.subject, args.checkpoints)
        reuse_freed_memory()
        from utils.config import check_subject, load_config
        from dataset.settings import DataSettings
        from model.evaluation import evaluate_fold

        config = load_config(args.dataset, args.config).with_overrides(
            device=args.device, matching=args.matching, selection=args.selection, seed=args.seed)
        check_subject(args.subject, DataSettings.from_config(config).subjects)  # before the inner models train
        device = config_device(config)
        inner = None
        if SelectionSettings.from_config(config).protocol.uses_inner_models:
            from pipeline.inner import fold_inner_selection
            inner = fold_inner_selection(config, args.output, args.subject)
        info = evaluate_fold(config, args.subject, args.output, device, show_progress=not args.quiet,
                             checkpoints_root=args.checkpoints, inner=inner)
        print(f"evaluated {args.subject}: {info['epochs_evaluated']} checkpoints, matching {info['matching']}, "
              f"selection {info['selection']} -> epoch {info['selected_epoch']}")
        if info["note"]:
            print(f"note: {info['note']}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
