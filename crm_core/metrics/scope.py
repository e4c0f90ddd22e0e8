"""What a measurement is taken over: a dataset, an analysis window and the global filters.

Every metric takes a :class:`Scope`. Its filters become SQL with bound values, never formatted text:
``purchases_sql`` and ``customers_sql`` return a query and its parameters, to be used as subqueries.
Region, segment and owner filter customers (customers table); channel filters purchases.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import polars as pl

from crm_core import results

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    """A dataset, an analysis window (inclusive dates; None = open) and the global filters
    (empty = all)."""

    dataset_id: int
    start: date | None = None
    end: date | None = None
    regions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    @property
    def active(self) -> int:
        """How many of the category filters narrow the data."""
        return sum(bool(v) for v in (self.regions, self.segments, self.channels, self.owners))

    def describe(self) -> str:
        """One line for captions and report title pages."""
        parts = []
        if self.start and self.end:
            parts.append(f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}")
        for label, values in (
            ("region", self.regions),
            ("segment", self.segments),
            ("channel", self.channels),
            ("owner", self.owners),
        ):
            if values:
                parts.append(f"{label}: {', '.join(values)}")
        return "; ".join(parts) if parts else "all data"

    def with_window(self, start: date | None, end: date | None) -> Scope:
        return replace(self, start=start, end=end)

    def previous(self) -> Scope | None:
        """The window of equal length just before this one (None when the window is open)."""
        if self.start is None or self.end is None:
            return None
        length = self.end - self.start + DAY
        return replace(self, start=self.start - length, end=self.start - DAY)

    @property
    def filtered(self) -> bool:
        """True when a region, segment, channel or owner filter narrows the data."""
        return self.active > 0

    @property
    def picks_customers(self) -> bool:
        """True when a region, segment or owner filter picks customers (each with all its purchases, or none)."""
        return bool(self.regions or self.segments or self.owners)

    def all_customers(self) -> Scope:
        """This scope without its region, segment and owner filters (window and channel filter kept)."""
        return replace(self, regions=(), segments=(), owners=())

    @property
    def start_ts(self) -> datetime | None:
        return None if self.start is None else datetime.combine(self.start, time.min)

    @property
    def end_ts(self) -> datetime | None:
        """Exclusive upper bound: midnight after the last day."""
        return None if self.end is None else datetime.combine(self.end + DAY, time.min)

    def params(self, sql: str | None = None) -> dict:
        """Named parameters of scoped queries; with ``sql``, only those it uses (DuckDB refuses
        parameters a query does not use)."""
        every = {
            "dataset": self.dataset_id,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "regions": list(self.regions),
            "segments": list(self.segments),
            "channels": list(self.channels),
            "owners": list(self.owners),
        }
        if sql is None:
            return every
        used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
        return {k: v for k, v in every.items() if k in used}


# The sidebar's quick choices of analysis window: label -> months up to the data's last purchase day (None: the
# whole purchase span, the default). Any other window is picked with dates ("custom").
WINDOW_PRESETS: dict[str, int | None] = {
    "Whole history": None,
    "Last 12 months": 12,
    "Last 6 months": 6,
    "Last 3 months": 3,
}


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, the month's last day where it has no such day."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def preset_window(span: tuple[date, date], months: int | None) -> tuple[date, date]:
    """The window of a :data:`WINDOW_PRESETS` choice over a dataset's purchase span (first, last day): the last
    ``months`` calendar months up to the last day (from the day after the same day ``months`` months earlier), not
    before the first day; the whole span for None."""
    first, last = span
    if months is None:
        return first, last
    return max(first, months_before(last + DAY, months)), last


# Customers passing the region / segment / owner filters. A customer that is not in the customers
# table has no region, segment or owner, so any of those filters leaves it out.
_CUSTOMER_FILTER = """
    (len($regions::VARCHAR[]) = 0 AND len($segments::VARCHAR[]) = 0 AND len($owners::VARCHAR[]) = 0)
    OR {alias}.customer_id IN (
        SELECT c.customer_id FROM customers c
        WHERE c.dataset_id = $dataset
          AND (len($regions::VARCHAR[]) = 0 OR list_contains($regions::VARCHAR[], c.region))
          AND (len($segments::VARCHAR[]) = 0 OR list_contains($segments::VARCHAR[], c.segment))
          AND (len($owners::VARCHAR[]) = 0 OR list_contains($owners::VARCHAR[], c.owner))
    )
