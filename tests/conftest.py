"""Test-wide fixtures: the repo root on sys.path and the path to ../shared/data."""
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture
def shared_data() -> Path:
    """Folder of the paper's annotation tables; skips the test when ../shared is absent."""
    if not (SHARED_DATA / "casme2_annotations.csv").is_file():
        pytest.skip(f"{SHARED_DATA} not found: the paper's annotation tables live in ../shared/data beside the clone")
    return SHARED_DATA


# Whole runs (pipeline.sh, real Slurm, trained spot models): marked ``e2e`` so that CI's second pass, under the
# oldest pandas requirements.txt allows, repeats only the unit tests and stays within CI's time.
E2E_MODULES = {"test_demo_e2e", "test_pipeline_e2e", "test_scale_out", "test_spot_e2e", "test_spot_planted"}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "e2e: a whole run (pipeline.sh, Slurm, a trained spot model); slow")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
