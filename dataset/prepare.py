"""What a dataset section needs before training, as steps the pipeline's feature tasks run (pipeline/tasks.py):
render the demo's videos, extract a shard of ``raw_root`` into the cache, merge the archive.

python -m dataset.prepare --dataset D [--config FILE] [--jobs N]     all of it, unsharded, no task graph

* A section with ``synth_*`` keys (the bundled ``mesynth`` demo) has its raw videos generated under
  ``raw_root`` (:func:`render`).
* A section with ``raw_root`` has its features extracted into ``segment_feat_root``: each shard writes its
  videos' cache entries (:func:`extract_shard`, finished videos are cached), then :func:`merge` writes the
  windows, ``annotations.csv``, the extraction record and the content manifest from the caches. A video whose
  failure the same frames and settings repeat (no face, an unopenable file) is listed and has no windows;
  any other failure fails the step, so that a rerun tries the video again.
* Any other section must already have its feature archive (:func:`check_archive`): one line saying what is
  missing, before any training.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from dataset.settings import DataSettings, ExtractionSettings, RenderSettings
from feature_extraction.flow import DEFAULT_FLOW
from utils.config import DatasetConfig, load_config
from utils.errors import UserError, exit_process, run_cli
from utils.layout import FeatureLayout


def render(settings: RenderSettings, jobs: int) -> None:
    """Generate the demo's raw videos under ``raw_root`` (the generator leaves a finished tree of the same
    parameters as it is)."""
    from dataset.mesynth import generate_dataset

    try:
        generate_dataset(settings.raw_root, seed=settings.seed, n_subjects=settings.subjects,
                         videos_per_subject=settings.videos_per_subject, frames_per_video=settings.frames_per_video,
                         jobs=jobs)
    except ValueError as error:
        raise UserError(str(error)) from None


def remove_rendered(raw_root: Path) -> None:
    """Remove a raw tree the demo generator wrote (one holding its marker); any other folder is left alone."""
    from dataset.mesynth.generate import COMPLETE_MARKER, IN_PROGRESS_MARKER

    raw_root = Path(raw_root)
    if (raw_root / COMPLETE_MARKER).is_file() or (raw_root / IN_PROGRESS_MARKER).is_file():
        shutil.rmtree(raw_root)


def extraction_request(settings: ExtractionSettings, jobs: int, shard: tuple[int, int] | None = None):
    """The feature extraction of this section (feature_extraction's function API)."""
    from feature_extraction.__main__ import Extraction
    from feature_extraction.settings import FlowSettings

    return Extraction(layout=settings.layout, raw_root=settings.raw_root, out=settings.features,
                      settings=FlowSettings(settings.flow or DEFAULT_FLOW), anno=settings.sheet, jobs=jobs,
                      shard=shard)


def _check(step: str, settings: ExtractionSettings, outcomes) -> None:
    """A failure the same inputs would not repeat (a crash, a full disk) fails the step; cached ones do not."""
    passing = [o for o in outcomes if o.status == "failed" and not o.cached_failure]
    if passing:
        names = ", ".join(o.video.video_name for o in passing[:3]) + (" ..." if len(passing) > 3 else "")
        raise UserError(f"{settings.raw_root}: feature {step} failed for {len(passing)} video(s) ({names}); "
                        "see FAILED above; a rerun tries them again")


def extract_shard(settings: ExtractionSettings, jobs: int, shard: int, shards: int) -> None:
    """Extract shard ``shard`` of ``shards`` of ``raw_root`` into the cache (no window is written)."""
    from feature_extraction.__main__ import extract

    _, outcomes = extract(extraction_request(settings, jobs, (shard, shards)))
    _check(f"extraction (shard {shard}/{shards})", settings, outcomes)


def merge(settings: ExtractionSettings, jobs: int) -> None:
    """Write the archive (windows, annotations.csv, record, manifest) from the cached extractions."""
    from feature_extraction.__main__ import merge as merge_caches

    _, outcomes = merge_caches(extraction_request(settings, jobs))
    _check("merge", settings, outcomes)


def check_archive(data: DataSettings, source: Path) -> None:
    """A section's feature archive and annotation table are there: else one line saying what is missing
    (``source``: the config file, named in it)."""
    root = FeatureLayout(data.features).root
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise UserError(f"{root}: no feature archive (train/ and test/); set segment_feat_root in "
                        f"{source} to the unpacked published features, or set raw_root to extract them")
    if not data.annotations.is_file():
        raise UserError(f"{data.annotations}: annotation file not found (anno_csv in {source})")


def prepare(config: DatasetConfig, jobs: int) -> None:
    """Every step, unsharded: render (demo), extract and merge (raw_root), then check the archive."""
    rendering = RenderSettings.from_config(config)
    if rendering is not None:
        render(rendering, jobs)
    extraction = ExtractionSettings.from_config(config)
    if extraction is not None:
        extract_shard(extraction, jobs, 1, 1)
        merge(extraction, jobs)
    check_archive(DataSettings.from_config(config), config.source)


def main(argv: list[str] | None = None) -> int:
    from utils.cli import add_config, add_dataset

    parser = argparse.ArgumentParser(description="Generate / extract what a dataset section needs before training.")
    add_dataset(parser)
    add_config(parser)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for generation and extraction")
    args = parser.parse_args(argv)
    return run_cli(lambda: prepare(load_config(args.dataset, args.config), max(1, args.jobs)))


if __name__ == "__main__":
    exit_process(main())
