"""dataset.prepare: which adapter reads raw_root, and the message when a section has no features."""
from __future__ import annotations

import pytest

from core_fixtures import write_config
from dataset.prepare import prepare
from dataset.settings import ExtractionSettings
from utils.config import load_config
from utils.errors import UserError


@pytest.mark.parametrize("name, extra, expected", [
    ("cas(me)^2", {}, "cas(me)^2"),
    ("samm", {}, "samm"),
    ("my_lab", {}, "generic"),
    ("my_lab", {"raw_layout": "samm"}, "samm"),
    ("samm", {"raw_layout": "generic"}, "generic"),
])
def test_raw_layout_follows_the_key_then_the_section_name(tmp_path, name, extra, expected):
    assert ExtractionSettings.from_config(write_config(tmp_path, name, raw_root="raw", **extra)).layout == expected


def test_repo_demo_section_reads_the_casme2_layout():
    assert ExtractionSettings.from_config(load_config("mesynth")).layout == "cas(me)^2"


def test_missing_feature_archive_is_one_clear_error(tmp_path):
    config = write_config(tmp_path, "cas(me)^2")
    with pytest.raises(UserError, match=r"features: no feature archive \(train/ and test/\)"):
        prepare(config, jobs=1)


def test_unknown_raw_layout_is_rejected(tmp_path):
    with pytest.raises(UserError, match="raw_layout"):
        write_config(tmp_path, "x", raw_layout="casme3")

