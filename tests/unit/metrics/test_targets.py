"""KPI targets per dataset and period kind: stored, replaced, validated, deleted with their dataset."""

from __future__ import annotations

import pytest

from crm_core.metrics import targets


def test_set_and_get_targets_per_dataset_and_period(store):
    a, b = store.create_dataset("a"), store.create_dataset("b")
    saved = targets.set_targets(store, a, "quarter", {"revenue": 2_500_000, "retention_rate": 0.8, "nps": None})
    assert saved == {"revenue": 2_500_000.0, "retention_rate": 0.8}
    assert targets.get_targets(store, a, "quarter") == saved
    assert targets.get_targets(store, a, "month") == {}
    assert targets.get_targets(store, b, "quarter") == {}
    frame = targets.targets_frame(store, a, "quarter")
    assert frame["metric_id"].to_list() == list(targets.REVIEW_METRICS)
    assert dict(zip(frame["metric_id"], frame["target"]))["retention_rate"] == 0.8
    assert frame.filter(frame["metric_id"] == "nps")["target"][0] is None


def test_saving_again_replaces_the_period_kind(store):
    a = store.create_dataset("a")
    targets.set_targets(store, a, "quarter", {"revenue": 100, "nps": 30})
    targets.set_targets(store, a, "month", {"revenue": 40})
    targets.set_targets(store, a, "quarter", {"nps": 35})
    assert targets.get_targets(store, a, "quarter") == {"nps": 35.0}
    assert targets.get_targets(store, a, "month") == {"revenue": 40.0}


@pytest.mark.parametrize(("values", "message"), [
    ({"retention_rate": 85}, "between 0 and 1"),
    ({"nps": 150}, "-100 to 100"),
    ({"revenue": -5}, "0 or more"),
    ({"revenue": "lots"}, "must be a number"),
    ({"happiness": 1}, "no metric"),
])
def test_bad_targets_are_refused_and_nothing_is_saved(store, values, message):
    a = store.create_dataset("a")
    targets.set_targets(store, a, "quarter", {"revenue": 10})
    with pytest.raises(targets.TargetError, match=message):
        targets.set_targets(store, a, "quarter", values)
    assert targets.get_targets(store, a, "quarter") == {"revenue": 10.0}


def test_unknown_period_kind_and_dataset(store):
    with pytest.raises(targets.TargetError, match="per month"):
        targets.get_targets(store, 1, "fortnight")
    with pytest.raises(targets.TargetError, match="no dataset"):
        targets.set_targets(store, 99, "quarter", {"revenue": 1})


def test_targets_go_with_their_dataset(store):
    a = store.create_dataset("a")
    targets.set_targets(store, a, "year", {"revenue": 1})
    store.delete_dataset(a)
    assert store.scalar("SELECT COUNT(*) FROM targets") == 0


@pytest.mark.parametrize(("metric", "value", "target", "status"), [
    ("revenue", 110, 100, "met"), ("revenue", 90, 100, "missed"),
    ("churn_rate", 0.1, 0.15, "met"), ("churn_rate", 0.2, 0.15, "missed"),
    ("top20_revenue_share", 0.79, 0.8, "met"), ("top20_revenue_share", 0.6, 0.8, "missed"),
    ("revenue", None, 100, None), ("revenue", 100, None, None),
])
def test_target_status_follows_the_better_direction(metric, value, target, status):
    assert targets.target_status(metric, value, target) == status
