"""Customer management activity: acquisition, penetration and efficiency (QCI *customer
management activity*: acquisition, penetration, retention, efficiency; retention lives in
``retention.py``).

Definitions and sources
-----------------------
New customers
    Customers whose first completed purchase *ever* (over the whole history, not just the window)
    falls in the period. The purchase stream is the ``purchases`` view (transactions, or won deals
    for a dataset without transactions), as in ``customer_facts.first_purchase``.
Win rate
    won ÷ (won + lost) of the deals *closed* in the window; open deals are left out because no
    decision has been made on them. This is the standard count-based sales definition (e.g.
    Salesforce / HubSpot "win rate": closed-won over all closed opportunities in the period).
Sales cycle
    Days from ``created_at`` to ``closed_at`` of the won deals closed in the window (Salesforce's
    "age of closed-won opportunities"); median and 90th percentile by linear interpolation between
    order statistics (Hyndman & Fan 1996, definition 7 — numpy's default).
Penetration
    Breadth of what a customer buys: distinct categories (and products) per buying customer and
    the cross-sell rate = share of buying customers with purchases in ≥ 2 categories. Cross-selling
    as growth of the number of product categories a customer holds follows Kamakura, Wedel, de
    Rosa & Mazzon (2003), "Cross-selling through database marketing", *IJRM* 20(1), 45–65.
Efficiency
    Cost to serve per unit of revenue = Σ cost to serve ÷ Σ revenue (Kaplan & Narayanan 2001,
    "Measuring and managing customer profitability", *Journal of Cost Management* 15(5)), and
    revenue per buying customer.

Scope: purchases follow :func:`~crm_core.metrics.scope.purchases_sql` (window, customer filters,
channel filter, completed only); deals follow :func:`~crm_core.metrics.scope.activity_sql` with the
window on ``closed_at`` (deals have no sales channel: the channel filter does not apply to them).
Every function is one DuckDB query with bound values.
"""

from __future__ import annotations

import uuid

import polars as pl

from crm_core.metrics.satisfaction import PERIODS, _check
from crm_core.metrics.scope import Scope, activity_sql, customer_filter, purchases_sql

DEAL_BREAKDOWNS = ("owner", "source")


def new_customers(store, scope: Scope, period: str = "month") -> pl.DataFrame:
    """New customers per calendar period of the window.

    A customer is new in the period holding their first completed purchase ever. The region /
    segment / owner filters apply to the customer; a channel filter keeps the customers whose
    first purchase went through a selected channel (the channel that acquired them). Every
    period from the window start (or the first acquisition of the scope) to the horizon — the
    window end, capped at the day after the dataset's last purchase — is listed, with zero when
    nobody was acquired.

    Parameters
    ----------
    store
        A :class:`~crm_core.store.Store`.
    scope
        Dataset, window and filters.
    period
        ``"week"``, ``"month"``, ``"quarter"`` or ``"year"``.

    Returns
    -------
    pl.DataFrame
        period (first day, Date), new_customers, partial (the period is not wholly inside the
        window and observed history: compare it with whole periods only with care, DESIGN §8).
    """
    _check("period", period, PERIODS)
    unit, step = PERIODS[period]
    sql = f"""
    WITH firsts AS (
        SELECT p.customer_id,
               min(p.occurred_at) AS first_at,
               arg_min(p.channel, p.occurred_at) AS first_channel
        FROM purchases p
        WHERE p.dataset_id = $dataset AND p.status = 'completed' AND {customer_filter('p')}
        GROUP BY p.customer_id
    ),
    acquired AS (
        SELECT date_trunc('{unit}', first_at) AS period, first_at
        FROM firsts
        WHERE (len($channels::VARCHAR[]) = 0 OR list_contains($channels::VARCHAR[], first_channel))
          AND ($start_ts::TIMESTAMP IS NULL OR first_at >= $start_ts::TIMESTAMP)
          AND ($end_ts::TIMESTAMP IS NULL OR first_at < $end_ts::TIMESTAMP)
    ),
    bounds AS (
        SELECT
            date_trunc('{unit}', COALESCE($start_ts::TIMESTAMP, (SELECT min(first_at) FROM acquired)))
                AS first_period,
            least(
                $end_ts::TIMESTAMP,
                (SELECT max(occurred_at)::DATE + INTERVAL 1 DAY FROM purchases WHERE dataset_id = $dataset)
            ) AS horizon
    ),
    periods AS (SELECT unnest(range(first_period, horizon, {step})) AS period FROM bounds),
    counts AS (SELECT period, COUNT(*) AS n FROM acquired GROUP BY period)
    SELECT p.period::DATE AS period,
           COALESCE(counts.n, 0)::BIGINT AS new_customers,
           (($start_ts::TIMESTAMP IS NOT NULL AND p.period < $start_ts::TIMESTAMP)
               OR p.period + {step} > b.horizon) AS partial
    FROM periods p CROSS JOIN bounds b LEFT JOIN counts USING (period)
    ORDER BY p.period
    """
    return store.query(sql, scope.params(sql))


