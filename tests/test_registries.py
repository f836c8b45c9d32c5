"""Each registry (matching rules, selection protocols, flow methods, raw dataset layouts) is the one list that
the config loader and every command-line flag naming its entries accept: exactly its entries, no other."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from core_fixtures import REPO_ROOT
from feature_extraction.adapters import DATASETS
from feature_extraction.flow import FLOW_METHODS
from utils.config import CHOICE_REGISTRIES, load_config
from utils.errors import UserError
from utils.make_coc_matrix import ADJACENCY_SCOPES
from utils.matching import MATCHING_RULES
from utils.metrics import SELECTION_PROTOCOLS

REGISTRIES = {"matching": MATCHING_RULES, "selection": SELECTION_PROTOCOLS, "extraction_flow": FLOW_METHODS,
              "raw_layout": DATASETS, "adjacency_scope": ADJACENCY_SCOPES}
# (command, the arguments it needs besides the flag, flag, registry)
CLI_FLAGS = [
    (["eval.py"], ["--dataset", "d", "--output", "o", "--subject", "s"], "--matching", MATCHING_RULES),
    (["eval.py"], ["--dataset", "d", "--output", "o", "--subject", "s"], "--selection", SELECTION_PROTOCOLS),
    (["-m", "feature_extraction"], ["--layout", "generic"], "--flow", FLOW_METHODS),
    (["-m", "feature_extraction"], [], "--layout", DATASETS),
    (["spot.py"], ["clip.mp4", "--run", "r"], "--flow", FLOW_METHODS),
]
NOT_AN_ENTRY = "no-such-entry"


def test_every_choice_key_of_the_config_has_a_registry_here():
    assert CHOICE_REGISTRIES.keys() == REGISTRIES.keys()


def _section(**values) -> dict:
    section = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    section.update(values)
    return section


@pytest.mark.parametrize("key", sorted(REGISTRIES))
def test_the_config_accepts_exactly_the_registry(tmp_path, key):
    registry = REGISTRIES[key]
    assert len(set(registry)) == len(registry) > 0
    path = tmp_path / "config.yaml"
    for entry in registry:
        # inner-cv refuses a matrix built with the held-out labels (adjacency_scope all, the default)
        scope = {"adjacency_scope": "train"} if (key, entry) == ("selection", "inner-cv") else {}
        path.write_text(yaml.safe_dump({"ds": _section(**{key: entry, "adjacency": None, **scope})}))
        assert load_config("ds", path)[key] == entry
    path.write_text(yaml.safe_dump({"ds": _section(**{key: NOT_AN_ENTRY, "adjacency": None})}))
    with pytest.raises(UserError) as refused:
        load_config("ds", path)
    listed = str(refused.value).split("expected one of ")[1]
    assert listed.split(", ") == list(registry)


@pytest.mark.parametrize("command, needed, flag, registry", CLI_FLAGS, ids=lambda v: v if isinstance(v, str) else None)
def test_the_cli_accepts_exactly_the_registry(command, needed, flag, registry):
    """argparse refuses a value outside its choices and names them all; the named ones are the registry."""
    result = subprocess.run([sys.executable, *command, *needed, flag, NOT_AN_ENTRY], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    offered = re.search(rf"argument {flag}(?:/--[-\w]+)?: invalid choice: '{NOT_AN_ENTRY}' \(choose from (.*)\)", result.stderr)
    assert offered is not None, result.stderr
    assert [choice.strip("'") for choice in offered.group(1).split(", ")] == list(registry)
