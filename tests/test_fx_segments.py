"""Per-row labels (METHOD.md 2.6) and the segment / annotation files of one video."""

import numpy as np
import pandas as pd
import pytest

from feature_extraction.segments import (frame_labels, remove_stale_segments, write_annotation_csv,
                                         write_video_segments)
from utils.indexing import middle

COLUMNS = ["subject", "video_name", "start_frame", "apex_frame", "end_frame", "type_idx", "au"]
MICRO, MACRO = 0, 4  # first label column of each type


def rows(*annotations) -> pd.DataFrame:
    return pd.DataFrame(list(annotations), columns=["start_frame", "apex_frame", "end_frame", "type_idx"])


def marks(labels: np.ndarray, column: int) -> list[int]:
    return np.flatnonzero(labels[:, column]).tolist()


def reference_labels(n_rows: int, annotations: pd.DataFrame) -> np.ndarray:
    """Plain-loop statement of METHOD.md 2.6 with the documented rule for out-of-video marks."""
    labels = np.zeros((n_rows, 8), np.int32)
    for s, a, e, kind in annotations.itertuples(index=False):
        if [s, a, e].count(0) >= 2 or a >= n_rows or kind not in (1, 2):
            continue
        if e == 0:
            e = 2 * a - s
        elif a == 0:
            a = (s + e) // 2
        e = min(e, n_rows - 1)
        base = MICRO if kind == 2 else MACRO
        for column, row in enumerate((s, a, e)):
            if 0 <= row < n_rows:
                labels[row, base + column] = 1
        for row in range(max(s, 0), e + 1):
            labels[row, base + 3] = 1
    return labels


def test_labels_hand_computed_for_every_rule():
    labels = frame_labels(20, rows(
        (2, 4, 6, 2),     # plain micro
        (3, 5, 0, 1),     # e == 0 -> e = 2*5 - 3 = 7
        (10, 0, 14, 1),   # a == 0 -> a = (10 + 14) // 2 = 12
        (0, 0, 5, 2),     # two zeros: skipped
        (5, 0, 0, 1),     # two zeros: skipped
        (15, 20, 22, 2),  # apex >= rows: skipped
        (16, 18, 30, 2),  # end past the video -> 19
        (1, 2, 3, 0),     # type 0: ignored
    ))
    assert labels.shape == (20, 8) and labels.dtype == np.int32
    assert marks(labels, MICRO + 0) == [2, 16]
    assert marks(labels, MICRO + 1) == [4, 18]
    assert marks(labels, MICRO + 2) == [6, 19]
    assert marks(labels, MICRO + 3) == [2, 3, 4, 5, 6, 16, 17, 18, 19]
    assert marks(labels, MACRO + 0) == [3, 10]
    assert marks(labels, MACRO + 1) == [5, 12]
    assert marks(labels, MACRO + 2) == [7, 14]
    assert marks(labels, MACRO + 3) == [3, 4, 5, 6, 7, 10, 11, 12, 13, 14]
    assert set(np.unique(labels)) == {0, 1}


def test_overlapping_rows_union_their_actions():
    labels = frame_labels(12, rows((1, 3, 6, 1), (4, 7, 9, 1), (5, 5, 5, 2)))
    assert marks(labels, MACRO + 0) == [1, 4] and marks(labels, MACRO + 2) == [6, 9]
    assert marks(labels, MACRO + 3) == list(range(1, 10))
    assert marks(labels, MICRO + 0) == marks(labels, MICRO + 1) == marks(labels, MICRO + 2) == [5]
    assert marks(labels, MICRO + 3) == [5]


