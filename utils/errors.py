"""User-facing errors: one line naming the file and the problem, non-zero exit."""
from __future__ import annotations

import sys
from typing import Callable


class UserError(ValueError):
    """A problem with the user's input (file, flag, config); printed as one line, exit code 2.

    The one type for user errors in every package (train/eval, dataset, feature_extraction, utils).
    A ``ValueError`` so that callers written against the older ``ValueError`` still catch it.
    """


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main``; turn a :class:`UserError` into ``error: <message>`` on stderr and exit 2."""
    try:
        code = main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