"""


# The same filters on rows that carry the customer's region, segment and owner (the stored customer facts).
ATTRIBUTE_FILTER = """(len($regions::VARCHAR[]) = 0 OR list_contains($regions::VARCHAR[], region))
  AND (len($segments::VARCHAR[]) = 0 OR list_contains($segments::VARCHAR[], segment))
  AND (len($owners::VARCHAR[]) = 0 OR list_contains($owners::VARCHAR[], owner))"""


# The customer attributes region, segment and owner filters read, and those filters on a Polars frame with these
# columns: a row without a value of a filtered attribute is never picked, as by ATTRIBUTE_FILTER.
GROUP_COLUMNS = ("region", "segment", "owner")


def attribute_filter(scope: Scope) -> pl.Expr:
    """:data:`ATTRIBUTE_FILTER` as a Polars expression, for rows with region, segment and owner columns."""
    chosen = pl.lit(True)
    for column, values in zip(GROUP_COLUMNS, (scope.regions, scope.segments, scope.owners)):
        if values:
            chosen = chosen & pl.col(column).is_in(list(values))
    return chosen


# The customers a scope's region, segment and owner filters pick (bound with ``Scope.params``).
CHOSEN_CUSTOMERS = f"SELECT customer_id FROM customers WHERE dataset_id = $dataset AND {ATTRIBUTE_FILTER}"


RECENT_CHOSEN = 4  # the chosen customers of the last few filters, held in memory (~250,000 ids a region at 1M)
_recent_chosen = results.Recent(RECENT_CHOSEN)


def chosen_customers(store, scope: Scope):
    """customer_id of the customers the scope's region, segment and owner filters pick (a Polars frame). Held
    per (store, customer data, filters): each view that picks rows from a view of all customers asks for them,
    three to five times a region set (0.02-0.09 s a query at 1M customers)."""
    filters = (scope.dataset_id, scope.regions, scope.segments, scope.owners)
    key = (getattr(store, "token", id(store)), results.data_version(store, scope.dataset_id, priced=False), filters)
    return _recent_chosen.get(key, lambda: store.query(CHOSEN_CUSTOMERS, scope.params(CHOSEN_CUSTOMERS)))


def customer_filter(alias: str) -> str:
    """SQL condition: the row's customer (``alias.customer_id``) passes the customer filters."""
    return "(" + _CUSTOMER_FILTER.format(alias=alias) + ")"


def purchases_sql(
    *, windowed: bool = True, statuses: tuple[str, ...] | None = ("completed",), filtered: bool = True
) -> str:
    """Purchases of the scope (DESIGN: the ``purchases`` view; won deals stand in for transactions).

    Parameters
    ----------
    windowed
        Keep only purchases inside the analysis window; False keeps the whole history (for first
        purchase dates, cohorts, model calibration) but still applies the filters.
    statuses
        Purchase statuses to keep; None keeps all (completed, refunded, cancelled).
    filtered
        False leaves the region / segment / channel / owner conditions out of the SQL, for a scope
        without filters (``Scope.active == 0``): DuckDB plans the customer-filter subquery even when
        every list is empty, a semi join of every row (~0.2 s CPU per 10M rows).
    """
    conds = ["p.dataset_id = $dataset"]
    if filtered:
        conds.append(customer_filter("p"))
        conds.append("(len($channels::VARCHAR[]) = 0 OR list_contains($channels::VARCHAR[], p.channel))")
    if windowed:
        conds.append("($start_ts::TIMESTAMP IS NULL OR p.occurred_at >= $start_ts::TIMESTAMP)")
        conds.append("($end_ts::TIMESTAMP IS NULL OR p.occurred_at < $end_ts::TIMESTAMP)")
    if statuses is not None:
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in statuses)
        conds.append(f"p.status IN ({quoted})")
    return "SELECT p.* FROM purchases p WHERE " + "\n  AND ".join(conds)


# The first and last purchase days of a dataset (any status): the dataset's default window.
SPAN_SQL = "SELECT CAST(MIN(occurred_at) AS DATE), CAST(MAX(occurred_at) AS DATE) FROM purchases WHERE dataset_id = ?"
# Distinct purchase days of a window of at most this many days are counted with one bitmap of its days per
# customer (sql/purchase_totals.sql, one aggregation); a longer window with a bitmap per (customer, 1024-day
# block) that holds purchases (sql/purchase_totals_blocks.sql, two aggregations), whose memory follows the data
# rather than the window. Measured at 1M customers / 10M purchases under the 2 GB DuckDB limit: 1,094 days
# 2.4-2.6 s (blocks 2.95 s); 2,097 days 3.5 s; 3,193 days out of memory. Four years is below the crossover.
DAY_BITS_MAX = 1461


