"""spot.py's extraction helper (model/spotting/helper.py): the first input extracted in a forked process gives
the features and preview bytes of an extraction in the command's process; its failures are raised in the
command's process; a helper killed mid-way is one line, not a hang; the request offered before torch's import
is the one the command makes, and a helper offered another one stops and leaves nothing behind.

The helper forks only from a process with one thread and no torch, which a pytest worker is not, so each test
runs its checks in a fresh interpreter. The whole command through the helper is checked against the
evaluation's own NMS output in tests/test_spot_e2e.py."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core_fixtures import REPO_ROOT, MarkedFaces, marked_frame_folder
from fx_footage import face_frames, write_frames
from model.spotting.extract import InputExtractor
from model.spotting.helper import ExtractionHelper
from model.spotting.options import SpotOptions
from model.spotting.plan import first_request
from pipeline.spot import spot_inputs

PROBE = """
import json, os, signal, sys
from pathlib import Path
from model.spotting.helper import ExtractionHelper

folder, out, check = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
helper = ExtractionHelper.start()  # before anything imports torch, as spot.py does
if helper is None:
    sys.exit("no helper")
from feature_extraction.face import FaceLandmarker
from feature_extraction.recording import open_recording
from feature_extraction.settings import FlowSettings
from model.spotting.extract import ExtractRequest, extract_input
from utils.errors import UserError

recording, settings = open_recording(folder, None, 30.0), FlowSettings("dis")
if check == "killed":
    os.kill(helper._pid, signal.SIGKILL)
answers = {}
for where in ("helper", "here"):
    request = ExtractRequest(recording, 30.0, settings, "largest", out / f"{where}.webm")
    try:
        if where == "helper":
            helper.offer(request)  # as spot.py does, before the command's own imports
            features, preview = helper.extract(request)
        else:
            features, preview = extract_input(request, FaceLandmarker())
    except UserError as error:
        answers[where] = {"error": str(error), "notes": getattr(error, "__notes__", [])}
        continue
    (face,) = features.faces
    np_path = out / f"{where}.npz"
    import numpy as np
    np.savez(np_path, rows=face.rows, lost=face.lost_frames, breaks=face.break_rows, indices=features.indices)
    answers[where] = {"preview": preview.path.name, "track": repr(face.track), "frames": features.recording.n_frames}
print(json.dumps(answers))
"""


def _probe(tmp_path, frames, check: str = "same") -> dict:
    folder = tmp_path / "frames"
    write_frames(folder, frames)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([sys.executable, "-c", PROBE, str(folder), str(out), check], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_helper_extracts_what_this_process_extracts(tmp_path):
    answers = _probe(tmp_path, face_frames(24, brow_raise_px=3.0))
    assert answers["helper"] == answers["here"] | {"preview": "helper.webm"}
    helper, here = np.load(tmp_path / "out" / "helper.npz"), np.load(tmp_path / "out" / "here.npz")
    for name in ("rows", "lost", "breaks", "indices"):
        np.testing.assert_array_equal(helper[name], here[name])
    assert np.abs(here["rows"]).sum() > 0  # the raised brow moved
    assert (tmp_path / "out" / "helper.webm").read_bytes() == (tmp_path / "out" / "here.webm").read_bytes()


def test_a_failure_in_the_helper_is_raised_here_with_its_traceback(tmp_path):
    blank = [np.full((120, 160, 3), 128, np.uint8)] * 5
    answers = _probe(tmp_path, blank)
    assert "no face" in answers["here"]["error"]
    assert answers["helper"]["error"] == answers["here"]["error"].replace("here.webm", "helper.webm")
    (note,) = answers["helper"]["notes"]
    assert note.startswith("in the extraction process:") and "extract_recording" in note
    assert not list((tmp_path / "out").glob("*.webm"))  # no preview left behind by either


def test_a_killed_helper_is_one_line_and_no_hang(tmp_path):
    answers = _probe(tmp_path, face_frames(4), check="killed")
    error = answers["helper"]["error"]
    assert "frames: the extraction process ended without an answer (killed by signal 9)" in error
    assert "preview" in answers["here"]  # the command's process extracts on


def test_no_helper_beside_other_threads_or_torch():
    assert ExtractionHelper.start() is None  # this pytest process has imported torch


FORK_PROBE = """
import sys
from model.spotting.helper import ExtractionHelper

