"""Cost to serve and customer profitability by activity-based costing (DESIGN.md §1 "Cost to serve", §4, §6).

Every customer is charged for the activities it causes, priced per dataset by editable *cost rates*:

* interactions, one pool per kind (call, email, meeting, visit, chat, ticket, other): contacts x
  ``per_contact`` + minutes x ``per_minute`` + the explicit ``interactions.cost`` (travel and other
  expenses recorded on the interaction). This is time-driven activity-based costing: an activity is priced by
  the time it takes at the capacity cost rate of the people doing it (Kaplan, R. S. & Anderson, S. R. 2004,
  "Time-driven activity-based costing", *Harvard Business Review* 82(11), 131-138);
* order handling: completed orders x the ``order`` rate (``per_order``);
* returns: refunded orders x the ``return`` rate (``per_return``).

Then, per customer (Cooper, R. & Kaplan, R. S. 1991, "Profit priorities from activity-based costing",
*HBR* 69(3); Kaplan, R. S. & Cooper, R. 1998, *Cost & Effect*, ch. 10 "Customer profitability"):
``gross_margin = revenue - cogs`` and ``net_profit = gross_margin - cost_to_serve`` with
``cost_to_serve`` the sum of the pools. Discounts are reported (``discounts``) but not charged: the
canonical ``amount`` is net revenue (DESIGN §4), so a discount is already out of revenue and charging it
again would count it twice. When a dataset records no COGS, ``cogs`` is 0 and ``has_cogs`` is false, so
``net_profit`` is then revenue less cost to serve.

The costing is one SQL fragment, ``crm_core/sql/cost_to_serve.sql``, shared by :func:`cost_to_serve`,
the windowed facts (:mod:`crm_core.metrics.facts`) and the stored ``customer_facts`` table. Default rates
are data (``cost_rates.yaml``), mirrored into the store table ``cost_rate_defaults``; a dataset's own
rates live in ``cost_rates`` and :func:`set_rates` rebuilds that dataset's stored facts in the same
transaction.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
import yaml

from crm_core import results, sql
from crm_core.metrics.scope import (
    ATTRIBUTE_FILTER,
    Scope,
    activity_sql,
    channel_mode_sql,
    purchase_totals_sql,
    purchases_sql,
    sales_channels,
)

if TYPE_CHECKING:  # pragma: no cover
    from crm_core.store import Store

RATES_FILE = Path(__file__).with_name("cost_rates.yaml")

INTERACTION_KINDS: tuple[str, ...] = ("call", "email", "meeting", "visit", "chat", "ticket")
INTERACTION_POOLS: tuple[str, ...] = (*INTERACTION_KINDS, "other")
POOLS: tuple[str, ...] = (*INTERACTION_POOLS, "order", "return")
UNITS: dict[str, tuple[str, ...]] = {
    **{p: ("per_contact", "per_minute") for p in INTERACTION_POOLS},
    "order": ("per_order",),
    "return": ("per_return",),
}
POOL_COLUMNS: tuple[str, ...] = tuple(f"cost_{p}" for p in POOLS)

ByWhat = Literal["segment", "region", "channel", "owner", "pool"]
_BY_COLUMN = {"segment": "segment", "region": "region", "channel": "main_channel", "owner": "owner"}
NOT_SET = "(not set)"


class CostRatesError(ValueError):
    """Cost rates that cannot be saved; the message says which row and why, fit to show to the user."""


# ---------------------------------------------------------------------------------------------- SQL




def expand(text: str) -> str:
    """Replace every ``-- @include <name>`` line of a query by ``crm_core/sql/<name>.sql`` (``sql.expand``).

    This is how the cost-to-serve CTEs are shared by the stored facts, the windowed facts and
    :func:`cost_to_serve` instead of being written three times.
    """
    return sql.expand(text)


def render(name: str, **parts: str) -> str:
    """Query ``name`` with its includes expanded and its ``{{part}}`` slots filled with SQL text.

    Slots take SQL *text* built by :mod:`crm_core.metrics.scope` (subqueries with ``$name`` parameters),
    never values: values are always bound.
    """
    text = expand(sql.load(name))
    for key, value in parts.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{(\w+)\}\}", text)
    if left:
        raise KeyError(f"query {name!r} has unfilled slots: {left}")
    return text


def bind(scope: Scope, text: str, **extra) -> dict:
    """Parameters of ``text``: the scope's and ``extra``, only those the query uses (DuckDB refuses others)."""
    used = set(re.findall(r"\$([A-Za-z_]\w*)", text))
    return scope.params(text) | {k: v for k, v in extra.items() if k in used}


