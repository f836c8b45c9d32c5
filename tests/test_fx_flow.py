"""Flow quantisation (dense_flow, bound 10) by hand values, and flow sign conventions."""
import cv2
import numpy as np
import pytest

from core_fixtures import flow_to_feature_units
from feature_extraction.flow import FLOW_METHODS, make_flow, quantise_flow


def test_quantise_hand_values():
    px = np.array([0.0, 10.0, -10.0, 15.0, -12.0, 1.0, -1.0, 0.04, 9.96], np.float32)
    # 255 * (v + 10) / 20 = 127.5 (half to even: 128), 255, 0, clip, clip, 140.25, 114.75, 128.01, 254.49
    assert quantise_flow(px).tolist() == [128, 255, 0, 255, 0, 140, 115, 128, 254]


def test_feature_units():
    px = np.array([[0.0, 10.0], [-10.0, 25.0]], np.float32)
    got = flow_to_feature_units(px)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[128 / 255 - 0.5, 0.5], [-0.5, 0.5]], rtol=0, atol=1e-7)
    np.testing.assert_allclose(flow_to_feature_units(px, quantise=False), px / 20, rtol=0, atol=1e-7)
    # Quantisation error is at most half a level, 0.5/255 in feature units, inside the bound.
    values = np.linspace(-10, 10, 1001, dtype=np.float32)
    assert np.abs(flow_to_feature_units(values) - values / 20).max() <= 0.5 / 255 + 1e-6


