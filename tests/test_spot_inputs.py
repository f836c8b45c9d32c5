"""spot.py's inputs and outputs: output folders that never collide, reruns without stale files, outputs replaced
as a set, an edited spots.eaf read before anything is written and never lost, any name spotted, one failing
input among others, a writable --out checked first, frame rates and --folds checked, and the run's own
config section and extraction record applied (never the current features folder's record).

A one-fold run of an untrained AUW-GCN and a stand-in landmarker keep each spot to a second or so."""
from __future__ import annotations

import errno
import os
import json
import math
import re
import time
from pathlib import Path

import cv2
import pytest

import model.spotting.extract as spot_extract
import model.spotting.one_input as one_input
import spot
from core_fixtures import (MarkedFaces, assert_one_line_error, call_main, marked_frame_folder, write_fold_model,
                           write_grey_video)
from feature_extraction.record import describe
from feature_extraction.recording import frame_rate, open_recording, recording_name
from feature_extraction.settings import FlowSettings
from model.spotting import review as spot_review
from model.spotting import run_facts
from model.spotting.options import SpotOptions, fold_list
from model.spotting.plan import first_request
from model.spotting.run_facts import run_dataset
from pipeline.spot import spot_inputs
from utils.errors import UserError
from utils.spot_outputs import TASKS_FOLDER, output_folders, recover_killed_swap


class _CountingFaces(MarkedFaces):
    """The stand-in landmarker, counting its landmark calls: zero means nothing was extracted."""

    calls = 0

    def landmarks(self, cropped, detect="full"):
        self.calls += 1
        return super().landmarks(cropped, detect)


def _spot(run: Path, config: Path, inputs, out: Path | None, landmarker=None, **options) -> int:
    return spot_inputs(SpotOptions(inputs=tuple(inputs), run=run, config=config, epoch="last", out=out, **options),
                       landmarker=landmarker or MarkedFaces())


def _takes(root: Path, *names: str) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    return [marked_frame_folder(root / name, range(1, 41)) for name in names]


# --------------------------------------------------------------------------- output folders


def _claim(folder: Path, input_path: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "spots.json").write_text(json.dumps({"input": str(input_path)}))


def _folders(inputs: list[Path], out: Path) -> list[Path]:
    return output_folders([str(path) for path in inputs], [recording_name(path) for path in inputs], out)


def test_output_folders_never_collide_and_a_rerun_finds_its_own(tmp_path):
    out = tmp_path / "out"
    a, b, c = tmp_path / "a" / "take", tmp_path / "b" / "take", tmp_path / "c" / "take.mp4"
    assert _folders([a, b, c], out) == [out / "take", out / "take-2", out / "take-3"]
    _claim(out / "take", b)  # spotted before: b's folder; the numbered one is a's
    _claim(out / "take-7", a)
    assert _folders([a, b], out) == [out / "take-7", out / "take"]
    assert _folders([c], out) == [out / "take-2"]  # the first folder neither taken nor holding files
    (out / "take-2").mkdir()
    (out / "take-2" / "mine.txt").write_text("a user's file")
    (out / "take-3").mkdir()  # empty: free
    assert _folders([c, tmp_path / "take"], out) == [out / "take-3", out / "take-4"]
    assert _folders([tmp_path / "logs"], out) == [out / "logs-2"]  # traceback logs live in out/logs


def test_a_folder_a_killed_swap_left_aside_stays_its_input_s(tmp_path):
    """Killed between the swap's two renames, ``take`` (a's) and ``take-3`` (c's) are gone and their earlier
    selves hidden beside them: a rerun of a or c finds its own, and b, new, takes neither."""
    out = tmp_path / "out"
    a, b, c = tmp_path / "a" / "take", tmp_path / "b" / "take", tmp_path / "c" / "take"
    _claim(out / ".take.0123456789ab.old", a)
    _claim(out / ".take-3.0123456789ab.old", c)
    assert _folders([b, c, a], out) == [out / "take-2", out / "take-3", out / "take"]
    _claim(out / ".take-2.0123456789ab.new", b)  # a staging folder is no folder's earlier self
    assert _folders([b], out) == [out / "take-2"]


