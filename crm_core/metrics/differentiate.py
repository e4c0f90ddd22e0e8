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


# The facts columns the features and the members' figures are made of: computed alone when the window's facts are
# not at hand (customer_facts(narrow=True)), so a window picked on this page does not wait for the other 31.
FACT_COLUMNS = ("as_of", "purchases", "recency_days", "revenue", "tenure_days", "cost_to_serve", "name", "region",
                "interactions")


def _buyer_facts(store, scope: Scope) -> pl.DataFrame:
    """:data:`FACT_COLUMNS` of the customers who bought in the window (customer_id order)."""
    return facts.customer_facts(store, scope, columns=FACT_COLUMNS, narrow=True).filter(
        pl.col("purchases").fill_null(0) > 0)


def segment_features(store, scope: Scope, *, with_clv: bool = True,
                     clv_frame: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per customer who bought in the scope: customer_id, recency_days, frequency, monetary,
    tenure_days, cost_to_serve, clv (when it can be fitted) and ``share_<channel>`` columns.

    ``clv_frame`` (customer_id, clv): a CLV fit of the scope at its facts' as-of day already made (the
    kept ``clv_fit`` view); without it the models are fitted here."""
    per_customer = _buyer_facts(store, scope)
    frame = per_customer.select(
        "customer_id",
        pl.col("recency_days").cast(pl.Float64),
        pl.col("purchases").cast(pl.Float64).alias("frequency"),
        pl.col("revenue").alias("monetary"),
        pl.col("tenure_days").cast(pl.Float64),
        pl.col("cost_to_serve"),
    )
    if with_clv and frame.height and clv_frame is not None:
        frame = frame.join(clv_frame.select("customer_id", "clv"), on="customer_id", how="left")
    elif with_clv and frame.height:
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


#: CLV tiers: customers ranked by predicted CLV, top 20 % / middle 60 % / bottom 20 %.
CLV_TIERS = ("Top 20%", "Middle 60%", "Bottom 20%")


def clv_tiers(frame: pl.DataFrame) -> pl.DataFrame:
    """Customers with a predicted CLV split by rank (best first, ties by customer_id) into :data:`CLV_TIERS`:
    the first round(0.2 n) are the top tier, the last round(0.2 n) the bottom tier."""
    n = frame.height
    ranked = frame.sort(["clv", "customer_id"], descending=[True, False], nulls_last=True).with_row_index("_rank")
    top, bottom = round(0.2 * n), n - round(0.2 * n)
    return ranked.with_columns(
        pl.when(pl.col("_rank") < top).then(pl.lit(CLV_TIERS[0]))
        .when(pl.col("_rank") < bottom).then(pl.lit(CLV_TIERS[1]))
        .otherwise(pl.lit(CLV_TIERS[2])).alias("clv_tier")
    ).drop("_rank")


def member_figures(store, scope: Scope, features: pl.DataFrame) -> pl.DataFrame:
    """:func:`member_details` without the contact data (email, phone): each customer's figures in the lists' order,
    from the scope's customer facts alone. What a segmentation adds up (CLV tiers, interaction intensity) and
    orders its labels by, without the contacts' read."""
    buyers = _buyer_facts(store, scope).select(
        "customer_id", "name", "region", "revenue", "purchases", "recency_days", "interactions", "cost_to_serve",
    )
    return (
        features.select("customer_id").join(buyers, on="customer_id", how="left")
        .join(features.select("customer_id", *(["clv"] if "clv" in features.columns else [])), on="customer_id",
              how="left")
        .sort(["revenue", "customer_id"], descending=[True, False])
    )


def member_details(store, scope: Scope, features: pl.DataFrame) -> pl.DataFrame:
    """What the customer lists show of each customer in ``features`` whatever the segmentation: customer_id,
    name, region, revenue, purchases, recency_days, interactions, cost_to_serve (window facts), email, phone
    (contacts) and clv (when a feature); largest revenue first, then by customer_id (the lists' order, that of
    :func:`member_figures`)."""
    from crm_core.metrics import identify

    figures = member_figures(store, scope, features)
    people = identify.contacts(store, scope).select("customer_id", "email", "phone")
    columns = [c for c in figures.columns if c != "clv"] + ["email", "phone"] + (
        ["clv"] if "clv" in figures.columns else [])
    return figures.join(people, on="customer_id", how="left", maintain_order="left").select(columns)