def day_bits(con, scope: Scope) -> dict:
    """``$bits_from`` and ``$bits_span``: the days a scope's purchases inside its window can fall on, i.e. the
    window with its open ends closed by the dataset's first and last purchase days (queried only then).

    ``con`` is a store or a DuckDB cursor."""
    lo, hi = scope.start, scope.end
    if lo is None or hi is None:
        cur = con.cursor() if hasattr(con, "transaction") else con
        result = cur.execute(SPAN_SQL, [scope.dataset_id])
        first, last = result.fetchone()
        result.fetchall()
        lo = first if lo is None else lo
        hi = last if hi is None else hi
    if lo is None or hi is None:  # no purchases: nothing to count
        return {"bits_from": date(2000, 1, 1), "bits_span": 0}
    return {"bits_from": lo, "bits_span": max(0, (hi - lo).days)}


def distinct_days_sql(bits: dict | None, column: str = "occurred_at", where: str | None = None) -> str:
    """An aggregate counting the distinct days of ``column`` (rows passing ``where``): a bitmap over ``bits``
    (:func:`day_bits`, bound with the query) when they span at most :data:`DAY_BITS_MAX` days, else
    COUNT(DISTINCT day) (also for ``bits`` None: no extra parameters). Both give 0 for no row."""
    only = f" FILTER (WHERE {where})" if where else ""
    if bits is not None and bits["bits_span"] <= DAY_BITS_MAX:
        return (f"COALESCE(bit_count(bitstring_agg(date_diff('day', $bits_from::DATE, CAST({column} AS DATE))"
                f"::INTEGER, 0, $bits_span::INTEGER){only}), 0)")
    return f"COUNT(DISTINCT CAST({column} AS DATE)){only}"


def purchase_totals_sql(bits: dict | None, days: bool = True, channels: dict | None = None) -> str:
    """The purchase measures fragment for a query's ``{{purchase_totals}}`` slot (CTE purchase_totals): one
    aggregation with a bitmap of the window's days when ``bits`` (:func:`day_bits`, bound with the query) spans
    at most :data:`DAY_BITS_MAX` days; without ``days`` (distinct purchase days not wanted) one aggregation
    without them; else the two-level blocks, which need no parameter. With ``channels``
    (:func:`sales_channels`, bound with the query) it also counts each customer's completed purchases in the
    window per channel, ``channel_n_<i>``, for :func:`channel_mode_sql`."""
    from crm_core import sql

    counted = bool(channels)
    counts = "".join(
        f",\n        COUNT(*) FILTER (WHERE completed AND in_window AND channel = ${key})".ljust(77)
        + f"AS channel_n_{i}"
        for i, key in enumerate(channels or {})
    )
    if days and (bits is None or bits["bits_span"] > DAY_BITS_MAX):
        sums = "".join(f",\n        SUM(channel_n_{i})::BIGINT AS channel_n_{i}" for i in range(len(channels or {})))
        return (sql.expand(sql.load("purchase_totals_blocks")).replace("{{channel_counts}}", counts)
                .replace("{{channel_sums}}", sums).replace("{{channel}}", "channel, " if counted else ""))
    expression = distinct_days_sql(bits, "occurred_at", "completed AND in_window") if days else "0"
    return (sql.expand(sql.load("purchase_totals")).replace("{{purchase_days}}", expression)
            .replace("{{channel_counts}}", counts))


# A customer's main channel (the most frequent among the completed purchases in the window, on a tie the last by
# name) takes a group-by of (customer, channel) pairs and one per customer, then a join: ~1 s of CPU at 10M
# purchases. While a dataset has few channels, counting each in the purchase pass instead (COUNT ... FILTER per
# channel, the names bound) and picking the largest count is cheaper: a computed window's facts at 1M customers /
# 10M purchases with 4 channels took 3.04 s against 3.20 s (all time) and 3.39 against 3.64 s (a year), medians
# of 6 alternating runs. Every count is a filtered aggregate over every purchase, so above this many channels the
# group-by is cheaper.
CHANNELS_COUNTED_MAX = 12
CHANNELS_SQL = (
    "SELECT DISTINCT channel FROM purchases WHERE dataset_id = ? AND status = 'completed' AND channel IS NOT NULL "
    "ORDER BY channel"
)


