"""Extract ROI motion features from a raw dataset copy into segment files.

    python -m feature_extraction --layout LAYOUT --raw-root DIR [--anno FILE] --out DIR
                                 [--flow METHOD] [--no-quantise]
                                 [--face-detect auto|full|fast] [--dis-preset ultrafast|fast|medium]
                                 [--tvl1-params opencv-cpu|published-gpu] [--flow-storage codes|jpeg95]
                                 [--flow-preset published] [--jobs N] [--strict] [--retry-failed]
                                 [--shard K/N | --merge]
    python -m feature_extraction --layout LAYOUT --anno SHEET --out DIR --annotations-only

(``--help`` lists the layouts, the registry of feature_extraction/adapters: cas(me)^2, samm, cas(me)^3,
generic; and the flow methods. ``--dataset`` is the old name of ``--layout`` and still works.)

``--out`` becomes a segment_feat_root (``train/`` and ``test/``, FORMATS.md)
and also receives ``annotations.csv`` (the paper's table) and ``cache/`` (one
npz per extracted video, so a rerun skips finished videos; a cache made with
other settings, by another feature version or other OpenCV / dlib / landmark
model versions, or from frames that changed since is recomputed). A video
that failed in a way the same frames and settings always repeat (no face on
any frame, a video file OpenCV cannot open) is cached as failed: a rerun
lists it as failed without decoding it again; ``--retry-failed`` tries it
again. A video's window files that its current features no longer produce
(it got shorter, or now fails) are removed.

``--face-detect``: how the face box of each cropped frame is found before its
landmarks (feature_extraction/face.py). ``full`` detects at the crop's own
resolution, as published; ``fast`` on a 90 px copy (~0.5 ms instead of ~3 ms
a frame, landmarks ~2 px off). ``auto`` (default) is ``full`` with
``--flow tvl1`` (the published-compatible mode, whose flow costs ~340 ms a
frame anyway) and ``fast`` with dis / farneback (the speed modes).

``--annotations-only`` reads no video: it writes ``<out>/annotations.csv`` from
the official sheet (the ``anno_csv`` a holder of the published feature archive
needs). SAMM-LV offsets past a video cannot then be clipped to its length.

``--shard K/N``: extract only shard K of N (every N-th video of the sorted
names), e.g. as Slurm array tasks or on several machines sharing ``--out``;
a shard writes only its videos' cache entries, never a window, the
annotation table or the record, so an archive never mixes settings. Once
every shard is done, ``--merge`` writes the archive from the caches,
identical to one unsharded run, and extracts nothing (a video no shard
extracted is listed as failed, one extracted with other settings as such).
pipeline.sh runs the merge as its own task after all N shards of the same
settings (pipeline/). Merges take turns (a lock file).

Writing the archive (an unsharded run or ``--merge``) first removes the
record and the manifest, then writes every video's windows, removes the
windows of videos it did not write (no longer in the raw tree, or failed),
and writes ``annotations.csv``, the record (``extraction.json``, which so
describes every window) and the manifest (``manifest.json``, each window
file's content hash, utils/manifest.py).

Exit status: 0 when every video was extracted, warnings or not; 1 when any
video failed or a video folder was skipped (no frames, no frame numbers, an
unknown code, a duplicate name); warnings (a stray entry in the raw tree,
irregular numbering that was handled) are listed at the end and make the
exit status 1 only with ``--strict``; 2
for bad arguments, an unreadable annotation file, or a raw tree or ``--out``
that cannot be read or written (one line naming the path, nothing extracted).
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from feature_extraction.adapters import RAW_LAYOUTS, TreeWarning, count_frames, discover_videos, load_annotations
from feature_extraction.batch import (Outcome, cached_results, error_log_path, extract_all, merge_lock, parse_shard,
                                     select_shard, why_not_cached)
from feature_extraction.face import DETECT_MODES, landmark_model_path
from feature_extraction.flow import (DEFAULT_DIS_PRESET, DEFAULT_FLOW, DEFAULT_TVL1_PARAMS, DIS_PRESETS, FLOW_METHODS,
                                    FLOW_STORAGES, TVL1_PARAMS)
from feature_extraction.record import write_record
from feature_extraction.segments import (frame_labels, remove_stale_segments, write_annotation_csv,
                                         write_video_segments)
from feature_extraction.settings import FLOW_PRESETS, FlowSettings
from utils.cli import Parser
from utils.errors import UserError, exit_process, run_cli
from utils.indexing import parse_window_file_name
from utils.layout import FeatureLayout
from utils.manifest import window_files, write_manifest

PROG = "python -m feature_extraction"
MAX_LISTED = 3  # unreadable frames named per video before "... and N more"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Extract AUW-GCN ROI motion features (METHOD.md section 2).")
    parser.add_argument("--layout", "--dataset", dest="layout", required=True, choices=RAW_LAYOUTS,
                        help=f"folder layout of --raw-root, the adapter reading it: {', '.join(RAW_LAYOUTS)} "
                             "(--dataset is its old name, still accepted; elsewhere --dataset is a config section)")
    parser.add_argument("--raw-root", type=Path, help="the raw dataset folder as distributed (not with --annotations-only)")
    parser.add_argument("--anno", type=Path, help="annotation file (required for cas(me)^2 and samm)")
    parser.add_argument("--out", required=True, type=Path, help="segment_feat_root to write")
    parser.add_argument("--flow", choices=FLOW_METHODS, default=None, help=f"optical flow (default {DEFAULT_FLOW})")
    parser.add_argument("--no-quantise", action="store_true",
                        help="skip the published 8-bit flow quantisation (bound 10)")
    parser.add_argument("--face-detect", choices=("auto", *DETECT_MODES), default=None,
                        help="face box per cropped frame: full = at the crop's resolution, as published "
                             "(~3 ms/frame); fast = on a 90 px copy (~0.5 ms, landmarks ~2 px off); "
                             "auto (default) = full for tvl1, fast for dis and farneback")
    parser.add_argument("--dis-preset", choices=tuple(DIS_PRESETS), default=None,
                        help=f"DIS preset (default {DEFAULT_DIS_PRESET}, chosen by measured sensitivity)")
    parser.add_argument("--tvl1-params", choices=tuple(TVL1_PARAMS), default=None,
                        help=f"TV-L1 parameters: opencv-cpu = the CPU implementation's defaults, published-gpu = "
                             f"dense_flow's GPU defaults as far as the CPU API goes (default {DEFAULT_TVL1_PARAMS})")
    parser.add_argument("--flow-storage", choices=FLOW_STORAGES, default=None,
                        help="codes = the 8-bit flow codes as computed (default); jpeg95 = each component image "
                             "through JPEG quality 95 and back, as the published pipeline stored them")
    parser.add_argument("--flow-preset", choices=tuple(FLOW_PRESETS), default=None,
                        help="published = --flow tvl1 --tvl1-params published-gpu --flow-storage jpeg95 "
                             "--face-detect full (explicit flags still win)")
    parser.add_argument("--jobs", type=_positive_int, default=1, help="videos extracted in parallel")
    parser.add_argument("--strict", action="store_true",
                        help="warnings (stray entries in the raw tree, irregular numbering handled) fail too")
    parser.add_argument("--retry-failed", action="store_true",
                        help="extract again the videos cached as failed (no face on any frame, unopenable file)")
    parser.add_argument("--annotations-only", action="store_true",
                        help="only write <out>/annotations.csv from --anno; no videos needed")
    shards = parser.add_mutually_exclusive_group()
    shards.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                        help="extract only shard K of N into the cache; --merge writes the archive afterwards")
    shards.add_argument("--merge", action="store_true",
                        help="final pass over finished shards: annotations.csv, windows, summary; extracts nothing")
    return parser


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def flow_settings(args: argparse.Namespace) -> FlowSettings:
    """FlowSettings from the parsed flags: explicit flags, then --flow-preset, then the defaults."""
    preset = FLOW_PRESETS.get(args.flow_preset, {})

    def pick(name: str, default):
        value = getattr(args, name)
        return preset.get(name, default) if value is None else value

    return FlowSettings(pick("flow", DEFAULT_FLOW), quantise=not args.no_quantise,
                        face_detect=pick("face_detect", "auto"), dis_preset=pick("dis_preset", DEFAULT_DIS_PRESET),
                        tvl1_params=pick("tvl1_params", DEFAULT_TVL1_PARAMS),
                        storage=pick("flow_storage", "codes"))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# --------------------------------------------------------------------------- the batch


def _report_video(outcome: Outcome) -> None:
    """One line per problem met in a finished video (stderr, above the progress bars)."""
    result, name = outcome.result, outcome.video.video_name
    for note in result.notes:
        tqdm.write(f"{outcome.video.source_path}: {note}", file=sys.stderr)
    if result.landmark_failures:
        tqdm.write(f"{name}: no face landmarks on {result.landmark_failures} of {result.n_frames} cropped frames; "
                   "the nearest good frame's landmarks were used", file=sys.stderr)
    if result.unreadable:
        listed = ", ".join(result.unreadable[:MAX_LISTED])
        more = f" and {len(result.unreadable) - MAX_LISTED} more" if len(result.unreadable) > MAX_LISTED else ""
        tqdm.write(f"{name}: {len(result.unreadable)} unreadable frame(s) replaced by the previous one: "
                   f"{listed}{more}", file=sys.stderr)


@dataclass(frozen=True)
class Extraction:
    """One extraction: the function API of ``python -m feature_extraction`` (dataset/prepare.py calls it).

    ``layout``: the adapter reading ``raw_root`` (feature_extraction/adapters); ``out``: the segment_feat_root;
    ``shard``: (K, N) extracts only shard K of N into the cache."""
    layout: str
    raw_root: Path
    out: Path
    settings: FlowSettings
    anno: Path | None = None
    jobs: int = 1
    strict: bool = False
    retry_failed: bool = False
    shard: tuple[int, int] | None = None


def extraction_of(args: argparse.Namespace) -> Extraction:
    """The request the parsed flags describe."""
    return Extraction(args.layout, args.raw_root, args.out, flow_settings(args), args.anno, args.jobs, args.strict,
                      args.retry_failed, args.shard)


@dataclass
class _Pass:
    """What one pass knows before extracting: its videos, the raw tree's problems, the cached results and failures,
    and (a pass that writes the archive) the annotation table."""
    videos: list
    problems: list
    found: dict
    failed_before: dict
    annotations: pd.DataFrame | None


def extract(request: Extraction) -> tuple[int, list[Outcome]]:
    """Extract every video (a shard: its own videos, into the cache only) and, unless a shard, write the archive.
    Returns the exit status (0, or 1 when a video failed) and each video's :class:`Outcome`; bad input (an
    unreadable raw tree or annotation file, an --out that cannot be written) raises :class:`UserError`."""
    return _run_pass(request, merging=False)


def merge(request: Extraction) -> tuple[int, list[Outcome]]:
    """``--merge``: write the archive from the cached extractions of every video, extracting nothing; one merge at
    a time per ``out`` (a lock file)."""
    try:
        with merge_lock(request.out):
            return _run_pass(request, merging=True)
    except OSError as error:  # the lock file cannot be made: --out is not writable
        raise UserError(str(error)) from None


def _run_pass(request: Extraction, merging: bool) -> tuple[int, list[Outcome]]:
    try:
        known = _look_up(request)
    # OSError: an unreadable raw folder, an --out that cannot be created or written (its message names the
    # path); per-video read and write errors are failed videos instead.
    except (OSError, ValueError) as error:
        raise UserError(str(error)) from None
    for problem in known.problems:
        print(f"warning: {problem}" if is_warning(problem) else problem, file=sys.stderr)
    started = time.perf_counter()
    outcomes = _extract_videos(request, known, merging)
    elapsed = time.perf_counter() - started
    if known.annotations is not None:
        try:
            _finish_archive(request, outcomes, known.annotations)
        except OSError as error:
            raise UserError(str(error)) from None
    print_summary(outcomes, known.problems, elapsed)
    failed = any(outcome.status == "failed" for outcome in outcomes) or any(not is_warning(p) for p in known.problems)
    return (1 if failed or (request.strict and known.problems) else 0), outcomes


def _look_up(request: Extraction) -> _Pass:
    """The pass's videos and what the cache and the annotation file already say about them; a pass that writes
    the archive removes the record and the manifest first (written last, once every window is)."""
    landmark_model_path()
    if request.out.exists() and not request.out.is_dir():
        raise UserError(f"{request.out}: --out exists and is not a folder")
    videos, problems = discover_videos(request.layout, request.raw_root)
    mine = select_shard(videos, *request.shard) if request.shard else videos
    found, failed_before = cached_results(mine, request.settings, request.out, with_failures=not request.retry_failed)
    if request.shard:  # a shard writes no window; the raw tree's problems are the whole run's: listed by the merge
        return _Pass(mine, [], found, failed_before, None)
    # SAMM offsets past a video are clipped to its 25-fps frame count, known from the cache when there is one
    # (decoding a video file only to count its frames made a cached rerun slow); a video cached as failed has no
    # windows to clip for and is not decoded either.
    frame_counts = ({video.video_name: found[video.video_name].n_frames if video.video_name in found
                     else count_frames(video) for video in mine if video.video_name not in failed_before}
                    if RAW_LAYOUTS[request.layout].CLIPS_TO_FRAME_COUNTS else None)
    notices: list[str] = []
    annotations = load_annotations(request.layout, request.anno, videos, frame_counts, notices)
    for line in notices:
        print(line, file=sys.stderr)
    archive = FeatureLayout(request.out)
    for path in (archive.record, archive.manifest):
        path.unlink(missing_ok=True)
    return _Pass(mine, problems, found, failed_before, annotations)


def _extract_videos(request: Extraction, known: _Pass, merging: bool) -> list[Outcome]:
    """Every video's outcome: cached, failed before, or extracted now (a merge extracts nothing: a video without
    a cache entry failed); a pass that writes the archive writes each video's windows as it comes."""
    mine, found, failed_before = known.videos, known.found, known.failed_before
    cached = [Outcome(video, "cached", found[video.video_name]) for video in mine if video.video_name in found]
    cached += [Outcome(video, "failed", reason=f"{failed_before[video.video_name]} (cached failure: the same "
                       "frames and settings, not tried again; --retry-failed tries it)", cached_failure=True)
               for video in mine if video.video_name in failed_before]
    todo = [video for video in mine if video.video_name not in found and video.video_name not in failed_before]
    if merging:
        cached += [Outcome(video, "failed", reason=_not_merged(video, request.settings, request.out)) for video in todo]
        todo = []
    known_lengths = [len(video.frame_paths) for video in todo]
    total_frames = sum(known_lengths) if all(known_lengths) else None  # a video file's length is unknown until decoded
    annotations = known.annotations
    rows_of = {} if annotations is None else {name: rows for name, rows in annotations.groupby("video_name", sort=False)}
    outcomes: list[Outcome] = []
    with tqdm(total=len(mine), desc="videos", unit="video", position=0) as video_bar, \
            tqdm(total=total_frames, desc="frames", unit="frame", position=1) as frame_bar:
        for outcome in itertools.chain(cached, extract_all(todo, request.settings, request.out, request.jobs)):
            video_bar.update()
            if outcome.status == "extracted":
                frame_bar.update(outcome.result.n_frames)
                _report_video(outcome)
            if annotations is not None:
                outcome = _write_segments(request.out, outcome,
                                          rows_of.get(outcome.video.video_name, annotations.iloc[:0]))
            outcomes.append(outcome)
            if outcome.status == "failed":
                tqdm.write(f"FAILED {outcome.video.source_path}: {outcome.reason}", file=sys.stderr)
    return outcomes


