"""What each page of the walk draws for a scope, computed by the engine in one call per view.

Each view is a function ``(store, scope, **params) -> dict | frame`` made of metric and model calls; it
returns only what the page draws (long curves thinned, scatter points sampled, summaries instead of raw
values where the page shows a summary) so results stay light to keep and to send. :func:`compute` runs a
view through :func:`crm_core.results.cached`, so an unfiltered scope (the dataset's default scope, whole
purchase span, or another window) is computed once and read afterwards by every session and server process; :func:`warm` computes
those default results right after an import, so the first view of every page is a read.

The app wraps :func:`compute` in its own in-memory cache (``ui/data.py``); the CLI and the reports call it
directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import polars as pl

from crm_core import charts, results
from crm_core.metrics import facts
from crm_core.metrics.ranking import top_rows
from crm_core.metrics.scope import GROUP_COLUMNS, Scope, attribute_filter, chosen_customers

log = logging.getLogger(__name__)

TOP_CUSTOMERS = 25
CURVE_POINTS = 2000  # points kept of a Pareto or whale curve: the line looks the same
PROFIT_BINS = 50  # bars of the Cost page's profit distribution, binned when the view is computed
HOLDOUT_MONTHS = (3, 6, 9)
DEFAULT_HOLDOUT_MONTHS = 6
SEGMENT_KS = tuple(range(2, 9))  # the fixed k the Differentiate page offers besides "auto"


def buyers(store, scope: Scope, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Customer facts of the customers with a completed purchase in the window (the catalog's
    ``customers``: the portfolio is the customers who bought); ``columns``: only these (and customer_id)."""
    read = None if columns is None else (*columns, "purchases")
    frame = facts.customer_facts(store, scope, columns=read).filter(pl.col("purchases").fill_null(0) > 0)
    return frame if columns is None else frame.select(list(dict.fromkeys(["customer_id", *columns])))


# ---------------------------------------------------------------------------------------------- portfolio
def portfolio_kpis(store, scope: Scope) -> dict:
    """``portfolio.portfolio_summary`` of the scope's buyers (the headline KPIs; the Portfolio page's previous
    period). It needs revenue and margin only: when the facts would be computed from the transactions (~2.3 s at
    10M), one group-by gives those two columns (``facts.buyer_values``, ~0.3 s); the stored facts are read."""
    from crm_core.metrics import portfolio as pf

    if facts.reads_stored(store, scope):
        return pf.portfolio_summary(buyers(store, scope, SUMMARY_COLUMNS))
    return pf.portfolio_summary(facts.buyer_values(store, scope))


def buyer_count(store, scope: Scope) -> int:
    """``facts.buyer_count``: how many customers bought in the scope's window (the Retention page's check that
    there is anyone to show, without the portfolio summary)."""
    return facts.buyer_count(store, scope)


# The Portfolio page's tabs each read a view of their own, of the facts columns it needs: a filter change computes
# the KPI cards and the open tab, not all four, and reads 4 columns of 40 (at 10M transactions, one region of four:
# 0.5 s for all four parts from every column, 0.17 s for this one).
SUMMARY_COLUMNS = ("revenue", "margin")
RFM_COLUMNS = ("recency_days", "purchases", "revenue")
QUADRANT_COLUMNS = ("revenue", "margin", "cost_to_serve", "net_profit")
TOP_COLUMNS = ("name", "region", "segment", "revenue", "margin", "purchases", "last_purchase_in_window", "net_profit")


def portfolio(store, scope: Scope) -> dict:
    """The Portfolio page's KPI cards and Concentration tab: the buyers' summary, the Pareto curve (thinned to
    ``CURVE_POINTS``) and the ABC summary. ``{"customers": 0}`` when nobody bought in the window."""
    from crm_core.metrics import portfolio as pf

    b = buyers(store, scope, SUMMARY_COLUMNS)
    if b.is_empty():
        return {"customers": 0}
    curve = pf.pareto(b, "revenue")
    return {
        "customers": b.height,
        "summary": pf.portfolio_summary(b, revenue_curve=curve),  # the revenue curve sorted once for all three
        "curve": charts.thin_curve(curve.curve.select("customer_share", "value_share"), CURVE_POINTS),
        "pareto_point": curve.pareto_point,
        "abc": pf.abc_summary(pf.abc_classes(b, "revenue", curve=curve)),
    }


def portfolio_rfm(store, scope: Scope) -> dict:
    """The RFM segments tab: counts and revenue per RFM segment, and how many buyers could not be scored."""
    from crm_core.metrics import portfolio as pf

    b = buyers(store, scope, RFM_COLUMNS)
    segmented = pf.rfm_segments(pf.rfm_scores(b))
    return {"rfm": pf.rfm_summary(segmented), "rfm_excluded": b.height - segmented.height}


def portfolio_quadrants(store, scope: Scope) -> dict:
    """The value × cost-to-serve tab: a seeded sample of at most ``charts.MAX_POINTS`` points, the split lines and
    zoom from every customer, and the share of customers and profit per quadrant (everyone counted)."""
    from crm_core.metrics import portfolio as pf

    b = buyers(store, scope, QUADRANT_COLUMNS)
    quadrants = pf.cost_quadrants(b)
    return {
        "quadrants": charts.sample_points(
            quadrants.select("customer_id", "value_axis", "cost_axis", "value_basis", "quadrant")
        ),
        "quadrant_axes": charts.quadrant_axes(quadrants),
        "quadrant_count": quadrants.height,
        "quadrant_summary": pf.quadrant_summary(quadrants),
        "cost_known": bool(b["cost_to_serve"].fill_null(0).abs().sum() > 0),
    }


def portfolio_top(store, scope: Scope, top: int = TOP_CUSTOMERS) -> pl.DataFrame:
    """The Top customers tab: the ``top`` buyers by revenue in the window."""
    return top_rows(buyers(store, scope, TOP_COLUMNS), top, "revenue")


# ---------------------------------------------------------------------------------------------- differentiate
def identify_summary(store, scope: Scope) -> dict:
    from crm_core.metrics import identify

    return identify.identify_summary(store, scope)


def segment_features(store, scope: Scope) -> pl.DataFrame:
    """The k-means features of the scope's buyers (``differentiate.segment_features``), with CLV at the facts' as-of
    day from the kept ``clv_scores`` or ``clv_fit`` view, or else from the models alone (:func:`_clv_alone`). Kept
    apart from the segmentation so that choosing another k costs the k-means fit alone."""
    from crm_core.metrics import differentiate

    cal = scope.end or facts.default_scope(store, scope.dataset_id).end  # the facts' as-of day
    # the scores (4 of the fit's 9 columns) when kept: at 1M customers a read of 0.15 s instead of 0.4 s
    kept = None if cal is None else next(
        (name for name in ("clv_scores", "clv_fit") if is_kept(store, name, scope, calibration_end=cal)), None)
    if cal is None:
        clv_frame = None
    elif kept is not None:
        fitted = compute(store, kept, scope, calibration_end=cal)
        clv_frame = None if fitted.get("error") else fitted["frame"]
    else:  # the models alone: the Retention page's fit (holdout, value to date, at-risk list) is its own business
        clv_frame = _clv_alone(store, scope, cal)
    return differentiate.segment_features(store, scope, with_clv=clv_frame is not None, clv_frame=clv_frame)


