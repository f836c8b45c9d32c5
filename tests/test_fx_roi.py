"""ROI features (METHOD.md 2.4) against hand-computed values and a brute-force per-ROI loop."""
import math

import numpy as np
import pytest

from core_fixtures import flow_to_feature_units
from feature_extraction.roi import (GLOBAL_KEEP_FRACTION, GLOBAL_SECTOR_EDGES, ROI_KEEP_FRACTION, ROI_LANDMARKS,
                                    ROI_SECTOR_EDGES, dominant_direction_summary, roi_features, sector_index)

# ----------------------------------------------------------------------------- brute force reference
# Written from METHOD.md 2.4 with plain Python loops, one ROI and one vector at a time.


def ref_sector(vector, edges):
    angle = math.degrees(math.atan2(vector[1], vector[0])) % 360.0
    for j in range(len(edges) - 1):
        if edges[j] <= angle < edges[j + 1]:
            return j
    return len(edges) - 1


def ref_summary(vectors, edges, fraction):
    groups = [[] for _ in edges]
    for vector in vectors:
        groups[ref_sector(vector, edges)].append(vector)
    best = 0
    for j, group in enumerate(groups):
        if len(group) > len(groups[best]):
            best = j
    group = groups[best]
    keep = int(len(group) * fraction)
    if keep == 0:
        return (0.0, 0.0)
    largest = sorted(group, key=lambda v: -math.sqrt(v[0] ** 2 + v[1] ** 2))[:keep]  # stable
    sx = sum(v[0] for v in largest)
    sy = sum(v[1] for v in largest)
    mean = sum(math.sqrt(v[0] ** 2 + v[1] ** 2) for v in largest) / keep
    norm = math.sqrt(sx * sx + sy * sy)
    return (sx / (norm + 1e-6) * mean, sy / (norm + 1e-6) * mean)


def ref_box(flow, top, bottom, left, right):
    height, width = flow.shape[:2]
    return [tuple(float(c) for c in flow[y, x])
            for y in range(max(top, 0), min(bottom, height - 1) + 1)
            for x in range(max(left, 0), min(right, width - 1) + 1)]


def ref_features(flow, landmarks):
    lm = [(int(x), int(y)) for x, y in landmarks]
    widen = int(0.35 * (lm[42][0] - lm[39][0]) / 2)
    (x29, y29), (x30, y30) = lm[29], lm[30]
    nose = ref_box(flow, min(y29, y30) - widen, max(y29, y30) + widen, min(x29, x30) - widen, max(x29, x30) + widen)
    gx, gy = ref_summary(nose, GLOBAL_SECTOR_EDGES, GLOBAL_KEEP_FRACTION)
    out = []
    for index in ROI_LANDMARKS:
        x, y = lm[index]
        patch = [(vx - gx, vy - gy) for vx, vy in ref_box(flow, y - 5, y + 5, x - 5, x + 5)]
        out.append(ref_summary(patch, ROI_SECTOR_EDGES, ROI_KEEP_FRACTION))
    return np.array(out)


# ----------------------------------------------------------------------------- helpers


def spaced_landmarks(height=120, width=140):
    """68 landmarks with the 12 ROI centres and the nose rectangle far apart (no overlap)."""
    lm = np.zeros((68, 2), dtype=np.int64)
    lm[:] = (70, 60)
    centres = {18: (15, 15), 19: (35, 15), 20: (55, 15), 23: (85, 15), 24: (105, 15), 25: (125, 15),
               28: (15, 45), 30: (70, 60), 48: (15, 100), 51: (45, 100), 54: (95, 100), 57: (125, 100)}
    for index, xy in centres.items():
        lm[index] = xy
    lm[29] = (70, 52)
    lm[39], lm[42] = (58, 40), (82, 40)  # widen = int(0.35 * 24 / 2) = 4
    return lm


def quantised_constant(height, width, vx, vy):
    flow = np.empty((height, width, 2), np.float32)
    flow[..., 0], flow[..., 1] = vx, vy
    return flow_to_feature_units(flow)


# ----------------------------------------------------------------------------- tests


def test_sector_convention_image_y_down():
    # atan2(y, x) with y down: (0, 1) points down on screen = 90 degrees.
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    assert sector_index(vectors, GLOBAL_SECTOR_EDGES).tolist() == [3, 0, 1, 2, 0, 2, 3]
    assert sector_index(vectors, ROI_SECTOR_EDGES).tolist() == [3, 0, 1, 2, 0, 2, 2]


