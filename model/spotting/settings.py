"""What spotting reads from the config (:class:`SpotSettings`), built once per command, declared as the model
stages declare theirs (model/settings.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from model.settings import EvaluationSettings

DEFAULT_FPS = 30.0  # a section without ``fps``: CAS(ME)^2's rate, the published model's


@dataclass(frozen=True)
class SpotSettings:
    """``evaluation``: the evaluation's proposals, NMS quota and matching rule (the review's ground truth);
    ``fps``: the rate the model's features are made at (new recordings are resampled to it); ``features`` and
    ``annotations``: where the NMS cap's stretch is read (caps.py); ``device``: as the config names it."""

    evaluation: EvaluationSettings
    fps: float
    features: Path
    annotations: Path
    device: str

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = (*EvaluationSettings.CONFIG_KEYS, "fps")
    # They reach a spot task's key as the stretch's length and the device as resolved.
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("segment_feat_root", "anno_csv", "device")

    @classmethod
    def from_config(cls, config) -> "SpotSettings":
        return cls(EvaluationSettings.from_config(config), float(config.get("fps", DEFAULT_FPS)),
                   Path(config["segment_feat_root"]), Path(config["anno_csv"]), config["device"])
