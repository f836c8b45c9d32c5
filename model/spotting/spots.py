"""Scores -> spots: the evaluation's proposals and NMS (its cap per stretch, caps.py), each kept interval's apex,
and the ``spots.csv`` table in the input's own frame numbering and seconds."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dataset.segments import WindowSet
from feature_extraction.recording import Recording, map_frames
from model.evaluation import epoch_proposals
from model.scoring import Scores
from model.settings import EvaluationSettings
from model.spotting.caps import CapStretch, capped_nms
from utils.annotations import EXPRESSION_TYPES
from utils.indexing import PROPOSAL_FRAME_SHIFT, stitch_windows

SPOT_COLUMNS = ["type", "onset_frame", "apex_frame", "offset_frame", "onset_s", "offset_s", "score"]


def stitched(values: dict[int, np.ndarray], windows: WindowSet) -> dict[int, np.ndarray]:
    """Per type, the per-row track of one recording's windows (utils.indexing.stitch_windows): index r is row r."""
    return {t: stitch_windows(per_window, windows.offsets) for t, per_window in values.items()}


def spot_windows(scores: Scores, windows: WindowSet, settings: EvaluationSettings,
                 stretch: CapStretch | None = None) -> tuple[pd.DataFrame, dict[int, int]]:
    """The evaluation's proposals and NMS (``settings``) on (ensemble) scores, NMS's cap per ``stretch`` of the
    recording (None: per video, as the evaluation; caps.py): ``(NMS_COLUMNS plus apex_frame, per type the intervals
    the cap left out)``."""
    proposals = epoch_proposals(scores, windows, settings.proposals)
    if proposals.empty:
        return (pd.DataFrame(columns=["video_name", "start_frame", "end_frame", "score", "type_idx", "apex_frame"]),
                dict.fromkeys(EXPRESSION_TYPES, 0))
    kept, dropped = capped_nms(proposals, settings.top_k, stretch)
    # The apex of a kept interval: the frame of highest apex score inside it (proposals keep no apex frame).
    apex_track = stitched(scores.apex, windows)
    apex = [int(s + np.argmax(apex_track[t][s - PROPOSAL_FRAME_SHIFT:max(e, s)])) if e > s else int(s)
            for s, e, t in kept[["start_frame", "end_frame", "type_idx"]].to_numpy()]
    return kept.assign(apex_frame=np.asarray(apex, dtype=np.int64)), dropped


def spots_table(kept: pd.DataFrame, indices: np.ndarray, recording: Recording) -> pd.DataFrame:
    """The ``spots.csv`` table (SPOT_COLUMNS), in the input's numbering, sorted by onset."""
    onset, onset_s = map_frames(kept["start_frame"].to_numpy(), indices, recording)
    offset, offset_s = map_frames(kept["end_frame"].to_numpy(), indices, recording)
    apex, _ = map_frames(kept["apex_frame"].to_numpy(), indices, recording)
    table = pd.DataFrame({"type": [EXPRESSION_TYPES[int(t)] for t in kept["type_idx"]], "onset_frame": onset,
                          "apex_frame": apex, "offset_frame": offset, "onset_s": np.round(onset_s, 4),
                          "offset_s": np.round(offset_s, 4), "score": kept["score"].to_numpy(float)},
                         columns=SPOT_COLUMNS)
    return table.sort_values(["onset_frame", "type"], kind="stable").reset_index(drop=True)


def cap_text(top_k: dict[int, int]) -> str:
    """``5 macro, 5 micro``: the kept intervals per video of each type (``top_k``: the config's ``nms_top_K_*``)."""
    return ", ".join(f"{count} {EXPRESSION_TYPES[t]}" for t, count in sorted(top_k.items()))
