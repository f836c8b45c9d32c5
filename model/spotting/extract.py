"""One input's features and preview from one decoding of it, with progress bars.

The decoder hands every source frame to the preview writer (feature_extraction/preview.py, its own encoder
thread) while the extraction reads the resampled frames (feature_extraction/recording.py), so the preview costs
no second decoding and runs beside the extraction. The preview is written under a hidden name in ``--out``;
the review step moves it into the input's folder with the other outputs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from feature_extraction.preview import PREVIEW_HEIGHT, BrowserVideoWriter
from feature_extraction.recording import (Recording, RecordingFeatures, expected_frames, extract_recording,
                                          open_recording)
from feature_extraction.settings import FlowSettings
from model.spotting.progress import stage_bar
from utils.errors import UserError


@dataclass(frozen=True)
class Preview:
    """The finished preview of one input (``path``, hidden in ``--out``), or why there is none (``problem``)."""

    path: Path | None
    problem: str | None = None


def preview_path(out: Path, folder: Path) -> Path:
    """Where an input's preview is written before it joins the input's outputs: hidden beside its folder."""
    return Path(out) / f".{folder.name}.preview.webm"


class _PreviewFeed:
    """The decoder's ``on_source``: frames to the preview writer until the encoder fails (then none more: a
    preview the encoder refuses is no failure of the input)."""

    def __init__(self, writer: BrowserVideoWriter):
        self.writer = writer
        self.problem: str | None = None

    def __call__(self, image) -> None:
        if self.problem is None:
            try:
                self.writer.add(image)
            except UserError as error:
                self.problem = str(error)

    def finish(self) -> Preview:
        if self.problem is None:
            try:
                return Preview(self.writer.close())
            except UserError as error:
                self.problem = str(error)
        self.writer.abort()
        return Preview(None, self.problem)


@dataclass(frozen=True)
class ExtractRequest:
    """One input's extraction: the opened ``recording``, resampled to ``target_fps`` (frames per second),
    extracted with ``settings`` for face ``face`` (feature_extraction.tracking), its preview written to
    ``preview`` (None: no preview)."""

    recording: Recording
    target_fps: float
    settings: FlowSettings
    face: str | int
    preview: Path | None

    @classmethod
    def of(cls, path: Path, folder: Path, out: Path, fps: float | None, target_fps: float, settings: FlowSettings,
           face: str | int, report: bool) -> "ExtractRequest":
        """The request of input ``path`` (a full path) whose outputs go to ``folder`` under ``out``: ``fps`` is
        ``--fps`` (None: the input's own), ``report`` whether a preview is written."""
        return cls(open_recording(path, fps, target_fps), target_fps, settings, face,
                   preview_path(out, folder) if report else None)


def extract_input(request: ExtractRequest, landmarker) -> tuple[RecordingFeatures, Preview | None]:
    """The recording's features (feature_extraction.recording.extract_recording) and, when the request has a
    preview path, its preview written there, with a bar for each (:class:`Preview` says why there is none when
    the encoder refused)."""
    recording, target_fps, settings, face, preview = (request.recording, request.target_fps, request.settings,
                                                      request.face, request.preview)
    total = expected_frames(recording, target_fps)
    with stage_bar(f"{recording.name}: features", total) as features_bar:
        if preview is None:
            return extract_recording(recording, target_fps, settings, landmarker, face,
                                     on_frame=features_bar.update), None
        with stage_bar(f"{recording.name}: preview", recording.n_frames or recording.header_frames or None,
                       position=1) as preview_bar:
            feed = _PreviewFeed(BrowserVideoWriter(preview, recording.source_fps, PREVIEW_HEIGHT,
                                                   on_frame=preview_bar.update))
            try:
                found = extract_recording(recording, target_fps, settings, landmarker, face, on_source=feed,
                                          on_frame=features_bar.update)
            except BaseException:
                feed.writer.abort()
                raise
            return found, feed.finish()


class InputExtractor:
    """:func:`extract_input` for a command's inputs: the first in the helper process when spot.py started one
    (model/spotting/helper.py), the others in this process, with ``landmarker`` (a stand-in, in tests) or else
    dlib's, loaded when first needed."""

    def __init__(self, landmarker=None, helper=None):
        self._landmarker, self._helper = landmarker, helper

    def __call__(self, request: ExtractRequest,
                 while_waiting: Callable[[], None] | None = None) -> tuple[RecordingFeatures, Preview | None]:
        """:func:`extract_input` of ``request``: in the helper when it takes it, else here with this extractor's
        landmarker; ``while_waiting`` is run in this process while the helper extracts (not at all without a
        helper)."""
        helper, self._helper = self._helper, None
        if helper is not None:
            answer = helper.extract(request, while_waiting)
            if answer is not None:
                return answer
        if self._landmarker is None:
            from feature_extraction.face import FaceLandmarker

            self._landmarker = FaceLandmarker()
        return extract_input(request, self._landmarker)

    def close(self) -> None:
        """End a helper that was not needed (every input spotted before, or run by other processes)."""
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.close()
