"""Data completeness and duplicate rate of customer records (catalog ids kept from the first, small module; now
computed by ``crm_core.quality``), by hand on a four-customer dataset."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from crm_core import quality
from crm_core.frameworks import evidence
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
    report = quality.kept_report(store, ds)
    # filled: name 3 (C3 blank), email 3, phone 2, company 2, country 3 = 13 of 4 × 5 = 20
    assert report.customers == 4
    assert report.contact_completeness == pytest.approx(13 / 20)
    by_field = {r["field"]: r["completeness"] for r in report.completeness.filter(pl.col("table") == "customers")
                .to_dicts()}
    assert {f: by_field[f] for f in ("name", "email", "phone", "company", "country")} == {
        "name": 0.75, "email": 0.75, "phone": 0.5, "company": 0.5, "country": 0.75}


def test_duplicates_share_a_trimmed_lower_cased_email(store):
    ds = tiny(store, customers=CUSTOMERS)
    report = quality.kept_report(store, ds)
    # C1 and C2 share ann@x.com once trimmed and lower-cased: 2 of 4 records
    assert report.cluster_lists() == [["C1", "C2"]]
    assert report.duplicate_rate == 0.5


def test_evidence_reads_the_dataset_report_whatever_the_filter(store):
    """Quality is measured on the whole dataset (the fixes act on whole records)."""
    ds = tiny(store, customers=CUSTOMERS)
    europe = Scope(ds, regions=("Europe",))
    values = evidence.metric_values(store, europe, ["data_completeness", "duplicate_rate", "quality_score"])
    report = quality.kept_report(store, ds)
    assert values == {"data_completeness": pytest.approx(13 / 20), "duplicate_rate": 0.5,
                      "quality_score": pytest.approx(report.score)}


def test_no_customer_records_gives_none(store):
    ds = tiny(store)
    values = evidence.metric_values(store, Scope(ds), ["data_completeness", "duplicate_rate", "quality_score"])
    assert values == {"data_completeness": None, "duplicate_rate": None, "quality_score": None}
