"""Speed and memory of the probabilistic customer models at scale.

Generates N synthetic customers from a known BG/NBD + Gamma-Gamma parameter set (the CDNOW estimates of Fader, Hardie
& Lee 2005 and Hardie 2013, in weeks and dollars), with purchase dates on whole days as the SQL summary produces them,
then fits both models and scores every customer. Prints one JSON line per step:

    {"step": ..., "seconds": ..., "peak_mb": ..., "rss_mb": ..., "rows": ..., ...}

peak_mb is the peak of memory allocated during the step (tracemalloc, numpy buffers included); rss_mb is the peak
resident set size of the whole process so far (resource.getrusage).

    python bench/models.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import measure  # noqa: E402  (bench/measure.py: run as python bench/<script>.py)

from crm_core.models.bgnbd import TIME_UNIT_DAYS, BetaGeoModel  # noqa: E402
from crm_core.models.gamma_gamma import GammaGammaModel  # noqa: E402

TRUE_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # per week
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}  # dollars


def simulate(n: int, seed: int, max_age_days: int = 730) -> dict[str, np.ndarray]:
    """Vectorised BG/NBD + Gamma-Gamma simulation (weeks as the model unit, dates on whole days).

    Given N(T) ~ Poisson(λT) purchases while alive and K ~ Geometric(p) repeat purchases until drop-out, the observed
    repeat count is x = min(N(T), K); the x-th of N(T) uniform purchase times on (0, T] sits at T · Beta(x, N−x+1).
    """
    rng = np.random.default_rng(seed)
    r, alpha, a, b = TRUE_BGNBD.values()
    p_, q_, v_ = TRUE_GG.values()
    T = rng.uniform(1.0, max_age_days, n) / 7.0  # continuous age in weeks
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    n_alive = rng.poisson(lam * T)
    x = np.minimum(n_alive, rng.geometric(drop))
    has = x > 0
    last = np.where(has, T * rng.beta(np.maximum(x, 1), np.maximum(n_alive - x + 1, 1)), 0.0)
    # Dates on whole days, as the SQL summary sees them: the first purchase happens at a uniform time of its day, and
    # ages are differences of day numbers.
    time_of_day = rng.random(n)
    T_days = np.maximum(np.floor(time_of_day + T * 7.0), 1.0)
    tx_days = np.minimum(np.floor(time_of_day + last * 7.0), T_days)
    nu = rng.gamma(q_, 1.0 / v_, n)
    zbar = np.where(has, rng.gamma(p_ * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), np.nan)
    return {"frequency": x.astype(np.float64), "recency": tx_days / 7.0, "T": T_days / 7.0,
            "monetary_value": np.round(zbar, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2005)
    args = parser.parse_args(argv)
    n = args.customers
    tracemalloc.start()
    total = time.perf_counter()

    with measure("generate", n, {}):
        data = simulate(n, args.seed)
    x, tx, T, m = data["frequency"], data["recency"], data["T"], data["monetary_value"]

    info: dict = {}
    with measure("bgnbd_fit", n, info):
        bg = BetaGeoModel().fit(x, tx, T)
        info.update(unique_rows=bg.n_unique_, estimate={k: round(v, 4) for k, v in bg.params_.items()},
                    true=TRUE_BGNBD)

    info = {}
    with measure("gamma_gamma_fit", n, info):
        gg = GammaGammaModel().fit(x, m)
        info.update(used=gg.n_customers_, excluded=gg.excluded_, unique_rows=gg.n_unique_,
                    estimate={"p": round(gg.p_, 4), "q": round(gg.q_, 4), "v": round(gg.v_, 4)}, true=TRUE_GG)

    with measure("probability_alive", n, {}):
        bg.probability_alive(x, tx, T)

    with measure("conditional_expected_purchases_39w", n, {}):
        bg.conditional_expected_purchases(39.0, x, tx, T)

    info = {}
    with measure("clv_12_months", n, info):
        clv = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=12, time_unit_days=TIME_UNIT_DAYS["week"],
                                         discount_rate=0.01)
        info["mean_clv"] = round(float(clv.mean()), 2)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"step": "wall_clock", "seconds": round(time.perf_counter() - total, 3),
                      "rss_mb": round(rss, 1), "rows": n}), flush=True)


if __name__ == "__main__":
    main()
