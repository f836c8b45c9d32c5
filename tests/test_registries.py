"""The registries (utils/registry.py): a name -> its behaviour. An unknown name fails in one line wherever it is
used (never runs as some default entry); the config and every command-line flag naming entries accept exactly a
registry's names; and a new entry of each kind (a matching rule, a selection protocol, a flow method, a dataset
layout) is one object or module plus one registry line: the config accepts it and the code that asks for it runs it.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from core_fixtures import REPO_ROOT
from feature_extraction.adapters import discover_videos, recording_table_names
from feature_extraction.flow import FlowMethod, make_flow
from feature_extraction.settings import FlowSettings
from utils.annotations import MACRO, MICRO
from utils.config import CHOICE_REGISTRIES, load_config
from utils.errors import UserError
from utils.matching import MATCHING_RULES, MatchingRule, count_matches, true_positive_flags, truth_found_flags
from utils.metrics import EPOCH_METRIC_COLUMNS, epoch_metrics_row
from utils.registry import FLOW_METHODS, RAW_LAYOUTS, Registry
from utils.selection import SELECTION_PROTOCOLS, SelectionProtocol, SelectionSettings, select_epoch

# (command, the arguments it needs besides the flag, flag, registry)
CLI_FLAGS = [
    (["eval.py"], ["--dataset", "d", "--output", "o", "--subject", "s"], "--matching", MATCHING_RULES),
    (["eval.py"], ["--dataset", "d", "--output", "o", "--subject", "s"], "--selection", SELECTION_PROTOCOLS),
    (["-m", "feature_extraction"], ["--layout", "generic"], "--flow", FLOW_METHODS),
    (["-m", "feature_extraction"], [], "--layout", RAW_LAYOUTS),
    (["spot.py"], ["clip.mp4", "--run", "r"], "--flow", FLOW_METHODS),
]
NOT_AN_ENTRY = "no-such-entry"


def _section(**values) -> dict:
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(values)
    return section


def _load(tmp_path, **values):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"ds": _section(**values)}))
    return load_config("ds", path)


def test_an_unknown_name_is_one_line_naming_the_kind_and_the_known_names():
    registry = Registry("colour", {"red": 1, "blue": 2})
    with pytest.raises(UserError) as refused:
        registry["green"]
    assert str(refused.value) == "unknown colour 'green'; expected one of red, blue"
    assert list(registry) == ["red", "blue"] and "red" in registry and "green" not in registry


def test_an_entry_named_by_module_path_is_imported_on_first_use():
    registry = Registry("module", {"json": "json", "dumps": "json:dumps"})
    import json

    assert registry["json"] is json and registry["dumps"] is json.dumps


def test_a_builtin_entry_cannot_be_replaced():
    with pytest.raises(ValueError, match="registered already"):
        with MATCHING_RULES.added("published", MatchingRule()):
            pass
    assert MATCHING_RULES["published"].name == "published"


def test_an_unknown_rule_never_runs_as_another(tmp_path):
    """Each place that takes a name fails on an unknown one, with one line."""
    kept = pd.DataFrame({"video_name": ["v"], "start_frame": [0], "end_frame": [9], "score": [1.0], "type_idx": [MICRO]})
    truth = kept.drop(columns="score")
    metrics = pd.DataFrame([epoch_metrics_row({MICRO: (1, 1, 1), MACRO: (0, 0, 0)}, 3)], columns=EPOCH_METRIC_COLUMNS)
    calls = [lambda: count_matches(kept, truth, NOT_AN_ENTRY), lambda: true_positive_flags(kept, truth, NOT_AN_ENTRY),
             lambda: truth_found_flags(kept, truth, NOT_AN_ENTRY), lambda: select_epoch(metrics, NOT_AN_ENTRY),
             lambda: make_flow(NOT_AN_ENTRY), lambda: FlowSettings(method=NOT_AN_ENTRY),
             lambda: discover_videos(NOT_AN_ENTRY, tmp_path)]
    for call in calls:
        with pytest.raises(UserError) as refused:
            call()
        assert "\n" not in str(refused.value) and f"'{NOT_AN_ENTRY}'; expected one of" in str(refused.value)


@pytest.mark.parametrize("key", sorted(CHOICE_REGISTRIES))
def test_the_config_accepts_exactly_the_registry(tmp_path, key):
    registry = CHOICE_REGISTRIES[key]
    assert len(set(registry)) == len(registry) > 0
    for entry in registry:
        # inner-cv refuses a matrix built with the held-out labels (adjacency_scope all, the default)
        scope = {"adjacency_scope": "train"} if (key, entry) == ("selection", "inner-cv") else {}
        assert _load(tmp_path, **{key: entry, "adjacency": None, **scope})[key] == entry
    with pytest.raises(UserError) as refused:
        _load(tmp_path, **{key: NOT_AN_ENTRY, "adjacency": None})
    listed = str(refused.value).split("expected one of ")[1]
    assert listed.split(", ") == list(registry)


def test_the_config_checks_names_without_importing_a_stage():
    """utils/ is the ground: loading a config must not import the extraction or the model."""
    code = ("import sys; from utils.config import load_config; load_config('cas(me)^2'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('feature_extraction', 'model', 'dataset', "
            "'pipeline', 'torch', 'cv2')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("command, needed, flag, registry", CLI_FLAGS, ids=lambda v: v if isinstance(v, str) else None)
def test_the_cli_accepts_exactly_the_registry(command, needed, flag, registry):
    """argparse refuses a value outside its choices and names them all; the named ones are the registry."""
    result = subprocess.run([sys.executable, *command, *needed, flag, NOT_AN_ENTRY], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    offered = re.search(rf"argument {flag}(?:/--[-\w]+)?: invalid choice: '{NOT_AN_ENTRY}' \(choose from (.*)\)", result.stderr)
    assert offered is not None, result.stderr
    assert [choice.strip("'") for choice in offered.group(1).split(", ")] == list(registry)


# A new entry of each kind, as a user would add it.

class LongestOnly(MatchingRule):
    """A test rule: only the longest kept proposal of each type is a true positive, whatever the truth."""

    name = "longest-only"

    def pair_flags(self, kept, truth):
        length = (kept["end_frame"] - kept["start_frame"]).to_numpy()
        tp = np.zeros(len(kept), dtype=bool)
        for type_idx in np.unique(kept["type_idx"]):
            rows = np.flatnonzero(kept["type_idx"].to_numpy() == type_idx)
            tp[rows[np.argmax(length[rows])]] = True
        return tp, np.zeros(len(truth), dtype=bool)


def test_a_new_matching_rule_is_a_class_and_a_line(tmp_path):
    kept = pd.DataFrame({"video_name": ["v", "v", "v"], "start_frame": [0, 10, 40], "end_frame": [5, 30, 50],
                         "score": [0.9, 0.5, 0.7], "type_idx": [MICRO, MICRO, MACRO]})
    truth = pd.DataFrame({"video_name": ["v"], "start_frame": [100], "end_frame": [110], "type_idx": [MICRO]})
    with MATCHING_RULES.added(LongestOnly.name, LongestOnly()):
        assert _load(tmp_path, matching=LongestOnly.name)["matching"] == LongestOnly.name
        assert count_matches(kept, truth, LongestOnly.name) == {MICRO: (1, 2, 1), MACRO: (1, 1, 0)}
        assert true_positive_flags(kept, truth, LongestOnly.name).tolist() == [False, True, True]
    assert LongestOnly.name not in MATCHING_RULES


class EarliestEpoch(SelectionProtocol):
    """A test protocol: the first epoch of the table."""

    name = "earliest"

    def pick(self, epoch_metrics, given, last_epoch):
        return None if epoch_metrics.empty else int(epoch_metrics["epoch"].min())


def test_a_new_selection_protocol_is_a_class_and_a_line(tmp_path):
    metrics = pd.DataFrame([epoch_metrics_row({MICRO: (tp, 2, 2), MACRO: (0, 0, 1)}, epoch)
                            for epoch, tp in ((7, 2), (5, 0), (6, 1))], columns=EPOCH_METRIC_COLUMNS)
    with SELECTION_PROTOCOLS.added(EarliestEpoch.name, EarliestEpoch()):
        config = _load(tmp_path, selection=EarliestEpoch.name)
        settings = SelectionSettings.from_config(config)
        assert settings.protocol.name == EarliestEpoch.name and settings.fixed_epoch is None
        assert select_epoch(metrics, EarliestEpoch.name)["epoch"] == 5
    assert select_epoch(metrics, "best-on-test")["epoch"] == 7


def test_a_new_flow_method_is_an_entry_and_a_line(tmp_path):
    def shift_flow(_):
        return lambda first, second: np.ones((*first.shape, 2), np.float32)

    with FLOW_METHODS.added("ones", FlowMethod("ones", shift_flow, auto_face_detect="fast")):
        assert _load(tmp_path, extraction_flow="ones")["extraction_flow"] == "ones"
        settings = FlowSettings(method="ones", quantise=False)
        assert settings.face_detect == "fast" and settings.key == "ones-float-fast"
        flow = make_flow("ones")(np.zeros((4, 6), np.uint8), np.zeros((4, 6), np.uint8))
        assert flow.shape == (4, 6, 2) and (flow == 1).all()


LAYOUT_MODULE = '''
"""A test layout: <root>/<video>_<subject>/ frame folders, the subject last."""
from feature_extraction.adapters.frames import VideoSource, ordered_frames, visible_entries

ANNOTATION_REQUIRED = False
CLIPS_TO_FRAME_COUNTS = False


def table_names(name):
    video, _, subject = name.rpartition("_")
    return (f"t_{subject}", f"t_{subject}_{video}") if video else None


def discover(raw_root):
    videos = []
    for folder in visible_entries(raw_root):
        names = table_names(folder.name)
        videos.append(VideoSource(*names, ordered_frames(folder)[1]))
    return videos, []


def read_annotations(path, videos, frame_counts, notices):
    raise AssertionError("not used")
'''


def test_a_new_dataset_layout_is_a_module_and_a_line(tmp_path, monkeypatch):
    package = tmp_path / "plugins"
    package.mkdir()
    (package / "reversed_layout.py").write_text(textwrap.dedent(LAYOUT_MODULE))
    monkeypatch.syspath_prepend(str(package))
    raw = tmp_path / "raw"
    for folder in ("smile_s1", "blink_s2"):
        (raw / folder).mkdir(parents=True)
        for frame in range(3):
            (raw / folder / f"{frame}.png").write_bytes(b"")
    with RAW_LAYOUTS.added("reversed", "reversed_layout"):
        assert _load(tmp_path, raw_layout="reversed")["raw_layout"] == "reversed"
        videos, problems = discover_videos("reversed", raw)
        assert [(v.subject, v.video_name, len(v.frame_paths)) for v in videos] == [
            ("t_s1", "t_s1_smile", 3), ("t_s2", "t_s2_blink", 3)]
        assert ("t_s1", "t_s1_smile") in recording_table_names("smile_s1")
    assert ("t_s1", "t_s1_smile") not in recording_table_names("smile_s1")
