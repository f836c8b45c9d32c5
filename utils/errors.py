"""User-facing errors: one line naming the file and the problem, non-zero exit."""
from __future__ import annotations

import gc
import sys
import traceback
from pathlib import Path
from typing import Callable, NoReturn


class UserError(ValueError):
    """A problem with the user's input (file, flag, config); printed as one line, exit code 2.

    The one type for user errors in every package (train/eval, dataset, feature_extraction, utils).
    A ``ValueError`` so that callers written against the older ``ValueError`` still catch it.
    """


def failure_line(error: BaseException, log: Path, header: str, expected: tuple[type, ...] = ()) -> str:
    """The one-line reason of an error that ended one item of a batch (a video, an input), whose traceback
    goes to ``log`` (``header`` first, e.g. the item's path), named in the line.

    ``expected`` errors are the item's or the machine's problem (bad footage, a full disk); anything else is
    most likely a bug in this project and says so.
    """
    from utils.io import atomic_write_text

    kind = "error" if isinstance(error, expected) else "internal error (likely a bug)"
    try:
        atomic_write_text(log, f"{header}\n{''.join(traceback.format_exception(error))}")
        where = f"traceback in {log}"
    except OSError as log_error:
        where = f"traceback not written ({log_error})"
    module = type(error).__module__
    name = type(error).__qualname__ if module == "builtins" else f"{module}.{type(error).__qualname__}"
    message = " ".join(str(error).split())  # OpenCV's messages span lines
    return f"{kind} {name}: {message}; {where}"


def print_error(message: str) -> None:
    """The one error line of every CLI: ``error: <message>`` on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def run_cli(main: Callable[[], int | None]) -> int:
    """Run ``main`` and return its exit status: the one error convention of every CLI's ``main(argv)``.

    A :class:`UserError` becomes ``error: <message>`` on stderr and status 2; Ctrl-C status 130. The CLI's
    module ends with ``exit_process(main())``, so that a test can call ``main([...])`` in-process and read the
    status.
    """
    try:
        code = main()
    except UserError as error:
        print_error(str(error))
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code or 0


def exit_process(code: int) -> NoReturn:
    """End a CLI's process with status ``code`` (its ``if __name__ == "__main__":`` line, never a test's call).

    The garbage collector's objects are frozen first, so that the interpreter's last collection at exit skips
    them: after torch is imported that walk took 0.2-0.35 s of every command, to free memory the system takes
    back anyway. Objects still die when their last reference goes, and atexit handlers run, as before.
    """
    gc.freeze()
    sys.exit(code)
