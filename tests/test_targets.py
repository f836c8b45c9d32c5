"""Training targets (METHOD.md section 3), tested against the spec.

Label columns: micro start, apex, end, action, macro start, apex, end, action.
Rows are given in 270-row window coordinates; the middle 256 kept by
``build_targets`` are window rows 7..262 (target index = row - 7). Two published
quirks are only visible before the 7 context rows are dropped (the strict
``i - j > 0`` apex rule only ever concerns row 0), so those checks use the
270-row helpers ``_class_targets`` / ``_apex_targets`` as well.
"""
import math

import numpy as np
import pytest

from dataset.targets import _apex_targets, _class_targets, build_targets, normalise_features

ROWS = 270
PAD = 7
MICRO, MACRO = 2, 1
COLUMNS = {MICRO: {"start": 0, "apex": 1, "end": 2, "action": 3},
           MACRO: {"start": 4, "apex": 5, "end": 6, "action": 7}}
RANGE = {MICRO: 1, MACRO: 3}


def g(j):
    """The apex Gaussian exp(-j^2 / 32)."""
    return math.exp(-j * j / 32.0)


def labels_with(*marks, windows=1):
    """``marks``: (column, row) or (window, column, row) -> a (W, 270, 8) int label array."""
    labels = np.zeros((windows, ROWS, 8), dtype=np.int64)
    for mark in marks:
        w, column, row = mark if len(mark) == 3 else (0, *mark)
        labels[w, row, column] = 1
    return labels


def reference(labels, normal_range, corrected=False):
    """Section 3 as a literal pure-Python loop, in 270-row coordinates (no row dropping)."""
    upper = ROWS if corrected else 256
    out = {}
    for type_idx, name in ((MICRO, "micro"), (MACRO, "macro")):
        r = normal_range[type_idx]
        cols = COLUMNS[type_idx]
        classes = [[2] * ROWS for _ in range(labels.shape[0])]
        apex = [[0.0] * ROWS for _ in range(labels.shape[0])]
        action = [[0.0] * ROWS for _ in range(labels.shape[0])]
        for w in range(labels.shape[0]):
            for class_id, kind in ((0, "start"), (1, "end")):
                for i in range(ROWS):
                    if labels[w, i, cols[kind]]:
                        classes[w][i] = class_id
                        for j in range(1, r + 1):
                            if i - j >= 0:
                                classes[w][i - j] = class_id
                            if i + j < upper:
                                classes[w][i + j] = class_id
            for i in range(ROWS):
                if labels[w, i, cols["apex"]]:
                    apex[w][i] = 1.0
                    for j in range(1, r + 1):
                        if (i - j >= 0) if corrected else (i - j > 0):
                            apex[w][i - j] = g(j)
                        if i + j < upper:
                            apex[w][i + j] = g(j)
            for i in range(ROWS):
                action[w][i] = 1.0 if labels[w, i, cols["action"]] else 0.0
        out[f"{name}_classes"] = np.array(classes)
        out[f"{name}_apex"] = np.array(apex)
        out[f"{name}_action"] = np.array(action)
    return out


def full_rows(labels, type_idx, corrected=False):
    """270-row classes and apex from the code's helpers."""
    r = RANGE[type_idx]
    return (_class_targets(labels, type_idx, r, corrected), _apex_targets(labels, type_idx, r, corrected))


def build(labels, corrected=False):
    return build_targets(labels, dict(RANGE), corrected=corrected)


# ---------------------------------------------------------------- shapes and the middle 256 rows

def test_keys_shapes_and_dtypes():
    targets = build(labels_with(windows=3))
    assert set(targets) == {f"{t}_{k}" for t in ("micro", "macro") for k in ("classes", "apex", "action")}
    for key, value in targets.items():
        assert value.shape == (3, 256), key
    assert np.issubdtype(targets["micro_classes"].dtype, np.integer)
    assert np.all(targets["micro_classes"] == 2) and np.all(targets["macro_classes"] == 2)
    assert np.all(targets["micro_apex"] == 0) and np.all(targets["macro_action"] == 0)


def test_type_without_any_apex_label_gives_zero_apex():
    """Most windows have no apex of one type (or none at all): apex targets must be all zero, not an error."""
    targets = build(labels_with((COLUMNS[MICRO]["apex"], 100), (COLUMNS[MACRO]["start"], 50), windows=2))
    assert np.all(targets["macro_apex"] == 0)
    assert targets["micro_apex"][0, 100 - PAD] == 1.0


def test_start_label_macro_radius_3():
    targets = build(labels_with((COLUMNS[MACRO]["start"], 100)))
    expected = np.full(256, 2)
    expected[100 - 3 - PAD:100 + 3 - PAD + 1] = 0  # rows 97..103
    np.testing.assert_array_equal(targets["macro_classes"][0], expected)
    np.testing.assert_array_equal(targets["micro_classes"][0], np.full(256, 2))  # micro columns untouched