def _clv_alone(store, scope: Scope, calibration_end: date) -> pl.DataFrame | None:
    """customer_id and clv of the CLV models fitted up to ``calibration_end`` (the ``clv_fit`` view's, on its
    canonical scope), without what that view adds for the Retention page: the holdout, every customer's value to date
    and the at-risk list, and keeping a million-row frame. At 10M transactions, a window ending 60 days before the
    last day, 4-5 s instead of 5.6-6.7 s; None when the models cannot be fitted."""
    from crm_core.metrics import clv

    try:
        result = clv.fit_clv(store, canonical_scope(store, "clv_fit", scope), calibration_end,
                             observation_end=calibration_end)
    except clv.ClvError as exc:
        log.info("CLV not fitted for %s at %s: %s", scope, calibration_end, exc)
        return None
    return result.frame.select("customer_id", "clv")


def member_details(store, scope: Scope) -> pl.DataFrame:
    """What the customer lists show of each segmented customer, whatever k (``differentiate.member_details``).
    Each row is one customer's own figures: under region, segment and owner filters, the rows of their customers
    in the view of all customers (its order kept), as :func:`segmentation` takes their labels."""
    from crm_core.metrics import differentiate

    if scope.picks_customers:
        return of_all_customers(store, "member_details", scope).filter(picked_members(store, scope))
    return differentiate.member_details(store, scope, compute(store, "segment_features", scope))


def customer_groups(store, dataset_id: int) -> pl.DataFrame:
    """customer_id and the (region, segment, owner) group of each customer in the customers table: what region,
    segment and owner filters pick customers by (``scope.ATTRIBUTE_FILTER``)."""
    return store.query(f"SELECT customer_id, {', '.join(GROUP_COLUMNS)} FROM customers WHERE dataset_id = ?",
                       [dataset_id])


def member_groups(store, scope: Scope) -> pl.DataFrame:
    """The region, segment and owner (customers table) of each row of the ``member_details`` view of an
    unfiltered scope, in its order (null for a customer missing from the table, whom no filter picks)."""
    groups = customer_groups(store, scope.dataset_id)
    return compute(store, "member_details", scope).select("customer_id").join(
        groups, on="customer_id", how="left", maintain_order="left").select(GROUP_COLUMNS)


def picked_members(store, scope: Scope) -> pl.Series:
    """Which rows of the ``member_details`` view of all customers (``scope.all_customers()``) the scope's region,
    segment and owner filters pick, a boolean mask: their groups (:func:`member_groups`, kept) tested against the
    filters. At 1M customers ~0.01 s, where testing each customer id against the ids the filters pick took
    0.1-0.25 s in the app (the ids' query, then the test), the first step of every region set on the
    Differentiate page."""
    groups = of_all_customers(store, "member_groups", scope)
    return groups.select(attribute_filter(scope).fill_null(False)).to_series()


# the per-customer columns of a segmentation's members that depend on k; the rest is member_details
_LABEL_COLUMNS = ("segment_id", "clv_tier")


def segmentation(store, scope: Scope, k: int | str = "auto") -> dict:
    """``differentiate.segment_report`` of the scope for ``k``, kept light: instead of the members frame (a
    row per customer with names, contacts and figures, the same for every k) it holds ``labels``, the
    segment id and CLV tier of each row of the ``member_details`` view, in its order. :func:`with_members`
    puts the two together again. Each k the page offers is kept after an import; reading a light one is
    what makes choosing k quick at a million customers."""
    from crm_core.metrics import differentiate

    if scope.picks_customers:
        return _segments_of_chosen(store, scope, k)
    features = compute(store, "segment_features", scope)
    # the members' figures, in the member_details view's order, without its contact data: that view is read for
    # the customer lists (after the page is drawn, ui.data.keep_member_details), not for the segments (at 10M
    # transactions, a new window, ~0.5 s of the Differentiate page's first run: the contacts' read, keeping it)
    figures = differentiate.member_figures(store, scope, features)
    report = differentiate.segment_report(store, scope, k, features=features, details=figures)
    if "members" not in report:
        return report
    members = report.pop("members")
    labels = figures.select("customer_id").join(
        members.select("customer_id", *[c for c in _LABEL_COLUMNS if c in members.columns]),
        on="customer_id", how="left", maintain_order="left",
    )
    return {**report, "labels": labels.drop("customer_id").with_columns(pl.col("segment_id").cast(pl.Int8))}


def _segments_of_chosen(store, scope: Scope, k: int | str) -> dict:
    """The segmentation of a scope whose region, segment or owner filters pick customers: its customers in the
    segments of all customers (the kept segmentation of the scope without those filters), so a customer keeps its
    segment, name and suggested action whatever the filter, as its CLV (``clv.fit_clv``'s notes). The silhouettes
    and k are those of that segmentation; the sizes, profile, CLV tiers (the tiers of all customers) and interaction
    intensity are the chosen customers'. At 10M transactions a read and a few group-bys (~0.2 s) instead of
    segmenting a region's customers (6-8 s for "auto")."""
    from crm_core.metrics import differentiate
    from crm_core.models.segments import profile_of_sums

    whole = compute(store, "segmentation", scope.all_customers(), k=k)
    if "labels" not in whole:
        return whole
    every = compute(store, "member_details", scope.all_customers())
    picked = picked_members(store, scope)
    customers = int(picked.sum())
    if not customers:
        return {"customers": 0}
    labels = whole["labels"].filter(picked)
    # the figures the CLV tiers and the intensity add up, not the names and contacts of the customer lists (the
    # member_details view, read when a list is shown): at 1M customers, three regions, 0.02 s instead of 0.2 s
    figures = every.select(c for c in ("clv", "revenue", "interactions", "cost_to_serve") if c in every.columns)
    members = pl.concat([figures.filter(picked), labels.with_columns(pl.col("segment_id").cast(pl.Int32))],
                        how="horizontal")
    segmented = members.filter(pl.col("segment_id").is_not_null()).join(
        whole["profile"].select("segment_id", "segment"), on="segment_id", how="left")
    sums = compute(store, "segment_group_sums", scope.all_customers(), k=k)
    summed = sums.filter(attribute_filter(scope)).group_by("segment_id").agg(
        pl.exclude("segment_id", "revenue", *GROUP_COLUMNS).sum(),
        pl.when(pl.col("revenue").is_not_null().any()).then(pl.col("revenue").sum()).alias("revenue"))
    profile = profile_of_sums(summed, list(whole["features"]),
                              whole["profile"].select("segment_id", "segment", "silhouette", "action"))
    has_clv = whole["has_clv"] and "clv_tier" in segmented.columns
    return {
        **whole,
        "customers": customers,
        "skipped": customers - segmented.height,
        "profile": profile,
        "tiers": differentiate.tier_table(segmented) if has_clv else None,
        "intensity": differentiate.intensity_table(segmented),
        "labels": labels,
        "of_all_customers": True,
    }


