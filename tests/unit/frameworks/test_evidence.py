"""Live metric values for the evidence: every catalog metric the rubrics and models cite is computed, agrees with
the module that owns it, and is None (never an error) where the data cannot give it."""

from __future__ import annotations

import pytest

from crm_core import quality
from crm_core.frameworks import crm_models, evidence, rubrics
from crm_core.metrics import catalog
from crm_core.metrics.headline import headline_kpis
from crm_core.metrics.scope import Scope

from .conftest import tiny


def cited() -> set[str]:
    ids = set(rubrics.rubric("qci").evidence_ids()) | set(rubrics.rubric("gartner").evidence_ids())
    return ids | {m for model in crm_models.crm_models() for s in model.stages for m in s.metrics}


def test_every_cited_metric_can_be_computed():
    missing = sorted(m for m in cited() if not evidence.computable(m))
    assert not missing


def test_groups_yield_catalog_ids_only():
    known = set(catalog.catalog())
    for group, (_, ids) in evidence.GROUPS.items():
        assert set(ids) <= known | {"retention_rate"}, group


def test_values_on_the_sample_agree_with_their_modules(sample):
    store, ds = sample
    scope = Scope(ds)
    values = evidence.metric_values(store, scope, sorted(cited()))
    assert all(values[m] is not None for m in ("customers", "revenue", "nps", "csat", "data_completeness",
                                                "duplicate_rate", "tickets_per_customer", "win_rate", "avg_clv"))
    head = headline_kpis(store, scope, with_clv=False)
    for mid in ("customers", "revenue", "nps", "csat", "cost_to_serve_per_customer"):
        assert values[mid] == pytest.approx(head[mid])
    report = quality.kept_report(store, ds)
    assert values["data_completeness"] == pytest.approx(report.contact_completeness)
    assert values["duplicate_rate"] == pytest.approx(report.duplicate_rate)
    assert values["quality_score"] == pytest.approx(report.score) and 0 <= values["quality_score"] <= 100
    for mid, value in values.items():
        if value is not None and catalog.metric(mid).unit == "share" and mid != "whale_peak":
            assert 0 <= value <= 1, mid


def test_a_transactions_only_dataset_gives_none_not_errors(store):
    ds = tiny(store)
    values = evidence.metric_values(store, Scope(ds), sorted(cited()))
    assert values["customers"] == 2 and values["revenue"] == pytest.approx(150.0)
    for mid in ("nps", "csat", "response_rate", "win_rate", "sales_cycle_days", "tickets_per_customer",
                "interactions_per_customer", "data_completeness", "duplicate_rate", "quality_score"):
        assert values[mid] is None, mid


def test_unknown_ids_map_to_none(sample):
    store, ds = sample
    assert evidence.metric_values(store, Scope(ds), ["happiness"]) == {"happiness": None}


@pytest.mark.parametrize("mid, value, shown", [
    ("csat", 0.7041, "70.4%"), ("nps", 25.8, "+25.8"), ("customers", 2947, "2,947"),
    ("revenue_per_customer", 5289.6, "5,290 USD"), ("revenue", 15_588_574.5, "15.6M USD"),
    ("avg_order_value", 20.5, "20.50 USD"), ("sales_cycle_days", 47.98, "48 days"), ("gini", 0.77, "0.770"),
    ("tickets_per_customer", 1.0813, "1.08"), ("nps", None, "–"), ("csat", float("nan"), "–"),
    ("quality_score", 87.4, "87 / 100"),
])
def test_format_value_by_unit(mid, value, shown):
    assert evidence.format_value(mid, value, "USD") == shown