def test_marks_outside_the_video_are_dropped_not_wrapped():
    # SAMM apex -1: start, end and action kept, no apex on the last row
    labels = frame_labels(10, rows((3, -1, 5, 2)))
    assert marks(labels, MICRO + 1) == [] and marks(labels, MICRO + 0) == [3] and marks(labels, MICRO + 3) == [3, 4, 5]
    # a repaired apex (15 + 31) // 2 = 23 past a 20-row video: end clipped to 19, apex dropped
    labels = frame_labels(20, rows((15, 0, 31, 1)))
    assert marks(labels, MACRO + 1) == [] and marks(labels, MACRO + 2) == [19]
    assert marks(labels, MACRO + 3) == [15, 16, 17, 18, 19]
    # offset < apex (a CAS quirk): s..e as given, apex still marked
    labels = frame_labels(20, rows((5, 9, 7, 1)))
    assert marks(labels, MACRO + 1) == [9] and marks(labels, MACRO + 3) == [5, 6, 7]
    # e = 2a - s negative: nothing but the start and apex
    labels = frame_labels(20, rows((9, 2, 0, 1)))
    assert marks(labels, MACRO + 0) == [9] and marks(labels, MACRO + 1) == [2]
    assert marks(labels, MACRO + 2) == [] and marks(labels, MACRO + 3) == []
    assert frame_labels(0, rows((1, 2, 3, 1))).shape == (0, 8)
    assert not frame_labels(5, rows()).any()


def test_labels_match_a_plain_loop_on_random_tables():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_rows = int(rng.integers(1, 60))
        count = int(rng.integers(0, 6))
        values = rng.integers(-1, 70, size=(count, 3))
        values[rng.random((count, 3)) < 0.25] = 0
        table = rows(*(tuple(v) + (int(t),) for v, t in zip(values.tolist(), rng.integers(0, 3, count))))
        np.testing.assert_array_equal(frame_labels(n_rows, table), reference_labels(n_rows, table))