def segment_group_sums(store, scope: Scope, k: int | str = "auto") -> pl.DataFrame:
    """The sums a segment profile is made of (``segments.segment_sums``: customers, revenue, each feature's sum and
    count) for the segmentation of an unfiltered scope, per segment and (region, segment, owner) group of its
    customers in the customers table. A region, segment or owner filter adds up its groups' rows for its
    customers' profile (:func:`_segments_of_chosen`): at 10M transactions a read of a few hundred rows instead of
    every customer's features (0.4-0.5 s the first time a process needs them) and a join on the region's."""
    from crm_core.models.segments import segment_sums

    whole = compute(store, "segmentation", scope, k=k)
    if "labels" not in whole:
        return pl.DataFrame()
    every = compute(store, "member_details", scope)
    labels = pl.concat([every.select("customer_id"), whole["labels"].select(pl.col("segment_id").cast(pl.Int32))],
                       how="horizontal").filter(pl.col("segment_id").is_not_null())
    features = compute(store, "segment_features", scope).join(labels, on="customer_id", how="inner")
    used = list(whole["features"])
    columns = dict.fromkeys([*used, *(["monetary"] if "monetary" in features.columns else [])])  # as the fit's
    fitted = features.select("customer_id", "segment_id", *[pl.col(c).cast(pl.Float64) for c in columns])
    fitted = fitted.with_columns(pl.col(c).fill_null(0.0) for c in used if c.startswith("share_"))
    groups = customer_groups(store, scope.dataset_id)
    return segment_sums(fitted.join(groups, on="customer_id", how="inner"), used, by=GROUP_COLUMNS)


def with_members(report: dict, details: pl.DataFrame) -> dict:
    """A :func:`segmentation` report with its ``members`` frame rebuilt from ``details`` (the scope's
    ``member_details`` view), as ``differentiate.segment_report`` returns it."""
    if "labels" not in report:
        return report
    return {**{key: v for key, v in report.items() if key != "labels"}, "members": members(report, details)}


def members(report: dict, details: pl.DataFrame, segment: str | None = None, limit: int | None = None) -> pl.DataFrame:
    """The ``members`` frame of :func:`with_members`, or the rows of one ``segment`` (by name), or the first
    ``limit`` of those. The rows are chosen before any is copied: the customer list a page shows (its first
    thousand rows) costs milliseconds, while the whole frame of a million customers, built at every change of k,
    took 0.1 s alone and 0.7-1.0 s in the app while the browser redrew the page (bench/pages.py)."""
    labels = report["labels"]
    if labels.height != details.height:
        raise ValueError("the segmentation and the member details are of different data; compute both again")
    segment_id = labels.get_column("segment_id").cast(pl.Int32)
    rest = [c for c in details.columns if c != "customer_id"]
    columns = ["customer_id", "segment_id", "segment", *rest, *[c for c in labels.columns if c not in rest
                                                              and c != "segment_id"]]
    if segment is None and limit is None:  # every row: filter, join the names, stable sort (faster than a gather)
        names = report["profile"].select("segment_id", pl.col("segment").cast(pl.Categorical))
        return (pl.concat([details, labels.with_columns(segment_id)], how="horizontal")
                .filter(pl.col("segment_id").is_not_null()).join(names, on="segment_id", how="left")
                .select(columns).sort("segment_id", maintain_order=True))
    names = dict(zip(report["profile"]["segment_id"].to_list(), report["profile"]["segment"].to_list(), strict=True))
    if segment is None:
        # details are in revenue order already: a stable sort by segment gives segment_report's order; the rows
        # without a segment (nulls, last) are left out
        rows = segment_id.to_frame().select(pl.arg_sort_by("segment_id", maintain_order=True, nulls_last=True))
        rows = rows.to_series().head(segment_id.len() - segment_id.null_count())
    else:
        wanted = [i for i, name in names.items() if name == segment]
        rows = (segment_id == (wanted[0] if wanted else -1)).arg_true()
    if limit is not None:
        rows = rows.head(limit)
    picked = pl.concat([details, labels.with_columns(segment_id)], how="horizontal")[rows]
    return picked.with_columns(
        pl.col("segment_id").replace_strict(names, default=None, return_dtype=pl.String).cast(pl.Categorical)
        .alias("segment")).select(columns)


# ---------------------------------------------------------------------------------------------- retention & CLV
def retention_overview(store, scope: Scope, inactivity_days: int | None = None) -> dict:
    """Retention headline, the churn rule, the Kaplan-Meier frame with its median and the monthly churn trend.

    The churn rule is derived from the scope's data (``churn_rule``) unless ``inactivity_days`` gives it: the
    previous period a window is compared with is measured under the window's own rule, so a change of churn is
    a change of behaviour, not of rule (as the executive review's periods are)."""
    from crm_core.metrics import retention

    if inactivity_days is None:
        rule = compute(store, "churn_rule", scope)
    else:
        rule = retention.ChurnRule(int(inactivity_days), f"rule of the period compared with: churned after no "
                                                         f"purchase for longer than {int(inactivity_days)} days")
    km, median = retention.survival_curve(store, scope, rule.days)
    churned, trend = retention.churn_and_trend(store, scope, "month", rule.days)
    summary = retention.retention_summary(store, scope, rule=rule, median_lifetime_days=median, churned=churned)
    return {
        "summary": summary,
        "churn_days": rule.days,
        "churn_rule": rule.how_derived,
        "survival": km.to_frame() if km is not None else None,
        "median_days": median,
        "churn_trend": trend,
    }


def churn_rule(store, scope: Scope):
    """``retention.default_churn_window``: the churn window from the gaps between purchase days of the whole
    filtered history up to the window end (its own view: a window that only moves its start has the same rule)."""
    from crm_core.metrics import retention

    return retention.default_churn_window(store, scope)


def cohort_cells(store, scope: Scope, period: str = "month", measure: str = "customers") -> pl.DataFrame:
    from crm_core.metrics import retention

    return retention.cohort_matrix(store, scope, period, measure).cells


