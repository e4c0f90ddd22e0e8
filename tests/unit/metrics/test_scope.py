"""Scope: filters and window as bound SQL; previous period of equal length."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from crm_core.metrics.scope import (
    CHOSEN_CUSTOMERS,
    WINDOW_PRESETS,
    Scope,
    activity_sql,
    chosen_customers,
    customers_sql,
    months_before,
    preset_window,
    purchases_sql,
)
from crm_core.store import Store, TableLoad


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "x.duckdb")
    tx = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d"],
            "occurred_at": [datetime(2024, 1, 31, 23, 59), datetime(2024, 2, 1), datetime(2024, 2, 29, 12),
                            datetime(2024, 3, 1), datetime(2024, 2, 10)],
            "amount": [1.0, 2.0, 4.0, 8.0, 16.0],
            "channel": ["Web", "Store", "Web", "Web", "Store"],
            "status": ["completed", "completed", "completed", "completed", "refunded"],
        }
    )
    customers = pl.DataFrame({"customer_id": ["a", "b", "c"], "region": ["EU", "US", "EU"], "owner": ["Ann", "Bo", "Bo"]})
    s.load("t", [TableLoad("transactions", tx, "t.csv"), TableLoad("customers", customers, "c.csv")])
    yield s
    s.close()


def total(store, scope, sql):
    q = f"SELECT COALESCE(SUM(amount), 0) FROM ({sql})"
    return store.scalar(q, scope.params(q))


def test_window_is_inclusive_whole_days(store):
    ds = store.dataset_id("t")
    feb = Scope(ds, start=date(2024, 2, 1), end=date(2024, 2, 29))
    # Feb: a's 2.00 (Feb 1 00:00) + b's 4.00 (Feb 29 noon); not a's Jan 31 23:59, c's Mar 1, d's refund
    assert total(store, feb, purchases_sql()) == 6.0
    assert total(store, feb, purchases_sql(statuses=None)) == 22.0  # + d's refunded 16.00
    assert total(store, feb, purchases_sql(windowed=False)) == 15.0  # all completed: 1 + 2 + 4 + 8


def test_filters(store):
    ds = store.dataset_id("t")
    assert total(store, Scope(ds, regions=("EU",)), purchases_sql()) == 11.0  # a 1+2, c 8
    assert total(store, Scope(ds, channels=("Web",)), purchases_sql()) == 13.0  # a 1, b 4, c 8
    assert total(store, Scope(ds, regions=("EU",), owners=("Bo",)), purchases_sql()) == 8.0  # c only
    # d is not in the customers table: any customer filter leaves it out
    q = f"SELECT COUNT(*) FROM ({customers_sql()})"
    assert store.scalar(q, Scope(ds).params(q)) == 4
    assert store.scalar(q, Scope(ds, owners=("Bo",)).params(q)) == 2


def test_activity_sql_rejects_other_tables():
    with pytest.raises(ValueError):
        activity_sql("transactions; DROP TABLE x", "occurred_at")


def test_previous_period_has_equal_length_and_describe():
    q1 = Scope(1, start=date(2024, 4, 1), end=date(2024, 6, 30), regions=("EU",))
    prev = q1.previous()
    assert (prev.start, prev.end) == (date(2024, 1, 1), date(2024, 3, 31))  # 91 days each
    assert (q1.end - q1.start) == (prev.end - prev.start)
    assert Scope(1).previous() is None
    assert q1.describe() == "2024-04-01 to 2024-06-30; region: EU" and q1.active == 1
    assert Scope(1).describe() == "all data"


def test_quick_periods_are_calendar_months_up_to_the_last_purchase_day():
    # by hand: the last 12 months up to 2026-09-29 start the day after 2025-09-29; a month without the day takes
    # its last one (31 March less a month is 28 February, 29 in a leap year); never before the first purchase day
    assert months_before(date(2026, 9, 30), 12) == date(2025, 9, 30)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)
    span = (date(2024, 1, 15), date(2026, 9, 29))
    assert preset_window(span, 12) == (date(2025, 9, 30), date(2026, 9, 29))  # 365 days
    assert preset_window(span, 6) == (date(2026, 3, 30), date(2026, 9, 29))
    assert preset_window(span, 3) == (date(2026, 6, 30), date(2026, 9, 29))
    assert preset_window(span, None) == span == preset_window(span, WINDOW_PRESETS["Whole history"])
    assert preset_window((date(2026, 1, 15), date(2026, 9, 29)), 12) == (date(2026, 1, 15), date(2026, 9, 29))
    assert list(WINDOW_PRESETS) == ["Whole history", "Last 12 months", "Last 6 months", "Last 3 months"]


def test_params_bind_only_what_a_query_uses():
    s = Scope(3, channels=("Web",))
    assert s.params("SELECT $dataset, $channels") == {"dataset": 3, "channels": ["Web"]}


def test_filter_options_come_from_customers_and_purchases(store):
    from crm_core.metrics.scope import filter_options

    opts = filter_options(store, store.dataset_id("t"))
    assert opts["regions"] == ["EU", "US"] and opts["owners"] == ["Ann", "Bo"] and opts["segments"] == []
    assert opts["channels"] == ["Store", "Web"]  # d's refunded Store purchase counts: a purchase channel
    assert opts["span"] == (date(2024, 1, 31), date(2024, 3, 1))


def test_chosen_customers_are_held_until_the_customers_change(store, monkeypatch):
    ds = store.dataset_id("t")
    queries = []
    real = Store.query
    monkeypatch.setattr(Store, "query",
                        lambda self, text, params=None: queries.append(text) or real(self, text, params))
    eu = Scope(ds, regions=("EU",))
    assert sorted(chosen_customers(store, eu)["customer_id"]) == ["a", "c"]
    assert sorted(chosen_customers(store, eu.with_window(date(2024, 2, 1), None))["customer_id"]) == ["a", "c"]
    assert len([q for q in queries if q == CHOSEN_CUSTOMERS]) == 1  # the window does not change whom they pick
    assert sorted(chosen_customers(store, Scope(ds, owners=("Bo",)))["customer_id"]) == ["b", "c"]
    moved = pl.DataFrame({"customer_id": ["a", "b", "c"], "region": ["US", "US", "EU"], "owner": ["Ann", "Bo", "Bo"]})
    store.load("t", [TableLoad("customers", moved, "c2.csv")], replace=True)
    assert sorted(chosen_customers(store, eu)["customer_id"]) == ["c"]  # new customer data: asked again