def test_start_label_micro_radius_1_uses_micro_column():
    targets = build(labels_with((COLUMNS[MICRO]["start"], 100)))
    expected = np.full(256, 2)
    expected[99 - PAD:101 - PAD + 1] = 0
    np.testing.assert_array_equal(targets["micro_classes"][0], expected)
    np.testing.assert_array_equal(targets["macro_classes"][0], np.full(256, 2))


def test_end_label_is_class_1():
    targets = build(labels_with((COLUMNS[MACRO]["end"], 50)))
    expected = np.full(256, 2)
    expected[47 - PAD:53 - PAD + 1] = 1
    np.testing.assert_array_equal(targets["macro_classes"][0], expected)


@pytest.mark.parametrize("start_row, end_row", [(100, 102), (102, 100)])
def test_ends_overwrite_starts_whatever_their_order_in_time(start_row, end_row):
    cols = COLUMNS[MACRO]
    classes = build(labels_with((cols["start"], start_row), (cols["end"], end_row)))["macro_classes"][0]
    expected = np.full(ROWS, 2)
    expected[start_row - 3:start_row + 4] = 0
    expected[end_row - 3:end_row + 4] = 1
    np.testing.assert_array_equal(classes, expected[PAD:PAD + 256])


def test_class_neighbours_stop_below_256_not_270():
    """A start at window row 254 (r=3) writes 251..255 only; rows 256, 257 stay 'none' (published quirk)."""
    labels = labels_with((COLUMNS[MACRO]["start"], 254))
    classes_270, _ = full_rows(labels, MACRO)
    expected = np.full(ROWS, 2)
    expected[251:256] = 0
    np.testing.assert_array_equal(classes_270[0], expected)
    np.testing.assert_array_equal(build(labels)["macro_classes"][0], expected[PAD:PAD + 256])
    # rows 256 and 257 are inside the kept middle (indices 249, 250): the quirk is visible in the targets
    assert build(labels)["macro_classes"][0, 256 - PAD] == 2


def test_label_beyond_256_writes_its_own_row_and_left_neighbours_only():
    labels = labels_with((COLUMNS[MACRO]["start"], 260))
    expected = np.full(ROWS, 2)
    expected[257:261] = 0
    np.testing.assert_array_equal(full_rows(labels, MACRO)[0][0], expected)
    np.testing.assert_array_equal(build(labels)["macro_classes"][0], expected[PAD:PAD + 256])


def test_corrected_writes_up_to_row_269():
    labels = labels_with((COLUMNS[MACRO]["start"], 254), (COLUMNS[MACRO]["apex"], 266))
    classes_270, apex_270 = full_rows(labels, MACRO, corrected=True)
    expected = np.full(ROWS, 2)
    expected[251:258] = 0
    np.testing.assert_array_equal(classes_270[0], expected)
    expected_apex = np.zeros(ROWS)
    expected_apex[263:270] = [g(3), g(2), g(1), 1.0, g(1), g(2), g(3)]
    np.testing.assert_allclose(apex_270[0], expected_apex, rtol=1e-6)
    classes = build(labels, corrected=True)["macro_classes"][0]
    assert classes[256 - PAD] == 0 and classes[257 - PAD] == 0 and classes[258 - PAD] == 2


def test_start_writes_row_0_but_apex_does_not():
    """Starts use i - j >= 0, apexes the strict i - j > 0 (published): apex at row 2, r=3."""
    cols = COLUMNS[MACRO]
    classes_270, _ = full_rows(labels_with((cols["start"], 2)), MACRO)
    expected = np.full(ROWS, 2)
    expected[0:6] = 0
    np.testing.assert_array_equal(classes_270[0], expected)

    _, apex_270 = full_rows(labels_with((cols["apex"], 2)), MACRO)
    expected_apex = np.zeros(ROWS)
    expected_apex[1:6] = [g(1), 1.0, g(1), g(2), g(3)]  # row 0 (j = 2) stays 0
    np.testing.assert_allclose(apex_270[0], expected_apex, rtol=1e-6)
    assert apex_270[0, 0] == 0.0

    _, apex_corrected = full_rows(labels_with((cols["apex"], 2)), MACRO, corrected=True)
    assert apex_corrected[0, 0] == pytest.approx(g(2))


def test_apex_at_row_0_keeps_its_own_value():
    _, apex_270 = full_rows(labels_with((COLUMNS[MACRO]["apex"], 0)), MACRO)
    expected = np.zeros(ROWS)
    expected[0:4] = [1.0, g(1), g(2), g(3)]
    np.testing.assert_allclose(apex_270[0], expected, rtol=1e-6)