def retention_group_sums(store, scope: Scope) -> dict:
    """Find and keep, for an unfiltered scope, the figures of all customers by (region, segment, owner) group
    that the Retention page sums for a region, segment or owner filter (``crm_core.metrics.retention``, group
    sums): its churn trend and latest revenue retention, and its cohorts by month and by quarter. They are the
    same for every such filter, so asking the page's figures for one group (the first) finds them all; ``warm``
    prepares them so that even the first filter a user sets reads them. Returns that group and how many groups
    there are (nothing when no customer has a region, segment or owner)."""
    from crm_core.metrics import retention

    groups = store.query(
        "SELECT region, segment, owner, COUNT(*) OVER () AS groups FROM (SELECT DISTINCT region, segment, owner "
        "FROM customers WHERE dataset_id = ?) WHERE coalesce(region, segment, owner) IS NOT NULL "
        "ORDER BY ALL LIMIT 1", [scope.dataset_id])
    if scope.picks_customers or groups.is_empty():
        return {}
    first = groups.row(0, named=True)
    picked = replace(scope, **{f"{k}s": (first[k],) for k in GROUP_COLUMNS if first[k] is not None})
    retention_overview(store, picked)
    for period in ("month", "quarter"):
        retention.cohort_matrix(store, picked, period)
    return {"first_group": {k: first[k] for k in GROUP_COLUMNS}, "groups": first["groups"]}


def clv_fit(store, scope: Scope, calibration_end: date) -> dict:
    """``clv.fit_clv`` at ``calibration_end`` (the scope's filters; the models ignore the window):
    ``{"error": why}`` when the models cannot be fitted, else the per-customer frame, the summaries the
    Retention page draws from it (average CLV, P(alive) grid, valuable customers at risk) and the holdout
    (with predicted vs actual per frequency bin).

    Region, segment and owner filters pick their customers out of the fit of all customers (``fit_clv``'s
    notes), kept: at 10M transactions ~0.1 s instead of a fit of the region's purchases (2-3 s)."""
    from crm_core.metrics import clv

    if scope.picks_customers:
        whole = of_all_customers(store, "clv_fit", scope, calibration_end=calibration_end)
        if whole["error"]:
            return whole
        chosen = chosen_customers(store, scope)
        frame = whole["frame"].join(chosen, on="customer_id", how="semi", maintain_order="left")
        if frame.is_empty():
            return {"error": clv.no_chosen_customer(scope, whole["calibration_end"])}
        h = whole["holdout"]
        holdout = None if h is None else clv.holdout_of(
            h["frame"].join(chosen, on="customer_id", how="semi", maintain_order="left"), h["days"], h["start"],
            h["end"])
        return _fit_payload(store, scope, frame, holdout, whole["calibration_end"], whole["observation_end"])
    try:
        result = clv.fit_clv(store, scope, calibration_end)
    except clv.ClvError as exc:
        log.info("CLV not fitted for %s at %s: %s", scope, calibration_end, exc)
        return {"error": str(exc)}
    return _fit_payload(store, scope, result.frame, result.holdout, result.calibration_end, result.observation_end)


def _fit_payload(store, scope: Scope, frame: pl.DataFrame, h, calibration_end: date, observation_end: date) -> dict:
    """The ``clv_fit`` view of a CLV frame and its holdout (``clv.HoldoutResult`` or None)."""
    from crm_core.metrics import retention_view as rv

    return {
        "error": None,
        "frame": frame,
        "avg_clv": rv.average_clv(frame),
        "grid": rv.p_alive_grid(frame),
        "at_risk": rv.at_risk_customers(frame, compute(store, "historical_value", scope)),
        "customers": frame.height,
        "calibration_end": calibration_end,
        "observation_end": observation_end,
        "holdout": None if h is None else {
            "frame": h.frame, "by_bin": rv.holdout_by_frequency(h.frame, frame),
            "predicted_total": h.predicted_total, "actual_total": h.actual_total,
            "relative_error": h.relative_error, "mae": h.mae, "customers": h.customers, "days": h.days,
            "start": h.start, "end": h.end,
        },
    }


def clv_scores(store, scope: Scope, calibration_end: date) -> dict:
    """``clv_fit``'s per-customer CLV, P(alive) and expected purchases alone, ``{"error": why}`` or
    ``{"error": None, "frame": ...}``: what the Portfolio page's drill-down looks one customer up in. Kept apart
    from the fit (4 of its frame's 9 columns, no holdout frame): at 1M customers a read of 26 MB instead of 46 MB,
    ~0.15 s instead of 0.41 s, the first time a session opens the Top customers tab."""
    fit = compute(store, "clv_fit", scope, calibration_end=calibration_end)
    if fit["error"]:
        return {"error": fit["error"]}
    return {"error": None, "frame": fit["frame"].select("customer_id", "p_alive", "expected_purchases", "clv")}


def top_scores(store, scope: Scope, calibration_end: date, top: int = TOP_CUSTOMERS) -> dict:
    """``clv_scores`` of the Top customers tab's customers (``portfolio_top`` of ``scope``): what the Portfolio
    page's drill-down shows for one of them, ``{"error": why}`` or ``{"error": None, "frame": ...}`` (a row per
    top customer with a purchase by ``calibration_end``). The models are those of the whole dataset fitted up to
    ``calibration_end`` (``clv_scores`` of the default scope, whatever the filters): a customer's CLV does not
    change with a filter. Kept with the top customers, so that opening the tab reads 25 rows, not the scores of
    every customer (at 1M customers ~0.2-0.4 s the first time a server process opens it)."""
    scores = compute(store, "clv_scores", facts.default_scope(store, scope.dataset_id), calibration_end=calibration_end)
    if scores["error"]:
        return {"error": scores["error"]}
    ids = compute(store, "portfolio_top", scope, top=top).select("customer_id")
    return {"error": None, "frame": scores["frame"].join(ids, on="customer_id", how="semi")}


def clv_group_sums(store, scope: Scope, calibration_end: date) -> dict:
    """``clv_scores``' customers, CLV sum and count of known CLVs per (region, segment, owner) group of the
    customers table, ``{"error": why}`` or ``{"error": None, "frame": ...}`` (frame None when there are more
    than ``retention.MAX_GROUPS`` groups). A region, segment or owner filter adds up its groups' rows for its
    customers' average CLV (:func:`average_clv`): at 1M customers a few hundred rows instead of the scores of all
    customers (26 MB, 0.6 s the first time a server process sets such a filter on the Retention page). A customer
    missing from the customers table is in no group: no such filter picks it (``scope.ATTRIBUTE_FILTER``)."""
    from crm_core.metrics.retention import MAX_GROUPS

    scores = compute(store, "clv_scores", scope, calibration_end=calibration_end)
    if scores["error"]:
        return {"error": scores["error"]}
    groups = customer_groups(store, scope.dataset_id)
    sums = (
        scores["frame"].select("customer_id", "clv").join(groups, on="customer_id", how="inner")
        .group_by(GROUP_COLUMNS)
        .agg(customers=pl.len().cast(pl.Int64), clv_sum=pl.col("clv").sum(), clv_count=pl.col("clv").count())
        .sort(GROUP_COLUMNS, nulls_last=True)
    )
    return {"error": None, "frame": sums if sums.height <= MAX_GROUPS else None}


