"""Each model stage's settings: what it reads from the config, built once (``from_config``) and declared
(``CONFIG_KEYS``, the keys as config.yaml names them), so that the task graph (pipeline/tasks.py) keys a task on
exactly what its stage reads. No torch here: the graph reads the declarations without loading the model.

``INDIRECT_KEYS``: the keys a stage also reads whose effect reaches its task's key through what they point at or
decide (the content of the files read, the subjects, the LOSO's epoch), not as their values.

Other stages keep theirs beside them: the data stages and where a section's data lives (dataset/settings.py),
selection (utils/selection.py), the flow (FlowSettings, feature_extraction/settings.py), the adjacency
(model/adjacency.py), spotting (model/spotting/settings.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dataset.settings import DataSettings
from utils.annotations import MACRO, MICRO
from utils.inner_split import fold_inner_groups, inner_training_subjects
from utils.nms import NMS_CONFIG_KEYS, nms_top_k
from utils.proposals import PROPOSAL_CONFIG_KEYS, ProposalParams, proposal_params


@dataclass(frozen=True)
class LossConfig:
    """The focal losses' parameters and the macro weight (METHOD.md section 5; model/losses.py)."""

    apex_alpha: float = 0.90
    apex_gamma: float = 1.0
    action_alpha: float = 0.80
    action_gamma: float = 1.0
    start_end_alpha: float = 0.90
    start_end_gamma: float = 1.0
    label_smooth: float = 0.16
    macro_ratio: float = 0.5

    # The config key of each field, in field order (the published names, typos included).
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = (
        "abfcm_apex_alpha", "abfcm_apex_gamma", "abfcm_action_alpha", "abfcm_action_gamma", "abfcm_start_end_alpha",
        "abfcm_start_end_gama", "abfcm_label_smooth", "macro_ration")

    @classmethod
    def from_config(cls, config) -> "LossConfig":
        return cls(*(config[key] for key in cls.CONFIG_KEYS))


@dataclass(frozen=True)
class TrainingSettings:
    """What training a model reads from the config, as the task graph keys it (:data:`CONFIG_KEYS`).

    ``normal_range``: per type, how far the published target smoothing reaches (frames);
    ``lr_decay``: the ExponentialLR gamma per epoch.
    """

    epochs: int
    batch_size: int
    seed: int
    learning_rate: float
    weight_decay: float
    lr_decay: float
    loss: LossConfig
    normal_range: dict[int, int]
    corrected_targets: bool

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = (
        "epochs", "batch_size", "seed", "abfcm_training_lr", "abfcm_weight_decay", "abfcm_lr_scheduler",
        *LossConfig.CONFIG_KEYS, "micro_normal_range", "macro_normal_range", "corrected_targets")

    @classmethod
    def from_config(cls, config) -> "TrainingSettings":
        return cls(config["epochs"], config["batch_size"], config["seed"], config["abfcm_training_lr"],
                   config["abfcm_weight_decay"], config["abfcm_lr_scheduler"], LossConfig.from_config(config),
                   {MICRO: config["micro_normal_range"], MACRO: config["macro_normal_range"]},
                   config["corrected_targets"])


@dataclass(frozen=True)
class EvaluationSettings:
    """What evaluating a model reads from the config, as the task graph keys it (:data:`CONFIG_KEYS`):
    ``proposals`` and ``top_k`` (the NMS quota) per type, the ``matching`` rule's name, the first epoch evaluated
    (``epoch_begin``) and ``ratio_scale`` (annotation frames per feature row, RATIO_SCALE)."""

    ratio_scale: int
    epoch_begin: int
    proposals: dict[int, ProposalParams]
    top_k: dict[int, int]
    matching: str

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ("RATIO_SCALE", "epoch_begin", *PROPOSAL_CONFIG_KEYS, *NMS_CONFIG_KEYS,
                                              "matching")

    @classmethod
    def from_config(cls, config) -> "EvaluationSettings":
        return cls(config["RATIO_SCALE"], config["epoch_begin"], proposal_params(config), nms_top_k(config),
                   config["matching"])


@dataclass(frozen=True)
class InnerModelSettings:
    """What an inner model of selection inner-cv reads (model/inner_cv.py): it trains as a fold's model
    (``training``) on ``data``'s training subjects outside its group of ``inner_folds``, and is evaluated as a
    fold (``evaluation``) on its group."""

    training: TrainingSettings
    evaluation: EvaluationSettings
    data: DataSettings
    inner_folds: int

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = TrainingSettings.CONFIG_KEYS + EvaluationSettings.CONFIG_KEYS
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = (*DataSettings.INDIRECT_KEYS, "inner_folds")

    @classmethod
    def from_config(cls, config) -> "InnerModelSettings":
        return cls(TrainingSettings.from_config(config), EvaluationSettings.from_config(config),
                   DataSettings.from_config(config), config["inner_folds"])

    @property
    def epochs(self) -> list[int]:
        """The epochs evaluated, whose summed counts choose the fold's epoch."""
        return list(range(self.evaluation.epoch_begin, self.training.epochs))

    def groups(self, subject: str) -> list[list[str]]:
        """The inner groups of the fold holding out ``subject`` (utils/inner_split.py)."""
        return fold_inner_groups(self.data.subjects, self.inner_folds, subject)

    def training_subjects(self, subject: str, group: list[str]) -> list[str]:
        """What the inner model of ``group`` in the fold holding out ``subject`` trains on."""
        return inner_training_subjects(self.data.subjects, subject, group)


@dataclass(frozen=True)
class FinalModelSettings:
    """What the final model reads (model/final_model.py): the LOSO's epoch is the best of the folds' summed counts
    from ``epoch_begin`` to ``training.epochs`` under ``matching``; the model trains as a fold's (``training``, for
    that epoch + 1 epochs instead of ``epochs``) on every subject of ``data``."""

    training: TrainingSettings
    data: DataSettings
    epoch_begin: int
    matching: str

    # epochs is replaced by the LOSO's epoch + 1: with epoch_begin and matching it reaches the key through that
    # epoch (the final task's "epoch").
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = tuple(key for key in TrainingSettings.CONFIG_KEYS if key != "epochs")
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("epochs", "epoch_begin", "matching", *DataSettings.INDIRECT_KEYS)

    @classmethod
    def from_config(cls, config) -> "FinalModelSettings":
        return cls(TrainingSettings.from_config(config), DataSettings.from_config(config), config["epoch_begin"],
                   config["matching"])

    @property
    def epochs(self) -> list[int]:
        """The epochs of the folds' tables summed."""
        return list(range(self.epoch_begin, self.training.epochs))


@dataclass(frozen=True)
class PoolingSettings:
    """What pooling the folds reads (pipeline/final_results.py, utils/plots.py): ``ratio_scale`` (annotation
    frames per feature row, RATIO_SCALE) and the annotation table (anno_csv)."""

    ratio_scale: int
    annotations: Path

    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ("RATIO_SCALE",)
    INDIRECT_KEYS: ClassVar[tuple[str, ...]] = ("anno_csv",)

    @classmethod
    def from_config(cls, config) -> "PoolingSettings":
        return cls(config["RATIO_SCALE"], Path(config["anno_csv"]))
