"""The biggest movers: which segments, regions and channels moved revenue, buyers and retention between two
periods of equal length (Payne & Frow *performance assessment*; the executive review's "where did it move").

One DuckDB query does the set work for every dimension at once (no Python loop over customers): completed
purchases of the scope's filtered history, each period's sales and each period's retention base, keyed by
segment, region, channel and region × segment. Polars then puts the groups side by side.

Attribution (each group's *contribution* adds up to the total change of its dimension):

* revenue and customers: contribution = the group's change (current − previous). Revenue groups partition
  the purchases, so their contributions add up to the change in total revenue; a customer buying through two
  channels counts in both, so customer contributions by channel need not add up;
* retention rate: contribution = retained_g,cur / base_cur − retained_g,prev / base_prev, with base the
  customers active at the period start (a purchase in the churn window before it) and retained those of them
  who bought in the churn window ending the period end — :func:`crm_core.metrics.retention.churn`'s rule.
  Summed over the groups of a dimension it is exactly the change of the total retention rate. A base customer's
  channel is the channel of their last purchase before the period start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from crm_core import sql
from crm_core.metrics import retention
from crm_core.metrics.scope import Scope, purchases_sql

if TYPE_CHECKING:  # pragma: no cover
    from crm_core.store import Store

#: Dimensions, in the order they are reported: id -> label.
DIMENSIONS: dict[str, str] = {
    "segment": "segment",
    "region": "region",
    "channel": "channel",
    "region_segment": "region × segment",
}
#: Metrics broken down by group (catalog ids).
MOVER_METRICS: tuple[str, ...] = ("revenue", "customers", "retention_rate")
NOT_SET = "(not set)"

_SQL = """
WITH scoped AS ({purchases}),
periods AS (
    SELECT * FROM (VALUES ('current', $cur_start::DATE, $cur_end::DATE),
                          ('previous', $prev_start::DATE, $prev_end::DATE)) t(period, period_start, period_end)
),
attrs AS (
    SELECT customer_id, any_value(region) AS region, any_value(segment) AS segment
    FROM customers WHERE dataset_id = $dataset GROUP BY customer_id
),
dims AS (SELECT unnest(['segment', 'region', 'channel', 'region_segment']) AS dimension),
sales AS (
    SELECT pe.period, s.customer_id, s.channel, s.amount
    FROM scoped s JOIN periods pe ON CAST(s.occurred_at AS DATE) BETWEEN pe.period_start AND pe.period_end
),
sales_by AS (
    SELECT d.dimension,
           CASE d.dimension WHEN 'segment' THEN a.segment WHEN 'region' THEN a.region
                WHEN 'channel' THEN s.channel ELSE a.region || ' · ' || a.segment END AS grp,
           SUM(s.amount) FILTER (WHERE s.period = 'current')::DOUBLE AS revenue_current,
           SUM(s.amount) FILTER (WHERE s.period = 'previous')::DOUBLE AS revenue_previous,
           COUNT(DISTINCT s.customer_id) FILTER (WHERE s.period = 'current')::BIGINT AS customers_current,
           COUNT(DISTINCT s.customer_id) FILTER (WHERE s.period = 'previous')::BIGINT AS customers_previous
    FROM sales s CROSS JOIN dims d LEFT JOIN attrs a ON a.customer_id = s.customer_id
    GROUP BY ALL
),
-- retention: the islands of days on which a customer is active (bought in the L days before), kept per rule
-- (crm_core.metrics.retention.activity_islands) and matched as in crm_core/sql/retention_churn.sql; base =
-- active on the period start, retained = also active the day after the period end.
islands AS (
    SELECT customer_id, lo, hi FROM kept_islands
),
base AS (
    SELECT p.period, i.customer_id FROM periods p JOIN islands i ON p.period_start BETWEEN i.lo AND i.hi
),
still AS (
    SELECT p.period, i.customer_id FROM periods p JOIN islands i ON p.period_end + 1 BETWEEN i.lo AND i.hi
),
last_channel AS (
    SELECT b.period, b.customer_id, arg_max(s.channel, s.occurred_at) AS channel
    FROM base b JOIN periods p USING (period)
    JOIN scoped s ON s.customer_id = b.customer_id AND CAST(s.occurred_at AS DATE) < p.period_start
    GROUP BY ALL
),
flags AS (
    SELECT b.period, b.customer_id, st.customer_id IS NOT NULL AS retained, lc.channel
    FROM base b
    LEFT JOIN still st ON st.period = b.period AND st.customer_id = b.customer_id
    LEFT JOIN last_channel lc ON lc.period = b.period AND lc.customer_id = b.customer_id
),
retention_by AS (
    SELECT d.dimension,
           CASE d.dimension WHEN 'segment' THEN a.segment WHEN 'region' THEN a.region
                WHEN 'channel' THEN f.channel ELSE a.region || ' · ' || a.segment END AS grp,
           COUNT(*) FILTER (WHERE f.period = 'current')::BIGINT AS base_current,
           COUNT(*) FILTER (WHERE f.period = 'current' AND f.retained)::BIGINT AS retained_current,
           COUNT(*) FILTER (WHERE f.period = 'previous')::BIGINT AS base_previous,
           COUNT(*) FILTER (WHERE f.period = 'previous' AND f.retained)::BIGINT AS retained_previous
    FROM flags f CROSS JOIN dims d LEFT JOIN attrs a ON a.customer_id = f.customer_id
    GROUP BY ALL
)
SELECT dimension, COALESCE(NULLIF(trim(grp), ''), '{not_set}') AS grp,
       COALESCE(SUM(revenue_current), 0)::DOUBLE AS revenue_current,
       COALESCE(SUM(revenue_previous), 0)::DOUBLE AS revenue_previous,
       COALESCE(SUM(customers_current), 0)::BIGINT AS customers_current,
       COALESCE(SUM(customers_previous), 0)::BIGINT AS customers_previous,
       COALESCE(SUM(base_current), 0)::BIGINT AS base_current,
       COALESCE(SUM(retained_current), 0)::BIGINT AS retained_current,
       COALESCE(SUM(base_previous), 0)::BIGINT AS base_previous,
       COALESCE(SUM(retained_previous), 0)::BIGINT AS retained_previous
