"""Stores for the data-quality tests: an empty one per test, and loaders for the labelled fixtures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from crm_core.store import Store, TableLoad

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "quality"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "quality.duckdb")
    yield s
    s.close()


def known() -> pl.DataFrame:
    """tests/fixtures/quality/known_duplicates.csv: hand-written customers with their true ``entity``."""
    return pl.read_csv(FIXTURES / "known_duplicates.csv", infer_schema=False).with_columns(
        pl.col("created_at").str.to_datetime("%Y-%m-%d"))


def labelled() -> pl.DataFrame:
    """tests/fixtures/quality/labelled_customers.csv: 800 generated customers (bench/quality.py --seed 11
    --dup-rate 0.1) with their true ``entity``."""
    return pl.read_csv(FIXTURES / "labelled_customers.csv", infer_schema=False)


def load(store, customers: pl.DataFrame, name: str = "q", transactions: pl.DataFrame | None = None,
         **extra: pl.DataFrame) -> int:
    """A dataset with these customers (``entity`` dropped) and one purchase each unless ``transactions``."""
    if transactions is None:
        transactions = pl.DataFrame({
            "transaction_id": [f"T{i}" for i in range(customers.height)],
            "customer_id": customers["customer_id"],
            "occurred_at": [datetime(2024, 1, 1 + i % 28) for i in range(customers.height)],
            "amount": [100.0 + i for i in range(customers.height)],
            "status": ["completed"] * customers.height,
        })
    loads = [TableLoad("customers", customers.drop("entity", strict=False), "customers.csv"),
             TableLoad("transactions", transactions, "tx.csv")]
    loads += [TableLoad(t, f, f"{t}.csv") for t, f in extra.items()]
    return store.load(name, loads).dataset_id


def pairs(frame: pl.DataFrame, by: str) -> set[tuple[str, str]]:
    """Unordered pairs of customer ids sharing a value of ``by``."""
    out = set()
    for ids in frame.group_by(by).agg(pl.col("customer_id").sort())["customer_id"].to_list():
        out |= {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}
    return out
