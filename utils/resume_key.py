"""What a fold's numbers depend on, in two parts: the training key and the evaluation key.

Each key is a flat dict ``name -> value`` (plain JSON): config values as resolved, and for inputs
that are files, their content (``sha256:<hex>``), never their path, so a moved copy matches:

* training key: every config key that changes the checkpoints (epochs, learning rate, loss weights,
  seed, subject_list, ...), the annotation table's content (the adjacency is built from it, and the
  features' labels come from it), a given adjacency file's content, and the features' extraction
  record (``<segment_feat_root>/extraction.json``, see feature_extraction/record.py). Training
  writes it to ``<fold>/logs/training_key.json`` (:func:`write_training_key`).
* evaluation key: the keys of :data:`EVALUATION_KEYS` (thresholds, proposal lengths and distances,
  NMS top-K, epoch_begin, RATIO_SCALE), the annotation table's content and the extraction record.
  Evaluation stores it in ``eval_info.json`` under ``evaluation_key``.

Left out, as they do not change the numbers or are covered otherwise: ``device``; the matching
rule, selection and fixed epoch (``eval_info.json`` records them already); the raw-video inputs of
the extraction (``raw_*``, ``synth_*``, ``extraction_flow``, ``fps``: the extraction record and the
features stand for them); and the paths themselves.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from utils.config import DatasetConfig
from utils.io import atomic_write_text

EVALUATION_KEYS = (
    "RATIO_SCALE", "micro_apex_score_threshold", "macro_apex_score_threshold", "micro_min", "micro_max",
    "macro_min", "macro_max", "micro_average_len", "macro_average_len",
    *(f"{kind}_{side}_{bound}_dis" for kind in ("micro", "macro") for side in ("left", "right")
      for bound in ("min", "max")),
    "nms_top_K_micro", "nms_top_K_macro", "epoch_begin")
# Recorded in eval_info.json by name, or standing for no number of their own (see the module docstring).
UNKEYED = ("device", "matching", "selection", "abfcm_best_epoch", "segment_feat_root", "anno_csv", "adjacency",
           "raw_root", "raw_anno", "raw_layout", "extraction_flow", "fps", "synth_seed", "synth_subjects",
           "synth_videos_per_subject", "synth_frames_per_video")
TRAINING_KEY_FILE = "training_key.json"
RECORD_FILE = "extraction.json"  # feature_extraction/record.py's RECORD_NAME, read here without importing cv2


def file_content(path: str | Path | None) -> str | None:
    """``sha256:<hex>`` of the file's bytes; ``missing`` when there is no such file; None for no path."""
    if path is None:
        return None
    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def extraction_record(config: DatasetConfig) -> dict | str:
    """The features' extraction record as parsed JSON, or ``none`` / ``unreadable``; without its ``raw_root``
    (record.py's RAW_ROOT_KEY), which says where the frames were read, not what the features are."""
    path = Path(config["segment_feat_root"]) / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict):
            record.pop("raw_root", None)
        return record
    except FileNotFoundError:
        return "none"
    except (OSError, ValueError):
        return "unreadable"


def _inputs(config: DatasetConfig) -> dict:
    return {"annotation table content": file_content(config["anno_csv"]),
            "extraction record": extraction_record(config)}


def training_key(config: DatasetConfig) -> dict:
    """The training key of ``config`` (see the module docstring)."""
    values = {key: value for key, value in config.values.items() if key not in EVALUATION_KEYS + UNKEYED}
    return {**values, **_inputs(config), "adjacency content": file_content(config.get("adjacency") or None)}


def evaluation_key(config: DatasetConfig) -> dict:
    """The evaluation key of ``config`` (see the module docstring)."""
    return {**{key: config[key] for key in EVALUATION_KEYS}, **_inputs(config)}


def key_changes(recorded: dict | None, asked: dict) -> list[str]:
    """What differs between a recorded key and the asked one, one phrase per entry (empty: the same).

    A content hash or extraction record that differs reads ``annotation table content changed``;
    a value ``epochs 6 (asked: 8)``; a key recorded by no run ``no key recorded``.
    """
    if not isinstance(recorded, dict):
        return ["no key recorded"]
    changes = []
    for name in sorted(set(recorded) | set(asked)):
        was, now = recorded.get(name), asked.get(name)
        if was == now:
            continue
        if name.endswith("content") or name == "extraction record":
            changes.append(f"{name} changed")
        else:
            changes.append(f"{name} {was} (asked: {now})")
    return changes


def write_training_key(config: DatasetConfig, log_dir: Path) -> Path:
    """Write ``<log_dir>/training_key.json`` (training does, before its first checkpoint)."""
    return atomic_write_text(Path(log_dir) / TRAINING_KEY_FILE, json.dumps(training_key(config), indent=2) + "\n")


def read_training_key(log_dir: Path) -> dict | None:
    """The training key a fold's training recorded, or None (none recorded, or unreadable)."""
    try:
        key = json.loads((Path(log_dir) / TRAINING_KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return key if isinstance(key, dict) else None