def average_clv(store, scope: Scope, calibration_end: date) -> dict:
    """``clv_fit``'s average CLV alone, for the previous period a window's KPIs are compared with:
    ``{"error": why}`` or ``{"error": None, "avg_clv": value}``. The same fit without the holdout, the
    at-risk list (value to date) and the P(alive) grid the page draws only for the window itself (at 10M
    about 2 s of a 6-7 s fit). Region, segment and owner filters add up the kept CLV sums of their groups
    (:func:`clv_group_sums`), or with too many groups average their customers' rows of the kept scores."""
    from crm_core.metrics import clv
    from crm_core.metrics import retention_view as rv

    if scope.picks_customers:
        sums = of_all_customers(store, "clv_group_sums", scope, calibration_end=calibration_end)
        if sums["error"]:
            return {"error": sums["error"]}
        if sums["frame"] is not None:  # the chosen customers' groups added up
            customers, total, known = sums["frame"].filter(attribute_filter(scope)).select(
                pl.col("customers", "clv_sum", "clv_count").sum()).row(0)
            if not customers:
                return {"error": clv.no_chosen_customer(scope, calibration_end)}
            return {"error": None, "avg_clv": total / known if known else None}
        scores = of_all_customers(store, "clv_scores", scope, calibration_end=calibration_end)
        if scores["error"]:
            return {"error": scores["error"]}
        frame = scores["frame"].join(chosen_customers(store, scope), on="customer_id", how="semi")
        if frame.is_empty():
            return {"error": clv.no_chosen_customer(scope, calibration_end)}
        return {"error": None, "avg_clv": rv.average_clv(frame)}
    try:  # no holdout: the models are fitted on the calibration period alone either way
        result = clv.fit_clv(store, scope, calibration_end, observation_end=calibration_end)
    except clv.ClvError as exc:
        log.info("CLV not fitted for %s at %s: %s", scope, calibration_end, exc)
        return {"error": str(exc)}
    return {"error": None, "avg_clv": rv.average_clv(result.frame)}


def holdout(store, scope: Scope, calibration_end: date) -> dict:
    """The holdout check of the CLV models fitted up to ``calibration_end`` (what the Retention page's holdout
    section draws): ``{"error": why}`` or ``{"error": None, "holdout": None | totals, errors and by_bin}``,
    without the per-customer frames (the fit is not kept; its 1M-row frames made each choice a 0.6 s read)."""
    fit = clv_fit(store, scope, calibration_end)
    if fit["error"]:
        return {"error": fit["error"]}
    h = fit["holdout"]
    return {"error": None, "holdout": None if h is None else {k: v for k, v in h.items() if k != "frame"}}


def historical_value(store, scope: Scope) -> pl.DataFrame:
    """``clv.historical_clv``. A customer's value to date is its own purchases': under region, segment and owner
    filters it is the rows of their customers in the kept value of all customers (at 10M ~0.05 s, not 0.6 s)."""
    from crm_core.metrics import clv

    if scope.picks_customers:
        return of_all_customers(store, "historical_value", scope).join(
            chosen_customers(store, scope), on="customer_id", how="semi", maintain_order="left")
    return clv.historical_clv(store, scope)


def calibration_end(scope: Scope, span: tuple[date, date]) -> date:
    """The day the CLV models are fitted up to: the window's end, else the last purchase day."""
    return scope.end or span[1]


# ---------------------------------------------------------------------------------------------- cost to serve
def cost_view(store, scope: Scope, top: int = TOP_CUSTOMERS) -> dict:
    """The headline KPIs, costs by pool, segment and channel, the distribution of net profit per customer
    (``PROFIT_BINS`` bins, ``charts.histogram_bins``), the ``top`` most costly customers and the whale curve (its
    frame thinned to ``CURVE_POINTS``; peak and unprofitable share from every customer). ``{"customers": 0}``
    when nobody was served in the window."""
    from crm_core.metrics import cost

    served = cost.cost_to_serve(store, scope)
    if served.is_empty():
        return {"customers": 0}
    whale = cost.whale_curve(served["net_profit"], max_points=CURVE_POINTS)
    total_cost, revenue = float(served["cost_to_serve"].sum()), float(served["revenue"].sum())
    return {
        "customers": served.height,
        "kpis": {
            "cost_per_customer": total_cost / served.height,
            "cost_per_revenue": total_cost / revenue if revenue else None,
            "net_profit": float(served["net_profit"].sum()),
            "unprofitable_share": whale.unprofitable_share,
            "whale_peak": whale.peak_share,
        },
        "profit_bins": charts.histogram_bins(served["net_profit"], PROFIT_BINS),
        "most_costly": top_rows(served, top, "cost_to_serve"),
        "pools": cost.cost_by(store, scope, "pool", served=served),
        "segments": cost.cost_by(store, scope, "segment", served=served),
        "channels": cost.cost_by(store, scope, "channel", served=served),
        "whale": whale,
    }


# ---------------------------------------------------------------------------------------------- scorecards
def evidence(store, scope: Scope, group: str) -> dict:
    """One group of the live KPIs the QCI, Gartner and CRM models pages show as evidence
    (``crm_core.frameworks.evidence``). The retention, CLV and headline groups take the Retention and Cost pages'
    views of the scope (the same summary, the same fit at the window's end, the same cost per customer) instead
    of computing them again."""
    from crm_core.frameworks import evidence as ev

    if group == "retention":
        return ev.cleaned(group, ev.retention_values(compute(store, "retention_overview", scope)["summary"]))
    if group == "headline":  # repeat rate and churn from the retention view, cost per customer from the cost view
        from crm_core.metrics.headline import headline_kpis

        summary = compute(store, "retention_overview", scope)["summary"]
        served = compute(store, "cost_view", scope, top=TOP_CUSTOMERS)
        known = {"repeat_rate": summary["repeat_rate"], "churn_rate": summary["churn_rate"],
                 "cost_to_serve_per_customer": served["kpis"]["cost_per_customer"] if served["customers"] else None}
        kpis = headline_kpis(store, scope, with_clv=False, churn_days=summary["churn_window_days"], known=known)
        return ev.cleaned(group, ev.headline_values(kpis))
    if group == "clv" and scope.end is not None:  # the facts' as-of day, which the group fits up to
        fitted = compute(store, "clv_fit", scope, calibration_end=scope.end)
        return ev.cleaned(group, ev.clv_values(None if fitted["error"] else fitted["frame"]))
    return ev.group_values(store, scope, group)


def review(store, scope: Scope, kind: str = "quarter"):
    """The executive review headline of the latest whole ``kind`` period of ``scope``
    (``crm_core.report.review.build_review``)."""
    from crm_core.metrics.scope import filter_options
    from crm_core.report import periods
    from crm_core.report import review as review_mod

    period = periods.review_period(scope, kind, filter_options(store, scope.dataset_id)["span"])
    if scope.filtered:  # its periods' KPIs are not kept: eight of them would push the pages' views out of memory
        return review_mod.build_review(store, period)
    return review_mod.build_review(
        store, period, parts=compute(store, "review_parts", scope, kind=kind),
        kpis_of=lambda sc, days, with_clv: compute(store, "review_period", sc, churn_days=days, with_clv=with_clv))


