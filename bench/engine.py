"""The whole engine at scale: generate, load, then every metric and model, one JSON line per step.

    python bench/engine.py --customers 1000000 --transactions 10000000

Each line: {"step", "seconds", "peak_mb", "rows", ...}. ``peak_mb`` is the process's peak resident
memory so far (DuckDB's memory included). Targets (issue #3, 2 cores): customer facts within 3x a
bare DuckDB group-by over the same transactions (``ratio_to_bare``: count, sum, min, max;
``ratio_to_same_measures``: the same plus distinct purchase days, as the facts compute); BG/NBD +
Gamma-Gamma fit on 1M customers under 10 s; k-means with k selection on 1M customers under 30 s; peak
memory under 4 GB. ``customer_facts_default_scope_read`` is what the pages read first (the stored facts of
the whole purchase span, no filters); ``customer_facts_all_time`` and ``_last_year`` compute the facts of
a window from the transactions. ``prepare_pages`` computes and keeps every page's default view, as an
import does.

The data: purchase counts follow heterogeneous Gamma rates (so a few customers buy a lot, as in a
real CRM) scaled to exactly ``--transactions``; each customer's purchases fall between an
acquisition date and a dropout date. The sample company's generator makes ~26 purchases per
customer; this one hits any ratio the arguments ask for.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_core import views  # noqa: E402
from crm_core.metrics import clv, cost, facts, portfolio, retention, satisfaction  # noqa: E402
from crm_core.metrics.scope import Scope  # noqa: E402
from crm_core.models.segments import KMeansSegmenter  # noqa: E402
from crm_core.store import Store, TableLoad  # noqa: E402

END = datetime(2026, 9, 30)
DAYS = 3 * 365
REGIONS = np.array(["North America", "Europe", "Asia-Pacific", "Latin America"])
SEGMENTS = np.array(["Enterprise", "Mid-market", "SMB", "Consumer"])
CHANNELS = np.array(["Online", "Store", "Phone", "Partner"])
CATEGORIES = np.array(["Footwear", "Apparel", "Camping", "Climbing", "Packs", "Accessories"])
KINDS = np.array(["call", "email", "meeting", "visit", "chat", "ticket"])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def emit(step: str, seconds: float, rows: int, **extra) -> None:
    print(json.dumps({"step": step, "seconds": round(seconds, 3), "peak_mb": round(peak_mb()), "rows": rows, **extra}),
          flush=True)


@contextmanager
def timed():
    box = {}
    t = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - t


def ids(prefix: str, n: int) -> pl.Series:
    width = len(str(n))
    return pl.select(pl.format(prefix + "{}", pl.int_range(1, n + 1, eager=False).cast(pl.String).str.zfill(width))
                     ).to_series()


def generate(customers: int, transactions: int, seed: int) -> dict[str, pl.DataFrame]:
    """Customers, transactions, interactions and feedback, vectorised with numpy."""
    rng = np.random.default_rng(seed)
    n, m = customers, transactions
    born = rng.uniform(0, DAYS - 1, n)  # acquisition day
    life = np.minimum(DAYS - born, rng.exponential(DAYS * 0.6, n))  # days until dropout
    rate = rng.gamma(0.6, 1.0, n) * np.maximum(life, 1.0)
    counts = rng.multinomial(m - n, rate / rate.sum()) + 1  # everyone buys once; the rest by rate
    owner = np.repeat(np.arange(n), counts)
    day = born[owner] + rng.uniform(0, 1, m) * life[owner]
    first = np.r_[0, np.cumsum(counts)[:-1]]
    day[first] = born  # the first purchase on the acquisition day
    cust_id = ids("C", n)
    pref = rng.integers(0, len(CHANNELS), n)
    channel = np.where(rng.random(m) < 0.8, pref[owner], rng.integers(0, len(CHANNELS), m))
    spend = rng.gamma(4.0, 1.0, n) * 25
    amount = np.round(rng.gamma(6.0, 1.0, m) / 6.0 * spend[owner], 2)
    status = np.where(rng.random(m) < 0.03, "refunded", np.where(rng.random(m) < 0.015, "cancelled", "completed"))
    start = END - timedelta(days=DAYS)
    tx = pl.DataFrame({
        "transaction_id": ids("T", m),
        "customer_id": cust_id.gather(owner),
        "occurred_at": pl.Series((day * 86_400_000_000).astype("int64")).cast(pl.Duration("us")) + start,
        "amount": amount,
        "cost": np.round(amount * rng.uniform(0.55, 0.7, m), 2),
        "category": CATEGORIES[rng.integers(0, len(CATEGORIES), m)],
        "channel": CHANNELS[channel],
        "status": status,
    }).with_columns(  # a few distinct values each: 4 bytes a row instead of a 16-byte string view
        pl.col("category", "channel", "status").cast(pl.Categorical)
    )
    customers_frame = pl.DataFrame({
        "customer_id": cust_id,
        "region": REGIONS[rng.integers(0, len(REGIONS), n)],
        "segment": SEGMENTS[rng.integers(0, len(SEGMENTS), n)],
        "owner": np.char.add("Owner ", rng.integers(1, 9, n).astype(str)),
        "created_at": pl.Series((born * 86_400_000_000).astype("int64")).cast(pl.Duration("us")) + start,
    })
    k = m // 5  # one interaction per five purchases
    who = rng.integers(0, n, k)
    interactions = pl.DataFrame({
        "customer_id": cust_id.gather(who),
        "occurred_at": pl.Series(((born[who] + rng.uniform(0, 1, k) * life[who]) * 86_400_000_000).astype("int64"))
        .cast(pl.Duration("us")) + start,
        "kind": KINDS[rng.integers(0, len(KINDS), k)],
        "duration_minutes": np.round(rng.gamma(2.0, 8.0, k), 1),
    })
    f = n // 3
    answer = rng.integers(0, n, f)
    feedback = pl.DataFrame({
        "customer_id": cust_id.gather(answer),
        "responded_at": pl.Series(((born[answer] + rng.uniform(0, 1, f) * life[answer]) * 86_400_000_000)
                                  .astype("int64")).cast(pl.Duration("us")) + start,
        "nps": rng.integers(0, 11, f).astype(np.int32),
        "csat": rng.integers(1, 6, f).astype(np.int32),
    })
    return {"customers": customers_frame, "transactions": tx, "interactions": interactions, "feedback": feedback}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--transactions", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", default=None, help="database file (default: a temporary one)")
    args = ap.parse_args(argv)
    if args.transactions < args.customers:
        ap.error("--transactions must be at least --customers (everyone buys once)")

    with timed() as t:
        frames = generate(args.customers, args.transactions, args.seed)
    emit("generate", t["seconds"], args.transactions)

    tmp = tempfile.TemporaryDirectory()
    store = Store(args.db or Path(tmp.name) / "bench.duckdb")
    with timed() as t:
        result = store.load("bench", [TableLoad(name, f, f"{name}.parquet") for name, f in frames.items()])
    emit("load_and_stored_facts", t["seconds"], args.transactions)
    del frames
    scope = Scope(result.dataset_id)
    year = Scope(result.dataset_id, start=date(2025, 10, 1), end=date(2026, 9, 30))

    with timed() as t:
        bare = store.query(
            "SELECT customer_id, COUNT(*) AS n, SUM(amount) AS revenue, MIN(occurred_at) AS first, "
            "MAX(occurred_at) AS last FROM transactions WHERE dataset_id = ? GROUP BY customer_id",
            [result.dataset_id],
        )
    bare_s = t["seconds"]
    emit("bare_group_by", bare_s, bare.height)
    with timed() as t:  # the same purchase measures as the facts: distinct purchase days included
        same = store.query(
            "SELECT customer_id, COUNT(DISTINCT CAST(occurred_at AS DATE)), COUNT(*), SUM(amount), "
            "MIN(occurred_at), MAX(occurred_at) FROM transactions WHERE dataset_id = ? GROUP BY customer_id",
            [result.dataset_id],
        )
    same_s = t["seconds"]
    emit("bare_group_by_same_measures", same_s, same.height)
    del bare, same

    def ratios(seconds: float) -> dict:
        return {"ratio_to_bare": round(seconds / bare_s, 2), "ratio_to_same_measures": round(seconds / same_s, 2)}

    default = facts.default_scope(store, result.dataset_id)
    with timed() as t:  # what the pages read first: the stored facts of the default scope
        per_customer = facts.customer_facts(store, default)
    emit("customer_facts_default_scope_read", t["seconds"], per_customer.height, **ratios(t["seconds"]))
    with timed() as t:  # the same facts computed from the transactions (an open window is not stored)
        per_customer = facts.customer_facts(store, scope)
    emit("customer_facts_all_time", t["seconds"], per_customer.height, **ratios(t["seconds"]))
    with timed() as t:
        windowed = facts.customer_facts(store, year)
    emit("customer_facts_last_year", t["seconds"], windowed.height, **ratios(t["seconds"]))
    with timed() as t:
        store.rebuild_facts(result.dataset_id)
    emit("stored_facts_rebuild", t["seconds"], per_customer.height)

    with timed() as t:
        prepared = views.warm(store, result.dataset_id)
    emit("prepare_pages", t["seconds"], len(prepared), slowest=max(prepared, key=prepared.get) if prepared else None)

    buyers = windowed.filter(pl.col("purchases") > 0)
    with timed() as t:
        portfolio.portfolio_summary(buyers)
        portfolio.rfm_segments(portfolio.rfm_scores(buyers))
    emit("portfolio", t["seconds"], buyers.height)

    for name, call in (
        ("cohorts_month", lambda: retention.cohort_matrix(store, year, "month").cells),
        ("churn", lambda: retention.churn(store, year)),
        ("survival", lambda: retention.survival_curve(store, scope)),
        ("revenue_retention", lambda: retention.revenue_retention(store, scope, "quarter")),
        ("cost_to_serve", lambda: cost.cost_to_serve(store, year)),
        ("satisfaction", lambda: satisfaction.satisfaction_summary(store, year)),
    ):
        with timed() as t:
            out = call()
        emit(name, t["seconds"], getattr(out, "height", 1))

    with timed() as t:
        summary = clv.rfm_summary(store, scope, date(2026, 3, 31))
    emit("clv_summary_sql", t["seconds"], summary.height)
    with timed() as t:
        fitted = clv.fit_clv_from_summary(summary, calibration_end=date(2026, 3, 31))
    emit("bgnbd_gamma_gamma_fit_and_score", t["seconds"], fitted.customers,
         r=round(fitted.bgnbd.r_, 4), p=round(fitted.gamma_gamma.p_, 4))

    features = per_customer.filter(pl.col("purchases") > 0).select(
        "customer_id", pl.col("recency_days").cast(pl.Float64), pl.col("purchases").cast(pl.Float64).alias("frequency"),
        pl.col("revenue").alias("monetary"), pl.col("tenure_days").cast(pl.Float64), "cost_to_serve",
    )
    with timed() as t:
        model = KMeansSegmenter().fit(features)
    emit("kmeans_k_auto", t["seconds"], features.height, k=model.k_)
    store.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
