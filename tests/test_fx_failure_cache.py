"""Failures the same frames and settings always repeat are cached: a rerun reports them without decoding."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from feature_extraction import adapters, batch
from feature_extraction.adapters import frames
from feature_extraction.__main__ import main
from fx_footage import face_frames, write_frames


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """subj/good (a face), subj/blank (no face on any frame), subj/broken.avi (not a video); after one run."""
    base = tmp_path_factory.mktemp("failure_cache")
    write_frames(base / "raw" / "subj" / "good", face_frames(5, face_px=160))
    write_frames(base / "raw" / "subj" / "blank", [np.full((48, 64, 3), 128, np.uint8)] * 5)
    (base / "raw" / "subj" / "broken.avi").write_bytes(b"not a video at all")
    assert main(argv(base)) == 1
    return base


@pytest.fixture()
def raw(first_run, tmp_path):
    """A copy of the first run's raw tree and output (fresh file times: the cache must still match)."""
    for part in ("raw", "out"):
        shutil.copytree(first_run / part, tmp_path / part, copy_function=shutil.copyfile)
    return tmp_path


def argv(tmp_path, *extra):
    return ["--layout", "generic", "--raw-root", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
            "--flow", "dis", *extra]


def count_decoding(monkeypatch) -> list[str]:
    """Record every frame file read and every video file opened, by path."""
    opened: list[str] = []
    imread, open_video = frames.cv2.imread, frames.open_video

    def counted_imread(path, *rest):
        opened.append(str(path))
        return imread(path, *rest)

    def counted_open(path):
        opened.append(str(path))
        return open_video(path)
    monkeypatch.setattr(frames.cv2, "imread", counted_imread)
    monkeypatch.setattr(frames, "open_video", counted_open)
    return opened


def test_a_rerun_reports_cached_failures_without_decoding(raw, monkeypatch, capsys):
    capsys.readouterr()
    opened = count_decoding(monkeypatch)
    assert main(argv(raw)) == 1  # still failed, with the first run's reasons
    out = capsys.readouterr().out
    assert opened == []
    assert "videos: 0 extracted, 1 skipped (cached), 2 failed (2 known from the cache)" in out
    assert "broken.avi: OpenCV cannot open this video file" in out
    assert out.count("cached failure: the same frames and settings, not tried again; --retry-failed tries it") == 2


def test_retry_failed_decodes_the_failed_videos_again(raw, monkeypatch, capsys):
    capsys.readouterr()
    opened = count_decoding(monkeypatch)
    assert main(argv(raw, "--retry-failed")) == 1
    out = capsys.readouterr().out
    assert "videos: 0 extracted, 1 skipped (cached), 2 failed, " in out and "cached failure" not in out
    assert str(raw / "raw" / "subj" / "broken.avi") in opened
    assert sum("/blank/" in path for path in opened) == 5


def test_changed_frames_or_other_settings_try_a_failed_video_again(raw, monkeypatch, capsys):
    opened = count_decoding(monkeypatch)
    frame = raw / "raw" / "subj" / "blank" / "img003.jpg"
    frame.write_bytes(frame.read_bytes() + b"\0")  # another fingerprint
    capsys.readouterr()
    assert main(argv(raw)) == 1
    assert sum("/blank/" in path for path in opened) == 5 and str(raw / "raw" / "subj" / "broken.avi") not in opened
    assert "2 failed (1 known from the cache)" in capsys.readouterr().out
    opened.clear()
    assert main(argv(raw, "--no-quantise")) == 1
    assert sum("/blank/" in path for path in opened) == 5 and str(raw / "raw" / "subj" / "broken.avi") in opened


def test_an_unexpected_error_is_not_cached(tmp_path, monkeypatch):
    """An error that may not repeat (a full disk, a bug) leaves no failure in the cache: the next run tries again."""
    write_frames(tmp_path / "raw" / "subj" / "good", face_frames(3, face_px=160))

    def disk_full(*_):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(batch, "extract_video", disk_full)
    assert main(argv(tmp_path)) == 1
    video = adapters.discover_videos("generic", tmp_path / "raw")[0][0]
    settings = batch.FlowSettings("dis", face_detect="fast")
    assert batch.cached_results([video], settings, tmp_path / "out") == ({}, {})
