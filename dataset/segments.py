"""Segment files -> arrays, and the leave-one-subject-out splits (FORMATS.md "Feature segments").

A split is a :class:`WindowSet`: ``features (W, 270, 12, 2)`` float32,
``labels (W, 270, 8)`` int32, and per window its video name and offset (256k),
ordered by video name then offset.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feature_extraction.segments import (FEATURE_ARRAY, LABEL_ARRAY, NAME_ARRAY, WINDOW_FEATURE_SHAPE,
                                         WINDOW_LABEL_SHAPE)
from utils.annotations import EXPRESSION_TYPES, label_column
from utils.config import check_subject
from utils.errors import UserError
from utils.indexing import parse_window_file_name

ACTION_COLUMNS = [label_column(type_idx, "action") for type_idx in EXPRESSION_TYPES]


@dataclass
class WindowSet:
    features: np.ndarray        # (W, 270, 12, 2) float32, raw (not normalised)
    labels: np.ndarray          # (W, 270, 8) int32
    video_names: np.ndarray     # (W,) str
    offsets: np.ndarray         # (W,) int64, the window's first middle row 256k

    def __len__(self) -> int:
        return len(self.offsets)

    def select(self, mask: np.ndarray) -> "WindowSet":
        return WindowSet(self.features[mask], self.labels[mask], self.video_names[mask], self.offsets[mask])


def _stored_video_name(archive) -> str | None:
    """The 0-d ``video_name`` string, or None when absent or stored as a pickled object (the file name says it)."""
    if NAME_ARRAY not in archive.files:
        return None
    try:
        return str(archive[NAME_ARRAY])
    except ValueError:  # an object array: never unpickle data from elsewhere
        return None


def load_window(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """One segment file -> ``(feature (270,12,2) float32, label (270,8) int32, video_name)``.

    Raises :class:`UserError` naming the file when it is unreadable or wrongly shaped.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {FEATURE_ARRAY, LABEL_ARRAY} - set(archive.files)
            if missing:
                raise UserError(f"{path}: segment file lacks {', '.join(sorted(missing))}")
            feature, label = archive[FEATURE_ARRAY], archive[LABEL_ARRAY]
            video_name = _stored_video_name(archive)
    except UserError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UserError(f"{path}: not a readable npz segment file ({error})") from None
    if feature.shape != WINDOW_FEATURE_SHAPE or not np.issubdtype(feature.dtype, np.floating):
        raise UserError(f"{path}: 'feature' must be float {WINDOW_FEATURE_SHAPE}, got {feature.dtype} {feature.shape}")
    if label.shape != WINDOW_LABEL_SHAPE or not np.issubdtype(label.dtype, np.number):
        raise UserError(f"{path}: 'label' must be numeric {WINDOW_LABEL_SHAPE}, got {label.dtype} {label.shape}")
    if video_name is None:
        video_name = parse_window_file_name(path.name)[0]
    return feature.astype(np.float32), label.astype(np.int32), video_name


def load_subject(split_root: Path, subject: str) -> WindowSet:
    """All windows of ``split_root/<subject>/*.npz``; an absent or empty folder is an error."""
    folder = Path(split_root) / subject
    if not folder.is_dir():
        raise UserError(f"{folder}: no segment folder for subject '{subject}'")
    entries = []
    for path in folder.glob("*.npz"):
        try:
            video_name, offset = parse_window_file_name(path.name)
        except ValueError as error:
            raise UserError(f"{path}: {error}") from None
        entries.append((video_name, offset, path))
    if not entries:
        raise UserError(f"{folder}: no segment files (*.npz) for subject '{subject}'")
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    loaded = [load_window(path) for _, _, path in entries]
    return WindowSet(
        features=np.stack([feature for feature, _, _ in loaded]),
        labels=np.stack([label for _, label, _ in loaded]),
        video_names=np.array([video for _, _, video in loaded]),
        offsets=np.array([offset for _, offset, _ in entries], dtype=np.int64),
    )


def concatenate(sets: list[WindowSet]) -> WindowSet:
    return WindowSet(np.concatenate([s.features for s in sets]), np.concatenate([s.labels for s in sets]),
                     np.concatenate([s.video_names for s in sets]), np.concatenate([s.offsets for s in sets]))


def _check_root(segment_feat_root: Path) -> Path:
    root = Path(segment_feat_root)
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise UserError(f"{root}: feature root lacks '{split}/' (expected train/<subject>/*.npz and test/<subject>/*.npz)")
    return root


def training_windows(segment_feat_root: Path, subjects: list[str], held_out: str) -> WindowSet:
    """``train/`` windows of every subject but ``held_out`` that hold at least one micro or macro action row."""
    check_subject(held_out, subjects)
    return expression_windows(segment_feat_root, [s for s in subjects if s != held_out])


def expression_windows(segment_feat_root: Path, subjects: list[str], load=load_subject) -> WindowSet:
    """``train/`` windows of ``subjects`` that hold at least one micro or macro action row. ``load(folder,
    subject)``: how a subject's windows are read (a process training many models reads each file once)."""
    root = _check_root(segment_feat_root)
    windows = concatenate([load(root / "train", s) for s in subjects])
    has_expression = (windows.labels[:, :, ACTION_COLUMNS] > 0).any(axis=(1, 2))
    return windows.select(has_expression)


def test_windows(segment_feat_root: Path, subject: str) -> WindowSet:
    """Every ``test/`` window of the held-out ``subject``."""
    return load_subject(_check_root(segment_feat_root) / "test", subject)
