"""The project's plots (utils/plots.py): names drawn as written, never as math text, and spot.py's timeline.png
in rows of a few minutes so that an hour prints readably."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

import utils.plots as plots

NAMES = ["a$\\x$b", "$x^2$", "100$ and 5$"]  # a parse error, a valid formula, two dollar signs in prose


@pytest.fixture
def figures(monkeypatch) -> list:
    """Every Figure utils.plots makes during the test."""
    made = []

    class Recorded(plots.Figure):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(plots, "Figure", Recorded)
    return made


def _shown_literally(figure, name: str) -> bool:
    """Whether some text of ``figure`` holds ``name`` and every such text is drawn as written."""
    holding = [text for text in figure.findobj(Text) if name in text.get_text()]
    return bool(holding) and not any(text.get_parse_math() for text in holding)


def _spot_timeline(path: Path, name: str, duration: float, spans=()) -> Path:
    seconds = np.arange(int(duration * 30) - 1) / 30
    tracks = {1: 0.3 + 0.2 * np.sin(seconds), 2: 0.3 + 0.2 * np.cos(seconds)}
    return plots.plot_spot_timeline(path, name, duration, seconds, tracks, tracks, list(spans), [(1.0, 1.5)])


@pytest.mark.parametrize("name", NAMES)
def test_names_are_drawn_as_written(tmp_path, figures, name):
    assert _spot_timeline(tmp_path / "spot.png", name, 4.0).is_file()
    truth = pd.DataFrame({"start_frame": [3], "end_frame": [9], "type_idx": [1]})
    spotted = pd.DataFrame({"start_frame": [4], "end_frame": [9], "type_idx": [1], "matched": [True]})
    assert plots.plot_video_timeline(name, {1: np.zeros(20), 2: np.zeros(20)}, 1, truth, spotted,
                                     tmp_path / "video.png").is_file()
    document = {"f1": {t: {"mean": 0.5, "std": 0.1} for t in plots.SCORE_ROWS}}
    assert plots.plot_protocol_table(tmp_path / "table.png", {f"{name} | fixed": document}, name).is_file()
    assert len(figures) == 3 and all(_shown_literally(figure, name) for figure in figures)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spot.png", "table.png", "video.png"]


def test_a_plot_that_fails_leaves_no_file(tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("the renderer failed")

    monkeypatch.setattr(plots.Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        _spot_timeline(tmp_path / "timeline.png", "take", 4.0)
    assert list(tmp_path.iterdir()) == []


def test_an_hour_is_drawn_in_rows_of_two_minutes(tmp_path, figures):
    spans = [(600.5, 601.0, "micro"), (3599.0, 3599.9, "macro")]
    path = _spot_timeline(tmp_path / "hour.png", "interview", 3600.0, spans)
    (figure,) = figures
    axes = figure.get_axes()
    assert [axis.get_xlim() for axis in axes] == [(120.0 * k, 120.0 * (k + 1)) for k in range(30)]
    shaded = [[patch.get_x() for patch in axis.patches if patch.get_facecolor()[3] > 0] for axis in axes]
    assert shaded[5] == [600.5] and shaded[29] == [3599.0] and sum(map(len, shaded)) == 2  # each in its own row
    height, width = cv2.imread(str(path)).shape[:2]
    assert height > 30 * 80 and width < 1100  # 30 rows of about an inch at 80 dpi, the width of one

    _spot_timeline(tmp_path / "short.png", "clip", 4.0)
    assert [axis.get_xlim() for axis in figures[1].get_axes()] == [(0.0, 4.0)]
