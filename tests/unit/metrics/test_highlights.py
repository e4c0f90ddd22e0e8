"""Highlights: rule-based sentences from the numbers, each citing the figures it was written from."""

from __future__ import annotations

import polars as pl
import pytest

from crm_core.metrics import catalog
from crm_core.metrics import highlights as hl

CTX = hl.Context("Q3 2026", "Q2 2026", "EUR", True)


def kpis(**rows):
    """rows: metric_id=(current, previous[, target])."""
    return [{"metric_id": k, "current": v[0], "previous": v[1], "target": v[2] if len(v) > 2 else None}
            for k, v in rows.items()]


def movers_frame(rows):
    """rows: (dimension, group, metric_id, contribution, share_of_change)."""
    return pl.DataFrame(rows, schema={"dimension": pl.String, "group": pl.String, "metric_id": pl.String,
                                      "contribution": pl.Float64, "share_of_change": pl.Float64}, orient="row")


def test_the_issue_example_sentence_with_its_mover():
    moved = movers_frame([
        ("region_segment", "Europe · SMB", "retention_rate", -0.020, 0.645),
        ("segment", "SMB", "retention_rate", -0.015, 0.48),
        ("region", "Europe", "retention_rate", 0.004, -0.13),
    ])
    out = hl.highlights(kpis(retention_rate=(0.769, 0.800)), CTX, movers=moved)
    first = out[0]
    assert first.text == ("Retention rate fell 3.1 points against Q2 2026 (80.0% → 76.9%); most of the drop is in "
                          "the Europe · SMB region × segment (−2.0 points).")
    assert first.metric_id == "retention_rate" and first.rule == "kpi_change"
    values = [c.value for c in first.cites]
    assert values[:2] == [0.769, 0.800] and values[2] == pytest.approx(-0.020)
    assert first.cites[2].source == "Movers table: region × segment Europe · SMB"


def test_small_changes_are_not_news_and_the_steady_rule_fills_up_to_three():
    out = hl.highlights(kpis(revenue=(101.0, 100.0), retention_rate=(0.80, 0.805), nps=(30.0, 29.0)), CTX)
    assert len(out) == 3
    assert {h.rule for h in out} == {"steady"}
    assert out[0].text == "Revenue held steady at 101.00 EUR (+1.0% against Q2 2026)."


def test_bigger_changes_rank_first_and_at_most_six_are_kept():
    rows = kpis(revenue=(130_000.0, 100_000.0), active_customers=(900, 1000), retention_rate=(0.70, 0.80),
                nps=(20.0, 30.0), avg_clv=(2000.0, 1800.0), cost_to_serve_per_customer=(90.0, 80.0),
                top20_revenue_share=(0.85, 0.80))
    out = hl.highlights(rows, CTX, at_risk={"count": 12, "value": 50_000.0, "share_of_value": 0.05})
    assert len(out) == 6
    assert out[0].metric_id == "revenue"  # +30% is 6 × its 5% threshold; retention −10 points is 5 × 2 points
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    texts = " ".join(h.text for h in out)
    assert "Revenue rose 30.0% against Q2 2026 (100.0k EUR → 130.0k EUR)." in texts


def test_target_missed_and_met():
    out = hl.highlights(kpis(revenue=(90_000.0, 90_000.0, 100_000.0), nps=(31.0, 31.0, 30.0)), CTX)
    missed = next(h for h in out if h.rule == "target" and h.metric_id == "revenue")
    assert missed.text == "Revenue missed its target of 100.0k EUR in Q3 2026: 90.0k EUR, 10.0% below it."
    assert [c.value for c in missed.cites] == [90_000.0, 100_000.0]
    met = next(h for h in out if h.rule == "target" and h.metric_id == "nps")
    assert met.text == "Net Promoter Score met its target of 30.0 in Q3 2026 (31.0)."


def test_no_change_is_claimed_without_a_whole_previous_period():
    ctx = hl.Context("2023-10-01 to 2026-09-30", None, "USD", False)
    out = hl.highlights(kpis(revenue=(15e6, None), retention_rate=(0.7, None), nps=(25.0, None)), ctx)
    assert all(h.rule != "kpi_change" for h in out)
    assert out[0].text == "Revenue was 15.0M USD in 2023-10-01 to 2026-09-30."


def test_at_risk_and_concentration_sentences_cite_their_tables():
    out = hl.highlights(kpis(top20_revenue_share=(0.81, 0.81)), CTX,
                        at_risk={"count": 37, "value": 197_179.56, "share_of_value": 0.03})
    risk = next(h for h in out if h.rule == "at_risk")
    assert risk.text.startswith("37 high-value customers are probably lapsing")
    assert "197.2k EUR" in risk.text
    assert {c.source for c in risk.cites} == {"At-risk table", "At-risk table: value to date"}
    conc = next(h for h in out if h.rule == "concentration")
    assert conc.text == "The top 20% of customers brought 81.0% of revenue in Q3 2026."


def test_every_rule_names_catalog_metrics():
    spec = hl.rules()
    assert 3 <= spec["min_highlights"] <= spec["max_highlights"] <= 6
    for rule in spec["rules"]:
        for mid in rule.get("metrics", ()):
            catalog.metric(mid)


def test_formatting_by_unit():
    assert hl.format_value("revenue", 2_753_925.24, "USD") == "2.75M USD"
    assert hl.format_value("retention_rate", 0.754) == "75.4%"
    assert hl.format_value("nps", 26.72) == "26.7"
    assert hl.format_change("retention_rate", 0.754, 0.843, signed=True) == "−8.9 points"
    assert hl.format_change("revenue", 110.0, 100.0, signed=True) == "+10.0%"
    assert hl.format_change("revenue", 1.0, 0.0) == "–"


def test_highlights_frame_holds_the_citations():
    out = hl.highlights(kpis(revenue=(130.0, 100.0)), CTX)
    frame = hl.highlights_frame(out)
    assert frame.columns == ["Highlight", "Metric", "Rule", "Figures cited"]
    assert "KPI table: Revenue" in frame["Figures cited"][0]
