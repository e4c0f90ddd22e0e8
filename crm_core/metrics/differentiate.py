"""IDIC *Differentiate*: the features segments are built from, and a segmentation of a scope.

Features per customer (DESIGN §7): recency, frequency (purchase days), monetary (revenue) and tenure from
the windowed customer facts, cost to serve from the same pass, predictive CLV when the purchase history
supports a fit, and the channel mix of completed purchases.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from crm_core.metrics import clv, facts
from crm_core.metrics.scope import Scope
from crm_core.models.segments import KMeansSegmenter, channel_mix


def segment_features(store, scope: Scope, *, with_clv: bool = True) -> pl.DataFrame:
    """One row per customer who bought in the scope: customer_id, recency_days, frequency, monetary,
    tenure_days, cost_to_serve, clv (when it can be fitted) and ``share_<channel>`` columns."""
    per_customer = facts.customer_facts(store, scope).filter(pl.col("purchases") > 0)
    frame = per_customer.select(
        "customer_id",
        pl.col("recency_days").cast(pl.Float64),
        pl.col("purchases").cast(pl.Float64).alias("frequency"),
        pl.col("revenue").alias("monetary"),
        pl.col("tenure_days").cast(pl.Float64),
        pl.col("cost_to_serve"),
    )
    if with_clv and frame.height:
        as_of = per_customer["as_of"].max()
        as_of = as_of.date() if not isinstance(as_of, date) or hasattr(as_of, "hour") else as_of
        try:
            fitted = clv.fit_clv(store, scope, as_of)
        except clv.ClvError:
            fitted = None  # too little history for a model: segments are built without CLV
        if fitted is not None:
            frame = frame.join(fitted.frame.select("customer_id", "clv"), on="customer_id", how="left")
    mix = channel_mix(store, scope)
    if mix.height and mix.width > 1:
        frame = frame.join(mix, on="customer_id", how="left").with_columns(
            pl.col(c).fill_null(0.0) for c in mix.columns if c != "customer_id"
        )
    return frame


def segment(store, scope: Scope, k: int | str = "auto", *, seed: int = 42) -> KMeansSegmenter:
    """Fit k-means segments on the scope's customers (``k="auto"``: chosen by silhouette in 2..8)."""
    return KMeansSegmenter(k=k, seed=seed).fit(segment_features(store, scope))