def video_rows(n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose values name their row: feature[i] = i + 1 (+ ROI/channel), label[i] = (i % 7 == c)."""
    features = (np.arange(1, n_rows + 1, dtype=np.float32)[:, None, None]
                + np.arange(12, dtype=np.float32)[None, :, None] / 100 + np.array([0, 0.5], np.float32))
    labels = (np.arange(n_rows)[:, None] % 7 == np.arange(8)[None, :]).astype(np.int32)
    return features, labels


def test_windows_count_offsets_padding_and_content(tmp_path):
    features, labels = video_rows(600)
    written = write_video_segments(tmp_path, "casme_016", "casme_016_0101", features, labels)
    names = ["casme_016_0101_0000.npz", "casme_016_0101_0256.npz", "casme_016_0101_0512.npz"]
    assert written == [tmp_path / "test" / "casme_016" / name for name in names]
    for split in ("train", "test"):
        assert sorted(p.name for p in (tmp_path / split / "casme_016").iterdir()) == names  # no temp files left
    for offset, name in zip((0, 256, 512), names):
        train, test = (tmp_path / split / "casme_016" / name for split in ("train", "test"))
        assert train.read_bytes() == test.read_bytes()
        with np.load(test) as npz:
            assert set(npz.files) == {"feature", "label", "video_name"}
            feature, label, video_name = npz["feature"], npz["label"], npz["video_name"]
        assert feature.shape == (270, 12, 2) and feature.dtype == np.float32
        assert label.shape == (270, 8) and label.dtype == np.int32
        assert video_name.shape == () and video_name.dtype.kind == "U" and str(video_name) == "casme_016_0101"
        for index in range(270):  # window index j holds video row offset - 7 + j, zeros outside the video
            row = offset - 7 + index
            if 0 <= row < 600:
                np.testing.assert_array_equal(feature[index], features[row])
                np.testing.assert_array_equal(label[index], labels[row])
            else:
                assert not feature[index].any() and not label[index].any()
        assert feature[0, 0, 0] == (offset - 7 + 1 if offset else 0)


def test_window_count_at_the_boundaries(tmp_path):
    for n_rows, expected in ((1, 1), (256, 1), (257, 2), (512, 2), (513, 3)):
        features, labels = video_rows(n_rows)
        assert len(write_video_segments(tmp_path / str(n_rows), "s", "v", features, labels)) == expected
    assert write_video_segments(tmp_path / "none", "s", "v", *video_rows(0)) == []


def test_round_trip_through_the_middles(tmp_path):
    features, labels = video_rows(700)
    features64 = features.astype(np.float64)  # stored as float32
    paths = write_video_segments(tmp_path, "samm_006", "samm_006_1", features64, labels.astype(np.int64))
    loaded = [np.load(path) for path in paths]
    back_features = np.concatenate([middle(npz["feature"], axis=0) for npz in loaded])[:700]
    back_labels = np.concatenate([middle(npz["label"], axis=0) for npz in loaded])[:700]
    np.testing.assert_array_equal(back_features, features)
    np.testing.assert_array_equal(back_labels, labels)
    # writing again replaces the files in place
    write_video_segments(tmp_path, "samm_006", "samm_006_1", np.zeros_like(features), labels)
    assert not np.load(paths[1])["feature"].any()


def test_rewrite_removes_the_videos_stale_windows_only(tmp_path):
    names = lambda split: sorted(p.name for p in (tmp_path / split / "s").iterdir())  # noqa: E731
    write_video_segments(tmp_path, "s", "vid_1", *video_rows(600))  # 0000 0256 0512
    write_video_segments(tmp_path, "s", "vid_10", *video_rows(600))  # a name vid_1 is a prefix of
    write_video_segments(tmp_path, "s", "vid_1_0256", *video_rows(10))  # a video whose name ends like an offset
    (tmp_path / "test" / "s" / "notes.txt").write_text("mine")
    # The video got shorter: its windows 0256 and 0512 are gone from both splits, nothing else is.
    write_video_segments(tmp_path, "s", "vid_1", *video_rows(100))
    expected = ["vid_10_0000.npz", "vid_10_0256.npz", "vid_10_0512.npz", "vid_1_0000.npz", "vid_1_0256_0000.npz"]
    assert names("train") == expected
    assert names("test") == sorted(expected + ["notes.txt"])
    assert sorted(remove_stale_segments(tmp_path, "s", "vid_10", keep=["vid_10_0000.npz"])) == sorted(
        tmp_path / split / "s" / f"vid_10_{offset}.npz" for split in ("train", "test") for offset in ("0256", "0512"))
    assert remove_stale_segments(tmp_path, "nobody", "vid_1", keep=()) == []


def test_bad_shapes_raise(tmp_path):
    features, labels = video_rows(10)
    with pytest.raises(ValueError, match="v1: features have shape"):
        write_video_segments(tmp_path, "s", "v1", features[:, :11], labels)
    with pytest.raises(ValueError, match="v1: labels have shape"):
        write_video_segments(tmp_path, "s", "v1", features, labels[:9])
    assert not (tmp_path / "train").exists() or not any((tmp_path / "train").rglob("*.npz"))


def test_annotation_csv_round_trip(tmp_path):
    table = pd.DataFrame([("samm_006", "samm_006_1", 70, 80, 92, 1, "4(B/C)+7B", "x"),
                          ("samm_006", "samm_006_1", 0, -1, 1, 2, "12+15 ", "y")],
                         columns=COLUMNS[:2] + COLUMNS[2:] + ["extra"])
    path = tmp_path / "out" / "annotations.csv"
    write_annotation_csv(path, table[["extra"] + COLUMNS])
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    back = pd.read_csv(path, dtype={"au": str}, keep_default_na=False)
    pd.testing.assert_frame_equal(back, table[COLUMNS], check_dtype=False)
    assert back["au"].tolist() == ["4(B/C)+7B", "12+15 "]
    assert [p.name for p in path.parent.iterdir()] == ["annotations.csv"]
    with pytest.raises(ValueError, match="annotations.csv: annotations lack columns au"):
        write_annotation_csv(path, table[COLUMNS[:-1]])
