"""Flow quantisation (dense_flow, bound 10) by hand values, and flow sign conventions."""
import cv2
import numpy as np
import pytest

from feature_extraction.flow import FLOW_METHODS, flow_to_feature_units, make_flow, quantise_flow


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