# ---------------------------------------------------------------------------------------------- rates


@cache
def _default_rows() -> tuple[tuple[str, str, float], ...]:
    data = yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))
    rows = tuple((str(r["pool"]), str(r["unit"]), float(r["rate"])) for r in data["rates"])
    keys = [(p, u) for p, u, _ in rows]
    expected = [(p, u) for p in POOLS for u in UNITS[p]]
    if sorted(keys) != sorted(expected):  # the SQL fragment prices exactly these pools
        raise RuntimeError(f"{RATES_FILE.name} must list exactly {expected}, found {keys}")
    return rows


def default_rates() -> pl.DataFrame:
    """Default cost rates from ``cost_rates.yaml``: columns pool, unit, rate (currency-neutral)."""
    rows = _default_rows()
    return pl.DataFrame(
        {"pool": [r[0] for r in rows], "unit": [r[1] for r in rows], "rate": [r[2] for r in rows]},
        schema={"pool": pl.String, "unit": pl.String, "rate": pl.Float64},
    )


def get_rates(store: Store, dataset_id: int) -> pl.DataFrame:
    """The dataset's cost rates: its saved rate where there is one, else the default.

    Returns
    -------
    pl.DataFrame
        pool, unit, rate, default_rate, in the order of ``cost_rates.yaml``.
    """
    return store.query(
        "SELECT d.pool, d.unit, COALESCE(s.rate, d.rate) AS rate, d.rate AS default_rate "
        "FROM cost_rate_defaults AS d "
        "LEFT JOIN (SELECT pool, unit, rate FROM cost_rates WHERE dataset_id = $dataset) AS s USING (pool, unit) "
        "ORDER BY d.position",
        {"dataset": dataset_id},
    )


def validate_rates(rates: pl.DataFrame) -> pl.DataFrame:
    """Check rates at the boundary and return them clean (pool and unit lower-cased, rate Float64).

    Raises
    ------
    CostRatesError
        Missing columns, an unknown pool or unit, a rate that is not a number, negative, infinite or
        missing, or a (pool, unit) given twice.
    """
    missing = [c for c in ("pool", "unit", "rate") if c not in rates.columns]
    if missing:
        raise CostRatesError(f"Cost rates need the columns pool, unit and rate; missing: {', '.join(missing)}.")
    pools = rates["pool"].cast(pl.String).str.strip_chars().str.to_lowercase().to_list()
    units = rates["unit"].cast(pl.String).str.strip_chars().str.to_lowercase().to_list()
    values = rates["rate"].to_list()
    clean: list[float] = []
    for i, (pool, unit, value) in enumerate(zip(pools, units, values, strict=True), start=1):
        if pool not in UNITS:
            raise CostRatesError(f"Row {i}: unknown pool {pool!r}; pools are {', '.join(POOLS)}.")
        if unit not in UNITS[pool]:
            raise CostRatesError(f"Row {i}: pool {pool!r} has no unit {unit!r}; use {' or '.join(UNITS[pool])}.")
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise CostRatesError(f"Row {i}: the {pool} {unit} rate {value!r} is not a number.")
        if number < 0:
            raise CostRatesError(f"Row {i}: the {pool} {unit} rate {number} is negative; rates are 0 or more.")
        clean.append(number)
    out = pl.DataFrame(
        {"pool": pools, "unit": units, "rate": clean},
        schema={"pool": pl.String, "unit": pl.String, "rate": pl.Float64},
    )
    dup = out.filter(pl.struct("pool", "unit").is_duplicated())
    if dup.height:
        raise CostRatesError(f"The {dup['pool'][0]} {dup['unit'][0]} rate is given twice.")
    return out


