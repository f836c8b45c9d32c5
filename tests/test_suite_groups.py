"""The suite's own scheduling (tests/conftest.py): under pytest-xdist, the tests that share an expensive fixture
run on one worker, so that the fixture is built once per session, and those groups are handed out first."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import conftest


def module_fixture():
    """A module-scoped fixture defined in this folder, as pytest describes one."""


def function_fixture():
    """A function-scoped one."""


def fake_item(module: str, *fixtures: str):
    """What the hook reads of a collected test: its fixtures (with their scope and function), its module."""
    definitions = {name: [SimpleNamespace(scope="module" if name.startswith("shared") else "function",
                                          func=module_fixture if name.startswith("shared") else function_fixture)]
                   for name in fixtures}
    item = SimpleNamespace(fixturenames=list(fixtures), _fixtureinfo=SimpleNamespace(name2fixturedefs=definitions),
                           module=SimpleNamespace(__name__=module), marks=[])
    item.add_marker = item.marks.append
    return item


def groups_of(items) -> list[str | None]:
    return [next((mark.args[0] for mark in item.marks if mark.name == "xdist_group"), None) for item in items]


def test_tests_sharing_an_expensive_fixture_share_one_worker_and_come_first():
    items = [
        fake_item("test_a", "tmp_path"),                        # 0: free
        fake_item("test_a", "shared_archive"),                  # 1: test_a's archive
        fake_item("test_a", "shared_archive", "tmp_path"),      # 2: with 1
        fake_item("test_b", "shared_archive"),                  # 3: test_b's own archive
        fake_item("test_c", "slurm_env"),                       # 4: Slurm
        fake_item("test_b", "shared_archive", "slurm_env"),     # 5: joins test_b's archive to Slurm
        fake_item("test_d", "default_demo", "tmp_path"),        # 6: the demo
        fake_item("test_e", "default_demo"),                    # 7: with 6
        fake_item("test_e", "tmp_path"),                        # 8: free
    ]
    before = {id(item): index for index, item in enumerate(items)}
    conftest.pytest_collection_modifyitems(items)
    order = [before[id(item)] for item in items]
    groups = dict(zip(order, groups_of(items)))
    assert groups[0] is None and groups[8] is None
    assert groups[1] == groups[2] == "test_a"
    assert groups[3] == groups[4] == groups[5] != groups[1]  # test_b's archive and Slurm: one group
    assert groups[6] == groups[7] == "default_demo"
    # The demo's group first, then Slurm's, then the rest in their collected order.
    assert order == [6, 7, 3, 4, 5, 0, 1, 2, 8]


@pytest.mark.parametrize("name", conftest.SHARED_ONCE)
def test_every_shared_fixture_is_a_fixture_of_the_suite(name):
    assert hasattr(conftest, name), f"SHARED_ONCE names {name}, which tests/conftest.py does not define"
