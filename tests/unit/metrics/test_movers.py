"""Movers: each group's change between two periods and its contribution to the total change, checked against a
hand computation on four customers, and against the headline retention of crm_core.metrics.retention."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from crm_core.metrics import movers, retention
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad

# Four customers; previous period March 2024, current April 2024; churn window L = 30 days.
#   A North SMB   Feb 20 Online 100, Mar 10 Online 50, Apr 15 Store 70
#   B North Ent   Feb 25 Phone 200,  Mar 20 Phone 100
#   C South SMB   Mar 5 Online 30
#   D South Ent   Feb 10 Store 60,   Apr 2 Store 80
#   E South SMB   Apr 30 Online 10 (new: in no retention base; makes April 30 the data's last day)
# Hand computation:
#   revenue March 180 (A 50, B 100, C 30), April 160 (A 70, D 80, E 10): -20
#   retention March: base active on Mar 1 = {A, B, D}, retained (bought Mar 2..31) = {A, B} -> 2/3
#   retention April: base active on Apr 1 = {A, B, C}, retained (bought Apr 1..30) = {A}    -> 1/3
ROWS = [
    ("A", "2024-02-20", 100, "Online"), ("A", "2024-03-10", 50, "Online"), ("A", "2024-04-15", 70, "Store"),
    ("B", "2024-02-25", 200, "Phone"), ("B", "2024-03-20", 100, "Phone"),
    ("C", "2024-03-05", 30, "Online"),
    ("D", "2024-02-10", 60, "Store"), ("D", "2024-04-02", 80, "Store"),
    ("E", "2024-04-30", 10, "Online"),
]
PEOPLE = {"A": ("North", "SMB"), "B": ("North", "Ent"), "C": ("South", "SMB"), "D": ("South", "Ent"),
          "E": ("South", "SMB")}
PERIODS = movers.MoverPeriods(date(2024, 4, 1), date(2024, 4, 30), date(2024, 3, 1), date(2024, 3, 31), 30)


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("movers") / "m.duckdb")
    tx = pl.DataFrame({
        "customer_id": [r[0] for r in ROWS],
        "occurred_at": [datetime.fromisoformat(r[1]).replace(hour=12) for r in ROWS],
        "amount": [float(r[2]) for r in ROWS],
        "channel": [r[3] for r in ROWS],
        "status": ["completed"] * len(ROWS),
    })
    customers = pl.DataFrame({"customer_id": list(PEOPLE), "region": [v[0] for v in PEOPLE.values()],
                              "segment": [v[1] for v in PEOPLE.values()]})
    s.load("m", [TableLoad("transactions", tx, "t.csv"), TableLoad("customers", customers, "c.csv")])
    yield s, Scope(s.dataset_id("m"))
    s.close()


def _row(frame, dimension, group, metric):
    rows = frame.filter((pl.col("dimension") == dimension) & (pl.col("group") == group)
                        & (pl.col("metric_id") == metric)).to_dicts()
    assert len(rows) == 1, (dimension, group, metric)
    return rows[0]


def test_revenue_movers_match_the_hand_computation(four):
    store, scope = four
    m = movers.movers(store, scope, PERIODS)
    north, south = _row(m, "region", "North", "revenue"), _row(m, "region", "South", "revenue")
    assert (north["previous"], north["current"], north["contribution"]) == (150, 70, -80)
    assert (south["previous"], south["current"], south["contribution"]) == (30, 90, 60)
    assert north["total_change"] == pytest.approx(-20)
    assert north["share_of_change"] == pytest.approx(80 / 20)
    assert _row(m, "channel", "Store", "revenue")["contribution"] == 150
    assert _row(m, "channel", "Phone", "revenue")["contribution"] == -100
    assert _row(m, "channel", "Online", "revenue")["contribution"] == -70
    assert _row(m, "segment", "SMB", "revenue")["contribution"] == 0
    assert _row(m, "region_segment", "North · SMB", "revenue")["current"] == 70


def test_retention_contributions_add_up_to_the_change(four):
    store, scope = four
    m = movers.movers(store, scope, PERIODS)
    north = _row(m, "region", "North", "retention_rate")
    assert (north["previous"], north["current"]) == (pytest.approx(1.0), pytest.approx(0.5))
    assert north["contribution"] == pytest.approx(-1 / 3)
    assert north["share_of_change"] == pytest.approx(1.0)
    assert _row(m, "region", "South", "retention_rate")["contribution"] == pytest.approx(0.0)
    # channel of a base customer = channel of their last purchase before the period start
    assert _row(m, "channel", "Phone", "retention_rate")["contribution"] == pytest.approx(-1 / 3)
    assert _row(m, "channel", "Online", "retention_rate")["contribution"] == pytest.approx(0.0)
    sums = m.filter(pl.col("metric_id") == "retention_rate").group_by("dimension").agg(
        pl.col("contribution").sum(), pl.col("total_change").first())
    for r in sums.to_dicts():
        assert r["contribution"] == pytest.approx(-1 / 3), r["dimension"]
        assert r["total_change"] == pytest.approx(-1 / 3)


def test_totals_agree_with_the_churn_metric(four):
    store, scope = four
    m = movers.movers(store, scope, PERIODS)
    row = _row(m, "segment", "SMB", "retention_rate")
    now = retention.churn(store, scope.with_window(date(2024, 4, 1), date(2024, 4, 30)), 30)
    before = retention.churn(store, scope.with_window(date(2024, 3, 1), date(2024, 3, 31)), 30)
    assert row["total_current"] == pytest.approx(1 - now.churn_rate)
    assert row["total_previous"] == pytest.approx(1 - before.churn_rate)


def test_customers_and_filters(four):
    store, scope = four
    m = movers.movers(store, scope, PERIODS)
    assert _row(m, "segment", "SMB", "customers")["previous"] == 2  # A, C bought in March
    assert _row(m, "segment", "SMB", "customers")["current"] == 2  # A, E bought in April
    assert _row(m, "segment", "Ent", "customers")["current"] == 1  # only D bought in April
    north_only = movers.movers(store, Scope(scope.dataset_id, regions=("North",)), PERIODS)
    assert set(north_only.filter(pl.col("dimension") == "region")["group"].to_list()) == {"North"}


def test_top_movers_orders_by_size_and_direction(four):
    store, scope = four
    m = movers.movers(store, scope, PERIODS)
    top = movers.top_movers(m, "revenue", n=2)
    assert top["contribution"].to_list() == [150, -100]
    falls = movers.top_movers(m, "revenue", n=5, direction=-1)
    assert (falls["contribution"] < 0).all()


def test_no_purchases_gives_an_empty_frame(store):
    ds = store.create_dataset("empty")
    assert movers.movers(store, Scope(ds), PERIODS).is_empty()


def test_inactivity_must_be_positive(four):
    store, scope = four
    bad = movers.MoverPeriods(date(2024, 4, 1), date(2024, 4, 30), date(2024, 3, 1), date(2024, 3, 31), 0)
    with pytest.raises(ValueError, match="at least 1"):
        movers.movers(store, scope, bad)
