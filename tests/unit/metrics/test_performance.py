"""Performance per owner and per channel, checked against hand totals on a tiny store."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from crm_core.metrics import performance as P
from crm_core.metrics.scope import Scope
from crm_core.store import TableLoad

JAN = (date(2024, 1, 1), date(2024, 1, 31))


def ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


CUSTOMERS = pl.DataFrame(
    [("c1", "Ann", "North"), ("c2", "Ann", "South"), ("c3", "Bob", "North"), ("c4", None, "South")],
    schema={"customer_id": pl.String, "owner": pl.String, "region": pl.String},
    orient="row",
)
TRANSACTIONS = pl.DataFrame(
    [
        ("c1", ts("2024-01-02 09:00"), 100.0, "Web", "completed"),
        ("c1", ts("2024-01-02 09:00"), 50.0, "Web", "completed"),  # second line, same day
        ("c1", ts("2024-01-09 15:00"), 30.0, "Store", "completed"),
        ("c2", ts("2024-01-03 10:00"), 200.0, "Web", "completed"),
        ("c2", ts("2024-01-07 10:00"), 999.0, "Web", "refunded"),  # not revenue
        ("c3", ts("2023-12-20 10:00"), 500.0, "Web", "completed"),  # before the window
        ("c3", ts("2024-01-04 10:00"), 400.0, "Store", "completed"),
        ("c3", ts("2024-01-05 10:00"), 100.0, "Store", "completed"),
        ("c4", ts("2024-01-06 10:00"), 60.0, "Web", "completed"),
    ],
    schema={"customer_id": pl.String, "occurred_at": pl.Datetime("us"), "amount": pl.Float64,
            "channel": pl.String, "status": pl.String},
    orient="row",
)
DEALS = pl.DataFrame(
    [
        # the deal owner may differ from the account owner: d1 is Ann's deal on Bob's account c3
        ("d1", "c3", "Ann", ts("2023-12-01"), ts("2024-01-10"), "won", 1000.0),
        ("d2", "c2", "Ann", ts("2023-12-01"), ts("2024-01-12"), "lost", 500.0),
        ("d3", "c3", "Bob", ts("2023-12-01"), ts("2024-01-15"), "lost", 800.0),
        ("d4", "c4", "Dan", ts("2023-12-01"), ts("2024-01-20"), "won", 300.0),  # Dan has no accounts
        ("d5", "c3", "Bob", ts("2023-11-01"), ts("2023-12-15"), "won", 700.0),  # closed before
        ("d6", "c3", "Bob", ts("2024-01-02"), None, "open", 900.0),  # open: ignored
    ],
    schema={"deal_id": pl.String, "customer_id": pl.String, "owner": pl.String, "created_at": pl.Datetime("us"),
            "closed_at": pl.Datetime("us"), "status": pl.String, "amount": pl.Float64},
    orient="row",
)
FEEDBACK = pl.DataFrame(
    [
        ("c1", ts("2024-01-15 10:00"), 10),
        ("c2", ts("2024-01-16 10:00"), 6),
        ("c3", ts("2024-01-17 10:00"), 9),
        ("c3", ts("2024-01-18 10:00"), 8),
        ("c4", ts("2024-02-18 10:00"), 0),  # after the window
    ],
    schema={"customer_id": pl.String, "responded_at": pl.Datetime("us"), "nps": pl.Int64},
    orient="row",
)



@pytest.fixture
def ds(store) -> int:
    return store.load(
        "t",
        [
            TableLoad("customers", CUSTOMERS, "c.csv"),
            TableLoad("transactions", TRANSACTIONS, "t.csv"),
            TableLoad("deals", DEALS, "d.csv"),
            TableLoad("feedback", FEEDBACK, "f.csv"),
        ],
    ).dataset_id


def test_by_owner_hand_totals(store, ds):
    out = P.by_owner(store, Scope(ds, *JAN))
    # revenue: Bob (c3) 400 + 100 = 500; Ann (c1, c2) 100 + 50 + 30 + 200 = 380; no owner (c4) 60;
    # Dan owns only a deal -> 0. Sorted by revenue descending.
    assert out["owner"].to_list() == ["Bob", "Ann", None, "Dan"]
    ann, bob, nobody, dan = (out.row(i, named=True) for i in (1, 0, 2, 3))
    # Ann: 2 customers, 4 order lines, AOV 380/4 = 95, 190 per customer; c1 bought on Jan 2 and
    # Jan 9 (repeat), c2 on one day -> repeat rate 1/2. Deals: d1 won, d2 lost -> 1/2, won 1000.
    # NPS: c1 10 (P), c2 6 (D) -> 0 of 2 answers.
    assert ann == {
        "owner": "Ann", "customers": 2, "revenue": 380.0, "orders": 4, "avg_order_value": 95.0,
        "revenue_per_customer": 190.0, "revenue_share": pytest.approx(380 / 940), "repeat_rate": 0.5,
        "deals_won": 1, "deals_lost": 1, "win_rate": 0.5, "won_amount": 1000.0,
        "nps_responses": 2, "nps": 0.0,
    }
    # Bob: c3 in January only (Dec excluded): 500 over 2 lines on 2 days -> AOV 250, repeat 1/1.
    # Deals: d3 lost (d5 closed in Dec, d6 open) -> 0/1. NPS: 9 (P), 8 (passive) -> 50.
    assert bob == {
        "owner": "Bob", "customers": 1, "revenue": 500.0, "orders": 2, "avg_order_value": 250.0,
        "revenue_per_customer": 500.0, "revenue_share": pytest.approx(500 / 940), "repeat_rate": 1.0,
        "deals_won": 0, "deals_lost": 1, "win_rate": 0.0, "won_amount": 0.0,
        "nps_responses": 2, "nps": 50.0,
    }
    # no owner: c4, 60 on one day; its answer is in February -> no NPS
    assert (nobody["customers"], nobody["revenue"], nobody["repeat_rate"], nobody["nps"]) == (1, 60.0, 0.0, None)
    # Dan: d4 won, no customers -> ratios over customers are null
    assert (dan["customers"], dan["revenue"], dan["avg_order_value"], dan["deals_won"], dan["win_rate"]) == (
        0, 0.0, None, 1, 1.0
    )
    assert out["revenue_share"].sum() == pytest.approx(1.0)


def test_by_channel_hand_totals(store, ds):
    out = P.by_channel(store, Scope(ds, *JAN))
    assert out["channel"].to_list() == ["Store", "Web"]
    store_row, web = out.row(0, named=True), out.row(1, named=True)
    # Store: c1 30, c3 400 + 100 = 530 over 3 lines and 2 customers; c3 bought on 2 days -> 1/2.
    # NPS of customers whose main channel is Store: c3 (Store 2 lines vs Web 1) -> 9, 8 -> 50.
    assert store_row == {
        "channel": "Store", "customers": 2, "revenue": 530.0, "orders": 3,
        "avg_order_value": pytest.approx(530 / 3), "revenue_per_customer": 265.0,
        "revenue_share": pytest.approx(530 / 940), "repeat_rate": 0.5, "nps_responses": 2, "nps": 50.0,
    }
    # Web: c1 150, c2 200, c4 60 = 410 over 4 lines and 3 customers, each on one Web day -> 0.
    # NPS: main channel Web = c1 (10), c2 (6), c4 (Feb, outside) -> 0 of 2.
    assert web == {
        "channel": "Web", "customers": 3, "revenue": 410.0, "orders": 4, "avg_order_value": 102.5,
        "revenue_per_customer": pytest.approx(410 / 3), "revenue_share": pytest.approx(410 / 940),
        "repeat_rate": 0.0, "nps_responses": 2, "nps": 0.0,
    }


def test_region_filter_through_customers(store, ds):
    # North = c1 (Ann), c3 (Bob). Deals of North accounts: d1 (Ann, won), d3 (Bob, lost).
    out = P.by_owner(store, Scope(ds, *JAN, regions=("North",)))
    assert out.select("owner", "revenue", "customers", "deals_won", "deals_lost").to_dicts() == [
        {"owner": "Bob", "revenue": 500.0, "customers": 1, "deals_won": 0, "deals_lost": 1},
        {"owner": "Ann", "revenue": 180.0, "customers": 1, "deals_won": 1, "deals_lost": 0},
    ]
    channels = P.by_channel(store, Scope(ds, *JAN, regions=("North",)))
    # Store: c1 30 + c3 500 = 530; Web: c1 150
    assert dict(zip(channels["channel"], channels["revenue"])) == {"Store": 530.0, "Web": 150.0}


def test_channel_filter(store, ds):
    out = P.by_channel(store, Scope(ds, *JAN, channels=("Store",)))
    assert out["channel"].to_list() == ["Store"] and out["revenue_share"].to_list() == [1.0]
    owners = P.by_owner(store, Scope(ds, *JAN, channels=("Store",)))
    # Store purchases: Bob (c3) 500, Ann (c1) 30; deals and NPS carry no channel and stay
    assert owners.filter(pl.col("owner") == "Ann")["revenue"].to_list() == [30.0]
    assert owners.filter(pl.col("owner") == "Ann")["deals_won"].to_list() == [1]


def test_empty_window(store, ds):
    far = Scope(ds, date(2030, 1, 1), date(2030, 1, 31))
    assert P.by_owner(store, far).is_empty()
    assert P.by_channel(store, far).is_empty()



def test_sample_company_runs(sample):
    store, ds = sample
    for scope in (Scope(ds), Scope(ds, date(2025, 1, 1), date(2025, 12, 31), segments=("SMB", "Enterprise"))):
        owners = P.by_owner(store, scope)
        channels = P.by_channel(store, scope)
        for out in (owners, channels):
            assert out["revenue"].is_sorted(descending=True)
            assert out["repeat_rate"].drop_nulls().is_between(0, 1).all()
            assert out["nps"].drop_nulls().is_between(-100, 100).all()
            assert out["revenue_share"].sum() == pytest.approx(1.0)
        assert owners["win_rate"].drop_nulls().is_between(0, 1).all()
        # every buying customer has one owner: owner rows add up to the buyers of the scope
        buyers = store.query(
            "SELECT COUNT(DISTINCT customer_id) AS n, SUM(amount) AS r FROM purchases WHERE dataset_id = $d "
            "AND status = 'completed' AND ($s::TIMESTAMP IS NULL OR occurred_at >= $s::TIMESTAMP) "
            "AND ($e::TIMESTAMP IS NULL OR occurred_at < $e::TIMESTAMP) AND customer_id IN "
            "(SELECT customer_id FROM customers WHERE dataset_id = $d AND "
            "(len($seg::VARCHAR[]) = 0 OR list_contains($seg::VARCHAR[], segment)))",
            {"d": ds, "s": scope.start_ts, "e": scope.end_ts, "seg": list(scope.segments)},
        ).row(0, named=True)
        if not scope.segments:  # without a segment filter, customers absent from the table count too
            buyers = store.query(
                "SELECT COUNT(DISTINCT customer_id) AS n, SUM(amount) AS r FROM purchases "
                "WHERE dataset_id = $d AND status = 'completed'", {"d": ds}
            ).row(0, named=True)
        assert owners["customers"].sum() == buyers["n"]
        assert owners["revenue"].sum() == pytest.approx(buyers["r"])
        assert channels["revenue"].sum() == pytest.approx(buyers["r"])