def _deal_key(by: str | None) -> tuple[str, str, str]:
    """(select prefix, group by, order by) for a deal breakdown."""
    if by is None:
        return "", "", ""
    _check("by", by, DEAL_BREAKDOWNS)
    return f'd.{by} AS "{by}", ', "GROUP BY 1", f'ORDER BY "{by}" NULLS LAST'


def win_rate(store, scope: Scope, by: str | None = None) -> pl.DataFrame:
    """Win rate of the deals closed in the window: won ÷ (won + lost); open deals excluded.

    Parameters
    ----------
    by
        None for one row; ``"owner"`` (the deal's owner) or ``"source"`` for one row per value.

    Returns
    -------
    pl.DataFrame
        [by,] won, lost, closed (= won + lost), win_rate (0 … 1; null when nothing closed),
        won_amount (Σ amount of won deals; 0 when none).
    """
    select, group, order = _deal_key(by)
    sql = f"""
    SELECT {select}
        COUNT(*) FILTER (WHERE d.status = 'won')  AS won,
        COUNT(*) FILTER (WHERE d.status = 'lost') AS lost,
        COUNT(*)                                  AS closed,
        CASE WHEN COUNT(*) > 0 THEN (COUNT(*) FILTER (WHERE d.status = 'won'))::DOUBLE / COUNT(*) END
                                                  AS win_rate,
        COALESCE(SUM(d.amount) FILTER (WHERE d.status = 'won'), 0)::DOUBLE AS won_amount
    FROM ({activity_sql('deals', 'closed_at')}) d
    WHERE d.status IN ('won', 'lost')
    {group} {order}
    """
    return store.query(sql, scope.params(sql))


def sales_cycle(store, scope: Scope, by: str | None = None) -> pl.DataFrame:
    """Days from creation to close of the won deals closed in the window.

    Deals without ``created_at``, or closed before they were created (a data error), cannot be
    measured: they are counted in ``unmeasured`` and left out of the statistics.

    Parameters
    ----------
    by
        None for one row, ``"owner"`` or ``"source"`` for one row per value.

    Returns
    -------
    pl.DataFrame
        [by,] n, mean_days, median_days, p90_days (fractional days; null when n is 0),
        unmeasured.
    """
    select, group, order = _deal_key(by)
    days = "(epoch(d.closed_at) - epoch(d.created_at)) / 86400.0"
    ok = "d.created_at IS NOT NULL AND d.closed_at IS NOT NULL AND d.closed_at >= d.created_at"
    sql = f"""
    SELECT {select}
        COUNT(*) FILTER (WHERE {ok})                              AS n,
        AVG({days}) FILTER (WHERE {ok})                           AS mean_days,
        quantile_cont({days}, 0.5) FILTER (WHERE {ok})            AS median_days,
        quantile_cont({days}, 0.9) FILTER (WHERE {ok})            AS p90_days,
        COUNT(*) FILTER (WHERE NOT ({ok}))                        AS unmeasured
    FROM ({activity_sql('deals', 'closed_at')}) d
    WHERE d.status = 'won'
    {group} {order}
    """
    return store.query(sql, scope.params(sql))


