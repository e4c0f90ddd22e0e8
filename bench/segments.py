"""Speed and memory of k-means segmentation (crm_core.models.segments) at scale.

Generates N synthetic customers in four latent groups with lognormal value features (recency, frequency, monetary,
tenure, CLV, cost to serve) and a Dirichlet channel mix over three channels, then fits ``KMeansSegmenter`` with k
chosen by silhouette over k = 2..8 (DESIGN.md target: under 30 s for 1M customers on 2 cores), a forced-k fit and a
predict over all customers. Prints one JSON line per step:

    {"step": ..., "seconds": ..., "peak_mb": ..., "rss_mb": ..., "rows": ..., ...}

peak_mb is the peak of memory allocated during the step (tracemalloc, numpy buffers included); rss_mb is the peak
resident set size of the whole process so far (resource.getrusage).

    python bench/segments.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import measure  # noqa: E402  (bench/measure.py: run as python bench/<script>.py)

from crm_core.models.segments import KMeansSegmenter  # noqa: E402

# Latent groups: (weight, log-means of recency, frequency, monetary, tenure, clv, cost_to_serve)
GROUPS = (
    (0.15, (2.5, 2.3, 7.0, 6.5, 7.5, 4.0)),  # champions
    (0.35, (3.5, 1.2, 5.5, 6.0, 5.5, 3.0)),  # steady
    (0.20, (2.0, 0.3, 4.5, 3.0, 4.5, 2.5)),  # new
    (0.30, (5.8, 0.5, 4.0, 6.8, 2.0, 3.5)),  # dormant
)


def simulate(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    weights = np.array([w for w, _ in GROUPS])
    mu = np.array([m for _, m in GROUPS])
    group = rng.choice(len(GROUPS), n, p=weights)
    logs = mu[group] + rng.normal(0.0, 0.45, (n, mu.shape[1]))
    values = np.exp(logs)
    shares = rng.dirichlet([2.0, 1.0, 0.5], n)
    cols = ("recency_days", "frequency", "monetary", "tenure_days", "clv", "cost_to_serve")
    frame = pl.DataFrame({"customer_id": pl.int_range(0, n, eager=True).cast(pl.String).str.zfill(8)})
    frame = frame.with_columns(
        *[pl.Series(c, values[:, j]) for j, c in enumerate(cols)],
        pl.Series("share_web", shares[:, 0]), pl.Series("share_store", shares[:, 1]),
        pl.Series("share_phone", shares[:, 2]),
    )
    return frame.with_columns(pl.col("frequency").round(0).clip(1, None))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sample-size", type=int, default=20_000)
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip allocation tracing (its overhead)")
    args = parser.parse_args(argv)
    n = args.customers
    if not args.no_tracemalloc:
        tracemalloc.start()
    total = time.perf_counter()
    warnings.simplefilter("ignore")

    with measure("generate", n, {}):
        frame = simulate(n, args.seed)

    info: dict = {}
    with measure("fit_auto_k", n, info):
        model = KMeansSegmenter(sample_size=args.sample_size, seed=args.seed).fit(frame)
        info.update(k=model.k_, silhouette_by_k={k: round(v, 4) for k, v in model.silhouette_.items()},
                    segments=model.summary["segments"], sampled=model.sampled_)

    info = {}
    with measure("fit_k4", n, info):
        forced = KMeansSegmenter(k=4, sample_size=args.sample_size, seed=args.seed).fit(frame)
        info.update(segments=forced.summary["segments"])

    with measure("predict", n, {}):
        model.predict(frame)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"step": "wall_clock", "seconds": round(time.perf_counter() - total, 3),
                      "rss_mb": round(rss, 1), "rows": n}), flush=True)


if __name__ == "__main__":
    main()
