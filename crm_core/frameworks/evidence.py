"""Evidence from the data: the live value of catalog metrics for a scope, and which metrics speak to each QCI
area, Gartner block or CRM model stage (the mapping itself is data, in the YAML files).

Metric values come from the metric modules that own them (``crm_core.metrics.*``); this module only groups the
computations so that one query or model fit serves every metric it yields:

=============  =====================================================================================
group          metrics
=============  =====================================================================================
headline       customers, active_customers, revenue, repeat_rate, churn_rate, retention_rate, nps, csat,
               cost_to_serve_per_customer, top20_revenue_share (``metrics.headline``)
clv            avg_clv, p_alive — BG/NBD + Gamma-Gamma fitted up to the scope's last day (``metrics.clv``)
retention      churn_window_days, median_lifetime_days, net_revenue_retention, gross_revenue_retention
portfolio      revenue_per_customer, avg_order_value, top10_revenue_share, top20_margin_share, gini,
               interactions_per_customer, tickets_per_customer (windowed customer facts)
cost           cost_to_serve_ratio, net_profit, unprofitable_share, whale_peak (``metrics.cost``)
acquisition    new_customers; deals: win_rate, sales_cycle_days; penetration: categories_per_customer,
               cross_sell_rate (``metrics.acquisition``)
satisfaction   response_rate (``metrics.satisfaction``)
history        historical_clv (mean value to date per customer)
quality        data_completeness, duplicate_rate, quality_score (``crm_core.quality``: the dataset's kept report)
=============  =====================================================================================

Per-customer rates over interactions (interactions_per_customer, tickets_per_customer) divide by the customers of
the scope (every customer known by the window end, buyer or not: serving a customer who did not buy is work too).
A value is None when the data cannot give it (no rows in the table that feeds it, nobody in scope); NaN and
infinities become None.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime

import polars as pl

from crm_core.metrics import catalog
from crm_core.metrics.scope import Scope

log = logging.getLogger(__name__)

Values = dict[str, float | int | None]


def _clean(value):
    if value is None:
        return None
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _headline(store, scope: Scope) -> Values:
    from crm_core.metrics.headline import headline_kpis

    return headline_values(headline_kpis(store, scope, with_clv=False))


def headline_values(kpis: dict) -> Values:
    """The headline group's values from ``metrics.headline.headline_kpis`` (without CLV)."""
    out = dict(kpis)
    out.pop("avg_clv", None)
    churn = _clean(out.get("churn_rate"))
    out["retention_rate"] = None if churn is None else 1.0 - churn
    return out


def _clv(store, scope: Scope) -> Values:
    from crm_core.metrics import clv, facts

    per_customer = facts.customer_facts(store, scope)
    as_of = per_customer["as_of"].max() if per_customer.height else None
    if as_of is None:
        return {"avg_clv": None, "p_alive": None}
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    try:
        result = clv.fit_clv(store, scope, as_of)
    except clv.ClvError as exc:
        log.info("no predictive CLV for %s: %s", scope.describe(), exc)
        return {"avg_clv": None, "p_alive": None}
    return clv_values(result.frame)


def clv_values(frame: pl.DataFrame | None) -> Values:
    """The clv group's values from a fitted per-customer CLV frame (None: no fit)."""
    if frame is None or not frame.height:
        return {"avg_clv": None, "p_alive": None}
    return {"avg_clv": float(frame["clv"].mean()), "p_alive": float(frame["p_alive"].mean())}


def _retention(store, scope: Scope) -> Values:
    from crm_core.metrics import retention

    return retention_values(retention.retention_summary(store, scope))


def retention_values(s: dict) -> Values:
    """The retention group's values from ``retention.retention_summary``."""
    return {
        "churn_window_days": s["churn_window_days"],
        "median_lifetime_days": s["median_lifetime_days"],
        "net_revenue_retention": s["nrr"],
        "gross_revenue_retention": s["grr"],
    }


