"""Page render and widget change times in a real browser, on a database of any size.

    python bench/pages.py --db /path/to/crm.duckdb [--pages portfolio differentiate ...] [--filters] [--shots DIR]

Starts the app on a free port with CRM_LENS_DB pointing at a COPY of ``--db`` (the app writes), opens each
page in headless Chromium (Debian's /usr/bin/chromium) and prints one JSON line per page:
``first_render_s`` (cold caches: from navigation until the script has finished and no spinner is left) and
``cached_render_s`` (the same page opened again in a new tab: a new session, results cached) and ``rerun_s``
(median of three reruns in that open session: the least a widget change costs) and ``widgets``
({label: seconds}: then, in that same tab, real widget changes one after the other — an option of a
selectbox, radio or segmented control clicked — each from the click until the script has finished and no
spinner is left; a page's tabs are among them ("Tab: <label>": only the open tab is drawn, so a widget inside a
tab is changed with that tab open); null when the widget could not be found or changed, the reason on stderr;
on Cost to serve, the rate editor's Reset and Save buttons, which write rates to the copy and recompute the page; then
``prepared_again_s``: from the save's page drawn until the app logs that its background preparation of the
priced views after the new rates is done).
With ``--filters [region segment owner channel period]`` (region when none is named), then one more line per filter
and page of ``--pages`` ``{"page", "filter", "value", "seconds", "filter_cleared"}``: that sidebar filter set on
that page in a new tab, and cleared again; each page sets another value (the i-th page the i-th value, in turn),
one no page has set before when there are enough, so no page reads what another computed for it (every page's
results change with a filter: on a large database this takes long, hence off by default). A region, segment or
owner picks customers out of the kept results; a channel changes each customer's purchases, so its figures are
read from those kept for each channel by ``prepare``. ``period`` chooses a quick period in the sidebar's Period on
each page, the last 12, 6 and 3 months in turn (kept by ``prepare`` too), and "Whole history" again to clear it
(bench/window.py times the computed case, a window of other dates, on the server).
``--breakdown`` adds, per widget change and filter, where its time went: ``server_cpu_s`` (CPU seconds of
the app's process, all its threads, from Linux's /proc) and ``browser_busy_s`` (the page's main-thread long tasks, over
50 ms each, summed): what is left of the seconds is waiting, the websocket and short tasks. A change whose server
part is small is the browser's drawing; that is where the remaining second of a change went at 1M customers.
``--shots DIR`` keeps a screenshot after each widget change. Widgets are found by their accessible names
(labels and option texts of pages/*.py and app.py's sidebar).
Make the database with bench/engine.py (``--db``), e.g. 1M customers / 10M transactions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
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
MAIN = '[data-testid="stMain"]'  # the page itself: the sidebar has widgets with the same roles
SIDEBAR = '[data-testid="stSidebar"]'
GRACE_S = 0.2  # waited after a run, to catch a run that follows it (st.rerun); not counted
FIND_MS = 10_000  # a widget on a page that has finished running is there at once; missing it fails fast
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Set a flag on any change of the script state: a short run may be over before Python looks for "running".
WATCH_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && !window.__benchWatch) {
        window.__benchWatch = new MutationObserver(() => { window.__benchRan = true; });
        window.__benchWatch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    }
    window.__benchRan = false;
}"""


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


# How often the page is asked whether the script has finished. Playwright's own waits for a selector poll at
# growing intervals, up to 500 ms: a Cost page rate save whose run was over after 0.56 s (the page's own record of
# its script state, and the machine idle from then on) was seen done at 1.04 s.
POLL_MS = 10
_IDLE = f"""() => document.querySelector('{READY}') !== null
    && document.querySelector('[data-testid="stSpinner"]') === null"""


def idle(page, timeout_ms: float) -> None:
    """Wait until the script is not running and no spinner is left (a status or spinner: work under way)."""
    page.wait_for_function(_IDLE, polling=POLL_MS, timeout=timeout_ms)


def settle(page, timeout_ms: float) -> None:
    """Wait until the script has run to the end with no spinner left, then GRACE_S more for a follow-up run."""
    idle(page, timeout_ms)
    page.wait_for_timeout(GRACE_S * 1000)
    idle(page, timeout_ms)


