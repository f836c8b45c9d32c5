"""Make a dataset section ready for training: generate the demo videos, extract features.

python -m dataset.prepare --dataset D [--config FILE] [--jobs N] [--shard K/N | --render-only]

* A section with ``synth_*`` keys (the bundled ``mesynth`` demo) has its raw videos
  generated under ``raw_root`` when they are not there yet.
* A section with ``raw_root`` has its features extracted into ``segment_feat_root``
  (``python -m feature_extraction``; finished videos are cached, so a rerun is quick).
  When the extraction exits non-zero but every subject of ``subject_list`` has its
  features, preparation goes on with a note (a bad video elsewhere must not block reruns).
  ``--shard K/N`` extracts only that shard (a Slurm array task); the last shard merges.
  ``--render-only`` generates the demo videos and stops (nothing to do for other sections):
  the Slurm launcher runs it before the shard array, so that shards never render the same
  tree at once.
* Any other section must already have its feature archive: checked here, so the
  pipeline stops before training with one line saying what is missing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from feature_extraction.adapters import DATASETS
from feature_extraction.flow import DEFAULT_FLOW
from utils.config import DatasetConfig, load_config
from utils.errors import UserError, run_cli


def generate_demo_videos(config: DatasetConfig, jobs: int) -> None:
    from dataset.mesynth import generate_dataset

    try:
        generate_dataset(Path(config["raw_root"]), seed=config["synth_seed"], n_subjects=config["synth_subjects"],
                         videos_per_subject=config["synth_videos_per_subject"],
                         frames_per_video=config["synth_frames_per_video"], jobs=jobs)
    except ValueError as error:
        raise UserError(str(error)) from None


def raw_layout(config: DatasetConfig) -> str:
    """The adapter for ``raw_root``: the ``raw_layout`` key, else the section name if it names one, else generic."""
    if config.get("raw_layout"):
        return config["raw_layout"]
    return config.name if config.name in DATASETS else "generic"


def extract_features(config: DatasetConfig, jobs: int, shard: str | None = None) -> None:
    from feature_extraction.__main__ import main as extract

    argv = ["--dataset", raw_layout(config),
            "--raw-root", config["raw_root"], "--out", config["segment_feat_root"],
            "--flow", config.get("extraction_flow", DEFAULT_FLOW), "--jobs", str(jobs)]
    if config.get("raw_anno"):
        argv += ["--anno", config["raw_anno"]]
    if shard:
        argv += ["--shard", shard]
    status = extract(argv)
    if status != 0:
        missing = missing_feature_subjects(config)
        if missing:
            raise UserError(f"{config['raw_root']}: feature extraction failed (exit {status}) and "
                            f"{len(missing)} subject(s) of subject_list have no features ({', '.join(missing[:3])}"
                            f"{' ...' if len(missing) > 3 else ''}); see the messages above")
        # A failed or skipped video outside what the folds read must not stop every rerun.
        print(f"note: feature extraction exited {status} (see above), but every subject of subject_list has its "
              f"features in {config['segment_feat_root']}: going on", file=sys.stderr)


def missing_feature_subjects(config: DatasetConfig) -> list[str]:
    """Subjects of ``subject_list`` without a window file under ``train/`` or ``test/``."""
    root = Path(config["segment_feat_root"])
    return [subject for subject in config["subject_list"]
            if not all(any((root / split / subject).glob("*.npz")) for split in ("train", "test"))]


def prepare(config: DatasetConfig, jobs: int, shard: str | None = None, render_only: bool = False) -> None:
    if config.get("synth_seed") is not None:
        generate_demo_videos(config, jobs)
    if render_only:
        return
    if config.get("raw_root"):
        extract_features(config, jobs, shard)
        if shard:  # the archive is complete only once the last shard has merged
            return
    root = Path(config["segment_feat_root"])
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise UserError(f"{root}: no feature archive (train/ and test/); set segment_feat_root in "
                        f"{config.source} to the unpacked published features, or set raw_root to extract them")
    if not Path(config["anno_csv"]).is_file():
        raise UserError(f"{config['anno_csv']}: annotation file not found (anno_csv in {config.source})")


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate / extract what a dataset section needs before training.")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for generation and extraction")
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--shard", default=None, metavar="K/N", help="extract only shard K of N (feature_extraction)")
    step.add_argument("--render-only", action="store_true", help="only generate the demo videos (synth_* sections)")
    args = parser.parse_args()
    run_cli(lambda: prepare(load_config(args.dataset, args.config), max(1, args.jobs), args.shard, args.render_only))


if __name__ == "__main__":
    main()
