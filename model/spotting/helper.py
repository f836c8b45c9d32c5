"""The first input's extraction in a helper process forked at the start of spot.py, so that it overlaps the
command's own start-up.

Before its first frame, spot.py spends about 2 s on one core importing torch and pandas and
resolving the job, and the extraction another second loading dlib's landmark model. Threads cannot overlap
these: both hold Python's GIL (importing torch beside a busy Python thread took 30 s instead of 1.2 s). So
spot.py forks this helper as soon as its flags are parsed, before it has imported OpenCV, pandas or
torch; the helper imports only what the extraction needs (no pandas: tests/test_spot_helper.py) and loads the
landmark model while the command imports, then extracts the first input (model/spotting/extract.extract_input,
the same call as in the command's process) and answers with its result, or the exception it raised, and
exits. Later inputs are extracted in the command's process. The features, the preview and so every output
are those of an extraction in the command's process (tests/test_spot_helper.py).

The command offers the first input's request (:meth:`ExtractionHelper.offer`) as soon as it can be built
without torch (model/spotting/plan.py), so that the extraction starts the moment the landmark model is loaded,
while the command still imports torch and resolves its job. When the command comes to extract an input, it
compares: a different request (the offered input was spotted before and is skipped, say) stops the helper,
which drops its unfinished preview, and the command extracts the input itself.

The helper is started only on Linux (a fork with OpenCV loaded is unsafe on macOS) and only from a process
with one thread and no torch (a fork copies no other thread, and the overlap is then worth it): a command,
not a test calling ``spot.main`` in-process.
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from utils.errors import UserError

INTERRUPT_GRACE_S = 3.0  # after Ctrl-C, a stop or its death, the helper's time to end by itself before it is killed


class ExtractionHelper:
    """A forked process that extracts one input for the command: :meth:`start`, then :meth:`extract` once
    (or :meth:`close` when there is none to extract here)."""

    def __init__(self, pid: int, requests, answers):
        self._pid, self._requests, self._answers = pid, requests, answers
        self._ended = "still running"  # how the helper ended, once it has
        self._offered = None  # the request it was given
        self._answered = False
        self._made_folder: Path | None = None  # the output folder its preview would create, absent when offered

    @classmethod
    def start(cls) -> "ExtractionHelper | None":
        """The helper, forked now and loading the landmark model; None where a fork is unsafe or gains nothing
        (module docstring)."""
        if not sys.platform.startswith("linux") or threading.active_count() > 1 or "torch" in sys.modules:
            return None
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        sys.stdout.flush()  # else the child would print the command's buffered lines again
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(request_write)
            os.close(answer_read)
            code = 1
            try:
                _serve(parent, request_read, answer_write)
                code = 0
            except Exception:  # the command then says the helper ended without an answer
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)  # not the command's exit path: its atexit handlers and finalisers are the parent's
        os.close(request_read)
        os.close(answer_write)
        return cls(pid, os.fdopen(request_write, "wb"), os.fdopen(answer_read, "rb"))

    def offer(self, request) -> None:
        """Give the helper ``request`` (model/spotting/extract.ExtractRequest; None: nothing to offer): it starts
        on it once the landmark model is loaded."""
        if request is None or self._offered is not None:
            return
        self._offered = request
        if request.preview is not None and not request.preview.parent.exists():
            self._made_folder = request.preview.parent
        try:
            pickle.dump(request, self._requests, pickle.HIGHEST_PROTOCOL)
            self._requests.close()
        except OSError:  # it died: said when its answer is read
            pass

    def extract(self, request, while_waiting: Callable[[], None] | None = None):
        """model/spotting/extract.extract_input's ``(features, preview)`` for ``request``, run in the helper; the
        exception it raised there is raised here. ``while_waiting`` runs here meanwhile. The helper ends with its
        answer. None when the helper was offered another request: it is stopped, and the caller extracts."""
        if self._offered is None:
            self.offer(request)
        elif self._offered != request:
            self.close()
            return None
        try:
            if while_waiting is not None:
                while_waiting()
            succeeded, answer = self._answer(request)
        except BaseException:  # Ctrl-C reaches the helper too: it drops its unfinished preview and ends
            self.close(grace_s=INTERRUPT_GRACE_S)
            raise
        self.close(grace_s=None)  # it ends by itself after answering
        if succeeded:
            return answer
        raise answer

    def _answer(self, request) -> tuple[bool, object]:
        try:
            answer = pickle.load(self._answers)
        except (EOFError, OSError, pickle.UnpicklingError):  # it died: killed for memory, say
            self.close(grace_s=INTERRUPT_GRACE_S)
            raise UserError(f"{request.recording.path}: the extraction process ended without an answer "
                            f"({self._ended})") from None
        self._answered = True
        return answer

    def close(self, grace_s: float | None = 0.0) -> None:
        """End the helper: when it ends by itself (``None``: it has answered), else after ``grace_s`` seconds (0:
        at once, when it has nothing to finish). A helper still at an offered request is first told to stop,
        and gets at least INTERRUPT_GRACE_S seconds to drop its unfinished preview."""
        for stream in (self._requests, self._answers):
            stream.close()
        if self._pid is None:
            return
        stopped = grace_s is not None and self._offered is not None and not self._answered
        if stopped:
            self._signal(signal.SIGTERM)
            grace_s = max(grace_s, INTERRUPT_GRACE_S)
        deadline = None if grace_s is None else time.monotonic() + grace_s
        while deadline is None or time.monotonic() < deadline:
            pid, status = os.waitpid(self._pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self._reaped(status)
                break
            time.sleep(0.05)
        else:
            self._signal(signal.SIGKILL)
            self._reaped(os.waitpid(self._pid, 0)[1])
        if stopped and self._made_folder is not None:
            try:  # the output folder only its preview made, left empty
                self._made_folder.rmdir()
            except OSError:
                pass

    def _signal(self, number: int) -> None:
        try:
            os.kill(self._pid, number)
        except ProcessLookupError:
            pass

    def _reaped(self, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        self._ended = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        self._pid = None


def _serve(parent: int, request_fd: int, answer_fd: int) -> None:
    """The helper's life: load the landmark model, take one request, answer it."""
    _end_with(parent)
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or the command stopping it
        signal.signal(number, _interrupt_once)
    from model.spotting.extract import extract_input

    with os.fdopen(request_fd, "rb") as requests, os.fdopen(answer_fd, "wb") as answers:
        try:
            from feature_extraction.face import FaceLandmarker

            landmarker, failure = FaceLandmarker(), None
        except Exception as error:  # said as the answer to the request, as the command's process would say it
            landmarker, failure = None, error
        try:
            request = pickle.load(requests)
        except (EOFError, KeyboardInterrupt):  # nothing to extract here, or stopped before the request
            return
        try:
            if failure is not None:
                raise failure
            answer = (True, extract_input(request, landmarker))
        except BaseException as error:  # noqa: B036 - Ctrl-C included: the command's process raises it too
            answer = (False, _picklable(error))
        try:
            pickle.dump(answer, answers, pickle.HIGHEST_PROTOCOL)
            answers.flush()
        except BrokenPipeError:  # the command stopped listening: it stopped this helper, which ends here
            sys.stderr.flush()
            os._exit(0)


def _interrupt_once(number: int, frame) -> None:
    """Raise KeyboardInterrupt for the first of Ctrl-C and a stop (both come when Ctrl-C stops the command), and
    ignore the next, so that the unfinished preview is dropped undisturbed."""
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise KeyboardInterrupt


def _picklable(error: BaseException) -> BaseException:
    """``error`` with its traceback in the helper as a note (a traceback does not pickle), or, when the error
    itself does not pickle, a RuntimeError that says it."""
    error.add_note("in the extraction process:\n" + "".join(traceback.format_tb(error.__traceback__)).rstrip())
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}\n" + "\n".join(getattr(error, "__notes__", [])))


def _end_with(parent: int) -> None:
    """Have the kernel end this process when the command ends (killed by Slurm, say), so no orphan extracts on."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the command ended before the request above was made
        os._exit(1)
