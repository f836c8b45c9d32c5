"""Every choice that changes a video's features (:class:`FlowSettings`), and the named presets of the extraction
CLI's ``--flow-preset`` (:data:`FLOW_PRESETS`): one definition, read by the extraction and by spotting."""
from __future__ import annotations

from dataclasses import dataclass

from feature_extraction.face import DETECT_MODES
from feature_extraction.flow import (DEFAULT_DIS_PRESET, DEFAULT_FLOW, DEFAULT_TVL1_PARAMS, DIS_PRESETS, FLOW_METHODS,
                                    FLOW_STORAGES, TVL1_PARAMS)


@dataclass(frozen=True)
class FlowSettings:
    """Every choice that changes a video's features (flat, JSON-serialisable fields).

    ``method``: the flow (an entry of :data:`FLOW_METHODS`); ``dis_preset``: DIS preset
    (:data:`~feature_extraction.flow.DIS_PRESETS`, used by DIS only);
    ``tvl1_params``: TV-L1 parameter set (:data:`~feature_extraction.flow.TVL1_PARAMS`,
    used by TV-L1 only); ``quantise``: the published 8-bit codes; ``storage``:
    ``codes`` or ``jpeg95`` (the codes through JPEG quality 95, as published;
    needs ``quantise``); ``face_detect``: ``full``, ``fast``, or ``auto``,
    which is replaced by the flow's own mode (``FlowMethod.auto_face_detect``).
    """

    method: str = DEFAULT_FLOW
    quantise: bool = True
    face_detect: str = "auto"
    dis_preset: str = DEFAULT_DIS_PRESET
    tvl1_params: str = DEFAULT_TVL1_PARAMS
    storage: str = "codes"

    def __post_init__(self):
        flow = FLOW_METHODS[self.method]  # an unknown name: one line
        if self.face_detect == "auto":
            object.__setattr__(self, "face_detect", flow.auto_face_detect)  # frozen dataclass
        if self.face_detect not in DETECT_MODES:
            raise ValueError(f"unknown face-detection mode {self.face_detect!r}; "
                             f"choose one of auto, {', '.join(DETECT_MODES)}")
        for value, allowed, what in ((self.dis_preset, DIS_PRESETS, "DIS preset"),
                                     (self.tvl1_params, TVL1_PARAMS, "TV-L1 parameter set"),
                                     (self.storage, FLOW_STORAGES, "flow storage")):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        if self.storage != "codes" and not self.quantise:
            raise ValueError(f"flow storage {self.storage!r} stores 8-bit codes; it cannot go with no quantisation")

    @property
    def key(self) -> str:
        """Cache key: ``tvl1-q8-full-opencv-cpu``, ``dis-float-fast-medium``,
        ``tvl1-q8-full-published-gpu-jpeg95``, ...; it names only the options that
        apply to the method (the DIS preset does not change TV-L1 features)."""
        option = FLOW_METHODS[self.method].option_field
        variant = getattr(self, option) if option else None
        storage = None if self.storage == "codes" else self.storage
        parts = (self.method, "q8" if self.quantise else "float", self.face_detect, variant, storage)
        return "-".join(part for part in parts if part)


# Named extraction presets, as the flags of ``python -m feature_extraction --flow-preset`` they stand for
# (explicit flags win there). ``published``: as the published features were made (dense_flow's TV-L1 on the
# GPU, its 8-bit codes through JPEG, full face detection); spotting with a run that records no extraction
# (the published checkpoint archive) uses it too.
FLOW_PRESETS = {"published": {"flow": "tvl1", "tvl1_params": "published-gpu", "flow_storage": "jpeg95",
                              "face_detect": "full"}}
_PRESET_FLAGS = {"flow": "method", "flow_storage": "storage"}  # flag name -> FlowSettings field, where they differ


def preset_settings(name: str) -> FlowSettings:
    """The FlowSettings of :data:`FLOW_PRESETS` ``name`` (the other fields at their defaults)."""
    return FlowSettings(**{_PRESET_FLAGS.get(flag, flag): value for flag, value in FLOW_PRESETS[name].items()})
