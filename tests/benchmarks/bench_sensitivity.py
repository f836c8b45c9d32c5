"""Flow sensitivity: the share of planted micro- and macro-expressions each flow setting lifts above the quiet level.

Run by hand (prints its table; pytest does not collect it):

    python tests/benchmarks/bench_sensitivity.py [--videos 6] [--frames 300] [--tvl1-videos 2] [--tvl1-frames 200] [--only TEXT]

Footage: the demo's renderer (dataset/mesynth) on its real face photos, with the
demo's nuisance (slow head drift, jitter, roll, flicker, sensor noise, JPEG
quality 90 frames; no nods or blinks, so that every movement is a planted
event). Each video holds planted AU motions at least 15 frames apart, in the
order micro, micro, macro, ...: micro peaks drawn from 0.5-1.5 px, macro from
2-6 px, durations, rise times and AUs from the demo's CAS(ME)^2 statistics.

Measure. For a video's features f (rows, 12 ROIs, 2), the motion of a row in
an ROI is |f - f0| (f0: the features of zero motion). The quiet level of an ROI
is its largest motion over the quiet rows (more than 5 frames from every
event). An event is *lifted* when its peak motion over its rows
(onset .. offset) exceeds the quiet level in at least one of its ROIs (those whose centre the
planted AU moves by at least 30% of its largest ROI displacement). *chance* is the
same test, in the same ROIs, on a random quiet stretch as long as each event, against the quiet
level of the other quiet rows (what a setting lifts without any event: the
floor under the shares). frames/s: the same batch through
``feature_extraction.batch.extract_all`` with ``--jobs 2`` (worker start-up
included); ratio: against DIS FAST timed in the same run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
os.environ.setdefault("TQDM_DISABLE", "1")
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

import numpy as np  # noqa: E402

from dataset.mesynth.au import gaussian_weights, landmark_displacements  # noqa: E402
from dataset.mesynth.face import PHOTO_NAMES, detect_landmarks, load_photo, random_look, render_still  # noqa: E402
from dataset.mesynth.render import BUMP_SIGMA_PER_FACE_WIDTH  # noqa: E402
from dataset.mesynth.plan import (MIN_GAP, PEAK_PX, Movement, VideoPlan, _draw_expressions,  # noqa: E402
                                  place_intervals)
from dataset.mesynth.casme2_stats import MACRO, MICRO, VIDEO_CODES  # noqa: E402
from dataset.mesynth.render import render_video  # noqa: E402
from feature_extraction.adapters import discover_videos  # noqa: E402
from feature_extraction.batch import extract_all  # noqa: E402
from feature_extraction.flow import stored_flow, to_feature_units  # noqa: E402
from feature_extraction.roi import ROI_LANDMARKS  # noqa: E402
from feature_extraction.settings import FlowSettings  # noqa: E402

FRAMES_PER_EVENT = 40  # one planted event per 40 frames: room for quiet rows between them
QUIET_MARGIN = 5       # rows this close to an event are neither event nor quiet
MOVED_SHARE = 0.3      # an event's ROIs: those whose centre moves by >= 30% of its largest ROI displacement
SETTINGS = (  # (label, settings, uses the short TV-L1 footage)
    ("DIS ultrafast", FlowSettings("dis", dis_preset="ultrafast"), False),
    ("DIS fast", FlowSettings("dis", dis_preset="fast"), False),
    ("DIS medium", FlowSettings("dis", dis_preset="medium"), False),
    ("DIS medium + jpeg95", FlowSettings("dis", dis_preset="medium", storage="jpeg95"), False),
    ("Farneback", FlowSettings("farneback"), False),
    ("DIS fast (short footage)", FlowSettings("dis", dis_preset="fast"), True),
    ("DIS medium (short footage)", FlowSettings("dis", dis_preset="medium"), True),
    ("TV-L1 opencv-cpu", FlowSettings("tvl1", tvl1_params="opencv-cpu"), True),
    ("TV-L1 published-gpu", FlowSettings("tvl1", tvl1_params="published-gpu"), True),
    ("TV-L1 published (gpu + jpeg95)", FlowSettings("tvl1", tvl1_params="published-gpu", storage="jpeg95"), True),
)


def planted_plan(seed: int, participant: int, code: str, n_frames: int) -> VideoPlan:
    """A video plan of planted micro and macro events only (micro, micro, macro, ...)."""
    rng = np.random.default_rng([seed, participant, int(code)])
    n_events = max(2, n_frames // FRAMES_PER_EVENT)
    kinds = ["macro" if i % 3 == 2 else "micro" for i in range(n_events)]
    drawn = {kind: _draw_expressions(rng, kind, kinds.count(kind)) for kind in ("micro", "macro")}
    events = [(kind, *drawn[kind].pop()) for kind in kinds]
    onsets = place_intervals(rng, np.array([e[1] for e in events]), n_frames, MIN_GAP, 10)
    movements = [Movement(kind, int(s), int(s + rise), int(s + span), au, peak)
                 for (kind, span, rise, au, peak), s in zip(events, onsets) if s > 0]
    look = random_look(np.random.default_rng([seed, participant]), participant - 1)
    return VideoPlan(seed, participant, code, n_frames, look, tuple(sorted(movements, key=lambda m: m.onset)))


def render(root: Path, n_videos: int, n_frames: int, seed: int) -> tuple[list[VideoPlan], dict[str, list]]:
    """Render the videos; returns their plans and, per video folder, each event's moved ROIs (12,) bool."""
    codes = list(VIDEO_CODES)
    plans = [planted_plan(seed, v + 1, codes[v % len(codes)], n_frames) for v in range(n_videos)]
    landmarks = dict(zip(PHOTO_NAMES, detect_landmarks([load_photo(name) for name in PHOTO_NAMES])))
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(render_video, plans, [landmarks[p.look.photo] for p in plans], [root] * len(plans)))
    moved = {}
    for plan in plans:
        _, still = render_still(plan.look, load_photo(plan.look.photo), landmarks[plan.look.photo])
        sigma = BUMP_SIGMA_PER_FACE_WIDTH * float(np.linalg.norm(still[16] - still[0]))
        rois = []
        for m in plan.movements:
            field = gaussian_weights(still, still, sigma) @ landmark_displacements(m.au, still, m.peak_px, sigma)
            at_roi = np.linalg.norm(field[list(ROI_LANDMARKS)], axis=1)
            rois.append(at_roi >= MOVED_SHARE * at_roi.max())
        moved[plan.relative_dir.split("/")[-1]] = rois
    return plans, moved


