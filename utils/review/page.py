"""Assembling a self-contained HTML page: CSS, scripts and the page's data inline, nothing fetched.

The data travels as JSON in ``<script type="application/json" id="review-data">``; the scripts under
``assets/`` draw everything from it in the browser, so the page opens from disk with no server.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

from utils.io import atomic_write_text

ASSETS = Path(__file__).resolve().parent / "assets"


def _json_safe(value):
    """``value`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def embedded_json(data: dict) -> str:
    """``data`` as JSON that cannot end its ``<script>`` element early (``<`` escaped)."""
    return json.dumps(_json_safe(data), separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def render_page(title: str, body: str, data: dict, scripts: list[str]) -> str:
    """The page: ``body`` (trusted markup), ``data`` as JSON, review.css and the named ``assets/`` scripts."""
    css = (ASSETS / "review.css").read_text(encoding="utf-8")
    code = "\n".join((ASSETS / name).read_text(encoding="utf-8") for name in scripts)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{css}</style>\n</head>\n<body>\n{body}\n"
            f"<script type=\"application/json\" id=\"review-data\">{embedded_json(data)}</script>\n"
            f"<script>\n{code}</script>\n</body>\n</html>\n")


def write_page(path: Path, title: str, body: str, data: dict, scripts: list[str]) -> Path:
    """:func:`render_page` written atomically to ``path``."""
    return atomic_write_text(path, render_page(title, body, data, scripts))
