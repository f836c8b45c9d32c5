"""Config loader (utils/config.py) and the repo's config.yaml against METHOD.md section 9."""
import json
from pathlib import Path

import pytest
import yaml

from utils.config import DatasetConfig, load_config, save_resolved_config
from utils.errors import UserError
from utils.layout import RunLayout

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO_CONFIG = REPO_ROOT / "config.yaml"

# METHOD.md section 9, read off the table by hand: key -> (CAS(ME)^2, SAMM-LV)
SECTION_9 = {
    "SEGMENT_LENTH": (256, 256), "RECEPTIVE_FILED": (15, 15),
    "micro_min": (5, 4), "micro_max": (30, 13),
    "macro_min": (15, 12), "macro_max": (90, 646),
    "micro_average_len": (15, 9), "macro_average_len": (59, 54),
    "micro_left_min_dis": (2, 2), "micro_right_min_dis": (2, 2),
    "micro_left_max_dis": (7, 7), "micro_right_max_dis": (7, 7),
    "macro_left_min_dis": (7, 6), "macro_right_min_dis": (7, 6),
    "macro_left_max_dis": (29, 27), "macro_right_max_dis": (29, 27),
    "micro_apex_score_threshold": (0.5, 0.5), "macro_apex_score_threshold": (0.5, 0.5),
    "nms_top_K_micro": (5, 5), "nms_top_K_macro": (5, 6),
    "epoch_begin": (15, 10),
    "macro_ration": (0.5, 0.7),
    "micro_normal_range": (1, 1), "macro_normal_range": (3, 3),
    "abfcm_training_lr": (0.01, 0.01), "abfcm_weight_decay": (0.1, 0.1), "abfcm_lr_scheduler": (0.96, 0.96),
    "abfcm_apex_alpha": (0.90, 0.90), "abfcm_action_alpha": (0.80, 0.80), "abfcm_start_end_alpha": (0.90, 0.90),
    "abfcm_apex_gamma": (1, 1), "abfcm_action_gamma": (1, 1), "abfcm_start_end_gama": (1, 1),
    "abfcm_label_smooth": (0.16, 0.16),
    "epochs": (100, 100), "batch_size": (128, 128),
    "abfcm_best_epoch": (47, 47),
    "seed": (1, 1),  # section 6: seed 1 for torch and numpy
}
CASME2_SUBJECTS = ["casme_015", "casme_016", *[f"casme_{i:03d}" for i in range(19, 28)],
                   *[f"casme_{i:03d}" for i in range(29, 39)], "casme_040"]
SAMM_SUBJECTS = [*[f"samm_{i:03d}" for i in range(6, 27)], "samm_028", *[f"samm_{i:03d}" for i in range(30, 38)]]


# ---------------------------------------------------------------- the repo's config.yaml

def test_subject_lists_from_the_spec_have_22_and_30_names():
    assert len(CASME2_SUBJECTS) == 22 and len(set(CASME2_SUBJECTS)) == 22
    assert len(SAMM_SUBJECTS) == 30 and len(set(SAMM_SUBJECTS)) == 30


@pytest.mark.parametrize("dataset, column, subjects", [("cas(me)^2", 0, CASME2_SUBJECTS), ("samm", 1, SAMM_SUBJECTS)])
def test_repo_config_equals_section_9(dataset, column, subjects):
    config = load_config(dataset)
    assert isinstance(config, DatasetConfig)
    for key, values in SECTION_9.items():
        assert config[key] == pytest.approx(values[column]), key
    assert config["subject_list"] == subjects
    assert config["corrected_targets"] is False  # published behaviour is the default


def test_repo_config_every_section_loads_and_paths_are_inside_the_repo():
    sections = yaml.safe_load(REPO_CONFIG.read_text())
    assert {"cas(me)^2", "samm", "mesynth"} <= set(sections)
    for name in sections:
        config = load_config(name, REPO_CONFIG)
        for key in ("segment_feat_root", "anno_csv", "adjacency"):
            if key == "adjacency" and config[key] is None:  # built into the run folder, never the source tree
                continue
            assert Path(config[key]).is_absolute()
            assert Path(config[key]).is_relative_to(REPO_ROOT), (name, key)
    demo = load_config("mesynth")
    casme2 = load_config("cas(me)^2")
    demo_text = REPO_CONFIG.read_text().split("\nmesynth:")[1]
    for key in SECTION_9:  # the demo runs with the CAS(ME)^2 hyperparameters, unless a reason stands beside the key
        if demo[key] != casme2[key]:
            line = next(line for line in demo_text.splitlines() if line.strip().startswith(f"{key}:"))
            assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, f"mesynth {key}: no reason given"
    assert {key for key in SECTION_9 if demo[key] != casme2[key]} == {"batch_size"}


# ---------------------------------------------------------------- the loader

def valid_section():
    return yaml.safe_load(REPO_CONFIG.read_text())["cas(me)^2"]


def write(path: Path, document) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False))
    return path


def assert_user_error(path, dataset="ds"):
    """Loading must raise a one-line UserError naming the file."""
    with pytest.raises(UserError) as error:
        load_config(dataset, path)
    message = str(error.value)
    assert Path(path).name in message and "\n" not in message, message
    return message


def test_valid_file_loads(tmp_path):
    config = load_config("ds", write(tmp_path / "cfg.yaml", {"ds": valid_section()}))
    assert config.name == "ds" and config["epochs"] == 100 and config.get("no_such_key") is None


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    section = valid_section()
    section.update(segment_feat_root="feats", anno_csv="../tables/anno.csv", adjacency=str(tmp_path / "abs.npy"))
    write(tmp_path / "conf" / "cfg.yaml", {"ds": section})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("ds", "../conf/cfg.yaml")
    assert Path(config["segment_feat_root"]) == (tmp_path / "conf" / "feats").resolve()
    assert Path(config["anno_csv"]) == (tmp_path / "tables" / "anno.csv").resolve()
    assert Path(config["adjacency"]) == (tmp_path / "abs.npy").resolve()


