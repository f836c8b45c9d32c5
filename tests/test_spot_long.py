"""Spotting a long recording: the published NMS cap per stretch of the dataset's video length (a recording made of
joined videos gives each video's own spots), the streaming resampler, the work resampling repeats spares, the
preview's size and bytes, and lost frames counted in the input's own frames."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core_fixtures import MarkedFaces, marked_frame_folder
from feature_extraction.decode import Resampler, resample_indices
from feature_extraction.face import FaceLandmarker
from feature_extraction.flow import FLOW_METHODS, make_flow
from feature_extraction.preview import BrowserVideoWriter, write_preview
from feature_extraction.recording import extract_recording, lost_report, open_recording
from feature_extraction.settings import FlowSettings
from feature_extraction.video import extract_video
from fx_footage import face_frames, face_photo
from model.auwgcn import AUWGCN
from model.scoring import Scores, ensemble_scores
from model.spotting.caps import DEFAULT_STRETCH_WINDOWS, CapStretch, cap_stretch
from model.spotting.scores import windows_of
from model.spotting.spots import spot_windows
from model.settings import EvaluationSettings
from utils.annotations import EXPRESSION_TYPES
from utils.config import load_config
from utils.indexing import PAD, SEGMENT_LENGTH, window_file_name

VIDEO_FRAMES = 3 * SEGMENT_LENGTH  # each joined video: 768 frames, 767 rows, 3 windows
N_VIDEOS = 4


def _local_scores(windows) -> Scores:
    """Scores a window's middle rows from its own 270 rows (their +-7 rows of context), as the model's receptive
    field does: apex where the smoothed motion is strong, start where it rises, end where it falls."""
    activity = np.abs(windows.features).sum(axis=(2, 3))
    kernel = np.ones(2 * PAD + 1) / (2 * PAD + 1)
    smooth = np.stack([np.convolve(row, kernel, mode="valid") for row in activity])  # (W, 256)
    start = 1 / (1 + np.exp(-40 * np.gradient(smooth, axis=1)))
    apex = np.tanh(smooth)
    return Scores(*({t: values.astype(np.float32) for t in EXPRESSION_TYPES} for values in (start, 1 - start, apex)))


def _video_rows(rng: np.random.Generator, quiet_ends: bool) -> np.ndarray:
    """A video's 767 feature rows: a dozen bursts of motion, the first and last 30 rows still when ``quiet_ends``."""
    rows = np.zeros((VIDEO_FRAMES - 1, 12, 2), np.float32)
    frames = np.arange(len(rows))
    for _ in range(12):
        centre, width = rng.integers(0 if not quiet_ends else 40, len(rows) - (0 if not quiet_ends else 40)), \
            rng.uniform(2, 6)
        rows += (np.exp(-((frames - centre) / width) ** 2)[:, None, None] * rng.uniform(0.02, 0.08)).astype(np.float32)
    if quiet_ends:
        rows[:30] = rows[-30:] = 0
    return rows


def _joined(videos: list[np.ndarray], join_row: np.ndarray) -> np.ndarray:
    """The rows of one recording of the videos one after the other: the row across a join is ``join_row``."""
    parts = []
    for video in videos:
        parts += [video, join_row[None]]
    return np.concatenate(parts[:-1])


