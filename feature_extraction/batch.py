"""Extract many videos, in worker processes when asked, caching each result.

Lives outside ``__main__`` because the spawn start method cannot import a
package's ``__main__`` module in the workers.

Worker processes run under :func:`map_surviving_crashes`: a worker that dies
(a native crash in a decoder or dlib, an out-of-memory kill) breaks its
``ProcessPoolExecutor``; the videos it took down with it are retried alone
and, if one kills its worker again, reported as failed, while the other
videos go on in a fresh pool. One bad video never sinks the batch.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from feature_extraction.adapters import UnopenableVideo, VideoSource, iter_frames, source_fingerprint
from feature_extraction.cache import (FEATURE_VERSION, cache_mismatch, cache_path, library_key, load_cached,
                                      load_cached_failure, save_cached, save_cached_failure)
from feature_extraction.face import FaceLandmarker, landmark_model_path
from feature_extraction.settings import FlowSettings
from feature_extraction.video import VideoFailure, VideoResult, extract_video
from utils.errors import UserError, failure_line


@dataclass
class Outcome:
    """What happened to one video: ``status`` is 'extracted', 'cached' or 'failed'.

    ``cached_failure``: a failed video's reason came from the cache (it was not tried again).
    """

    video: VideoSource
    status: str
    result: VideoResult | None = None
    reason: str = ""
    cached_failure: bool = False


def extract_one(video: VideoSource, settings: FlowSettings, out_root: Path, landmarker: FaceLandmarker,
                bar_position: int) -> Outcome:
    """Extract one video and cache it; any error becomes a failed Outcome (the batch goes on).

    The cache records the source fingerprint taken before the frames are
    read, so frames changed during the extraction make the next run redo it.
    A failure that the same frames and settings always give again
    (:data:`LASTING_FAILURES`) is cached too; other errors are tried again
    on the next run.
    """
    bar = tqdm(total=len(video.frame_paths) or None, desc=video.video_name, unit="frame",
               position=bar_position, leave=False)
    cache = cache_path(out_root, video.subject, video.video_name)
    try:
        source = source_fingerprint(video)
        try:
            result = extract_video(lambda: iter_frames(video), settings, landmarker, on_frame=bar.update)
        except LASTING_FAILURES as failure:
            save_cached_failure(cache, str(failure), settings, source)
            return Outcome(video, "failed", reason=str(failure))
        save_cached(cache, result, settings, source)
        error_log_path(out_root, video).unlink(missing_ok=True)  # from an earlier failed run
        return Outcome(video, "extracted", result)
    except Exception as error:  # one bad video never sinks the batch, but the cause is kept
        return Outcome(video, "failed", reason=_unexpected_failure(error, video, out_root))
    finally:
        bar.close()


# Failures the same frames and settings always give again: cached, not retried without --retry-failed.
LASTING_FAILURES = (VideoFailure, UnopenableVideo)


def error_log_path(out_root: Path, video: VideoSource) -> Path:
    """Where the traceback of a video's unexpected error goes: ``<out>/logs/errors/<subject>/<video>.log``."""
    return Path(out_root) / "logs" / "errors" / video.subject / f"{video.video_name}.log"


def _unexpected_failure(error: Exception, video: VideoSource, out_root: Path) -> str:
    """The one-line reason of an error other than a VideoFailure; its traceback goes to a log file it names.

    Bad footage (unreadable file, codec error: OSError, cv2.error, UserError) is the video's problem;
    anything else is most likely a bug in this package and says so.
    """
    return failure_line(error, error_log_path(out_root, video), str(video.source_path), (OSError, cv2.error, UserError))


# --------------------------------------------------------------------------- worker pools


