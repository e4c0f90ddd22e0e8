"""The executive review's headline (Payne & Frow *performance assessment*): KPIs against the previous period
and the targets, their trend, the biggest movers, the valuable customers at risk and the highlights.

Engine only (no Streamlit): the review page and every report format read the same :class:`Review`.
Active customers, churn and retention of every period are measured under the *same* churn window (the reviewed
period's), so the change and the movers' contributions add up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import polars as pl

from crm_core.metrics import catalog, clv, headline, retention, retention_view, targets
from crm_core.metrics import highlights as hl
from crm_core.metrics import movers as movers_mod
from crm_core.metrics.scope import Scope
from crm_core.report.periods import ReviewPeriod, trailing_periods

log = logging.getLogger(__name__)

TREND_PERIODS = 8
AT_RISK_TOP = 25

KPI_SCHEMA = {
    "metric_id": pl.String, "label": pl.String, "unit": pl.String, "better": pl.String, "current": pl.Float64,
    "previous": pl.Float64, "change": pl.String, "target": pl.Float64, "status": pl.String,
}


@dataclass
class Review:
    dataset_id: int
    dataset: str
    currency: str | None
    period: ReviewPeriod
    churn_days: int
    kpis: pl.DataFrame  # KPI_SCHEMA, one row per targets.REVIEW_METRICS
    trend: pl.DataFrame  # metric_id, period_start, period, value (oldest first)
    movers: pl.DataFrame  # crm_core.metrics.movers (empty when not comparable)
    at_risk: pl.DataFrame  # customer_id, name, region, segment, last_purchase, frequency, historical_value, clv, p_alive
    at_risk_summary: dict
    highlights: list[hl.Highlight] = field(default_factory=list)
    clv_note: str | None = None

    @property
    def money_unit(self) -> str:
        return self.currency.strip() if self.currency and self.currency.strip() else "amount"

    def kpi(self, metric_id: str) -> dict:
        rows = self.kpis.filter(pl.col("metric_id") == metric_id).to_dicts()
        return rows[0] if rows else {}


def _fit(store, scope: Scope) -> tuple[pl.DataFrame | None, str | None]:
    if scope.end is None:
        return None, "open analysis window"
    try:
        return clv.fit_clv(store, scope, scope.end).frame, None
    except clv.ClvError as exc:
        log.info("no CLV for %s: %s", scope.describe(), exc)
        return None, str(exc)


def period_kpis(store, scope: Scope, churn_days: int, *, with_clv: bool = True, with_cost: bool = True) -> dict:
    """The review KPIs of one period: the headline KPIs with active customers, churn and retention under
    ``churn_days`` (None when nobody was active at the period's start). ``with_cost=False`` leaves out the one
    a cost rate enters, cost_to_serve_per_customer (None): the rest outlives new rates (views "review_period")."""
    known = {} if with_cost else {"cost_to_serve_per_customer": None}
    k = headline.headline_kpis(store, scope, with_clv=False, churn_days=churn_days, known=known)
    rate = k["churn_rate"]  # NaN (nobody active) comes out of headline_kpis as None
    k["retention_rate"] = None if rate is None else 1.0 - rate
    if with_clv:
        frame, _ = _fit(store, scope)
        k["avg_clv"] = retention_view.average_clv(frame) if frame is not None else None
    return k


def _at_risk(store, scope: Scope, frame: pl.DataFrame | None) -> tuple[pl.DataFrame, dict]:
    cols = {"customer_id": pl.String, "name": pl.String, "region": pl.String, "segment": pl.String,
            "last_purchase": pl.Date, "frequency": pl.Float64, "historical_value": pl.Float64, "clv": pl.Float64,
            "p_alive": pl.Float64}
    if frame is None or frame.is_empty():
        return pl.DataFrame(schema=cols), {"count": 0, "value": 0.0, "share_of_value": None}
    hist = clv.historical_clv(store, scope)
    risk = retention_view.at_risk_customers(frame, hist, top=10**9)
    people = store.query(
        "SELECT customer_id, any_value(name) AS name, any_value(region) AS region, any_value(segment) AS segment "
        "FROM customers WHERE dataset_id = ? GROUP BY customer_id", [scope.dataset_id],
    )
    risk = risk.join(people, on="customer_id", how="left")
    total_value = float(hist["historical_clv"].fill_null(0).sum()) if hist.height else 0.0
    value = float(risk["historical_value"].fill_null(0).sum()) if risk.height else 0.0
    summary = {"count": risk.height, "value": value, "share_of_value": value / total_value if total_value else None}
    risk = risk.with_columns(pl.col("last_purchase").cast(pl.Date, strict=False))
    return risk.select(list(cols)).cast(cols).head(AT_RISK_TOP), summary


@dataclass(frozen=True)
class RateFreeParts:
    """What a review shows that no cost rate enters, computed once per period (:func:`rate_free_parts`):
    the churn window, the average CLV of the fit at the period end (or why there is none), the movers and the
    valuable customers at risk. ``crm_core.views`` keeps it across new cost rates."""

    churn_days: int
    avg_clv: float | None
    clv_note: str | None
    movers: pl.DataFrame
    at_risk: pl.DataFrame
    at_risk_summary: dict


def rate_free_parts(store, period: ReviewPeriod, progress=None) -> RateFreeParts:
    """The :class:`RateFreeParts` of a review of ``period``: the churn window from the purchase gaps, the CLV
    models fitted at the period end, the movers against the previous period (none when not comparable) and
    the customers at risk."""
    step = progress or (lambda *_: None)
    scope = period.scope
    rule = retention.default_churn_window(store, scope)
    frame, clv_note = _fit(store, scope)
    step("Movers")
    if period.comparable:
        mp = movers_mod.MoverPeriods(scope.start, scope.end, period.previous.start, period.previous.end, rule.days)
        moved = movers_mod.movers(store, scope, mp)
    else:
        moved = movers_mod.movers_from_counts(pl.DataFrame())
    step("Customers at risk")
    risk, risk_summary = _at_risk(store, scope, frame)
    avg_clv = retention_view.average_clv(frame) if frame is not None else None
    return RateFreeParts(rule.days, avg_clv, clv_note, moved, risk, risk_summary)


def build_review(store, period: ReviewPeriod, *, dataset: str | None = None, currency: str | None = None,
                 trend_periods: int = TREND_PERIODS, progress=None, kpis_of=None, parts=None) -> Review:
    """Everything the review headline shows for ``period`` (see :func:`crm_core.report.periods.review_period`).

    ``kpis_of(scope, churn_days, with_clv)``: a period's KPIs but its cost to serve per customer, as
    ``period_kpis(..., with_cost=False)`` gives them (the default); ``parts``: the period's
    :func:`rate_free_parts`, computed here when not given. ``crm_core.views`` passes its kept ones, which no
    cost rate enters. Cost to serve per customer is priced here for every period."""
    step = progress or (lambda *_: None)
    if kpis_of is None:
        def kpis_of(sc: Scope, days: int, with_clv: bool) -> dict:
            return period_kpis(store, sc, days, with_clv=with_clv, with_cost=False)

    def priced_kpis(sc: Scope, days: int, with_clv: bool = True) -> dict:
        priced = headline.cost_to_serve_per_customer(store, sc)
        return {**kpis_of(sc, days, with_clv), "cost_to_serve_per_customer": priced}

    scope = period.scope
    info = store.dataset_info(scope.dataset_id) or {}
    dataset = dataset or info.get("name") or str(scope.dataset_id)
    currency = currency if currency is not None else info.get("currency")
    unit = currency.strip() if currency and currency.strip() else "amount"
    step("Headline KPIs")
    if parts is None:
        parts = rate_free_parts(store, period, step)
    now = priced_kpis(scope, parts.churn_days, with_clv=False)
    now["avg_clv"] = parts.avg_clv
    before = priced_kpis(period.previous, parts.churn_days) if period.comparable else {}
    goals = targets.get_targets(store, scope.dataset_id, period.kind)
    rows = []
    for mid in targets.REVIEW_METRICS:
        m = catalog.metric(mid)
        cur, prev, goal = now.get(mid), before.get(mid), goals.get(mid)
        rows.append({
            "metric_id": mid, "label": m.label, "unit": m.unit, "better": m.better, "current": cur, "previous": prev,
            "change": hl.format_change(mid, cur, prev, signed=True) if prev is not None else None,
            "target": goal, "status": targets.target_status(mid, cur, goal),
        })
    kpis = pl.DataFrame(rows, schema=KPI_SCHEMA, orient="row")

    step("Trends")
    trend_rows = []
    first_day = store.scalar(
        "SELECT CAST(MIN(occurred_at) AS DATE) FROM purchases WHERE dataset_id = ?", [scope.dataset_id])
    for start, end, label in trailing_periods(period, trend_periods):
        if first_day is None or start < first_day:
            continue
        if start == scope.start and end == scope.end:
            k = now
        elif period.comparable and start == period.previous.start and end == period.previous.end:
            k = before
        else:
            k = priced_kpis(scope.with_window(start, end), parts.churn_days)
        for mid in targets.REVIEW_METRICS:
            trend_rows.append({"metric_id": mid, "period_start": start, "period": label, "value": k.get(mid)})
    trend = pl.DataFrame(trend_rows, schema={"metric_id": pl.String, "period_start": pl.Date, "period": pl.String,
                                             "value": pl.Float64}, orient="row")

    ctx = hl.Context(period.label, period.previous_label, unit, period.comparable)
    items = hl.highlights(kpis, ctx, movers=parts.movers, at_risk=parts.at_risk_summary)
    return Review(scope.dataset_id, dataset, currency, period, parts.churn_days, kpis, trend, parts.movers,
                  parts.at_risk, parts.at_risk_summary, items, parts.clv_note)


def kpi_table(review: Review) -> pl.DataFrame:
    """The KPI table as shown and exported: formatted values, change, target and status per KPI."""
    unit = review.money_unit
    rows = []
    for r in review.kpis.to_dicts():
        mid = r["metric_id"]
        rows.append({
            "KPI": r["label"],
            review.period.label: hl.format_value(mid, r["current"], unit),
            (review.period.previous_label or "Previous"): hl.format_value(mid, r["previous"], unit),
            "Change": r["change"] or "–",
            "Target": hl.format_value(mid, r["target"], unit) if r["target"] is not None else "–",
            "Status": {"met": "met", "missed": "missed"}.get(r["status"], "–"),
        })
    return pl.DataFrame(rows)


def movers_table(review: Review, metric_id: str, n: int = 8) -> pl.DataFrame:
    """The ``n`` biggest movers of one metric over segment, region and channel, formatted for people."""
    top = movers_mod.top_movers(review.movers, metric_id, n=n)
    unit = review.money_unit
    return pl.DataFrame([
        {
            "Dimension": movers_mod.DIMENSIONS[r["dimension"]].capitalize(),
            "Group": r["group"],
            review.period.previous_label or "Previous": hl.format_value(metric_id, r["previous"], unit),
            review.period.label: hl.format_value(metric_id, r["current"], unit),
            "Contribution": hl.format_contribution(metric_id, r["contribution"], unit),
            "Share of change": "–" if r["share_of_change"] is None else f"{r['share_of_change']:.0%}".replace("-", "−"),
        }
        for r in top.to_dicts()
    ], schema={"Dimension": pl.String, "Group": pl.String, review.period.previous_label or "Previous": pl.String,
               review.period.label: pl.String, "Contribution": pl.String, "Share of change": pl.String})
