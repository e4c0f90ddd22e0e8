"""Browser journeys: the real app in a real (headless) Chromium.

The app runs on a free port with a database of its own; Playwright drives Debian's
/usr/bin/chromium (``playwright install`` cannot download a browser here). Where no Chromium
exists the journeys are skipped with the reason, except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _need_chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no Chromium at {CHROMIUM}: .ci/run must install Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium to run the browser journeys")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@contextmanager
def _serve(tmp: Path):
    """Run the app on a free port with a fresh database in ``tmp`` (so it starts on the sample company)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CRM_LENS_DB": str(tmp / "crm.duckdb")}
    log_path = tmp / "streamlit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One app server for the journeys of a session."""
    with _serve(tmp_path_factory.mktemp("e2e")) as url:
        yield url


@pytest.fixture
def fresh_app_server(tmp_path):
    """A server no browser has visited yet: its first request decides Streamlit's page mode."""
    with _serve(tmp_path) as url:
        yield url


SAMPLE_BANNER = "You are looking at sample data"


def back_to_sample(page, timeout: float = 120_000) -> None:
    """Show the sample company: an earlier journey of the session imported (and so selected) another dataset.
    Waits for the sample's banner, which the run after the pick draws first: the run can start later than
    wait_ready looks while the server is busy (the background preparations after an import or a rate save)."""
    from playwright.sync_api import expect

    if not page.get_by_text(SAMPLE_BANNER).count():
        pick_option(page, page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first,
                    re.compile(r"\(sample\)"), done=page.get_by_text(SAMPLE_BANNER))
        expect(page.get_by_text(SAMPLE_BANNER)).to_be_visible(timeout=timeout)
    wait_ready(page, timeout=timeout)


# Streamlit 1.67's selectbox now and then shows the clicked option without sending it: in about one of ten
# runs of these journeys the browser sent no websocket frame after the click (recorded with Playwright's
# framesent events), the server ran nothing, and the box displayed the new choice. Button groups and radios
# can lose a click the same way. Choosing the displayed option again sends nothing (the widget holds it
# already), so a retry goes through another option first.
PICK_ATTEMPTS = 3
RUN_STARTS_MS = 15_000
# Set a flag on any change of the script state, so that a run too short to be seen "running" still counts.
WATCH_RUNS = """() => {
    if (window.__e2eWatch) window.__e2eWatch.disconnect();
    window.__e2eRan = false;
    const app = document.querySelector('[data-testid="stApp"]');
    window.__e2eWatch = new MutationObserver(() => { window.__e2eRan = true; });
    if (app) window.__e2eWatch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def click_for_run(page, choose, detour, done=None, attempts: int = PICK_ATTEMPTS) -> int:
    """Make a choice with ``choose()`` (a callable clicking the widget), then see the script run or ``done``
    (a locator of what that run draws) appear within RUN_STARTS_MS; when neither happens, ``detour()``
    (choosing another option, whose run moves the widget away) and choose again. Returns the number of
    attempts it took."""
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            page.evaluate(WATCH_RUNS)
            detour()
            ran(page, None, RUN_STARTS_MS)
            wait_ready(page, timeout=120_000)
        page.evaluate(WATCH_RUNS)
        choose()
        if ran(page, done, RUN_STARTS_MS):
            wait_ready(page, timeout=120_000)
            return attempt
    raise AssertionError(f"the app ran nothing after {attempts} attempts at the same choice")


def open_tab(page, name: str, attempts: int = PICK_ATTEMPTS) -> int:
    """Open the page's tab ``name`` and see the app run: a tab click reruns the page, which draws the open tab
    only (ui.widgets.page_tabs). A click can be lost as a widget's can (:func:`click_for_run`), the tab then shown
    open with nothing sent, and a click on it again sends nothing either: the retry opens another tab first.
    Returns the number of clicks it took (0: the tab was open already)."""
    tabs = page.locator('[data-testid="stMain"]').get_by_role("tab")
    tab = page.locator('[data-testid="stMain"]').get_by_role("tab", name=name, exact=True)
    if tab.get_attribute("aria-selected") == "true":
        return 0

    def detour():  # a tab neither shown open nor the one wanted
        other = next(t for t in tabs.all() if t.get_attribute("aria-selected") != "true" and t.inner_text() != name)
        other.click()

    try:
        return click_for_run(page, tab.click, detour, None, attempts)
    except AssertionError:
        raise AssertionError(f"the app ran nothing after opening the tab {name!r} {attempts} times") from None


def ran(page, done, ms: float) -> bool:
    """Whether the script ran (since WATCH_RUNS was evaluated) or ``done`` appeared within ``ms``."""
    deadline = time.monotonic() + ms / 1000
    while time.monotonic() < deadline:
        if page.evaluate("() => window.__e2eRan === true") or (done is not None and done.count()):
            return True
        page.wait_for_timeout(100)
    return False


def pick_option(page, box, option, done=None, attempts: int = PICK_ATTEMPTS) -> int:
    """Choose ``option`` (a name or pattern) in the selectbox ``box`` and see the app run
    (:func:`click_for_run`)."""

    def choose():
        box.click()
        page.get_by_role("option", name=option).click()

    def detour():
        box.click()
        next(o for o in page.get_by_role("option").all() if not _names(option, o.inner_text())).click()

    return click_for_run(page, choose, detour, done, attempts)


def press_option(page, group, name: str, attempts: int = PICK_ATTEMPTS) -> int:
    """Choose the option ``name`` of a button group or radio (``group``: a locator holding its options only)
    and see the app run (:func:`click_for_run`)."""
    names = group.get_by_role("radio").evaluate_all(
        "els => els.map(e => (e.closest('label') || e).innerText.trim() || e.getAttribute('aria-label') || '')")
    other = next(n for n in names if n and n != name)
    return click_for_run(page, lambda: group.get_by_text(name, exact=True).click(),
                         lambda: group.get_by_text(other, exact=True).click(), None, attempts)


def _names(option, text: str) -> bool:
    return bool(option.search(text)) if isinstance(option, re.Pattern) else option in text


def wait_ready(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (and no spinner remains)."""
    page.wait_for_selector(READY, timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_selector(READY, timeout=timeout)


def full_screenshot(page, name: str) -> Path:
    """A screenshot of the whole page: Streamlit scrolls inside stMain, so grow the viewport first."""
    SHOTS.mkdir(exist_ok=True)
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }"
    )
    width = page.viewport_size["width"] if page.viewport_size else 1400
    page.set_viewport_size({"width": width, "height": max(900, min(int(height) + 40, 12000))})
    page.wait_for_timeout(300)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
