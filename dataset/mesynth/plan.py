"""What happens in each synthetic video: labelled expressions and unlabelled nods and blinks.

Frames are 1-based here, as in the CAS(ME)^2 annotation sheet. A movement with onset s,
apex a and offset e holds the face still at s, reaches full strength at a and is back at
rest at e (``movement_profile``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataset.mesynth.casme2_stats import (AU_COMBINATION_COUNTS, DURATION_DECILES, MACRO, MICRO, RISE_FRACTION_DECILES,
                                          SUBJECT_FOLDER_NUMBERS, VIDEO_CODES)
from dataset.mesynth.face import SubjectLook, random_look

# Expression density of the demo: about 6 per 720 frames (the paper's table has about 2 per
# 1000 frames), so a short demo video holds a few macro- and about one micro-expression.
EXPRESSIONS_PER_FRAME = 6 / 720
# Share of micro-expressions among the demo's expressions: a third, twice CAS(ME)^2's 57 / 357,
# so that the 12 demo videos hold about 25 micro-expressions instead of about 16: every fold
# trains on more of them and the pooled micro figure does not hang on one or two events that
# move with float order (with the paper's share it read 4 of 16 on one CPU, 0 of 16 on another).
DEMO_MICRO_SHARE = 1 / 3
NODS_PER_FRAME = 2 / 720
FRAMES_PER_BLINK = 100           # people blink every few seconds
PEAK_PX = {MACRO: (2.0, 6.0), MICRO: (0.5, 1.5)}  # peak displacement range
NOD_SPAN = (10, 20)              # offset - onset, frames
NOD_PEAK_PX = (2.0, 5.0)         # vertical head shift at the nod's apex
BLINK_SPAN = (3, 5)
BLINK_PEAK_PX = (4.0, 6.0)       # upper-lid travel, px
MIN_GAP = 15                     # frames between the end of one movement and the next onset
EDGE_MARGIN = 10                 # frames kept free at both ends of a video

# Random streams, so that each quantity depends only on the seed and its own key.
STREAM_LOOK, STREAM_VIDEOS, STREAM_SCHEDULE, STREAM_NUISANCE = 1, 2, 3, 4

LABELLED_KINDS = {"macro": MACRO, "micro": MICRO}


@dataclass(frozen=True)
class Movement:
    """One face movement. kind: 'macro' | 'micro' (labelled), 'nod' | 'blink' (not labelled).
    Frames 1-based; au is the AU string ('' for a nod); peak_px its largest displacement."""
    kind: str
    onset: int
    apex: int
    offset: int
    au: str
    peak_px: float


@dataclass(frozen=True)
class VideoPlan:
    """Everything that decides one video's frames, given the dataset seed."""
    seed: int
    participant: int       # 1-based participant number of the annotation sheet
    code: str              # video code, e.g. '0101'
    n_frames: int
    look: SubjectLook
    movements: tuple[Movement, ...]  # sorted by onset

    @property
    def folder_number(self) -> int:
        return SUBJECT_FOLDER_NUMBERS[self.participant - 1]

    @property
    def relative_dir(self) -> str:
        """Frame folder relative to the dataset root: rawpic/s<SS>/<SS>_<CCCC><name>."""
        ss = f"{self.folder_number:02d}"
        return f"rawpic/s{ss}/{ss}_{self.code}{VIDEO_CODES[self.code][0]}"

    @property
    def expressions(self) -> tuple[Movement, ...]:
        return tuple(m for m in self.movements if m.kind in LABELLED_KINDS)


def movement_profile(movement: Movement, n_frames: int) -> np.ndarray:
    """Strength (n_frames,) in [0, 1] of a movement at 1-based frames 1..n_frames.

    Raised cosine from 0 at the onset to 1 at the apex, back to 0 at the offset, 0 outside.
    """
    frames = np.arange(1, n_frames + 1, dtype=np.float64)
    rise = np.clip((frames - movement.onset) / (movement.apex - movement.onset), 0, 1)
    fall = np.clip((movement.offset - frames) / (movement.offset - movement.apex), 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))


def place_intervals(rng: np.random.Generator, spans: np.ndarray, n_frames: int, gap: int,
                    margin: int) -> np.ndarray:
    """Random non-overlapping onsets for intervals of the given spans (offset - onset).

    Intervals occupy 1-based frames onset..onset+span inside margin+1 .. n_frames-margin,
    in random order, at least ``gap`` frames apart. The longest intervals are dropped (onset
    -1) while the rest do not fit. Returns onsets (n,) int64.
    """
    spans = np.asarray(spans, dtype=np.int64)
    order = rng.permutation(len(spans))
    room = n_frames - 2 * margin
    keep = np.ones(len(spans), dtype=bool)
    while keep.any() and (spans[keep] + 1).sum() + gap * (keep.sum() - 1) > room:
        keep[np.argmax(np.where(keep, spans, -1))] = False
    order = order[keep[order]]
    onsets = np.full(len(spans), -1, dtype=np.int64)
    if len(order) == 0:
        return onsets
    slack = room - (spans[order] + 1).sum() - gap * (len(order) - 1)
    cuts = np.sort(rng.integers(0, slack + 1, len(order)))
    before = np.concatenate([[0], np.cumsum(spans[order] + 1 + gap)[:-1]])
    onsets[order] = margin + 1 + cuts + before
    return onsets