def map_surviving_crashes(function: Callable[[Any], Any], items: Iterable, jobs: int,
                          new_pool: Callable[[int], Executor]) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Run ``function(item)`` for every item in worker processes; yield each as it finishes.

    Yields ``(item, result, None)``, or ``(item, None, error)`` when the
    worker running the item died (``error`` is the ``BrokenProcessPool``).
    ``new_pool(n)`` makes a fresh process pool of ``n`` workers; at most
    ``jobs`` items are in flight. A dead worker breaks the whole pool and
    every item in flight with it, so the items lost together are retried one
    at a time, each alone in a one-worker pool: an item lost alone is the one
    that killed its worker and is yielded with the error. Items not started
    yet go on in a fresh pool. Exceptions raised by ``function`` itself
    propagate.
    """
    queue = deque(items)
    suspects: deque = deque()
    while queue or suspects:
        lost: list[tuple[Any, BrokenProcessPool]] = []
        if suspects:
            yield from _run_pool(function, deque([suspects.popleft()]), 1, new_pool, lost)
        else:
            yield from _run_pool(function, queue, min(jobs, len(queue)), new_pool, lost)
        if len(lost) == 1:
            yield lost[0][0], None, lost[0][1]
        else:
            suspects.extend(item for item, _ in lost)


def _run_pool(function, queue: deque, workers: int, new_pool: Callable[[int], Executor],
              lost: list) -> Iterator[tuple[Any, Any, None]]:
    """Feed items from ``queue`` to one pool (``workers`` in flight) until the queue is empty or the pool breaks.

    Yields finished items; appends ``(item, error)`` to ``lost`` for each item
    in flight when the pool broke. Unsubmitted items stay in ``queue``.
    """
    with new_pool(workers) as pool:
        running = {}
        broken = False
        while running or (queue and not broken):
            while queue and not broken and len(running) < workers:
                item = queue.popleft()
                try:
                    running[pool.submit(function, item)] = item
                except BrokenProcessPool:  # broke since the last wait: this item never started
                    queue.appendleft(item)
                    broken = True
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    lost.append((item, error))
                    broken = True
                else:
                    yield item, future.result(), None


_WORKER: dict = {}


def _init_worker(lock, slots, model_path: Path) -> None:
    # One OpenCV thread per worker: the workers are the parallelism.
    cv2.setNumThreads(1)
    tqdm.set_lock(lock)
    _WORKER.update(landmarker=FaceLandmarker(model_path), position=2 + slots.get())


def _worker_task(video: VideoSource, settings: FlowSettings, out_root: Path) -> Outcome:
    return extract_one(video, settings, out_root, _WORKER["landmarker"], _WORKER["position"])


def extract_all(videos: list[VideoSource], settings: FlowSettings, out_root: Path, jobs: int) -> Iterator[Outcome]:
    """Yield an :class:`Outcome` per video as each finishes.

    ``jobs`` > 1 runs that many spawned worker processes, each with one
    OpenCV thread and its own dlib models; progress bars sit at positions
    2.. below the caller's two bars. A video whose worker process dies is a
    failed Outcome ("worker process died: ..."), see
    :func:`map_surviving_crashes`.
    """
    if not videos:  # a fully cached rerun: loading the dlib models alone took seconds
        return
    if jobs == 1 or len(videos) <= 1:
        landmarker = FaceLandmarker()
        for video in videos:
            yield extract_one(video, settings, out_root, landmarker, bar_position=2)
        return
    # spawn: workers start clean (no inherited OpenCV threads), import neither torch nor the parent's state.
    context = multiprocessing.get_context("spawn")
    lock = context.RLock()  # one lock for every progress bar, made in the workers' context
    tqdm.set_lock(lock)
    model_path = landmark_model_path()

    def new_pool(workers: int) -> ProcessPoolExecutor:
        slots = context.Queue()  # progress-bar rows, one per worker of this pool
        for slot in range(workers):
            slots.put(slot)
        return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                   initargs=(lock, slots, model_path))

    task = functools.partial(_worker_task, settings=settings, out_root=out_root)
    for video, outcome, error in map_surviving_crashes(task, videos, jobs, new_pool):
        yield outcome if error is None else Outcome(video, "failed", reason=f"worker process died: {error}")


# --------------------------------------------------------------------------- shards and the cache


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with 1 <= K <= N; ValueError otherwise (argparse shows its message)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"expected K/N such as 2/8, got '{text}'") from None
    if not 1 <= k <= n:
        raise ValueError(f"K/N needs 1 <= K <= N, got '{text}'")
    return k, n


def select_shard(videos: list[VideoSource], k: int, n: int) -> list[VideoSource]:
    """Shard ``k`` of ``n`` (1-based): every n-th video of the (subject, name) order, from the k-th.

    Depends only on the discovered names, so every machine computes the same split.
    """
    ordered = sorted(videos, key=lambda video: (video.subject, video.video_name))
    return ordered[k - 1::n]


def cached_results(videos: list[VideoSource], settings: FlowSettings, out_root: Path,
                   with_failures: bool = True) -> tuple[dict[str, VideoResult], dict[str, str]]:
    """``(results, failures)``: the valid cached result, or cached failure reason, of every video that has one.

    By video name; no frame is decoded. ``with_failures=False`` (``--retry-failed``) leaves cached failures out.
    """
    results, failures = {}, {}
    for video in videos:
        path, source = cache_path(out_root, video.subject, video.video_name), source_fingerprint(video)
        result = load_cached(path, settings, source)
        if result is not None:
            results[video.video_name] = result
        elif with_failures and (reason := load_cached_failure(path, settings, source)) is not None:
            failures[video.video_name] = reason
    return results, failures


def why_not_cached(video: VideoSource, settings: FlowSettings, out_root: Path) -> str:
    """Why ``video`` has no usable cache entry: ``not extracted yet``, ``extracted with other settings (...)``..."""
    return cache_mismatch(cache_path(out_root, video.subject, video.video_name), settings,
                          source_fingerprint(video)) or "its cache file holds no features"


def run_key(settings: FlowSettings) -> str:
    """Everything besides the frames that makes a video's features: settings, feature version, libraries."""
    return f"{settings.key};version={FEATURE_VERSION};{library_key()}"


@contextlib.contextmanager
def merge_lock(out_root: Path) -> Iterator[None]:
    """Hold ``<out>/shards/merge.lock`` (an exclusive ``flock``): two merges of one archive take turns."""
    path = Path(out_root) / "shards" / "merge.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
