"""Generate the whole demo dataset: plan, render the videos (in parallel), write the workbook."""
from __future__ import annotations

import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from dataset.mesynth.casme2_stats import SUBJECT_FOLDER_NUMBERS, VIDEO_CODES
from dataset.mesynth.face import PHOTO_NAMES, detect_landmarks, load_photo
from dataset.mesynth.plan import plan_dataset
from dataset.mesynth.render import render_video
from dataset.mesynth.xlsx import ANNOTATION_FILE_NAME, write_annotation_workbook
from utils.errors import UserError
from utils.io import atomic_write_bytes

DEFAULT_SUBJECTS = 6
DEFAULT_VIDEOS_PER_SUBJECT = 2
DEFAULT_FRAMES = 720
MIN_FRAMES = 60
COMPLETE_MARKER = ".complete"        # written last; holds the generation parameters
IN_PROGRESS_MARKER = ".in_progress"  # marks a folder this generator started to fill


def _check_parameters(seed: int, n_subjects: int, videos_per_subject: int, frames_per_video: int, jobs: int) -> None:
    """Raise ValueError with a one-line reason for a parameter out of range."""
    limits = {"seed": (seed, 0, 2 ** 32 - 1), "subjects": (n_subjects, 1, len(SUBJECT_FOLDER_NUMBERS)),
              "videos per subject": (videos_per_subject, 1, len(VIDEO_CODES)),
              "frames per video": (frames_per_video, MIN_FRAMES, 99999), "jobs": (jobs, 1, 256)}
    for name, (value, low, high) in limits.items():
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise UserError(f"{name} must be an integer in {low}..{high}, got {value!r}")


def _prepare_folder(out_dir: Path) -> None:
    """Make out_dir ready for a fresh run: create it, or clear what an interrupted run of this
    generator left there. Refuses a non-empty folder it did not start."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / IN_PROGRESS_MARKER).is_file():
        shutil.rmtree(out_dir / "rawpic", ignore_errors=True)
        (out_dir / ANNOTATION_FILE_NAME).unlink(missing_ok=True)
    elif any(out_dir.iterdir()):
        raise UserError(f"{out_dir}: folder is not empty and holds no demo dataset; choose an empty or new folder")
    (out_dir / IN_PROGRESS_MARKER).write_text("mesynth is writing this folder\n")


def generate_dataset(out_dir: Path, seed: int = 0, n_subjects: int = DEFAULT_SUBJECTS,
                     videos_per_subject: int = DEFAULT_VIDEOS_PER_SUBJECT,
                     frames_per_video: int = DEFAULT_FRAMES, jobs: int = 1) -> Path:
    """Write the synthetic CAS(ME)^2-layout dataset under out_dir; returns the workbook path.

    out_dir/rawpic/s<SS>/<SS>_<CCCC><name>/img<N>.jpg (640 x 480, 30 fps, N 1-based) and
    out_dir/CAS(ME)^2code_final.xlsx, then out_dir/.complete. The files depend only on the
    parameters other than ``jobs`` (worker processes). A folder already completed with the
    same parameters is left as it is; with other parameters it is an error (ValueError).
    """
    _check_parameters(seed, n_subjects, videos_per_subject, frames_per_video, jobs)
    out_dir = Path(out_dir)
    workbook = out_dir / ANNOTATION_FILE_NAME
    parameters = {"seed": seed, "subjects": n_subjects, "videos_per_subject": videos_per_subject,
                  "frames_per_video": frames_per_video}
    marker = out_dir / COMPLETE_MARKER
    if marker.is_file():
        recorded = json.loads(marker.read_text())
        if recorded != parameters:
            raise UserError(f"{out_dir}: holds a demo dataset made with {recorded}, not {parameters}; "
                             "remove it or choose another folder")
        return workbook
    _prepare_folder(out_dir)
    plans = plan_dataset(seed, n_subjects, videos_per_subject, frames_per_video)
    photo_landmarks = dict(zip(PHOTO_NAMES, detect_landmarks([load_photo(name) for name in PHOTO_NAMES])))
    landmarks = [photo_landmarks[plan.look.photo] for plan in plans]
    roots = [out_dir] * len(plans)
    if jobs == 1:
        list(map(render_video, plans, landmarks, roots))
    else:
        with ProcessPoolExecutor(min(jobs, len(plans)), mp_context=get_context("spawn")) as pool:
            list(pool.map(render_video, plans, landmarks, roots))
    write_annotation_workbook(plans, workbook)
    atomic_write_bytes(marker, (json.dumps(parameters, sort_keys=True) + "\n").encode())
    (out_dir / IN_PROGRESS_MARKER).unlink()
    return workbook
