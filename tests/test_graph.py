"""The task graph's own rules: every config key is read by a task or said to be read by none, the ground (utils/)
imports no stage, the run's decisions are imported from pipeline/ only, and the decision's parts."""
from __future__ import annotations

import ast
import fcntl
import json
import os
from pathlib import Path

import pytest

from core_fixtures import REPO_ROOT, make_tiny_dataset
from utils.config import SCHEMA, load_config
from utils.errors import UserError
from utils.layout import FoldLayout, checkpoints_fingerprint

STAGES = ("model", "dataset", "feature_extraction", "pipeline")


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_every_config_key_is_read_by_a_task_or_said_to_be_read_by_none():
    from pipeline.tasks import INDIRECT_KEYS, KINDS, UNREAD_KEYS

    read_as_is = {key for kind in KINDS.values() for key in kind.config_keys}
    classified = read_as_is | set(INDIRECT_KEYS) | set(UNREAD_KEYS)
    assert set(SCHEMA) - classified == set(), "a config key no task reads: add it to a kind, INDIRECT or UNREAD"
    assert classified - set(SCHEMA) == set(), "a key named that the config does not have"
    assert not (read_as_is & set(UNREAD_KEYS)) and not (set(INDIRECT_KEYS) & set(UNREAD_KEYS))


class _ReadRecorder:
    """A config that records which keys are read (``[]``, ``get``)."""

    def __init__(self, config) -> None:
        self._config, self.name, self.source, self.read = config, config.name, config.source, set()

    def __getitem__(self, key):
        self.read.add(key)
        return self._config[key]

    def get(self, key, default=None):
        self.read.add(key)
        return self._config.get(key, default)


def _stage_settings() -> dict[str, tuple]:
    """Each task kind's stage settings: the objects its stage builds from the config."""
    from dataset.settings import DataSettings, ExtractionSettings, RenderSettings
    from model.settings import (EvaluationSettings, FinalModelSettings, InnerModelSettings, PoolingSettings,
                                TrainingSettings)
    from model.spotting.settings import SpotSettings
    from utils.selection import SelectionSettings

    return {"prepare": (RenderSettings,), "extract": (ExtractionSettings,), "merge": (ExtractionSettings,),
            "train": (TrainingSettings, DataSettings), "inner": (InnerModelSettings,),
            "evaluate": (EvaluationSettings, SelectionSettings, DataSettings), "pool": (PoolingSettings,),
            "final": (FinalModelSettings,), "spot": (SpotSettings,)}


# Kinds keyed on a config key no settings object of theirs reads: the run report reads fps in pipeline/report.py.
KEYED_OUTSIDE_SETTINGS = {"report": ("fps",)}


@pytest.mark.parametrize("selection", ["best-on-test", "fixed-epoch", "last-epoch", "inner-cv"])
def test_each_task_kind_is_keyed_on_exactly_the_keys_its_stage_settings_read(selection):
    """A key a stage's settings read that its task is not keyed on (nor said to reach it otherwise) fails here."""
    from pipeline.tasks import INDIRECT_KEYS, KINDS

    config = load_config("mesynth").with_overrides(selection=selection, adjacency_scope="train")
    stages = _stage_settings()
    read_as_is = {key for kind in KINDS.values() for key in kind.config_keys}
    keyed = {name for name, kind in KINDS.items() if kind.config_keys}
    assert keyed == set(stages) | set(KEYED_OUTSIDE_SETTINGS)
    for name, classes in stages.items():
        recorder = _ReadRecorder(config)
        for cls in classes:
            assert cls.from_config(recorder) is not None
        declared = sum((cls.CONFIG_KEYS for cls in classes), ())
        indirect = {key for cls in classes for key in getattr(cls, "INDIRECT_KEYS", ())}
        assert KINDS[name].config_keys == declared, name
        assert set(declared) <= recorder.read, f"{name}: keyed on keys its settings do not read"
        assert recorder.read - set(declared) - indirect == set(), f"{name}: reads keys its task is not keyed on"
        assert indirect - set(INDIRECT_KEYS) - read_as_is == set(), f"{name}: an indirect key nobody explains"
    for name, keys in KEYED_OUTSIDE_SETTINGS.items():
        assert KINDS[name].config_keys == keys


def test_task_kinds_keep_their_config_key_names_and_order():
    """A task's key holds its kind's config values by name: another set of names redoes every finished task of
    that kind. Change this digest only on purpose (and say so: every run redoes those tasks)."""
    from pipeline.graph import digest
    from pipeline.tasks import KINDS

    names = {name: list(kind.config_keys) for name, kind in KINDS.items()}
    assert digest(names) == "18d3766ef00cdecd843086a593d5f1ea2eba16d9a112be0434d0c8978d95e8c0"


