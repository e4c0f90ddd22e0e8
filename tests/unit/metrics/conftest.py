"""Stores for the metric tests: an empty one per test, and the sample company once per session (read only)."""

from __future__ import annotations

import pytest

from crm_core.store import Store


@pytest.fixture
def store(tmp_path):
    """An empty store of its own for each test."""
    s = Store(tmp_path / "metrics.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """(store, dataset_id) of the 500-customer sample company; tests must only read it."""
    s = Store(tmp_path_factory.mktemp("sample") / "sample.duckdb")
    ds = s.load_sample(customers=500).dataset_id
    yield s, ds
    s.close()
