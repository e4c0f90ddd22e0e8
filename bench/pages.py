"""Page render times in a real browser, on a database of any size.

    python bench/pages.py --db /path/to/crm.duckdb [--pages portfolio differentiate retention cost_to_serve]

Starts the app on a free port with CRM_LENS_DB pointing at a COPY of ``--db`` (the app writes), opens each
page in headless Chromium (Debian's /usr/bin/chromium) and prints one JSON line per page:
``first_render_s`` (cold caches: from navigation until the script has finished and no spinner is left) and
``cached_render_s`` (the same page opened again in a new tab: a new session, results cached) and ``rerun_s``
(median of three reruns in that open session: the least a widget change costs).
Make the database with bench/engine.py (``--db``), e.g. 1M customers / 10M transactions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def render(page, url: str, timeout_ms: int) -> float:
    """Seconds from navigation until the script has run to the end with no spinner left."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, timeout=timeout_ms)
    while True:  # a status or spinner means work is still under way
        page.wait_for_selector(READY, timeout=timeout_ms)
        if page.locator('[data-testid="stSpinner"]').count() == 0:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(200)
    page.wait_for_selector(READY, timeout=timeout_ms)
    return time.perf_counter() - start - 0.2


def rerun(page, timeout_ms: int) -> float:
    """Seconds of a rerun in an open session (Streamlit's R shortcut): what a widget change costs at least
    once the page's results are cached (every widget change reruns the page script)."""
    running = '[data-testid="stApp"][data-test-script-state="running"]'
    page.wait_for_selector(READY, timeout=timeout_ms)
    start = time.perf_counter()
    page.evaluate("document.activeElement && document.activeElement.blur()")  # the app has focus, no widget
    page.keyboard.press("r")
    try:
        page.wait_for_selector(running, timeout=3000)
    except Exception:  # noqa: BLE001 - a very short run may finish before it is seen running
        pass
    page.wait_for_selector(READY, timeout=timeout_ms)
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--pages", nargs="+",
                    default=["portfolio", "differentiate", "retention", "cost_to_serve", "qci", "gartner", "models",
                             "review"])
    ap.add_argument("--timeout", type=float, default=300, help="seconds a page may take")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory()
    db = Path(tmp.name) / "crm.duckdb"
    shutil.copy(args.db, db)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "CRM_LENS_DB": str(db)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(json.dumps({"error": "the app did not start"}))
                return 1
            time.sleep(0.5)
        timeout_ms = args.timeout * 1000
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            first = browser.new_page(viewport={"width": 1400, "height": 1000})
            render(first, f"{url}/", timeout_ms)  # the Data page (the default page): the frame and the store, once
            for name in args.pages:
                cold = render(first, f"{url}/{name}", timeout_ms)
                again = browser.new_page(viewport={"width": 1400, "height": 1000})
                warm = render(again, f"{url}/{name}", timeout_ms)
                reruns = sorted(rerun(again, timeout_ms) for _ in range(3))
                again.close()
                print(json.dumps({"page": name, "first_render_s": round(cold, 2), "cached_render_s": round(warm, 2),
                                  "rerun_s": round(reruns[1], 2)}), flush=True)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