def set_rates(store: Store, dataset_id: int, rates: pl.DataFrame) -> None:
    """Save a dataset's cost rates and reprice its stored ``customer_facts`` (:func:`reprice_facts`), in one
    transaction.

    ``rates`` replaces the dataset's saved rates; pools and units it leaves out take the default. On any
    error nothing changes.

    Raises
    ------
    CostRatesError
        Invalid rates (see :func:`validate_rates`).
    StoreError
        No such dataset, or the database refused the write (rolled back).
    """
    import duckdb

    from crm_core.store import StoreError

    clean = validate_rates(rates)
    try:
        with store.transaction() as cur:
            if not cur.execute("SELECT 1 FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchall():
                raise StoreError(f"There is no dataset {dataset_id}.")
            cur.execute("DELETE FROM cost_rates WHERE dataset_id = ?", [dataset_id])
            if clean.height:
                cur.execute(
                    "INSERT INTO cost_rates SELECT ?::INTEGER, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                    "unnest(?::DOUBLE[])",
                    [dataset_id, clean["pool"].to_list(), clean["unit"].to_list(), clean["rate"].to_list()],
                )
            reprice_facts(cur, dataset_id)
    except duckdb.Error as exc:
        raise StoreError(f"The cost rates were not saved; the store is unchanged. Database error: {exc}") from exc


def reprice_facts(cur, dataset_id: int) -> None:
    """Price the dataset's stored facts at its current rates (cost to serve, net profit) and drop its kept
    results that a rate enters, inside the caller's transaction: the facts keep what each customer used, so
    new rates need no rescan of the transactions (~0.1 s at a million customers instead of a ~4 s rebuild)."""
    from crm_core import results

    # results priced at the old rates must never be read again; those no rate enters stay
    results.clear(cur, dataset_id, priced_only=True)
    text = render("reprice_facts")
    cur.execute(text, {"dataset": dataset_id})


# ---------------------------------------------------------------------------------------------- cost to serve


def cost_to_serve_sql(filtered: bool = True, channels: dict | None = None) -> str:
    """The scoped cost-to-serve query (parameters: the scope's, and ``channels`` when given);
    ``filtered=False`` for a scope without filters leaves the filter conditions out (same result, less work);
    ``channels`` (``scope.sales_channels``) counts the main channel in the purchase pass (same result)."""
    return render(
        "cost_to_serve_scope",
        # distinct purchase days: not a cost measure
        purchase_totals=purchase_totals_sql(None, days=False, channels=channels),
        channel_mode=channel_mode_sql(channels, "pass_purchases"),
        purchases=purchases_sql(windowed=True, statuses=None, filtered=filtered),
        interactions=activity_sql("interactions", "occurred_at", windowed=True, filtered=filtered),
    )


# Stored facts rows of the customers served (a purchase of any status or an interaction in the window) who pass
# the region / segment / owner filters, whose values the facts carry.
_SERVED_FACTS = f"(orders + refunded_orders + cancelled_orders + interactions) > 0\n  AND {ATTRIBUTE_FILTER}"

# What each customer served in a stored-facts scope used (no rate enters it), read once and kept in this process
# per (store, rate-free data version, scope): a rate save then prices it again in memory (:func:`price`) instead of
# querying a million rows after the UPDATE that reprices the stored facts (0.6 s of a save at 1M customers, in the
# app). Each frame is ~0.2 GB at a million customers, hence two: the default scope and one filtered.
RECENT_USAGE = 2
_usage = results.Recent(RECENT_USAGE)


def served_usage(store: Store, scope: Scope) -> pl.DataFrame:
    """What each customer served in ``scope`` used, read from the stored facts (``facts.reads_stored`` must hold):
    the ``cost_counts`` columns of ``crm_core/sql/facts_usage.sql`` sorted by customer_id, kept in memory."""
    def read() -> pl.DataFrame:
        usage = render("facts_usage", facts_rows=_SERVED_FACTS)
        text = f"WITH\n{usage}\nSELECT * FROM cost_counts ORDER BY customer_id"
        return store.query(text, scope.params(text))

    key = (getattr(store, "token", id(store)), results.data_version(store, scope.dataset_id, priced=False), scope)
    return _usage.get(key, read)


def price(usage: pl.DataFrame, rates: pl.DataFrame) -> pl.DataFrame:
    """Price what customers used (``cost_counts`` columns) at ``rates`` (pool, unit, rate; a missing rate is 0):
    the pricing of ``crm_core/sql/cost_pricing.sql``, term by term in the same order so the doubles are the
    same, for frames already in memory.

    Time-driven ABC (Kaplan & Anderson 2004, HBR 82(11)): interaction pool cost = contacts x per_contact + minutes
    x per_minute + explicit cost; order handling = completed orders x per_order; returns = refunded orders x
    per_return; net profit = revenue - cogs - cost to serve (Kaplan & Cooper 1998, ch. 10).

    Returns the columns of :func:`cost_to_serve`, rows in ``usage``'s order.
    """
    return usage.with_columns(_pool_costs(rates)).with_columns(cost_to_serve=_TOTAL_COST).select(
        "customer_id", "region", "segment", "owner", "main_channel", *POOL_COLUMNS, "cost_to_serve",
        "discounts", "revenue", "cogs", "has_cogs",
        (pl.col("revenue") - pl.col("cogs")).alias("gross_margin"),
        (pl.col("revenue") - pl.col("cogs") - pl.col("cost_to_serve")).alias("net_profit"),
        *[pl.col(c) for c in ("orders", "returns", "interactions", "interaction_minutes")],
        *[pl.col(f"n_{p}") for p in INTERACTION_POOLS],
    )


def _pool_costs(rates: pl.DataFrame) -> list[pl.Expr]:
    """The ``cost_<pool>`` columns of :func:`price` over the ``cost_counts`` columns, at ``rates``."""
    rate = {(p, u): float(r) for p, u, r in rates.select("pool", "unit", "rate").iter_rows()}

    def at(pool: str, unit: str) -> float:
        return rate.get((pool, unit), 0.0)

    pools = [
        (pl.col(f"n_{p}").cast(pl.Float64) * at(p, "per_contact") + pl.col(f"minutes_{p}") * at(p, "per_minute")
         + pl.col(f"direct_{p}")).alias(f"cost_{p}")
        for p in INTERACTION_POOLS
    ]
    return pools + [(pl.col("orders").cast(pl.Float64) * at("order", "per_order")).alias("cost_order"),
                    (pl.col("returns").cast(pl.Float64) * at("return", "per_return")).alias("cost_return")]


def _sum_left_to_right(columns: tuple[str, ...]) -> pl.Expr:
    total = pl.col(columns[0])
    for column in columns[1:]:  # left to right, as the SQL adds them
        total = total + pl.col(column)
    return total


_TOTAL_COST = _sum_left_to_right(POOL_COLUMNS)

# What pricing is linear in: cost to serve is a sum of counts, minutes and explicit costs times rates, so a group's
# cost at any rates is its sums of these priced (:func:`usage_by`); with revenue and cogs, its margins too.
_USAGE_SUMMED: tuple[str, ...] = (
    *(f"{kind}_{p}" for p in INTERACTION_POOLS for kind in ("n", "minutes", "direct")),
    "orders", "returns", "revenue", "cogs",
)
# Each group's sums of what its customers used, per (store, rate-free data version, scope, grouping): a few rows
# each, kept beside the usage (RECENT_USAGE) so that a rate save prices the Cost page's segment and channel tables
# from them. Grouping the usage's million names again at each save took 0.04-0.06 s warm, and 0.2-0.45 s of the
# first save of a server process, which paid for the grouping's ~80 MB of new memory (the dissect tool, 10M bench).
RECENT_GROUP_USAGE = 16
_group_usage = results.Recent(RECENT_GROUP_USAGE)


def usage_by(store: Store, scope: Scope, by: ByWhat) -> pl.DataFrame:
    """What the customers served in ``scope`` used, summed per group of ``by`` (``"segment"``, ``"region"``,
    ``"owner"`` or ``"channel"``, the main sales channel) from :func:`served_usage` (``facts.reads_stored`` must
    hold), kept in memory: the group (column named ``by``; customers without the attribute are :data:`NOT_SET`),
    customers and the sums of the columns pricing is linear in (counts, minutes and explicit cost per interaction
    pool, orders, returns, revenue, cogs)."""
    column = _BY_COLUMN[by]

    def read() -> pl.DataFrame:
        usage = served_usage(store, scope).select(pl.col(column).alias(by), *_USAGE_SUMMED)
        return _named_groups(usage, by, {"customers": pl.len().cast(pl.Int64),
                                         **{c: pl.col(c).sum() for c in _USAGE_SUMMED}})

    key = (getattr(store, "token", id(store)), results.data_version(store, scope.dataset_id, priced=False), scope,
           by)
    return _group_usage.get(key, read)


def _named_groups(frame: pl.DataFrame, by: str, sums: dict[str, pl.Expr]) -> pl.DataFrame:
    """``sums`` per group of ``frame``'s column ``by``, whose missing values are the group :data:`NOT_SET` (with
    any group so named): the groups are named after grouping, not in a copy of a million names."""
    return (
        frame.group_by(by)
        .agg(**sums)
        .with_columns(pl.col(by).fill_null(NOT_SET))
        .group_by(by)
        .agg(pl.col(c).sum() for c in sums)
    )


def cost_to_serve(store: Store, scope: Scope) -> pl.DataFrame:
    """Cost to serve and profit per customer served in the scope.

    A customer is *served* in the scope when it passes the customer filters and has a purchase (any
    status) or an interaction inside the window; with a channel filter, only customers with a purchase
    through one of those channels in the window, and only those purchases are costed (interactions are
    not channel-specific and all count).

    Returns
    -------
    pl.DataFrame
        One row per customer, sorted by customer_id: customer_id, region, segment, owner, main_channel
        (most frequent sales channel of its completed purchases in the window), ``cost_<pool>`` for each
        pool in :data:`POOLS`, cost_to_serve, discounts, revenue, cogs, has_cogs, gross_margin,
        net_profit, orders, returns, interactions, interaction_minutes and ``n_<pool>`` contacts per
        interaction pool.
    """
    from crm_core.metrics import facts  # facts imports this module

    if facts.reads_stored(store, scope):  # what each customer used, kept from the stored facts, priced now
        return price(served_usage(store, scope), get_rates(store, scope.dataset_id))
    channels = sales_channels(store, scope.dataset_id)
    text = cost_to_serve_sql(filtered=scope.filtered, channels=channels)
    return store.query(text, bind(scope, text, **channels))


def cost_by(store: Store, scope: Scope, by: ByWhat, *, served: pl.DataFrame | None = None) -> pl.DataFrame:
    """Cost to serve totals per segment, region, sales channel, owner or cost pool.

    Parameters
    ----------
    by
        ``"segment"``, ``"region"``, ``"owner"`` (customer attributes), ``"channel"`` (the customer's main
        sales channel in the window) or ``"pool"``. Customers without the attribute form the group
        ``"(not set)"``.

    Returns
    -------
    pl.DataFrame
        For a customer attribute, one row per group, most costly first: the group (column named ``by``),
        customers, cost_to_serve, revenue, gross_margin, net_profit, cost_per_customer, share (of the
        scope's cost to serve) and cost_per_revenue (cost to serve per unit of revenue; null without
        revenue). For ``"pool"``, one row per pool in :data:`POOLS` order: pool, customers (with a cost in
        that pool), cost, cost_per_customer (per customer served, so the pools add up to the cost to serve
        per customer), share and cost_per_revenue (per unit of the scope's revenue).
    served
        The scope's :func:`cost_to_serve` frame when already at hand (one scan of the transactions for
        several breakdowns). A scope read from the stored facts (``facts.reads_stored``) has its attribute
        tables priced from its groups' kept sums instead (:func:`usage_by`; the same figures to rounding).
    """
    from crm_core.metrics import facts  # facts imports this module

    if by != "pool" and by not in _BY_COLUMN:
        raise ValueError(f"cost_by: by must be one of {', '.join([*_BY_COLUMN, 'pool'])}, not {by!r}")
    if by != "pool" and scope is not None and facts.reads_stored(store, scope):
        return _priced_groups(usage_by(store, scope, by), get_rates(store, scope.dataset_id), by)
    frame = cost_to_serve(store, scope) if served is None else served
    total_cost = frame["cost_to_serve"].sum()
    total_revenue = frame["revenue"].sum()
    n = frame.height
    if by == "pool":
        return pl.DataFrame(
            {
                "pool": list(POOLS),
                "customers": [int((frame[c] > 0).sum()) for c in POOL_COLUMNS],
                "cost": [float(frame[c].sum()) for c in POOL_COLUMNS],
            },
            schema={"pool": pl.String, "customers": pl.Int64, "cost": pl.Float64},
        ).with_columns(
            cost_per_customer=_ratio(pl.col("cost"), float(n)),
            share=_ratio(pl.col("cost"), float(total_cost)),
            cost_per_revenue=_ratio(pl.col("cost"), float(total_revenue)),
        )
    sums = {"customers": pl.len().cast(pl.Int64), **{c: pl.col(c).sum() for c in ("cost_to_serve", "revenue",
                                                                                   "gross_margin", "net_profit")}}
    # the summed columns alone: grouping the whole frame (30-odd columns) took 2-4x as long at 1M customers
    groups = _named_groups(
        frame.select(pl.col(_BY_COLUMN[by]).alias(by), "cost_to_serve", "revenue", "gross_margin", "net_profit"),
        by, sums)
    return _group_table(groups, by, float(total_cost))


def _ratio(num: pl.Expr, den: pl.Expr | float) -> pl.Expr:
    """``num / den``, null where ``den`` is 0."""
    den = den if isinstance(den, pl.Expr) else pl.lit(den, pl.Float64)
    return pl.when(den != 0).then(num / den).otherwise(None)


def _group_table(groups: pl.DataFrame, by: str, total_cost: float) -> pl.DataFrame:
    """The table of :func:`cost_by` from its sums per group (customers, cost_to_serve, revenue, gross_margin,
    net_profit), most costly first."""
    return groups.with_columns(
        cost_per_customer=_ratio(pl.col("cost_to_serve"), pl.col("customers").cast(pl.Float64)),
        share=_ratio(pl.col("cost_to_serve"), total_cost),
        cost_per_revenue=_ratio(pl.col("cost_to_serve"), pl.col("revenue")),
    ).sort(["cost_to_serve", by], descending=[True, False])


def _priced_groups(sums: pl.DataFrame, rates: pl.DataFrame, by: str) -> pl.DataFrame:
    """The table of :func:`cost_by` from :func:`usage_by`'s sums priced at ``rates`` as :func:`price` prices a
    customer's usage. The same figures as adding up the customers' priced rows, to rounding: the products of sums
    are rounded otherwise than the sums of products (a relative ~1e-15 per group)."""
    groups = sums.with_columns(_pool_costs(rates)).with_columns(cost_to_serve=_TOTAL_COST).select(
        by, "customers", "cost_to_serve", "revenue",
        (pl.col("revenue") - pl.col("cogs")).alias("gross_margin"),
        (pl.col("revenue") - pl.col("cogs") - pl.col("cost_to_serve")).alias("net_profit"),
    )
    return _group_table(groups, by, float(groups["cost_to_serve"].sum()))


# ---------------------------------------------------------------------------------------------- whale curve


@dataclass(frozen=True)
class WhaleCurve:
    """Cumulative profit against customers ranked from most to least profitable.

    Kaplan & Cooper (1998), *Cost & Effect*, ch. 10: ranked by profit, the most profitable customers
    typically earn well over 100 % of total profit (the hump, often 150-300 %) and the least profitable
    ones give part of it back, so the curve ends at 100 %.

    Attributes
    ----------
    frame
        One row per customer, ranked: rank (1 = most profitable), customer_share (rank / customers, in
        (0, 1]), profit, cumulative_profit and cumulative_share (cumulative_profit / total_profit; ends at
        exactly 1.0; null when ``has_shares`` is false).
    total_profit
        Sum of the profits.
    customers
        Number of customers (null and NaN profits are left out).
    unprofitable_share
        Share of customers with profit < 0 (0.0 when there are none; None without customers).
    peak_share
        Highest cumulative profit as a share of total profit (1.5 = 150 %); None without shares.
    peak_at
        Share of customers at which the peak is first reached; None without shares.
    has_shares
        False when total profit is 0 or less: shares of a non-positive total are meaningless (a negative
        total flips the curve upside down), so the frame still has cumulative_profit but no shares, and
        peak_share / peak_at are None. Show the cumulative profit itself instead.
    """

    frame: pl.DataFrame
    total_profit: float
    customers: int
    unprofitable_share: float | None
    peak_share: float | None
    peak_at: float | None
    has_shares: bool


def whale_curve(profit: pl.Series, max_points: int | None = None) -> WhaleCurve:
    """Whale curve of customer profitability (Kaplan & Cooper 1998, *Cost & Effect*, ch. 10).

    Parameters
    ----------
    profit
        Profit per customer (e.g. ``cost_to_serve(...)["net_profit"]``); nulls and NaNs are dropped.
    max_points
        Keep only every k-th point of the frame (and the last), as ``crm_core.charts.thin_curve`` does, so
        that at most ``max_points`` are built: what a chart draws. The peak, the unprofitable share and the
        totals are those of every customer either way.
    """
    values = profit.cast(pl.Float64).fill_nan(None).drop_nulls().sort(descending=True).to_numpy()
    n = int(values.size)
    # Sums in NumPy, and only the kept points built: the cost view kept 2,000 rows of a frame of five million-row
    # columns, which in the app's server, beside its other threads, took 0.13-0.3 s of a rate save at 1M customers
    # (0.08-0.15 s now; alone, ~0.05 s either way). One million-row array is made besides the sorted values, the
    # running sum: the ranks and shares are those of the kept points only (a rate save's first run in a server
    # process pays ~11 us for each new 4 KB page on the bench machine, 0.6 s for its ~55,000). The values are the
    # same (a running sum adds in order either way; IEEE x / x == 1 exactly, so the last share is exactly 1.0).
    cumulative = np.cumsum(values)
    total = float(cumulative[-1]) if n else 0.0
    has_shares = n > 0 and total > 0
    peak_share = peak_at = None
    if has_shares:
        i = int(np.argmax(cumulative))  # the first highest: the highest share, as total > 0
        peak_share, peak_at = float(cumulative[i] / total), float((i + 1) / n)
    if max_points is not None and n > max_points:
        step = -(-n // max_points)
        kept = np.arange(0, n, step, dtype=np.int64)
        if kept[-1] != n - 1:
            kept = np.append(kept, n - 1)
        rank = kept + 1
    else:  # every point: views of the arrays, no copies
        kept, rank = slice(None), np.arange(1, n + 1, dtype=np.int64)
    frame = pl.DataFrame(
        {
            "rank": rank,
            "customer_share": rank / n if n else np.array([], dtype=np.float64),
            "profit": values[kept],
            "cumulative_profit": cumulative[kept],
            "cumulative_share": cumulative[kept] / total if has_shares else pl.repeat(None, rank.size,
                                                                                     dtype=pl.Float64, eager=True),
        },
        schema={"rank": pl.Int64, "customer_share": pl.Float64, "profit": pl.Float64,
                "cumulative_profit": pl.Float64, "cumulative_share": pl.Float64},
    )
    return WhaleCurve(
        frame=frame,
        total_profit=total,
        customers=n,
        unprofitable_share=float((values < 0).sum()) / n if n else None,
        peak_share=peak_share,
        peak_at=peak_at,
        has_shares=has_shares,
    )