FROM (SELECT * FROM sales_by) s FULL OUTER JOIN (SELECT * FROM retention_by) r USING (dimension, grp)
GROUP BY ALL
ORDER BY dimension, grp
"""

_SCHEMA = {
    "dimension": pl.String, "group": pl.String, "metric_id": pl.String, "current": pl.Float64,
    "previous": pl.Float64, "change": pl.Float64, "contribution": pl.Float64, "share_of_change": pl.Float64,
    "total_current": pl.Float64, "total_previous": pl.Float64, "total_change": pl.Float64,
}


@dataclass(frozen=True)
class MoverPeriods:
    """The two periods compared (inclusive dates) and the churn window L in days."""

    current_start: date
    current_end: date
    previous_start: date
    previous_end: date
    inactivity_days: int


def group_counts(store: Store, scope: Scope, periods: MoverPeriods) -> pl.DataFrame:
    """Per (dimension, group): revenue, buying customers, retention base and retained customers in each period
    (one DuckDB query). Columns: dimension, grp, revenue_/customers_/base_/retained_ current and previous."""
    if periods.inactivity_days < 1:
        raise ValueError(f"inactivity_days must be at least 1; got {periods.inactivity_days!r}")
    text = sql.expand(_SQL.format(purchases=purchases_sql(windowed=False, statuses=("completed",)), not_set=NOT_SET))
    params = {
        **scope.params(text),
        "cur_start": periods.current_start, "cur_end": periods.current_end,
        "prev_start": periods.previous_start, "prev_end": periods.previous_end,
    }
    return retention.over_islands(store, scope, int(periods.inactivity_days), text, params)


def movers_from_counts(counts: pl.DataFrame) -> pl.DataFrame:
    """The long movers frame from :func:`group_counts`: one row per (dimension, group, metric) with current,
    previous, change, contribution (see the module doc), share_of_change (contribution / the dimension's total
    change; null when it did not change) and the dimension's totals. Pure Polars."""
    if counts.is_empty():
        return pl.DataFrame(schema=_SCHEMA)
    by_dim = pl.col("dimension")
    revenue = counts.select(
        "dimension", pl.col("grp").alias("group"), pl.lit("revenue").alias("metric_id"),
        pl.col("revenue_current").alias("current"), pl.col("revenue_previous").alias("previous"),
        pl.col("revenue_current").sum().over(by_dim).alias("total_current"),
        pl.col("revenue_previous").sum().over(by_dim).alias("total_previous"),
    ).with_columns(contribution=pl.col("current") - pl.col("previous"))
    customers = counts.select(
        "dimension", pl.col("grp").alias("group"), pl.lit("customers").alias("metric_id"),
        pl.col("customers_current").cast(pl.Float64).alias("current"),
        pl.col("customers_previous").cast(pl.Float64).alias("previous"),
        pl.col("customers_current").sum().over(by_dim).cast(pl.Float64).alias("total_current"),
        pl.col("customers_previous").sum().over(by_dim).cast(pl.Float64).alias("total_previous"),
    ).with_columns(contribution=pl.col("current") - pl.col("previous"))

    def rate(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)

    base_cur = pl.col("base_current").sum().over(by_dim)
    base_prev = pl.col("base_previous").sum().over(by_dim)
    share_cur = pl.when(base_cur > 0).then(pl.col("retained_current") / base_cur).otherwise(0.0)
    share_prev = pl.when(base_prev > 0).then(pl.col("retained_previous") / base_prev).otherwise(0.0)
    retention = counts.select(
        "dimension", pl.col("grp").alias("group"), pl.lit("retention_rate").alias("metric_id"),
        rate("retained_current", "base_current").alias("current"),
        rate("retained_previous", "base_previous").alias("previous"),
        pl.when(base_cur > 0).then(pl.col("retained_current").sum().over(by_dim) / base_cur)
        .otherwise(None).alias("total_current"),
        pl.when(base_prev > 0).then(pl.col("retained_previous").sum().over(by_dim) / base_prev)
        .otherwise(None).alias("total_previous"),
        (share_cur - share_prev).alias("contribution"),
        (pl.col("base_current") + pl.col("base_previous")).alias("_base"),
    )
    # a group nobody was active in, in either period, says nothing about retention
    retention = retention.filter(pl.col("_base") > 0).drop("_base")
    # with no base in one period the total rate is unknown: contributions are not defined either
    retention = retention.with_columns(
        contribution=pl.when(pl.col("total_current").is_not_null() & pl.col("total_previous").is_not_null())
        .then(pl.col("contribution")).otherwise(None)
    )
    out = pl.concat([revenue, customers, retention], how="diagonal_relaxed").with_columns(
        change=pl.col("current") - pl.col("previous"),
        total_change=pl.col("total_current") - pl.col("total_previous"),
    )
    out = out.with_columns(
        share_of_change=pl.when(pl.col("total_change").abs() > 1e-12)
        .then(pl.col("contribution") / pl.col("total_change")).otherwise(None)
    )
    order = {d: i for i, d in enumerate(DIMENSIONS)}
    metric_order = {m: i for i, m in enumerate(MOVER_METRICS)}
    return (
        out.with_columns(
            _d=pl.col("dimension").replace_strict(order, default=len(order), return_dtype=pl.Int32),
            _m=pl.col("metric_id").replace_strict(metric_order, return_dtype=pl.Int32),
            _a=pl.col("contribution").abs(),
        )
        .sort(["_m", "_d", "_a", "group"], descending=[False, False, True, False], nulls_last=True)
        .drop("_d", "_m", "_a")
        .select(list(_SCHEMA))
        .cast(_SCHEMA)
    )


