"""Tests of the bundled demo dataset generator (dataset/mesynth)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from dataset.mesynth import generate_dataset
from dataset.mesynth.au import (AU_MOVES, MIRROR_68, au_directions, displacement_field, gaussian_weights,
                                landmark_displacements)
from dataset.mesynth.casme2_stats import DURATION_DECILES, MACRO, MICRO
from dataset.mesynth.face import random_look
from dataset.mesynth.generate import COMPLETE_MARKER
from dataset.mesynth.plan import (EDGE_MARGIN, MIN_GAP, PEAK_PX, Movement, VideoPlan, movement_profile,
                                  place_intervals, plan_dataset)
from dataset.mesynth.render import frame_file_name, render_video, warp_maps
from dataset.mesynth.xlsx import FIXED_ISO_TIME, FIXED_ZIP_TIME, annotation_rows, write_annotation_workbook

REPO_ROOT = Path(__file__).resolve().parents[1]
ROI_LANDMARKS = (18, 19, 20, 23, 24, 25, 28, 30, 48, 51, 54, 57)  # METHOD.md 2.4, in ROI order


# ----------------------------------------------------------------------------- units


def test_movement_profile_hand_values():
    profile = movement_profile(Movement("macro", 10, 14, 20, "4", 3.0), 25)
    # 1-based frames: 0 up to the onset, raised cosine to 1 at the apex, back to 0 at the offset.
    expected = {1: 0, 10: 0, 12: 0.5, 14: 1, 17: 0.5, 20: 0, 25: 0}
    for frame, value in expected.items():
        assert profile[frame - 1] == pytest.approx(value, abs=1e-12), frame
    assert np.all(np.diff(profile[9:14]) > 0) and np.all(np.diff(profile[13:20]) < 0)


def test_place_intervals_never_overlap_and_drop_the_longest():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        spans = rng.integers(3, 60, rng.integers(1, 9))
        onsets = place_intervals(rng, spans, 400, MIN_GAP, EDGE_MARGIN)
        kept = onsets > 0
        starts, ends = onsets[kept], onsets[kept] + spans[kept]
        order = np.argsort(starts)
        assert starts.min(initial=10 ** 9) >= EDGE_MARGIN + 1 and ends.max(initial=0) <= 400 - EDGE_MARGIN
        assert np.all(starts[order][1:] - ends[order][:-1] > MIN_GAP)
        if not kept.all():  # only when the whole set could not fit, and then the longest go first
            assert (spans + 1).sum() + MIN_GAP * (len(spans) - 1) > 400 - 2 * EDGE_MARGIN
            assert spans[~kept].min() >= spans[kept].max(initial=0)
    onsets = place_intervals(np.random.default_rng(0), np.array([100, 10]), 80, MIN_GAP, EDGE_MARGIN)
    assert onsets[0] == -1 and EDGE_MARGIN + 1 <= onsets[1] <= 80 - EDGE_MARGIN - 10


def test_mirror_table_and_au_directions_are_left_right_symmetric():
    assert np.array_equal(MIRROR_68[MIRROR_68], np.arange(68))
    assert MIRROR_68[36] == 45 and MIRROR_68[48] == 54 and MIRROR_68[40] == 47 and MIRROR_68[62] == 62
    for au in AU_MOVES:
        directions = au_directions(au)
        assert np.allclose(directions[MIRROR_68] * [-1, 1], directions), au
    smile = au_directions("12")
    assert smile[48, 0] < 0 < smile[54, 0] and smile[48, 1] < 0 and smile[54, 1] < 0  # corners out and up
    assert np.allclose(au_directions("4+7"), au_directions("4") + au_directions("7"))
    with pytest.raises(ValueError, match="'43'"):
        au_directions("4+43")


def test_displacement_field_matches_brute_force_sum():
    rng = np.random.default_rng(3)
    centres, vectors = rng.uniform(0, 20, (4, 2)), rng.normal(0, 1, (4, 2))
    xs, ys = np.arange(2.0, 19.0), np.arange(1.0, 15.0)
    dx, dy = displacement_field(centres, vectors, xs, ys, 3.0)
    reference = np.zeros((len(ys), len(xs), 2))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            for c, v in zip(centres, vectors):
                reference[i, j] += np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / 18.0) * v
    assert np.allclose(dx, reference[..., 0], atol=1e-5) and np.allclose(dy, reference[..., 1], atol=1e-5)


def test_landmark_displacements_peak_at_the_requested_size():
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(100, 300, (68, 2))
    landmarks[36:42] = [[150, 200]] * 6  # eyes level: face axes are the image axes
    landmarks[42:48] = [[250, 200]] * 6
    vectors = landmark_displacements("1+2", landmarks, 1.25, 6.0)
    field = gaussian_weights(landmarks, landmarks, 6.0) @ vectors
    assert np.linalg.norm(field, axis=1).max() == pytest.approx(1.25)
    moved = np.flatnonzero(np.abs(vectors).sum(axis=1))
    assert set(moved) == {17, 18, 19, 20, 21, 22, 23, 24, 25, 26} and np.all(vectors[moved, 1] < 0)  # brows up


def test_warp_maps_identity_shift_and_bump():
    gy, gx = np.mgrid[0:480, 0:640].astype(np.float32)
    maps = (np.empty_like(gx), np.empty_like(gx))
    none = np.zeros((0, 2))
    map_x, map_y = warp_maps(maps, gx, gy, np.array([320.0, 240.0]), np.zeros(2), 0.0, none, none, 5.0)
    assert np.array_equal(map_x, gx) and np.array_equal(map_y, gy)
    map_x, map_y = warp_maps(maps, gx, gy, np.array([320.0, 240.0]), np.array([2.0, -1.0]), 0.0, none, none, 5.0)
    assert np.allclose(map_x, gx - 2) and np.allclose(map_y, gy + 1)  # content moves by +shift
    # One bump moving landmark (300, 200) by (0, -3): that output pixel samples 3 px below it.
    map_x, map_y = warp_maps(maps, gx, gy, np.array([320.0, 240.0]), np.zeros(2), 0.0,
                             np.array([[300.0, 200.0]]), np.array([[0.0, -3.0]]), 5.0)
    assert map_x[200, 300] == pytest.approx(300) and map_y[200, 300] == pytest.approx(203)
    assert map_y[200 + 50, 300] == pytest.approx(250, abs=1e-4)  # 10 sigma away: untouched


def test_frame_file_names_pad_to_three_digits_only():
    assert [frame_file_name(n) for n in (1, 99, 100, 999, 1000)] == \
        ["img001.jpg", "img099.jpg", "img100.jpg", "img999.jpg", "img1000.jpg"]


def test_plans_follow_the_paper_statistics_and_never_overlap():
    for seed in range(4):
        plans = plan_dataset(seed, 6, 2, 720)
        assert len(plans) == 12 and len({p.relative_dir for p in plans}) == 12
        assert {p.relative_dir.split("/")[1] for p in plans} == {"s15", "s16", "s19", "s20", "s21", "s22"}
        for plan in plans:
            kinds = [m.kind for m in plan.expressions]
            assert "micro" in kinds and "macro" in kinds
            spaced = sorted((m for m in plan.movements if m.kind != "blink"), key=lambda m: m.onset)
            assert all(b.onset - a.offset > MIN_GAP for a, b in zip(spaced, spaced[1:]))
            for m in plan.movements:
                assert EDGE_MARGIN < m.onset < m.apex < m.offset <= plan.n_frames - EDGE_MARGIN
            for m in plan.expressions:
                type_idx = MACRO if m.kind == "macro" else MICRO
                low, high = DURATION_DECILES[type_idx][0], DURATION_DECILES[type_idx][-1]
                assert low <= m.offset - m.onset <= high
                assert PEAK_PX[type_idx][0] <= m.peak_px <= PEAK_PX[type_idx][1]
    assert plan_dataset(0, 2, 2, 300) == plan_dataset(0, 2, 2, 300) != plan_dataset(1, 2, 2, 300)
    # A participant's videos do not depend on how many participants there are.
    assert plan_dataset(0, 2, 2, 300)[:2] == plan_dataset(0, 5, 2, 300)[:2]


def _plan(movements, n_frames=120, code="0101", participant=1, seed=0):
    look = random_look(np.random.default_rng(0), participant - 1)
    return VideoPlan(seed, participant, code, n_frames, look, tuple(movements))


def test_annotation_rows_hand_example():
    plan = _plan([Movement("macro", 20, 25, 50, "6+12", 3.0), Movement("blink", 60, 61, 63, "45", 5.0),
                  Movement("micro", 80, 85, 92, "4", 1.0)], code="0401", participant=3)
    other = _plan([Movement("micro", 30, 34, 40, "1+2", 1.0)], code="0101", participant=3)
    assert annotation_rows([plan, other]) == [
        [3, "disgust1_1", 30, 34, 40, "1+2", "surprise", "micro-expression", "disgust"],
        [3, "anger1_1", 20, 25, 50, "6+12", "positive", "macro-expression", "anger"],
        [3, "anger1_2", 80, 85, 92, "4", "negative", "micro-expression", "anger"],
    ]


def test_workbook_is_byte_reproducible_and_in_the_official_layout(tmp_path):
    plans = [_plan([Movement("macro", 20, 25, 50, "4+7", 3.0)], code="0102")]
    first = write_annotation_workbook(plans, tmp_path / "a.xlsx").read_bytes()
    assert write_annotation_workbook(plans, tmp_path / "b.xlsx").read_bytes() == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {FIXED_ZIP_TIME}
        assert archive.read("docProps/core.xml").decode().count(FIXED_ISO_TIME) == 2
    sheets = pd.read_excel(tmp_path / "a.xlsx", sheet_name=None, header=None, dtype=object, engine="openpyxl")
    coding, rule1, rule2 = sheets.values()
    assert list(sheets)[1:] == ["naming rule1", "naming rule2"]
    assert coding.values.tolist() == [[1, "disgust2_1", 20, 25, 50, "4+7", "negative", "macro-expression", "disgust"]]
    assert rule1.values.tolist()[:3] == [[15, "s15", 1], [16, "s16", 2], [19, "s19", 3]] and len(rule1) == 22
    assert rule2.values.tolist()[0] == ["0101", "disgust1"] and ["0502", "happy1"] in rule2.values.tolist()


# ----------------------------------------------------------------------------- whole datasets


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory) -> Path:
    """2 participants x 1 video x 240 frames, seed 1 (participant 1 gets two strong macros)."""
    out = tmp_path_factory.mktemp("demo") / "data"
    generate_dataset(out, seed=1, n_subjects=2, videos_per_subject=1, frames_per_video=240, jobs=2)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generation_is_deterministic_by_seed_and_independent_of_jobs(tmp_path):
    runs = {}
    for name, seed, jobs in (("a", 0, 1), ("b", 0, 2), ("c", 1, 1)):
        workbook = generate_dataset(tmp_path / name, seed=seed, n_subjects=2, videos_per_subject=1,
                                    frames_per_video=60, jobs=jobs)
        assert workbook == tmp_path / name / "CAS(ME)^2code_final.xlsx"
        runs[name] = _files(tmp_path / name)
    assert runs["a"] == runs["b"]
    frames = [name for name in runs["a"] if name.endswith(".jpg")]
    assert len(frames) == 120 and set(runs["a"]) == set(frames) | {"CAS(ME)^2code_final.xlsx", COMPLETE_MARKER}
    assert runs["c"]["CAS(ME)^2code_final.xlsx"] != runs["a"]["CAS(ME)^2code_final.xlsx"]
    shared = [name for name in frames if name in runs["c"]]
    assert all(runs["c"][name] != runs["a"][name] for name in shared)
    for name in frames:  # every frame is a lit face picture (a 60-frame video once came out black)
        image = cv2.imdecode(np.frombuffer(runs["a"][name], np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (480, 640, 3) and 40 < image.mean() < 200 and image.std() > 20, name


def test_complete_folder_is_kept_and_foreign_folders_refused(tmp_path):
    out = tmp_path / "d"
    generate_dataset(out, seed=0, n_subjects=1, videos_per_subject=1, frames_per_video=60)
    frame = next(out.rglob("img001.jpg"))
    stamp = frame.stat().st_mtime_ns
    generate_dataset(out, seed=0, n_subjects=1, videos_per_subject=1, frames_per_video=60)
    assert frame.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="other|not"):
        generate_dataset(out, seed=1, n_subjects=1, videos_per_subject=1, frames_per_video=60)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        generate_dataset(foreign, n_subjects=1, videos_per_subject=1, frames_per_video=60)
    with pytest.raises(ValueError, match="subjects"):
        generate_dataset(tmp_path / "e", n_subjects=23)
    result = subprocess.run([sys.executable, "-m", "dataset.mesynth", "--out", str(tmp_path / "f"), "--frames", "5"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "frames per video" in result.stderr


def test_casme2_adapter_reads_exactly_the_planted_expressions(demo_dataset):
    from feature_extraction.adapters import discover_videos, load_annotations
    videos, problems = discover_videos("cas(me)^2", demo_dataset)
    assert problems == []
    assert sorted(v.video_name for v in videos) == ["casme_015_0102", "casme_016_0508"]
    assert all(len(v.frame_paths) == 240 for v in videos)
    table = load_annotations("cas(me)^2", demo_dataset / "CAS(ME)^2code_final.xlsx", videos)
    expected = [(f"casme_0{p.folder_number}", f"casme_0{p.folder_number}_{p.code}", m.onset, m.apex, m.offset,
                 MACRO if m.kind == "macro" else MICRO, m.au)
                for p in plan_dataset(1, 2, 1, 240) for m in p.expressions]
    assert list(table.itertuples(index=False, name=None)) == expected


def _feature_rows(video_dir: Path):
    from feature_extraction.adapters import discover_videos, iter_frames
    from feature_extraction.face import FaceLandmarker
    from feature_extraction.settings import FlowSettings
    from feature_extraction.video import extract_video
    (video,), _ = discover_videos("cas(me)^2", video_dir)
    return extract_video(lambda: iter_frames(video), FlowSettings("dis"), FaceLandmarker()).features


def _motion_rows(movements, n_rows: int, pad: int = 0) -> np.ndarray:
    """Feature rows that see a movement's frames: row r is the flow from 1-based frame r+1 to r+2."""
    rows = np.zeros(n_rows, dtype=bool)
    for m in movements:
        rows[max(m.onset - 1 - pad, 0):m.offset - 1 + pad] = True
    return rows


