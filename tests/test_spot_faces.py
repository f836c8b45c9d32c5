"""Spotting follows the face: a face sliding by one and two face widths, or back and forth, keeps its landmarks
and its motion after each move; several faces are counted, chosen with --face, and spotted each on its own with
--faces all. Real face photos (matplotlib's grace_hopper.jpg, scikit-image's astronaut) and dlib."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from feature_extraction.face import FaceLandmarker, to_gray
from feature_extraction.recording import ALL_FACES, extract_recording, open_recording
from feature_extraction.tracking import face_choice
from feature_extraction.settings import FlowSettings
from fx_footage import face_photo, full_frame_landmarks
from model.spotting.options import SpotOptions
from pipeline.spot import spot_inputs
from utils.errors import UserError
from utils.spot_outputs import TASKS_FOLDER

CANVAS = (720, 300)  # width, height
FACE_PX = 90
BACKGROUND = 90
LEFT_BROW = slice(17, 22)
BROW_ROIS = [0, 1, 2]  # feature ROIs on landmarks 18-20: the brow on the image's left


def _patch(photo: np.ndarray, face_px: int, landmarker: FaceLandmarker) -> tuple[np.ndarray, np.ndarray]:
    """The photo scaled to a face ``face_px`` wide, cut to a square of twice that around the face, and the
    patch's left-brow landmarks."""
    top, bottom, left, right = landmarker.face_box(to_gray(photo))
    scale = face_px / (right - left + 1)
    scaled = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx, cy = int((left + right) / 2 * scale), int((top + bottom) / 2 * scale)
    patch = cv2.copyMakeBorder(scaled, face_px, face_px, face_px, face_px, cv2.BORDER_CONSTANT,
                               value=(BACKGROUND,) * 3)[cy:cy + 2 * face_px, cx:cx + 2 * face_px]
    return np.ascontiguousarray(patch), full_frame_landmarks(patch, landmarker)[LEFT_BROW]


def _raised(patch: np.ndarray, brow: np.ndarray, lift: float) -> np.ndarray:
    """``patch`` with its left brow raised by ``lift`` px (a Gaussian displacement field around it)."""
    if lift == 0:
        return patch
    height, width = patch.shape[:2]
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    sigma = FACE_PX / 16
    weight = np.max([np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)) for x, y in brow], axis=0)
    return cv2.remap(patch, xx, (yy + lift * weight).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _scene(patches: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """A grey canvas with each ``(patch, left edge)`` pasted at mid height."""
    width, height = CANVAS
    frame = np.full((height, width, 3), BACKGROUND, np.uint8)
    for patch, x in patches:
        top = (height - patch.shape[0]) // 2
        frame[top:top + patch.shape[0], x:x + patch.shape[1]] = patch
    return frame


STILL, SLIDE = 10, 6  # frames a face stays (raising its brow) and takes to slide


def _sliding_take(patch, brow, positions: list[int]) -> tuple[list[np.ndarray], list[range]]:
    """The face still at each of ``positions`` (left edges) in turn, raising its brow by 3 px, sliding
    between them; the frames, and the range of frames it stays still at each position."""
    frames, stills = [], []
    for index, x in enumerate(positions):
        if index:
            previous = positions[index - 1]
            frames += [_scene([(patch, int(round(previous + (x - previous) * step / SLIDE)))])
                       for step in range(1, SLIDE)]
        stills.append(range(len(frames), len(frames) + STILL))
        frames += [_scene([(_raised(patch, brow, 3.0 * step / (STILL - 1)), x)]) for step in range(STILL)]
    return frames, stills


@pytest.fixture(scope="module")
def landmarker():
    return FaceLandmarker()


@pytest.fixture(scope="module")
def grace(landmarker):
    return _patch(face_photo(), FACE_PX, landmarker)


def _follow(tmp_path, frames, landmarker, face="largest"):
    folder = tmp_path / "take"
    folder.mkdir()
    for number, frame in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"img{number}.png"), frame)
    return extract_recording(open_recording(folder, 30.0, 30.0), 30.0, FlowSettings("dis", face_detect="full"),
                             landmarker, face)