def test_dot_and_dotdot_are_named_after_the_folder_they_stand_for(tmp_path, monkeypatch):
    (tmp_path / "session" / "frames").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "session" / "frames")
    assert recording_name(Path(".")) == "frames" and recording_name(Path("..")) == "session"
    assert recording_name(Path("../frames/")) == "frames"
    out = tmp_path / "out"
    assert _folders([Path(".").resolve(), Path("..").resolve()], out) == [out / "frames", out / "session"]


def test_same_named_inputs_get_their_own_folders_and_reruns_leave_nothing_stale(one_fold_run, tmp_path, capsys):
    root, run, config = one_fold_run
    first, second = _takes(tmp_path / "a", "take")[0], _takes(tmp_path / "b", "take")[0]
    out = tmp_path / "spots"
    assert _spot(run, config, [first, second, first], out) == 0
    assert f"note: {first} is {first} again: spotted once" in capsys.readouterr().out
    recorded = {json.loads((out / name / "spots.json").read_text())["input"] for name in ("take", "take-2")}
    assert recorded == {str(first.resolve()), str(second.resolve())}
    assert sorted(p.name for p in out.iterdir() if p.name != TASKS_FOLDER) == ["take", "take-2"]
    folder = out / "take-2"
    before = (folder / "spots.csv").read_bytes()
    for stale in ("annotated.mp4", "annotated.webm", "report.html", "preview.webm"):
        (folder / stale).write_text("from an earlier run")
    (folder / "notes.txt").write_text("the user's own")
    # alone now: still its own folder, found by spots.json; without the page nothing of the page may survive
    assert _spot(run, config, [second], out, report=False) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "spots.csv", "spots.eaf", "spots.json",
                                                        "timeline.png"]
    assert (folder / "spots.csv").read_bytes() == before


def test_a_dot_input_gets_a_named_folder(one_fold_run, tmp_path, monkeypatch):
    _, run, config = one_fold_run
    (take,) = _takes(tmp_path, "take")
    monkeypatch.chdir(take)
    out = tmp_path / "spots"
    assert _spot(run, config, [Path(".")], out) == 0
    assert json.loads((out / "take" / "spots.json").read_text())["input"] == str(take.resolve())


# --------------------------------------------------------------------------- what the user edits


def _page_data(folder: Path) -> dict:
    page = (folder / "report.html").read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="review-data">(.*?)</script>', page, re.S).group(1))


def test_an_edited_eaf_given_as_anno_is_read_first_and_kept(one_fold_run, tmp_path, capsys):
    """spot, correct spots.eaf in ELAN, spot again with it as --anno: the page shows the correction as the
    ground truth, the corrected file is kept beside the model's new spots.eaf, and the rerun says so."""
    from pympi.Elan import Eaf

    _, run, config = one_fold_run
    (take,) = _takes(tmp_path, "take")
    out = tmp_path / "spots"
    assert _spot(run, config, [take], out) == 0
    folder = out / "take"
    eaf, model_eaf = folder / "spots.eaf", (folder / "spots.eaf").read_bytes()
    spotted = len(json.loads((folder / "spots.json").read_text())["spots"])
    corrected = Eaf(str(eaf))  # a person adds an expression at 100-400 ms (frames 4-12 at 30 fps) and saves
    corrected.add_annotation("macro", 100, 400, "")
    corrected.to_file(str(tmp_path / "saved.eaf"))
    os.replace(tmp_path / "saved.eaf", eaf)
    edited = eaf.read_bytes()
    capsys.readouterr()

    assert _spot(run, config, [take], out, anno=eaf) == 0
    printed = capsys.readouterr().out.splitlines()
    assert f"{eaf}: changed since spot wrote it (edited in ELAN?): kept as spots.edited-1.eaf; spots.eaf is " \
           "spot's own again" in printed
    assert (folder / "spots.edited-1.eaf").read_bytes() == edited
    assert eaf.read_bytes() == model_eaf  # the model's, byte for byte what the first spot wrote
    truth = _page_data(folder)["truth"]
    assert len(truth) == spotted + 1
    assert ("macro", 4, 12) in [(t["type"], t["onset_frame"], t["offset_frame"]) for t in truth]

    # spot's own spots.eaf is replaced without a word; the kept correction stays.
    assert _spot(run, config, [take], out, anno=folder / "spots.edited-1.eaf") == 0
    assert "changed since spot wrote it" not in capsys.readouterr().out
    assert sorted(p.name for p in folder.glob("spots*.eaf")) == ["spots.eaf", "spots.edited-1.eaf"]
    assert len(_page_data(folder)["truth"]) == spotted + 1


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file's bytes and inode: a file written again, even with the same bytes, is another inode."""
    return {p.name: (p.read_bytes(), p.stat().st_ino) for p in sorted(folder.iterdir())}


