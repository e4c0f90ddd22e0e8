"""Chart images for the PDF and PowerPoint reports: plotly figures to PNG through kaleido and the machine's
Chromium or Chrome.

kaleido 1.x drives a real browser and starting one takes seconds, so :func:`render_pngs` opens one kaleido
browser for all the figures of a report and closes it after (what ``kaleido.start_sync_server`` does, but in a
worker thread of our own with a time limit, so a browser that fails to start raises instead of hanging). Where no
Chromium/Chrome is found, :class:`ReportError` says so and what to install; the HTML report, which draws its
charts in the reader's browser, needs no images.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import plotly.graph_objects as go

from crm_core.report import ReportError

log = logging.getLogger(__name__)

#: Browser executables looked for on PATH, in order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Where Debian and macOS put them when PATH does not say.
KNOWN_PATHS = (
    "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
NO_BROWSER = (
    "Chart images need Chromium or Google Chrome, and none was found on this machine (looked for {names} on "
    "PATH and in the usual places; set BROWSER_PATH to a browser executable to use another). Install Chromium "
    "(Debian/Ubuntu: apt-get install chromium) to make PDF and PowerPoint reports; the HTML report works without it."
)

WIDTH, HEIGHT, SCALE = 1000, 520, 2

_lock = threading.Lock()  # kaleido's sync server is one per process: one report renders at a time


def find_browser() -> str | None:
    """The Chromium/Chrome executable kaleido will drive: ``BROWSER_PATH`` if it exists, else the first of
    :data:`BROWSERS` on PATH, else a known install path; None when there is none."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if Path(env).exists() else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in KNOWN_PATHS if Path(p).exists()), None)


def require_browser() -> str:
    """The browser path, or :class:`ReportError` saying none exists and what to do."""
    path = find_browser()
    if path is None:
        raise ReportError(NO_BROWSER.format(names=", ".join(BROWSERS)))
    return path


def _size(fig: go.Figure) -> tuple[int, int]:
    height = fig.layout.height or HEIGHT
    width = fig.layout.width or WIDTH
    return int(width), int(height)


def render_pngs(figures: Sequence[go.Figure], *, progress: Callable[[int, int], None] | None = None,
                scale: float = SCALE) -> list[bytes]:
    """PNG bytes of each figure, in order, from one kaleido server (one browser start for all).

    Raises :class:`ReportError` when no browser exists or the browser cannot render."""
    if not figures:
        return []
    browser = require_browser()
    import kaleido  # imported here: the HTML report and the app never need it

    timeout = 60 + 30 * len(figures)

    async def render_all() -> list[bytes]:
        images: list[bytes] = []
        # mathjax=False: no LaTeX in our figures, and the default loads MathJax from a CDN (offline here)
        async with kaleido.Kaleido(path=browser, mathjax=False, timeout=90) as k:
            for i, fig in enumerate(figures):
                width, height = _size(fig)
                images.append(await k.calc_fig(fig, opts={"format": "png", "width": width, "height": height,
                                                          "scale": scale}))
                if progress:
                    progress(i + 1, len(figures))
        return images

    result: dict = {}

    def run() -> None:  # its own thread and event loop: callers may run inside one (Streamlit, notebooks)
        try:
            result["images"] = asyncio.run(render_all())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            result["error"] = exc

    with _lock:
        worker = threading.Thread(target=run, name="crm-lens-chart-images", daemon=True)
        worker.start()
        worker.join(timeout)
    if worker.is_alive():
        raise ReportError(f"Chart images took longer than {timeout} s with the browser at {browser}; try again, or "
                          "use the HTML report, which needs no images.")
    exc = result.get("error")
    if exc is not None:
        log.error("chart images failed with %s", browser, exc_info=exc)
        raise ReportError(
            f"Chart images could not be made with the browser at {browser} ({type(exc).__name__}: {exc}). "
            "Check that it starts (e.g. `chromium --headless --version`); the HTML report works without it."
        ) from exc
    return result["images"]