def penetration(store, scope: Scope) -> dict:
    """Category and product penetration of the customers buying in the window.

    Categories and products are counted where the purchase carries them; a customer none of
    whose purchases in the window carries a category is left out of the category statistics
    (and likewise for products), so missing data never reads as a narrow customer.

    Returns
    -------
    dict
        ``customers`` (buying in the window), ``customers_with_category``,
        ``categories_per_customer`` (mean distinct categories), ``cross_sell_rate`` (share with
        ≥ 2 categories, 0 … 1), ``customers_with_product``, ``products_per_customer`` (mean
        distinct products), ``categories`` (distinct categories sold in the window). Means and
        rates are None when no purchase carries the column.
    """
    sql = f"""
    WITH p AS ({purchases_sql()}),
    per_customer AS (
        SELECT customer_id, COUNT(DISTINCT category) AS cats, COUNT(DISTINCT product) AS prods
        FROM p GROUP BY customer_id
    )
    SELECT
        COUNT(*)                                              AS customers,
        COUNT(*) FILTER (WHERE cats > 0)                      AS customers_with_category,
        AVG(cats) FILTER (WHERE cats > 0)::DOUBLE             AS categories_per_customer,
        CASE WHEN COUNT(*) FILTER (WHERE cats > 0) > 0 THEN
            (COUNT(*) FILTER (WHERE cats >= 2))::DOUBLE / COUNT(*) FILTER (WHERE cats > 0)
        END                                                   AS cross_sell_rate,
        COUNT(*) FILTER (WHERE prods > 0)                     AS customers_with_product,
        AVG(prods) FILTER (WHERE prods > 0)::DOUBLE           AS products_per_customer,
        (SELECT COUNT(DISTINCT category) FROM p)              AS categories
    FROM per_customer
    """
    return store.query(sql, scope.params(sql)).to_dicts()[0]


def _validate_cost_frame(frame: pl.DataFrame) -> None:
    """Boundary check in the manner of pymc-marketing's ``_validate_cols``."""
    missing = [c for c in ("customer_id", "cost_to_serve") if c not in frame.columns]
    if missing:
        raise ValueError(f"cost_per_customer needs columns {missing}")
    if frame["customer_id"].n_unique() != frame.height:
        raise ValueError("cost_per_customer must have one row per customer_id")


def efficiency(store, scope: Scope, cost_per_customer: pl.DataFrame | None = None) -> dict:
    """Revenue per customer and cost to serve per unit of revenue.

    Parameters
    ----------
    cost_per_customer
        One row per customer: ``customer_id``, ``cost_to_serve`` (money, for the same window —
        ``crm_core.metrics.cost`` makes it). Customers passing the scope's region / segment /
        owner filters are summed, buyers or not: serving a customer who did not buy is a cost
        too. None when no cost is known: the cost values are then None.

    Returns
    -------
    dict
        ``revenue`` (completed purchases in the window), ``customers`` (buying in the window),
        ``revenue_per_customer``, ``cost_to_serve`` (Σ), ``costed_customers``,
        ``cost_per_revenue`` = Σ cost to serve ÷ Σ revenue (None without cost or revenue).
    """
    revenue = f"SELECT COUNT(DISTINCT customer_id) AS customers, SUM(amount) AS revenue FROM ({purchases_sql()}) p"
    if cost_per_customer is None:
        sql = f"""
        SELECT COALESCE(r.revenue, 0)::DOUBLE AS revenue, r.customers,
               CASE WHEN r.customers > 0 THEN r.revenue / r.customers END::DOUBLE AS revenue_per_customer,
               NULL::DOUBLE AS cost_to_serve, NULL::BIGINT AS costed_customers, NULL::DOUBLE AS cost_per_revenue
        FROM ({revenue}) r
        """
        return store.query(sql, scope.params(sql)).to_dicts()[0]
    _validate_cost_frame(cost_per_customer)
    view = f"cost_{uuid.uuid4().hex}"
    sql = f"""
    WITH r AS ({revenue}),
    c AS (
        SELECT COUNT(*) AS costed_customers, SUM(c.cost_to_serve)::DOUBLE AS cost_to_serve
        FROM "{view}" c WHERE c.cost_to_serve IS NOT NULL AND {customer_filter('c')}
    )
    SELECT COALESCE(r.revenue, 0)::DOUBLE AS revenue, r.customers,
           CASE WHEN r.customers > 0 THEN r.revenue / r.customers END::DOUBLE AS revenue_per_customer,
           c.cost_to_serve, c.costed_customers,
           CASE WHEN r.revenue > 0 THEN c.cost_to_serve / r.revenue END::DOUBLE AS cost_per_revenue
    FROM r, c
    """
    frame = cost_per_customer.select(
        pl.col("customer_id").cast(pl.String), pl.col("cost_to_serve").cast(pl.Float64)
    )
    cur = store.cursor()
    cur.register(view, frame.to_arrow())
    try:
        return cur.sql(sql, params=scope.params(sql)).pl().to_dicts()[0]
    finally:
        cur.unregister(view)
