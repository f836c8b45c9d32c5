"""The per-video cache: what its key holds (settings, FEATURE_VERSION, source fingerprint) and damaged files."""
import io
import os
import shutil

import numpy as np
import pytest

import feature_extraction.cache as cache
from feature_extraction.adapters import frames
from feature_extraction.adapters import VideoSource, source_fingerprint
from feature_extraction.cache import load_cached, save_cached
from feature_extraction.settings import FlowSettings
from feature_extraction.video import VideoResult


def frame_folder(folder, n, size=10):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        path = folder / f"img{index + 1:03d}.jpg"
        path.write_bytes(b"x" * size)
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # fixed times: only what the test changes differs
        paths.append(path)
    return VideoSource("s", "v", tuple(paths))


def test_fingerprint_of_frames_follows_names_sizes_contents_and_count(tmp_path):
    source = frame_folder(tmp_path / "v", 4)
    first = source_fingerprint(source)
    assert first == source_fingerprint(source) and first.startswith("frames/4:")
    assert source_fingerprint(frame_folder(tmp_path / "elsewhere" / "v", 4)) == first  # a moved copy is the same

    source.frame_paths[2].write_bytes(b"y" * 10)  # same size, new content
    assert source_fingerprint(source) != first
    source.frame_paths[2].write_bytes(b"x" * 10)  # the content back, with a new modification time
    assert source_fingerprint(source) == first
    source.frame_paths[2].write_bytes(b"x" * 11)
    assert source_fingerprint(source) != first  # other size

    assert source_fingerprint(VideoSource("s", "v", source.frame_paths[:3])) != source_fingerprint(source)
    renamed = tmp_path / "v" / "img999.jpg"
    os.link(source.frame_paths[0], renamed)
    assert source_fingerprint(VideoSource("s", "v", (renamed, *source.frame_paths[1:]))) != source_fingerprint(source)
    missing = VideoSource("s", "v", (tmp_path / "gone.jpg",))
    assert source_fingerprint(missing) == source_fingerprint(missing)  # a missing frame does not raise


def test_a_copied_tree_matches_and_both_ends_of_a_file_count(tmp_path):
    """A copy with new modification times (another machine) matches; a change at either end of a big file shows."""
    block = frames.FINGERPRINT_BLOCK
    path = tmp_path / "clip.avi"
    content = bytes(range(256)) * (3 * block // 256)  # three blocks: head, middle, tail
    path.write_bytes(content)
    os.utime(path, ns=(5, 5))
    first = source_fingerprint(VideoSource("s", "clip", video_file=path))
    copy = tmp_path / "other_machine" / "clip.avi"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)  # no metadata: a fresh modification time
    assert os.stat(copy).st_mtime_ns != os.stat(path).st_mtime_ns
    assert source_fingerprint(VideoSource("s", "clip", video_file=copy)) == first
    assert first.startswith("file/1:")
    assert source_fingerprint(VideoSource("s", "clip", video_file=path, frame_step=8)) != first
    for where in (0, len(content) - 1):  # a byte of the first block, then of the last
        changed = bytearray(content)
        changed[where] ^= 1
        copy.write_bytes(bytes(changed))
        assert source_fingerprint(VideoSource("s", "clip", video_file=copy)) != first, where
    changed = bytearray(content)
    changed[len(content) // 2] ^= 1  # the stated blind spot: inside the middle, same size
    copy.write_bytes(bytes(changed))
    assert source_fingerprint(VideoSource("s", "clip", video_file=copy)) == first


def result(n_frames=5):
    features = np.arange((n_frames - 1) * 24, dtype=np.float32).reshape(n_frames - 1, 12, 2)
    return VideoResult(features, n_frames, 2, ["f3 (cannot be read)"], ["a note"])


def test_round_trip_and_every_part_of_the_key(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "s" / "v.npz"
    settings = FlowSettings("dis")
    save_cached(path, result(), settings, "frames/5:abc")
    back = load_cached(path, settings, "frames/5:abc")
    np.testing.assert_array_equal(back.features, result().features)
    assert (back.n_frames, back.landmark_failures, back.unreadable, back.notes) == (
        5, 2, ["f3 (cannot be read)"], ["a note"])

    assert load_cached(path, settings, "frames/5:abd") is None  # other frames
    for other in (FlowSettings("tvl1"), FlowSettings("dis", quantise=False), FlowSettings("dis", face_detect="full")):
        assert load_cached(path, other, "frames/5:abc") is None
    monkeypatch.setattr(cache, "FEATURE_VERSION", cache.FEATURE_VERSION + 1)  # the extraction code changed
    assert load_cached(path, settings, "frames/5:abc") is None
    assert load_cached(tmp_path / "absent.npz", settings, "frames/5:abc") is None


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD = dict(features=np.zeros((4, 12, 2), np.float32), n_frames=np.int64(5), landmark_failures=np.int64(0),
            libraries=np.array(cache.library_key()),
            unreadable=np.array([], dtype=str), notes=np.array([], dtype=str), settings=np.array("dis-q8-fast-medium"),
            version=np.int64(cache.FEATURE_VERSION), source=np.array("src"))


@pytest.mark.parametrize("content", [
    b"",  # empty file: EOFError
    npz_bytes(**GOOD)[:-100],  # truncated: BadZipFile
    b"PK\x03\x04" + b"\x00" * 50,  # a zip header and nothing else
    b"\x93NUMPY garbage",
    npz_bytes(**{key: value for key, value in GOOD.items() if key != "version"}),  # written by the old code
    npz_bytes(**{**GOOD, "features": np.zeros((3, 12, 2), np.float32)}),  # rows disagree with n_frames
    npz_bytes(**{**GOOD, "n_frames": np.arange(3)}),
])
def test_unreadable_cache_is_a_miss_not_a_crash(tmp_path, content):
    path = tmp_path / "v.npz"
    path.write_bytes(npz_bytes(**GOOD))
    assert load_cached(path, FlowSettings("dis"), "src") is not None  # the intact file is served
    path.write_bytes(content)
    assert load_cached(path, FlowSettings("dis"), "src") is None


def test_library_versions_and_the_landmark_model_are_in_the_key(tmp_path, monkeypatch):
    """An OpenCV or dlib upgrade, or another landmark model file, re-extracts instead of reusing old features."""
    path, settings = tmp_path / "v.npz", FlowSettings("dis")
    save_cached(path, result(), settings, "src")
    assert load_cached(path, settings, "src") is not None
    for module in (cache.cv2, cache.dlib):
        with monkeypatch.context() as patch:
            patch.setattr(module, "__version__", module.__version__ + ".1")
            assert load_cached(path, settings, "src") is None, module.__name__
    model = tmp_path / "model.dat"
    model.write_bytes(cache.landmark_model_path().read_bytes()[:1000])
    with monkeypatch.context() as patch:
        patch.setattr(cache, "landmark_model_path", lambda: model)
        assert load_cached(path, settings, "src") is None
    assert load_cached(path, settings, "src") is not None
