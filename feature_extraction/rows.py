"""Feature rows from a sequence of cropped face images (METHOD.md 2.3-2.4), image by image.

Row i is the flow from image i to image i+1 with the landmarks of image i+1, as ROI features (12, 2) in
feature units (:mod:`feature_extraction.roi`). :class:`RowBuilder` takes each image with its landmarks (None
when none were found: the nearest good image's landmarks are used, :class:`LandmarkTrack`), or a copy of the
previous image (zero motion, no flow run), and turns flows into rows in batches as soon as their landmarks are
known. The flows and the ROI features may run in a worker thread (OpenCV and numpy release the GIL) while the
caller finds the next image's landmarks; the rows are the same either way.

An image whose crop box differs from the previous image's (``moved``) gets no flow from the previous one: its
row is the zero motion and is listed in :attr:`RowBuilder.breaks`, to be treated as a lost row.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Executor, Future

import numpy as np

from feature_extraction.flow import FLOW_METHODS, make_flow, stored_flow, to_feature_units
from feature_extraction.roi import roi_features
from utils.indexing import FEATURE_ROW_SHAPE

FLOW_CHUNK = 32  # flow frames held before their ROI features are computed in one batch
TASKS_AHEAD = 8  # flows (and batches of rows) handed to the worker before the caller waits (bounds memory)


class LandmarkTrack:
    """Per-image landmarks with failures filled from the nearest good image.

    Before the first good detection, images wait (``pending``); the first good landmarks fill them backwards.
    Afterwards a failure repeats the last good landmarks. Landmarks already used (:meth:`take`) are dropped, so
    a long recording holds only those not yet turned into rows.
    """

    def __init__(self):
        self._filled: deque[np.ndarray] = deque()
        self._first = 0  # image index of _filled[0]
        self.n_filled = 0  # images whose landmarks are known
        self.pending = 0
        self.failures = 0
        self._last_good: np.ndarray | None = None

    @property
    def n_images(self) -> int:
        return self.n_filled + self.pending

    def add(self, landmarks: np.ndarray | None) -> None:
        """The next image's detection result (None: detection failed)."""
        if landmarks is None:
            self.failures += 1
            self._append_last()
            return
        self._append(landmarks, self.pending + 1)
        self.pending = 0
        self._last_good = landmarks

    def repeat(self) -> None:
        """The next image is a copy of the previous one: same landmarks, not a failure."""
        self._append_last()

    def take(self, first: int, count: int) -> np.ndarray:
        """Landmarks ``(count, 68, 2)`` of images ``first .. first+count-1``; earlier ones are dropped."""
        while self._first < first:
            self._filled.popleft()
            self._first += 1
        return np.stack([self._filled[i] for i in range(count)])

    def _append_last(self) -> None:
        if self._last_good is None:
            self.pending += 1
        else:
            self._append(self._last_good, 1)

    def _append(self, landmarks: np.ndarray, times: int) -> None:
        self._filled.extend([landmarks] * times)
        self.n_filled += times


