"""Base face photos, their landmarks, and the per-subject still image (640 x 480) made from them."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dataset.mesynth.au import MIRROR_68
from dataset.mesynth.casme2_stats import FRAME_HEIGHT, FRAME_WIDTH
from feature_extraction.face import landmark_model_path

PHOTO_NAMES = ("astronaut", "grace_hopper")
FACE_WIDTH_PX = 190.0  # jaw width |landmark 16 - landmark 0| of an unscaled subject


def load_photo(name: str) -> np.ndarray:
    """A face photo that ships with an installed package, as BGR uint8 (H, W, 3)."""
    if name == "astronaut":
        import skimage.data
        return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])
    if name == "grace_hopper":
        import matplotlib.cbook
        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
            data = np.frombuffer(handle.read(), np.uint8)
        return cv2.imdecode(data, cv2.IMREAD_COLOR)
    raise ValueError(f"unknown base photo {name!r} (known: {PHOTO_NAMES})")


def detect_landmarks(images: list[np.ndarray]) -> list[np.ndarray]:
    """68 dlib landmarks (68, 2) float64, px, of the most confident face in each BGR image."""
    import dlib
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(landmark_model_path()))
    result = []
    for image in images:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        boxes, scores, _ = detector.run(rgb, 1, 0)
        if not boxes:
            raise RuntimeError("dlib found no face in a base photo")
        shape = predictor(rgb, boxes[int(np.argmax(scores))])
        result.append(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64))
    return result


@dataclass(frozen=True)
class SubjectLook:
    """How one subject differs from its base photo. Angles in degrees, offsets in px."""
    photo: str             # one of PHOTO_NAMES
    mirrored: bool         # photo flipped left-right
    scale: float           # face width / FACE_WIDTH_PX
    roll_deg: float        # in-plane rotation
    perspective: tuple[float, float]  # keystone terms, per px of the base photo
    offset: tuple[float, float]       # face centre relative to the frame centre
    gain: float            # overall brightness
    gamma: float
    side_light: float      # relative brightness change from the left to the right frame edge
    tint: tuple[float, float, float]  # per-channel (B, G, R) gain


def random_look(rng: np.random.Generator, subject_index: int) -> SubjectLook:
    """A subject variation; photo and mirroring alternate with the index so both photos and
    both orientations appear among the first four subjects."""
    return SubjectLook(
        photo=PHOTO_NAMES[subject_index % 2],
        mirrored=bool((subject_index // 2) % 2),
        scale=float(rng.uniform(0.92, 1.08)),
        roll_deg=float(rng.uniform(-6.0, 6.0)),
        perspective=tuple(float(v) for v in rng.uniform(-4e-4, 4e-4, 2)),
        offset=(float(rng.uniform(-25, 25)), float(rng.uniform(-15, 15))),
        gain=float(rng.uniform(0.8, 1.15)),
        gamma=float(rng.uniform(0.85, 1.15)),
        side_light=float(rng.uniform(-0.25, 0.25)),
        tint=tuple(float(v) for v in rng.uniform(0.95, 1.05, 3)),
    )


def photo_to_frame(look: SubjectLook, photo_landmarks: np.ndarray) -> np.ndarray:
    """3 x 3 homography from base-photo px to frame px for this look (after any mirroring).

    Slight perspective about the face centre, then scale to the face width, roll, and
    translation of the face centre to the frame centre plus the look's offset.
    """
    centre = photo_landmarks.mean(axis=0)
    width = np.linalg.norm(photo_landmarks[16] - photo_landmarks[0])
    to_centre = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]], dtype=np.float64)
    keystone = np.array([[1, 0, 0], [0, 1, 0], [look.perspective[0], look.perspective[1], 1]])
    s = look.scale * FACE_WIDTH_PX / width
    c, n = np.cos(np.radians(look.roll_deg)), np.sin(np.radians(look.roll_deg))
    place = np.array([[s * c, -s * n, FRAME_WIDTH / 2 + look.offset[0]],
                      [s * n, s * c, FRAME_HEIGHT / 2 + look.offset[1]],
                      [0, 0, 1]])
    return place @ keystone @ to_centre


def render_still(look: SubjectLook, photo: np.ndarray, photo_landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The subject's neutral frame and landmarks.

    photo: BGR uint8 base photo; photo_landmarks (68, 2) its dlib landmarks. Returns the
    still image (480, 640, 3) float32 in 0..255 (the photo warped onto a blurred copy of
    itself that fills the frame, then lit) and its landmarks (68, 2) float64 px.
    """
    if look.mirrored:
        photo = np.ascontiguousarray(photo[:, ::-1])
        photo_landmarks = photo_landmarks[MIRROR_68] * [-1, 1] + [photo.shape[1] - 1, 0]
    homography = photo_to_frame(look, photo_landmarks)
    size = (FRAME_WIDTH, FRAME_HEIGHT)
    foreground = cv2.warpPerspective(photo, homography, size, flags=cv2.INTER_LINEAR).astype(np.float32)
    coverage = cv2.warpPerspective(np.ones(photo.shape[:2], np.float32), homography, size, flags=cv2.INTER_LINEAR)
    # Soft photo edge: shrink the covered area a little, then feather it.
    alpha = np.clip(cv2.GaussianBlur(cv2.erode(coverage, np.ones((9, 9), np.uint8)), (0, 0), 6), 0, 1)[:, :, None]
    small = cv2.resize(photo, (FRAME_WIDTH // 16, FRAME_HEIGHT // 16), interpolation=cv2.INTER_AREA)
    background = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2), size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    still = np.clip(alpha * foreground + (1 - alpha) * background, 0, 255)
    ramp = 1 + look.side_light * (np.arange(FRAME_WIDTH, dtype=np.float32) / (FRAME_WIDTH - 1) - 0.5)
    still = 255 * (still / 255) ** look.gamma * look.gain * ramp[None, :, None] * np.float32(look.tint)
    landmarks = cv2.perspectiveTransform(photo_landmarks[None], homography)[0]
    return np.clip(still, 0, 255).astype(np.float32), landmarks
