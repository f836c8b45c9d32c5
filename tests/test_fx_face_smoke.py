"""Smoke tests on a real face photo: landmarks, detection modes, a rising brow, and hard footage."""
import dlib
import numpy as np
import pytest

from feature_extraction.face import FaceLandmarker, crop, landmark_model_path, to_gray
from feature_extraction.flow import quantise_flow
from feature_extraction.video import FlowSettings, VideoFailure, extract_video
from fx_footage import face_frames

BROW_LEFT, BROW_RIGHT, MOUTH = [0, 1, 2], [3, 4, 5], [8, 9, 10, 11]


@pytest.fixture(scope="module")
def landmarker():
    return FaceLandmarker()


@pytest.fixture(scope="module")
def raised_brow(landmarker):
    # 6 frames, head drifting (0.4, 0.25) px per frame, image-left brow rising 3 px in all.
    return face_frames(6, face_px=160, brow_raise_px=3.0, landmarker=landmarker)


def labelled(frames):
    return lambda: [(f"frame{i}", frame) for i, frame in enumerate(frames)]


def test_model_found_without_importing_the_package():
    assert landmark_model_path().name == "shape_predictor_68_face_landmarks.dat"


def test_landmarks_on_cropped_face(landmarker, raised_brow):
    gray = to_gray(raised_brow[0])
    box = landmarker.face_box(gray)
    top, bottom, left, right = box
    assert 130 <= right - left + 1 <= 190  # the face was placed about 160 px wide
    face = crop(gray, box)
    assert face.shape == (bottom - top + 1, right - left + 1)
    points = landmarker.landmarks(face)
    assert points.shape == (68, 2) and points.dtype == np.int32
    # iBUG order: brows above the eyes above the nose tip above the mouth, jaw 0 left of jaw 16.
    assert points[17:27, 1].mean() < points[36:48, 1].mean() < points[30, 1] < points[48:68, 1].mean()
    assert points[0, 0] < points[16, 0]


def test_rising_brow_shows_in_brow_rois_only(landmarker, raised_brow):
    result = extract_video(labelled(raised_brow), FlowSettings("tvl1"), landmarker)
    assert result.features.shape == (5, 12, 2) and result.features.dtype == np.float32
    assert result.landmark_failures == 0 and not result.unreadable and not result.notes
    mean = result.features.mean(axis=0)
    # 0.6 px up per frame, weighted by the warp's falloff: about -0.02 in y (feature units, px/20).
    assert np.all(mean[BROW_LEFT, 1] < -0.01)
    assert np.all(np.abs(mean[BROW_LEFT, 0]) < 0.005)
    # The head drift is removed: the other brow and the mouth stay within a quantisation level or so.
    assert np.all(np.abs(mean[BROW_RIGHT + MOUTH]) < 0.005)


def test_hard_footage_keeps_rows_aligned(landmarker, raised_brow):
    blank = np.full_like(raised_brow[0], 90)
    frames = [blank, raised_brow[0], None, raised_brow[1], raised_brow[2]]
    result = extract_video(labelled(frames), FlowSettings("dis"), landmarker)
    assert result.n_frames == 5 and result.features.shape == (4, 12, 2)
    assert result.unreadable == ["frame2 (cannot be read)"]
    assert result.landmark_failures == 1  # the blank frame, filled from frame 1
    assert len(result.notes) == 1 and "crop box from frame 1 (frame1)" in result.notes[0]
    np.testing.assert_allclose(result.features[1], 0.0, atol=1e-6)  # frame 2 repeats frame 1


def test_leading_unreadable_frames_repeat_the_first_readable(landmarker, raised_brow):
    frames = [None, None, raised_brow[0], raised_brow[3]]
    result = extract_video(labelled(frames), FlowSettings("dis", quantise=False), landmarker)
    assert result.features.shape == (3, 12, 2)
    assert result.unreadable == ["frame0 (cannot be read)", "frame1 (cannot be read)"]
    np.testing.assert_allclose(result.features[:2], 0.0, atol=1e-6)
    assert np.abs(result.features[2]).max() > 0.01  # 3 frames of drift and brow between frames 2 and 3


@pytest.mark.parametrize("frames, reason", [
    ([], "no frames"),
    ([None, None], "none of its 2 frames can be read"),
    ("blank", "no face found on any of its 3 frames"),
])
def test_failures_have_one_line_reasons(landmarker, raised_brow, frames, reason):
    if frames == "blank":
        frames = [np.full_like(raised_brow[0], 90)] * 3
    with pytest.raises(VideoFailure, match=f"^{reason}$"):
        extract_video(labelled(frames), FlowSettings("dis"), landmarker)


def test_single_frame_fails(landmarker, raised_brow):
    with pytest.raises(VideoFailure, match="only one frame"):
        extract_video(labelled(raised_brow[:1]), FlowSettings("dis"), landmarker)