def sales_channels(con, dataset_id: int) -> dict:
    """``{"channel_0": name, ...}``: the dataset's channels of completed purchases in DuckDB's order of names
    (the order a tie is broken by), to bind with a query whose purchase pass counts them
    (:func:`purchase_totals_sql`, :func:`channel_mode_sql`); empty without channels or above
    :data:`CHANNELS_COUNTED_MAX`. ``con`` is a store or a DuckDB cursor."""
    cur = con.cursor() if hasattr(con, "transaction") else con
    names = [row[0] for row in cur.execute(CHANNELS_SQL, [dataset_id]).fetchall()]
    if len(names) > CHANNELS_COUNTED_MAX:
        return {}
    return {f"channel_{i}": name for i, name in enumerate(names)}


def channel_mode_sql(channels: dict | None, purchases: str) -> str:
    """The body of a ``channel_mode`` CTE: customer_id and main_channel, the most frequent channel of the
    customer's completed purchases in the window, on a tie the last by name (the greatest (count, channel)
    pair). With ``channels`` (:func:`sales_channels`) it picks from purchase_totals' per-channel counts
    (:func:`purchase_totals_sql` with the same ``channels``); without, it groups ``purchases``, a CTE with
    customer_id, channel, status and in_window."""
    if not channels:
        return (
            "SELECT customer_id, arg_max(channel, (n, channel)) AS main_channel\n"
            "    FROM (\n"
            "        SELECT customer_id, channel, COUNT(*) AS n\n"
            f"        FROM {purchases}\n"
            "        WHERE in_window AND status = 'completed' AND channel IS NOT NULL\n"
            "        GROUP BY ALL\n"
            "    )\n"
            "    GROUP BY customer_id"
        )
    counts = [f"channel_n_{i}" for i in range(len(channels))]
    # the last name first: of the channels with the top count, the first WHEN met is the last by name
    picks = " ".join(f"WHEN {counts[i]} = top THEN ${key}" for i, key in reversed(list(enumerate(channels))))
    return (
        f"SELECT customer_id, CASE WHEN top > 0 THEN CASE {picks} END END AS main_channel\n"
        f"    FROM (SELECT customer_id, {', '.join(counts)}, greatest({', '.join(counts)}) AS top FROM purchase_totals)"
    )


def activity_sql(table: str, time_column: str, *, windowed: bool = True, filtered: bool = True) -> str:
    """Rows of ``interactions``, ``feedback`` or ``deals`` in the scope (customer filters, window);
    ``filtered=False`` leaves the customer filters out (see :func:`purchases_sql`)."""
    if table not in {"interactions", "feedback", "deals"}:
        raise ValueError(f"not an activity table: {table}")
    conds = ["a.dataset_id = $dataset"] + ([customer_filter("a")] if filtered else [])
    if windowed:
        conds.append(f"($start_ts::TIMESTAMP IS NULL OR a.{time_column} >= $start_ts::TIMESTAMP)")
        conds.append(f"($end_ts::TIMESTAMP IS NULL OR a.{time_column} < $end_ts::TIMESTAMP)")
    return f'SELECT a.* FROM "{table}" a WHERE ' + "\n  AND ".join(conds)


def customers_sql() -> str:
    """Customers of the scope: the customer_facts rows passing the customer filters."""
    return "SELECT f.* FROM customer_facts f WHERE f.dataset_id = $dataset AND " + customer_filter("f")


# Where each filter's choices come from: customer attributes from customers, channel from purchases.
FILTER_SOURCES: dict[str, tuple[str, str]] = {
    "regions": ("customers", "region"),
    "segments": ("customers", "segment"),
    "channels": ("purchases", "channel"),
    "owners": ("customers", "owner"),
}


def filter_options(store, dataset_id: int) -> dict:
    """The values each global filter can take in a dataset (sorted, blanks left out) and ``"span"``, the
    (first, last) purchase date, or None when the dataset has no purchases."""
    options: dict = {}
    for key, (table, column) in FILTER_SOURCES.items():
        frame = store.query(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) AS v FROM "{table}" '
            f'WHERE dataset_id = ? AND "{column}" IS NOT NULL AND trim(CAST("{column}" AS VARCHAR)) <> \'\' ORDER BY 1',
            [dataset_id],
        )
        options[key] = frame["v"].to_list()
    lo, hi = store.query(
        "SELECT CAST(MIN(occurred_at) AS DATE), CAST(MAX(occurred_at) AS DATE) FROM purchases WHERE dataset_id = ?",
        [dataset_id],
    ).row(0)
    options["span"] = (lo, hi) if lo is not None else None
    return options