def review_parts(store, scope: Scope, kind: str = "quarter"):
    """``report.review.rate_free_parts`` of the review of ``scope`` (its latest whole ``kind`` period): the churn
    window, the CLV fit's average and customers at risk, the movers. Kept across new cost rates: at 10M
    transactions they were ~11 s of the ~18 s a review took to build again after a rate save."""
    from crm_core.metrics.scope import filter_options
    from crm_core.report import periods
    from crm_core.report import review as review_mod

    period = periods.review_period(scope, kind, filter_options(store, scope.dataset_id)["span"])
    return review_mod.rate_free_parts(store, period)


def review_period(store, scope: Scope, churn_days: int, with_clv: bool = True) -> dict:
    """One period's review KPIs but its cost to serve per customer (``report.review.period_kpis`` with
    ``with_cost=False``), kept across new cost rates: after a rate save the review prices its eight periods again
    (~0.8 s each at 10M transactions) instead of computing them again (~7 s each: facts, churn, a CLV fit)."""
    from crm_core.report import review as review_mod

    return review_mod.period_kpis(store, scope, churn_days, with_clv=with_clv, with_cost=False)


# ---------------------------------------------------------------------------------------------- running views
VIEWS: dict[str, Callable] = {
    "buyer_count": buyer_count,
    "portfolio_kpis": portfolio_kpis,
    "portfolio": portfolio,
    "portfolio_rfm": portfolio_rfm,
    "portfolio_quadrants": portfolio_quadrants,
    "portfolio_top": portfolio_top,
    "identify": identify_summary,
    "segment_features": segment_features,
    "member_details": member_details,
    "member_groups": member_groups,
    "segmentation": segmentation,
    "segment_group_sums": segment_group_sums,
    "churn_rule": churn_rule,
    "retention_overview": retention_overview,
    "cohorts": cohort_cells,
    "retention_group_sums": retention_group_sums,
    "clv_fit": clv_fit,
    "clv_scores": clv_scores,
    "top_scores": top_scores,
    "clv_group_sums": clv_group_sums,
    "average_clv": average_clv,
    "holdout": holdout,
    "historical_value": historical_value,
    "cost_view": cost_view,
    "evidence": evidence,
    "review": review,
    "review_parts": review_parts,
    "review_period": review_period,
}


# views no cost rate enters (they show no cost to serve or net profit, nor anything derived from them): their
# kept results outlive new rates (``crm_core.metrics.cost.reprice_facts``); tests/unit/test_results.py checks
# each is unchanged by new rates
RATE_FREE = frozenset({"buyer_count", "portfolio_kpis", "portfolio", "portfolio_rfm", "identify",
                       "retention_overview", "churn_rule", "cohorts", "retention_group_sums", "clv_fit", "clv_scores",
                       "top_scores", "clv_group_sums", "member_groups", "average_clv", "holdout", "historical_value",
                       "review_period", "review_parts"})
RATE_FREE_EVIDENCE = frozenset({"clv", "retention", "portfolio", "acquisition", "deals", "penetration",
                                "satisfaction", "history", "quality"})  # the groups of the evidence view


def priced(name: str, params: dict) -> bool:
    """Whether a cost rate enters view ``name`` with ``params`` (new rates must drop its kept result)."""
    if name == "evidence":
        return params.get("group") not in RATE_FREE_EVIDENCE
    return name not in RATE_FREE


RECENT_FILTERED = 8  # filtered views kept in memory per process (their frames are the filtered customers')
_recent = results.Recent(RECENT_FILTERED)
# Views of all customers that region, segment and owner filters pick their customers' rows from (of_all_customers),
# held in memory besides the store once read: a kept CLV fit of a million customers is a 0.3-0.4 s read, and the
# page that first showed it (the same object) is where a filter is then set.
PICKED_FROM = frozenset({"clv_fit", "clv_scores", "clv_group_sums", "historical_value", "member_details",
                         "member_groups", "segment_features", "segmentation"})
RECENT_ALL_CUSTOMERS = 10
_all_customers = results.Recent(RECENT_ALL_CUSTOMERS)
_warming = threading.local()  # on in this thread while warm() computes: nothing is held in memory for it


def of_all_customers(store, name: str, scope: Scope, **params):
    """View ``name`` (of :data:`PICKED_FROM`) of ``scope`` without its region, segment and owner filters
    (``Scope.all_customers``), for views that pick their customers' rows from it."""
    return compute(store, name, scope.all_customers(), **params)


# Views that do not depend on where the analysis window starts: the CLV models calibrate on the whole filtered
# history up to their calibration end, a parameter (crm_core.metrics.clv.fit_clv), value to date runs up to
# the window end (clv.historical_clv), and so do the purchase gaps the churn rule is derived from
# (retention.default_churn_window: a read of the kept gap counts per day, retention.churn_gaps, once they are kept,
# 2.6 s at 10M the first time). The holdout check does not depend on the window at all: the page takes
# its calibration end from the dataset's span. They are computed on a canonical scope, the dataset's first
# purchase day as start (and, for the holdout, its last as end), so a window that only moves its start, the
# common "since ..." change, reads the results kept for the default scope instead of fitting the same models
# again (4-5 s each at 10M transactions).
START_FREE = frozenset({"clv_fit", "clv_scores", "clv_group_sums", "average_clv", "historical_value",
                        "churn_rule"})
WINDOW_FREE = frozenset({"holdout"})


# Views that region, segment and owner filters do not change (retention.default_churn_window: the company's rule),
# computed on the scope without them, so a region reads the kept rule instead of deriving it again (1 s at 10M).
CUSTOMER_FREE = frozenset({"churn_rule"})


def canonical_scope(store, name: str, scope: Scope) -> Scope:
    """The scope view ``name`` is computed and kept on: ``scope`` itself, or for the views of :data:`START_FREE`,
    :data:`WINDOW_FREE` and :data:`CUSTOMER_FREE` the equivalent one described there. An open end is the last
    purchase day (no purchase follows it); an end outside the data keeps the scope as it is."""
    if name in CUSTOMER_FREE:
        scope = scope.all_customers()
    if name not in START_FREE and name not in WINDOW_FREE:
        return scope
    default = facts.default_scope(store, scope.dataset_id)
    if default.start is None:
        return scope
    if name in WINDOW_FREE:
        return scope.with_window(default.start, default.end)
    end = default.end if scope.end is None else scope.end
    if not default.start <= end <= default.end:
        return scope
    return scope.with_window(default.start, end)


