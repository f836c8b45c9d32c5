"""Reading segment files as the published archive may hold them (FORMATS.md "Feature segments")."""
from __future__ import annotations

import numpy as np

from dataset.segments import load_subject, load_window, training_windows


def write(path, feature_value=0.0, action_row=None, video_name=None, dtype=np.float64):
    label = np.zeros((270, 8), dtype=np.float32)
    if action_row is not None:
        label[action_row, 7] = 1
    payload = {"feature": np.full((270, 12, 2), feature_value, dtype=dtype), "label": label}
    if video_name is not None:
        payload["video_name"] = video_name
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **payload)


def test_any_float_dtype_numeric_labels_and_object_names_load(tmp_path):
    path = tmp_path / "casme_015_0401_0256.npz"
    write(path, 0.5, video_name=np.array("casme_015_0401", dtype=object))
    feature, label, video = load_window(path)
    assert feature.dtype == np.float32 and label.dtype == np.int32 and video == "casme_015_0401"
    assert np.all(feature == 0.5)


def test_windows_are_ordered_by_video_then_numeric_offset(tmp_path):
    folder = tmp_path / "test" / "samm_006"
    for name in ("samm_006_2_0000", "samm_006_1_10240", "samm_006_1_9984", "samm_006_1_0000"):
        write(folder / f"{name}.npz", video_name=np.array(name.rsplit("_", 1)[0]))
    windows = load_subject(tmp_path / "test", "samm_006")
    assert list(zip(windows.video_names, windows.offsets)) == [
        ("samm_006_1", 0), ("samm_006_1", 9984), ("samm_006_1", 10240), ("samm_006_2", 0)]


def test_training_split_keeps_only_windows_with_an_expression(tmp_path):
    for split in ("train", "test"):
        write(tmp_path / split / "a" / "a_v_0000.npz", action_row=3)
        write(tmp_path / split / "a" / "a_v_0256.npz")
        write(tmp_path / split / "b" / "b_v_0000.npz", action_row=269)  # context rows count too
    windows = training_windows(tmp_path, ["a", "b", "c"], held_out="c")
    assert list(zip(windows.video_names, windows.offsets)) == [("a_v", 0), ("b_v", 0)]
