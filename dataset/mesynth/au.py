"""Action units as landmark movements, and the smooth displacement fields they induce.

Landmarks follow the iBUG-300W 68-point scheme (0-based). Each AU moves a few landmarks
in a face-aligned frame: x from the image-left eye to the image-right eye, y down (image
y when the face is upright). Only image-left and midline landmarks are listed below; the
image-right side is its mirror image (same weight, x negated).
"""
from __future__ import annotations

import numpy as np

# Landmark index of the mirror-image point (x -> -x): jaw 0<->16, brows 17<->26,
# nose 31<->35, eyes 36<->45 and 40<->47 (eyelid order runs clockwise), mouth 48<->54, ...
MIRROR_68 = np.array(
    [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
     26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
     27, 28, 29, 30, 35, 34, 33, 32, 31,
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
     64, 63, 62, 61, 60, 67, 66, 65])

UP, DOWN = (0.0, -1.0), (0.0, 1.0)

# AU -> ((landmark, (dx, dy) direction, weight), ...) for image-left and midline landmarks.
AU_MOVES: dict[str, tuple[tuple[int, tuple[float, float], float], ...]] = {
    "1": ((21, UP, 1.0), (20, UP, 0.7), (19, UP, 0.3)),                     # inner brow raiser
    "2": ((17, UP, 0.8), (18, UP, 1.0), (19, UP, 0.6)),                     # outer brow raiser
    "4": ((21, (0.45, 0.9), 1.0), (20, (0.3, 0.95), 0.9),                   # brow lowerer
          (19, (0.15, 1.0), 0.6), (18, DOWN, 0.3)),
    "5": ((37, UP, 1.0), (38, UP, 1.0)),                                    # upper lid raiser
    "6": ((40, UP, 0.8), (41, UP, 0.8), (1, (0.2, -1.0), 0.6),              # cheek raiser
          (2, (0.2, -1.0), 0.6)),
    "7": ((40, UP, 1.0), (41, UP, 1.0), (37, DOWN, 0.5), (38, DOWN, 0.5)),  # lid tightener
    "9": ((31, UP, 1.0), (32, UP, 1.0), (33, UP, 1.0), (29, UP, 0.5),       # nose wrinkler
          (21, (0.2, 1.0), 0.4)),
    "10": ((49, UP, 0.8), (50, UP, 1.0), (51, UP, 1.0), (61, UP, 0.8),      # upper lip raiser
           (62, UP, 0.8)),
    "12": ((48, (-0.75, -0.65), 1.0), (60, (-0.75, -0.65), 0.8),            # lip corner puller
           (49, (-0.5, -0.5), 0.4), (59, (-0.5, -0.5), 0.4)),
    "14": ((48, (-1.0, 0.0), 1.0), (60, (-1.0, 0.0), 0.8)),                 # dimpler
    "15": ((48, (-0.2, 1.0), 1.0), (60, (-0.2, 1.0), 0.8), (59, DOWN, 0.4)),  # lip corner depressor
    "17": ((8, UP, 1.0), (7, UP, 0.8), (57, UP, 0.6), (58, UP, 0.5),        # chin raiser
           (66, UP, 0.4)),
    "18": ((48, (1.0, 0.0), 1.0), (60, (1.0, 0.0), 0.8), (49, (0.5, 0.0), 0.5),  # lip pucker
           (59, (0.5, 0.0), 0.5)),
    "20": ((48, (-1.0, 0.3), 1.0), (60, (-1.0, 0.3), 0.8), (59, (-0.5, 0.3), 0.4)),  # lip stretcher
    "24": ((51, DOWN, 0.6), (50, DOWN, 0.5), (62, DOWN, 0.6), (57, UP, 0.6),  # lip pressor
           (58, UP, 0.5), (66, UP, 0.6)),
    "25": ((62, UP, 0.5), (61, UP, 0.4), (66, DOWN, 1.0), (65, DOWN, 0.8),  # lips part
           (57, DOWN, 0.8), (58, DOWN, 0.7)),
    "26": ((8, DOWN, 1.0), (7, DOWN, 1.0), (6, DOWN, 0.8), (5, DOWN, 0.5),  # jaw drop
           (57, DOWN, 1.0), (58, DOWN, 0.9), (66, DOWN, 1.0), (65, DOWN, 0.8)),
    "38": ((31, (-1.0, 0.0), 1.0), (32, (-0.5, 0.0), 0.5)),                 # nostril dilator
    "39": ((31, (1.0, 0.0), 1.0), (32, (0.5, 0.0), 0.5)),                   # nostril compressor
    "45": ((37, DOWN, 1.0), (38, DOWN, 1.0), (40, UP, 0.25), (41, UP, 0.25)),  # blink (unlabelled)
}