def _finish_archive(request: Extraction, outcomes: list[Outcome], annotations: pd.DataFrame) -> None:
    """After the windows: remove those of videos not written now, then the table, the record, the manifest."""
    written = {(o.video.subject, o.video.video_name) for o in outcomes if o.status != "failed"}
    for path in window_files(request.out):
        video_name, _ = parse_window_file_name(path.name)
        if (path.parent.name, video_name) not in written:
            path.unlink(missing_ok=True)  # a video no longer in the raw tree (a failed one's are gone already)
    for split in ("train", "test"):
        for folder in (request.out / split).glob("*") if (request.out / split).is_dir() else ():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    archive = FeatureLayout(request.out)
    write_annotation_csv(archive.annotations, annotations)
    # the settings spot.py extracts recordings with
    write_record(request.out, request.settings, request.layout, request.raw_root)
    write_manifest(archive.manifest, request.out)


def _not_merged(video, settings: FlowSettings, out_root: Path) -> str:
    """Why the merge has no features for ``video``: no shard extracted it, or with other settings..."""
    why = why_not_cached(video, settings, out_root)
    if why != "not extracted yet":
        return why
    log = error_log_path(out_root, video)
    return f"failed in its shard (traceback in {log})" if log.is_file() else "not extracted by any shard yet"


