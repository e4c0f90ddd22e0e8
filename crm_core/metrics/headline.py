"""The headline KPIs of a scope, keyed by catalog id: what the CLI prints and the review page leads with.

Each figure comes from the metric module that owns it; this module only puts them side by side.
"""

from __future__ import annotations

import logging
import math
from datetime import date

import polars as pl

from crm_core.metrics import clv, cost, facts, portfolio, retention, satisfaction
from crm_core.metrics.scope import Scope

log = logging.getLogger(__name__)

HEADLINE_IDS = (
    "customers", "active_customers", "revenue", "repeat_rate", "churn_rate", "nps", "csat", "avg_clv",
    "cost_to_serve_per_customer", "top20_revenue_share",
)


def _clean(value):
    """JSON-safe number: NaN and infinities become None; numpy scalars become Python numbers."""
    if value is None:
        return None
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def average_clv(store, scope: Scope, as_of: date | None) -> float | None:
    """Mean predicted CLV (12 months, 1% a month, weekly model) calibrated up to ``as_of``; None when the
    data cannot support a fit (the reason goes to the log)."""
    if as_of is None:
        return None
    try:
        result = clv.fit_clv(store, scope, as_of)
    except clv.ClvError as exc:
        log.info("no predictive CLV for %s: %s", scope.describe(), exc)
        return None
    return float(result.frame["clv"].mean()) if result.frame.height else None


def cost_to_serve_per_customer(store, scope: Scope) -> float | None:
    """Mean cost to serve of the customers served in ``scope`` (catalog ``cost_to_serve_per_customer``); None when
    nobody was served."""
    served = cost.cost_to_serve(store, scope)
    return _clean(float(served["cost_to_serve"].mean())) if served.height else None


def headline_kpis(store, scope: Scope, *, with_clv: bool = True, churn_days: int | None = None,
                  known: dict | None = None) -> dict[str, float | int | None]:
    """Headline KPIs of ``scope`` keyed by catalog id (see ``catalog.yaml`` for each definition).

    ``active_customers`` counts customers whose last purchase lies within the churn window before the window
    end; ``churn_rate`` uses the same window: ``churn_days``, else derived from the data's repeat gaps
    (``retention.default_churn_window``; the review passes the reviewed period's to every period it compares).
    ``known``: any of ``repeat_rate``, ``churn_rate`` (under ``churn_days``) and ``cost_to_serve_per_customer``
    of this scope already computed elsewhere (the pages' kept views), used instead of computing them again.
    """
    known = known or {}
    per_customer = facts.customer_facts(store, scope)
    buyers = per_customer.filter(pl.col("purchases") > 0)
    days = retention.default_churn_window(store, scope).days if churn_days is None else churn_days
    active = per_customer.filter(
        pl.col("last_purchase").is_not_null() & (pl.col("recency_days") <= days)
    ).height
    if "cost_to_serve_per_customer" in known:
        cost_per_customer = known["cost_to_serve_per_customer"]
    else:
        cost_per_customer = cost_to_serve_per_customer(store, scope)
    sat = satisfaction.satisfaction_summary(store, scope)
    as_of = per_customer["as_of"].max() if per_customer.height else None
    if as_of is not None and not isinstance(as_of, date):
        as_of = as_of.date()
    kpis = {
        "customers": buyers.height,
        "active_customers": active,
        "revenue": float(buyers["revenue"].sum()) if buyers.height else 0.0,
        "repeat_rate": known["repeat_rate"] if "repeat_rate" in known else retention.repeat_purchase_rate(store, scope),
        "churn_rate": known["churn_rate"] if "churn_rate" in known else retention.churn(store, scope, days).churn_rate,
        "nps": sat["nps"],
        "csat": sat["csat"],
        "avg_clv": average_clv(store, scope, as_of) if with_clv else None,
        "cost_to_serve_per_customer": cost_per_customer,
        "top20_revenue_share": portfolio.pareto(buyers, "revenue").top_share(0.2) if buyers.height else None,
    }
    return {k: _clean(v) for k, v in kpis.items()}