def compute(store, name: str, scope: Scope, **params):
    """View ``name`` of ``scope`` with ``params``: kept in the store for a scope without region, segment or owner
    filters (any window, any channels), and those of :data:`PICKED_FROM` held in memory too; for one with them, the
    last :data:`RECENT_FILTERED` are kept in this process's memory, keyed by the data version, so views built on
    others (a segmentation on its features) do not redo them. Computed on :func:`canonical_scope`."""
    view = VIEWS[name]
    scope = canonical_scope(store, name, scope)
    with_rates = priced(name, params)
    kept = not scope.picks_customers  # no filter, or a channel filter only: kept in the store
    if kept and (name not in PICKED_FROM or getattr(_warming, "on", False)):
        return results.cached(store, scope, name, params, lambda: view(store, scope, **params), priced=with_rates)
    key = (getattr(store, "token", id(store)), results.data_version(store, scope.dataset_id, with_rates), name, scope,
           results.key_of(params))
    if kept:  # read from the store, and held in memory for the filters that pick rows from it (so written later)
        return _all_customers.get(key, lambda: results.cached(store, scope, name, params,
                                                              lambda: view(store, scope, **params), priced=with_rates,
                                                              write_later=True))
    return _recent.get(key, lambda: view(store, scope, **params))


def is_kept(store, name: str, scope: Scope, **params) -> bool:
    """Whether view ``name`` of ``scope`` with ``params`` is kept in the store (a read, not a computation): False for a
    scope whose region, segment or owner filters pick customers (those are held in memory only)."""
    scope = canonical_scope(store, name, scope)
    if scope.picks_customers:
        return False
    key = results.scope_key(store, scope, params, priced(name, params))
    return results.is_kept(store, scope.dataset_id, name, key)


def default_requests(scope: Scope) -> list[tuple[str, dict]]:
    """The views (and parameters) the pages open with on the default scope ``scope``, plus the few
    choices a user makes next (cohort period and measure, holdout length)."""
    from crm_core.metrics import retention_view as rv

    span = (scope.start, scope.end)
    requests: list[tuple[str, dict]] = [
        ("buyer_count", {}), ("portfolio_kpis", {}), ("portfolio", {}), ("portfolio_rfm", {}),
        ("portfolio_quadrants", {}),
        ("portfolio_top", {"top": TOP_CUSTOMERS}),
        ("churn_rule", {}), ("retention_overview", {}), ("clv_fit", {"calibration_end": calibration_end(scope, span)}),
        ("clv_scores", {"calibration_end": calibration_end(scope, span)}),
        ("top_scores", {"calibration_end": calibration_end(scope, span), "top": TOP_CUSTOMERS}),
        ("clv_group_sums", {"calibration_end": calibration_end(scope, span)}),
        ("historical_value", {}),
        *[("cohorts", {"period": p, "measure": m}) for p in ("month", "quarter") for m in ("customers", "revenue")],
        ("retention_group_sums", {}),
        # after the CLV fit, whose kept frame the segment features take (segment_features)
        ("identify", {}), ("segment_features", {}), ("member_details", {}), ("member_groups", {}),
        # every choice of the page's "Number of segments": each a k-means fit of a million customers at 10M
        *[("segmentation", {"k": k}) for k in ("auto", *SEGMENT_KS)],
        # the sums a region, segment or owner filter adds up for its customers' profile, for the page's default k
        # (another k's are found when first asked for: ~1 s at 10M transactions, then kept)
        ("segment_group_sums", {"k": "auto"}),
        ("cost_view", {"top": TOP_CUSTOMERS}),
    ]
    from crm_core.frameworks import evidence as ev

    # not the review headline: at 10M transactions it takes minutes (KPIs of two periods, eight trend
    # periods, movers); it is kept when first opened
    requests += [("evidence", {"group": group}) for group in ev.GROUPS]
    for months in HOLDOUT_MONTHS:
        cal = rv.holdout_calibration_end(span[0], span[1], months)
        if cal is not None:
            requests.append(("holdout", {"calibration_end": cal}))
    return requests


# Views kept for the open window (the review page asks for its period on the dataset's whole history) that
# take a minute at 10M transactions (two periods' KPIs and CLV fits, eight trend periods, movers): prepared
# with warm(slow=True) by `prepare`, and in the background after an import in the app.
SLOW_REQUESTS: tuple[tuple[str, dict], ...] = (("review", {"kind": "quarter"}),)

# A channel filter changes every customer's purchases, so nothing of the default scope can be picked for it: each
# page computes its facts and models again, 3-13 s a page at 10M transactions. warm(slow=True) therefore also keeps
# the views the four pages open with for each channel of the default window, when a dataset has at most this many
# (a filter on one channel, the common choice, is then a read; several channels are computed when asked).
PRESET_CHANNELS_MAX = 8


def channel_scopes(store, scope: Scope) -> list[Scope]:
    """``scope`` (the default scope) with a filter on each one of the dataset's sales channels, or none when it
    has more than :data:`PRESET_CHANNELS_MAX`."""
    from crm_core.metrics.scope import filter_options

    names = filter_options(store, scope.dataset_id)["channels"]
    if len(names) > PRESET_CHANNELS_MAX:
        return []
    return [replace(scope, channels=(name,)) for name in names]


# The sidebar's quick periods (crm_core.metrics.scope.WINDOW_PRESETS) kept by warm(slow=True) besides the whole
# history: the four pages' views of the window and the previous period's KPIs their cards compare with, so that every
# choice of the sidebar's Period is a read. A new window is 2-8 s a page at 10M transactions; the last year first, the
# window a review of the customer base looks at first.
PREPARED_PERIODS: tuple[str, ...] = ("Last 12 months", "Last 6 months", "Last 3 months")


def period_scopes(scope: Scope) -> list[Scope]:
    """``scope`` (the default scope) over each of the :data:`PREPARED_PERIODS` that is not its whole span."""
    from crm_core.metrics.scope import WINDOW_PRESETS, preset_window

    span = (scope.start, scope.end)
    windows = [preset_window(span, WINDOW_PRESETS[label]) for label in PREPARED_PERIODS]
    return [scope.with_window(*w) for w in dict.fromkeys(windows) if w != span]


def period_requests(store, scope: Scope, span: tuple[date, date]) -> list[tuple[Scope, str, dict | Callable]]:
    """The views the four pages show for the window of ``scope`` (:func:`channel_requests`) and those of its
    previous period that the KPI cards compare with (when the data covers it): the Identify counts, the buyers, the
    portfolio KPIs, the cost view, the retention overview under the window's churn rule (``params`` found when it is
    reached) and the average CLV."""
    requests: list[tuple[Scope, str, dict | Callable]] = [(scope, n, p) for n, p in channel_requests(scope)]
    previous = scope.previous()
    if previous is None or previous.start < span[0]:  # an incomplete previous period is not compared
        return requests
    return requests + [
        (previous, "identify", {}),
        (previous, "buyer_count", {}),
        (previous, "portfolio_kpis", {}),
        (previous, "cost_view", {"top": TOP_CUSTOMERS}),
        (previous, "retention_overview",
         lambda: {"inactivity_days": compute(store, "retention_overview", scope)["churn_days"]}),
        (previous, "average_clv", {"calibration_end": previous.end}),
    ]


