"""Cost rates, activity-based cost to serve, cost_by and the whale curve, checked by hand.

Source of every expected number: hand computation on the three-customer fixture below with the custom
RATES (arithmetic in the comments), or on the whale-curve example of the brief.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl
from polars.testing import assert_frame_equal
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.metrics import cost
from crm_core.metrics.cost import CostRatesError, WhaleCurve
from crm_core.metrics.scope import Scope
from crm_core.store import Store, StoreError, TableLoad

# ------------------------------------------------------------------------------------------------ fixture
# Customers a (EU, SMB, Ann), b (US, Enterprise, Bob), c (EU, SMB, Bob).
# a: completed 2024-01-10 100 (cost 60, discount 10, Web); completed 2024-02-15 50 (cost 30, Web);
#    refunded 2024-03-01 40 (cost 25, Web);
#    call 2024-01-11 10 min; "EMAIL" 2024-02-16 no duration; ticket 2024-03-02 30 min.
# b: completed 2024-01-20 300 (cost 200, discount 30, Store); completed 2024-03-10 80 (no cost, Store);
#    cancelled 2024-03-12 20 (Store);
#    meeting 2024-01-05 60 min (explicit cost 0); "Visit" 2024-03-11 120 min + 150 travel; "fax" 2024-02-01 5 min.
# c: completed 2024-02-01 10 (cost 4, Web); chat 2024-02-02 4 min.
# Feedback: a nps 9 on 2024-01-15 and nps 3 / csat 2 on 2024-04-01; b csat 5 on 2024-02-20.

RATES = pl.DataFrame(
    {
        "pool": ["call", "call", "email", "email", "meeting", "meeting", "visit", "visit", "chat", "chat",
                 "ticket", "ticket", "other", "other", "order", "return"],
        "unit": ["per_contact", "per_minute"] * 7 + ["per_order", "per_return"],
        "rate": [1.0, 0.5, 0.2, 0.5, 10.0, 1.0, 20.0, 1.0, 0.5, 0.25, 3.0, 0.5, 2.0, 0.5, 4.0, 12.0],
    }
)

# Hand computation with RATES, all time:
# a: call 1x1 + 10x0.5 = 6; email 1x0.2 + 0x0.5 = 0.2; ticket 1x3 + 30x0.5 = 18;
#    order 2 completed x 4 = 8; return 1 refunded x 12 = 12          -> cost to serve 44.2
#    revenue 100 + 50 = 150; cogs 60 + 30 = 90; gross margin 60; net profit 60 - 44.2 = 15.8
# b: meeting 10 + 60x1 + 0 = 70; visit 20 + 120x1 + 150 = 290; other (fax) 2 + 5x0.5 = 4.5;
#    order 2 x 4 = 8; no return                                        -> cost to serve 372.5
#    revenue 300 + 80 = 380; cogs 200 (the 80 order has no cost); gross 180; net 180 - 372.5 = -192.5
# c: chat 0.5 + 4x0.25 = 1.5; order 1 x 4 = 4                          -> cost to serve 5.5
#    revenue 10; cogs 4; gross 6; net 6 - 5.5 = 0.5
EXPECTED = {
    "a": dict(cost_call=6.0, cost_email=0.2, cost_meeting=0.0, cost_visit=0.0, cost_chat=0.0, cost_ticket=18.0,
              cost_other=0.0, cost_order=8.0, cost_return=12.0, cost_to_serve=44.2, discounts=10.0,
              revenue=150.0, cogs=90.0, gross_margin=60.0, net_profit=15.8),
    "b": dict(cost_call=0.0, cost_email=0.0, cost_meeting=70.0, cost_visit=290.0, cost_chat=0.0, cost_ticket=0.0,
              cost_other=4.5, cost_order=8.0, cost_return=0.0, cost_to_serve=372.5, discounts=30.0,
              revenue=380.0, cogs=200.0, gross_margin=180.0, net_profit=-192.5),
    "c": dict(cost_call=0.0, cost_email=0.0, cost_meeting=0.0, cost_visit=0.0, cost_chat=1.5, cost_ticket=0.0,
              cost_other=0.0, cost_order=4.0, cost_return=0.0, cost_to_serve=5.5, discounts=0.0,
              revenue=10.0, cogs=4.0, gross_margin=6.0, net_profit=0.5),
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def load_fixture(store: Store) -> int:
    """Load the three-customer fixture as dataset "cost" and return its id (default rates)."""
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "region": ["EU", "US", "EU"],
            "segment": ["SMB", "Enterprise", "SMB"],
            "owner": ["Ann", "Bob", "Bob"],
            "created_at": [_ts("2023-12-01"), _ts("2023-12-01"), _ts("2024-01-25")],
        }
    )
    transactions = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "b", "c"],
            "occurred_at": [_ts(d) for d in ("2024-01-10T10:00", "2024-02-15T09:00", "2024-03-01T12:00",
                                             "2024-01-20T11:00", "2024-03-10T15:00", "2024-03-12T10:00",
                                             "2024-02-01T16:00")],
            "amount": [100.0, 50.0, 40.0, 300.0, 80.0, 20.0, 10.0],
            "cost": [60.0, 30.0, 25.0, 200.0, None, None, 4.0],
            "discount": [10.0, 0.0, None, 30.0, None, None, None],
            "channel": ["Web", "Web", "Web", "Store", "Store", "Store", "Web"],
            "status": ["completed", "completed", "refunded", "completed", "completed", "cancelled", "completed"],
        }
    )
    interactions = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "b", "c"],
            "occurred_at": [_ts(d) for d in ("2024-01-11", "2024-02-16", "2024-03-02", "2024-01-05", "2024-03-11",
                                             "2024-02-01", "2024-02-02")],
            "kind": ["call", "EMAIL", "ticket", "meeting", "Visit", "fax", "chat"],
            "duration_minutes": [10.0, None, 30.0, 60.0, 120.0, 5.0, 4.0],
            "cost": [None, None, None, 0.0, 150.0, None, None],
        }
    )
    feedback = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "responded_at": [_ts("2024-01-15"), _ts("2024-04-01"), _ts("2024-02-20")],
            "nps": [9, 3, None],
            "csat": [None, 2, 5],
        },
        schema_overrides={"nps": pl.Int64, "csat": pl.Int64},
    )
    result = store.load(
        "cost",
        [
            TableLoad("customers", customers, "c.csv"),
            TableLoad("transactions", transactions, "t.csv"),
            TableLoad("interactions", interactions, "i.csv"),
            TableLoad("feedback", feedback, "f.csv"),
        ],
    )
    return result.dataset_id



@pytest.fixture
def ds(store) -> int:
    dataset_id = load_fixture(store)
    cost.set_rates(store, dataset_id, RATES)
    return dataset_id


def by_customer(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["customer_id"]: r for r in frame.to_dicts()}


# ------------------------------------------------------------------------------------------------ rates


def test_default_rates_cover_every_pool_and_unit_once():
    rates = cost.default_rates()
    keys = sorted(zip(rates["pool"], rates["unit"], strict=True))
    assert keys == sorted((p, u) for p in cost.POOLS for u in cost.UNITS[p])
    assert rates["rate"].min() >= 0


def test_get_rates_falls_back_to_defaults_per_pool_and_unit(store):
    dataset_id = load_fixture(store)
    defaults = cost.default_rates()
    assert cost.get_rates(store, dataset_id).select("pool", "unit", "rate").equals(defaults)
    cost.set_rates(store, dataset_id, pl.DataFrame({"pool": ["Call"], "unit": ["per_minute"], "rate": [2.5]}))
    got = cost.get_rates(store, dataset_id)
    expected = defaults.with_columns(
        rate=pl.when((pl.col("pool") == "call") & (pl.col("unit") == "per_minute")).then(2.5).otherwise("rate")
    )
    assert got.select("pool", "unit", "rate").equals(expected)
    assert got["default_rate"].equals(defaults["rate"].alias("default_rate"))


def test_stored_facts_use_default_rates_after_import(store):
    dataset_id = load_fixture(store)
    facts = by_customer(store.table("customer_facts", dataset_id))
    # Defaults (cost_rates.yaml): call 0.50 + 0.80/min, email 0.30 + 0.80/min, ticket 2.00 + 0.80/min,
    # order 5.00, return 15.00. a: call 0.5 + 10x0.8 = 8.5; email 0.3; ticket 2 + 30x0.8 = 26;
    # orders 2x5 = 10; return 15 -> 59.8; net profit 150 - 90 - 59.8 = 0.2
    assert facts["a"]["cost_to_serve"] == pytest.approx(59.8)
    assert facts["a"]["net_profit"] == pytest.approx(0.2)


def test_set_rates_rebuilds_stored_facts(ds, store):
    # The stored facts cover the purchase span 2024-01-10 .. 2024-03-12 (the default analysis window):
    # b's meeting of 2024-01-05 (70) falls before it -> b 372.5 - 70 = 302.5, net -192.5 + 70 = -122.5.
    facts = by_customer(store.table("customer_facts", ds))
    in_span = {"a": (44.2, 15.8), "b": (302.5, -122.5), "c": (5.5, 0.5)}
    for cid, (cost_to_serve, net_profit) in in_span.items():
        assert facts[cid]["cost_to_serve"] == pytest.approx(cost_to_serve)
        assert facts[cid]["net_profit"] == pytest.approx(net_profit)
    # Doubling the order rate to 8 adds 2 orders x 4 = 8 to a: 44.2 + 8 = 52.2
    cost.set_rates(store, ds, RATES.with_columns(
        rate=pl.when(pl.col("pool") == "order").then(8.0).otherwise("rate")
    ))
    assert by_customer(store.table("customer_facts", ds))["a"]["cost_to_serve"] == pytest.approx(52.2)


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        (pl.DataFrame({"pool": ["call"], "unit": ["per_minute"], "rate": [-1.0]}), "negative"),
        (pl.DataFrame({"pool": ["call"], "unit": ["per_minute"], "rate": ["abc"]}), "not a number"),
        (pl.DataFrame({"pool": ["call"], "unit": ["per_minute"], "rate": [float("nan")]}), "not a number"),
        (pl.DataFrame({"pool": ["call"], "unit": ["per_minute"], "rate": [None]}, schema_overrides={"rate": pl.Float64}),
         "not a number"),
        (pl.DataFrame({"pool": ["order"], "unit": ["per_minute"], "rate": [1.0]}), "has no unit"),
        (pl.DataFrame({"pool": ["fax"], "unit": ["per_contact"], "rate": [1.0]}), "unknown pool"),
        (pl.DataFrame({"pool": ["call", "CALL"], "unit": ["per_minute"] * 2, "rate": [1.0, 2.0]}), "twice"),
        (pl.DataFrame({"pool": ["call"], "rate": [1.0]}), "missing: unit"),
    ],
)
def test_bad_rates_are_refused_and_change_nothing(ds, store, rates, message):
    before = store.snapshot()
    with pytest.raises(CostRatesError, match=message):
        cost.set_rates(store, ds, rates)
    assert store.snapshot() == before


def test_set_rates_is_one_transaction(ds, store, monkeypatch):
    # The rates are written first, then repricing the facts fails: the saved rates must roll back too.
    before = store.snapshot()

    def boom(cur, dataset_id):
        raise duckdb.Error("disk full (simulated)")

    monkeypatch.setattr(cost, "reprice_facts", boom)  # the stored facts priced at the new rates
    with pytest.raises(StoreError, match="unchanged"):
        cost.set_rates(store, ds, RATES.with_columns(rate=pl.col("rate") * 2))
    assert store.snapshot() == before
    assert cost.get_rates(store, ds)["rate"][0] == 1.0  # call per_contact still RATES' 1.0


def test_set_rates_on_unknown_dataset_is_refused(store):
    with pytest.raises(StoreError, match="no dataset"):
        cost.set_rates(store, 999, RATES)


def test_delete_dataset_removes_its_rates(ds, store):
    store.delete_dataset(ds)
    assert store.scalar("SELECT COUNT(*) FROM cost_rates") == 0


def test_old_database_gains_cost_columns_on_open(tmp_path):
    # A file written before cost to serve existed: customer_facts without the two columns.
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        dataset_id = load_fixture(s)
        s.con.execute("ALTER TABLE customer_facts DROP COLUMN cost_to_serve")
        s.con.execute("ALTER TABLE customer_facts DROP COLUMN net_profit")
    with Store(path) as s:
        facts = by_customer(s.table("customer_facts", dataset_id))
        assert len(facts) == 3 and facts["a"]["cost_to_serve"] == pytest.approx(59.8)  # default rates, as above


# ------------------------------------------------------------------------------------------------ cost to serve


def test_cost_to_serve_every_pool_by_hand(ds, store):
    frame = cost.cost_to_serve(store, Scope(ds))
    assert frame["customer_id"].to_list() == ["a", "b", "c"]
    got = by_customer(frame)
    for cid, exp in EXPECTED.items():
        for column, value in exp.items():
            assert got[cid][column] == pytest.approx(value), (cid, column)
    # contacts per pool: "EMAIL" is email, "Visit" is visit, "fax" is other (case-insensitive kinds)
    assert (got["a"]["n_email"], got["b"]["n_visit"], got["b"]["n_other"], got["c"]["n_chat"]) == (1, 1, 1, 1)
    assert (got["a"]["orders"], got["a"]["returns"], got["b"]["orders"]) == (2, 1, 2)
    assert got["a"]["main_channel"] == "Web" and got["b"]["main_channel"] == "Store"
    # the pools add up to the cost to serve
    assert frame.select(pl.sum_horizontal(cost.POOL_COLUMNS) - pl.col("cost_to_serve")).to_series().abs().max() < 1e-9


def test_cost_to_serve_in_a_window(ds, store):
    # Window 2024-02-01 .. 2024-03-05: a has the 02-15 order (50, cost 30), the 03-01 refund, the email and
    # the ticket: 0.2 + 18 + 1x4 + 1x12 = 34.2, net 50 - 30 - 34.2 = -14.2. b has only the fax: 4.5, net -4.5.
    # c has everything: 5.5, net 0.5.
    got = by_customer(cost.cost_to_serve(store, Scope(ds, start=date(2024, 2, 1), end=date(2024, 3, 5))))
    assert got["a"]["cost_to_serve"] == pytest.approx(34.2) and got["a"]["net_profit"] == pytest.approx(-14.2)
    assert got["b"]["cost_to_serve"] == pytest.approx(4.5) and got["b"]["net_profit"] == pytest.approx(-4.5)
    assert got["c"]["cost_to_serve"] == pytest.approx(5.5)
    # Window 2024-04-01 .. 2024-04-30: nobody bought or was contacted -> nobody served
    assert cost.cost_to_serve(store, Scope(ds, start=date(2024, 4, 1), end=date(2024, 4, 30))).height == 0


def test_cost_to_serve_filters(ds, store):
    assert cost.cost_to_serve(store, Scope(ds, regions=("EU",)))["customer_id"].to_list() == ["a", "c"]
    store_only = cost.cost_to_serve(store, Scope(ds, channels=("Store",)))
    assert store_only["customer_id"].to_list() == ["b"]
    assert store_only["cost_to_serve"][0] == pytest.approx(372.5)  # all of b's orders are Store orders
    # a's Web orders: the refund and both completed orders count, interactions count whole
    assert cost.cost_to_serve(store, Scope(ds, channels=("Web",), owners=("Ann",)))["cost_to_serve"].to_list() == [
        pytest.approx(44.2)
    ]


def test_cost_by_segment_and_pool(ds, store):
    scope = Scope(ds)
    total = 44.2 + 372.5 + 5.5  # 422.2
    seg = {r["segment"]: r for r in cost.cost_by(store, scope, "segment").to_dicts()}
    # SMB = a + c: cost 44.2 + 5.5 = 49.7, revenue 150 + 10 = 160, 2 customers
    assert seg["SMB"]["customers"] == 2
    assert seg["SMB"]["cost_to_serve"] == pytest.approx(49.7)
    assert seg["SMB"]["cost_per_customer"] == pytest.approx(49.7 / 2)
    assert seg["SMB"]["share"] == pytest.approx(49.7 / total)
    assert seg["SMB"]["cost_per_revenue"] == pytest.approx(49.7 / 160)
    assert seg["Enterprise"]["net_profit"] == pytest.approx(-192.5)
    assert cost.cost_by(store, scope, "segment")["segment"].to_list() == ["Enterprise", "SMB"]  # most costly first
    chan = {r["channel"]: r for r in cost.cost_by(store, scope, "channel").to_dicts()}
    assert chan["Store"]["cost_to_serve"] == pytest.approx(372.5) and chan["Web"]["customers"] == 2
    owner = {r["owner"]: r for r in cost.cost_by(store, scope, "owner").to_dicts()}
    assert owner["Bob"]["cost_to_serve"] == pytest.approx(372.5 + 5.5)
    pools = {r["pool"]: r for r in cost.cost_by(store, scope, "pool").to_dicts()}
    # order: 5 completed orders x 4 = 20; visit 290 (b only)
    assert pools["order"]["cost"] == pytest.approx(20.0) and pools["order"]["customers"] == 3
    assert pools["visit"]["cost"] == pytest.approx(290.0) and pools["visit"]["share"] == pytest.approx(290 / total)
    assert pools["visit"]["cost_per_customer"] == pytest.approx(290 / 3)
    assert pools["visit"]["cost_per_revenue"] == pytest.approx(290 / 540)  # revenue 150 + 380 + 10
    assert sum(p["cost"] for p in pools.values()) == pytest.approx(total)
    with pytest.raises(ValueError, match="by must be"):
        cost.cost_by(store, scope, "colour")
    # the served frame at hand (one scan for several breakdowns) gives the same tables
    served = cost.cost_to_serve(store, scope)
    for by in ("pool", "segment", "channel", "owner"):
        assert cost.cost_by(store, scope, by, served=served).equals(cost.cost_by(store, scope, by)), by


def test_missing_attribute_is_its_own_group(store):
    tx = pl.DataFrame({"customer_id": ["x"], "occurred_at": [_ts("2024-01-01")], "amount": [5.0]})
    dataset_id = store.load("bare", [TableLoad("transactions", tx, "t.csv")]).dataset_id
    seg = cost.cost_by(store, Scope(dataset_id), "segment")
    assert seg["segment"].to_list() == [cost.NOT_SET] and seg["cost_to_serve"][0] == pytest.approx(5.0)  # 1 order x 5


def test_customers_without_the_attribute_and_those_named_not_set_are_one_group():
    # cost_by groups the attribute as it is and names the missing values in the groups (not in a copy of every
    # customer's): the same table as grouping the attribute with its missing values filled in first, by hand here
    served = pl.DataFrame({
        "segment": ["SMB", None, "(not set)", "SMB", None, "Enterprise"],
        "cost_to_serve": [1.5, 2.0, 4.0, 0.5, 8.0, 16.0], "revenue": [10.0, 0.0, 5.0, 20.0, 0.0, 100.0],
        "gross_margin": [3.0, 0.0, 1.0, 4.0, 0.0, 50.0], "net_profit": [1.5, -2.0, -3.0, 3.5, -8.0, 34.0],
    })
    got = cost.cost_by(None, None, "segment", served=served)
    assert got.select("segment", "customers", "cost_to_serve", "revenue", "net_profit").rows() == [
        ("Enterprise", 1, 16.0, 100.0, 34.0), (cost.NOT_SET, 3, 14.0, 5.0, -13.0), ("SMB", 2, 2.0, 30.0, 5.0)]
    assert got["share"].to_list() == pytest.approx([16 / 32, 14 / 32, 2 / 32])


# ------------------------------------------------------------------------------------------------ whale curve


def test_whale_curve_hand_example():
    # Ranked 50, 30, 10, -5, -15; total 70; cumulative 50, 80, 90, 85, 70
    curve = cost.whale_curve(pl.Series([10.0, -15.0, 50.0, -5.0, 30.0]))
    assert isinstance(curve, WhaleCurve) and curve.has_shares
    assert curve.frame["customer_share"].to_list() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve.frame["cumulative_share"].to_list() == pytest.approx([50 / 70, 80 / 70, 90 / 70, 85 / 70, 1.0])
    assert curve.frame["cumulative_share"][-1] == 1.0  # exactly
    assert curve.peak_share == pytest.approx(90 / 70) and curve.peak_at == pytest.approx(3 / 5)
    assert curve.unprofitable_share == pytest.approx(2 / 5) and curve.total_profit == pytest.approx(70.0)


def test_whale_curve_without_positive_total_has_no_shares(ds, store):
    # fixture profits 15.8, -192.5, 0.5: total -176.2
    curve = cost.whale_curve(cost.cost_to_serve(store, Scope(ds))["net_profit"])
    assert not curve.has_shares and curve.peak_share is None and curve.peak_at is None
    assert curve.total_profit == pytest.approx(-176.2)
    assert curve.frame["cumulative_share"].null_count() == 3
    assert curve.frame["cumulative_profit"].to_list() == pytest.approx([15.8, 16.3, -176.2])
    assert curve.unprofitable_share == pytest.approx(1 / 3)
    empty = cost.whale_curve(pl.Series([], dtype=pl.Float64))
    assert empty.customers == 0 and not empty.has_shares and empty.unprofitable_share is None


def test_whale_curve_drops_missing_profits():
    curve = cost.whale_curve(pl.Series([3.0, None, float("nan"), 1.0]))
    assert curve.customers == 2 and curve.frame["cumulative_share"].to_list() == pytest.approx([0.75, 1.0])


def _whale_in_polars(profit: pl.Series) -> tuple[pl.DataFrame, float | None, float | None]:
    """The whale curve as whale_curve computed it in Polars before it moved to NumPy (frame, peak share, peak at),
    but for customer_share: Polars divided the ranks by n as a product with 1 / n, 1 ulp off rank / n for about a
    tenth of them; NumPy divides, as the cumulative shares always were."""
    values = profit.cast(pl.Float64).fill_nan(None).drop_nulls().sort(descending=True)
    n = values.len()
    cumulative = values.cum_sum()
    total = float(cumulative[-1]) if n else 0.0
    frame = pl.DataFrame({
        "rank": pl.int_range(1, n + 1, eager=True, dtype=pl.Int64),
        "customer_share": np.arange(1, n + 1, dtype=np.int64) / n,
        "profit": values, "cumulative_profit": cumulative,
    }).with_columns(cumulative_share=pl.Series(cumulative.to_numpy() / total, dtype=pl.Float64) if total > 0
                    else pl.lit(None, pl.Float64))
    if total <= 0:
        return frame, None, None
    i = int(frame["cumulative_share"].arg_max())
    return frame, float(frame["cumulative_share"][i]), float(frame["customer_share"][i])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whale_curve_is_the_polars_computation_and_thins_like_the_charts(seed):
    # Equal to the last double to the computation it replaced, ties and nulls included; with max_points, the
    # frame is thin_curve's of the whole one and the peak and shares stay those of every customer.
    from crm_core import charts

    rng = np.random.default_rng(seed)
    n = 20_011
    values = np.round(rng.normal(20, 80, n), 1)  # rounded: ties
    profit = pl.Series(values).scatter(rng.choice(n, 50, replace=False), None)
    if seed == 2:
        profit = -profit.abs()  # a loss overall: no shares
    expected, peak_share, peak_at = _whale_in_polars(profit)
    curve = cost.whale_curve(profit)
    assert curve.frame.equals(expected) and curve.frame.schema == expected.schema
    assert (curve.peak_share, curve.peak_at) == (peak_share, peak_at)
    thin = cost.whale_curve(profit, max_points=650)  # every 31st rank: the last is not one of them
    assert thin.frame.equals(charts.thin_curve(expected, 650)) and thin.frame.height <= 651
    assert (thin.peak_share, thin.peak_at, thin.unprofitable_share, thin.customers, thin.total_profit) == (
        curve.peak_share, curve.peak_at, curve.unprofitable_share, curve.customers, curve.total_profit)
    assert cost.whale_curve(profit, max_points=n).frame.equals(expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_whale_curve_properties(profits):
    curve = cost.whale_curve(pl.Series(profits, dtype=pl.Float64))
    f = curve.frame
    n = len(profits)
    assert curve.customers == n == f.height
    assert f["customer_share"][-1] == 1.0 and f["customer_share"][0] > 0
    assert (f["customer_share"].diff().drop_nulls() > 0).all()
    assert 0.0 <= curve.unprofitable_share <= 1.0
    assert curve.unprofitable_share == sum(p < 0 for p in profits) / n
    if curve.total_profit > 0:
        shares = f["cumulative_share"]
        assert shares[-1] == 1.0  # exactly 100 %
        assert curve.peak_share == shares.max() and curve.peak_share >= 1.0
        assert 0.0 < curve.peak_at <= 1.0
        rank_at_peak = round(curve.peak_at * n)
        rising, falling = shares[:rank_at_peak], shares[rank_at_peak - 1:]
        assert (rising.diff().drop_nulls() >= 0).all() and (falling.diff().drop_nulls() <= 0).all()
        if min(profits) >= 0:
            assert shares.min() >= 0 and math.isclose(curve.peak_share, 1.0)
    else:
        assert not curve.has_shares and f["cumulative_share"].null_count() == n


def test_new_rates_reprice_the_stored_facts_as_a_rebuild_would(ds, store):
    # set_rates prices the stored facts again from what each customer used (reprice_facts.sql); a full
    # rebuild from the transactions at the same rates (cost_pricing.sql) gives the same table, to the bit.
    cost.set_rates(store, ds, RATES.with_columns(rate=pl.col("rate") * 1.5 + 0.25))
    repriced = store.table("customer_facts", ds).sort("customer_id")
    store.rebuild_facts(ds)
    rebuilt = store.table("customer_facts", ds).sort("customer_id")
    assert_frame_equal(repriced, rebuilt, check_exact=True)
    assert repriced["cost_to_serve"].sum() > 0


def test_cost_from_the_stored_facts_equals_the_scan(ds, store):
    # The default window (and its customer filters) is priced from the stored facts; the scan of the
    # transactions and interactions gives the same frame.
    from crm_core.metrics import facts

    default = facts.default_scope(store, ds)
    for scope in (default, Scope(ds, default.start, default.end, regions=("EU",)),
                  Scope(ds, default.start, default.end, segments=("Enterprise",))):
        assert facts.reads_stored(store, scope)
        scanned = store.query(cost.cost_to_serve_sql(), cost.bind(scope, cost.cost_to_serve_sql()))
        assert_frame_equal(cost.cost_to_serve(store, scope), scanned, check_exact=False, rel_tol=1e-12)


def test_group_tables_of_stored_facts_are_their_kept_usage_sums_priced(ds, store):
    # A scope read from the stored facts prices each group's kept usage sums (cost.usage_by): the same tables as
    # adding up the scanned customers' priced rows, at the saved rates and again after new rates, whose save keeps
    # the sums (no rate enters them).
    from crm_core.metrics import facts

    default = facts.default_scope(store, ds)
    scopes = (default, Scope(ds, default.start, default.end, regions=("EU",)),
              Scope(ds, default.start, default.end, owners=("Bob",)))

    def check() -> None:
        for scope in scopes:
            assert facts.reads_stored(store, scope)
            scanned = store.query(cost.cost_to_serve_sql(), cost.bind(scope, cost.cost_to_serve_sql()))
            for by in ("segment", "region", "owner", "channel"):
                assert_frame_equal(cost.cost_by(store, scope, by), cost.cost_by(None, None, by, served=scanned),
                                   check_exact=False, rel_tol=1e-12)

    check()
    seg = {r["segment"]: r for r in cost.cost_by(store, default, "segment").to_dicts()}
    assert seg["SMB"]["cost_to_serve"] == pytest.approx(49.7) and seg["SMB"]["gross_margin"] == pytest.approx(66.0)
    kept = cost.usage_by(store, default, "segment")
    assert kept.filter(pl.col("segment") == "SMB")["customers"].item() == 2
    cost.set_rates(store, ds, RATES.with_columns(rate=pl.col("rate") * 1.5 + 0.25))
    assert cost.usage_by(store, default, "segment") is kept
    check()
    assert cost.cost_by(store, default, "segment")["cost_to_serve"].sum() > 49.7 + 372.5 + 1.0
