"""Segment features: one row per buying customer, from the same facts, CLV and channel mix as elsewhere."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from crm_core.metrics import facts
from crm_core.metrics.differentiate import segment, segment_features
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("diff") / "x.duckdb")
    s.load_sample(customers=500, seed=3)
    yield s
    s.close()


def test_features_match_the_windowed_facts(sample_store):
    scope = Scope(sample_store.dataset_id(sample_store.datasets()["name"][0]), start=date(2025, 1, 1), end=date(2025, 12, 31))
    feats = segment_features(sample_store, scope)
    per_customer = facts.customer_facts(sample_store, scope).filter(pl.col("purchases") > 0)
    assert feats.height == per_customer.height and feats["customer_id"].is_unique().all()
    joined = feats.join(per_customer, on="customer_id")
    assert (joined["frequency"] == joined["purchases"].cast(pl.Float64)).all()
    assert (joined["monetary"] == joined["revenue"]).all()
    assert "clv" in feats.columns and feats["clv"].null_count() < feats.height
    shares = [c for c in feats.columns if c.startswith("share_")]
    assert shares and (feats.select(pl.sum_horizontal(shares).alias("total"))["total"] - 1.0).abs().max() < 1e-9


def test_segment_sizes_sum_to_buyers(sample_store):
    scope = Scope(int(sample_store.datasets()["dataset_id"][0]))
    model = segment(sample_store, scope, k=3)
    assert model.profile_["customers"].sum() == segment_features(sample_store, scope).height


def test_without_enough_history_segments_are_built_without_clv(tmp_path):
    s = Store(tmp_path / "y.duckdb")
    tx = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "occurred_at": [datetime(2024, 1, d) for d in (1, 2, 3, 4)],
        "amount": [10.0, 20.0, 30.0, 40.0],
    })
    s.load("t", [TableLoad("transactions", tx, "t.csv")])
    feats = segment_features(s, Scope(s.dataset_id("t")))
    assert "clv" not in feats.columns and feats.height == 4  # one purchase each: BG/NBD cannot be fitted


def test_clv_tiers_split_20_60_20_by_rank():
    from crm_core.metrics.differentiate import CLV_TIERS, clv_tiers

    # 10 customers with CLV 10, 9, …, 1 (c01 best): round(0.2 × 10) = 2 in the top tier, 2 in the bottom;
    # c05 and c06 tie at 6.0: the tie is broken by customer_id, so c05 ranks first
    frame = pl.DataFrame({"customer_id": [f"c{i:02d}" for i in range(1, 11)],
                          "clv": [10.0, 9.0, 8.0, 7.0, 6.0, 6.0, 4.0, 3.0, 2.0, 1.0]})
    tiers = dict(zip(*clv_tiers(frame.reverse()).select("customer_id", "clv_tier")))
    assert [tiers[f"c{i:02d}"] for i in (1, 2)] == [CLV_TIERS[0]] * 2
    assert [tiers[f"c{i:02d}"] for i in range(3, 9)] == [CLV_TIERS[1]] * 6
    assert [tiers[f"c{i:02d}"] for i in (9, 10)] == [CLV_TIERS[2]] * 2


def test_segment_report_on_the_sample(sample_store):
    from crm_core.metrics.differentiate import segment_report

    scope = Scope(int(sample_store.datasets()["dataset_id"][0]))
    report = segment_report(sample_store, scope, k=3)
    assert report["k"] == 3 and report["profile"]["customers"].sum() == report["customers"]
    assert report["members"].height == report["customers"]
    assert report["tiers"]["customers"].sum() == report["members"]["clv"].drop_nulls().len()
    assert report["intensity"]["customers"].sum() == report["customers"]
