"""The rubrics are complete: eight QCI areas of 5–10 practices, eight Gartner blocks of five described levels,
evidence ids that exist in the catalog, and the QCI database reference lines."""

from __future__ import annotations

import copy

import pytest
import yaml

from crm_core.frameworks import rubrics
from crm_core.metrics import catalog

QCI_AREAS = ["Analysis & planning", "Proposition", "Customer management activity", "People & organisation",
             "Information & technology", "Process management", "Measurement", "Customer experience"]
GARTNER_BLOCKS = ["Vision", "Strategy", "Valued customer experience", "Organisational collaboration", "Processes",
                  "Information", "Technology", "Metrics"]


def test_qci_has_the_eight_areas_with_five_to_ten_practices():
    r = rubrics.rubric("qci")
    assert [s.name for s in r.sections] == QCI_AREAS
    assert all(5 <= len(s.items) <= 10 for s in r.sections)
    assert r.dimension_ids == ("intention", "reality") and (r.scale_min, r.scale_max) == (0, 4)
    assert r.headline == "reality" and r.other == "intention"
    cma = r.section("customer_management_activity")
    text = " ".join(i.statement for i in cma.items).lower()
    for activity in ("acquisition", "penetration", "retention", "efficiency"):
        assert activity in text
    assert {ref.id: ref.value for ref in r.references} == {"average": 0.35, "best": 0.67, "worst": 0.17}
    assert "external" in r.reference_source.lower()


def test_gartner_has_the_eight_blocks_each_with_five_levels():
    r = rubrics.rubric("gartner")
    assert [s.name for s in r.sections] == GARTNER_BLOCKS
    for s in r.sections:
        assert len(s.items) == 1 and [k for k, _ in s.items[0].levels] == [1, 2, 3, 4, 5]
        assert all(text.endswith(".") for _, text in s.items[0].levels)
    live = r.section("metrics").live
    assert [g.name for g in live] == ["Value", "Retention", "Satisfaction", "Loyalty", "Cost to serve"]
    ids = {m for g in live for m in g.metrics}
    assert {"avg_clv", "revenue_per_customer", "csat", "nps", "repeat_rate", "cost_to_serve_per_customer"} <= ids


@pytest.mark.parametrize("framework", rubrics.FRAMEWORKS)
def test_evidence_names_catalog_metrics(framework):
    r = rubrics.rubric(framework)
    assert all(s.evidence for s in r.sections)
    assert set(r.evidence_ids()) <= set(catalog.catalog())


def test_information_and_experience_evidence_as_the_issue_asks():
    r = rubrics.rubric("qci")
    assert {"data_completeness", "duplicate_rate"} <= set(r.section("information_technology").evidence)
    assert {"nps", "csat", "tickets_per_customer"} <= set(r.section("customer_experience").evidence)
    assert {"new_customers", "cross_sell_rate", "churn_rate", "cost_to_serve_ratio"} <= set(
        r.section("customer_management_activity").evidence)


def _raw(framework):
    return yaml.safe_load((rubrics.HERE / f"{framework}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("break_it, message", [
    (lambda raw: raw["areas"].pop(), "eight"),
    (lambda raw: raw["areas"][0]["practices"].__delitem__(slice(1, None)), "5 to 10"),
    (lambda raw: raw["areas"][0]["evidence"].append("happiness"), "not in crm_core/metrics/catalog.yaml"),
    (lambda raw: raw["areas"][1]["practices"][0].update(id="ap1"), "used twice"),
    (lambda raw: raw["areas"][0].pop("asks"), "missing asks"),
])
def test_a_broken_rubric_names_its_problem(break_it, message):
    raw = copy.deepcopy(_raw("qci"))
    break_it(raw)
    with pytest.raises(rubrics.RubricError, match=message):
        rubrics.parse_rubric(raw, "qci.yaml")


def test_unknown_framework():
    with pytest.raises(KeyError, match="unknown framework"):
        rubrics.rubric("balanced_scorecard")