@pytest.mark.parametrize("positions", [[100, 100 + FACE_PX], [100, 100 + 2 * FACE_PX],
                                       [100, 100 + 2 * FACE_PX, 100, 100 + 2 * FACE_PX]],
                         ids=["one width", "two widths", "back and forth"])
def test_a_sliding_face_keeps_its_landmarks_and_its_motion_after_each_move(tmp_path, landmarker, grace, positions):
    patch, brow = grace
    frames, stills = _sliding_take(patch, brow, positions)
    (face,) = _follow(tmp_path, frames, landmarker).faces
    first_box = face.track.changes[0][1]
    assert len(face.track.changes) > 1  # the box moved
    for x, still in zip(positions, stills):
        assert not face.lost_frames[still].any()
        # the box the face is followed with at this stop is over the face: its centre within a fifth of a width
        top, bottom, left, right = face.track.box_at(still[-1])
        assert abs((left + right) / 2 - (x + FACE_PX)) < FACE_PX / 5
        assert (bottom - top, right - left) == pytest.approx((first_box[1] - first_box[0],
                                                              first_box[3] - first_box[2]), abs=FACE_PX / 5)
        # the rising brow shows in the brow ROIs there, as before the first move (rows within the stop)
        rows = face.rows[still[0]:still[-1]]
        assert np.all(rows[:, BROW_ROIS, 1].mean(axis=0) < -0.005), rows[:, BROW_ROIS, 1].mean(axis=0)
        assert not face.break_rows[still[0]:still[-1]].any()


def test_no_flow_is_computed_across_a_change_of_box(tmp_path, landmarker, grace):
    patch, brow = grace
    frames, _ = _sliding_take(patch, brow, [100, 100 + 2 * FACE_PX])
    (face,) = _follow(tmp_path, frames, landmarker).faces
    moves = [position for position, _ in face.track.changes[1:]]
    np.testing.assert_array_equal(np.flatnonzero(face.break_rows), np.asarray(moves) - 1)
    assert np.abs(face.rows[np.asarray(moves) - 1]).max() < 1e-6  # the zero motion, not the slide


@pytest.fixture(scope="module")
def two_faces(landmarker, grace):
    """A still scene: the astronaut (face 70 px) on the left, Grace Hopper (90 px) on the right."""
    from skimage.data import astronaut

    astronaut_patch, _ = _patch(cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR), 70, landmarker)
    return [_scene([(astronaut_patch, 60), (grace[0], 400)])] * 6


@pytest.mark.parametrize("choice, centre", [("largest", 490), ("left", 130), ("right", 490), ("1", 130),
                                            ("2", 490)])
def test_two_faces_are_counted_and_the_chosen_one_spotted(tmp_path, landmarker, two_faces, choice, centre):
    found = _follow(tmp_path, two_faces, landmarker, face_choice(choice))
    (face,) = found.faces
    _, _, left, right = face.track.changes[0][1]
    assert found.faces_found == 2 and abs((left + right) / 2 - centre) < 15
    assert face.number == (1 if centre < 300 else 2) and not face.lost_frames.any()


def test_a_face_number_beyond_the_faces_found_is_one_line(tmp_path, landmarker, two_faces):
    with pytest.raises(UserError, match=r"face 3 asked, but the first frame with a face .* shows 2$"):
        _follow(tmp_path, two_faces, landmarker, 3)
    with pytest.raises(UserError, match="--face must be largest, left, right or a face number from 1"):
        face_choice("0")


