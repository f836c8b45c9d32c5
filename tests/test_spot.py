"""spot.py: frame and second mapping, resampling, the extraction record, face-lost zeroing, bad inputs,
and the invariant: spotting a fold's test video with that fold's selected model gives eval.py's nms_csv."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from core_fixtures import (MarkedFaces, make_tiny_dataset, marked_frame, marked_frame_folder, run_script,
                           write_grey_video)
from dataset import segments
from feature_extraction.cache import FEATURE_VERSION
from feature_extraction.record import read_record, record_dict, settings_from_record, write_record
from feature_extraction.settings import FlowSettings
from model.scoring import Scores
from utils.annotations import EXPRESSION_TYPES
from feature_extraction.recording import (Recording, extract_recording, lost_report, lost_stretches, map_frames,
                                          open_recording, resample_indices)
from model.scoring import ensemble_scores
from model.spotting.models import choose_models, run_folds
from model.spotting.run_facts import requested_settings
from model.spotting.scores import lost_rows, windows_of, zero_rows
from model.spotting.spots import spot_windows, spots_table
from model.settings import EvaluationSettings
from utils.config import load_config
from utils.errors import UserError
from utils.indexing import middle


def test_a_60_fps_video_is_resampled_to_30_and_maps_back(tmp_path):
    recording = open_recording(write_grey_video(tmp_path / "clip.avi", 60.0, 120), None, folder_fps=30)
    assert (recording.source_fps, recording.n_frames, recording.name) == (60.0, 0, "clip")  # counted when decoded
    recording = recording.counted(120)
    indices = resample_indices(recording.n_frames, recording.source_fps, 30.0)
    np.testing.assert_array_equal(indices, np.arange(0, 120, 2))
    # proposal frame p (1-based, resampled) is resampled frame p-1 = source index 2(p-1): frame number 2p-1
    numbers, seconds = map_frames(np.array([1, 2, 60, 61]), indices, recording)
    np.testing.assert_array_equal(numbers, [1, 3, 119, 119])  # past the end: clipped to the last frame
    np.testing.assert_allclose(seconds, [0.0, 2 / 60, 118 / 60, 118 / 60])


def test_equal_rates_keep_every_frame_and_25_to_30_repeats_some():
    np.testing.assert_array_equal(resample_indices(5, 30.0, 30.0), np.arange(5))
    np.testing.assert_array_equal(resample_indices(5, 25.0, 30.0), [0, 1, 2, 2, 3, 4])  # 0.2 s -> 6 frames


def test_a_frame_folder_from_img1000_keeps_its_numbers(tmp_path):
    folder = tmp_path / "take"
    folder.mkdir()
    for number in range(1000, 1010):
        cv2.imwrite(str(folder / f"img{number}.jpg"), np.zeros((8, 8, 3), np.uint8))
    (folder / "notes.txt").write_text("not a frame")
    recording = open_recording(folder, None, folder_fps=30)
    assert recording.numbers == tuple(range(1000, 1010))
    indices = resample_indices(recording.n_frames, recording.source_fps, 30.0)
    numbers, seconds = map_frames(np.array([1, 3, 10]), indices, recording)
    np.testing.assert_array_equal(numbers, [1000, 1002, 1009])
    np.testing.assert_allclose(seconds, [0, 2 / 30, 9 / 30])


def test_the_record_is_generic_and_tolerant(tmp_path):
    settings = FlowSettings("dis", quantise=False, face_detect="full")
    path = write_record(tmp_path, settings, "generic")
    record = read_record(path)
    assert record["feature_version"] == FEATURE_VERSION and record["face_detect"] == "full"
    assert settings_from_record(record) == settings
    assert settings_from_record({"flow_settings": {"method": "dis", "a_future_field": 3}}) == FlowSettings("dis")
    assert settings_from_record({}) == FlowSettings()
    assert read_record(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(UserError, match="bad.json: not a readable extraction record"):
        read_record(tmp_path / "bad.json")
    assert record_dict(settings)["flow_settings"]["method"] == "dis"


def test_a_flag_other_than_the_run_warns_naming_both():
    run = FlowSettings("tvl1")
    same, warning = requested_settings(run, "tvl1", None)
    assert same == run and warning is None
    other, warning = requested_settings(run, "dis", "full")
    assert other == FlowSettings("dis", face_detect="full")
    assert warning.count("\n") == 0 and "method=dis" in warning and "method=tvl1" in warning


def test_face_lost_rows_get_zero_scores():
    ones = {t: np.ones((2, 256), np.float32) for t in EXPRESSION_TYPES}
    windows = windows_of(np.zeros((300, 12, 2), np.float32), "v")
    lost = np.zeros(300, bool)
    lost[[5, 260]] = True
    cleared = zero_rows(Scores(ones, ones, ones, ones), windows, lost)
    for t in EXPRESSION_TYPES:
        assert cleared.apex[t][0, 5] == 0 and cleared.start[t][1, 4] == 0 and cleared.action[t][0, 6] == 1
        assert cleared.apex[t].sum() == 2 * 256 - 2


def test_windows_of_rows_reproduce_the_segment_files(tmp_path):
    make_tiny_dataset(tmp_path)
    stored = segments.test_windows(tmp_path / "features", "subj_a")
    video = stored.video_names[0]
    mine = stored.select(stored.video_names == video)
    rows = np.concatenate(middle(mine.features, axis=1))  # the video's rows (+ zero padding at the end)
    rebuilt = windows_of(rows, video)
    np.testing.assert_array_equal(rebuilt.offsets, mine.offsets)
    np.testing.assert_array_equal(rebuilt.features, mine.features)


def test_bad_inputs_give_one_line(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(UserError, match="broken.mp4: OpenCV cannot open"):
        open_recording(tmp_path / "broken.mp4", None, 30)
    with pytest.raises(UserError, match="no such video file"):
        open_recording(tmp_path / "missing.mp4", None, 30)
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(UserError, match="empty_run: no checkpoints"):
        run_folds(tmp_path / "empty_run")
    models = tmp_path / "run" / "s1" / "models"
    models.mkdir(parents=True)
    (models / "checkpoint_epoch_003.pth.tar").write_bytes(b"")
    assert run_folds(tmp_path / "run") == ["s1"]
    with pytest.raises(UserError, match="eval_info.json: missing"):
        choose_models(tmp_path / "run", ["s1"], "selected")
    with pytest.raises(UserError, match="no checkpoint for epoch 7"):
        choose_models(tmp_path / "run", ["s1"], "7")
    assert choose_models(tmp_path / "run", ["s1"], "last")[0].epoch == 3


def test_spotting_a_test_video_reproduces_eval_nms_csv(tmp_path):
    """Spot applies what eval did, on the windows: the fold's selected model, through spot's own path, gives
    the nms_csv rows."""
    config_path = make_tiny_dataset(tmp_path, epochs=16, epoch_begin=6)
    output = tmp_path / "run"
    for script in ("train.py", "eval.py"):
        done = run_script(script, config_path, subject="subj_b", output=output)
        assert done.returncode == 0, done.stderr
    config = load_config("tiny", config_path)
    (model,) = choose_models(output, ["subj_b"], "selected")
    expected = pd.read_csv(output / "subj_b" / "nms_csv" / f"final_proposals_epoch_{model.epoch:03d}.csv")
    stored = segments.test_windows(tmp_path / "features", "subj_b")
    compared = 0
    for video in np.unique(stored.video_names):
        rows = np.concatenate(middle(stored.select(stored.video_names == video).features, axis=1))
        windows = windows_of(rows, video)
        kept, _ = spot_windows(ensemble_scores([model.path], windows.features, torch.device("cpu")), windows,
                                 EvaluationSettings.from_config(config))
        mine = expected[expected["video_name"] == video]
        assert kept[["start_frame", "end_frame", "type_idx"]].to_numpy().tolist() == \
            mine[["start_frame", "end_frame", "type_idx"]].to_numpy().tolist()
        np.testing.assert_allclose(kept["score"].to_numpy(float), mine["score"].to_numpy(float), rtol=1e-5)
        compared += len(mine)
        # at the dataset's rate and a video file's 1-based numbering, spot frames are the table's frames
        recording = Recording(Path(video), video, 30.0, numbers=tuple(range(1, len(rows) + 2)), n_frames=len(rows) + 1)
        table = spots_table(kept, resample_indices(len(rows) + 1, 30.0, 30.0), recording)
        assert sorted(table["onset_frame"]) == sorted(mine["start_frame"])
    assert compared > 0


def test_unreadable_frames_of_a_folder_are_face_lost_and_scored_zero(tmp_path):
    folder = marked_frame_folder(tmp_path / "take", range(1, 13))
    (folder / "img5.png").write_bytes(b"garbage, not an image" * 4)
    encoded = cv2.imencode(".png", marked_frame(6))[1].tobytes()
    (folder / "img6.png").write_bytes(encoded[:100])  # truncated inside the header
    recording = open_recording(folder, None, folder_fps=30)
    # frame 9 has no face: it must stay frame 9 although two frames before it were never given to the landmarker
    found = extract_recording(recording, 30.0, FlowSettings("dis"), MarkedFaces({9}))
    (face,) = found.faces
    rows, lost, unreadable, indices = face.rows, face.lost_frames, found.unreadable, found.indices
    assert rows.shape == (11, 12, 2) and unreadable.sum() == 2
    np.testing.assert_array_equal(np.flatnonzero(unreadable), [4, 5])
    np.testing.assert_array_equal(np.flatnonzero(lost), [4, 5, 8])
    np.testing.assert_array_equal(np.flatnonzero(lost_rows(lost)), [3, 4, 5, 7, 8])  # row r: frames r, r+1
    line = lost_report(folder, lost, unreadable, indices, recording)
    assert "\n" not in line and "face lost on 3 of 12 frames" in line
    assert line.endswith("2 unreadable file(s) among them: img5.png, img6.png")
    windows = windows_of(rows, recording.name)
    ones = {t: np.ones((len(windows.offsets), 256), np.float32) for t in EXPRESSION_TYPES}
    cleared = zero_rows(Scores(ones, ones, ones, ones), windows, lost_rows(lost))
    for t in EXPRESSION_TYPES:
        np.testing.assert_array_equal(np.flatnonzero(cleared.apex[t][0] == 0), [3, 4, 5, 7, 8])
    # hatched in the timeline: one lost frame is a stretch of one frame's duration
    np.testing.assert_allclose(lost_stretches(lost, indices, recording), [(4 / 30, 6 / 30), (8 / 30, 9 / 30)])


def test_a_folder_of_only_unreadable_frames_is_one_line(tmp_path):
    folder = tmp_path / "broken_take"
    folder.mkdir()
    for number in range(1, 5):
        (folder / f"img{number}.jpg").write_bytes(b"")
    recording = open_recording(folder, None, folder_fps=30)
    with pytest.raises(UserError) as error:
        extract_recording(recording, 30.0, FlowSettings("dis"), MarkedFaces())
    assert str(error.value) == f"{folder}: none of its 4 frames can be read"


def test_a_video_the_decoder_stops_on_partway_is_spotted_up_to_there(tmp_path, monkeypatch):
    """A video is decoded once, so its frames are counted as they are decoded: a decoder that stops at frame 7
    of the 10 the header announces ends the recording there, and its count says so."""
    import feature_extraction.decode as decode_module

    class FailingCapture:  # decodes frames 1-6 of 10, then fails, as a damaged file does
        def __init__(self, path):
            self.next = 1

        def grab(self):
            self.next += 1
            return self.next - 1 <= 6

        def retrieve(self):
            return True, marked_frame(self.next - 1)

        def release(self):
            pass

    monkeypatch.setattr(decode_module.cv2, "VideoCapture", FailingCapture)
    recording = Recording(tmp_path / "take.mp4", "take", 30.0, header_frames=10)
    found = extract_recording(recording, 30.0, FlowSettings("dis"), MarkedFaces())
    assert found.recording.n_frames == 6 and found.recording.numbers == range(1, 7)
    assert found.faces[0].rows.shape == (5, 12, 2) and not found.unreadable.any()
    np.testing.assert_array_equal(found.indices, np.arange(6))


def test_stitching_lays_each_window_on_its_rows_and_the_later_window_wins():
    """utils.indexing.stitch_windows, the one stitching of evaluation's plots and spotting, against a
    row-by-row brute force, with overlapping windows (the later one in the given order wins)."""
    from utils.indexing import SEGMENT_LENGTH, stitch_windows

    rng = np.random.default_rng(3)
    for offsets in ([0, 256, 512], [0, 100], [300, 0]):
        values = rng.random((len(offsets), SEGMENT_LENGTH)).astype(np.float32)
        expected = np.zeros(max(offsets) + SEGMENT_LENGTH, np.float32)
        for row in range(len(expected)):
            for index, offset in enumerate(offsets):
                if offset <= row < offset + SEGMENT_LENGTH:
                    expected[row] = values[index, row - offset]
        track = stitch_windows(values, np.array(offsets))
        assert track.dtype == np.float32 and np.array_equal(track, expected), offsets
