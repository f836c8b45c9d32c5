"""dataset.prepare: which adapter reads raw_root, and the message when a section has no features."""
from __future__ import annotations

import pytest
import yaml

from core_fixtures import REPO_ROOT
from dataset.prepare import prepare, raw_layout
from utils.config import load_config
from utils.errors import UserError


def write_config(tmp_path, name: str, **extra) -> object:
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update({"segment_feat_root": "features", "anno_csv": "anno.csv", "adjacency": None, **extra})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({name: section}))
    return load_config(name, path)


@pytest.mark.parametrize("name, extra, expected", [
    ("cas(me)^2", {}, "cas(me)^2"),
    ("samm", {}, "samm"),
    ("my_lab", {}, "generic"),
    ("my_lab", {"raw_layout": "samm"}, "samm"),
    ("samm", {"raw_layout": "generic"}, "generic"),
])
def test_raw_layout_follows_the_key_then_the_section_name(tmp_path, name, extra, expected):
    assert raw_layout(write_config(tmp_path, name, **extra)) == expected


def test_repo_demo_section_reads_the_casme2_layout():
    assert raw_layout(load_config("mesynth")) == "cas(me)^2"


def test_missing_feature_archive_is_one_clear_error(tmp_path):
    config = write_config(tmp_path, "cas(me)^2")
    with pytest.raises(UserError, match=r"features: no feature archive \(train/ and test/\)"):
        prepare(config, jobs=1)


def test_unknown_raw_layout_is_rejected(tmp_path):
    with pytest.raises(UserError, match="raw_layout"):
        write_config(tmp_path, "x", raw_layout="casme3")

