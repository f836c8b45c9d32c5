"""Train one leave-one-subject-out fold.

python train.py --dataset <section: cas(me)^2|samm|cas(me)^3|mesynth|yours> --output <dir> --subject <subject> [--config FILE] [--device DEV] [--seed N]
"""
from utils.cli import check_run_folders, config_device, fold_parser, reuse_freed_memory
from utils.errors import exit_process, run_cli


def main(argv: list[str] | None = None) -> int:
    parser = fold_parser(__doc__.strip().splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="training seed (default: the config's seed)")
    args = parser.parse_args(argv)

    def run() -> None:
        check_run_folders(args.output, args.subject)
        reuse_freed_memory()
        from model.training import train_fold
        from utils.config import load_config

        config = load_config(args.dataset, args.config).with_overrides(device=args.device, seed=args.seed)
        layout = train_fold(config, args.subject, args.output, config_device(config),
                            show_progress=not args.quiet)
        print(f"trained {args.subject}: {len(layout.checkpoints())} checkpoints in {layout.models}")

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