def test_apex_gaussian_values():
    targets = build(labels_with((COLUMNS[MACRO]["apex"], 100), (COLUMNS[MICRO]["apex"], 150)))
    macro = np.zeros(ROWS)
    macro[97:104] = [g(3), g(2), g(1), 1.0, g(1), g(2), g(3)]
    micro = np.zeros(ROWS)
    micro[149:152] = [g(1), 1.0, g(1)]
    np.testing.assert_allclose(targets["macro_apex"][0], macro[PAD:PAD + 256], rtol=1e-6)
    np.testing.assert_allclose(targets["micro_apex"][0], micro[PAD:PAD + 256], rtol=1e-6)
    assert g(1) == pytest.approx(0.9692332344763441)  # sigma 4: exp(-1/32)


def test_later_apex_overwrites_earlier_one():
    """Apexes at rows 100 and 102 (r=3): row 100 ends with the later apex's exp(-4/32), not 1."""
    targets = build(labels_with((COLUMNS[MACRO]["apex"], 100), (COLUMNS[MACRO]["apex"], 102)))
    expected = np.zeros(ROWS)
    expected[97:103] = [g(3), g(2), g(3), g(2), g(1), 1.0]
    expected[103:106] = [g(1), g(2), g(3)]
    np.testing.assert_allclose(targets["macro_apex"][0], expected[PAD:PAD + 256], rtol=1e-6)


def test_apex_beyond_256_quirk():
    labels = labels_with((COLUMNS[MACRO]["apex"], 254))
    expected = np.zeros(ROWS)
    expected[251:256] = [g(3), g(2), g(1), 1.0, g(1)]
    np.testing.assert_allclose(build(labels)["macro_apex"][0], expected[PAD:PAD + 256], rtol=1e-6)


def test_action_columns():
    labels = labels_with(*[(COLUMNS[MICRO]["action"], r) for r in range(20, 31)],
                         *[(COLUMNS[MACRO]["action"], r) for r in range(0, 12)],
                         *[(COLUMNS[MACRO]["action"], r) for r in range(260, 270)])
    targets = build(labels)
    micro = np.zeros(ROWS)
    micro[20:31] = 1
    macro = np.zeros(ROWS)
    macro[0:12] = 1
    macro[260:270] = 1
    np.testing.assert_array_equal(targets["micro_action"][0], micro[PAD:PAD + 256])
    np.testing.assert_array_equal(targets["macro_action"][0], macro[PAD:PAD + 256])
    assert np.all(targets["micro_classes"] == 2) and np.all(targets["macro_apex"] == 0)


def test_windows_are_independent():
    labels = labels_with((1, COLUMNS[MACRO]["start"], 100), windows=3)
    classes = build(labels)["macro_classes"]
    assert np.all(classes[0] == 2) and np.all(classes[2] == 2)
    assert np.sum(classes[1] == 0) == 7


@pytest.mark.parametrize("corrected", [False, True])
def test_matches_reference_loop_on_random_labels(corrected):
    rng = np.random.default_rng(0)
    labels = (rng.random((6, ROWS, 8)) < 0.04).astype(np.int64)
    labels[0, [0, 1, 2, 253, 254, 255, 256, 262, 268, 269]] = 1  # every column at the edges
    labels[1, 2:10:2] = 1  # labels two rows apart: overlapping neighbourhoods
    ref = reference(labels, RANGE, corrected)
    for type_idx, name in ((MICRO, "micro"), (MACRO, "macro")):
        classes_270, apex_270 = full_rows(labels, type_idx, corrected)
        np.testing.assert_array_equal(classes_270, ref[f"{name}_classes"])
        np.testing.assert_allclose(apex_270, ref[f"{name}_apex"], rtol=1e-6, atol=0)
    targets = build(labels, corrected)
    for key, value in ref.items():
        np.testing.assert_allclose(targets[key], value[:, PAD:PAD + 256], rtol=1e-6, atol=0, err_msg=key)


def test_reference_loop_with_other_radii():
    rng = np.random.default_rng(1)
    labels = (rng.random((3, ROWS, 8)) < 0.05).astype(np.int64)
    normal_range = {MICRO: 2, MACRO: 5}
    ref = reference(labels, normal_range)
    targets = build_targets(labels, normal_range)
    for key, value in ref.items():
        np.testing.assert_allclose(targets[key], value[:, PAD:PAD + 256], rtol=1e-6, atol=0, err_msg=key)


# ---------------------------------------------------------------- input normalisation

def test_normalise_features():
    raw = np.array([[0.003463, 0.003873],
                    [0.003463 + 0.548588, 0.003873 - 2 * 0.645621],
                    [0.0, 0.0]], dtype=np.float32)
    out = normalise_features(raw)
    expected = np.array([[0.0, 0.0], [1.0, -2.0], [-0.003463 / 0.548588, -0.003873 / 0.645621]])
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out.dtype == np.float32


def test_normalise_features_window_shape():
    rng = np.random.default_rng(2)
    raw = rng.normal(size=(2, ROWS, 12, 2))
    out = normalise_features(raw)
    assert out.shape == raw.shape
    np.testing.assert_allclose(out[..., 0], (raw[..., 0] - 0.003463) / 0.548588, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[..., 1], (raw[..., 1] - 0.003873) / 0.645621, rtol=1e-5, atol=1e-6)