def _spotted_with_a_user_file(one_fold_run, tmp_path) -> tuple[Path, Path, Path, Path, Path]:
    """``(run, config, take, out, folder)``: ``take`` spotted into ``folder`` under ``out``, where the user then
    wrote ``notes.txt``."""
    _, run, config = one_fold_run
    (take,) = _takes(tmp_path, "take")
    out = tmp_path / "spots"
    assert _spot(run, config, [take], out) == 0
    folder = out / "take"
    (folder / "notes.txt").write_text("the user's own")
    return run, config, take, out, folder


@pytest.mark.parametrize("failing", ["timeline", "page"])
def test_a_rerun_that_fails_halfway_leaves_the_earlier_set_whole(one_fold_run, tmp_path, monkeypatch, capsys, failing):
    """The plot fails after spots.csv is written, or the page after the table, the plot, the EAF and the
    preview: the folder keeps the earlier set, file for file, and the user's own file."""
    import utils.plots

    run, config, take, out, folder = _spotted_with_a_user_file(one_fold_run, tmp_path)
    before = _snapshot(folder)
    assert {"spots.csv", "spots.json", "spots.eaf", "timeline.png", "preview.webm", "report.html"} < set(before)
    name = {"timeline": "timeline.png", "page": "report.html"}[failing]

    def full_disk(path, *rest):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    if failing == "timeline":
        monkeypatch.setattr(utils.plots, "plot_spot_timeline", full_disk)
    else:
        monkeypatch.setattr(spot_review, "write_spot_page", full_disk)
    assert _spot(run, config, [take], out, video=True) == 1
    assert _snapshot(folder) == before
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != TASKS_FOLDER]  # no staging left
    (failed,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAILED")]
    assert f"No space left on device: '{folder / name}'" in failed  # named where it would have been


KILLED_SWAP = """
import os, signal, sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import utils.spot_outputs as spot_outputs
from core_fixtures import MarkedFaces
from model.spotting.options import SpotOptions
from pipeline.spot import spot_inputs

take, run, config, out = (Path(argument) for argument in sys.argv[2:6])
kill_after = int(sys.argv[6])
swap_in, rename, renamed = spot_outputs.swap_in, os.rename, []


def swap_in_killed(staging, folder):  # SIGKILL after the swap's n-th rename: nothing of this process runs on
    def rename_counted(source, target):
        rename(source, target)
        renamed.append(target)
        if len(renamed) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    os.rename = rename_counted
    swap_in(staging, folder)


spot_outputs.swap_in = swap_in_killed
spot_inputs(SpotOptions(inputs=(take,), run=run, config=config, epoch="last", out=out), landmarker=MarkedFaces())
"""


@pytest.mark.parametrize("kill_after, said", [(1, "put back as it was before a spot that was stopped"),
                                              (3, "moved back in, from before a spot that was stopped")])
def test_a_spot_killed_while_swapping_its_outputs_in_loses_no_user_file(one_fold_run, tmp_path, capsys, kill_after,
                                                                         said):
    """Killed for real (SIGKILL) after the first rename of the swap (the folder moved aside, the new set not in
    yet) or after the third (the new set in, one of the user's two files moved back): the next spot puts the
    user's files back in the folder, says so, and leaves no hidden folder behind."""
    import subprocess
    import sys

    from core_fixtures import REPO_ROOT

    run, config, take, out, folder = _spotted_with_a_user_file(one_fold_run, tmp_path)
    (folder / "marks").mkdir()
    (folder / "marks" / "a.txt").write_text("the user's marks")
    killed = subprocess.run([sys.executable, "-c", KILLED_SWAP, str(REPO_ROOT / "tests"), str(take), str(run),
                             str(config), str(out), str(kill_after)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, env=os.environ | {"FORCE": "1"})  # spotted again, so swapped in again
    assert killed.returncode == -9, killed.stderr[-2000:]
    hidden = sorted(p.name.rsplit(".", 1)[1] for p in out.iterdir() if p.name.startswith(".take."))
    assert hidden == ["new", "old"] if kill_after == 1 else hidden == ["old"]
    capsys.readouterr()
    assert _spot(run, config, [take], out) == 0
    assert said in capsys.readouterr().out
    assert (folder / "notes.txt").read_text() == "the user's own"
    assert (folder / "marks" / "a.txt").read_text() == "the user's marks"
    assert {"spots.csv", "spots.json", "report.html", "preview.webm"} < {p.name for p in folder.iterdir()}
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != TASKS_FOLDER]


def test_recovery_touches_only_the_folder_s_own_hidden_folders(tmp_path, capsys):
    folder, neighbour = tmp_path / "take", tmp_path / "take.b"
    folder.mkdir()
    aside = tmp_path / ".take.b.0123456789ab.old"  # take.b's, not take's
    aside.mkdir()
    (aside / "notes.txt").write_text("take.b's")
    recover_killed_swap(folder)
    assert (aside / "notes.txt").is_file() and not list(folder.iterdir()) and capsys.readouterr().out == ""
    recover_killed_swap(neighbour)
    assert (neighbour / "notes.txt").read_text() == "take.b's" and not aside.exists()


def test_a_name_with_dollar_signs_is_spotted_and_plotted_literally(one_fold_run, tmp_path):
    _, run, config = one_fold_run
    (take,) = _takes(tmp_path, "a$\\x$b")
    out = tmp_path / "spots"
    assert _spot(run, config, [take], out, report=False) == 0
    assert sorted(p.name for p in (out / take.name).iterdir()) == ["spots.csv", "spots.eaf", "spots.json",
                                                                    "timeline.png"]


# --------------------------------------------------------------------------- keeps going


def test_one_failing_input_never_stops_the_others(one_fold_run, tmp_path, monkeypatch, capsys):
    _, run, config = one_fold_run
    inputs = _takes(tmp_path, "good", "full_disk", "codec", "buggy")
    write_outputs, open_recording_ = one_input.write_outputs, spot_extract.open_recording

    def failing_write(folder, *rest):
        if folder.name == "full_disk":
            raise OSError(errno.ENOSPC, "No space left on device", str(folder / "spots.csv"))
        return write_outputs(folder, *rest)

    def failing_open(path, *rest):
        if path.name == "codec":
            raise cv2.error("OpenCV(5.0.0) decoder: error: (-2:Unspecified error)\nbad packet\n")
        return open_recording_(path, *rest)

    def buggy_table(kept, indices, recording):
        raise KeyError("a coding error")

    monkeypatch.setattr(one_input, "write_outputs", failing_write)
    monkeypatch.setattr(spot_extract, "open_recording", failing_open)
    table = one_input.spots_table
    monkeypatch.setattr(one_input, "spots_table",
                        lambda kept, indices, recording: (buggy_table if recording.name == "buggy" else table)(
                            kept, indices, recording))
    out = tmp_path / "spots"
    assert _spot(run, config, inputs, out) == 1
    printed = capsys.readouterr().out
    failed = [line for line in printed.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3 and printed.rstrip().endswith("spotted 1 of 4 input(s); failed: 3")
    by_input = {name: next(line for line in failed if f"/{name}: " in line) for name in ("full_disk", "codec", "buggy")}
    assert "error OSError: [Errno 28] No space left on device" in by_input["full_disk"]
    assert "error cv2.error: OpenCV(5.0.0) decoder: error: (-2:Unspecified error) bad packet;" in by_input["codec"]
    log = out / "logs" / "buggy.log"
    assert "internal error (likely a bug) KeyError" in by_input["buggy"] and by_input["buggy"].endswith(
        f"traceback in {log}")
    assert "Traceback (most recent call last)" in log.read_text() and "Traceback" not in printed
    assert (out / "good" / "spots.json").is_file() and not (out / "buggy").exists()

    monkeypatch.undo()
    assert _spot(run, config, [inputs[3]], out) == 0  # fixed: the stale log goes
    assert not log.exists()


def _error_before_extraction(one_fold_run, landmarker: _CountingFaces, inputs, out, **options) -> str:
    _, run, config = one_fold_run
    with pytest.raises(UserError) as error:
        _spot(run, config, inputs, out, landmarker=landmarker, **options)
    assert landmarker.calls == 0 and "\n" not in str(error.value)
    return str(error.value)


def test_an_unwritable_out_is_refused_before_any_extraction(one_fold_run, tmp_path):
    root, run, _ = one_fold_run
    inputs = _takes(tmp_path, "take")
    (tmp_path / "a_file").write_text("")
    message = _error_before_extraction(one_fold_run, _CountingFaces(), inputs, tmp_path / "a_file" / "spots")
    assert message.startswith(f"{tmp_path / 'a_file' / 'spots'}: cannot write the outputs here") and "--out" in message
    # The default, <run>/spots, inside a checkpoint archive that takes no files (here: a file stands there).
    archive = tmp_path / "archive"
    (archive / "subj_a").mkdir(parents=True)
    for part in ("models", "logs"):
        (archive / "subj_a" / part).symlink_to(run / "subj_a" / part)
    (archive / "spots").write_text("")
    _, _, config = one_fold_run
    with pytest.raises(UserError, match=r"read-only checkpoint archive\?\) takes no outputs: point --out at"):
        spot_inputs(SpotOptions(inputs=tuple(inputs), run=archive, config=config, epoch="last"), _CountingFaces())


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("text", ["0", "-25", "nan", "inf", "-inf", "fast", ""])
def test_fps_must_be_a_finite_rate_above_zero(text):
    with pytest.raises(UserError, match="--fps must be a finite number of frames per second above 0"):
        frame_rate(text)


def test_fps_parses_a_rate():
    assert frame_rate("25") == 25.0 and frame_rate("29.97") == 29.97


def test_fps_from_the_command_line_is_one_line(tmp_path):
    result = call_main(spot.main, [str(tmp_path), "--run", str(tmp_path), "--fps", "nan"])
    assert_one_line_error(result, "--fps must be a finite number", "'nan'")


def test_a_video_rate_outside_1_to_1000_is_refused_unless_fps_overrides(tmp_path):
    slow = write_grey_video(tmp_path / "slow.avi", 0.5)
    with pytest.raises(UserError) as error:
        open_recording(slow, None, 30.0)
    assert str(error.value) == (f"{slow}: the video reports a frame rate of 0.5 fps, outside 1-1000: "
                                "give its real rate with --fps")
    recording = open_recording(slow, 30.0, 25.0)  # --fps works for a video file
    assert (recording.source_fps, recording.header_frames) == (30.0, 6)
    assert open_recording(write_grey_video(tmp_path / "fine.avi", 12.0), None, 30.0).source_fps == 12.0


@pytest.mark.parametrize("reported", [math.nan, math.inf, 0.0, 1200.0])
def test_a_broken_reported_rate_is_named(tmp_path, monkeypatch, reported):
    import feature_extraction.recording as recording_module

    class Capture:  # a readable file whose header reports ``reported``
        def __init__(self, path):
            self.left = 4

        def isOpened(self):
            return True

        def get(self, prop):
            return reported

        def grab(self):
            self.left -= 1
            return self.left >= 0

        def release(self):
            pass

    monkeypatch.setattr(recording_module.cv2, "VideoCapture", Capture)
    (tmp_path / "clip.mp4").write_bytes(b"")
    with pytest.raises(UserError, match=rf"clip.mp4: the video reports a frame rate of {reported} fps"):
        open_recording(tmp_path / "clip.mp4", None, 30.0)
    assert open_recording(tmp_path / "clip.mp4", 25.0, 30.0).source_fps == 25.0


def test_a_frame_folder_runs_at_fps_or_the_dataset_rate(tmp_path):
    (take,) = _takes(tmp_path, "take")
    assert open_recording(take, None, 30.0).source_fps == 30.0
    assert open_recording(take, 12.5, 30.0).source_fps == 12.5


@pytest.mark.parametrize("text, problem", [("", "an empty fold name"), (",", "an empty fold name"),
                                           ("subj_a,,subj_b", "an empty fold name"),
                                           ("subj_a,subj_a", "subj_a given more than once"),
                                           ("subj_b, subj_a ,subj_b", "subj_b given more than once")])
def test_an_empty_or_repeated_folds_list_is_one_line(text, problem):
    with pytest.raises(UserError, match=problem):
        fold_list(text)


def test_folds_lists_parse():
    assert fold_list("all") is None and fold_list(" subj_a, subj_b") == ("subj_a", "subj_b")


def test_repeated_folds_are_refused_before_any_extraction(tmp_path):
    (take,) = _takes(tmp_path, "take")
    result = call_main(spot.main, [str(take), "--run", str(tmp_path / "none"), "--folds", "subj_a,subj_a"])
    assert_one_line_error(result, "--folds 'subj_a,subj_a': subj_a given more than once")


# --------------------------------------------------------------------------- what the run applies


def test_the_run_section_is_taken_and_said_when_dataset_is_left_out(one_fold_run, tmp_path, capsys):
    _, run, config = one_fold_run
    said = f"dataset: tiny (the run's own section, from {run / 'subj_a/logs/config.txt'})"
    assert run_dataset(run, ["subj_a"], None) == ("tiny", said)
    assert run_dataset(run, ["subj_a"], "tiny") == ("tiny", None)
    options = SpotOptions(inputs=tuple(_takes(tmp_path, "take")), run=run, config=config, epoch="last",
                          out=tmp_path / "out")
    assert first_request(options) is not None  # spot.py's offer to its helper says nothing
    assert capsys.readouterr().out == ""
    assert spot_inputs(options, landmarker=MarkedFaces()) == 0
    assert capsys.readouterr().out.count(said) == 1


def test_another_dataset_than_the_run_is_refused_before_any_extraction(one_fold_run, tmp_path):
    _, run, _ = one_fold_run
    message = _error_before_extraction(one_fold_run, _CountingFaces(), _takes(tmp_path, "take"), tmp_path / "out",
                                       dataset="other")
    assert message == (f"{run / 'subj_a/logs/config.txt'}: the run was trained on config section 'tiny', "
                       "not --dataset 'other'; leave --dataset out to use 'tiny'")


def test_folds_of_different_sections_or_settings_are_refused(tmp_path):
    run = tmp_path / "run"
    write_fold_model(run, "subj_a", "tiny", FlowSettings("dis"))
    write_fold_model(run, "subj_b", "other", FlowSettings("dis"))
    write_fold_model(run, "subj_c", "tiny", FlowSettings("farneback"))
    with pytest.raises(UserError, match="subj_b/logs/config.txt: trained on config section 'other', but .*'tiny'"):
        run_dataset(run, ["subj_a", "subj_b"], None)
    with pytest.raises(UserError, match="subj_c/logs/extraction.json: the fold's features were extracted with other"):
        run_facts.run_settings(run, ["subj_a", "subj_c"])
    assert run_facts.run_settings(run, ["subj_a"])[0] == FlowSettings("dis")


def test_a_run_without_records_uses_the_published_extraction_never_the_features_record(one_fold_run, tmp_path, capsys):
    from feature_extraction.__main__ import build_parser, flow_settings

    root, _, config = one_fold_run
    run = tmp_path / "archive"
    write_fold_model(run, "subj_a", "tiny", None)
    (run / "subj_a" / "logs" / "config.txt").unlink()  # the published archive: checkpoints only
    assert spot_inputs(SpotOptions(inputs=(tmp_path / "missing.mp4",), run=run, config=config, epoch="last",
                                   out=tmp_path / "out"), _CountingFaces()) == 1
    printed = capsys.readouterr().out
    assert f"dataset: {run_facts.DEFAULT_DATASET} (the run records no config section" in printed
    # The extraction CLI's --flow-preset published, read from the same definition, and said so.
    published = flow_settings(build_parser().parse_args(["--layout", "generic", "--out", "x",
                                                         "--flow-preset", "published"]))
    assert published == FlowSettings("tvl1", face_detect="full", tvl1_params="published-gpu", storage="jpeg95")
    assert (f"extraction settings: {describe(published)} (no extraction record in the run: the published "
            "extraction, as python -m feature_extraction --flow-preset published)") in printed
    assert (root / "features" / "extraction.json").is_file()  # there, but another folder's


# --------------------------------------------------------------------------- files and progress


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_output_gets_the_usual_permissions_and_each_stage_shows_progress(one_fold_run, tmp_path, capsys, umask_022):
    _, run, config = one_fold_run
    (take,) = _takes(tmp_path, "take")
    out = tmp_path / "spots"
    assert _spot(run, config, [take], out) == 0
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in (out / "take").iterdir()}
    assert {"spots.csv", "spots.json", "spots.eaf", "timeline.png", "report.html", "preview.webm"} <= set(modes)
    assert set(modes.values()) == {"0o644"}, modes
    printed = capsys.readouterr()
    assert f"{take}: 1.3 s of recording spotted in " in printed.out  # 40 frames at 30 fps, then the speed
    for stage, unit in (("take: features", "frame/s"), ("take: preview", "frame/s"), ("take: scoring", "window/s")):
        assert re.search(f"{stage}: .*{unit}", printed.err), stage  # tqdm: count, rate and time left


def test_atomic_writes_take_the_umask(tmp_path):
    from utils.io import atomic_write_text

    old = os.umask(0o077)
    try:
        private = atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    old = os.umask(0o022)
    try:
        shared = atomic_write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert (private.stat().st_mode & 0o777, shared.stat().st_mode & 0o777) == (0o600, 0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.txt", "shared.txt"]


def test_the_page_plays_its_preview_after_its_folder_is_moved(one_fold_run, tmp_path, chromium):
    from browser import console_errors

    _, run, config = one_fold_run
    (take,) = _takes(tmp_path, "take")
    assert _spot(run, config, [take], tmp_path / "spots") == 0
    moved = tmp_path / "elsewhere" / "take"
    moved.parent.mkdir()
    (tmp_path / "spots" / "take").rename(moved)
    console_errors(chromium)  # drop what earlier tests left
    chromium.get((moved / "report.html").as_uri())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not chromium.execute_script(
            "return document.querySelector('video').readyState >= 2"):
        time.sleep(0.1)
    assert chromium.execute_script("return document.querySelector('video').readyState >= 2"), "no preview"
    duration = chromium.execute_script("return document.querySelector('video').duration")
    assert abs(duration - 40 / 30) <= 1 / 30  # the take: 40 frames at 30 fps, VP9 decoded by Chromium
    assert console_errors(chromium) == []
