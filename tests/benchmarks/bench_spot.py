"""Benchmark: `python spot.py` on a looped demo clip (default 60 s, 640 x 360, 25 fps) against its feature
extraction alone and against real time, all timed in the same run.

python tests/benchmarks/bench_spot.py [--run data/runs/mesynth] [--dataset mesynth] [--seconds 60]
                                      [--size 640x360] [--fps 25] [--no-serial] [--keep DIR] [--clip FILE]
                                      [--repeat N]

Needs a demo run (`bash pipeline.sh`). The clip loops the demo's first rendered video (a real face photo) back and
forth to the length asked for, as H.264 (PyAV's libx264, as cameras write), scaled and cut to ``--size``.
Timed, one after the other:

* serial: the extraction as spot did it before it decoded once: the frames counted, then every resampled frame
  through feature_extraction.video.extract_video in one thread (``--no-serial`` skips it on long clips);
* extraction alone: feature_extraction.recording.extract_recording as spot runs it (one decoding, the flow in a
  worker thread, resampling repeats spared), in-process, without preview;
* spot: the whole command as its own process (start-up, model loading, extraction with the preview beside it,
  in the helper process it forks (model/spotting/helper.py), scoring, proposals, every output and the review
  page), with the peak memory of both processes together.

Prints the ratios (targets: spot at least 3x faster than real time and at most 1.3x its extraction alone) and
whether the extraction gave the serial reference's features exactly. Timings on a shared machine are noisy, and
a cloud machine's speed drifts by 10-20 % over minutes: ``--repeat N`` times the extraction alone and spot N
times, alternating, and prints each pair's ratio and their median.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from feature_extraction.decode import resample_indices  # noqa: E402
from feature_extraction.face import FaceLandmarker  # noqa: E402
from feature_extraction.recording import extract_recording, iter_source, open_recording  # noqa: E402
from feature_extraction.video import extract_video  # noqa: E402
from model.spotting.models import run_folds  # noqa: E402
from model.spotting.run_facts import run_settings  # noqa: E402
from utils.config import load_config  # noqa: E402


def cpu_name() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = re.search(r"model name\s*:\s*(.*)", text)
    return f"{model.group(1) if model else 'unknown CPU'}, {os.cpu_count()} cores, " \
           f"{'AVX-512' if ' avx512f' in text else 'no AVX-512'}"


def demo_frames(config) -> list[Path]:
    frames = sorted((Path(config["raw_root"]) / "rawpic").rglob("img*.jpg"),
                    key=lambda p: (p.parent.name, int(p.stem[3:])))
    if not frames:
        raise SystemExit(f"benchmark: no demo frames under {config['raw_root']}: run `bash pipeline.sh` first")
    return [p for p in frames if p.parent == frames[0].parent]


def write_clip(path: Path, sources: list[Path], seconds: float, fps: int, size: tuple[int, int]) -> int:
    """A clip looping ``sources`` back and forth, scaled to the width and cut to the height of ``size``."""
    width, height = size
    images = []
    for source in sources:
        image = cv2.imread(str(source))
        scaled = cv2.resize(image, (width, int(round(image.shape[0] * width / image.shape[1]))),
                            interpolation=cv2.INTER_AREA)
        top = max((scaled.shape[0] - height) // 2, 0)
        images.append(cv2.copyMakeBorder(scaled[top:top + height], 0, max(height - scaled.shape[0], 0), 0, 0,
                                         cv2.BORDER_REPLICATE))
    n_frames = int(seconds * fps)
    period = 2 * len(images) - 2
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast"}
        for index in range(n_frames):
            step = index % period
            image = images[step if step < len(images) else period - step]
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return n_frames


def tree_resident_kib(root: int) -> int:
    """Resident KiB of process ``root`` and its descendants together (spot's extraction helper included), found
    through each process's ``/proc/<pid>/task/*/children`` rather than a scan of every process."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            total += int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                pending.extend(int(child) for child in children.read_text().split())
        except (OSError, AttributeError):  # the process ended meanwhile
            pass
    return total


def run_measured(command: list[str]) -> tuple[subprocess.CompletedProcess, float, float, float]:
    """``(result, wall seconds, CPU seconds, peak resident MiB)`` of a command; the peak is the largest resident
    size of the process and its children together, read every 0.1 s (a child's rusage counts the parent's
    pages it forked from)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_kib = 0
    while process.poll() is None:
        peak_kib = max(peak_kib, tree_resident_kib(process.pid))
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), wall, cpu, peak_kib / 1024


def input_seconds(stdout: str) -> float:
    """The time spot's closing line gives for the input itself (``spotted in 42.0 s``, ``3:07`` or ``1:02:03``)."""
    found = re.search(r"of recording spotted in ([\d:.]+)( s)?", stdout)
    if found is None:
        raise SystemExit("benchmark: spot.py printed no closing line for the clip")
    seconds = 0.0
    for part in found.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serial_extraction(clip: Path, target_fps: float, settings) -> np.ndarray:
    """The extraction as spot ran it before: count the frames, then every resampled frame, one thread."""
    recording = open_recording(clip, None, target_fps)
    capture = cv2.VideoCapture(str(clip))
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    indices = resample_indices(count, recording.source_fps, target_fps)
    wanted = np.bincount(indices, minlength=count)

    def frames():
        for index, (label, image) in enumerate(iter_source(recording)):
            for _ in range(wanted[index]):
                yield label, image

    return extract_video(frames, settings, FaceLandmarker()).features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=REPO_ROOT / "data" / "runs" / "mesynth")
    parser.add_argument("--dataset", default="mesynth")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the clip")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--no-serial", action="store_true", help="skip the serial reference (long clips)")
    parser.add_argument("--keep", type=Path, default=None, help="write the clip and spot's outputs here, kept")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of (extraction alone, spot) to time, alternating")
    parser.add_argument("--clip", type=Path, default=None,
                        help="time this clip (one --keep wrote, say) instead of making one; --seconds, --size and "
                             "--fps are then read from it")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    config = load_config(args.dataset)
    target_fps = float(config.get("fps", 30))
    work = args.keep or Path(tempfile.mkdtemp(prefix="auwgcn-bench-spot-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = args.clip or work / "clip.mp4"
    started = time.perf_counter()
    if args.clip is None:
        n_frames = write_clip(clip, demo_frames(config), args.seconds, args.fps, size)
        made = f"made in {time.perf_counter() - started:.1f} s"
    else:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            n_frames, args.fps = stream.frames, float(stream.average_rate)
            size = (stream.width, stream.height)
        args.seconds, made = n_frames / args.fps, f"from {clip}"
    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"clip: {n_frames} frames, {size[0]}x{size[1]}, {args.fps:g} fps ({args.seconds:g} s), H.264; {made}")

    folds = [f for f in run_folds(args.run) if (args.run / f / "eval_info.json").is_file()]  # evaluated folds
    settings, origin = run_settings(args.run, folds)
    serial = None
    if not args.no_serial:
        started, cpu = time.perf_counter(), cpu_seconds()
        serial_rows = serial_extraction(clip, target_fps, settings)
        serial, serial_cpu = time.perf_counter() - started, cpu_seconds() - cpu

    pairs = []
    for repeat in range(max(args.repeat, 1)):
        started, cpu = time.perf_counter(), cpu_seconds()
        found = extract_recording(open_recording(clip, None, target_fps), target_fps, settings, FaceLandmarker())
        extraction, extraction_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        out = work / f"spots-{repeat + 1}"
        shutil.rmtree(out, ignore_errors=True)
        result, spot, spot_cpu, peak_mib = run_measured(
            [sys.executable, str(REPO_ROOT / "spot.py"), str(clip), "--run", str(args.run), "--dataset",
             args.dataset, "--epoch", "selected", "--folds", ",".join(folds), "--out", str(out)])
        if result.returncode != 0:
            raise SystemExit(f"benchmark: spot.py failed: {result.stdout[-800:]}{result.stderr[-800:]}")
        own = input_seconds(result.stdout)
        pairs.append((extraction, extraction_cpu, spot, spot_cpu, peak_mib, own))
        print(f"pair {repeat + 1}: extraction alone {extraction:.1f} s (CPU {extraction_cpu:.1f} s), spot.py "
              f"{spot:.1f} s (CPU {spot_cpu:.1f} s), the input itself {own:.1f} s: ratios {spot / extraction:.2f} "
              f"(command), {own / extraction:.2f} (input)", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    preview = out / clip.stem / "preview.webm"
    extraction, extraction_cpu, spot, spot_cpu, peak_mib, own = sorted(pairs, key=lambda p: p[2] / p[0])[len(pairs) // 2]

    print(f"settings {settings} ({origin}); {len(folds)} fold(s)")
    if serial is not None:
        same = np.array_equal(serial_rows, found.faces[0].rows)
        print(f"serial extraction (before): {serial:.1f} s, CPU {serial_cpu:.1f} s; the extraction's features equal "
              f"to it: {same}")
    median = " (the pair with the median ratio)" if len(pairs) > 1 else ""
    print(f"extraction alone: {extraction:.1f} s, CPU {extraction_cpu:.1f} s ({args.seconds / extraction:.1f}x "
          f"real time){median}")
    print(f"spot.py, whole command: {spot:.1f} s, CPU {spot_cpu:.1f} s; peak memory {peak_mib:.0f} MiB")
    print(f"preview: {preview.stat().st_size / 1e6 * 60 / args.seconds:.2f} MB a minute")
    print(f"ratio real time / spot: {args.seconds / spot:.2f} (target >= 3)")
    print(f"ratio spot / extraction alone: {spot / extraction:.2f} (target <= 1.3); the input itself (spot's closing "
          f"line, without start-up): {own:.1f} s, {own / extraction:.2f}")
    if serial is not None:
        print(f"ratio spot / serial extraction (before): {spot / serial:.2f}; extraction alone / serial: "
              f"{extraction / serial:.2f}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