def forked_with():  # what spot.py has imported when it forks, and then what the helper imports
    before = set(sys.modules)
    import feature_extraction.face, model.spotting.extract
    print(" ".join(sorted(before)) + "|" + " ".join(sorted(set(sys.modules))))
    raise SystemExit(0)

ExtractionHelper.start = staticmethod(forked_with)
import spot
spot.main(sys.argv[1:])
"""


def test_spot_forks_before_its_heavy_imports_and_the_helper_needs_no_pandas(tmp_path):
    """The helper's start is the critical path of a short recording (docs/spot.md): spot.py forks it once its
    flags are parsed, with none of OpenCV, pandas or torch imported, and the helper's own imports (landmarks,
    decoding, preview) need no pandas. Fails when spot.py's flags import the extractor or the config loader, or
    when the frame reading the helper imports pulls in pandas again."""
    result = subprocess.run([sys.executable, "-c", FORK_PROBE, str(tmp_path / "clip.mp4"), "--run", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    before, helper = (set(part.split()) for part in result.stdout.strip().split("|"))
    assert not {"cv2", "numpy", "pandas", "torch", "yaml"} & before
    assert {"cv2", "dlib", "av"} <= helper
    assert not {"pandas", "torch", "matplotlib"} & helper


STOP_PROBE = """
import json, sys, time
from pathlib import Path
from model.spotting.helper import ExtractionHelper

folder, out = Path(sys.argv[1]), Path(sys.argv[2])
helper = ExtractionHelper.start()
if helper is None:
    sys.exit("no helper")
from feature_extraction.recording import open_recording
from feature_extraction.settings import FlowSettings
from model.spotting.extract import ExtractRequest

recording = open_recording(folder, None, 30.0)
offered = ExtractRequest(recording, 30.0, FlowSettings("dis"), "largest", out / "made" / "offered.webm")
helper.offer(offered)
deadline = time.monotonic() + 120
while not list((out / "made").glob("*.webm")) and time.monotonic() < deadline:  # until it writes the preview
    time.sleep(0.02)
writing = [path.name for path in (out / "made").glob("*.webm")]
answer = helper.extract(ExtractRequest(recording, 30.0, FlowSettings("dis"), "largest", out / "other.webm"))
print(json.dumps({"answer": answer, "writing": writing, "ended": helper._ended,
                  "left": sorted(str(path.relative_to(out)) for path in out.rglob("*"))}))
"""


def test_a_helper_offered_another_request_stops_and_leaves_nothing(tmp_path):
    """The command extracts an input other than the one offered (the offered one was skipped, say): the helper,
    caught writing its preview, stops cleanly within its grace time, and neither its unfinished preview nor the
    output folder it made is left."""
    folder = tmp_path / "frames"
    write_frames(folder, face_frames(120))
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([sys.executable, "-c", STOP_PROBE, str(folder), str(out)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["writing"] == [".offered.tmp.webm"]  # it was stopped mid-way
    assert answer == {"answer": None, "writing": [".offered.tmp.webm"], "ended": "exit status 0", "left": []}
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flags", [{}, {"fps": 20.0, "flow": "farneback", "face_detect": "full", "report": False,
                                        "face": "left"}])
def test_the_offered_request_is_the_one_the_command_makes(one_fold_run, tmp_path, monkeypatch, flags):
    _, run, config = one_fold_run
    take = marked_frame_folder(tmp_path / "take", range(1, 41))
    options = SpotOptions(inputs=(take,), run=run, config=config, epoch="last", out=tmp_path / "out", **flags)
    offered = first_request(options)
    made = []
    extract = InputExtractor.__call__

    def recorded(self, request, *rest):
        made.append(request)
        return extract(self, request, *rest)

    monkeypatch.setattr(InputExtractor, "__call__", recorded)
    assert spot_inputs(options, landmarker=MarkedFaces()) == 0
    assert offered is not None and made == [offered]
    assert first_request(options) is None  # spotted before: a rerun may skip it, so nothing is offered
