"""crm_core.charts: every figure is titled with axis titles and units; one palette, a stable colour per name."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import plotly.graph_objects as go
import polars as pl
import pytest

from crm_core import charts
from crm_core.metrics import portfolio as pf

FACTS = pl.DataFrame(
    {
        "customer_id": [f"C{i:03d}" for i in range(40)],
        "revenue": [float(1000 / (i + 1)) for i in range(40)],
        "margin": [float(400 / (i + 1)) for i in range(40)],
        "cost_to_serve": [float(i % 7) * 10 for i in range(40)],
        "net_profit": [float(400 / (i + 1) - (i % 7) * 10) for i in range(40)],
        "recency_days": [i * 3 for i in range(40)],
        "purchases": [1 + i % 5 for i in range(40)],
    }
)


def _figures() -> dict[str, go.Figure]:
    curve = pf.pareto(FACTS, "revenue")
    quadrants = pf.cost_quadrants(FACTS)
    rfm = pf.rfm_summary(pf.rfm_segments(pf.rfm_scores(FACTS)))
    purchases = pl.DataFrame(
        {
            "occurred_at": [datetime(2024, 1, 5), datetime(2024, 2, 9), datetime(2024, 3, 1)],
            "amount": [120.0, 80.5, 45.0],
            "status": ["completed", "refunded", "completed"],
        }
    )
    return {
        "pareto": charts.pareto_figure(curve.curve, curve.pareto_point),
        "quadrants": charts.quadrant_figure(quadrants, currency="EUR"),
        "purchases": charts.purchases_figure(purchases, customer="C001", currency="EUR"),
        "rfm": charts.rfm_treemap(rfm, currency="EUR"),
    }


@pytest.mark.parametrize("name", ["pareto", "quadrants", "purchases"])
def test_every_xy_figure_has_a_title_and_axis_titles(name):
    titles = charts.figure_titles(_figures()[name])
    assert titles["title"], titles
    assert titles["x"] and titles["y"], titles
    # units: shares in %, money in the dataset's currency
    assert "(" in titles["x"] and "(" in titles["y"], titles


def test_money_axes_carry_the_currency_or_amount():
    figs = _figures()
    assert charts.figure_titles(figs["quadrants"])["x"] == "Cost to serve (EUR)"
    assert charts.figure_titles(figs["purchases"])["y"] == "Amount (EUR)"
    curve = pf.pareto(FACTS, "revenue")
    q = charts.quadrant_figure(pf.cost_quadrants(FACTS), currency=None)
    assert charts.figure_titles(q)["x"] == "Cost to serve (amount)"
    assert charts.money_unit("  ") == "amount"
    assert curve.pareto_point is not None


def test_the_treemap_has_a_title_a_unit_and_hover_values():
    fig = _figures()["rfm"]
    assert fig.layout.title.text == "RFM segments"
    trace = fig.data[0]
    assert "EUR" in trace.hovertemplate and "%{value" in trace.hovertemplate
    assert trace.marker.colorbar.title.text == "Revenue (EUR)"
    assert sum(trace.values) == FACTS.height  # area = customers


def test_every_trace_has_hover_values():
    for name, fig in _figures().items():
        for trace in fig.data:
            assert trace.hoverinfo == "skip" or trace.hovertemplate, (name, trace.name)


def test_the_pareto_point_is_marked_and_annotated():
    curve = pf.pareto(FACTS, "revenue")
    fig = charts.pareto_figure(curve.curve, curve.pareto_point)
    assert any(t.x == (curve.pareto_point,) and t.y == (0.8,) for t in fig.data)
    assert any("80%" in a.text for a in fig.layout.annotations)


def test_the_palette_is_okabe_ito_and_a_name_keeps_its_colour():
    assert set(charts.OKABE_ITO) <= {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
                                     "#CC79A7"}
    names = ["Europe", "North America", "SMB", "Online", "Champions", "A", "Carriage trade"]
    first = charts.color_map(names)
    assert charts.color_map(reversed(names)) == first  # order of calls does not matter
    assert all(charts.color_for(n) == first[n] for n in names)
    # the same across processes (no salted hash)
    code = "from crm_core import charts; print(charts.color_for('Europe'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == first["Europe"]
    # the quadrants and the ABC classes have distinct fixed colours
    assert len({charts.color_for(q) for q in pf.QUADRANTS}) == 4
    assert len({charts.color_for(c) for c in pf.ABC_CLASSES}) == 3


def test_quadrant_colours_match_on_every_figure():
    fig = _figures()["quadrants"]
    for trace in fig.data:
        assert trace.marker.color == charts.color_for(trace.name)


def test_large_scatters_are_sampled_to_the_limit():
    big = pl.DataFrame(
        {"customer_id": [f"C{i}" for i in range(7000)], "margin": [float(i % 97) for i in range(7000)],
         "revenue": [float(i % 97) for i in range(7000)], "cost_to_serve": [float(i % 13) for i in range(7000)]}
    )
    q = pf.cost_quadrants(big)
    fig = charts.quadrant_figure(q, max_points=5000)
    assert sum(len(t.x) for t in fig.data) == 5000
    assert "5,000 of 7,000" in fig.layout.title.subtitle.text
    assert charts.sample_points(q, 5000)["customer_id"].to_list() == charts.sample_points(q, 5000)[
        "customer_id"].to_list()