def test_the_ground_imports_no_stage():
    offenders = {str(path.relative_to(REPO_ROOT)): sorted(m for m in imports_of(path) if m.split(".")[0] in STAGES)
                 for path in sorted((REPO_ROOT / "utils").rglob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_pipeline_package_and_entry_scripts_import_the_run_decisions():
    """Outside pipeline/, the entry scripts wire it in (eval.py's inner models, spot.py's inputs as tasks and, to
    offer its helper the first input, whether they run in its own process); nothing else decides."""
    allowed = {"eval.py": {"pipeline.inner"}, "spot.py": {"pipeline.spot", "pipeline.request"}}
    found = {}
    for path in sorted(REPO_ROOT.glob("*.py")) + sorted(p for d in ("utils", "model", "dataset", "feature_extraction")
                                                       for p in (REPO_ROOT / d).rglob("*.py")):
        name = str(path.relative_to(REPO_ROOT))
        mine = {m for m in imports_of(path) if m.split(".")[0] == "pipeline"}
        if mine:
            found[name] = mine
    assert found == allowed


def test_a_change_is_named_in_a_few_words():
    from pipeline.graph import changes
    from pipeline.run import digest

    before = {"config": {"epochs": 4, "abfcm_training_lr": 0.01}, "train features": {"s1": digest(1), "s2": digest(2)}}
    after = {"config": {"epochs": 4, "abfcm_training_lr": 0.02}, "train features": {"s1": digest(1), "s2": digest(3)},
             "threads": 2}
    assert changes(before, after) == "threads new, config: abfcm_training_lr 0.01 -> 0.02, train features: s2 changed"
    assert changes(None, after) == "not done yet"
    assert digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1}) != digest({"a": [2, 1], "b": 1})


def test_a_second_local_run_on_the_same_folder_is_refused(tmp_path):
    from core_fixtures import run_pipeline

    config = make_tiny_dataset(tmp_path, epochs=2, epoch_begin=0)
    (tmp_path / "run").mkdir()
    handle = os.open(tmp_path / "run", os.O_RDONLY)
    fcntl.flock(handle, fcntl.LOCK_EX)  # as a run writing this folder holds it
    try:
        result = run_pipeline({"DATASET": "tiny", "CONFIG": str(config), "OUTPUT": str(tmp_path / "run")})
    finally:
        os.close(handle)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and (
        "another pipeline run is writing this folder" in result.stderr)
    assert list((tmp_path / "run").iterdir()) == []


def test_a_task_run_by_another_process_is_not_run_twice(tmp_path):
    from pipeline.graph import task_lock

    stamp = tmp_path / "stamps" / "train.json"
    with task_lock(stamp):
        with pytest.raises(UserError, match="another process is running this task now"):
            with task_lock(stamp):
                pass
    with task_lock(stamp):  # released
        pass


def test_stamps_are_written_last_and_name_their_reads(tmp_path):
    from core_fixtures import run_pipeline

    config = make_tiny_dataset(tmp_path, epochs=2, epoch_begin=0)
    result = run_pipeline({"DATASET": "tiny", "CONFIG": str(config), "OUTPUT": str(tmp_path / "run"),
                           "SUBJECTS": "subj_a", "THREADS": "1"})
    assert result.returncode == 0, str(result)
    fold = FoldLayout.of(tmp_path / "run", "subj_a")
    stamp = json.loads(fold.stamp("train").read_text())
    assert stamp["task"] == "train/subj_a" and stamp["reads"]["subjects"] == ["subj_b", "subj_c"]
    assert stamp["reads"]["threads"] == 1 and stamp["reads"]["config"]["epochs"] == 2
    assert str(tmp_path) not in fold.stamp("train").read_text()  # no path enters a key
    assert fold.stamp("train").stat().st_mtime_ns >= max(p.stat().st_mtime_ns for p in fold.checkpoints().values())


# --------------------------------------------------------------------------- clearing a fold's outputs


@pytest.fixture()
def config(tmp_path):
    return load_config("tiny", make_tiny_dataset(tmp_path, epochs=6, epoch_begin=3))


def make_checkpoints(root, epochs):
    layout = FoldLayout.of(root, "subj_a")
    layout.models.mkdir(parents=True, exist_ok=True)
    for epoch in epochs:
        layout.checkpoint(epoch).write_bytes(b"weights %d" % epoch)
    return layout


def mark_evaluated(layout, config):
    evaluated = {e: p for e, p in layout.checkpoints().items() if e >= config["epoch_begin"]}
    layout.eval_info.write_text(json.dumps({"matching": "published", "checkpoints_fingerprint":
                                            checkpoints_fingerprint(evaluated)}))
    layout.best_res.write_text("micro_tp\n0\n")


def test_clear_run_removes_eval_info_before_anything_else(config, tmp_path):
    """A clear_run that stops part-way (here: a checkpoint it cannot remove) leaves no 'evaluated' fold."""
    layout = make_checkpoints(tmp_path / "run", range(6))
    mark_evaluated(layout, config)
    layout.checkpoint(2).unlink()
    layout.checkpoint(2).mkdir()  # unlink() fails on it
    with pytest.raises(OSError):
        layout.clear_run()
    assert not layout.eval_info.exists()


def test_evaluate_fold_removes_the_old_eval_info_before_it_counts(config, tmp_path):
    import torch

    from model.evaluation import evaluate_fold

    layout = make_checkpoints(tmp_path / "run", range(6))  # not loadable: evaluation fails part-way
    mark_evaluated(layout, config)
    with pytest.raises(Exception):
        evaluate_fold(config, "subj_a", tmp_path / "run", torch.device("cpu"), show_progress=False)
    assert not layout.eval_info.exists()


def test_pipeline_sh_runs_this_repository_from_any_folder(tmp_path):
    """A caller's folder holding a package of the same name (another checkout) never shadows this repository."""
    import subprocess
    import sys

    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("raise ImportError('the wrong checkout')\n")
    result = subprocess.run(["bash", str(REPO_ROOT / "pipeline.sh")], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable, "JOBS": "0"}, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == "error: JOBS must be a positive whole number, not '0'"
