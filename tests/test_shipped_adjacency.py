"""The shipped SAMM-LV adjacency: the published values, the samm default, read as is."""
from pathlib import Path

import numpy as np

from model.adjacency import load_adjacency
from utils.config import load_config

ASSET = Path(__file__).resolve().parents[1] / "model" / "assets" / "samm_published_adjacency.npy"


def test_shipped_matrix_equals_the_published_values_in_float32(shared_data):
    published = np.loadtxt(shared_data / "samm_published_adjacency.csv", delimiter=",", comments="#")
    shipped = np.load(ASSET, allow_pickle=False)
    assert shipped.dtype == np.float32 and shipped.shape == (12, 12)
    assert np.array_equal(shipped, published.astype(np.float32))


def test_samm_section_uses_it_read_as_is(tmp_path):
    config = load_config("samm")
    assert Path(config["adjacency"]) == ASSET
    before = (ASSET.read_bytes(), ASSET.stat().st_mtime_ns)
    matrix = load_adjacency(config, tmp_path, config["subject_list"][0])
    assert not any(tmp_path.iterdir())  # a given matrix is not copied or built into the run folder
    assert (ASSET.read_bytes(), ASSET.stat().st_mtime_ns) == before  # never rebuilt nor rewritten
    assert np.array_equal(matrix, np.load(ASSET))
    # rows of ROIs 6 and 7 have no mapped AU; every other row is normalised
    sums = matrix.sum(axis=1)
    assert np.allclose(np.delete(sums, [6, 7]), 1.0, atol=1e-5) and np.all(sums[[6, 7]] == 0)