def _portfolio(store, scope: Scope) -> Values:
    from crm_core.metrics import facts, portfolio

    per_customer = facts.customer_facts(store, scope)
    buyers = per_customer.filter(pl.col("purchases").fill_null(0) > 0)
    out: Values = dict.fromkeys(
        ("revenue_per_customer", "avg_order_value", "top10_revenue_share", "top20_margin_share", "gini"))
    if buyers.height:
        summary = portfolio.portfolio_summary(buyers)
        revenue, orders = float(buyers["revenue"].sum()), float(buyers["orders"].fill_null(0).sum())
        out |= {
            "revenue_per_customer": revenue / buyers.height,
            "avg_order_value": revenue / orders if orders else None,
            "top10_revenue_share": summary["top10_share_revenue"],
            "top20_margin_share": summary["top20_share_margin"],
            "gini": summary["gini_revenue"],
        }
    n = per_customer.height
    interactions = float(per_customer["interactions"].fill_null(0).sum()) if n else 0.0
    tickets = float(per_customer["tickets"].fill_null(0).sum()) if n else 0.0
    has_interactions = bool(store.scalar("SELECT COUNT(*) FROM interactions WHERE dataset_id = ?", [scope.dataset_id]))
    out["interactions_per_customer"] = interactions / n if n and has_interactions else None
    out["tickets_per_customer"] = tickets / n if n and has_interactions else None
    return out


def _cost(store, scope: Scope) -> Values:
    from crm_core.metrics import cost

    served = cost.cost_to_serve(store, scope)
    if served.is_empty():
        return dict.fromkeys(("cost_to_serve_ratio", "net_profit", "unprofitable_share", "whale_peak"))
    whale = cost.whale_curve(served["net_profit"])
    total_cost, revenue = float(served["cost_to_serve"].sum()), float(served["revenue"].sum())
    return {
        "cost_to_serve_ratio": total_cost / revenue if revenue else None,
        "net_profit": float(served["net_profit"].sum()),
        "unprofitable_share": whale.unprofitable_share,
        "whale_peak": whale.peak_share,
    }


def _acquisition(store, scope: Scope) -> Values:
    from crm_core.metrics import acquisition

    new = acquisition.new_customers(store, scope, "month")
    return {"new_customers": int(new["new_customers"].sum()) if new.height else 0}


def _deals(store, scope: Scope) -> Values:
    from crm_core.metrics import acquisition

    wins = acquisition.win_rate(store, scope).to_dicts()
    cycle = acquisition.sales_cycle(store, scope).to_dicts()
    return {
        "win_rate": wins[0]["win_rate"] if wins else None,
        "sales_cycle_days": cycle[0]["median_days"] if cycle else None,
    }


def _penetration(store, scope: Scope) -> Values:
    from crm_core.metrics import acquisition

    p = acquisition.penetration(store, scope)
    return {"categories_per_customer": p["categories_per_customer"], "cross_sell_rate": p["cross_sell_rate"]}


def _satisfaction(store, scope: Scope) -> Values:
    from crm_core.metrics import satisfaction

    s = satisfaction.satisfaction_summary(store, scope)
    return {"response_rate": s["response_rate"] if s["responses"] else None}


def _history(store, scope: Scope) -> Values:
    from crm_core.metrics import clv

    frame = clv.historical_clv(store, scope)
    return {"historical_clv": float(frame["historical_clv"].mean()) if frame.height else None}


def _quality(store, scope: Scope) -> Values:
    """Data quality is measured on the dataset's customer records as a whole (``crm_core.quality``), not per
    filter or window: the fixes act on whole records, and a filter would hide duplicates across regions. The
    report is kept in the store, so this is a read after its first computation."""
    from crm_core import quality

    report = quality.kept_report(store, scope.dataset_id)
    return {
        "data_completeness": report.contact_completeness,
        "duplicate_rate": report.duplicate_rate,
        "quality_score": report.score,
    }