def _textured(size=96, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.random((size // 4, size // 4)).astype(np.float32)
    return cv2.resize(cv2.GaussianBlur(noise, (3, 3), 0), (size, size), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_flow_direction_convention(method):
    # Content moving right by 2 px and up by 1 px between frames gives flow (+2, -1): x right, y down.
    base = cv2.normalize(_textured(), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    shifted = cv2.warpAffine(base, np.float32([[1, 0, 2], [0, 1, -1]]), base.shape[::-1], borderMode=cv2.BORDER_REFLECT)
    flow = make_flow(method)(base, shifted)
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    centre = flow[24:72, 24:72].reshape(-1, 2)
    np.testing.assert_allclose(np.median(centre, axis=0), [2.0, -1.0], atol=0.3)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown flow method 'lk'"):
        make_flow("lk")


# --------------------------------------------------------------------------- storage, TV-L1 sets, keys


def _hand_flow(size=120):
    """A hand-made (H, W, 2) px field: a 0.6 px head shift right plus a 2 px Gaussian bump up at (40, 50)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bump = np.exp(-((xx - 40) ** 2 + (yy - 50) ** 2) / (2 * 12.0 ** 2))
    return np.stack([np.full_like(xx, 0.6), -2.0 * bump], axis=-1).astype(np.float32)


def test_jpeg95_round_trip_changes_codes_by_the_jpeg_error_and_keeps_roi_summaries():
    from feature_extraction.flow import jpeg_round_trip, stored_flow, to_feature_units
    from feature_extraction.roi import roi_features

    flow = _hand_flow()
    codes = quantise_flow(flow)
    stored = stored_flow(flow, storage="jpeg95")
    assert stored.dtype == np.uint8 and stored.shape == codes.shape
    # Each component went through cv2's JPEG at quality 95 on its own: exactly that error, no more.
    for c in range(2):
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(codes[..., c]), [cv2.IMWRITE_JPEG_QUALITY, 95])
        np.testing.assert_array_equal(stored[..., c], cv2.imdecode(data, cv2.IMREAD_GRAYSCALE))
    error = stored.astype(int) - codes
    assert 0 < np.abs(error).max() <= 4 and (error != 0).any()  # lossy, but a few codes at most
    np.testing.assert_array_equal(jpeg_round_trip(np.full((16, 16, 2), 128, np.uint8)), 128)  # flat: exact
    rng = np.random.default_rng(3)
    landmarks = rng.integers(20, 100, (1, 68, 2))
    plain = roi_features(to_feature_units(codes[None]), landmarks)
    through_jpeg = roi_features(to_feature_units(stored[None]), landmarks)
    assert np.abs(through_jpeg - plain).max() <= 2 / 255  # the ROI summary stays within 2 codes
    assert np.abs(plain).max() > 5 / 255  # and the bump is there to be summarised


def test_jpeg95_needs_codes_and_unknown_storage_is_refused():
    from feature_extraction.flow import stored_flow
    from feature_extraction.settings import FlowSettings

    with pytest.raises(ValueError, match="cannot go with no quantisation"):
        FlowSettings("dis", quantise=False, storage="jpeg95")
    with pytest.raises(ValueError, match="unknown flow storage 'png'"):
        stored_flow(_hand_flow(), storage="png")


# Hand-written from OpenCV's CPU defaults and dense_flow's GPU defaults (the published set), not from TVL1_PARAMS.
EXPECTED_TVL1 = {
    "opencv-cpu": dict(Tau=0.25, Lambda=0.15, Theta=0.3, ScalesNumber=5, WarpingsNumber=5, Epsilon=0.01,
                       InnerIterations=30, OuterIterations=10, ScaleStep=0.8, Gamma=0.0, MedianFiltering=5),
    "published-gpu": dict(Tau=0.25, Lambda=0.15, Theta=0.3, ScalesNumber=5, WarpingsNumber=5, Epsilon=0.01,
                          InnerIterations=300, OuterIterations=1, ScaleStep=0.8, Gamma=0.0, MedianFiltering=1),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TVL1))
def test_each_tvl1_parameter_set_reaches_opencv(name, monkeypatch):
    from feature_extraction import flow as flow_module

    created = []
    real = cv2.optflow.DualTVL1OpticalFlow_create
    monkeypatch.setattr(cv2.optflow, "DualTVL1OpticalFlow_create", lambda *a: created.append(real(*a)) or created[-1])
    flow_module.make_flow("tvl1", tvl1_params=name)
    (solver,) = created
    for param, value in EXPECTED_TVL1[name].items():
        assert getattr(solver, f"get{param}")() == pytest.approx(value), param
    with pytest.raises(ValueError, match="unknown TV-L1 parameter set 'gpu'"):
        flow_module.make_flow("tvl1", tvl1_params="gpu")


def test_the_settings_reach_the_flow_of_a_video(monkeypatch):
    from feature_extraction import rows, video

    seen = []
    real = rows.make_flow
    monkeypatch.setattr(rows, "make_flow", lambda *args: seen.append(args) or real(*args))
    frames = [np.zeros((40, 40), np.uint8)] * 2

    class Still:
        def face_box(self, gray):
            return (0, 39, 0, 39)

        def landmarks(self, cropped, detect="full"):
            return np.full((68, 2), 20)

    for settings in (video.FlowSettings("tvl1", tvl1_params="published-gpu"), video.FlowSettings("dis", dis_preset="ultrafast")):
        video.extract_video(lambda: iter(enumerate(frames)), settings, Still())
    assert seen == [("tvl1", "medium", "published-gpu"), ("dis", "ultrafast", "opencv-cpu")]


def test_dis_presets_reach_opencv(monkeypatch):
    created = []
    real = cv2.DISOpticalFlow_create
    monkeypatch.setattr(cv2, "DISOpticalFlow_create", lambda preset: created.append(preset) or real(preset))
    for name in ("ultrafast", "fast", "medium"):
        make_flow("dis", dis_preset=name)
    assert created == [cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, cv2.DISOPTICAL_FLOW_PRESET_FAST,
                       cv2.DISOPTICAL_FLOW_PRESET_MEDIUM] == [0, 1, 2]


def test_the_cache_key_changes_with_every_setting(tmp_path):
    import dataclasses
    import json

    from feature_extraction.cache import load_cached, save_cached
    from feature_extraction.settings import FlowSettings
    from feature_extraction.video import VideoResult

    base = {"tvl1": FlowSettings("tvl1"), "dis": FlowSettings("dis")}
    changed = [("tvl1", {"tvl1_params": "published-gpu"}), ("tvl1", {"storage": "jpeg95"}),
               ("tvl1", {"quantise": False}), ("tvl1", {"face_detect": "fast"}), ("dis", {"dis_preset": "fast"}),
               ("dis", {"dis_preset": "ultrafast"}), ("dis", {"storage": "jpeg95"}), ("dis", {"method": "farneback"})]
    result = VideoResult(np.zeros((1, 12, 2), np.float32), 2)
    for method, change in changed:
        path = tmp_path / f"{method}-{'-'.join(f'{k}{v}' for k, v in change.items())}.npz"
        save_cached(path, result, base[method], "src")
        other = dataclasses.replace(base[method], **change)
        assert other.key != base[method].key, change
        assert load_cached(path, other, "src") is None, change
        assert load_cached(path, base[method], "src") is not None
    # Flat and JSON-serialisable (the extraction record writes dataclasses.asdict).
    assert json.loads(json.dumps(dataclasses.asdict(FlowSettings()))) == {
        "method": "tvl1", "quantise": True, "face_detect": "full", "dis_preset": "medium",
        "tvl1_params": "opencv-cpu", "storage": "codes"}
    assert FlowSettings("tvl1", tvl1_params="published-gpu", storage="jpeg95").key == "tvl1-q8-full-published-gpu-jpeg95"


@pytest.mark.parametrize("argv, expected", [
    ([], dict(method="tvl1", tvl1_params="opencv-cpu", storage="codes", face_detect="full")),
    (["--flow-preset", "published"], dict(method="tvl1", tvl1_params="published-gpu", storage="jpeg95",
                                          face_detect="full")),
    (["--flow-preset", "published", "--flow-storage", "codes"], dict(tvl1_params="published-gpu", storage="codes")),
    (["--flow", "dis"], dict(method="dis", dis_preset="medium", face_detect="fast")),
    (["--flow", "dis", "--dis-preset", "fast", "--flow-storage", "jpeg95"], dict(dis_preset="fast", storage="jpeg95")),
    (["--tvl1-params", "published-gpu"], dict(tvl1_params="published-gpu", storage="codes")),
])
def test_cli_flags_make_the_settings(argv, expected, tmp_path):
    from feature_extraction.__main__ import build_parser, flow_settings

    args = build_parser().parse_args(["--layout", "generic", "--raw-root", str(tmp_path), "--out", str(tmp_path),
                                      *argv])
    settings = flow_settings(args)
    assert {name: getattr(settings, name) for name in expected} == expected
