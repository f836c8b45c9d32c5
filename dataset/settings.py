"""The data stages' settings: what each reads from the config, built once (``from_config``) and declared, as
model/settings.py does for the model stages.

``CONFIG_KEYS``: the keys whose values a stage's task key holds as they are (the task graph, pipeline/tasks.py,
keys each task kind on them); ``INDIRECT_KEYS``: the keys it also reads whose effect reaches the key through what
they point at (paths: the content read there). Nothing heavy is imported here: the task graph reads the
declarations without loading a stage.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from utils.registry import RAW_LAYOUTS


def optional_path(value: str | None) -> Path | None:
    """A path-valued config key that may be absent (None or empty: no path)."""
    return Path(value) if value else None


@dataclass(frozen=True)
class DataSettings:
    """Where a section's data lives and whose it is: ``features`` (segment_feat_root, the windows' archive),
    ``annotations`` (anno_csv) and ``subjects`` (subject_list, the LOSO folds)."""

    features: Path
    annotations: Path
    subjects: tuple[str, ...]

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ()
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("segment_feat_root", "anno_csv", "subject_list")

    @classmethod
    def from_config(cls, config) -> "DataSettings":
        return cls(Path(config["segment_feat_root"]), Path(config["anno_csv"]), tuple(config["subject_list"]))


@dataclass(frozen=True)
class RenderSettings:
    """The demo generator's parameters (dataset/mesynth/generate.py) and where it writes (``raw_root``)."""

    raw_root: Path
    seed: int
    subjects: int
    videos_per_subject: int
    frames_per_video: int

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ("synth_seed", "synth_subjects", "synth_videos_per_subject",
                                              "synth_frames_per_video")
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("raw_root",)

    @classmethod
    def from_config(cls, config) -> "RenderSettings | None":
        """None for a section that renders nothing (no ``synth_seed`` or no ``raw_root``)."""
        raw_root, seed = config.get("raw_root"), config.get("synth_seed")
        if not raw_root or seed is None:
            return None
        return cls(Path(raw_root), seed, config["synth_subjects"], config["synth_videos_per_subject"],
                   config["synth_frames_per_video"])

    def parameters(self) -> dict:
        """The parameters as the generator records them in its marker."""
        return {"seed": self.seed, "subjects": self.subjects, "videos_per_subject": self.videos_per_subject,
                "frames_per_video": self.frames_per_video}


@dataclass(frozen=True)
class ExtractionSettings:
    """A section's feature extraction: ``layout`` (the adapter reading ``raw_root``: the ``raw_layout`` key, else
    the section name if it names one, else generic), ``flow`` (the ``extraction_flow`` key, None: the default
    flow), the archive written (``features``) and the annotation sheet merged (``sheet``, raw_anno)."""

    layout: str
    flow: str | None
    raw_root: Path
    features: Path
    sheet: Path | None

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ("raw_layout", "extraction_flow")
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("raw_root", "segment_feat_root", "raw_anno")

    @classmethod
    def from_config(cls, config) -> "ExtractionSettings | None":
        """None for a section that extracts nothing (no ``raw_root``)."""
        raw_root = config.get("raw_root")
        if not raw_root:
            return None
        layout = config.get("raw_layout") or (config.name if config.name in RAW_LAYOUTS else "generic")
        return cls(layout, config.get("extraction_flow"), Path(raw_root), Path(config["segment_feat_root"]),
                   optional_path(config.get("raw_anno")))