def _per_video(kept, video: int):
    """The kept intervals of joined video ``video``, in its own frames, sorted."""
    mine = kept[(kept["start_frame"].to_numpy() - 1) // VIDEO_FRAMES == video]
    table = mine[["start_frame", "end_frame", "type_idx", "score"]].to_numpy(float)
    table[:, :2] -= video * VIDEO_FRAMES
    return table[np.lexsort((table[:, 2], table[:, 0]))]


def _spot(rows: np.ndarray, config, stretch):
    windows = windows_of(rows, "take")
    return spot_windows(_local_scores(windows), windows, EvaluationSettings.from_config(config), stretch)


@pytest.fixture(scope="module")
def config():
    return load_config("cas(me)^2")


def test_a_recording_of_joined_videos_gives_each_videos_own_spots(config):
    """Four videos of the dataset's length (3 windows), still at their ends, joined into one recording: each
    stretch gives exactly what its video gives alone, though the cap binds in every video."""
    rng = np.random.default_rng(0)
    videos = [_video_rows(rng, quiet_ends=True) for _ in range(N_VIDEOS)]
    alone = [_spot(video, config, None) for video in videos]
    assert all(len(kept) == 10 and sum(dropped.values()) > 0 for kept, dropped in alone)  # 5 + 5 kept of more
    kept, dropped = _spot(_joined(videos, np.zeros((12, 2), np.float32)), config, CapStretch(3, "test"))
    for video, (own, own_dropped) in enumerate(alone):
        np.testing.assert_array_equal(_per_video(kept, video), _per_video(own, 0))
    assert dropped == {t: sum(d[t] for _, d in alone) for t in dropped}
    whole, _ = _spot(_joined(videos, np.zeros((12, 2), np.float32)), config, None)
    assert len(whole) == 10  # one cap for the whole recording, as before: 30 of the videos' intervals lost


def test_real_joins_change_only_the_windows_next_to_them(config):
    """Videos moving up to their ends, joined with a jump of motion: away from the windows on either side of a
    join, the candidate intervals (NMS without a binding cap) are the videos' own."""
    rng = np.random.default_rng(1)
    videos = [_video_rows(rng, quiet_ends=False) for _ in range(N_VIDEOS)]
    uncapped = config.with_overrides(nms_top_K_micro=1000, nms_top_K_macro=1000)
    joined, _ = _spot(_joined(videos, np.full((12, 2), 0.5, np.float32)), uncapped, CapStretch(3, "test"))

    def away_from_joins(table, video):
        window = (table[:, 0] - 1) // SEGMENT_LENGTH  # within the video: 0, 1 or 2
        keep = np.ones(len(table), bool)
        if video > 0:
            keep &= window != 0
        if video < N_VIDEOS - 1:
            keep &= window != 2
        return table[keep]

    compared = 0
    for video, rows in enumerate(videos):
        own, _ = _spot(rows, uncapped, None)
        mine = away_from_joins(_per_video(joined, video), video)
        np.testing.assert_array_equal(mine, away_from_joins(_per_video(own, 0), video))
        compared += len(mine)
    assert compared > 10


def test_the_models_scores_away_from_a_join_are_the_videos_own(tmp_path):
    """The network sees 7 rows on either side of a row: the windows of a joined video that do not touch a join
    score as the video's own (a seeded untrained AUW-GCN)."""
    torch.manual_seed(0)
    path = tmp_path / "checkpoint_epoch_000.pth.tar"
    torch.save({"epoch": 0, "state_dict": AUWGCN(torch.eye(12)).state_dict()}, path)
    models = [path]
    rng = np.random.default_rng(2)
    videos = [_video_rows(rng, quiet_ends=False) for _ in range(3)]
    recording = windows_of(_joined(videos, np.full((12, 2), 0.5, np.float32)), "take")
    joined = ensemble_scores(models, recording.features, torch.device("cpu"))
    own = ensemble_scores(models, windows_of(videos[1], "v").features, torch.device("cpu"))
    middle = 3 + 1  # the middle video's middle window: no join within its rows or context
    for t in (1, 2):
        np.testing.assert_allclose(joined.apex[t][middle], own.apex[t][1], atol=1e-6)
        assert np.abs(joined.apex[t][3] - own.apex[t][0]).max() > 1e-4  # its first window sees the join


def test_the_cap_stretch_is_the_datasets_median_video(tmp_path, config):
    features = tmp_path / "features"
    for subject, video, windows in (("s1", "a", 2), ("s1", "b", 3), ("s2", "c", 7)):
        (features / "test" / subject).mkdir(parents=True, exist_ok=True)
        for offset in range(0, windows * SEGMENT_LENGTH, SEGMENT_LENGTH):
            (features / "test" / subject / window_file_name(video, offset)).write_bytes(b"")
    anno = tmp_path / "anno.csv"
    anno.write_text("subject,video_name,start_frame,apex_frame,end_frame,type_idx,au\n"
                    "s1,a,10,20,30,1,4\ns1,a,1000,1010,1030,1,4\ns1,b,100,110,120,2,4\ns2,c,5,9,600,1,4\n")
    stretch = cap_stretch(features, anno)
    assert stretch == CapStretch(3, f"features: median of 3 videos under {features}/test")
    by_table = cap_stretch(tmp_path / "none", anno)
    assert by_table.windows == 3 and by_table.source.startswith("annotation table")  # ceil(1030, 120, 600 / 256)
    neither = cap_stretch(tmp_path / "none", tmp_path / "none.csv")
    assert neither.windows == DEFAULT_STRETCH_WINDOWS and neither.source.startswith("default")


# --------------------------------------------------------------------------- decoding once, repeats spared


def test_the_streaming_resampler_numbers_frames_as_resample_indices():
    """Frames handed out as a stream is decoded, before its length is known, are resample_indices' frames."""
    rng = np.random.default_rng(0)
    for _ in range(400):
        n = int(rng.integers(1, 50))
        source_fps = float(rng.choice([7.3, 12.5, 24, 25, 29.97, 30, 50, 60, 200]))
        target_fps = float(rng.choice([25, 30, 29.97]))
        resampler = Resampler(source_fps, target_fps)
        got = [frame for index in range(n) for frame in resampler.feed(index, str(index), np.zeros((2, 2), np.uint8))]
        got += resampler.finish(n)
        expected = resample_indices(n, source_fps, target_fps)
        assert [frame.source for frame in got] == expected.tolist(), (n, source_fps, target_fps)
        assert [frame.repeat for frame in got] == [False] + (np.diff(expected) == 0).tolist()


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_a_flow_between_identical_images_is_exactly_zero_only_where_it_is_said(method):
    gray = cv2.cvtColor(face_photo(), cv2.COLOR_BGR2GRAY)
    images = [gray[100:300, 150:330].copy(), np.random.default_rng(0).integers(0, 256, (120, 90), np.uint8)]
    flow = make_flow(method)
    largest = max(float(np.abs(flow(image, image)).max()) for image in images)
    assert (largest == 0.0) == FLOW_METHODS[method].zero_on_identical


class _CountingLandmarker(FaceLandmarker):
    calls = 0

    def landmarks(self, crop, detect="full"):
        self.calls += 1
        return super().landmarks(crop, detect)


@pytest.fixture(scope="module")
def landmarker():
    return _CountingLandmarker()


@pytest.fixture(scope="module")
def take(landmarker):
    """25 frames of a drifting face (640 x 480)."""
    return face_frames(25, face_px=120, landmarker=landmarker)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_frames_resampling_repeats_are_not_searched_again_and_the_rows_stay_the_same(tmp_path, method, take,
                                                                                      landmarker):
    """A 25 fps take spotted at 30 fps: 5 of every 30 frames repeat one; their landmarks are not searched again
    (nor their flow computed, where it is exactly zero), and the rows are those of every resampled frame
    processed on its own, with the flow in a worker thread."""
    folder = tmp_path / "take"
    folder.mkdir()
    for number, frame in enumerate(take, 1):
        cv2.imwrite(str(folder / f"img{number}.png"), frame)
    settings = FlowSettings(method)
    landmarker.calls = 0
    found = extract_recording(open_recording(folder, 25.0, 30.0), 30.0, settings, landmarker)
    indices = resample_indices(25, 25.0, 30.0)
    assert len(indices) == 30 and landmarker.calls == 25
    every_frame = extract_video(lambda: [(str(i), take[i]) for i in indices], settings, landmarker)
    np.testing.assert_array_equal(found.faces[0].rows, every_frame.features)
    np.testing.assert_array_equal(found.indices, indices)


def test_lost_frames_are_counted_in_the_inputs_own_frames(tmp_path):
    """25 frames at 25 fps, two without a face: resampled to 30 fps they are 3 frames, but the line and the
    count say 2 of 25."""
    folder = marked_frame_folder(tmp_path / "take", range(1, 26))
    recording = open_recording(folder, 25.0, 30.0)
    found = extract_recording(recording, 30.0, FlowSettings("dis"), MarkedFaces({12, 13}))
    lost = found.faces[0].lost_frames
    assert lost.sum() == 3
    line = lost_report(folder, lost, found.unreadable, found.indices, found.recording)
    assert line == f"{folder}: face lost on 2 of 25 frames: scored 0 there"


# --------------------------------------------------------------------------- the preview


def _noisy(take: list[np.ndarray], n_frames: int) -> list[np.ndarray]:
    """640 x 360 frames of the drifting face, back and forth, with fresh sensor noise: hard to compress."""
    rng = np.random.default_rng(0)
    frames = []
    for index in range(n_frames):
        frame = take[index % len(take) if (index // len(take)) % 2 == 0 else -1 - index % len(take)][60:420]
        frames.append(np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8))
    return frames


def test_the_preview_stays_under_3_mb_a_minute_and_a_rerun_writes_the_same_bytes(tmp_path, take):
    frames = _noisy(take, 125)  # 5 s at 25 fps
    first = write_preview(tmp_path / "a" / "preview.webm", frames, 25.0)
    again = write_preview(tmp_path / "b" / "preview.webm", frames, 25.0)
    assert first.read_bytes() == again.read_bytes()
    megabytes_a_minute = first.stat().st_size / 1e6 * 60 / 5
    assert megabytes_a_minute <= 3.0, megabytes_a_minute
    capture = cv2.VideoCapture(str(first))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    assert size == (480, 270) and count == len(frames)  # scaled to PREVIEW_HEIGHT
    assert not list(Path(tmp_path / "a").glob(".*"))  # no temporary file left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_the_preview_encoder_yields_to_the_extraction(tmp_path, take):
    """The encoder thread runs below the caller's priority, so beside an extraction it takes only idle CPU."""
    seen = []
    writer = BrowserVideoWriter(tmp_path / "p.webm", 25.0, 270,
                                on_frame=lambda: seen.append(os.getpriority(os.PRIO_PROCESS,
                                                                            threading.get_native_id())))
    for frame in _noisy(take, 3):
        writer.add(frame)
    writer.close()
    caller = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert len(seen) == 3 and min(seen) > caller
