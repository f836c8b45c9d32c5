"""Errors keep their cause. A coding error in an extraction worker is a failed video whose
traceback is in a log file the one-line reason names; --au-map takes JSON text or @file; one user-error type;
every CLI ends through utils.errors.exit_process, which keeps the status and the atexit handlers."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import feature_extraction.batch as batch
from core_fixtures import REPO_ROOT, call_main, touch
from feature_extraction.adapters import VideoSource
from feature_extraction.settings import FlowSettings
from test_import_circles import PACKAGES as PACKAGE_FOLDERS
from utils.errors import UserError


def broken_extractor(*args, **kwargs):
    return {}["no_such_key"]  # a coding error: KeyError


@pytest.mark.parametrize("raised, kind", [(broken_extractor, "internal error (likely a bug) KeyError"),
                                          (OSError("disk gone"), "error OSError: disk gone")])
def test_unexpected_worker_error_keeps_its_traceback(tmp_path, monkeypatch, raised, kind):
    video = VideoSource("subjA", "vid1", (touch(tmp_path / "raw" / "img001.jpg"),))
    if callable(raised):
        monkeypatch.setattr(batch, "extract_video", raised)
    else:
        monkeypatch.setattr(batch, "extract_video", lambda *a, **k: (_ for _ in ()).throw(raised))
    outcome = batch.extract_one(video, FlowSettings("dis"), tmp_path / "out", landmarker=None, bar_position=0)
    log = tmp_path / "out" / "logs" / "errors" / "subjA" / "vid1.log"
    assert outcome.status == "failed" and "\n" not in outcome.reason
    assert outcome.reason.startswith(kind) and outcome.reason.endswith(f"traceback in {log}")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and str(video.source_path) in text
    if callable(raised):
        assert "broken_extractor" in text and "no_such_key" in text


def run_coc(*args, cwd):
    from utils.make_coc_matrix import main

    return call_main(main, [str(arg) for arg in args], cwd)


def test_au_map_long_json_text_and_at_file(tmp_path):
    (tmp_path / "anno.csv").write_text("au\n1+2\n12\n")
    # Longer than 255 characters: it used to be tried as a file name first and ended in a traceback.
    mapping = {str(au): [au % 12] for au in range(1, 80)}
    text = json.dumps(mapping)
    assert len(text) > 255
    inline = run_coc("--anno", "anno.csv", "--out", "inline.npy", "--au-map", text, cwd=tmp_path)
    assert inline.returncode == 0, inline.stderr
    (tmp_path / "map.json").write_text(text)
    from_file = run_coc("--anno", "anno.csv", "--out", "file.npy", "--au-map", "@map.json", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "inline.npy"), np.load(tmp_path / "file.npy"))
    missing = run_coc("--anno", "anno.csv", "--out", "x.npy", "--au-map", "@nope.json", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nope.json: cannot read" in missing.stderr
    # A file name without '@' is JSON text, and says so.
    plain = run_coc("--anno", "anno.csv", "--out", "x.npy", "--au-map", "map.json", cwd=tmp_path)
    assert plain.returncode == 2 and "--au-map: not JSON" in plain.stderr and plain.stderr.count("\n") == 1


def test_one_user_error_type_across_packages(tmp_path):
    from dataset.mesynth.generate import generate_dataset
    from feature_extraction.adapters import discover_videos, load_annotations

    (tmp_path / "file").write_text("x")
    for call in (lambda: discover_videos("generic", tmp_path / "file"),
                 lambda: load_annotations("cas(me)^2", None, [], None),
                 lambda: generate_dataset(tmp_path / "file", seed=0, n_subjects=1, videos_per_subject=1,
                                          frames_per_video=10, jobs=1)):
        with pytest.raises(UserError):
            call()
    assert issubclass(UserError, ValueError)  # callers written against ValueError still catch it


def test_a_cli_exit_keeps_its_status_and_atexit_handlers_and_skips_the_last_collection():
    probe = ("import atexit, gc\nfrom utils.errors import exit_process\n"
             "atexit.register(lambda: print('atexit ran, frozen:', gc.get_freeze_count() > 0))\nexit_process(3)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert (result.returncode, result.stdout) == (3, "atexit ran, frozen: True\n")


def test_every_cli_ends_through_exit_process():
    """So that no command pays the interpreter's final garbage collection (utils/errors.exit_process)."""
    main_line = 'if __name__ == "__main__":\n'
    sources = [path for folder in ("", *PACKAGE_FOLDERS) for path in (REPO_ROOT / folder).glob("**/*.py" if folder
                                                                                                else "*.py")]
    entries = [path for path in sources if main_line in path.read_text()]
    assert len(entries) >= 10  # train, eval, spot, the pipeline's and the utilities' entries
    for path in entries:
        assert re.fullmatch(r"\s*exit_process\(main\(\)\)\s*", path.read_text().split(main_line)[-1]), path