def segment_report(store, scope: Scope, k: int | str = "auto", *, features: pl.DataFrame | None = None,
                   details: pl.DataFrame | None = None) -> dict:
    """Everything the Differentiate page shows about a segmentation of ``scope``: the fitted model's profile
    and silhouettes, the members with contact data and figures, CLV tiers (None without a CLV fit) and
    interaction intensity per segment. ``{"customers": 0}`` when nobody bought in the window;
    ``{"customers": n, "error": why}`` when the customers cannot be segmented. ``features`` and ``details``
    (:func:`member_details`): the scope's, when already at hand (they do not depend on k)."""
    import warnings

    if features is None:
        features = segment_features(store, scope)
    if features.is_empty():
        return {"customers": 0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # notes_ carries the fit's notes to the page
            model = KMeansSegmenter(k=k, seed=42).fit(features)
    except ValueError as exc:
        return {"customers": features.height, "error": str(exc)}
    if details is None:
        details = member_details(store, scope, features)
    members = model.labels_.join(details, on="customer_id", how="left")
    has_clv = "clv" in members.columns and members["clv"].drop_nulls().len() > 0
    tiers = None
    if has_clv:
        members = members.join(
            clv_tiers(members.filter(pl.col("clv").is_not_null()).select("customer_id", "clv")).select(
                "customer_id", "clv_tier"), on="customer_id", how="left")
        tiers = tier_table(members)
    intensity = intensity_table(members)
    summary = model.summary
    return {
        "customers": features.height,
        "k": model.k_,
        "silhouette": model.silhouette_score_,
        "silhouette_by_k": summary["silhouette_by_k"],
        "features": summary["features"],
        "notes": summary["notes"],
        "skipped": model.n_skipped_,
        "profile": model.profile_,
        # segment names and CLV tiers as categories: a million repeated strings made the kept result 1.5x larger
        "members": members.sort(["segment_id", "revenue", "customer_id"], descending=[False, True, False])
        .with_columns(pl.col(c).cast(pl.Categorical) for c in ("segment", "clv_tier") if c in members.columns),
        "has_clv": has_clv,
        "tiers": tiers,
        "intensity": intensity,
    }


def tier_table(members: pl.DataFrame) -> pl.DataFrame:
    """Customers, CLV (sum, share, mean) and revenue per CLV tier of ``members`` (clv, clv_tier, revenue)."""
    total_clv = members["clv"].sum()
    return (
        members.filter(pl.col("clv_tier").is_not_null()).group_by("clv_tier")
        .agg(pl.len().alias("customers"), pl.col("clv").sum().alias("clv"), pl.col("clv").mean().alias("mean_clv"),
             pl.col("revenue").sum().alias("revenue"))
        .with_columns((pl.col("customers") / pl.col("customers").sum()).alias("customer_share"),
                      (pl.col("clv") / total_clv if total_clv else pl.lit(None, pl.Float64)).alias("clv_share"))
        .rename({"clv_tier": "tier"})
        .with_columns(pl.col("tier").cast(pl.Enum(list(CLV_TIERS)))).sort("tier")
        .select("tier", "customers", "customer_share", "clv", "clv_share", "mean_clv", "revenue")
    )


def intensity_table(members: pl.DataFrame) -> pl.DataFrame:
    """Customers, interactions, cost to serve and revenue per segment of ``members`` (segment_id, segment,
    interactions, cost_to_serve, revenue), with interactions and cost per customer and cost per revenue."""
    return (
        members.group_by("segment_id", "segment")
        .agg(pl.len().alias("customers"), pl.col("interactions").fill_null(0).sum().alias("interactions"),
             pl.col("cost_to_serve").fill_null(0).sum().alias("cost_to_serve"),
             pl.col("revenue").fill_null(0).sum().alias("revenue"))
        .with_columns((pl.col("interactions") / pl.col("customers")).alias("interactions_per_customer"),
                      (pl.col("cost_to_serve") / pl.col("customers")).alias("cost_per_customer"),
                      pl.when(pl.col("revenue") > 0).then(pl.col("cost_to_serve") / pl.col("revenue"))
                      .otherwise(None).alias("cost_per_revenue"))
        .sort("segment_id")
    )


def segment(store, scope: Scope, k: int | str = "auto", *, seed: int = 42) -> KMeansSegmenter:
    """Fit k-means segments on the scope's customers (``k="auto"``: chosen by silhouette in 2..8)."""
    return KMeansSegmenter(k=k, seed=seed).fit(segment_features(store, scope))
