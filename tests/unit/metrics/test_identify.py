"""IDIC Identify: identified customers and usable contact data, counted by hand on a four-customer store."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from crm_core.metrics.identify import contacts, identify_summary
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "identify.duckdb")
    tx = pl.DataFrame({"customer_id": ["a", "b"], "occurred_at": [datetime(2024, 1, 5), datetime(2024, 2, 5)],
                       "amount": [10.0, 20.0]})
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "email": ["a@x.com", "  ", None, None],  # b's blank email is no contact data
            "phone": [None, None, "+1 555", None],
            "region": ["EU", "US", "EU", "EU"],
            "segment": ["Retail", "Retail", None, "Trade"],
            "owner": ["Ann", "Bob", "Ann", None],
            "created_at": [datetime(2023, 1, 1), datetime(2023, 6, 1), datetime(2024, 3, 1), None],
        }
    )
    s.load("t", [TableLoad("transactions", tx, "t.csv"), TableLoad("customers", customers, "c.csv")])
    yield s
    s.close()


def test_identified_and_contactable_by_hand(store):
    ds = store.dataset_id("t")
    got = identify_summary(store, Scope(ds))
    # a: email; b: blank email only; c: phone; d: nothing -> 4 identified, 2 contactable
    assert got == {"identified": 4, "with_email": 1, "with_phone": 1, "contactable": 2, "contactable_share": 0.5}


def test_filters_and_window_end_narrow_the_customers(store):
    ds = store.dataset_id("t")
    eu = identify_summary(store, Scope(ds, regions=("EU",)))
    assert (eu["identified"], eu["contactable"]) == (3, 2)  # a, c, d
    # window ending 2024-02-29: c (created 2024-03-01) is not known yet; d has no creation date and counts
    feb = identify_summary(store, Scope(ds, start=date(2024, 1, 1), end=date(2024, 2, 29)))
    assert (feb["identified"], feb["contactable"]) == (3, 1)
    assert contacts(store, Scope(ds, regions=("EU",)))["customer_id"].to_list() == ["a", "c", "d"]
    assert contacts(store, Scope(ds))["email"].to_list() == ["a@x.com", None, None, None]
    # segment Retail = a, b; with owner Ann = a; c has no segment and d no owner: never picked by those filters
    assert contacts(store, Scope(ds, segments=("Retail",)))["customer_id"].to_list() == ["a", "b"]
    assert identify_summary(store, Scope(ds, segments=("Retail", "Trade"), owners=("Ann",)))["identified"] == 1
    assert identify_summary(store, Scope(ds, regions=("EU", "US"), owners=("Ann", "Bob")))["identified"] == 3


def test_no_customers_gives_no_share(store):
    ds = store.dataset_id("t")
    got = identify_summary(store, Scope(ds, regions=("Mars",)))
    assert got["identified"] == 0 and got["contactable_share"] is None
