"""What a new analysis window costs each page, on a database of any size (server side, no browser).

    python bench/window.py --db /path/to/crm.duckdb [--days 200] [--end-back 0] [--dwell 0] [--pages portfolio ...]

Runs the app in Streamlit's AppTest on a COPY of ``--db`` (the app writes kept results), sets the sidebar's
analysis window to the last ``--days`` days of the data on the first page, then opens the others, and prints one
JSON line: ``{"window": "START..END", "dwell": seconds, "<page>": seconds, "<page>_rerun": seconds, ...}``: each
page's script run from the window change (or from opening it) to its end, computing what that window needs, then a
rerun (what any widget change after it costs at least on the server). The first page pays for what the pages share
(the window's customer facts). A window that keeps the end and moves the start is the usual change; the default
scope's kept results (``python -m crm_core prepare``) are what it may reuse. ``prepare`` keeps the last 12 months
as well, so ``--days 365`` (366 across a leap day) times that read; the default, 200 days, is dates nobody
prepared. ``--end-back D`` ends the window D days before the last day: the CLV models are fitted at the new end
(and the churn rule read there from the kept gap counts). ``--dwell S`` waits S seconds before opening each next page, as a user reading the page: the app keeps
the window's other pages meanwhile, in the background (``ui.data.prepare_scope_in_background``).
bench/pages.py times the pages in a real browser.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--days", type=int, default=200, help="length of the new window, ending on the last day")
    ap.add_argument("--end-back", type=int, default=0,
                    help="end the window this many days before the data's last day (its CLV models and churn rule "
                         "are then the new end's)")
    ap.add_argument("--pages", nargs="+", default=["portfolio", "retention", "differentiate", "cost_to_serve"])
    ap.add_argument("--timeout", type=float, default=900, help="seconds a page may take")
    ap.add_argument("--dwell", type=float, default=0.0,
                    help="seconds a user reads each page before opening the next (the app keeps the window's other "
                         "pages meanwhile, in the background); 0 opens them at once")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    db = Path(tmp.name) / "crm.duckdb"
    shutil.copy(args.db, db)
    os.sync()  # the copy's write-back would otherwise slow the first page down
    os.environ["CRM_LENS_DB"] = str(db)
    os.environ.setdefault("CRM_LENS_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from ui import data, state

    original = PagesManager.__init__

    def init(self, *a, **k):  # as tests/app/conftest.py: what st.navigation in app.py sets for good
        original(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=args.timeout)
    at.run()
    line: dict = {"dwell": args.dwell}
    try:
        for page in args.pages:
            if "window" not in line:
                at.switch_page(f"pages/{page}.py").run()
                _, last = at.date_input(key=state.FILTER_WINDOW).value
                last -= timedelta(days=args.end_back)
                first = last - timedelta(days=args.days - 1)
                line["window"] = f"{first}..{last}"
                start = time.perf_counter()
                at.date_input(key=state.FILTER_WINDOW).set_value((first, last)).run()
            else:
                time.sleep(args.dwell)
                start = time.perf_counter()
                at.switch_page(f"pages/{page}.py").run()
            line[page] = round(time.perf_counter() - start, 2)
            if at.exception:
                line[page + "_error"] = at.exception[0].value
            start = time.perf_counter()
            at.run()
            line[page + "_rerun"] = round(time.perf_counter() - start, 2)
    finally:
        data.stop_background()
        print(json.dumps(line), flush=True)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
