"""Data completeness and duplicate rate of customer records, by hand on a four-customer dataset."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from crm_core.frameworks import data_quality
from crm_core.metrics.scope import Scope

from .conftest import tiny

CUSTOMERS = pl.DataFrame({
    "customer_id": ["C1", "C2", "C3", "C4"],
    "name": ["Ann", "Bob", "  ", "Dee"],
    "email": ["ann@x.com", " ANN@X.com ", None, "dee@y.com"],
    "phone": ["1", None, None, "4"],
    "company": ["X", "X", None, None],
    "country": ["DE", "DE", "FR", None],
    "region": ["Europe", "Europe", "Europe", "Americas"],
    "created_at": [datetime(2023, 1, 1)] * 3 + [datetime(2024, 6, 1)],
})


def test_completeness_counts_filled_contact_fields(store):
    ds = tiny(store, customers=CUSTOMERS)
    out = data_quality.data_completeness(store, Scope(ds))
    # filled: name 3 (C3 blank), email 3, phone 2, company 2, country 3 = 13 of 4 × 5 = 20
    assert out["customers"] == 4 and out["filled"] == 13
    assert out["completeness"] == pytest.approx(13 / 20)
    assert out["by_field"] == {"name": 0.75, "email": 0.75, "phone": 0.5, "company": 0.5, "country": 0.75}


def test_duplicates_share_a_trimmed_lower_cased_email(store):
    ds = tiny(store, customers=CUSTOMERS)
    out = data_quality.duplicate_rate(store, Scope(ds))
    # C1 and C2 share ann@x.com once trimmed and lower-cased: 2 of 4 records
    assert out == {"customers": 4, "duplicated": 2, "emails": 1, "duplicate_rate": 0.5}


def test_filters_and_window_end_narrow_the_records(store):
    ds = tiny(store, customers=CUSTOMERS)
    europe = Scope(ds, regions=("Europe",))
    assert data_quality.duplicate_rate(store, europe)["duplicate_rate"] == pytest.approx(2 / 3)
    before_dee = Scope(ds, start=datetime(2024, 1, 1).date(), end=datetime(2024, 3, 1).date())
    assert data_quality.data_completeness(store, before_dee)["customers"] == 3


def test_no_customer_records_gives_none(store):
    ds = tiny(store)
    assert data_quality.data_completeness(store, Scope(ds))["completeness"] is None
    assert data_quality.duplicate_rate(store, Scope(ds))["duplicate_rate"] is None