def _moving_rows(movements, n_rows: int) -> np.ndarray:
    """Rows whose two frames differ by at least 20 % of a movement's fastest frame-to-frame change
    (its rise and fall, not the still moments around the apex); all inside its labelled frames."""
    rows = np.zeros(n_rows, dtype=bool)
    for m in movements:
        speed = np.abs(np.diff(movement_profile(m, n_rows + 1)))  # speed[r]: frame r+1 -> r+2
        rows |= speed >= 0.2 * speed.max()
    return rows


def test_planted_macro_is_visible_in_its_rois_only(tmp_path):
    raise_brows = Movement("macro", 40, 50, 66, "1+2", 5.0)
    plan = _plan([raise_brows], n_frames=110)
    render_video(plan, _photo_landmarks(plan.look.photo), tmp_path)
    magnitude = np.abs(_feature_rows(tmp_path)).sum(axis=-1)  # (109, 12), |x| + |y|
    inside = _moving_rows([raise_brows], len(magnitude))
    quiet = ~_motion_rows([raise_brows], len(magnitude), pad=3)
    brows, mouth = [0, 1, 2, 3, 4, 5], [8, 9, 10, 11]
    assert magnitude[inside][:, brows].mean() > 3 * magnitude[quiet][:, brows].mean()
    assert magnitude[inside][:, mouth].mean() < 1.5 * magnitude[quiet][:, mouth].mean() + 1e-3