def holds(page, condition: str, ms: float, arg=None) -> bool:
    """Whether the JavaScript ``condition`` holds within ``ms`` milliseconds."""
    try:
        page.wait_for_function(condition, arg=arg, timeout=ms)
    except Exception:  # noqa: BLE001 - Playwright's timeout: it does not
        return False
    return True


# Websocket frames received per page. A fragment's rerun can be over within one React render, and then the script
# state attribute never changes in the DOM (seen on Portfolio's tab switches: the bench waited its 3 s for a run
# that had happened); every run sends frames, so a frame received after the click also says a run happened.
_frames: dict[int, int] = {}
QUIET_MS = 100  # a run seen by its frames alone is over once none has come for this long


def count_frames(page) -> None:
    """Count the websocket frames ``page`` receives (once per page, before it connects)."""
    if id(page) in _frames:
        return
    _frames[id(page)] = 0

    def received(_payload) -> None:
        _frames[id(page)] += 1
    page.on("websocket", lambda ws: ws.on("framereceived", received))


def render(page, url: str, timeout_ms: float) -> float:
    """Seconds from navigation until the script has run to the end with no spinner left."""
    count_frames(page)
    start = time.perf_counter()
    page.goto(url)
    settle(page, timeout_ms)
    return time.perf_counter() - start - GRACE_S


def timed(page, act, timeout_ms: float) -> float:
    """Seconds from ``act()`` (a key press or click that makes the app rerun) until the run is over and no
    spinner is left."""
    page.wait_for_selector(READY, timeout=timeout_ms)
    page.evaluate(WATCH_RUNS)
    frames = _frames.get(id(page), 0)
    start = time.perf_counter()
    act()
    # The run starts once the browser has sent the change: wait for it so as not to stop before it. Missing it is
    # tolerated (READY below still holds); at worst these 3 s are counted.
    deadline = start + 3
    while not page.evaluate("() => window.__benchRan === true") and time.perf_counter() < deadline:
        if _frames.get(id(page), 0) != frames:  # a run seen by its frames alone: wait until they stop coming
            quiet = _frames[id(page)]
            page.wait_for_timeout(QUIET_MS)  # counted: at most this much more than the run took
            if _frames[id(page)] == quiet:
                break
            continue
        page.wait_for_timeout(10)
    settle(page, timeout_ms)
    return time.perf_counter() - start - GRACE_S


# ---------------------------------------------------------------------------- where a change's time went
LONG_TASKS = """() => {
    window.__benchLong = [];
    if (!window.__benchLongObserver) {
        window.__benchLongObserver = new PerformanceObserver(list => {
            for (const e of list.getEntries()) window.__benchLong.push(e.duration);
        });
        window.__benchLongObserver.observe({type: 'longtask'});
    }
}"""
_server_pid: int | None = None  # the app's process, when --breakdown


