"""Acquisition, win rate, sales cycle, penetration and efficiency, checked by hand on tiny stores."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.metrics import acquisition as A
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad

Q1 = (date(2024, 1, 1), date(2024, 3, 31))
TX_SCHEMA = {
    "customer_id": pl.String, "occurred_at": pl.Datetime("us"), "amount": pl.Float64,
    "category": pl.String, "product": pl.String, "channel": pl.String, "status": pl.String,
}
DEAL_SCHEMA = {
    "deal_id": pl.String, "customer_id": pl.String, "owner": pl.String, "created_at": pl.Datetime("us"),
    "closed_at": pl.Datetime("us"), "status": pl.String, "amount": pl.Float64, "source": pl.String,
}


def ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def tx(rows) -> pl.DataFrame:
    """(customer, 'YYYY-MM-DD', amount, category, product, channel[, status])."""
    return pl.DataFrame(
        [(c, ts(d), a, cat, prod, ch, rest[0] if rest else "completed") for c, d, a, cat, prod, ch, *rest in rows],
        schema=TX_SCHEMA,
        orient="row",
    )


CUSTOMERS = pl.DataFrame(
    [("c1", "North"), ("c2", "South"), ("c3", "North"), ("c4", "South"), ("c5", "North"), ("c9", "North")],
    schema={"customer_id": pl.String, "region": pl.String},
    orient="row",
)



def load(store: Store, **tables: pl.DataFrame) -> int:
    loads = [TableLoad(name, frame, f"{name}.csv") for name, frame in tables.items()]
    return store.load(uuid.uuid4().hex[:8], loads).dataset_id


# ---------------------------------------------------------------- new customers

ACQUISITIONS = tx([
    ("c1", "2023-12-15", 10, None, None, "Web"),  # acquired before the window
    ("c1", "2024-01-05", 10, None, None, "Web"),
    ("c2", "2024-01-10", 10, None, None, "Web"),
    ("c3", "2024-01-20", 10, None, None, "Store"),
    ("c3", "2024-02-10", 10, None, None, "Web"),  # c3's first *Web* purchase, not its first purchase
    ("c4", "2024-01-25", 10, None, None, "Web", "refunded"),  # a refund does not acquire
    ("c4", "2024-02-03", 10, None, None, "Web"),
    ("c5", "2024-03-10", 10, None, None, "Web"),  # last purchase of the data: March is partial
])


def test_new_customers_per_month(store):
    ds = load(store, customers=CUSTOMERS, transactions=ACQUISITIONS)
    out = A.new_customers(store, Scope(ds, *Q1), "month")
    # Jan: c2, c3; Feb: c4 (its refunded January order does not count); Mar: c5, partial
    # (data end on 2024-03-10, before the month's end). c1 was acquired in December.
    assert out.to_dicts() == [
        {"period": date(2024, 1, 1), "new_customers": 2, "partial": False},
        {"period": date(2024, 2, 1), "new_customers": 1, "partial": False},
        {"period": date(2024, 3, 1), "new_customers": 1, "partial": True},
    ]


def test_new_customers_channel_filter_is_the_acquiring_channel(store):
    ds = load(store, customers=CUSTOMERS, transactions=ACQUISITIONS)
    out = A.new_customers(store, Scope(ds, *Q1, channels=("Web",)), "month")
    # first purchases through Web: c2 (Jan), c4 (Feb), c5 (Mar); c3 came through Store
    assert out["new_customers"].to_list() == [1, 1, 1]


def test_new_customers_region_filter_and_partial_start(store):
    ds = load(store, customers=CUSTOMERS, transactions=ACQUISITIONS)
    out = A.new_customers(store, Scope(ds, date(2024, 1, 15), date(2024, 2, 29), regions=("North",)), "month")
    # North = c1, c3, c5: from Jan 15 only c3 (Jan 20); January starts before the window -> partial
    assert out.to_dicts() == [
        {"period": date(2024, 1, 1), "new_customers": 1, "partial": True},
        {"period": date(2024, 2, 1), "new_customers": 0, "partial": False},
    ]


def test_new_customers_quarter_open_window(store):
    ds = load(store, transactions=ACQUISITIONS)
    out = A.new_customers(store, Scope(ds), "quarter")
    # Q4 2023: c1; Q1 2024: c2, c3, c4, c5 (partial: data end on Mar 10)
    assert out.to_dicts() == [
        {"period": date(2023, 10, 1), "new_customers": 1, "partial": False},
        {"period": date(2024, 1, 1), "new_customers": 4, "partial": True},
    ]


def test_new_customers_empty(store):
    ds = load(store, customers=CUSTOMERS)
    assert A.new_customers(store, Scope(ds)).is_empty()
    out = A.new_customers(store, Scope(ds, *Q1))
    assert out["new_customers"].to_list() == [0, 0, 0]


# ---------------------------------------------------------------- deals

DEALS = pl.DataFrame(
    [
        # id, customer, owner, created, closed, status, amount, source
        ("d1", "c1", "Ann", ts("2023-11-01"), ts("2024-01-10"), "won", 1000.0, "Inbound"),  # 70 days
        ("d2", "c1", "Ann", ts("2024-01-01"), ts("2024-01-20"), "lost", 500.0, "Inbound"),
        ("d3", "c2", "Bob", ts("2024-01-06"), ts("2024-02-05"), "won", 2000.0, "Referral"),  # 30 days
        ("d4", "c2", "Bob", ts("2023-11-01"), ts("2023-12-20"), "won", 3000.0, "Referral"),  # closed before
        ("d5", "c1", "Ann", ts("2024-01-15"), None, "open", 700.0, "Inbound"),  # open: ignored
        ("d6", "c2", "Bob", ts("2024-01-31"), ts("2024-03-01"), "lost", 100.0, "Referral"),
        ("d7", "c3", "Cid", ts("2024-02-29"), ts("2024-03-31"), "won", 400.0, "Partner"),  # 31 days
        ("d8", "c1", "Ann", ts("2024-03-15"), ts("2024-04-10"), "won", 900.0, "Inbound"),  # closed after
        ("d9", "c2", "Bob", ts("2024-01-10"), ts("2024-02-20"), "lost", 300.0, "Referral"),
        ("d10", "c3", "Cid", None, ts("2024-03-05"), "won", 50.0, "Partner"),  # no created_at
    ],
    schema=DEAL_SCHEMA,
    orient="row",
)


@pytest.fixture
def deals_ds(store) -> int:
    return load(store, customers=CUSTOMERS, deals=DEALS)


def test_win_rate_counts_deals_closed_in_window(store, deals_ds):
    # Closed in Q1: won d1, d3, d7, d10; lost d2, d6, d9. Open d5 and d4 (Dec), d8 (Apr) excluded.
    # win rate = 4 / (4 + 3); won amount = 1000 + 2000 + 400 + 50 = 3450
    out = A.win_rate(store, Scope(deals_ds, *Q1)).to_dicts()
    assert out == [{"won": 4, "lost": 3, "closed": 7, "win_rate": pytest.approx(4 / 7), "won_amount": 3450.0}]


def test_win_rate_by_owner_and_source(store, deals_ds):
    by_owner = A.win_rate(store, Scope(deals_ds, *Q1), by="owner")
    # Ann: d1 won, d2 lost -> 1/2; Bob: d3 won, d6 + d9 lost -> 1/3; Cid: d7, d10 won -> 2/2
    assert by_owner["owner"].to_list() == ["Ann", "Bob", "Cid"]
    assert by_owner["win_rate"].to_list() == pytest.approx([1 / 2, 1 / 3, 1.0])
    assert by_owner["won_amount"].to_list() == [1000.0, 2000.0, 450.0]
    by_source = A.win_rate(store, Scope(deals_ds, *Q1), by="source")
    # Inbound d1/d2 -> 1/2; Partner d7, d10 -> 2/2; Referral d3/d6/d9 -> 1/3
    assert dict(zip(by_source["source"], by_source["win_rate"])) == pytest.approx(
        {"Inbound": 0.5, "Partner": 1.0, "Referral": 1 / 3}
    )


def test_win_rate_region_filter_and_empty(store, deals_ds):
    # North = c1, c3: d1 won, d2 lost, d7 won, d10 won -> 3/4
    north = A.win_rate(store, Scope(deals_ds, *Q1, regions=("North",))).row(0, named=True)
    assert (north["won"], north["lost"], north["win_rate"]) == (3, 1, 0.75)
    empty = A.win_rate(store, Scope(deals_ds, date(2030, 1, 1), date(2030, 1, 31))).to_dicts()
    assert empty == [{"won": 0, "lost": 0, "closed": 0, "win_rate": None, "won_amount": 0.0}]


def test_win_rate_open_window_keeps_every_closed_deal(store, deals_ds):
    # All history: won d1, d3, d4, d7, d8, d10 = 6; lost d2, d6, d9 = 3 -> 6/9
    out = A.win_rate(store, Scope(deals_ds)).row(0, named=True)
    assert (out["won"], out["lost"]) == (6, 3)


def test_sales_cycle_by_hand(store, deals_ds):
    out = A.sales_cycle(store, Scope(deals_ds, *Q1)).row(0, named=True)
    # won in Q1 with both dates: d1 70, d3 30, d7 31 days (2024-02-29 -> 03-31); d10 unmeasured
    # mean = 131/3; median = 31; p90 (linear, type 7): sorted 30, 31, 70, h = 0.9·2 = 1.8
    #   -> 31 + 0.8·(70 − 31) = 62.2
    assert out["n"] == 3 and out["unmeasured"] == 1
    assert out["mean_days"] == pytest.approx(131 / 3)
    assert out["median_days"] == pytest.approx(31.0)
    assert out["p90_days"] == pytest.approx(62.2)


def test_sales_cycle_by_owner(store, deals_ds):
    out = A.sales_cycle(store, Scope(deals_ds, *Q1), by="owner")
    assert out.select("owner", "n", "mean_days", "unmeasured").to_dicts() == [
        {"owner": "Ann", "n": 1, "mean_days": 70.0, "unmeasured": 0},
        {"owner": "Bob", "n": 1, "mean_days": 30.0, "unmeasured": 0},
        {"owner": "Cid", "n": 1, "mean_days": 31.0, "unmeasured": 1},
    ]
    empty = A.sales_cycle(store, Scope(deals_ds, date(2030, 1, 1), date(2030, 1, 31))).row(0, named=True)
    assert empty["n"] == 0 and empty["mean_days"] is None


_PROPERTY_STORE: list[Store] = []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statuses=st.lists(st.sampled_from(["open", "won", "lost"]), min_size=1, max_size=25))
def test_win_rate_is_won_over_closed(statuses):
    if not _PROPERTY_STORE:
        _PROPERTY_STORE.append(Store(":memory:"))
    store = _PROPERTY_STORE[0]
    frame = pl.DataFrame(
        [(f"d{i}", "c1", "Ann", ts("2024-01-01"), None if s == "open" else ts("2024-02-01"), s, 1.0, "x")
         for i, s in enumerate(statuses)],
        schema=DEAL_SCHEMA,
        orient="row",
    )
    ds = load(store, deals=frame)
    out = A.win_rate(store, Scope(ds)).row(0, named=True)
    won, lost = statuses.count("won"), statuses.count("lost")
    assert (out["won"], out["lost"]) == (won, lost)
    if won + lost:
        assert 0 <= out["win_rate"] <= 1
        assert out["win_rate"] == pytest.approx(won / (won + lost))
    else:
        assert out["win_rate"] is None


# ---------------------------------------------------------------- penetration and efficiency

BASKETS = tx([
    # c1: Footwear, Apparel -> 2 categories; Boot, Jacket -> 2 products
    ("c1", "2024-01-05", 100, "Footwear", "Boot", "Web"),
    ("c1", "2024-01-06", 50, "Apparel", "Jacket", "Web"),
    ("c1", "2024-02-06", 100, "Footwear", "Boot", "Store"),
    ("c1", "2024-02-07", 80, "Accessories", "Lamp", "Web", "refunded"),  # refunded: not counted
    # c2: Camping -> 1 category; Tent, Stove -> 2 products
    ("c2", "2024-01-10", 300, "Camping", "Tent", "Store"),
    ("c2", "2024-01-11", 40, "Camping", "Stove", "Store"),
    # c3: Footwear, Camping, Climbing -> 3 categories, 3 products
    ("c3", "2024-01-12", 120, "Footwear", "Boot", "Web"),
    ("c3", "2024-02-12", 300, "Camping", "Tent", "Web"),
    ("c3", "2024-03-12", 90, "Climbing", "Rope", "Web"),
    # c4: Apparel -> 1 category, 1 product
    ("c4", "2024-03-01", 60, "Apparel", "Shell", "Web"),
    # c5: a purchase without category or product, and one outside the window
    ("c5", "2024-01-20", 40, None, None, "Web"),
    ("c5", "2023-06-01", 500, "Climbing", "Harness", "Web"),
])


def test_penetration_by_hand(store):
    ds = load(store, customers=CUSTOMERS, transactions=BASKETS)
    out = A.penetration(store, Scope(ds, *Q1))
    # buyers in Q1: c1–c5 = 5; with a category: c1–c4 = 4
    # categories per customer = (2 + 1 + 3 + 1)/4 = 1.75; cross-sell = c1, c3 of 4 = 0.5
    # products per customer = (2 + 2 + 3 + 1)/4 = 2.0; categories sold: Footwear, Apparel, Camping,
    # Climbing = 4 (Accessories was refunded, Climbing of c5 was in 2023 but c3 bought Climbing)
    assert out == {
        "customers": 5,
        "customers_with_category": 4,
        "categories_per_customer": pytest.approx(1.75),
        "cross_sell_rate": pytest.approx(0.5),
        "customers_with_product": 4,
        "products_per_customer": pytest.approx(2.0),
        "categories": 4,
    }


def test_penetration_filters_and_empty(store):
    ds = load(store, customers=CUSTOMERS, transactions=BASKETS)
    # Store channel only: c1 Footwear (1), c2 Camping (1) -> 1.0, cross-sell 0
    store_only = A.penetration(store, Scope(ds, *Q1, channels=("Store",)))
    assert (store_only["customers"], store_only["categories_per_customer"], store_only["cross_sell_rate"]) == (
        2, 1.0, 0.0
    )
    empty = A.penetration(store, Scope(ds, date(2030, 1, 1), date(2030, 1, 31)))
    assert empty["customers"] == 0 and empty["categories_per_customer"] is None and empty["cross_sell_rate"] is None


COSTS = pl.DataFrame({"customer_id": ["c1", "c2", "c3", "c9"], "cost_to_serve": [10.0, 20.0, 30.0, 40.0]})


def test_efficiency_with_cost_frame(store):
    ds = load(store, customers=CUSTOMERS, transactions=BASKETS)
    out = A.efficiency(store, Scope(ds, *Q1), COSTS)
    # Q1 revenue (completed): c1 250, c2 340, c3 510, c4 60, c5 40 = 1200 over 5 buyers
    # cost to serve = 10 + 20 + 30 + 40 (c9 is served without buying) = 100 -> 100/1200
    assert out == {
        "revenue": pytest.approx(1200.0),
        "customers": 5,
        "revenue_per_customer": pytest.approx(240.0),
        "cost_to_serve": pytest.approx(100.0),
        "costed_customers": 4,
        "cost_per_revenue": pytest.approx(100 / 1200),
    }


def test_efficiency_region_filter(store):
    ds = load(store, customers=CUSTOMERS, transactions=BASKETS)
    out = A.efficiency(store, Scope(ds, *Q1, regions=("North",)), COSTS)
    # North = c1, c3, c5, c9: revenue 250 + 510 + 40 = 800 over 3 buyers; cost 10 + 30 + 40 = 80
    assert out["revenue"] == pytest.approx(800.0) and out["customers"] == 3
    assert out["cost_to_serve"] == pytest.approx(80.0)
    assert out["cost_per_revenue"] == pytest.approx(0.1)


def test_efficiency_without_costs_and_bad_frames(store):
    ds = load(store, customers=CUSTOMERS, transactions=BASKETS)
    out = A.efficiency(store, Scope(ds, *Q1))
    assert out["revenue_per_customer"] == pytest.approx(240.0)
    assert out["cost_to_serve"] is None and out["cost_per_revenue"] is None
    empty = A.efficiency(store, Scope(ds, date(2030, 1, 1), date(2030, 1, 31)), COSTS)
    assert empty["revenue"] == 0.0 and empty["revenue_per_customer"] is None and empty["cost_per_revenue"] is None
    with pytest.raises(ValueError, match="cost_to_serve"):
        A.efficiency(store, Scope(ds), pl.DataFrame({"customer_id": ["c1"], "cost": [1.0]}))
    with pytest.raises(ValueError, match="one row per"):
        A.efficiency(store, Scope(ds), pl.DataFrame({"customer_id": ["c1", "c1"], "cost_to_serve": [1.0, 2.0]}))


# ---------------------------------------------------------------- sample company



def test_sample_company_runs(sample):
    store, ds = sample
    overall = A.win_rate(store, Scope(ds)).row(0, named=True)
    assert 0.15 <= overall["win_rate"] <= 0.5
    for scope in (Scope(ds), Scope(ds, date(2025, 1, 1), date(2025, 12, 31), regions=("Europe",))):
        for by in (None, *A.DEAL_BREAKDOWNS):
            rates = A.win_rate(store, scope, by=by)
            assert rates["win_rate"].drop_nulls().is_between(0, 1).all()
            cycle = A.sales_cycle(store, scope, by=by)
            assert (cycle["median_days"].drop_nulls() >= 0).all()
        for period in ("month", "quarter"):
            new = A.new_customers(store, scope, period)
            assert new["period"].is_unique().all()
        pen = A.penetration(store, scope)
        assert 0 <= pen["cross_sell_rate"] <= 1 and pen["categories_per_customer"] >= 1
        facts = store.query(
            "SELECT customer_id, 5.0 AS cost_to_serve FROM customer_facts WHERE dataset_id = $d", {"d": ds}
        )
        eff = A.efficiency(store, scope, facts)
        assert eff["cost_per_revenue"] > 0 and eff["revenue_per_customer"] > 0
    # every customer with a purchase is new in exactly one month of the open window
    buyers = store.scalar(
        "SELECT COUNT(*) FROM customer_facts WHERE dataset_id = ? AND first_purchase IS NOT NULL", [ds]
    )
    assert A.new_customers(store, Scope(ds), "month")["new_customers"].sum() == buyers