def channel_requests(scope: Scope) -> list[tuple[str, dict]]:
    """The :func:`default_requests` the four pages open with: without the other choices of k, the scorecards'
    evidence (the QCI and Gartner pages) and the holdouts of other lengths."""
    from crm_core.metrics import retention_view as rv

    span = (scope.start, scope.end)
    holdout = rv.holdout_calibration_end(span[0], span[1], DEFAULT_HOLDOUT_MONTHS)
    return [(name, params) for name, params in default_requests(scope)
            if not (name == "segmentation" and params["k"] != "auto") and name != "evidence"
            and not (name == "holdout" and params["calibration_end"] != holdout)]


def warm(store, dataset_id: int, progress: Callable[[int, int, str], None] | None = None,
         slow: bool = False) -> dict[str, float]:
    """Compute and keep every default-scope view of a dataset (after an import), so each page's first view
    is a read; with ``slow``, then the four pages' views of each channel (:func:`channel_scopes`) and of the
    :data:`PREPARED_PERIODS` (:func:`period_requests`), and the :data:`SLOW_REQUESTS` too. Views already kept are
    not read again.
    ``progress(done, total, name)`` is called before each view (an exception it raises stops the work there).
    Returns seconds per view computed; a view that fails is logged and skipped (the page will say why when
    it is opened)."""
    scope = facts.default_scope(store, dataset_id)
    if scope.start is None:
        return {}
    requests = [(scope, name, params) for name, params in default_requests(scope)]
    if slow:
        requests += [(where, name, params) for where in channel_scopes(store, scope)
                     for name, params in channel_requests(where)]
        requests += [r for where in period_scopes(scope) for r in period_requests(store, where, (scope.start,
                                                                                                 scope.end))]
        requests += [(Scope(dataset_id), name, params) for name, params in SLOW_REQUESTS]
    return keep(store, dataset_id, requests, progress, scope)


def keep(store, dataset_id: int, requests: list[tuple[Scope, str, dict | Callable[[], dict]]],
         progress: Callable[[int, int, str], None] | None = None, scope: Scope | None = None) -> dict[str, float]:
    """Compute and keep each ``(scope, view, params)`` of ``requests`` that is not kept yet, in order (``params`` may
    be a callable, called when its turn comes). ``progress`` and the result are as :func:`warm`'s; a label names the
    channels and the window of a request whose scope is not ``scope``."""
    seconds: dict[str, float] = {}
    for i, (where, name, params) in enumerate(requests):
        if progress is not None:
            progress(i, len(requests), name)
        if callable(params):  # found from a view before it (a window's churn rule)
            try:
                params = params()
            except Exception as exc:
                log.warning("could not prepare %s of dataset %s: %s", name, dataset_id, exc, exc_info=exc)
                continue
        if is_kept(store, name, where, **params):  # e.g. a year's CLV fit is the whole history's, kept already
            continue
        start = time.perf_counter()
        try:
            _warming.on = True  # kept in the store; held in memory, they would stay there unasked
            try:
                compute(store, name, where, **params)
            finally:
                _warming.on = False
        except Exception as exc:
            log.warning("could not prepare %s %s of dataset %s: %s", name, params, dataset_id, exc, exc_info=exc)
            continue
        label = name + ("" if not params else " " + " ".join(f"{k}={v}" for k, v in params.items())) + (
            f" channel={','.join(where.channels)}" if where.channels else "") + (
            f" window={where.start}..{where.end}" if where != scope and not where.channels and where.start else "")
        seconds[label] = round(time.perf_counter() - start, 3)
    if progress is not None:
        progress(len(requests), len(requests), "done")
    return seconds


# The order scope_requests keeps a scope's views in: page by page, those that take least first (the last 200 days at 10M
# transactions, each page opened first, the customer facts they share included: Portfolio 2.4 s, Cost 3.4 s, Retention
# 5.8 s, Differentiate 8.4 s), so that the most pages are ready soonest; each page's previous-period KPIs follow its
# own views; the sums only a region, segment or owner filter reads come last.
PREPARE_RANK: dict[str, int] = {
    **dict.fromkeys(("buyer_count", "portfolio_kpis", "portfolio", "portfolio_rfm", "portfolio_quadrants",
                     "portfolio_top", "top_scores"), 0),
    "cost_view": 1,
    **dict.fromkeys(("churn_rule", "retention_overview", "cohorts", "clv_fit", "clv_scores", "clv_group_sums",
                     "historical_value", "average_clv", "holdout"), 2),
    **dict.fromkeys(("identify", "segment_features", "member_details", "member_groups", "segmentation"), 3),
    **dict.fromkeys(("segment_group_sums", "retention_group_sums"), 4),
}


# The page each rank of PREPARE_RANK is (what previous_requests is asked for)
PAGE_RANK: dict[str, int] = {"portfolio": 0, "cost_to_serve": 1, "retention": 2, "differentiate": 3}


def previous_requests(store, scope: Scope, span: tuple[date, date], page: str) -> list[tuple[Scope, str, dict | Callable]]:
    """The previous period's views of :func:`period_requests` that ``page`` (of :data:`PAGE_RANK`) compares its KPI
    cards with, those whose parameters come from the window's own views last (they wait for them): empty for an
    open window and for a previous period the data does not wholly cover."""
    previous = scope.previous()
    if previous is None:
        return []
    rank = PAGE_RANK[page]
    requests = [r for r in period_requests(store, scope, span)
                if r[0] == previous and PREPARE_RANK.get(r[1], 3) == rank]
    return sorted(requests, key=lambda r: callable(r[2]))


def scope_requests(store, scope: Scope) -> list[tuple[Scope, str, dict | Callable[[], dict]]]:
    """What to keep ahead for a scope a user picked that :func:`warm` does not prepare (dates picked by hand,
    several channels, a quick period other than :data:`PREPARED_PERIODS`): the views the four pages open with on
    the scope without its region, segment and owner filters (which pick their customers out of them) and the
    previous period's figures their KPI cards compare with (:func:`period_requests`), in the order of
    :data:`PREPARE_RANK`. Empty for the dataset's default scope and for an open window."""
    default = facts.default_scope(store, scope.dataset_id)
    whole = scope.all_customers()
    if default.start is None or whole.start is None or whole.end is None or whole == default:
        return []
    requests = period_requests(store, whole, (default.start, default.end))
    return sorted(requests, key=lambda r: (PREPARE_RANK.get(r[1], 3), r[0] != whole))


def warm_scope(store, scope: Scope, progress: Callable[[int, int, str], None] | None = None) -> dict[str, float]:
    """Compute and keep :func:`scope_requests` of ``scope`` not kept yet (the app does it in the background once a
    page of a new scope is drawn, so the next pages read what they show). As :func:`warm` otherwise."""
    return keep(store, scope.dataset_id, scope_requests(store, scope), progress, scope.all_customers())
