"""Many sessions browsing while one imports: errors seen (must be 0) and page times, as JSON lines.

    python bench/concurrency.py [--sessions 10] [--customers 3000] [--timeout 300]

Starts the app on a free port with a fresh database (the sample company loads on the first visit), then opens
one headless Chromium (Debian's /usr/bin/chromium) with ``--sessions`` browsing contexts — separate Streamlit
sessions, as separate people would be — that walk the analysis pages round and round, while one more session
imports a sample export through the Data page (upload, new dataset, Import). The import goes through the app
because DuckDB allows one read-write process per database file and the app holds it: a CLI import against the
same file would be refused while the app runs (that is the deployment we support: the app is the one writer;
``python -m crm_core import`` is for a store no app has open).

A session counts an error for any exception box, error alert, or page that does not finish within the timeout.
Output, one JSON line each: one per browsing session, the import, and the summary
(``{"summary": true, "sessions": 10, "page_views": …, "errors": 0, "p50_s": …, "p95_s": …, "max_s": …}``).
Exit code 1 when any error was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import ARGS, READY, free_port, healthy  # noqa: E402  (bench/pages.py)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# URL paths of the pages; the Data page is the default page, served at "/" ("/data" is "page not found")
WALK = ["portfolio", "differentiate", "retention", "cost_to_serve", "qci", "gartner", "models", "review", ""]
ERRORS = ('[data-testid="stException"], [data-testid="stAlertContentError"], '
          '[role="dialog"]:has-text("Page not found")')
SHOT_ON_FAILURE = os.environ.get("CRM_LENS_BENCH_SHOT")  # screenshot of the importer's page if it fails


async def settle(page, timeout_ms: float) -> None:
    """Wait until the script has run to the end with no spinner or running status left."""
    await page.wait_for_selector(READY, timeout=timeout_ms)
    while await page.locator('[data-testid="stSpinner"]').count():
        await page.wait_for_timeout(100)
        await page.wait_for_selector(READY, timeout=timeout_ms)
    await page.wait_for_timeout(200)
    await page.wait_for_selector(READY, timeout=timeout_ms)


async def errors_on(page) -> list[str]:
    return [(await e.inner_text())[:200] for e in await page.locator(ERRORS).all()]


async def browse(browser, url: str, n: int, stop: asyncio.Event, timeout_ms: float, offset: int) -> dict:
    """One session walking the pages (each starts at another page) until ``stop`` is set, then one more page."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    times, errors, views = [], [], 0
    i = offset
    while True:
        name = WALK[i % len(WALK)]
        i += 1
        start = time.perf_counter()
        try:
            await page.goto(f"{url}/{name}")
            name = name or "data"
            await settle(page, timeout_ms)
            times.append(time.perf_counter() - start)
            errors += [f"{name}: {e}" for e in await errors_on(page)]
        except Exception as exc:  # noqa: BLE001 - a timeout or a crashed page is an error of this bench
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        views += 1
        if stop.is_set() and views >= len(WALK):
            break
    await context.close()
    return {"session": n, "page_views": views, "errors": len(errors), "error_texts": errors[:5],
            "median_s": round(statistics.median(times), 2) if times else None,
            "max_s": round(max(times), 2) if times else None, "_times": times}


async def importer(browser, url: str, file: Path, dataset: str, timeout_ms: float, stop: asyncio.Event,
                   delay_s: float) -> dict:
    """Upload ``file`` on the Data page into a new dataset and import it; sets ``stop`` when done."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    errors: list[str] = []
    seconds = None
    step = "start"
    try:
        await asyncio.sleep(delay_s)  # the others are browsing by now
        step = "open the Data page"
        await page.goto(f"{url}/")
        await settle(page, timeout_ms)
        step = "choose a new dataset"
        await page.get_by_text("A new dataset", exact=True).click()
        await settle(page, timeout_ms)
        step = "name the dataset"
        box = page.get_by_label("Name of the new dataset")
        await box.fill(dataset)
        await box.press("Enter")
        await settle(page, timeout_ms)
        step = "upload"  # last: a rerun while the file is still uploading would drop it
        await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(file))
        await page.get_by_text(f"{file.name} — ").first.wait_for(timeout=timeout_ms)  # prepared: its expander
        await settle(page, timeout_ms)
        step = "import"
        start = time.perf_counter()
        await page.get_by_role("button", name=f"Import into {dataset}").click()
        await page.get_by_text(f"Imported into {dataset}").first.wait_for(timeout=timeout_ms)
        seconds = time.perf_counter() - start
        await settle(page, timeout_ms)
        errors += await errors_on(page)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{step}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        if SHOT_ON_FAILURE:
            await page.screenshot(path=SHOT_ON_FAILURE)
    finally:
        stop.set()
        await context.close()
    return {"import": str(file.name), "dataset": dataset, "import_s": round(seconds, 2) if seconds else None,
            "errors": len(errors), "error_texts": errors[:5]}


async def run(url: str, sessions: int, file: Path, timeout_ms: float) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        warm = await browser.new_page()
        await warm.goto(f"{url}/")  # first visit: the sample company loads
        await settle(warm, timeout_ms)
        await warm.close()
        stop = asyncio.Event()
        tasks = [browse(browser, url, n, stop, timeout_ms, n) for n in range(sessions)]
        tasks.append(importer(browser, url, file, "Concurrent import", timeout_ms, stop, delay_s=5))
        results = await asyncio.gather(*tasks)
        await browser.close()
    return list(results)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10, help="browsing sessions besides the importing one")
    ap.add_argument("--customers", type=int, default=1000, help="customers in the imported sample export")
    ap.add_argument("--timeout", type=float, default=600, help="seconds a page may take")
    ap.add_argument("--log", default=None, help="keep the server's log in this file")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory()
    tmpdir = Path(tmp.name)
    subprocess.run([sys.executable, "-m", "crm_core", "sample", "--out", str(tmpdir / "exports"),
                    "--customers", str(args.customers), "--seed", "11"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    file = tmpdir / "exports" / "transactions.csv"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "CRM_LENS_USERS"}
    env["CRM_LENS_DB"] = str(tmpdir / "crm.duckdb")
    log = open(tmpdir / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    started = time.perf_counter()
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(json.dumps({"error": "the app did not start"}))
                return 1
            time.sleep(0.5)
        results = asyncio.run(run(url, args.sessions, file, args.timeout * 1000))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        server_errors = [ln.strip()[:200] for ln in (tmpdir / "streamlit.log").read_text().splitlines()
                         if " ERROR " in ln or "Traceback" in ln]
        if args.log:
            Path(args.log).write_text((tmpdir / "streamlit.log").read_text())
        tmp.cleanup()
    times = [t for r in results for t in r.pop("_times", [])]
    for r in results:
        print(json.dumps(r), flush=True)
    errors = sum(r["errors"] for r in results) + len(server_errors)
    q = statistics.quantiles(times, n=20) if len(times) >= 2 else [None] * 19
    print(json.dumps({
        "summary": True, "sessions": args.sessions, "importing_sessions": 1,
        "page_views": sum(r.get("page_views", 0) for r in results), "errors": errors,
        "server_log_errors": server_errors[:5], "p50_s": round(statistics.median(times), 2) if times else None,
        "p95_s": round(q[18], 2) if q[18] else None, "max_s": round(max(times), 2) if times else None,
        "wall_s": round(time.perf_counter() - started, 1),
    }), flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
