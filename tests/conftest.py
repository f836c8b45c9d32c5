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
