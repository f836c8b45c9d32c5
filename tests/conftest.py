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


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium driven by Selenium (tests/browser.py); skips with the reason when it cannot start."""
    import shutil

    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    from browser import ensure_chromium, new_profile, start_chromium

    found = ensure_chromium()
    if isinstance(found, str):
        pytest.skip(found)
    profile = new_profile()
    try:
        driver = start_chromium(*found, profile)
    except Exception as error:  # selenium raises WebDriverException subclasses and OSError for a bad binary
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"headless Chromium did not start: {type(error).__name__}: {str(error).splitlines()[0]}")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# Whole runs (pipeline.sh, real Slurm, trained models, a real browser): marked ``e2e`` so that CI's second pass, under the
# oldest pandas requirements.txt allows, repeats only the unit tests and stays within CI's time.
E2E_MODULES = {"test_demo_e2e", "test_pipeline_e2e", "test_scale_out", "test_spot_e2e", "test_spot_planted",
               "test_slurm_consistency", "test_inner_cv", "test_determinism", "test_rerun_cleanup",
               "test_review_spot", "test_review_run", "test_reruns", "test_reruns_raw", "test_rerun_invariant"}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "e2e: a whole run (pipeline.sh, Slurm, trained models, a browser); slow")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
