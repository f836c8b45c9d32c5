"""The one loader for config.yaml.

Every top-level key is a dataset section. Each section is checked against
``SCHEMA``: unknown keys, missing required keys and wrong types are rejected
with one line naming the file, the section and the key. Path-valued keys are
resolved against the config file's folder, so nothing absolute lives in the repo.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from utils.errors import UserError, exit_process
from utils.make_coc_matrix import ADJACENCY_SCOPES
from utils.matching import MATCHING_RULES
from utils.names import check_path_name
from utils.registry import FLOW_METHODS, RAW_LAYOUTS, Registry
from utils.selection import SELECTION_PROTOCOLS

_INT, _FLOAT, _STR = (int,), (int, float), (str,)

# key -> (accepted types, required)
SCHEMA: dict[str, tuple[tuple[type, ...], bool]] = {
    "segment_feat_root": (_STR, True),
    "anno_csv": (_STR, True),
    # A given matrix, read as is; null or absent: built from anno_csv into the run folder (model/adjacency.py).
    "adjacency": ((str, type(None)), False),
    "adjacency_scope": (_STR, False),
    "RATIO_SCALE": (_INT, True),
    "SEGMENT_LENTH": (_INT, True),
    "RECEPTIVE_FILED": (_INT, True),
    "micro_normal_range": (_INT, True),
    "macro_normal_range": (_INT, True),
    "micro_apex_score_threshold": (_FLOAT, True),
    "macro_apex_score_threshold": (_FLOAT, True),
    "micro_min": (_INT, True),
    "micro_max": (_INT, True),
    "macro_min": (_INT, True),
    "macro_max": (_INT, True),
    "micro_average_len": (_INT, True),
    "macro_average_len": (_INT, True),
    "micro_left_min_dis": (_INT, True),
    "micro_left_max_dis": (_INT, True),
    "micro_right_min_dis": (_INT, True),
    "micro_right_max_dis": (_INT, True),
    "macro_left_min_dis": (_INT, True),
    "macro_left_max_dis": (_INT, True),
    "macro_right_min_dis": (_INT, True),
    "macro_right_max_dis": (_INT, True),
    "nms_top_K_micro": (_INT, True),
    "nms_top_K_macro": (_INT, True),
    "epoch_begin": (_INT, True),
    "epochs": (_INT, True),
    "batch_size": (_INT, True),
    "abfcm_training_lr": (_FLOAT, True),
    "abfcm_weight_decay": (_FLOAT, True),
    "abfcm_lr_scheduler": (_FLOAT, True),
    "abfcm_apex_alpha": (_FLOAT, True),
    "abfcm_apex_gamma": (_FLOAT, True),
    "abfcm_action_alpha": (_FLOAT, True),
    "abfcm_action_gamma": (_FLOAT, True),
    "abfcm_start_end_alpha": (_FLOAT, True),
    "abfcm_start_end_gama": (_FLOAT, True),
    "abfcm_label_smooth": (_FLOAT, True),
    "abfcm_best_epoch": (_INT, True),
    "macro_ration": (_FLOAT, True),
    "seed": (_INT, True),
    "device": (_STR, True),
    "matching": (_STR, True),
    "selection": (_STR, True),
    # Optional: groups of training subjects for selection inner-cv (model/inner_cv.py).
    "inner_folds": (_INT, False),
    "subject_list": ((list,), True),
    # Optional: corrected behaviour for a published flaw (METHOD.md section 3).
    "corrected_targets": ((bool,), False),
    # Optional: where raw videos live, for sections the pipeline extracts itself.
    "raw_root": (_STR, False),
    "raw_anno": (_STR, False),
    "raw_layout": (_STR, False),
    "extraction_flow": (_STR, False),
    "synth_seed": (_INT, False),
    "synth_subjects": (_INT, False),
    "synth_videos_per_subject": (_INT, False),
    "synth_frames_per_video": (_INT, False),
    # Optional: the frame rate the features are made at (spot.py resamples new recordings to it).
    "fps": (_FLOAT, False),
}
PATH_KEYS = ("segment_feat_root", "anno_csv", "adjacency", "raw_root", "raw_anno")
# Keys whose value names an entry of a registry (utils/registry.py says where each lives); the CLIs' choices read
# the same registries. Names only are read here: no stage is imported to check a section.
CHOICE_REGISTRIES: dict[str, Registry] = {
    "matching": MATCHING_RULES,
    "selection": SELECTION_PROTOCOLS,
    "extraction_flow": FLOW_METHODS,
    "raw_layout": RAW_LAYOUTS,
    "adjacency_scope": ADJACENCY_SCOPES,
}
# Keys kept for the published file format whose value this implementation does not vary.
FIXED = {"SEGMENT_LENTH": 256, "RECEPTIVE_FILED": 15}
MINIMUM = {"RATIO_SCALE": 1, "batch_size": 1, "epochs": 1, "epoch_begin": 0, "micro_normal_range": 0,
           "macro_normal_range": 0, "nms_top_K_micro": 1, "nms_top_K_macro": 1, "synth_subjects": 1, "inner_folds": 2,
           "synth_videos_per_subject": 1, "synth_frames_per_video": 2,
           **{f"{kind}_{side}_{bound}_dis": 0 for kind in ("micro", "macro") for side in ("left", "right")
              for bound in ("min", "max")}}
# Keys whose value must lie in a closed range [low, high] (None: unbounded on that side).
RANGES = {"micro_apex_score_threshold": (0.0, 1.0), "macro_apex_score_threshold": (0.0, 1.0),
          "abfcm_label_smooth": (0.0, 1.0), "macro_ration": (0.0, 1.0), "abfcm_lr_scheduler": (0.0, 1.0),
          "abfcm_training_lr": (0.0, None), "abfcm_weight_decay": (0.0, None), "abfcm_best_epoch": (0, None),
          **{f"abfcm_{name}_alpha": (0.0, 1.0) for name in ("apex", "action", "start_end")}}
# (lower, upper) key pairs that must be in order; a swapped pair trained for hours, then failed in evaluation.
ORDERED_PAIRS = [*((f"{kind}_min", f"{kind}_max") for kind in ("micro", "macro")),
                 *((f"{kind}_{side}_min_dis", f"{kind}_{side}_max_dis") for kind in ("micro", "macro")
                   for side in ("left", "right"))]
DEFAULTS = {"corrected_targets": False, "adjacency_scope": "all", "inner_folds": 3}
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


@dataclass(frozen=True)
class DatasetConfig:
    """A validated dataset section; ``values`` holds the keys of ``SCHEMA``."""

    name: str
    source: Path
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def with_overrides(self, **overrides: Any) -> "DatasetConfig":
        """A copy with some keys replaced (flags such as ``--device``), re-validated."""
        values = dict(self.values)
        values.update({k: v for k, v in overrides.items() if v is not None})
        _validate(values, self.source, self.name)
        return DatasetConfig(self.name, self.source, values)

    def to_json(self) -> str:
        return json.dumps({"dataset": self.name, "config_file": str(self.source), **self.values},
                          indent=2, sort_keys=False)


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    # bool is an int subclass; a YAML `true` must not pass for an int or float key.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _validate(section: dict, source: Path, name: str) -> None:
    where = f"{source}: section '{name}'"
    for key, value in section.items():
        if key not in SCHEMA:
            raise UserError(f"{where}: unknown key '{key}'")
        types, _ = SCHEMA[key]
        if not _type_ok(value, types):
            expected = " or ".join(t.__name__ for t in types)
            hint = ""
            if float in types and isinstance(value, str) and _parses_as_float(value):
                hint = " (YAML reads a number like 1e-2 as text: write 1.0e-2)"
            raise UserError(f"{where}: key '{key}' must be {expected}, got {type(value).__name__} {value!r}{hint}")
        if key in FIXED and value != FIXED[key]:
            raise UserError(f"{where}: key '{key}' is {value}, but this implementation is fixed at {FIXED[key]} "
                            f"(the published value)")
        if key in MINIMUM and value < MINIMUM[key]:
            raise UserError(f"{where}: key '{key}' is {value}, must be at least {MINIMUM[key]}")
        if key in CHOICE_REGISTRIES and value not in CHOICE_REGISTRIES[key]:
            raise UserError(f"{where}: key '{key}' is '{value}', expected one of "
                            f"{', '.join(CHOICE_REGISTRIES[key])}")
    missing = [key for key, (_, required) in SCHEMA.items() if required and key not in section]
    if missing:
        raise UserError(f"{where}: missing key(s) {', '.join(missing)}")
    subjects = section["subject_list"]
    if not subjects or not all(isinstance(s, str) and s and not any(c.isspace() for c in s) for s in subjects):
        raise UserError(f"{where}: subject_list must be a non-empty list of subject names without spaces")
    for subject in subjects:  # each one names the fold's folder and its feature folders
        check_path_name(subject, where, "subject name in subject_list")
    _check_relations({**DEFAULTS, **section}, where)


def _check_relations(section: dict, where: str) -> None:
    """Values that pass their type but cannot work together (``section`` with the defaults applied): checked
    before any training starts."""
    for key, (low, high) in RANGES.items():
        value = section.get(key)
        if value is not None and ((low is not None and value < low) or (high is not None and value > high)):
            span = f"[{low}, {high}]" if high is not None else f"at least {low}"
            raise UserError(f"{where}: key '{key}' is {value}, must be {span}")
    for lower, upper in ORDERED_PAIRS:
        if section[lower] > section[upper]:
            raise UserError(f"{where}: key '{lower}' ({section[lower]}) is above '{upper}' ({section[upper]})")
    if section["epoch_begin"] >= section["epochs"]:
        raise UserError(f"{where}: key 'epoch_begin' ({section['epoch_begin']}) must be below 'epochs' "
                        f"({section['epochs']}): no checkpoint would be evaluated")
    if section.get("adjacency") and ADJACENCY_SCOPES[section["adjacency_scope"]].holds_out_subject:
        raise UserError(f"{where}: key 'adjacency_scope' is '{section['adjacency_scope']}', which builds each "
                        "fold's matrix, but 'adjacency' gives one: set adjacency: null")
    SELECTION_PROTOCOLS[section["selection"]].check_section(section, where)


def check_subject(subject: str, subjects: list[str]) -> None:
    """A fold's subject must be one of the section's ``subject_list`` (each a plain file name, checked when the
    config is loaded): else a one-line UserError."""
    if subject not in subjects:
        raise UserError(f"unknown subject '{subject}' (subject_list: {', '.join(subjects)})")


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_config(dataset: str, config_path: str | Path | None = None) -> DatasetConfig:
    """Read ``config_path`` (default: the repo's config.yaml) and return one validated section.

    Raises :class:`UserError` with one line naming the file for a missing file,
    bad YAML, an unknown dataset, an unknown key or a wrong type.
    """
    source = Path(config_path) if config_path is not None else DEFAULT_CONFIG
    source = source.resolve()
    if not source.is_file():
        raise UserError(f"{source}: config file not found")
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise UserError(f"{source}: not valid YAML ({str(error).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise UserError(f"{source}: not a UTF-8 text file") from None
    if not isinstance(document, dict) or not document:
        raise UserError(f"{source}: expected a mapping of dataset sections")
    if dataset not in document:
        raise UserError(f"{source}: no section for dataset '{dataset}' (sections: {', '.join(map(str, document))})")
    section = document[dataset]
    if not isinstance(section, dict):
        raise UserError(f"{source}: section '{dataset}' must be a mapping")
    _validate(section, source, dataset)
    values = {**DEFAULTS, **section}
    for key in PATH_KEYS:
        if values.get(key):
            values[key] = str((source.parent / values[key]).resolve())
    return DatasetConfig(dataset, source, values)


def save_resolved_config(config: DatasetConfig, path: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the resolved config (and run facts such as the subject) to ``path`` as JSON; the run layout names
    the file (training's ``logs/config.txt``, the published name; evaluation's ``logs/eval_config.txt``)."""
    from utils.io import atomic_write_text

    payload = json.loads(config.to_json())
    payload.update(extra or {})
    return atomic_write_text(Path(path), json.dumps(payload, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.config DATASET KEY [--config FILE]``: print one resolved value (for pipeline.sh)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("dataset")
    parser.add_argument("key")
    args = parser.parse_args(argv)
    from utils.errors import run_cli

    def show() -> None:
        config = load_config(args.dataset, args.config)
        value = config.get(args.key)
        if value is None:
            raise UserError(f"{config.source}: section '{args.dataset}' has no key '{args.key}'")
        print(" ".join(value) if isinstance(value, list) else value)

    return run_cli(show)


if __name__ == "__main__":
    exit_process(main())
