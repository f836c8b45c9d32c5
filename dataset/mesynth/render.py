"""Frames of one planned video: AU displacement fields, head motion, flicker, noise, JPEG."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import ndtri
from threadpoolctl import threadpool_limits

from dataset.mesynth.au import displacement_field, face_axes, landmark_displacements
from dataset.mesynth.casme2_stats import FRAME_HEIGHT, FRAME_WIDTH
from dataset.mesynth.face import load_photo, render_still
from dataset.mesynth.plan import STREAM_NUISANCE, VideoPlan, movement_profile
from utils.io import atomic_write_bytes

BUMP_SIGMA_PER_FACE_WIDTH = 0.035  # Gaussian bump sigma / jaw width (about 6.6 px)
DRIFT_PX = 2.5          # std of the slow head drift, per axis
DRIFT_FRAMES = 40       # its time scale (Gaussian smoothing sigma), frames
JITTER_PX = 0.1         # std of frame-to-frame head jitter
ROLL_DEG = 0.5          # std of the slow head roll
FLICKER = (0.01, 0.02)  # std of fast (sigma 1.5 frames) and slow (sigma 50 frames) brightness changes
NOISE_GREY = 1.2        # std of the sensor noise, grey levels
FRAME_JPEG_QUALITY = 90  # the rendered frames, as stored on disk
FIELD_REACH = 4.0       # bumps are evaluated within this many sigmas of their landmark


def frame_file_name(frame: int) -> str:
    """CAS(ME)^2 frame file of a 1-based frame number: img001.jpg .. img999.jpg, img1000.jpg."""
    return f"img{frame:03d}.jpg"


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise along axis 0, of unit std in expectation.

    Scaled by the filter's own gain (1 / sqrt(sum of squared kernel weights), scipy's kernel
    truncated at 4 sigma), not by the sample std, which would blow up a series much shorter
    than sigma.
    """
    radius = int(4.0 * sigma + 0.5)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    noise = gaussian_filter1d(rng.standard_normal(shape), sigma, axis=0, mode="reflect")
    return noise / np.sqrt((kernel ** 2).sum())


def landmark_motion(plan: VideoPlan, landmarks: np.ndarray, sigma: float) -> np.ndarray:
    """Displacement of every landmark in every frame, (n_frames, 68, 2) px, from the
    expressions and blinks (nods move the whole head, see ``head_motion``)."""
    motion = np.zeros((plan.n_frames, 68, 2))
    for movement in plan.movements:
        if movement.kind != "nod":
            vectors = landmark_displacements(movement.au, landmarks, movement.peak_px, sigma)
            motion += movement_profile(movement, plan.n_frames)[:, None, None] * vectors
    return motion