def is_warning(problem: str) -> bool:
    """A raw-tree problem that was handled: listed, not a failure (unless --strict)."""
    return isinstance(problem, TreeWarning)


def _write_segments(out_root: Path, outcome: Outcome, annotation_rows) -> Outcome:
    """Write a finished video's windows, or remove the old ones of a failed video.

    Returns ``outcome``, or a failed Outcome when its files cannot be written.
    """
    video = outcome.video
    try:
        if outcome.status == "failed":  # windows from an earlier extraction of other frames are stale now
            remove_stale_segments(out_root, video.subject, video.video_name, keep=())
            return outcome
        features = outcome.result.features
        labels = frame_labels(len(features), annotation_rows)
        write_video_segments(out_root, video.subject, video.video_name, features, labels)
        return outcome
    except OSError as error:
        reason = f"cannot write its segment files: {error}"
        return Outcome(video, "failed", reason=f"{outcome.reason}; {reason}" if outcome.reason else reason)


def print_summary(outcomes: list[Outcome], problems: list[str], seconds: float) -> None:
    """Counts, speed, per-video landmark failures and the list of failures (stdout)."""
    count = {status: sum(o.status == status for o in outcomes) for status in ("extracted", "cached", "failed")}
    frames = sum(o.result.n_frames for o in outcomes if o.status == "extracted")
    warnings = [p for p in problems if is_warning(p)]
    problems = [p for p in problems if not is_warning(p)]
    known_failures = sum(o.cached_failure for o in outcomes)
    known = f" ({known_failures} known from the cache)" if known_failures else ""
    print(f"videos: {count['extracted']} extracted, {count['cached']} skipped (cached), "
          f"{count['failed']} failed{known}, "
          f"{len(problems)} skipped in the raw tree, {len(warnings)} warning(s)")
    print(f"frames: {frames} extracted in {seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} frames/s)")
    with_failures = [o for o in outcomes if o.result is not None and o.result.landmark_failures]
    print("landmark failures (frames given the nearest good landmarks):" + ("" if with_failures else " none"))
    for o in sorted(with_failures, key=lambda o: o.video.video_name):
        print(f"  {o.video.video_name}: {o.result.landmark_failures} of {o.result.n_frames} frames")
    failures = [f"{o.video.source_path}: {o.reason}" for o in outcomes if o.status == "failed"] + problems
    if failures:
        print(f"failed ({len(failures)}):")
        for line in failures:
            print(f"  {line}")
    if warnings:
        print(f"warnings ({len(warnings)}; failures only with --strict):")
        for line in warnings:
            print(f"  {line}")


