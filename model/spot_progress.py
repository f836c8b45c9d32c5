"""What a long input shows while it is spotted: a bar per stage (features, preview, scoring) with its rate and
the time left, on stderr, and one closing line per input with the time it took."""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

# A bar redraws at most this often: on a terminal twice a second, in a log file (not a terminal) once a minute.
TERMINAL_REDRAW_S, LOG_REDRAW_S = 0.5, 60.0


def stage_bar(description: str, total: int | None, unit: str = "frame", position: int = 0) -> tqdm:
    """A bar for one stage of one input (total None: unknown, counted up without time left)."""
    redraw = TERMINAL_REDRAW_S if sys.stderr.isatty() else LOG_REDRAW_S
    return tqdm(total=total, desc=description, unit=unit, position=position, leave=False, mininterval=redraw,
                maxinterval=redraw,
                dynamic_ncols=True, file=sys.stderr)


def duration_text(seconds: float) -> str:
    """``42.0 s``, ``3:07`` (minutes:seconds) or ``1:02:03`` (hours:minutes:seconds)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timing_line(path: Path, recording_seconds: float, elapsed: float) -> str:
    """The closing line of one input: how long the recording is, how long spotting it took, the speed."""
    return (f"{path}: {duration_text(recording_seconds)} of recording spotted in {duration_text(elapsed)} "
            f"({recording_seconds / max(elapsed, 1e-9):.1f}x real time)")