def movers(store: Store, scope: Scope, periods: MoverPeriods) -> pl.DataFrame:
    """Every group's change between the two periods, biggest contribution first within each metric and
    dimension (see :func:`movers_from_counts` for the columns). A period running past the data's last purchase
    day is measured up to that day, as :func:`crm_core.metrics.retention.churn` does."""
    last = store.scalar("SELECT CAST(MAX(occurred_at) AS DATE) FROM purchases WHERE dataset_id = ?",
                        [scope.dataset_id])
    if last is None:
        return movers_from_counts(pl.DataFrame())
    periods = replace(periods, current_end=min(periods.current_end, last), previous_end=min(periods.previous_end, last))
    return movers_from_counts(group_counts(store, scope, periods))


def top_movers(frame: pl.DataFrame, metric_id: str, *, n: int = 5, dimensions: tuple[str, ...] | None = None,
               direction: int | None = None) -> pl.DataFrame:
    """The ``n`` groups with the largest absolute contribution to ``metric_id`` (over ``dimensions``, default
    segment, region and channel); ``direction`` +1 / −1 keeps only rises / falls."""
    dims = dimensions or ("segment", "region", "channel")
    sel = frame.filter(
        (pl.col("metric_id") == metric_id) & pl.col("dimension").is_in(list(dims)) & pl.col("contribution").is_not_null()
    )
    if direction is not None:
        sel = sel.filter(pl.col("contribution") * direction > 0)
    return sel.sort(pl.col("contribution").abs(), descending=True).head(n)