#: group -> (computation, the metric ids it yields)
GROUPS: dict[str, tuple[Callable[..., Values], tuple[str, ...]]] = {
    "headline": (_headline, ("customers", "active_customers", "revenue", "repeat_rate", "churn_rate",
                             "retention_rate", "nps", "csat", "cost_to_serve_per_customer", "top20_revenue_share")),
    "clv": (_clv, ("avg_clv", "p_alive")),
    "retention": (_retention, ("churn_window_days", "median_lifetime_days", "net_revenue_retention",
                               "gross_revenue_retention")),
    "portfolio": (_portfolio, ("revenue_per_customer", "avg_order_value", "top10_revenue_share",
                               "top20_margin_share", "gini", "interactions_per_customer", "tickets_per_customer")),
    "cost": (_cost, ("cost_to_serve_ratio", "net_profit", "unprofitable_share", "whale_peak")),
    "acquisition": (_acquisition, ("new_customers",)),
    "deals": (_deals, ("win_rate", "sales_cycle_days")),
    "penetration": (_penetration, ("categories_per_customer", "cross_sell_rate")),
    "satisfaction": (_satisfaction, ("response_rate",)),
    "history": (_history, ("historical_clv",)),
    "quality": (_quality, ("data_completeness", "duplicate_rate", "quality_score")),
}
GROUP_OF: dict[str, str] = {mid: g for g, (_, ids) in GROUPS.items() for mid in ids}


def computable(metric_id: str) -> bool:
    """Whether this module can compute the catalog metric ``metric_id``."""
    return metric_id in GROUP_OF


def groups_for(metric_ids: Iterable[str]) -> list[str]:
    """The groups needed for ``metric_ids`` (unknown ids need none), in :data:`GROUPS` order."""
    wanted = {GROUP_OF[m] for m in metric_ids if m in GROUP_OF}
    return [g for g in GROUPS if g in wanted]


def group_values(store, scope: Scope, group: str) -> Values:
    """The metrics of one group for ``scope`` (JSON-safe numbers, None where the data cannot give them)."""
    return cleaned(group, GROUPS[group][0](store, scope))


def cleaned(group: str, values: Values) -> Values:
    """``values`` of ``group`` as :func:`group_values` returns them: its metric ids, JSON-safe, NaN as None."""
    return {mid: _clean(values.get(mid)) for mid in GROUPS[group][1]}


def metric_values(store, scope: Scope, metric_ids: Iterable[str]) -> Values:
    """Live values of ``metric_ids`` for ``scope``; ids this module cannot compute map to None."""
    ids = list(dict.fromkeys(metric_ids))
    out: Values = {}
    for group in groups_for(ids):
        out |= group_values(store, scope, group)
    return {mid: out.get(mid) for mid in ids}


# ---------------------------------------------------------------------------- display
def format_value(metric_id: str, value, currency: str | None = None) -> str:
    """A metric's value as a card shows it, by its catalog unit; "–" when unknown."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    unit = catalog.metric(metric_id).unit
    if metric_id == "quality_score":  # a 0-100 score, not a signed one like NPS
        return f"{value:.0f} / 100"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "currency":
        text = _compact(value) if abs(value) >= 10_000 else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return f"{text} {currency.strip()}" if currency and currency.strip() else text
    if unit == "score":
        return f"{value:+.1f}"
    if unit == "days":
        return f"{value:,.0f} days"
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{value:,.2f}"


def _compact(value: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:,.1f}{suffix}"
    return f"{value:,.0f}"


def evidence_frame(rubric, values: Values, currency: str | None = None) -> pl.DataFrame:
    """One row per (section, metric) of a rubric's evidence: the section, metric id and label, the value as a
    number and as shown, unit and which direction is better."""
    rows = []
    for s in rubric.sections:
        for mid in s.evidence:
            m = catalog.metric(mid)
            v = values.get(mid)
            rows.append({
                rubric.section_word: s.name, "metric_id": mid, "metric": m.label,
                "value": None if v is None else float(v), "shown": format_value(mid, v, currency),
                "unit": m.unit, "better": m.better,
            })
    return pl.DataFrame(rows, schema={rubric.section_word: pl.String, "metric_id": pl.String, "metric": pl.String,
                                      "value": pl.Float64, "shown": pl.String, "unit": pl.String,
                                      "better": pl.String}, orient="row")

