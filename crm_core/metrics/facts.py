"""Customer facts over a scope (issue #3 item 1; DESIGN.md §6 "customer_facts", §7).

:func:`customer_facts` computes the facts of any window and filters in ONE DuckDB query
(``crm_core/sql/customer_facts_window.sql``). The stored ``customer_facts`` table holds the same query's
result for the dataset's *default scope* — the whole purchase span (first to last purchase day, the
sidebar's default analysis window), no filters — rebuilt inside every import and whenever cost rates
change. A scope equal to it is read from the table instead of rescanning the transactions (about 0.3 s
instead of 3–4 s at 10M transactions), so the pages' first view costs a read; so does the same window with
region, segment or owner filters, which pick whole customers. A shorter window ending on the same day takes the
history's measures from those rows and computes only its own (:func:`window_on_stored_sql`). Cost to serve and net
profit come from the same SQL fragment as :mod:`crm_core.metrics.cost` (``crm_core/sql/cost_to_serve.sql``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from typing import TYPE_CHECKING

import polars as pl

from crm_core import results
from crm_core.metrics.cost import INTERACTION_POOLS, bind, render
from crm_core.metrics.scope import (
    ATTRIBUTE_FILTER,
    SPAN_SQL,
    Scope,
    activity_sql,
    channel_mode_sql,
    customer_filter,
    day_bits,
    purchase_totals_sql,
    purchases_sql,
    sales_channels,
)
from crm_core.sql import quote_ident

if TYPE_CHECKING:  # pragma: no cover
    from crm_core.store import Store


# What each customer used in the window, per interaction pool: kept in the stored facts only, so new cost rates
# price them again without a rescan (crm_core/sql/reprice_facts.sql, cost.price); not in the frames.
USAGE_COLUMNS: tuple[str, ...] = tuple(f"{m}_{p}" for m in ("minutes", "direct") for p in INTERACTION_POOLS)
_NOT_USAGE = f"* EXCLUDE ({', '.join(USAGE_COLUMNS)})"
# The stored rows are written sorted by customer_id (the facts query's ORDER BY) and DuckDB returns a table's rows
# in the order they were written (preserve_insertion_order, on by default), so these reads leave out the ORDER BY
# and check the order instead (:func:`_read_stored`): at 1M customers the read took 0.16 s against 0.33 s, 0.08 s
# against 0.12 s with a region filter.
STORED_SQL = "SELECT {columns} FROM customer_facts WHERE dataset_id = $dataset"
# The stored rows of the customers passing region / segment / owner filters. Those filters act per customer
# on the customers table, whose region, segment and owner the facts carry (null for a customer missing from
# it, whom any such filter leaves out), so this equals the windowed query with the filters, in a read.
STORED_FILTERED_SQL = f"""
SELECT {{columns}} FROM customer_facts
WHERE dataset_id = $dataset
  AND {ATTRIBUTE_FILTER}"""


def _stored_columns(columns: Sequence[str] | None) -> str:
    """The select list of a stored read: every column but the usage ones, or ``columns`` (customer_id first)."""
    if columns is None:
        return _NOT_USAGE
    return ", ".join(quote_ident(c) for c in dict.fromkeys(["customer_id", *columns]))


def _read_stored(store: Store, text: str, params: dict) -> pl.DataFrame:
    """Stored facts rows read in the table's order, which is customer_id order (checked: 4 ms at 1M customers);
    read again with an ORDER BY in the case they are not."""
    frame = store.query(text, params)
    if frame["customer_id"].is_sorted():
        return frame
    return store.query(f"{text}\nORDER BY customer_id", params)


# Facts computed from the transactions (not the stored rows) are remembered per process: after a window change
# or a channel filter every view of every page asks for the same facts, 3-4 s each at 10M transactions. Keyed by
# the open store, the data version (imports, cost rates, quality fixes) and the scope; a frame of a million
# customers is ~0.3 GB, hence two.
RECENT_COMPUTED = 2
_recent = results.Recent(RECENT_COMPUTED)


def _computed(store: Store, scope: Scope, as_of: date | None) -> pl.DataFrame:
    def compute() -> pl.DataFrame:
        text, params = _facts_query(store, scope, as_of)
        return store.query(text, params)

    return _recent.get(_computed_key(store, scope, as_of), compute)


def _computed_key(store: Store, scope: Scope, as_of: date | None) -> tuple:
    return getattr(store, "token", id(store)), results.data_version(store, scope.dataset_id), scope, as_of


def _facts_query(store: Store, scope: Scope, as_of: date | None) -> tuple[str, dict]:
    """The query computing the facts of ``scope`` from the transactions, and its parameters."""
    bits, channels = day_bits(store, scope), sales_channels(store, scope.dataset_id)
    if ends_with_stored(store, scope, as_of):
        text = window_on_stored_sql(filtered=scope.filtered, bits=bits, channels=channels)
    else:
        text = customer_facts_sql(filtered=scope.filtered, bits=bits, channels=channels)
    return text, bind(scope, text, as_of=as_of, **bits, **channels)


# Some columns of a window's facts computed alone (customer_facts(..., narrow=True)): DuckDB leaves out of the query
# what no asked column needs, such as the text columns of every customer and the interaction kinds. At 10M
# transactions, the nine columns of the Differentiate page (200 days): 0.66 s instead of 1.3-1.5 s ending on the last
# day, 1.5 s instead of 2.6 s ending 60 days before it. Small frames: a few kept.
RECENT_NARROW = 4
_recent_narrow = results.Recent(RECENT_NARROW)


def _computed_columns(store: Store, scope: Scope, as_of: date | None, columns: tuple[str, ...]) -> pl.DataFrame:
    """``columns`` (customer_id first) of the computed facts of ``scope``: cut from the whole frame when this
    process holds it, else computed alone."""
    key = _computed_key(store, scope, as_of)
    whole = _recent.held(key)
    if whole is not None:
        return whole.select(columns)

    def compute() -> pl.DataFrame:
        text, params = _facts_query(store, scope, as_of)
        select = ", ".join(quote_ident(c) for c in columns)
        frame = store.query(f"SELECT {select} FROM (\n{text}\n)", params)
        # the inner query's order is kept by a projection in practice; checked (~4 ms at 1M customers)
        return frame if frame["customer_id"].is_sorted() else frame.sort("customer_id")

    return _recent_narrow.get(key + (columns,), compute)


def customer_facts_sql(
    filtered: bool = True, usage: bool = False, bits: dict | None = None, channels: dict | None = None
) -> str:
    """The windowed facts query (parameters: the scope's and ``$as_of``); ``filtered=False`` for a scope
    without filters leaves the filter conditions out of the SQL (same result, less work); ``usage`` adds the
    :data:`USAGE_COLUMNS` (the stored facts keep them). ``bits`` (:func:`~crm_core.metrics.scope.day_bits`,
    then bound with the query) lets a window of up to four years count distinct purchase days with one bitmap
    per customer; without it, or for a longer window, they are counted per 1024-day block, the same numbers
    (``scope.purchase_totals_sql``). ``channels`` (:func:`~crm_core.metrics.scope.sales_channels`, bound with
    the query) counts the main channel in the purchase pass instead of its own group-by, the same channel."""
    return render(
        "customer_facts_window",
        purchase_totals=purchase_totals_sql(bits, channels=channels),
        channel_mode=channel_mode_sql(channels, "pass_purchases"),
        usage="".join(f",\n    COALESCE(e.{c}, 0)::DOUBLE AS {c}" for c in USAGE_COLUMNS) if usage else "",
        purchases=purchases_sql(windowed=False, statuses=None, filtered=filtered),
        interactions=activity_sql("interactions", "occurred_at", windowed=False, filtered=filtered),
        feedback=activity_sql("feedback", "responded_at", windowed=False, filtered=filtered),
        customer_filter=customer_filter("c") if filtered else "TRUE",
    )


# The facts of a window that ends where the stored facts' window ends (the usual window picked by hand: a later start)
# share every measure of the history with the stored rows: the customers known by then (and their attributes), their
# first and last purchases, tenure, recency and latest answers. Only the window's own measures need the transactions,
# and only those from the window start on: WINDOW_MEASURES (with the defaults of a customer who did nothing in the
# window) from the windowed query over those rows alone, joined to the stored rows. At 10M transactions over three
# years: 1.9 s instead of 3.5 s for the last 200 days, 0.7 s instead of 2.9 s for the last day; the same time at 900
# days, hence only for windows of at most WINDOW_ON_STORED_MAX of the stored window's days.
WINDOW_ON_STORED_MAX = Fraction(2, 3)  # exact: a window of two thirds of the days is in
WINDOW_MEASURES: dict[str, str | None] = {
    "main_channel": None,
    "first_purchase_in_window": None,
    "last_purchase_in_window": None,
    "purchases": "0",
    "orders": "0",
    "revenue": "0",
    "cogs": None,
    "margin": None,
    "avg_order_value": None,
    "discounts": "0",
    "refunded_orders": "0",
    "cancelled_orders": "0",
    **dict.fromkeys(("interactions", "n_call", "n_email", "n_meeting", "n_visit", "n_chat", "n_ticket", "n_other",
                     "tickets", "interaction_minutes", "cost_to_serve", "net_profit"), "0"),
}
# the facts' columns in their order (the stored rows but the usage columns, which the computed facts leave out)
FACT_COLUMNS: tuple[str, ...] = (
    "dataset_id", "customer_id", "name", "country", "region", "industry", "segment", "acquisition_channel", "owner",
    "main_channel", "as_of", "first_purchase", "last_purchase", "first_purchase_in_window", "last_purchase_in_window",
    "purchases", "orders", "revenue", "cogs", "margin", "avg_order_value", "discounts", "refunded_orders",
    "cancelled_orders", "tenure_days", "recency_days", "interactions", "n_call", "n_email", "n_meeting", "n_visit",
    "n_chat", "n_ticket", "n_other", "tickets", "interaction_minutes", "cost_to_serve", "net_profit", "latest_nps",
    "latest_csat",
)
_LAST_LINE = "ORDER BY e.customer_id"


def ends_with_stored(store: Store, scope: Scope, as_of: date | None = None) -> bool:
    """True when the facts of ``scope`` are the stored rows with the window's measures computed again
    (:func:`window_on_stored_sql`): a window without a channel filter that ends on the default scope's last day,
    measured at that day, and spans at most :data:`WINDOW_ON_STORED_MAX` of the default scope's days."""
    if scope.channels or scope.start is None or scope.end is None or (as_of is not None and as_of != scope.end):
        return False
    default = default_scope(store, scope.dataset_id)
    if default.start is None or scope.end != default.end:
        return False
    return (scope.end - scope.start).days + 1 <= WINDOW_ON_STORED_MAX * ((default.end - default.start).days + 1)


def window_on_stored_sql(filtered: bool = True, bits: dict | None = None, channels: dict | None = None) -> str:
    """The facts of a scope :func:`ends_with_stored` accepts (parameters: the scope's, ``$as_of``, ``bits`` and
    ``channels`` as :func:`customer_facts_sql`), equal to that query's: the stored rows of the customers passing the
    filters, their :data:`WINDOW_MEASURES` from ``customer_facts_window.sql`` over the purchases and interactions
    from the window start on (no answer: the latest ones are stored; no customers-table row: the stored rows hold
    every customer)."""
    window = render(
        "customer_facts_window",
        purchase_totals=purchase_totals_sql(bits, channels=channels),
        channel_mode=channel_mode_sql(channels, "pass_purchases"),
        usage="",
        purchases=purchases_sql(windowed=True, statuses=None, filtered=filtered),
        interactions=activity_sql("interactions", "occurred_at", windowed=True, filtered=filtered),
        feedback='SELECT a.* FROM "feedback" a WHERE FALSE',
        customer_filter="FALSE",
    )
    body, last = window.rstrip().rsplit("\n", 1)
    if last.strip() != _LAST_LINE:  # the sort is the outer query's
        raise AssertionError(f"customer_facts_window.sql should end with {_LAST_LINE!r}, not {last!r}")
    columns = ",\n    ".join(
        (f"COALESCE(w.{quote_ident(c)}, {WINDOW_MEASURES[c]}) AS {quote_ident(c)}" if WINDOW_MEASURES[c] is not None
         else f"w.{quote_ident(c)}") if c in WINDOW_MEASURES else f"s.{quote_ident(c)}"
        for c in FACT_COLUMNS)
    measures = ", ".join(quote_ident(c) for c in WINDOW_MEASURES)
    where = f"s.dataset_id = $dataset AND {ATTRIBUTE_FILTER}" if filtered else "s.dataset_id = $dataset"
    return (f"WITH w AS (SELECT customer_id, {measures} FROM (\n{body}\n))\n"
            f"SELECT\n    {columns}\nFROM customer_facts AS s\nLEFT JOIN w ON w.customer_id = s.customer_id\n"
            f"WHERE {where}\nORDER BY s.customer_id")


def buyer_values(store: Store, scope: Scope) -> pl.DataFrame:
    """customer_id, revenue and margin of the scope's buyers (a completed purchase in the window), equal to
    those columns of :func:`customer_facts` for its customers with ``purchases > 0`` (rows in no set order):
    one group-by over the window's purchases (``crm_core/sql/buyer_values.sql``), for figures that need no
    more than that."""
    text = buyer_values_sql(scope)
    return store.query(text, bind(scope, text))


def buyer_values_sql(scope: Scope) -> str:
    """``crm_core/sql/buyer_values.sql`` for ``scope`` (its parameters bound with ``bind``)."""
    return render("buyer_values", purchases=purchases_sql(windowed=True, filtered=scope.filtered))


def buyer_count(store: Store, scope: Scope) -> int:
    """How many customers bought in the scope's window (a completed purchase: ``purchases > 0``), counted in
    DuckDB: the rows of :func:`customer_facts` that ``crm_core.views.buyers`` keeps, and the ``customers`` of the
    portfolio summary. What a page needs to know whether it has anyone to show: at 1M customers a region's summary
    (its buyers read, two sorts) took 0.3-0.5 s of the first region filter set on the Retention page."""
    if reads_stored(store, scope):
        text = (STORED_FILTERED_SQL if scope.filtered else STORED_SQL).format(columns="count(*)")
        text += "\n  AND purchases > 0"
        return int(store.scalar(text, scope.params(text)))
    text = f"SELECT count(*) FROM ({buyer_values_sql(scope)})"
    return int(store.scalar(text, bind(scope, text)))


# The span of a store's dataset per data version (imports and quality fixes change the purchases): every view
# asks for it (canonical scopes, the retention metrics' as-of day), a pass over the purchases, 0.03-0.07 s at 10M,
# against ~0.005 s for the version.
_spans = results.Recent(16)


def default_scope(con, dataset_id: int) -> Scope:
    """The dataset's default scope: its purchase span, no filters (open when it has no purchases).

    ``con`` is a store (the span is remembered per data version) or a DuckDB cursor (inside an import
    transaction: always queried, as what it sees is not committed yet)."""
    def span(cur) -> tuple:
        result = cur.execute(SPAN_SQL, [dataset_id])
        first, last = result.fetchone()
        result.fetchall()
        return first, last

    if hasattr(con, "transaction"):  # a Store
        key = (con.token, dataset_id, results.data_version(con, dataset_id, priced=False))
        first, last = _spans.get(key, lambda: span(con.cursor()))
    else:
        first, last = span(con)
    return Scope(dataset_id, start=first, end=last)


def stored_facts_query(con, dataset_id: int) -> tuple[str, dict]:
    """The query (and parameters) whose result the stored ``customer_facts`` rows of a dataset are."""
    scope = default_scope(con, dataset_id)
    bits, channels = day_bits(con, scope), sales_channels(con, dataset_id)
    text = customer_facts_sql(filtered=False, usage=True, bits=bits, channels=channels)
    return text, bind(scope, text, as_of=None, **bits, **channels)


def reads_stored(store: Store, scope: Scope, as_of: date | None = None) -> bool:
    """True when the facts of ``scope`` are read from the stored rows: the dataset's default scope, or its
    window with region / segment / owner filters only (a channel filter changes each customer's facts)."""
    if scope.channels or (as_of is not None and as_of != scope.end):
        return False
    whole = Scope(scope.dataset_id, start=scope.start, end=scope.end)
    return whole == default_scope(store, scope.dataset_id)


def customer_facts(
    store: Store, scope: Scope, as_of: date | None = None, columns: Sequence[str] | None = None, *,
    narrow: bool = False,
) -> pl.DataFrame:
    """Facts per customer over the scope's window and filters.

    Customers: those passing the region / segment / owner filters that are known by the window end
    (in the customers table and created by then, or with a purchase, interaction or feedback by then);
    with a channel filter, only those who bought through one of the channels by the window end. A
    customer without activity in the window has a row with zero revenue and cost (recency still counts).

    Parameters
    ----------
    scope
        Dataset, window (inclusive dates; open ends allowed) and filters.
    as_of
        The day tenure and recency are measured at. Defaults to the window end or, when the window is
        open-ended, the dataset's last purchase day. With an open-ended window an explicit ``as_of``
        also ends the window (nothing after ``as_of`` is counted).
    columns
        Only these columns, after customer_id (always first). A read of the stored rows then reads no
        others: at 1M customers, one region of four, 4 columns take 0.025 s against 0.1-0.15 s for all 40
        (the text columns cost most). Facts computed from the transactions are computed whole and cut, or
        with ``narrow``, those columns alone (unless this process holds the whole frame): for a page whose views
        all read the same few columns, where the whole facts are for the pages that read most of them.

    Returns
    -------
    pl.DataFrame
        One row per customer, sorted by customer_id:

        * customer attributes: name, country, region, industry, segment, acquisition_channel, owner
          (customers table) and main_channel (most frequent sales channel of completed purchases in the
          window);
        * ``as_of``; first_purchase / last_purchase: first and last completed purchase of the whole
          history up to the window end; first_purchase_in_window / last_purchase_in_window;
        * in the window: purchases (distinct purchase days), orders, revenue, cogs (null without cost
          data), margin (revenue - cogs where cost exists, as the stored facts), avg_order_value,
          discounts, refunded_orders, cancelled_orders; completed purchases only unless named otherwise;
        * tenure_days = as_of - first purchase day; recency_days = as_of - last purchase day (whole days;
          null without a purchase);
        * interactions in the window: interactions, ``n_<kind>`` for call, email, meeting, visit, chat,
          ticket and other (kinds matched case-insensitively, unknown kinds as other), tickets (=
          n_ticket), interaction_minutes;
        * cost_to_serve and net_profit in the window (:mod:`crm_core.metrics.cost`, the dataset's rates);
        * latest_nps / latest_csat: latest answer up to the window end.

    Raises
    ------
    ValueError
        ``as_of`` before the window end (the window would hold purchases after the day measured at).
    """
    if as_of is not None:
        if scope.end is None:
            scope = scope.with_window(scope.start, as_of)
        elif as_of < scope.end:
            raise ValueError(f"as_of {as_of} is before the window end {scope.end}; pick a day on or after it.")
    if reads_stored(store, scope, as_of):
        select = _stored_columns(columns)
        if not scope.filtered:
            return _read_stored(store, STORED_SQL.format(columns=select), {"dataset": scope.dataset_id})
        text = STORED_FILTERED_SQL.format(columns=select)
        return _read_stored(store, text, scope.params(text))
    if narrow and columns is not None:
        return _computed_columns(store, scope, as_of, tuple(dict.fromkeys(["customer_id", *columns])))
    computed = _computed(store, scope, as_of)
    return computed if columns is None else computed.select(list(dict.fromkeys(["customer_id", *columns])))
