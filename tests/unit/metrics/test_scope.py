"""Scope: filters and window as bound SQL; previous period of equal length."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from crm_core.metrics.scope import (
    CHOSEN_CUSTOMERS,
    Scope,
    activity_sql,
    chosen_customers,
    customers_sql,
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