def head_motion(plan: VideoPlan, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame head translation (n_frames, 2) px and roll (n_frames,) rad.

    Slow drift plus jitter, and each nod as a shift down the face's y axis and back.
    """
    n = plan.n_frames
    shift = DRIFT_PX * _smooth_noise(rng, (n, 2), DRIFT_FRAMES) + rng.normal(0, JITTER_PX, (n, 2))
    down = face_axes(landmarks)[1]
    for movement in plan.movements:
        if movement.kind == "nod":
            shift += movement.peak_px * movement_profile(movement, n)[:, None] * down
    roll = np.radians(ROLL_DEG) * _smooth_noise(rng, (n,), DRIFT_FRAMES)
    return shift, roll


def warp_maps(maps: tuple[np.ndarray, np.ndarray], grid_x: np.ndarray, grid_y: np.ndarray, centre: np.ndarray,
              shift: np.ndarray, roll: float, landmarks: np.ndarray, vectors: np.ndarray,
              sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``maps`` (map_x, map_y), each (H, W) float32, with inverse maps for cv2.remap.

    grid_x, grid_y (H, W) float32: pixel coordinates. The head is rolled by ``roll`` rad
    about ``centre`` and shifted by ``shift`` px; the face is displaced by the Gaussian-bump
    field of ``vectors`` (K, 2) px at ``landmarks`` (K, 2), both given in still-image
    coordinates. Output pixel x samples the still at head^-1(x - field(x)), the field placed
    on the moved landmarks. Returns ``maps``.
    """
    map_x, map_y = maps
    cos, sin = np.cos(roll), np.sin(roll)
    rotation = np.array([[cos, -sin], [sin, cos]])
    inverse = rotation.T
    const = centre - inverse @ (centre + shift)
    (i00, i01), (i10, i11) = inverse.tolist()
    cv2.addWeighted(grid_x, i00, grid_y, i01, float(const[0]), dst=map_x)
    cv2.addWeighted(grid_x, i10, grid_y, i11, float(const[1]), dst=map_y)
    if len(landmarks):
        moved = (landmarks - centre) @ rotation.T + centre + shift
        reach = FIELD_REACH * sigma
        x0, y0 = np.maximum(np.floor(moved.min(axis=0) - reach).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(moved.max(axis=0) + reach).astype(int) + 1, [FRAME_WIDTH, FRAME_HEIGHT])
        if x0 < x1 and y0 < y1:
            dx, dy = displacement_field(moved, vectors @ rotation.T, np.arange(x0, x1, dtype=np.float64),
                                        np.arange(y0, y1, dtype=np.float64), sigma)
            map_x[y0:y1, x0:x1] -= i00 * dx + i01 * dy
            map_y[y0:y1, x0:x1] -= i10 * dx + i11 * dy
    return maps


def render_video(plan: VideoPlan, photo_landmarks: np.ndarray, dataset_root: Path) -> Path:
    """Write the frames of one video under dataset_root/plan.relative_dir; returns that folder.

    photo_landmarks (68, 2): dlib landmarks of the (unmirrored) base photo of plan.look.
    Deterministic in (plan, photo_landmarks).
    """
    cv2.setNumThreads(1)  # parallelism comes from one process per video
    with threadpool_limits(1):  # idle BLAS threads would spin against the other workers
        return _render_frames(plan, photo_landmarks, dataset_root)


def _render_frames(plan: VideoPlan, photo_landmarks: np.ndarray, dataset_root: Path) -> Path:
    """render_video without the thread settings."""
    still, landmarks = render_still(plan.look, load_photo(plan.look.photo), photo_landmarks)
    sigma = BUMP_SIGMA_PER_FACE_WIDTH * float(np.linalg.norm(landmarks[16] - landmarks[0]))
    rng = np.random.default_rng([plan.seed, STREAM_NUISANCE, plan.participant, int(plan.code)])
    shift, roll = head_motion(plan, landmarks, rng)
    motion = landmark_motion(plan, landmarks, sigma)
    n = plan.n_frames
    gain = 1 + FLICKER[0] * _smooth_noise(rng, (n,), 1.5) + FLICKER[1] * _smooth_noise(rng, (n,), 50)
    centre = landmarks.mean(axis=0)
    # Sensor noise from random bytes through the normal quantiles (5x cheaper than
    # standard_normal, Gaussian to 256 levels); the + 0.5 makes the uint8 cast round.
    noise_levels = (NOISE_GREY * ndtri((np.arange(256) + 0.5) / 256) + 0.5).astype(np.float32)
    size = (FRAME_HEIGHT, FRAME_WIDTH)
    grid_x, grid_y = np.meshgrid(np.arange(FRAME_WIDTH, dtype=np.float32), np.arange(FRAME_HEIGHT, dtype=np.float32))
    # Buffers reused by every frame: fresh multi-MB arrays per frame cost page faults.
    maps = (np.empty(size, np.float32), np.empty(size, np.float32))
    frame, pixels = np.empty(size + (3,), np.float32), np.empty(size + (3,), np.uint8)
    noise = np.empty(size + (1,), np.float32)
    folder = dataset_root / plan.relative_dir
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(n):
        active = np.abs(motion[t]).max(axis=1) > 1e-3
        warp_maps(maps, grid_x, grid_y, centre, shift[t], float(roll[t]), landmarks[active], motion[t][active], sigma)
        cv2.remap(still, maps[0], maps[1], cv2.INTER_LINEAR, dst=frame, borderMode=cv2.BORDER_REFLECT)
        noise_bytes = np.frombuffer(rng.bytes(FRAME_HEIGHT * FRAME_WIDTH), np.uint8).reshape(noise.shape)
        np.take(noise_levels, noise_bytes, out=noise)
        np.multiply(frame, float(gain[t]), out=frame)
        np.add(frame, noise, out=frame)
        np.clip(frame, 0, 255, out=frame)
        np.copyto(pixels, frame, casting="unsafe")
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {folder / frame_file_name(t + 1)}")
        atomic_write_bytes(folder / frame_file_name(t + 1), encoded.tobytes())
    return folder