def _from_deciles(u: np.ndarray, deciles: tuple[float, ...]) -> np.ndarray:
    """Inverse of the piecewise-linear CDF through the deciles, at probabilities u."""
    return np.interp(u, np.linspace(0, 1, len(deciles)), deciles)


def _draw_expressions(rng: np.random.Generator, kind: str, count: int) -> list[tuple[int, int, str, float]]:
    """(span, apex - onset, AU string, peak px) of ``count`` expressions of one kind, drawn
    from the paper table's duration, rise and AU statistics."""
    type_idx = LABELLED_KINDS[kind]
    spans = np.round(_from_deciles(rng.random(count), DURATION_DECILES[type_idx])).astype(int)
    rises = np.clip(np.round(spans * _from_deciles(rng.random(count), RISE_FRACTION_DECILES[type_idx])),
                    1, spans - 1).astype(int)
    combos = list(AU_COMBINATION_COUNTS[type_idx])
    weights = np.array(list(AU_COMBINATION_COUNTS[type_idx].values()), dtype=np.float64)
    aus = rng.choice(len(combos), size=count, p=weights / weights.sum())
    peaks = rng.uniform(*PEAK_PX[type_idx], count)
    return [(int(s), int(r), combos[a], float(p)) for s, r, a, p in zip(spans, rises, aus, peaks)]


def plan_movements(rng: np.random.Generator, n_frames: int) -> tuple[Movement, ...]:
    """Expressions and nods (never overlapping, MIN_GAP apart) plus blinks (anywhere, not
    overlapping one another) for a video of n_frames frames, sorted by onset."""
    n_total = max(2, int(rng.poisson(EXPRESSIONS_PER_FRAME * n_frames)))
    n_micro = max(1, int(rng.binomial(n_total, DEMO_MICRO_SHARE)))
    counts = {"macro": max(1, n_total - n_micro), "micro": n_micro}
    drawn = [(kind, *e) for kind in ("macro", "micro") for e in _draw_expressions(rng, kind, counts[kind])]
    n_nods = int(rng.poisson(NODS_PER_FRAME * n_frames))
    nod_spans = rng.integers(NOD_SPAN[0], NOD_SPAN[1] + 1, n_nods)
    drawn += [("nod", int(s), int(s) // 2, "", float(p)) for s, p in zip(nod_spans, rng.uniform(*NOD_PEAK_PX, n_nods))]
    n_blinks = int(rng.poisson(n_frames / FRAMES_PER_BLINK))
    blink_spans = rng.integers(BLINK_SPAN[0], BLINK_SPAN[1] + 1, n_blinks)
    blinks = [("blink", int(s), int(s) // 2, "45", float(p))
              for s, p in zip(blink_spans, rng.uniform(*BLINK_PEAK_PX, n_blinks))]

    movements = []
    for group in (drawn, blinks):
        onsets = place_intervals(rng, np.array([g[1] for g in group], dtype=np.int64), n_frames, MIN_GAP, EDGE_MARGIN)
        movements += [Movement(kind, int(s), int(s + rise), int(s + span), au, peak)
                      for (kind, span, rise, au, peak), s in zip(group, onsets) if s > 0]
    return tuple(sorted(movements, key=lambda m: (m.onset, m.kind)))


def plan_dataset(seed: int, n_subjects: int, videos_per_subject: int, n_frames: int) -> list[VideoPlan]:
    """Plans of all videos, participant by participant, videos in code order.

    Each participant gets ``videos_per_subject`` distinct codes of the real list; the look,
    codes and schedule depend only on (seed, participant, code), not on the other sizes.
    """
    plans = []
    codes = list(VIDEO_CODES)
    for participant in range(1, n_subjects + 1):
        look = random_look(np.random.default_rng([seed, STREAM_LOOK, participant]), participant - 1)
        chosen = np.random.default_rng([seed, STREAM_VIDEOS, participant]).permutation(len(codes))[:videos_per_subject]
        for code in sorted(codes[i] for i in chosen):
            rng = np.random.default_rng([seed, STREAM_SCHEDULE, participant, int(code)])
            plans.append(VideoPlan(seed, participant, code, n_frames, look, plan_movements(rng, n_frames)))
    return plans