def test_every_face_is_spotted_into_its_own_folder_with_its_own_page(one_fold_run, tmp_path, landmarker,
                                                                     two_faces, capsys):
    _, run, config = one_fold_run
    folder = tmp_path / "duo"
    folder.mkdir()
    for number, frame in enumerate(two_faces * 2, 1):
        cv2.imwrite(str(folder / f"img{number}.png"), frame)
    out = tmp_path / "spots"
    options = SpotOptions(inputs=(folder,), run=run, config=config, epoch="last", out=out, face=ALL_FACES)
    assert spot_inputs(options, landmarker) == 0
    printed = capsys.readouterr().out
    assert f"{folder}: 2 face(s) on frame 1; spotting each on its own" in printed
    index = json.loads((out / "duo" / "faces.json").read_text())
    assert index == {"input": str(folder.resolve()), "faces_found": 2, "faces": {"1": "face-1", "2": "face-2"}}
    boxes = []
    for number in (1, 2):
        face_folder = out / "duo" / f"face-{number}"
        assert {"spots.csv", "spots.json", "spots.eaf", "report.html", "preview.webm",
                "timeline.png"} <= {p.name for p in face_folder.iterdir()}
        document = json.loads((face_folder / "spots.json").read_text())
        assert document["faces_found"] == 2 and document["face"]["number"] == number
        boxes.append(document["face"]["track"][0]["box"])
    assert boxes[0][3] < boxes[1][2]  # face 1 lies left of face 2
    assert spot_inputs(options, landmarker) == 0  # a rerun finds the input's folder again
    assert sorted(p.name for p in out.iterdir() if p.name != TASKS_FOLDER) == ["duo"]


def test_the_annotated_video_draws_the_box_the_face_is_followed_with(one_fold_run, tmp_path, landmarker,
                                                                     grace):
    _, run, config = one_fold_run
    patch, brow = grace
    frames, _ = _sliding_take(patch, brow, [100, 100 + 2 * FACE_PX])
    folder = tmp_path / "slide"
    folder.mkdir()
    for number, frame in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"img{number}.png"), frame)
    out = tmp_path / "spots"
    options = SpotOptions(inputs=(folder,), run=run, config=config, epoch="last", out=out, video=True, report=False)
    assert spot_inputs(options, landmarker) == 0
    capture = cv2.VideoCapture(str(out / "slide" / "annotated.webm"))
    drawn = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        drawn.append(image)
    capture.release()
    assert len(drawn) == len(frames)

    def green_columns(image):  # where the box's green lines are
        green = (image[..., 1] > 150) & (image[..., 0] < 100) & (image[..., 2] < 100)
        return np.flatnonzero(green.sum(axis=0) > 20)

    first, last = green_columns(drawn[0]), green_columns(drawn[-1])
    assert abs(first.mean() - (100 + FACE_PX)) < FACE_PX / 4 and abs(last.mean() - (100 + 3 * FACE_PX)) < FACE_PX / 4


class _CountingSearches(FaceLandmarker):
    searches = 0

    def face_boxes(self, gray):
        self.searches += 1
        return super().face_boxes(gray)


def test_a_face_that_leaves_is_looked_for_every_few_frames_and_found_where_it_comes_back(tmp_path, grace):
    from feature_extraction.tracking import SEARCH_EVERY

    patch, _ = grace
    away = 20
    frames = [_scene([(patch, 100)])] * 5 + [_scene([])] * away + [_scene([(patch, 400)])] * 10
    landmarker = _CountingSearches()
    (face,) = _follow(tmp_path, frames, landmarker).faces
    lost = np.flatnonzero(face.lost_frames)
    assert lost[0] == 5 and 5 + away <= lost[-1] + 1 <= 5 + away + SEARCH_EVERY  # found within a few frames
    assert not face.lost_frames[5 + away + SEARCH_EVERY:].any()
    assert landmarker.searches <= 1 + away // SEARCH_EVERY + 2  # the first frame, then every few frames
    (_, _, left, right) = face.track.changes[-1][1]
    assert abs((left + right) / 2 - (400 + FACE_PX)) < FACE_PX / 5