@pytest.mark.parametrize("key, value", [
    ("epochs", "100"),                # string for an int
    ("epochs", True),                 # YAML true for an int
    ("batch_size", 12.5),             # float for an int
    ("abfcm_training_lr", "0.01"),    # string for a float
    ("abfcm_training_lr", True),      # YAML true for a float
    ("macro_ration", None),           # null
    ("subject_list", "casme_015"),    # not a list
    ("device", 0),                    # int for a string
    ("corrected_targets", 1),         # int for a bool
])
def test_wrong_type(tmp_path, key, value):
    section = valid_section()
    section[key] = value
    message = assert_user_error(write(tmp_path / "cfg.yaml", {"ds": section}))
    assert key in message


@pytest.mark.parametrize("subject", ["../casme_015", "a/b", ".."])
def test_a_subject_that_cannot_name_a_folder_is_refused_at_load(tmp_path, subject):
    """Each subject names its fold's folder and feature folders: a path is refused before anything is written."""
    section = valid_section()
    section["subject_list"] = [*section["subject_list"], subject]
    message = assert_user_error(write(tmp_path / "cfg.yaml", {"ds": section}))
    assert "subject name in subject_list" in message and repr(subject) in message


def test_yaml_true_literal_for_an_int_key(tmp_path):
    text = yaml.safe_dump({"ds": valid_section()}, sort_keys=False).replace("epochs: 100", "epochs: yes")
    assert "epochs: yes" in text
    assert "epochs" in assert_user_error(write(tmp_path / "cfg.yaml", text))


def test_int_is_accepted_for_a_float_key(tmp_path):
    section = valid_section()
    section.update(abfcm_training_lr=1, macro_ration=1)
    config = load_config("ds", write(tmp_path / "cfg.yaml", {"ds": section}))
    assert config["abfcm_training_lr"] == 1


def test_unknown_key(tmp_path):
    section = valid_section()
    section["macro_ratio"] = 0.5  # a plausible misspelling must not pass silently
    assert "macro_ratio" in assert_user_error(write(tmp_path / "cfg.yaml", {"ds": section}))


def test_missing_key(tmp_path):
    section = valid_section()
    del section["macro_ration"]
    assert "macro_ration" in assert_user_error(write(tmp_path / "cfg.yaml", {"ds": section}))


@pytest.mark.parametrize("key, value", [("matching", "greedy"), ("selection", "best"), ("matching", "Published")])
def test_bad_choice(tmp_path, key, value):
    section = valid_section()
    section[key] = value
    message = assert_user_error(write(tmp_path / "cfg.yaml", {"ds": section}))
    assert key in message and value in message


@pytest.mark.parametrize("key, value", [("matching", "published"), ("matching", "paper2023"),
                                        ("matching", "one-to-one"), ("selection", "best-on-test"),
                                        ("selection", "fixed-epoch"), ("selection", "last-epoch")])
def test_good_choices(tmp_path, key, value):
    section = valid_section()
    section[key] = value
    assert load_config("ds", write(tmp_path / "cfg.yaml", {"ds": section}))[key] == value


def test_unknown_section(tmp_path):
    path = write(tmp_path / "cfg.yaml", {"ds": valid_section()})
    assert "nope" in assert_user_error(path, dataset="nope")


def test_missing_file(tmp_path):
    assert_user_error(tmp_path / "absent_config.yaml")


@pytest.mark.parametrize("text", ["ds: [1, 2\n", "ds:\n  epochs: 1\n epochs: 2\n", "\tds: {}\n"])
def test_invalid_yaml(tmp_path, text):
    assert_user_error(write(tmp_path / "broken.yaml", text))


@pytest.mark.parametrize("document", ["", "just a string\n", "- a\n- b\n", "ds: 3\n"])
def test_not_a_mapping(tmp_path, document):
    assert_user_error(write(tmp_path / "odd.yaml", document))


def test_with_overrides(tmp_path):
    config = load_config("ds", write(tmp_path / "cfg.yaml", {"ds": valid_section()}))
    changed = config.with_overrides(device="cpu", epochs=30, seed=None)
    assert changed["device"] == "cpu" and changed["epochs"] == 30 and changed["seed"] == 1  # None = not given
    assert config["device"] == "auto" and config["epochs"] == 100  # the original is untouched
    with pytest.raises(UserError, match="epochs"):
        config.with_overrides(epochs="three")
    with pytest.raises(UserError, match="no_such_key"):
        config.with_overrides(no_such_key=1)
    with pytest.raises(UserError, match="matching"):
        config.with_overrides(matching="greedy")


def test_save_resolved_config_writes_logs_config_txt(tmp_path):
    config = load_config("ds", write(tmp_path / "cfg.yaml", {"ds": valid_section()}))
    fold = RunLayout(tmp_path / "run").fold("casme_015")
    written = save_resolved_config(config, fold.training_config, {"subject": "casme_015"})
    assert Path(written) == tmp_path / "run" / "casme_015" / "logs" / "config.txt"
    saved = json.loads(Path(written).read_text())
    for key, value in config.values.items():
        assert saved[key] == value, key
    assert saved["subject"] == "casme_015"
    assert sorted(p.name for p in (tmp_path / "run" / "casme_015" / "logs").iterdir()) == ["config.txt"]
