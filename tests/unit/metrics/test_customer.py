"""crm_core.metrics.customer: one customer's history on a tiny hand-built store equals the rows put in."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from crm_core.metrics.customer import customer_history
from crm_core.store import TableLoad

CUSTOMERS = pl.DataFrame(
    {"customer_id": ["C1", "C2"], "name": ["Ada", "Bo"], "region": ["Europe", "Asia"], "segment": ["SMB", "SMB"]}
)
TRANSACTIONS = pl.DataFrame(
    {
        "transaction_id": ["T1", "T2", "T3", "T4"],
        "customer_id": ["C1", "C2", "C1", "C1"],
        "occurred_at": [datetime(2024, 3, 1), datetime(2024, 1, 9), datetime(2024, 1, 5), datetime(2024, 2, 1)],
        "amount": [50.0, 80.5, 120.0, 30.0],
        "status": ["completed", "completed", "completed", "refunded"],
    }
)
INTERACTIONS = pl.DataFrame(
    {
        "interaction_id": ["I1", "I2", "I3"],
        "customer_id": ["C1", "C1", "C2"],
        "occurred_at": [datetime(2024, 2, 3), datetime(2024, 1, 6), datetime(2024, 1, 10)],
        "kind": ["call", "email", "meeting"],
        "duration_minutes": [15.0, None, 60.0],
    }
)
FEEDBACK = pl.DataFrame(
    {
        "customer_id": ["C1", "C2"],
        "responded_at": [datetime(2024, 3, 5), datetime(2024, 1, 20)],
        "nps": [9, 4],
        "comment": ["great", "slow"],
    }
)


def _load(store) -> int:
    loads = [
        TableLoad(name, frame, file_name=f"{name}.csv", rows_read=frame.height)
        for name, frame in (("customers", CUSTOMERS), ("transactions", TRANSACTIONS),
                            ("interactions", INTERACTIONS), ("feedback", FEEDBACK))
    ]
    return store.load("Tiny", loads).dataset_id


def test_history_of_one_customer_equals_the_rows_put_in(store):
    ds = _load(store)
    h = customer_history(store, ds, "C1")
    assert h.known
    assert h.profile["name"] == "Ada" and h.profile["region"] == "Europe"
    # purchases: every status, oldest first
    assert h.purchases.select("purchase_id", "occurred_at", "amount", "status").rows() == [
        ("T3", datetime(2024, 1, 5), 120.0, "completed"),
        ("T4", datetime(2024, 2, 1), 30.0, "refunded"),
        ("T1", datetime(2024, 3, 1), 50.0, "completed"),
    ]
    assert h.interactions.select("interaction_id", "occurred_at", "kind", "duration_minutes").rows() == [
        ("I2", datetime(2024, 1, 6), "email", None),
        ("I1", datetime(2024, 2, 3), "call", 15.0),
    ]
    assert h.feedback.select("responded_at", "nps", "comment").rows() == [(datetime(2024, 3, 5), 9, "great")]
    # the stored facts: completed purchases only
    assert h.facts["revenue"] == 170.0
    assert h.facts["customer_id"] == "C1"


def test_other_customers_and_datasets_stay_out(store):
    ds = _load(store)
    other = store.load("Other", [TableLoad("transactions", TRANSACTIONS, file_name="t.csv")]).dataset_id
    assert customer_history(store, ds, "C2").purchases["purchase_id"].to_list() == ["T2"]
    h = customer_history(store, other, "C1")
    assert h.profile is None and h.interactions.is_empty() and h.feedback.is_empty()
    assert h.purchases.height == 3


def test_an_unknown_customer_has_an_empty_history(store):
    ds = _load(store)
    h = customer_history(store, ds, "nobody' OR 1=1 --")
    assert not h.known
    assert h.purchases.is_empty() and h.interactions.is_empty() and h.feedback.is_empty()
    assert h.facts is None
