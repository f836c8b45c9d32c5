"""Test-wide fixtures: the repo root on sys.path and the path to ../shared/data."""
import contextlib
import fcntl
import inspect
import os
import sys
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
# Idle OpenMP threads sleep instead of spinning. pytest-xdist's workers, their runs and the Slurm jobs share the
# cores; spinning threads then burn them (a training beside two busy cores: 62 s of CPU instead of 21). It
# changes no result, only how torch's threads wait. Set before anything imports torch; the inherited environment
# carries it to subprocesses and sbatch jobs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@contextlib.contextmanager
def one_worker_at_a_time(name: str):
    """Holds a lock file in the system's temporary folder: pytest-xdist's workers set up machine-wide things
    (packages, daemons) one after the other."""
    with open(Path(tempfile.gettempdir()) / f"auwgcn-tests-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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

    with one_worker_at_a_time("chromium"):  # apt-get may install it; two at once fail on dpkg's lock
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


@pytest.fixture(scope="session")
def slurm_env() -> dict:
    """The environment of a one-node Slurm on localhost (tests/slurm_cluster.py), installed and started once per
    session; a skip with the reason where it cannot be."""
    from slurm_cluster import SlurmUnavailable, ensure_slurm

    try:
        with one_worker_at_a_time("slurm"):  # the first worker starts the daemons, the others find them running
            return ensure_slurm()
    except SlurmUnavailable as reason:
        pytest.skip(f"no Slurm for the test: {reason}")


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory):
    """ONE run of the bundled demo exactly as ``bash pipeline.sh`` runs it (the mesynth section, only its paths
    moved), shared by every test that needs the demo's pixels, features or trained models:
    ``(root, result)`` with the raw tree in root/raw, the features in root/features, the run in root/run and
    the config file root/config.yaml (section ``demo``)."""
    from core_fixtures import run_demo_pipeline

    root = tmp_path_factory.mktemp("demo")
    result = run_demo_pipeline(root, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, result


@pytest.fixture(scope="module")
def one_fold_run(tmp_path_factory):
    """``(root, run, config)``: a one-fold run trained (so its logs say) on section ``tiny`` with DIS, and a
    config whose features folder holds a record of other settings (Farneback), which spot must not read."""
    import yaml

    from model.spotting.run_facts import DEFAULT_DATASET
    from core_fixtures import REPO_ROOT, write_fold_model
    from feature_extraction.record import write_record
    from feature_extraction.settings import FlowSettings

    root = tmp_path_factory.mktemp("spotinputs")
    values = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())["cas(me)^2"]
    values.update(segment_feat_root="features", anno_csv="features/annotations.csv", device="cpu")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"tiny": values, "other": values, DEFAULT_DATASET: values}))
    write_record(root / "features", FlowSettings("farneback"), "generic")
    run = root / "run"
    write_fold_model(run, "subj_a", "tiny", FlowSettings("dis"))
    return root, run, config


def pytest_configure(config) -> None:
    # Whole runs carry the mark themselves (``pytestmark`` or per test), so that CI's second pass, under the
    # oldest pandas requirements.txt allows, repeats every unit test and only those.
    config.addinivalue_line("markers", "e2e: a whole run (pipeline.sh, Slurm, trained models, a browser); slow")


# A test that starts one of these is a whole run, whatever else its module holds.
E2E_FIXTURES = {"chromium", "slurm_env", "default_demo"}


# Session fixtures worth building once per test run, not once per worker: the demo's LOSO, and the one-node Slurm
# (its tests load the node's two CPUs, so they queue behind each other rather than behind another worker's jobs).
SHARED_ONCE = ("default_demo", "slurm_env")


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (tests/pytest.ini): one worker per core, at most 4 (each holds torch and a browser)."""
    return max(1, min(os.cpu_count() or 1, 4))


def worker_groups(items) -> dict[int, str]:
    """Item index -> the name of the group it must run in, for pytest-xdist's ``--dist loadgroup``: tests that
    share a module-scoped fixture of this suite run with the rest of their module, tests that use a fixture of
    SHARED_ONCE with each other, and the groups that share a test merge (union-find)."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    joined: dict[int, str] = {}
    for index, item in enumerate(items):
        info = getattr(item, "_fixtureinfo", None)
        names = [name for name in SHARED_ONCE if name in getattr(item, "fixturenames", ())]
        if any(definitions[-1].scope == "module" and Path(inspect.getfile(definitions[-1].func)).parent == TESTS
               for definitions in (info.name2fixturedefs.values() if info else ())):
            names.append(item.module.__name__)
        for name in names[1:]:
            parent[root(name)] = root(names[0])
        if names:
            joined[index] = names[0]
    return {index: root(name) for index, name in joined.items()}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    groups = worker_groups(items)
    for index, group in groups.items():
        items[index].add_marker(pytest.mark.xdist_group(group))
    # The longest groups first, each on its own worker, so that none of them is left running alone at the end.
    first = {name: rank for rank, name in enumerate(SHARED_ONCE)}
    order = sorted(range(len(items)), key=lambda index: first.get(groups.get(index), len(first)))
    items[:] = [items[index] for index in order]