def au_directions(au_string: str) -> np.ndarray:
    """Weighted movement directions of the 68 landmarks for an AU string like ``'4+7'``.

    Returns (68, 2) float64 in the face-aligned frame (x towards the image-right eye, y down),
    both sides of the face filled in by mirroring; unlisted landmarks are 0. Raises
    ValueError naming an AU the table does not model.
    """
    directions = np.zeros((68, 2))
    for au in au_string.split("+"):
        if au not in AU_MOVES:
            raise ValueError(f"AU {au!r} of {au_string!r} is not modelled (known: {sorted(AU_MOVES, key=int)})")
        for landmark, (dx, dy), weight in AU_MOVES[au]:
            directions[landmark] += weight * np.array([dx, dy])
            mirror = MIRROR_68[landmark]
            if mirror != landmark:
                directions[mirror] += weight * np.array([-dx, dy])
    return directions


def face_axes(landmarks: np.ndarray) -> np.ndarray:
    """Unit face axes in image coordinates, (2, 2): row 0 is the face's x, row 1 its y (down).

    x runs from the image-left eye centre (landmarks 36-41) to the image-right one (42-47).
    """
    ex = landmarks[42:48].mean(axis=0) - landmarks[36:42].mean(axis=0)
    ex = ex / np.linalg.norm(ex)
    return np.array([ex, [-ex[1], ex[0]]])


def gaussian_weights(points: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    """exp(-|p - c|^2 / (2 sigma^2)) for every point (P, 2) and centre (K, 2) -> (P, K)."""
    squared = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    return np.exp(-squared / (2.0 * sigma ** 2))


def landmark_displacements(au_string: str, landmarks: np.ndarray, peak_px: float, sigma: float) -> np.ndarray:
    """Per-landmark displacement vectors (68, 2) in image px for one AU combination at its apex.

    The vectors are the AU directions turned into image axes and scaled so that the
    displacement field they make (a Gaussian bump of width ``sigma`` px per landmark,
    summed; see ``displacement_field``) peaks at ``peak_px`` over the landmarks.
    """
    vectors = au_directions(au_string) @ face_axes(landmarks)
    field_at_landmarks = gaussian_weights(landmarks, landmarks, sigma) @ vectors
    return vectors * (peak_px / np.linalg.norm(field_at_landmarks, axis=1).max())


def displacement_field(centres: np.ndarray, vectors: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                       sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Sum of Gaussian bumps sampled on the grid ``ys`` x ``xs``.

    centres (K, 2) and vectors (K, 2) in px; xs (W,), ys (H,) pixel coordinates. Returns
    (dx, dy), each (H, W) float32: sum_k exp(-|p - c_k|^2 / (2 sigma^2)) * v_k. The Gaussian
    is separable, so this is two (H, K) x (K, W) products.
    """
    gx = np.exp(-((xs[:, None] - centres[None, :, 0]) ** 2) / (2.0 * sigma ** 2))  # (W, K)
    gy = np.exp(-((ys[:, None] - centres[None, :, 1]) ** 2) / (2.0 * sigma ** 2))  # (H, K)
    dx = (gy * vectors[:, 0]) @ gx.T
    dy = (gy * vectors[:, 1]) @ gx.T
    return dx.astype(np.float32), dy.astype(np.float32)