def test_brute_force_agreement_on_quantised_random_flow():
    rng = np.random.default_rng(3)
    n_frames, height, width = 4, 48, 60
    # Few distinct px values: many equal magnitudes and mirrored vectors, which exercises the tie rule.
    flow_px = rng.choice(np.array([-1.5, -0.5, 0.0, 0.5, 1.5, 2.5]), size=(n_frames, height, width, 2))
    flow = flow_to_feature_units(flow_px.astype(np.float32))
    landmarks = rng.integers(0, [width, height], size=(n_frames, 68, 2))
    landmarks[0, 18] = (0, 0)  # patch clipped to 6 x 6 in the corner
    landmarks[1, 57] = (width + 3, height - 1)  # clipped to 3 columns
    landmarks[2, 30] = (-20, -20)  # patch entirely outside the image: empty
    landmarks[:, 39] = rng.integers(10, 30, size=(n_frames, 2))
    landmarks[:, 42] = landmarks[:, 39] + [[17, 0], [23, 1], [9, -1], [-30, 0]]  # widen 2, 4, 1, and -5:
    # a negative widening shrinks the nose rectangle (Python's int truncates toward zero)
    got = roi_features(flow, landmarks)
    assert got.shape == (n_frames, 12, 2) and got.dtype == np.float32
    for frame in range(n_frames):
        np.testing.assert_allclose(got[frame], ref_features(flow[frame], landmarks[frame]), atol=1e-6)
    assert np.all(got[2, 7] == 0)  # empty patch summarises to zero


def test_brute_force_agreement_on_smooth_flow():
    rng = np.random.default_rng(5)
    height, width = 64, 64
    yy, xx = np.mgrid[:height, :width]
    flow_px = np.stack([3 * np.sin(xx / 7.0) + rng.normal(0, 0.3, (height, width)),
                        2 * np.cos(yy / 5.0) + rng.normal(0, 0.3, (height, width))], axis=-1)
    for quantise in (True, False):
        flow = flow_to_feature_units(flow_px.astype(np.float32), quantise)[None]
        landmarks = rng.integers(3, 61, size=(1, 68, 2))
        np.testing.assert_allclose(roi_features(flow, landmarks)[0], ref_features(flow[0], landmarks[0]), atol=1e-6)


def test_pure_head_translation_gives_zero_features():
    lm = spaced_landmarks()[None]
    for vx, vy in [(2.0, -1.0), (-3.5, 0.0), (0.0, 0.0), (12.0, 7.0)]:
        flow = quantised_constant(120, 140, vx, vy)[None]
        np.testing.assert_allclose(roi_features(flow, lm), 0.0, atol=1e-6)


@pytest.mark.parametrize("v", [1.0, 2.0, 4.0])
def test_patch_moving_up_gives_minus_v_over_20(v):
    lm = spaced_landmarks()
    flow_px = np.zeros((120, 140, 2), np.float32)
    x, y = lm[19]
    flow_px[y - 5:y + 6, x - 5:x + 6, 1] = -v  # only ROI 1 (landmark 19) moves, upwards
    flow = flow_to_feature_units(flow_px)[None]
    got = roi_features(flow, lm[None])[0]
    zero = 128 / 255 - 0.5  # 0 px after quantisation; the head-motion removal takes it off
    expected_y = np.rint(255 * (10 - v) / 20) / 255 - 0.5 - zero
    np.testing.assert_allclose(got[1], [0.0, expected_y], atol=1e-5)
    assert abs(got[1, 1] - (-v / 20)) < 1 / 255
    np.testing.assert_allclose(np.delete(got, 1, axis=0), 0.0, atol=1e-6)


def test_dominant_sector_and_first_on_ties():
    down, up, right = [0.0, 1.0], [0.0, -1.0], [1.0, 0.0]
    # 60 down (sector 0), 61 up (sector 2): up wins.
    vectors = np.array([down] * 60 + [up] * 61)[None]
    got = dominant_direction_summary(vectors, np.ones((1, 121), bool), ROI_SECTOR_EDGES, 0.6)[0]
    np.testing.assert_allclose(got, [0.0, -1.0], atol=1e-6)
    # Tie 60 / 60 (+1 right): the first sector in order, [30, 150) = down, wins.
    vectors = np.array([up] * 60 + [down] * 60 + [right])[None]
    got = dominant_direction_summary(vectors, np.ones((1, 121), bool), ROI_SECTOR_EDGES, 0.6)[0]
    np.testing.assert_allclose(got, [0.0, 1.0], atol=1e-6)
    # Invalid (padding) entries are not counted: 3 valid down vs 5 invalid up.
    vectors = np.array([up] * 5 + [down] * 3)[None]
    valid = np.array([[False] * 5 + [True] * 3])
    got = dominant_direction_summary(vectors, valid, ROI_SECTOR_EDGES, 0.6)[0]
    np.testing.assert_allclose(got, [0.0, 1.0], atol=1e-6)


