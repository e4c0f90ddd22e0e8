"""The catalog describes every metric completely, and holds the headline KPIs the CLI and pages use."""

from __future__ import annotations

import pytest

from crm_core.metrics import catalog as cat

HEADLINE = (  # issue #3: python -m crm_core metrics keys its JSON by these ids
    "customers", "active_customers", "revenue", "repeat_rate", "churn_rate", "nps", "csat", "avg_clv",
    "cost_to_serve_per_customer", "top20_revenue_share",
)


def test_every_metric_is_complete_and_valid():
    metrics = cat.catalog()
    assert len(metrics) >= 30
    for m in metrics.values():
        assert m.label and m.definition.endswith(".") and m.formula
        assert m.unit in cat.UNITS and m.better in cat.BETTER
        assert m.stages and all(s.split(": ", 1)[0] in cat.models() for s in m.stages)


@pytest.mark.parametrize("metric_id", HEADLINE)
def test_headline_kpis_are_in_the_catalog(metric_id):
    assert cat.metric(metric_id).help.startswith(cat.metric(metric_id).definition)


def test_every_model_has_metrics():
    for model in cat.models():
        assert any(s.startswith(model + ": ") for m in cat.catalog().values() for s in m.stages), model


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(KeyError, match="no metric"):
        cat.metric("happiness")
