"""Customer facts over a scope: the stored ``customer_facts`` recomputed for an analysis window and filters
(issue #3 item 1; DESIGN.md §6 "customer_facts", §7).

The stored table answers "all time, no filters" without rescanning; pages with a window or a filter call
:func:`customer_facts`, which computes the same facts in ONE DuckDB query over the scope
(``crm_core/sql/customer_facts_window.sql``). Cost to serve and net profit come from the same SQL fragment
as :mod:`crm_core.metrics.cost` and the stored table (``crm_core/sql/cost_to_serve.sql``).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from crm_core.metrics.cost import bind, render
from crm_core.metrics.scope import Scope, activity_sql, customer_filter, purchases_sql

if TYPE_CHECKING:  # pragma: no cover
    from crm_core.store import Store


def customer_facts_sql() -> str:
    """The windowed facts query (parameters: the scope's and ``$as_of``)."""
    return render(
        "customer_facts_window",
        purchases=purchases_sql(windowed=False, statuses=None),
        interactions=activity_sql("interactions", "occurred_at", windowed=False),
        feedback=activity_sql("feedback", "responded_at", windowed=False),
        customer_filter=customer_filter("c"),
    )


def customer_facts(store: Store, scope: Scope, as_of: date | None = None) -> pl.DataFrame:
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
    text = customer_facts_sql()
    return store.query(text, bind(scope, text, as_of=as_of))
