"""Speed and memory of predictive CLV end to end: transactions in a store → SQL summary → BG/NBD + Gamma-Gamma.

Simulates N customers' transactions from the CDNOW BG/NBD + Gamma-Gamma estimates (Fader, Hardie & Lee 2005; Hardie,
Gamma-Gamma note; weeks and dollars) over two years of whole-day dates, loads them into a temporary Store, then times
``rfm_summary`` (DuckDB SQL), the two model fits, scoring (``fit_clv_from_summary``) and ``fit_clv`` end to end.
Prints one JSON line per step:

    {"step": ..., "seconds": ..., "peak_mb": ..., "rss_mb": ..., "rows": ...}

peak_mb is the peak of Python/numpy memory allocated during the step (tracemalloc; DuckDB's and Polars' own buffers
are not traced); rss_mb is the peak resident set size of the whole process so far, which includes them.

    python bench/clv.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import measure  # noqa: E402  (bench/measure.py: run as python bench/<script>.py)

from crm_core.metrics.clv import fit_clv, fit_clv_from_summary, rfm_summary  # noqa: E402
from crm_core.metrics.scope import Scope  # noqa: E402
from crm_core.models.bgnbd import BetaGeoModel  # noqa: E402
from crm_core.models.gamma_gamma import GammaGammaModel  # noqa: E402
from crm_core.store import Store, TableLoad  # noqa: E402

TRUE_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # per week
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}  # dollars
START = date(2023, 1, 1)
SPAN_DAYS = 730  # data run from START to START + 729 days
HOLDOUT_DAYS = 182  # 26 weeks


def simulate(n: int, seed: int) -> pl.DataFrame:
    """Transactions of n customers from the BG/NBD + Gamma-Gamma processes, vectorised with numpy.

    Each customer's first purchase falls at a uniform time in the first 21 months. While alive, repeat purchases
    follow a Poisson process (rate λ ~ Gamma(r, α) per week); after each repeat purchase the customer drops out with
    probability p ~ Beta(a, b). With N(T) ~ Poisson(λT) purchases in the observed age T and K ~ Geometric(p) repeat
    purchases until drop-out, x = min(N, K); the x-th of N uniform times on (0, T] is T · Beta(x, N − x + 1), and given
    it the first x − 1 are i.i.d. uniform below it. Transaction values are Gamma(p, ν), ν ~ Gamma(q, γ) per customer.
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = TRUE_BGNBD.values()
    p_, q_, v_ = TRUE_GG.values()
    start = rng.uniform(0.0, SPAN_DAYS - 90, n)  # first purchase, in days since START (continuous)
    T = (SPAN_DAYS - start) / 7.0  # weeks observed
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    n_alive = rng.poisson(lam * T)
    x = np.minimum(n_alive, rng.geometric(drop))
    has = x > 0
    last = np.where(has, T * rng.beta(np.maximum(x, 1), np.maximum(n_alive - x + 1, 1)), 0.0)
    owner = np.repeat(np.arange(n), x)
    t = rng.random(owner.shape[0]) * last[owner]
    ends = np.cumsum(x)[has] - 1
    t[ends] = last[has]  # the x-th purchase sits at the drawn last time
    day = np.concatenate([np.floor(start), np.floor(start[owner] + t * 7.0)]).astype(np.int64)
    day = np.minimum(day, SPAN_DAYS - 1)
    who = np.concatenate([np.arange(n), owner])
    nu = rng.gamma(q_, 1.0 / v_, n)
    amount = np.round(rng.gamma(p_, 1.0, who.shape[0]) / nu[who], 2)
    when = np.datetime64(START.isoformat(), "D") + day.astype("timedelta64[D]")
    return pl.DataFrame(
        {
            "customer_id": pl.Series(who).cast(pl.String),
            "occurred_at": pl.Series(when.astype("datetime64[us]")),
            "amount": amount,
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument("--time-unit", default="week", choices=("day", "week", "month"))
    args = parser.parse_args(argv)
    n = args.customers
    calibration_end = START + timedelta(days=SPAN_DAYS - 1 - HOLDOUT_DAYS)
    observation_end = START + timedelta(days=SPAN_DAYS - 1)
    tracemalloc.start()
    wall = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.duckdb") as store:
        info: dict = {}
        with measure("generate", n, info):
            frame = simulate(n, args.seed)
            info["transactions"] = frame.height

        info = {}
        with measure("load", frame.height, info):
            result = store.load("bench", [TableLoad("transactions", frame, file_name="bench")])
        scope = Scope(result.dataset_id)
        rows = frame.height
        del frame

        info = {}
        with measure("rfm_summary_sql", rows, info):
            summary = rfm_summary(store, scope, calibration_end, args.time_unit, observation_end)
            info["customers"] = summary.height

        x = summary["frequency"].cast(pl.Float64).to_numpy()
        tx, T, m = summary["recency"].to_numpy(), summary["T"].to_numpy(), summary["monetary_value"].to_numpy()
        aged = T > 0
        info = {}
        with measure("bgnbd_fit", summary.height, info):
            bg = BetaGeoModel().fit(x[aged], tx[aged], T[aged])
            info.update(unique_rows=bg.n_unique_, estimate={k: round(v, 4) for k, v in bg.params_.items()})

        info = {}
        with measure("gamma_gamma_fit", summary.height, info):
            gg = GammaGammaModel().fit(x, m)
            info.update(used=gg.n_customers_, unique_rows=gg.n_unique_,
                        estimate={"p": round(gg.p_, 4), "q": round(gg.q_, 4), "v": round(gg.v_, 4)})

        info = {}
        with measure("fit_clv_from_summary", summary.height, info):
            res = fit_clv_from_summary(summary, calibration_end=calibration_end, observation_end=observation_end,
                                       time_unit=args.time_unit)
            info.update(mean_clv=round(float(res.frame["clv"].mean()), 2),
                        holdout_actual=res.holdout.actual_total,
                        holdout_predicted=round(res.holdout.predicted_total, 1),
                        holdout_relative_error=round(res.holdout.relative_error, 4))

        info = {}
        with measure("fit_clv_end_to_end", rows, info):
            res = fit_clv(store, scope, calibration_end, args.time_unit, observation_end=observation_end)
            info["customers"] = res.customers

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"step": "wall_clock", "seconds": round(time.perf_counter() - wall, 3), "rss_mb": round(rss, 1),
                      "rows": n}), flush=True)


if __name__ == "__main__":
    main()