def test_top_fraction_keeps_int_n_times_fraction_largest():
    # 10 vectors pointing right with magnitudes 1..10, shuffled: int(10 * 0.6) = 6 keep 5..10, mean 7.5.
    magnitudes = np.array([3, 9, 1, 10, 5, 7, 2, 8, 4, 6], float)
    vectors = np.stack([magnitudes, np.zeros(10)], axis=-1)[None]
    got = dominant_direction_summary(vectors, np.ones((1, 10), bool), ROI_SECTOR_EDGES, 0.6)[0]
    np.testing.assert_allclose(got, [45 / (45 + 1e-6) * 7.5, 0.0])
    # The direction comes from the kept vectors only: the small ones point 20 degrees down.
    small = 1.0 * np.array([math.cos(math.radians(20)), math.sin(math.radians(20))])
    vectors = np.array([small, small, [3.0, 0.0], [4.0, 0.0], [5.0, 0.0]])[None]  # int(5*0.6) = 3 kept
    got = dominant_direction_summary(vectors, np.ones((1, 5), bool), ROI_SECTOR_EDGES, 0.6)[0]
    np.testing.assert_allclose(got, [12 / (12 + 1e-6) * 4.0, 0.0])
    # Ties in magnitude are kept in raster order: (4, 3) and (5, 0) share the sector [315, 45) and
    # |v| = 5; (3, -4) is alone in [225, 315). int(2 * 0.6) = 1 keeps the first, (4, 3).
    vectors = np.array([[4.0, 3.0], [3.0, -4.0], [5.0, 0.0]])[None]
    got = dominant_direction_summary(vectors, np.ones((1, 3), bool), GLOBAL_SECTOR_EDGES, 0.6)
    np.testing.assert_allclose(got[0], [4.0, 3.0], atol=1e-5)


def test_many_magnitude_ties_keep_raster_order():
    # 40 vectors of length 5 in the sector [330, 30): 12 pointing 16 degrees down, then 28
    # alternating 0 and -16 degrees. int(40 * 0.6) = 24 keeps the first 24 in raster order.
    down, level, up = [4.8, 1.4], [5.0, 0.0], [4.8, -1.4]
    rows = [down] * 12 + [level, up] * 14
    vectors = np.array(rows)[None]
    total = np.array(rows[:24]).sum(axis=0)
    expected = total / (np.hypot(*total) + 1e-6) * 5.0
    got = dominant_direction_summary(vectors, np.ones((1, 40), bool), ROI_SECTOR_EDGES, 0.6)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    np.testing.assert_allclose(got, ref_summary([tuple(r) for r in rows], ROI_SECTOR_EDGES, 0.6), rtol=1e-9)


def test_keep_count_zero_gives_zero_vector():
    # One vector alone: int(1 * 0.6) = 0 and int(1 * 0.88) = 0 -> zero (documented choice).
    vectors = np.array([[[2.0, 0.5]]])
    valid = np.ones((1, 1), bool)
    assert np.all(dominant_direction_summary(vectors, valid, ROI_SECTOR_EDGES, ROI_KEEP_FRACTION) == 0)
    assert np.all(dominant_direction_summary(vectors, valid, GLOBAL_SECTOR_EDGES, GLOBAL_KEEP_FRACTION) == 0)
    # Two in the sector: int(2 * 0.6) = 1 keeps the larger.
    vectors = np.array([[[2.0, 0.0], [3.0, 0.0]]])
    got = dominant_direction_summary(vectors, np.ones((1, 2), bool), ROI_SECTOR_EDGES, ROI_KEEP_FRACTION)
    np.testing.assert_allclose(got[0], [3.0, 0.0], atol=1e-5)


def test_features_use_head_motion_from_widened_nose_rectangle():
    # The nose rectangle moves right by 2 px, the rest is still: every ROI sees the head moving
    # and therefore a vector of about -2/20 px along x after the subtraction.
    lm = spaced_landmarks()
    flow_px = np.zeros((120, 140, 2), np.float32)
    widen = 4
    flow_px[52 - widen:60 + widen + 1, 70 - widen:70 + widen + 1, 0] = 2.0
    got = roi_features(flow_to_feature_units(flow_px)[None], lm[None])[0]
    shift = np.rint(255 * 12 / 20) / 255 - 128 / 255  # quantised 2 px minus quantised 0 px
    others = np.delete(got, 7, axis=0)  # ROI 7 (landmark 30) lies inside the rectangle
    np.testing.assert_allclose(others[:, 0], -shift, atol=1e-5)
    np.testing.assert_allclose(others[:, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(got, ref_features(flow_to_feature_units(flow_px), lm), atol=1e-6)
