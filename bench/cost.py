"""Speed and memory of the windowed customer facts and the cost to serve at scale.

Generates the sample company (``crm_core.sample.generate``), loads it with ``Store.load`` into a
temporary DuckDB file (which also builds the stored customer_facts with cost to serve), then times:

* ``facts_all_time``      windowed facts over the whole history (``crm_core.metrics.facts.customer_facts``)
* ``facts_window``        windowed facts over the last 12 months, one region
* ``cost_to_serve``       cost to serve per customer over the last 12 months
* ``cost_by_segment``     cost_by(..., "segment") over the last 12 months
* ``set_rates``           saving new rates, which rebuilds the stored customer_facts

and prints one JSON line per step: {"step", "seconds", "peak_mb", "rss_mb", "rows", ...}.

The generator's shape fixes about 26 transactions per customer, so ``--customers`` defaults to
``--transactions / 26`` (1,000,000 transactions -> 38,461 customers); give ``--customers`` to override,
and the line of the ``generate`` step reports the rows actually drawn.

peak_mb is the peak resident set size during the step minus the resident size before it (sampled every
5 ms from /proc/self/statm, so DuckDB's native memory counts, which tracemalloc cannot see); rss_mb is the
process's resident size at the step's peak.

    python bench/cost.py --transactions 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_core import sample  # noqa: E402
from crm_core.metrics import cost  # noqa: E402
from crm_core.metrics.facts import customer_facts  # noqa: E402
from crm_core.metrics.scope import Scope  # noqa: E402
from crm_core.store import Store, TableLoad  # noqa: E402

TRANSACTIONS_PER_CUSTOMER = 26  # what sample.generate draws on average
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE_MB


@contextmanager
def measure(step: str, **extra):
    """Time a block and sample its peak resident memory; print one JSON line at the end."""
    out: dict = {"rows": None}
    start_rss = _rss_mb()
    peak = [start_rss]
    done = threading.Event()

    def sample_rss():
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_mb())

    watcher = threading.Thread(target=sample_rss, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        seconds = time.perf_counter() - t0
        done.set()
        watcher.join()
        peak[0] = max(peak[0], _rss_mb())
        line = {"step": step, "seconds": round(seconds, 3), "peak_mb": round(peak[0] - start_rss, 1),
                "rss_mb": round(peak[0], 1), **extra, **out}
        print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000, help="target number of transactions")
    parser.add_argument("--customers", type=int, default=None,
                        help=f"customers to generate (default: transactions / {TRANSACTIONS_PER_CUSTOMER})")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    args = parser.parse_args(argv)
    customers = args.customers or max(1, args.transactions // TRANSACTIONS_PER_CUSTOMER)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.duckdb"
        with measure("generate", customers=customers) as out:
            frames = sample.generate(customers=customers, seed=args.seed)
            out["rows"] = {name: f.height for name, f in frames.items()}
        with Store(path) as store:
            with measure("load") as out:
                loads = [TableLoad(n, f, file_name=f"bench:{n}", rows_read=f.height) for n, f in frames.items()]
                result = store.load("bench", loads)
                out["rows"] = store.scalar("SELECT COUNT(*) FROM customer_facts WHERE dataset_id = ?",
                                           [result.dataset_id])
            del frames, loads
            ds = result.dataset_id
            last = store.scalar("SELECT MAX(occurred_at)::DATE FROM purchases WHERE dataset_id = ?", [ds])
            year = Scope(ds, start=last - timedelta(days=364), end=last)
            region = store.scalar(
                "SELECT region FROM customers WHERE dataset_id = ? GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1", [ds]
            )

            with measure("facts_all_time") as out:
                out["rows"] = customer_facts(store, Scope(ds)).height
            with measure("facts_window", window=f"{year.start}..{year.end}", region=region) as out:
                out["rows"] = customer_facts(store, Scope(ds, start=year.start, end=year.end,
                                                          regions=(region,))).height
            with measure("cost_to_serve", window=f"{year.start}..{year.end}") as out:
                out["rows"] = cost.cost_to_serve(store, year).height
            with measure("cost_by_segment") as out:
                out["rows"] = cost.cost_by(store, year, "segment").height
            with measure("set_rates") as out:
                cost.set_rates(store, ds, cost.default_rates().with_columns(rate=cost.default_rates()["rate"] * 1.1))
                out["rows"] = store.scalar("SELECT COUNT(*) FROM customer_facts WHERE dataset_id = ?", [ds])


if __name__ == "__main__":
    main()


