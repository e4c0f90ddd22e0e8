"""Stores for the framework tests: an empty one per test and the 500-customer sample company once per session."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from crm_core.store import Store, TableLoad


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "frameworks.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """(store, dataset_id) of the 500-customer sample company; tests must only read its data."""
    s = Store(tmp_path_factory.mktemp("fw_sample") / "sample.duckdb")
    ds = s.load_sample(customers=500).dataset_id
    yield s, ds
    s.close()


def tiny(store, name: str = "tiny", customers: pl.DataFrame | None = None) -> int:
    """A dataset with two purchases and the given customers (none: two plain customers); returns its id."""
    tx = pl.DataFrame({
        "transaction_id": ["T1", "T2"], "customer_id": ["C1", "C2"],
        "occurred_at": [datetime(2024, 1, 5), datetime(2024, 2, 5)], "amount": [100.0, 50.0],
        "status": ["completed", "completed"],
    })
    loads = [TableLoad("transactions", tx, "tx.csv")]
    if customers is not None:
        loads.append(TableLoad("customers", customers, "customers.csv"))
    return store.load(name, loads).dataset_id