class MarkerLandmarker:
    """Stand-in for FaceLandmarker: a fixed box; 'landmarks' all equal to the frame's marker
    pixel (frame index) or None for the frames listed as failures."""

    def __init__(self, failures=()):
        self.failures = set(failures)
        self.modes = set()

    def face_box(self, gray):
        return (0, 29, 0, 29)

    def landmarks(self, cropped, detect):
        self.modes.add(detect)
        marker = int(cropped[0, 0]) // 10
        return None if marker in self.failures else np.full((68, 2), marker, np.int32)


@pytest.mark.parametrize("chunk", [2, 32])
def test_flow_i_uses_landmarks_of_frame_i_plus_1_with_failures_filled(monkeypatch, chunk):
    import feature_extraction.rows as rows
    import feature_extraction.video as video

    seen = []
    monkeypatch.setattr(rows, "FLOW_CHUNK", chunk)
    monkeypatch.setattr(rows, "roi_features",
                        lambda flow, landmarks: seen.extend(landmarks[:, 0, 0].tolist()) or
                        np.zeros((len(flow), 12, 2), np.float32))
    frames = [np.full((40, 40), 10 * index, np.uint8) for index in range(7)]
    # Frames 0 and 1 fail (filled backwards from frame 2), frame 4 fails (forwards from 3),
    # frame 5 is unreadable (a copy of frame 4, so it has frame 4's landmarks, not a failure).
    frames[5] = None
    result = video.extract_video(labelled(frames), FlowSettings("dis"), MarkerLandmarker({0, 1, 4}))
    assert seen == [2, 2, 3, 3, 3, 6]  # landmarks of frames 1..6 for flows 0..5
    assert result.landmark_failures == 3 and result.features.shape == (6, 12, 2)


def test_full_detection_runs_at_the_crops_own_resolution(landmarker, raised_brow):
    gray = to_gray(raised_brow[0])
    face = crop(gray, landmarker.face_box(gray))
    # METHOD.md 2.2 as published: dlib's detector on the crop itself, then the predictor in that box.
    rect = max(dlib.get_frontal_face_detector()(face, 0), key=lambda r: r.area())
    predictor = dlib.shape_predictor(str(landmark_model_path()))
    expected = np.array([(p.x, p.y) for p in predictor(face, rect).parts()], np.int32)
    np.testing.assert_array_equal(landmarker.landmarks(face, detect="full"), expected)
    np.testing.assert_array_equal(landmarker.landmarks(face), expected)  # full is the default
    fast = landmarker.landmarks(face, detect="fast")
    assert fast.shape == (68, 2) and np.abs(fast - expected).mean() < 5  # a coarser box, the same face
    with pytest.raises(ValueError, match="unknown face-detection mode 'slow'"):
        landmarker.landmarks(face, detect="slow")


@pytest.mark.parametrize("method, requested, mode", [
    ("tvl1", "auto", "full"), ("dis", "auto", "fast"), ("farneback", "auto", "fast"),
    ("tvl1", "fast", "fast"), ("dis", "full", "full"),
])
def test_face_detect_mode_resolves_and_reaches_the_landmarker(method, requested, mode):
    settings = FlowSettings(method, face_detect=requested)
    assert settings.face_detect == mode
    assert settings.key.startswith(f"{method}-q8-{mode}")  # the cache key changes with the mode
    marker = MarkerLandmarker()
    frames = [np.full((40, 40), 10 * index, np.uint8) for index in range(3)]
    extract_video(labelled(frames), settings, marker)
    assert marker.modes == {mode}
    with pytest.raises(ValueError, match="unknown face-detection mode 'slow'"):
        FlowSettings(method, face_detect="slow")


@pytest.mark.parametrize("quantise", [True, False])
def test_repeated_frames_get_zero_flow_without_running_the_flow(monkeypatch, quantise):
    import feature_extraction.rows as rows
    import feature_extraction.video as video

    calls, given = [], []
    # A fake flow with a constant 3 px motion to the right, counting its calls.
    monkeypatch.setattr(rows, "make_flow", lambda method, *options: lambda a, b: calls.append(1) or np.full(
        (*a.shape, 2), (3.0, 0.0), np.float32))
    monkeypatch.setattr(rows, "roi_features", lambda flow, landmarks: given.append(flow) or flow[:, :12, 0, :])
    original = rows.to_feature_units
    monkeypatch.setattr(rows, "to_feature_units", lambda stored: given.append(stored.dtype) or original(stored))
    frames = [None, np.full((40, 40), 10, np.uint8), np.full((40, 40), 20, np.uint8), None,
              np.full((40, 40), 30, np.uint8)]
    result = video.extract_video(labelled(frames), FlowSettings("dis", quantise=quantise), MarkerLandmarker())
    assert len(calls) == 2  # frames 1 -> 2 and 3 (a copy of 2) -> 4; never between identical images
    zero, moving = (quantise_flow(np.array([0.0, 3.0])) / 255 - 0.5) if quantise else (0.0, 3.0 / 20)
    np.testing.assert_allclose(result.features[:, 0], [[zero, zero], [moving, zero], [zero, zero],
                                                       [moving, zero]], atol=1e-7)
    # Flows wait for their landmarks in the compact form: uint8 codes when quantised.
    assert given[0] == (np.uint8 if quantise else np.float32)