def lifted(features: np.ndarray, plan: VideoPlan, moved: list, rng: np.random.Generator) -> dict[str, list[bool]]:
    """Per kind ('micro', 'macro', 'chance'): whether each event (or quiet stretch) is lifted."""
    zero = to_feature_units(stored_flow(np.zeros(2, np.float32)))
    motion = np.abs(features - zero).max(axis=2)  # (rows, 12): the larger component
    rows = np.arange(len(motion)) + 1  # row i holds the flow into 1-based frame i + 1
    near = np.zeros(len(motion), bool)
    for m in plan.movements:
        near |= (rows >= m.onset - QUIET_MARGIN) & (rows <= m.offset + QUIET_MARGIN)
    quiet = motion[~near].max(axis=0)
    out = {"micro": [], "macro": [], "chance": []}
    for m, rois in zip(plan.movements, moved):
        inside = (rows >= m.onset) & (rows <= m.offset)
        out[m.kind].append(bool((motion[inside].max(axis=0) > quiet)[rois].any()))
        # A quiet stretch as long as the event, tested against the quiet level of the other quiet rows.
        span = int(inside.sum())
        starts = [s for s in range(len(motion) - span + 1) if not near[s:s + span].any()]
        if starts:
            s = starts[rng.integers(len(starts))]
            others = ~near
            others[s:s + span] = False
            if others.any():
                level = motion[others].max(axis=0)
                out["chance"].append(bool((motion[s:s + span].max(axis=0) > level)[rois].any()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--tvl1-videos", type=int, default=2)
    parser.add_argument("--tvl1-frames", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated texts: run only the settings whose label "
                                                   "contains one of them")
    args = parser.parse_args()
    chosen = [row for row in SETTINGS if any(text in row[0] for text in args.only.split(","))]
    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        sizes = {False: ("long", args.videos, args.frames, args.seed),
                 True: ("short", args.tvl1_videos, args.tvl1_frames, args.seed + 1)}
        rendered = {short: render(temp / name, n, frames, seed) for short, (name, n, frames, seed) in sizes.items()
                    if any(row[2] == short for row in chosen)}
        footage = {short: plans for short, (plans, _) in rendered.items()}
        roots = {short: temp / sizes[short][0] for short in rendered}
        for short, plans in footage.items():
            n = sum(len(p.movements) for p in plans)
            micro = sum(m.kind == "micro" for p in plans for m in p.movements)
            print(f"{'short' if short else 'long'} footage: {len(plans)} videos x {plans[0].n_frames} frames, "
                  f"{micro} micro + {n - micro} macro planted events")
        print("| setting | micro lifted | macro lifted | chance | frames/s (--jobs 2) | time vs DIS fast |")
        print("|---|---|---|---|---|---|")
        rows, reference = [], {}
        for label, settings, short in chosen:
            videos, _ = discover_videos("cas(me)^2", roots[short])
            by_dir = {p.relative_dir.split("/")[-1]: p for p in footage[short]}
            started = time.perf_counter()
            outcomes = list(extract_all(videos, settings, temp / f"out_{label}".replace(" ", "_"), 2))
            seconds = time.perf_counter() - started
            frames = sum(o.result.n_frames for o in outcomes)
            counts = {"micro": [], "macro": [], "chance": []}
            rng = np.random.default_rng(0)
            for outcome in outcomes:
                plan = by_dir[Path(outcome.video.source_path).name]
                moved = rendered[short][1][Path(outcome.video.source_path).name]
                for kind, values in lifted(outcome.result.features, plan, moved, rng).items():
                    counts[kind] += values
            per_frame = seconds / frames
            if label.startswith("DIS fast"):
                reference[short] = per_frame
            share = {k: f"{np.mean(v):.0%} ({sum(v)}/{len(v)})" if v else "n/a" for k, v in counts.items()}
            rows.append((label, settings.key, share, frames / seconds, per_frame, short))
            print(f"  {label}: {share['micro']} micro, {share['macro']} macro, chance {share['chance']}, "
                  f"{frames / seconds:.1f} frames/s", file=sys.stderr, flush=True)
        for label, key, share, fps, per_frame, short in rows:
            ratio = f"{per_frame / reference[short]:.2f}x" if short in reference else "-"
            print(f"| {label} [{key}] | {share['micro']} | {share['macro']} | {share['chance']} | {fps:.1f} | {ratio} |")
    print(f"peaks: micro {PEAK_PX[MICRO]} px, macro {PEAK_PX[MACRO]} px; quiet level: the largest "
          f"motion per ROI over rows more than {QUIET_MARGIN} frames from any event")


if __name__ == "__main__":
    main()