def annotations_only(layout: str, anno: Path | None, out: Path) -> None:
    """``--annotations-only``: the official sheet -> ``<out>/annotations.csv``."""
    notices: list[str] = []
    try:
        if anno is None:
            raise ValueError("--annotations-only needs --anno (the official annotation sheet)")
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: --out exists and is not a folder")
        annotations = load_annotations(layout, anno, videos=[], frame_counts={}, notices=notices)
        write_annotation_csv(out / "annotations.csv", annotations)
    except (OSError, ValueError) as error:
        raise UserError(str(error)) from None
    for line in notices:
        print(line, file=sys.stderr)
    if RAW_LAYOUTS[layout].CLIPS_TO_FRAME_COUNTS:
        print(f"{anno}: without the videos, offsets past a video's end are not clipped to its length "
              "(the paper's table clips them; give --raw-root to clip)", file=sys.stderr)
    subjects = list(dict.fromkeys(annotations["subject"]))
    print(f"wrote {out / 'annotations.csv'}: {len(annotations)} expressions, {len(subjects)} subjects")
    print(f"subject_list: [{', '.join(subjects)}]")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.annotations_only and args.raw_root is None:
        parser.error("the following arguments are required: --raw-root (or give --annotations-only)")

    def run() -> int | None:
        if args.annotations_only:
            return annotations_only(args.layout, args.anno, args.out)
        request = extraction_of(args)
        return (merge if args.merge else extract)(request)[0]

    return run_cli(run)


if __name__ == "__main__":
    exit_process(main())
