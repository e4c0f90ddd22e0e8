"""Speed and memory of the retention metrics (crm_core.metrics.retention) at scale.

Generates the sample company with N customers (crm_core.sample.generate, about 26 transactions per customer),
loads its customers and transactions into a temporary DuckDB file with Store.load, then times every retention
function on the whole history. Prints one JSON line per step:

    {"step": ..., "seconds": ..., "peak_mb": ..., "rows": ...}

peak_mb is the peak resident set size of the process during the step (sampled every 20 ms from /proc, so DuckDB's
native memory counts, unlike tracemalloc); rows is the size of the step's result (or of its input for generate/load).

    python bench/retention.py --customers 200000
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_core import sample  # noqa: E402
from crm_core.metrics import retention as ret  # noqa: E402
from crm_core.metrics.scope import Scope  # noqa: E402
from crm_core.store import Store, TableLoad  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


class _Peak:
    """Samples the resident set size in a background thread while a step runs."""

    def __init__(self, every: float = 0.02):
        self.every, self.peak, self._stop = every, 0.0, threading.Event()

    def __enter__(self):
        self.peak = _rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


@contextmanager
def measure(step: str):
    out: dict = {"rows": None}
    with _Peak() as peak:
        start = time.perf_counter()
        yield out
        seconds = time.perf_counter() - start
    line = {"step": step, "seconds": round(seconds, 3), "peak_mb": round(peak.peak, 1), **out}
    print(json.dumps(line, default=str), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit (other jobs share the machine)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        with measure("generate") as out:
            frames = sample.generate(customers=args.customers, seed=args.seed)
            tx = frames["transactions"]
            out["rows"] = tx.height
        store = Store(Path(tmp) / "bench.duckdb")
        store.con.execute(f"SET memory_limit = '{args.memory_limit}'")
        with measure("load") as out:
            res = store.load("bench", [TableLoad("customers", frames["customers"], "customers.csv"),
                                       TableLoad("transactions", tx, "transactions.csv")])
            out["rows"] = tx.height
        del frames, tx
        scope = Scope(dataset_id=res.dataset_id)

        with measure("cohort_matrix month customers") as out:
            out["rows"] = ret.cohort_matrix(store, scope, "month", "customers").cells.height
        with measure("cohort_matrix quarter revenue") as out:
            out["rows"] = ret.cohort_matrix(store, scope, "quarter", "revenue").cells.height
        with measure("repeat_purchase_rate") as out:
            out["value"] = round(ret.repeat_purchase_rate(store, scope), 4)
            out["rows"] = 1
        with measure("default_churn_window") as out:
            rule = ret.default_churn_window(store, scope)
            out["value"], out["rows"] = rule.days, rule.gaps
        with measure("churn") as out:
            c = ret.churn(store, scope, rule.days)
            out["value"], out["rows"] = round(c.churn_rate, 4), c.active_at_start
        with measure("churn_trend month") as out:
            out["rows"] = ret.churn_trend(store, scope, "month", rule.days).height
        with measure("lifetimes") as out:
            out["rows"] = ret.lifetimes(store, scope, rule.days).height
        with measure("survival_curve") as out:
            km, median = ret.survival_curve(store, scope, rule.days)
            out["value"], out["rows"] = median, km.n_customers_
        with measure("revenue_retention month") as out:
            out["rows"] = ret.revenue_retention(store, scope, "month").height
        with measure("retention_summary") as out:
            summary = ret.retention_summary(store, scope)
            out["rows"] = 1
            out["value"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()
                            if k != "churn_window_rule"}
        store.close()


if __name__ == "__main__":
    main()