def _photo_landmarks(photo: str) -> np.ndarray:
    from dataset.mesynth.face import detect_landmarks, load_photo
    return detect_landmarks([load_photo(photo)])[0]


def test_feature_cli_sees_the_planted_macros_at_their_labels(demo_dataset, tmp_path):
    out = tmp_path / "features"
    result = subprocess.run([sys.executable, "-m", "feature_extraction", "--layout", "cas(me)^2",
                             "--raw-root", str(demo_dataset), "--anno", str(demo_dataset / "CAS(ME)^2code_final.xlsx"),
                             "--out", str(out), "--flow", "dis"], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = plan_dataset(1, 2, 1, 240)[0]  # casme_015_0102: macros 4 (peak 5.1 px) and 1+2 (5.4 px)
    window = np.load(out / "train" / "casme_015" / "casme_015_0102_0000.npz")
    rows = 239
    features, labels = window["feature"][7:7 + rows], window["label"][7:7 + rows]  # drop the 7-row pad
    macros = [m for m in plan.expressions if m.kind == "macro"]
    assert len(macros) == 2
    for m in macros:  # METHOD.md 2.6: macro action on rows onset..offset
        assert labels[m.onset:m.offset + 1, 7].all() and labels[m.onset, 4] == 1 and labels[m.apex, 5] == 1
    magnitude = np.abs(features).sum(axis=-1)
    moved = [i for i, lm in enumerate(ROI_LANDMARKS) if any(np.abs(au_directions(m.au)[lm]).sum() for m in macros)]
    assert moved and set(moved) <= {0, 1, 2, 3, 4, 5}
    inside = _moving_rows(macros, rows)
    quiet = ~_motion_rows(plan.movements, rows, pad=3)
    assert magnitude[inside][:, moved].mean() > 2 * magnitude[quiet][:, moved].mean()