def server_cpu_s() -> float:
    """CPU seconds the app's process has used (user + system, all threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{_server_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_parts(page, act, timeout_ms: float) -> tuple[float, dict | None]:
    """:func:`timed`, and with ``--breakdown`` the server's CPU seconds and the browser's long tasks during it."""
    if _server_pid is None:
        return timed(page, act, timeout_ms), None
    page.evaluate(LONG_TASKS)
    cpu = server_cpu_s()
    seconds = timed(page, act, timeout_ms)
    busy = sum(page.evaluate("() => window.__benchLong")) / 1000
    return seconds, {"server_cpu_s": round(server_cpu_s() - cpu, 2), "browser_busy_s": round(busy, 2)}


def rerun(page, timeout_ms: float) -> float:
    """Seconds of a rerun in an open session (Streamlit's R shortcut): what a widget change costs at least
    once the page's results are cached (every widget change reruns the page script)."""
    def press_r():
        page.evaluate("document.activeElement && document.activeElement.blur()")  # the app has focus, no widget
        page.keyboard.press("r")
    return timed(page, press_r, timeout_ms)


# ---------------------------------------------------------------------------- widgets
# A "finder" does what comes before the change (open a list, expand an expander) and returns the element whose
# click is the change: only that click is timed.
def open_list(page, box):
    """The options of a combobox (selectbox, multiselect), opened. A click on a combobox right after a run
    sometimes only focuses it; the arrow key and the Open button are the user's other ways in."""
    for how in ("click", "arrow", "button"):
        if how == "click":
            box.click(timeout=FIND_MS)
        elif how == "arrow":
            box.focus()
            box.press("ArrowDown")
        else:
            field = box.locator("xpath=ancestor::*[@role='group'][1]")  # the input and its buttons
            field.get_by_role("button", name="Open", exact=True).click(timeout=FIND_MS)
        if not holds(page, "b => b.getAttribute('aria-expanded') === 'true' && b.getAttribute('aria-controls')",
                     1500, box.element_handle()):
            continue  # not open: the next way
        options = page.locator(f'[id="{box.get_attribute("aria-controls")}"]').get_by_role("option")
        options.first.wait_for(timeout=FIND_MS)
        return options
    raise LookupError("its list of options does not open")


def unselected(option, what: str):
    if option.get_attribute("aria-selected") == "true":
        raise LookupError(f"{what} is selected already: clicking it changes nothing")
    return option


def selectbox(label: str, option: str | None = None, nth: int | None = None):
    """The option named ``option`` (or the ``nth``, from 0) of the page's selectbox ``label``."""
    def find(page):
        options = open_list(page, page.locator(MAIN).get_by_role("combobox", name=label, exact=True))
        if option is not None:
            return unselected(options.filter(has_text=re.compile(f"^{re.escape(option)}$")).first, repr(option))
        return unselected(options.nth(nth), f"option {nth + 1}")
    return find


def radio(label: str, nth: int | None = None):
    """The ``nth`` option (from 0) of the page's radio ``label``, or else its first option not checked. The
    input itself is hidden under its label: the label is what a user clicks."""
    def find(page):
        group = page.locator(MAIN).get_by_role("radiogroup", name=label, exact=True)
        labels = group.locator("label")
        if nth is None:
            return labels.filter(has=page.get_by_role("radio", checked=False)).first
        if labels.nth(nth).get_by_role("radio").is_checked(timeout=FIND_MS):
            raise LookupError(f"option {nth + 1} is checked already: clicking it changes nothing")
        return labels.nth(nth)
    return find


def first_segment():
    """A score not chosen yet in the first segmented control of the page's first expander (QCI: the first
    practice's intention; Gartner: the first block's current level). Expanding does not rerun the page, and a
    score stays in the session until the user saves: nothing is written."""
    def find(page):
        expander = page.locator(MAIN).locator("details").first
        summary = expander.locator("summary")
        if expander.get_attribute("open", timeout=FIND_MS) is None:
            summary.click(timeout=FIND_MS)
        return expander.get_by_role("radiogroup").first.get_by_role("radio", checked=False).first
    return find


def button(label: str, expander: str | None = None):
    """The page's button ``label``, inside the expander whose title starts with ``expander`` (opened first:
    opening one does not rerun the page)."""
    def find(page):
        scope = page.locator(MAIN)
        if expander is not None:
            scope = scope.locator("details").filter(has=page.locator("summary", has_text=expander)).first
            if scope.get_attribute("open", timeout=FIND_MS) is None:
                scope.locator("summary").click(timeout=FIND_MS)
        return scope.get_by_role("button", name=label)
    return find


def tab(label: str):
    """The page's tab ``label`` (ui.widgets.page_tabs: a click reruns the tabs, which draw that tab only)."""
    def find(page):
        target = page.locator(MAIN).get_by_role("tab", name=label, exact=True)
        if target.get_attribute("aria-selected", timeout=FIND_MS) == "true":
            raise LookupError(f"the tab {label!r} is open already: clicking it changes nothing")
        return target
    return find


def tabs(*labels: str) -> list:
    return [(f"Tab: {label}", tab(label)) for label in labels]


WIDGETS = {  # page: [(label in the JSON, finder)], in the order a user would change them; a widget inside a tab
    # is changed with its tab open (the page opens on its first tab)
    "portfolio": [*tabs("RFM segments", "Value × cost to serve", "Top customers"),
                  ("Customer to look into", selectbox("Customer to look into", nth=1)), *tabs("Concentration")],
    "differentiate": [("Number of segments", selectbox("Number of segments", option="4 segments")),
                      *tabs("CLV tiers", "Interact", "Customize"),
                      ("Customer list of", selectbox("Customer list of", nth=1)),
                      *tabs("Differentiate")],
    "retention": [("Cohort measure", radio("Cohort measure")), ("Cohort period", radio("Cohort period")),
                  *tabs("Churn & survival", "Lifetime value", "Holdout check"),
                  ("Holdout length (months)", selectbox("Holdout length (months)", option="3")), *tabs("Cohorts")],
    "qci": [("Intention, first practice", first_segment())],
    "gartner": [("Current level, first block", first_segment())],
    "models": [("CRM model", radio("CRM model", nth=1))],
    # the rate editor's two buttons (the app writes to a copy of --db): saving reprices every customer's cost
    # to serve and drops the kept results, so the page is computed again
    "cost_to_serve": [*tabs("Segments & channels", "Profitability", "Most costly customers", "Cost pools"),
                      ("Reset rates to defaults", button("Reset to defaults", "Cost rates")),
                      ("Save rates", button("Save rates", "Cost rates"))],
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def change(page, name: str, label: str, find, timeout_ms: float, shots: Path | None,
           parts: dict | None = None) -> float | None:
    """Seconds of one widget change, or None (reason on stderr): a missing widget does not stop the bench.
    ``parts``: where its time went is put there under ``label`` (``--breakdown``)."""
    try:
        page.wait_for_selector(READY, timeout=timeout_ms)
        target = find(page)
        target.wait_for(state="visible", timeout=FIND_MS)
        # Playwright's checks before a click (visible, stable: an expander that has just opened is still
        # moving, enabled) happen before the timer starts: a user waits for them too before clicking; and so does
        # the scroll that brings the widget into view (a user scrolls to a button before clicking it): a trial click
        # does not scroll, and the click's own scroll and checks after it added ~0.4 s to the Cost page's Reset,
        # the first click in the rate editor's expander below the fold (seen in the page's events: 0.4 s from the
        # timer's start to the button's pointerdown, 0.01 s from there to the websocket's message)
        target.scroll_into_view_if_needed(timeout=FIND_MS)
        target.click(trial=True, timeout=FIND_MS)
        seconds, where = timed_parts(page, lambda: target.click(timeout=FIND_MS), timeout_ms)
        if parts is not None and where is not None:
            parts[label] = where
    except Exception as exc:  # noqa: BLE001 - recorded as null
        print(f"{name}: {label!r} not measured: {type(exc).__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr, flush=True)
        with contextlib.suppress(Exception):  # the page is gone: the next change reports it
            page.keyboard.press("Escape")  # a list left open would catch the next click
        return None
    if shots is not None:
        page.screenshot(path=str(shots / f"{name}_{slug(label)}.png"))
    return round(seconds, 2)


FILTERS = ("Region", "Segment", "Owner", "Channel", "Period")  # the sidebar's filters (app.py's filters_panel)
# the quick periods timed, one a page in turn (crm_core.views.PREPARED_PERIODS: prepared ahead), and the default
PERIODS, WHOLE = ("Last 12 months", "Last 6 months", "Last 3 months"), "Whole history"


def sidebar_filter(browser, url: str, name: str, nth: int, timeout_ms: float, label: str = "Region") -> dict:
    """The sidebar filter ``label`` on page ``name``: its ``nth`` value (counted in turn) chosen, then cleared."""
    line = {"page": name, "filter": label.lower(), "value": None, "seconds": None, "filter_cleared": None}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        render(page, f"{url}/{name}", timeout_ms)
        box = page.locator(SIDEBAR).get_by_role("combobox", name=label, exact=True)
        values = open_list(page, box).filter(has_not_text="Select all")  # the list starts with "Select all"
        chosen = (values.filter(has_text=PERIODS[nth % len(PERIODS)]) if label == "Period"
                  else values.nth(nth % values.count()))
        line["value"] = chosen.inner_text(timeout=FIND_MS).strip()

        def choose():
            chosen.click(timeout=FIND_MS)
            page.keyboard.press("Escape")  # a multiselect's list stays open for more values
        seconds, where = timed_parts(page, choose, timeout_ms)
        line["seconds"] = round(seconds, 2)
        if where is not None:
            line["breakdown"] = where
        if label == "Period":  # back to the whole history
            def clear():
                open_list(page, box).filter(has_text=WHOLE).click(timeout=FIND_MS)
        else:
            def clear():
                page.locator(SIDEBAR).get_by_role("button", name=f"Remove {line['value']}", exact=True).click(
                    timeout=FIND_MS)
        line["filter_cleared"] = round(timed(page, clear, timeout_ms), 2)
    except Exception as exc:  # noqa: BLE001 - recorded as null
        print(f"{label} filter not measured: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr,
              flush=True)
    finally:
        page.close()
    return line


PREPARED = "views of dataset"  # ui.data.prepare_in_background's log line when the work is done


def prepared_again(log: Path, before: int, since: float, timeout_s: float) -> float | None:
    """Seconds from ``since`` (the rate save's page drawn) until the server logged that the background
    preparation after it was done; None past ``timeout_s``."""
    deadline = since + timeout_s
    while time.monotonic() < deadline:
        lines = [x for x in log.read_text().splitlines() if PREPARED in x and "prepared " in x]
        if len(lines) > before:
            return round(time.monotonic() - since, 1)
        time.sleep(0.5)
    print("background preparation not done within the timeout", file=sys.stderr, flush=True)
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    # Cost to serve last: its Save and Reset write new rates, after which the priced views are prepared
    # again in the background; pages opened meanwhile would share the two cores with that work
    ap.add_argument("--pages", nargs="+",
                    default=["portfolio", "differentiate", "retention", "qci", "gartner", "models", "review",
                             "cost_to_serve"])
    ap.add_argument("--timeout", type=float, default=300, help="seconds a page may take")
    ap.add_argument("--filters", nargs="*", choices=[f.lower() for f in FILTERS], type=str.lower,
                    help="also time these sidebar filters on each page (region when none is named)")
    ap.add_argument("--shots", type=Path, help="folder for a screenshot after each widget change")
    ap.add_argument("--breakdown", action="store_true",
                    help="also the server's CPU seconds and the browser's long tasks of each change")
    args = ap.parse_args(argv)
    global _server_pid
    from playwright.sync_api import sync_playwright

    if args.shots is not None:
        args.shots.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.TemporaryDirectory()
    db = Path(tmp.name) / "crm.duckdb"
    log = Path(tmp.name) / "server.log"
    shutil.copy(args.db, db)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "CRM_LENS_DB": str(db), "CRM_LENS_LOG_LEVEL": "INFO"},
        stdout=subprocess.DEVNULL, stderr=open(log, "w"),  # noqa: SIM115 - closed with the process
    )
    _server_pid = proc.pid if args.breakdown else None
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
                prepared_before = sum(PREPARED in x and "prepared " in x for x in log.read_text().splitlines())
                parts: dict = {}
                widgets = {label: change(again, name, label, find, timeout_ms, args.shots, parts)
                           for label, find in WIDGETS.get(name, [])}
                changed = time.monotonic()
                again.close()
                line = {"page": name, "first_render_s": round(cold, 2), "cached_render_s": round(warm, 2),
                        "rerun_s": round(reruns[1], 2), "widgets": widgets}
                if args.breakdown:
                    line["breakdown"] = parts
                if name == "cost_to_serve" and widgets.get("Save rates") is not None:
                    line["prepared_again_s"] = prepared_again(log, prepared_before, changed, args.timeout)
                print(json.dumps(line), flush=True)
            if args.filters is not None:
                for label in [f for f in FILTERS if f.lower() in (args.filters or ["region"])]:
                    for nth, name in enumerate(args.pages):
                        print(json.dumps(sidebar_filter(browser, url, name, nth, timeout_ms, label)), flush=True)
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
