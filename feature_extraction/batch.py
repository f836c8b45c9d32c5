"""Extract many videos, in worker processes when asked, caching each result.

Lives outside ``__main__`` because multiprocessing's spawn start method
cannot import a package's ``__main__`` module in the workers.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
from tqdm import tqdm

from feature_extraction.adapters import VideoSource, iter_frames
from feature_extraction.face import FaceLandmarker, landmark_model_path
from feature_extraction.video import FlowSettings, VideoFailure, VideoResult, cache_path, extract_video, save_cached


@dataclass
class Outcome:
    """What happened to one video: ``status`` is 'extracted', 'cached' or 'failed'."""

    video: VideoSource
    status: str
    result: VideoResult | None = None
    reason: str = ""


def extract_one(video: VideoSource, settings: FlowSettings, out_root: Path, landmarker: FaceLandmarker,
                bar_position: int) -> Outcome:
    """Extract one video and cache it; any error becomes a failed Outcome (the batch goes on)."""
    bar = tqdm(total=len(video.frame_paths) or None, desc=video.video_name, unit="frame",
               position=bar_position, leave=False)
    try:
        result = extract_video(lambda: iter_frames(video), settings, landmarker, on_frame=bar.update)
        save_cached(cache_path(out_root, video.subject, video.video_name), result, settings)
        return Outcome(video, "extracted", result)
    except VideoFailure as failure:
        return Outcome(video, "failed", reason=str(failure))
    except Exception as error:  # one bad video (unreadable file, codec error...) never sinks the batch
        return Outcome(video, "failed", reason=f"{type(error).__name__}: {error}")
    finally:
        bar.close()


_WORKER: dict = {}


def _init_worker(lock, slots, model_path: Path) -> None:
    # One OpenCV thread per worker: the workers are the parallelism.
    cv2.setNumThreads(1)
    tqdm.set_lock(lock)
    _WORKER.update(landmarker=FaceLandmarker(model_path), position=2 + slots.get())


def _worker_task(task: tuple[VideoSource, FlowSettings, Path]) -> Outcome:
    video, settings, out_root = task
    return extract_one(video, settings, out_root, _WORKER["landmarker"], _WORKER["position"])


def extract_all(videos: list[VideoSource], settings: FlowSettings, out_root: Path, jobs: int) -> Iterator[Outcome]:
    """Yield an :class:`Outcome` per video as each finishes.

    ``jobs`` > 1 runs that many spawned worker processes, each with one
    OpenCV thread and its own dlib models; progress bars sit at positions
    2.. below the caller's two bars.
    """
    if jobs == 1 or len(videos) <= 1:
        landmarker = FaceLandmarker()
        for video in videos:
            yield extract_one(video, settings, out_root, landmarker, bar_position=2)
        return
    # spawn: workers start clean (no inherited OpenCV threads), import neither torch nor the parent's state.
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for slot in range(jobs):
        slots.put(slot)
    lock = context.RLock()  # one lock for every progress bar, made in the workers' context
    tqdm.set_lock(lock)
    tasks = [(video, settings, out_root) for video in videos]
    with context.Pool(min(jobs, len(videos)), initializer=_init_worker,
                      initargs=(lock, slots, landmark_model_path())) as pool:
        yield from pool.imap_unordered(_worker_task, tasks, chunksize=1)