class RowBuilder:
    """Rows of one face's images, given in order (module docstring).

    ``settings`` is a :class:`feature_extraction.video.FlowSettings`; ``worker`` an executor with one thread
    that runs the flows and the ROI features, in the order given (None: here). ``timer`` (optional, used
    without a worker) has ``lap(stage)``.
    """

    def __init__(self, settings, worker: Executor | None = None, timer=None):
        self._settings = settings
        self._flow = make_flow(settings.method, settings.dis_preset, settings.tvl1_params)
        self._worker, self._timer = worker, timer
        self.track = LandmarkTrack()
        self._flows: deque = deque()  # stored flows (or their futures) not turned into rows yet, oldest first
        self._zero: dict[tuple[int, ...], np.ndarray] = {}  # stored zero motion per image shape
        self._rows: list = []  # batches of rows (or their futures), in order
        self._tasks: deque[Future] = deque()  # handed to the worker, oldest first
        self._n_done = 0  # rows made
        self._previous: np.ndarray | None = None
        self._previous_landmarks: np.ndarray | None = None
        self._leading_copies = 0  # copies asked for before the first image
        self.breaks: list[int] = []

    @property
    def n_images(self) -> int:
        return self.track.n_images + self._leading_copies

    def add(self, cropped: np.ndarray, landmarks: np.ndarray | None, moved: bool = False) -> None:
        """The next image (2-D uint8) and its landmarks (None: none found). ``moved``: its crop box is not the
        previous image's, so its row is a break (zero motion) instead of a flow."""
        self.track.add(landmarks)
        if self._previous is not None:
            if moved:
                self.breaks.append(self.track.n_images - 2)
                self._flows.append(self._zero_motion(cropped.shape))
            else:
                self._flows.append(self._start_flow(self._previous, cropped))
        self._previous, self._previous_landmarks = cropped, landmarks
        for _ in range(self._leading_copies):  # copies before the first image are copies of it
            self._copy(replay=False)
        self._leading_copies = 0
        self._flush(final=False)

    def add_copy(self, replay: bool = False) -> None:
        """The previous image again: an unreadable frame shown as the previous one (``replay`` False: its
        landmarks, not a failure; zero motion, no flow run), or the same source frame again (``replay``: the
        previous image's detection result once more, a failure again when it had none; its flow is run only
        for a method whose flow between identical images is not exactly zero, ``FlowMethod.zero_on_identical``)."""
        if self._previous is None:
            self._leading_copies += 1
            return
        if replay and not FLOW_METHODS[self._settings.method].zero_on_identical:
            self.add(self._previous, self._previous_landmarks)
            return
        self._copy(replay)
        self._flush(final=False)

    def finish(self) -> np.ndarray:
        """Every row, ``(n_images - 1, 12, 2)`` float32 (call once, after the last image, when some image had
        landmarks)."""
        self._flush(final=True)
        rows = [batch.result() if isinstance(batch, Future) else batch for batch in self._rows]
        return np.concatenate(rows) if rows else np.zeros((0, *FEATURE_ROW_SHAPE), np.float32)

    def _copy(self, replay: bool) -> None:
        if replay:
            self.track.add(self._previous_landmarks)
        else:
            self.track.repeat()
        self._flows.append(self._zero_motion(self._previous.shape))

    def _zero_motion(self, shape: tuple[int, ...]) -> np.ndarray:
        if shape not in self._zero:
            self._zero[shape] = stored_flow(np.zeros((*shape, 2), np.float32), self._settings.quantise,
                                            self._settings.storage)
        return self._zero[shape]

    def _stored_flow(self, first: np.ndarray, second: np.ndarray, timer=None) -> np.ndarray:
        raw = self._flow(first, second)
        if timer is not None:
            timer.lap("flow")
        stored = stored_flow(raw, self._settings.quantise, self._settings.storage)
        if timer is not None:
            timer.lap("quantise")
        return stored

    def _start_flow(self, first: np.ndarray, second: np.ndarray):
        if self._worker is None:
            return self._stored_flow(first, second, self._timer)
        return self._submit(self._stored_flow, first, second)

    def _submit(self, function, *arguments) -> Future:
        while self._tasks and self._tasks[0].done():
            self._tasks.popleft()
        if len(self._tasks) >= TASKS_AHEAD:
            self._tasks.popleft().result()
        task = self._worker.submit(function, *arguments)
        self._tasks.append(task)
        return task

    def _flush(self, final: bool) -> None:
        # Flow i needs the landmarks of image i+1; leading landmark failures are only resolved by the first good
        # image, so wait for them. The worker runs its tasks in order, so a batch's flows are done before it.
        ready = min(len(self._flows), self.track.n_filled - 1 - self._n_done)
        if ready <= 0 or (ready < FLOW_CHUNK and not final):
            return
        flows = [self._flows.popleft() for _ in range(ready)]
        landmarks = self.track.take(self._n_done + 1, ready)
        self._n_done += ready
        if self._worker is None:
            self._rows.append(roi_rows(flows, landmarks))
            if self._timer is not None:
                self._timer.lap("roi")
        else:
            self._rows.append(self._submit(roi_rows, flows, landmarks))


def roi_rows(flows: list, landmarks: np.ndarray) -> np.ndarray:
    """The rows of stored ``flows`` (arrays or finished futures) with the landmarks ``(len(flows), 68, 2)`` of
    the images they end on: one batch per run of equal image shapes (the crop box changes between runs)."""
    flows = [flow.result() if isinstance(flow, Future) else flow for flow in flows]
    batches, start = [], 0
    while start < len(flows):
        stop = start + 1
        while stop < len(flows) and flows[stop].shape == flows[start].shape:
            stop += 1
        batches.append(roi_features(to_feature_units(np.stack(flows[start:stop])), landmarks[start:stop]))
        start = stop
    return np.concatenate(batches)
