"""spot.py's inputs as tasks of the run's runners (pipeline/spot.py, the ``spot`` kind of pipeline/tasks.py): a
rerun skips the inputs spotted before with the same models and settings and redoes the others, one bad input is
reported at the end with exit status 1, and a local pool of two (JOBS=2) or Slurm give the bytes of one process.

The skipping test uses the one-fold run of test_spot_inputs.py with a stand-in landmarker; the runner tests
spot two short clips of a real face, since pool workers and Slurm tasks load dlib's landmarker."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from core_fixtures import REPO_ROOT, MarkedFaces, marked_frame, marked_frame_folder
from fx_footage import face_frames, write_frames
from model.spotting.options import SpotOptions
from pipeline.spot import spot_inputs
from utils.spot_outputs import TASKS_FOLDER


def _spot(run: Path, config: Path, inputs, out: Path, env: dict | None = None, landmarker=None, **options) -> int:
    return spot_inputs(SpotOptions(inputs=tuple(inputs), run=run, config=config, epoch="last", out=out, **options),
                       landmarker=landmarker, env=env or {})


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Every output file under ``out`` (the task folder left out) -> (inode, modification time): what a skip
    must leave alone."""
    return {str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(out.rglob("*"))
            if p.is_file() and TASKS_FOLDER not in p.relative_to(out).parts}


def _bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and TASKS_FOLDER not in p.relative_to(out).parts}


def test_a_rerun_skips_what_was_spotted_alike_and_redoes_the_rest(one_fold_run, tmp_path, capsys):
    _, run, config = one_fold_run
    first, second = (marked_frame_folder(tmp_path / name, range(1, 41)) for name in ("first", "second"))
    bad = marked_frame_folder(tmp_path / "bad", [1])  # one frame: not a recording
    out = tmp_path / "spots"
    assert _spot(run, config, [first, bad, second], out, landmarker=MarkedFaces()) == 1
    printed = capsys.readouterr().out
    assert f"FAILED {bad}: a frame folder needs at least 2 frame images" in printed
    assert printed.rstrip().endswith("spotted 2 of 3 input(s); failed: 1")
    before = _files(out)
    assert {"first/spots.json", "second/spots.json", "second/report.html"} <= set(before)

    # the same command again: the good inputs are skipped, untouched; the bad one is tried and reported again
    assert _spot(run, config, [first, bad, second], out, landmarker=MarkedFaces()) == 1
    printed = capsys.readouterr().out
    assert printed.count("spotting: done before, skipped") == 2 and "bad: spotting (not done yet)" in printed
    assert f"FAILED {bad}: a frame folder needs at least 2 frame images" in printed
    assert f"{first}: 0 interval(s) -> {out / 'first'}" in printed  # a skipped input has its line too
    assert _files(out) == before

    # one input's frames change: only it is spotted again
    cv2.imwrite(str(second / "img41.png"), marked_frame(41))
    assert _spot(run, config, [first, second], out, landmarker=MarkedFaces()) == 0
    printed = capsys.readouterr().out
    assert "first: spotting: done before, skipped" in printed and "second: spotting (input changed)" in printed
    after = _files(out)
    assert {k: v for k, v in after.items() if k.startswith("first/")} == \
        {k: v for k, v in before.items() if k.startswith("first/")}
    assert after["second/spots.json"] != before["second/spots.json"]
    assert '"frames": 41' in (out / "second" / "spots.json").read_text()

    # another setting (no review page) is another key: both are spotted again; FORCE=1 redoes what is done
    assert _spot(run, config, [first, second], out, landmarker=MarkedFaces(), report=False) == 0
    assert capsys.readouterr().out.count("spotting (spot: report True -> False)") == 2
    assert _spot(run, config, [first], out, landmarker=MarkedFaces(), report=False, env={"FORCE": "1"}) == 0
    assert "first: spotting (FORCE=1)" in capsys.readouterr().out

    # an output removed by hand is an incomplete set: that input is spotted again
    (out / "first" / "spots.csv").unlink()
    assert _spot(run, config, [first, second], out, landmarker=MarkedFaces(), report=False) == 0
    printed = capsys.readouterr().out
    assert "first: spotting (its outputs are incomplete)" in printed and "second: spotting: done before" in printed


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Two short clips of a real face (frame folders), different in head motion."""
    root = tmp_path_factory.mktemp("spottasks")
    clips = []
    for name, step in (("one", (0.4, 0.25)), ("two", (-0.3, 0.2))):
        folder = root / name
        folder.mkdir()
        write_frames(folder, face_frames(24, face_px=120, head_step=step))
        clips.append(folder)
    return clips


def test_a_pool_of_two_gives_the_bytes_of_one_process(one_fold_run, faces, tmp_path, capsys):
    _, run, config = one_fold_run
    assert _spot(run, config, faces, tmp_path / "one", env={"JOBS": "1"}, report=False) == 0
    assert _spot(run, config, faces, tmp_path / "two", env={"JOBS": "2"}, report=False) == 0
    printed = capsys.readouterr().out
    assert printed.count("spotted 2 of 2 input(s)") == 2
    for name in ("one", "two"):  # each worker's output went to its log
        assert (tmp_path / "two" / TASKS_FOLDER / "pipeline_logs" / f"spot.{name}.log").is_file()
    one, two = _bytes(tmp_path / "one"), _bytes(tmp_path / "two")
    assert sorted(one) == sorted(two) and {"one/spots.csv", "two/spots.json"} <= set(one)
    assert all(b'"face_lost_frames": 0' in one[f"{name}/spots.json"] for name in ("one", "two"))  # a face, followed
    assert one == two


def test_slurm_spots_two_inputs_as_one_array_with_the_bytes_of_one_process(one_fold_run, faces, tmp_path, slurm_env):
    _, run, config = one_fold_run
    assert _spot(run, config, faces, tmp_path / "local", env={"JOBS": "1"}, report=False) == 0
    out = tmp_path / "slurm"
    command = [sys.executable, str(REPO_ROOT / "spot.py"), *map(str, faces), "--run", str(run), "--config",
               str(config), "--epoch", "last", "--out", str(out), "--no-report"]
    env = {**slurm_env, "LAUNCHER": "slurm", "SLURM_WAIT": "1", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "submitted wave 0 as array" in result.stdout and "spotted 2 of 2 input(s)" in result.stdout
    assert _bytes(out) == _bytes(tmp_path / "local")
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 0 and "every task is done; nothing submitted" in again.stdout, again.stdout
