"""crm_core.charts: every figure is titled with axis titles and units; one palette, a stable colour per name."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import numpy as np
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
    assert any(tuple(t.x) == (curve.pareto_point,) and tuple(t.y) == (0.8,) for t in fig.data)
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


def test_every_cost_pool_has_its_own_colour():
    # the pool chart draws the nine pools side by side: hashed onto eight colours, two pairs shared one
    from crm_core.metrics import cost

    frame = pl.DataFrame({"pool": list(cost.POOLS), "cost": [float(i) for i in range(len(cost.POOLS))],
                          "cost_per_customer": [1.0] * len(cost.POOLS), "share": [0.1] * len(cost.POOLS)})
    colours = charts.cost_pool_figure(frame).data[0].marker.color
    assert len(colours) == len(set(colours)) == len(cost.POOLS)
    assert charts.color_for("return") == charts.color_for("refunded")  # a return is a refunded order
    assert charts.color_for(" Email") == charts.color_for("email")  # a sales channel of that name, on any page


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
    fig = charts.quadrant_figure(q)
    assert sum(len(t.x) for t in fig.data) == charts.MAX_POINTS == 1000
    assert "1,000 of 7,000" in fig.layout.title.subtitle.text
    assert {t.type for t in fig.data} == {"scatter"}  # SVG: see quadrant_figure for why not WebGL
    fig = charts.quadrant_figure(q, max_points=5000)
    assert sum(len(t.x) for t in fig.data) == 5000
    assert charts.sample_points(q, 5000)["customer_id"].to_list() == charts.sample_points(q, 5000)[
        "customer_id"].to_list()



def test_a_sampled_scatter_splits_where_every_customer_splits():
    # The Portfolio view keeps a sample of the points and quadrant_axes of every customer: the dashed lines are
    # the medians the quadrants were split at (cost_quadrants), not the sample's, and the subtitle counts all.
    big = pl.DataFrame(
        {"customer_id": [f"C{i}" for i in range(7000)], "margin": [float(i * i % 1009) for i in range(7000)],
         "revenue": [1.0] * 7000, "cost_to_serve": [float(i % 13) * (i % 7) for i in range(7000)]}
    )
    q = pf.cost_quadrants(big)
    sample = charts.sample_points(q, 500)
    assert sample["value_axis"].median() != q["value_axis"].median()  # else this test could not fail
    fig = charts.quadrant_figure(sample, axes=charts.quadrant_axes(q))
    lines = {("y" if shape.y0 == shape.y1 else "x"): (shape.y0 if shape.y0 == shape.y1 else shape.x0)
             for shape in fig.layout.shapes}
    assert lines == {"y": q["value_axis"].median(), "x": q["cost_axis"].median()}
    assert "500 of 7,000 customers drawn" in fig.layout.title.subtitle.text
    assert list(fig.layout.xaxis.range) == [0, q["cost_axis"].quantile(0.99) * 1.05]

# ---------------------------------------------------------------------------------------------------- differentiate
PROFILE = pl.DataFrame(
    {
        "segment_id": [1, 2, 3],
        "segment": ["Champions", "Steady", "Dormant"],
        "customers": [10, 25, 15],
        "customer_share": [0.2, 0.5, 0.3],
        "revenue": [7000.0, 2500.0, 500.0],
        "revenue_share": [0.7, 0.25, 0.05],
        "mean_recency_days": [12.0, 80.0, 300.0],
        "mean_monetary": [700.0, 100.0, 33.3],
        "mean_share_online": [0.6, 0.3, 0.5],
        "mean_share_web_shop": [0.4, 0.7, 0.5],
        "main_channel": ["online", "web_shop", "online"],
    }
)
INTENSITY = pl.DataFrame({"segment": ["Champions", "Steady", "Dormant"], "interactions_per_customer": [9.5, 2.0, 0.5],
                          "cost_per_customer": [600.0, 80.0, 10.0]})
TIERS = pl.DataFrame({"tier": ["Top 20%", "Middle 60%", "Bottom 20%"], "customer_share": [0.2, 0.6, 0.2],
                      "clv_share": [0.78, 0.21, 0.01], "clv": [7800.0, 2100.0, 100.0]})


def _differentiate_figures() -> dict[str, go.Figure]:
    return {
        "silhouette": charts.silhouette_figure({2: 0.3, 3: 0.41, 4: 0.35}, chosen_k=3),
        "heatmap": charts.profile_heatmap(PROFILE, {"mean_recency_days": "Recency (days)",
                                                    "mean_monetary": "Revenue per customer (EUR)",
                                                    "mean_share_online": "Online (% of purchases)"}),
        "size": charts.segment_size_figure(PROFILE),
        "channels": charts.channel_mix_figure(PROFILE),
        "intensity": charts.segment_intensity_figure(INTENSITY, currency="EUR"),
        "tiers": charts.clv_tier_figure(TIERS, currency="EUR"),
    }


@pytest.mark.parametrize("name", ["silhouette", "heatmap", "size", "channels", "intensity", "tiers"])
def test_differentiate_figures_have_titles_axis_titles_and_hover(name):
    fig = _differentiate_figures()[name]
    titles = charts.figure_titles(fig)
    assert titles["title"] and titles["x"] and titles["y"], titles
    for trace in fig.data:
        assert trace.hovertemplate, (name, trace.name)


def test_the_silhouette_chart_marks_the_fitted_k():
    fig = _differentiate_figures()["silhouette"]
    colors = list(fig.data[0].marker.color)
    assert colors[1] == charts.OKABE_ITO[0] and colors[0] == colors[2] == charts.GREY


def test_the_heat_table_scales_each_column_and_writes_the_real_values():
    fig = _differentiate_figures()["heatmap"]
    z = fig.data[0].z
    assert [row[0] for row in z] == [0.0, (80 - 12) / (300 - 12), 1.0]  # recency scaled on its own column
    assert [row[1] for row in z] == [1.0, (100 - 33.3) / (700 - 33.3), 0.0]
    assert list(fig.data[0].text[0]) == ["12.0", "700", "60%"]
    assert list(fig.data[0].y) == ["Champions", "Steady", "Dormant"]


def test_channel_mix_stacks_to_one_with_the_channels_colour():
    fig = _differentiate_figures()["channels"]
    assert [t.name for t in fig.data] == ["Online", "Web Shop"]
    assert fig.layout.barmode == "stack"
    totals = [sum(t.x[i] for t in fig.data) for i in range(PROFILE.height)]
    assert totals == pytest.approx([1.0, 1.0, 1.0])
    assert fig.data[0].marker.color == charts.color_for("online")


def test_intensity_axes_carry_units():
    fig = _differentiate_figures()["intensity"]
    assert fig.layout.xaxis.title.text == "Interactions (count)"
    assert fig.layout.xaxis2.title.text == "Cost per customer (EUR)"
    assert "EUR" in fig.data[1].hovertemplate


# ---------------------------------------------------------------------------------------------------- retention
def test_retention_figures_have_titles_axes_and_hover():
    from datetime import date

    cells = pl.DataFrame({
        "cohort": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 2, 1)], "age": [0, 1, 0],
        "value": [1.0, 0.4, 1.0], "count": [10.0, 4.0, 5.0], "cohort_size": [10, 10, 5],
        "partial": [False, True, True],
    })
    trend = pl.DataFrame({"period_start": [date(2024, 1, 1), date(2024, 2, 1)], "active_at_start": [10, 12],
                          "churned": [2, 1], "churn_rate": [0.2, 1 / 12], "partial": [False, True]})
    km = pl.DataFrame({"time": [0.0, 30.0, 90.0], "at_risk": [10, 8, 4], "events": [0, 2, 2],
                       "censored": [0, 0, 1], "survival": [1.0, 0.75, 0.4], "lower": [1.0, 0.5, 0.2],
                       "upper": [1.0, 0.9, 0.6]})
    clv = pl.DataFrame({"clv": [10.0, 50.0, 200.0]})
    grid = pl.DataFrame({"recency_bin": ["0–4", "4–13"], "frequency_bin": ["1", "0"], "customers": [3, 2],
                         "mean_p_alive": [0.9, 0.4]})
    holdout = pl.DataFrame({"frequency_bin": ["0", "1"], "customers": [3, 2], "predicted_mean": [0.2, 1.1],
                            "actual_mean": [0.3, 1.0]})
    figs = [
        charts.cohort_heatmap(cells, measure="customers", period="month"),
        charts.cohort_heatmap(cells, measure="revenue", period="quarter", currency="EUR"),
        charts.churn_trend_figure(trend),
        charts.survival_figure(km, 60.0),
        charts.clv_histogram(clv, currency="EUR"),
        charts.p_alive_heatmap(grid, ["0–4", "4–13"], ["0", "1"]),
        charts.holdout_figure(holdout, months=6),
    ]
    for fig in figs:
        titles = charts.figure_titles(fig)
        assert titles["title"] and titles["x"] and titles["y"], titles
        assert any(t.hovertemplate for t in fig.data)
    assert "EUR" in charts.figure_titles(figs[4])["x"]
    # partial cohort cells are drawn in the grey trace, not the coloured one
    assert figs[0].data[0].z[0][1] is None and figs[0].data[1].z[0][1] == 0.0
    assert figs[2].data[0].marker.pattern.shape[1] == "/"
    assert any("Median" in (a.text or "") for a in figs[3].layout.annotations)
    assert "Q1" in figs[1].data[0].y[0]


def test_a_cohort_heatmap_writes_values_in_its_cells_only_while_they_are_wide_enough():
    from datetime import date

    def grid(n: int) -> pl.DataFrame:  # n monthly cohorts, the last age of each still running
        rows = [{"cohort": date(2020 + i // 12, i % 12 + 1, 1), "age": a, "value": 0.5, "count": 5.0,
                 "cohort_size": 10, "partial": a == n - i - 1} for i in range(n) for a in range(n - i)]
        return pl.DataFrame(rows)

    small = charts.cohort_heatmap(grid(charts.COHORT_LABEL_AGES))
    assert small.data[0].text[0][0] == "50%"
    assert "hover a cell" not in small.layout.title.subtitle.text
    large = charts.cohort_heatmap(grid(charts.COHORT_LABEL_AGES + 1))
    assert {t for row in large.data[0].text for t in row} == {""}  # no value written...
    assert large.data[0].customdata[0][0].endswith("50.0%<br>Active customers: 5 of cohort size 10")  # ...hovered
    assert large.data[1].text[0][-1] == "◔"  # partial periods stay marked
    assert "hover a cell for its value" in large.layout.title.subtitle.text


# ---------------------------------------------------------------------------------------------------- cost to serve
def _cost_figures() -> dict[str, go.Figure]:
    from crm_core.metrics import cost

    pools = pl.DataFrame({
        "pool": ["call", "order", "return"], "customers": [3, 5, 1], "cost": [30.0, 50.0, 0.0],
        "cost_per_customer": [6.0, 10.0, 0.0], "share": [0.375, 0.625, 0.0], "cost_per_revenue": [0.03, 0.05, 0.0],
    })
    groups = pl.DataFrame({
        "segment": ["SMB", "(not set)"], "customers": [3, 2], "cost_to_serve": [60.0, 20.0], "revenue": [900.0, 0.0],
        "gross_margin": [400.0, 0.0], "net_profit": [340.0, -20.0], "cost_per_customer": [20.0, 10.0],
        "share": [0.75, 0.25], "cost_per_revenue": [0.0667, None],
    })
    whale = cost.whale_curve(FACTS["net_profit"])
    return {
        "pools": charts.cost_pool_figure(pools, currency="EUR"),
        "by": charts.cost_by_figure(groups, "segment", currency="EUR"),
        "profit": charts.profit_histogram(FACTS["net_profit"], currency="EUR"),
        "whale": charts.whale_figure(whale.frame, peak_share=whale.peak_share, peak_at=whale.peak_at,
                                     unprofitable_share=whale.unprofitable_share, currency="EUR"),
    }


@pytest.mark.parametrize("name", ["pools", "by", "profit", "whale"])
def test_cost_figures_have_titles_units_and_hover(name):
    fig = _cost_figures()[name]
    titles = charts.figure_titles(fig)
    assert titles["title"] and titles["x"] and titles["y"], titles
    assert "(" in titles["x"], titles  # money in EUR, shares in %
    assert "(" in titles["y"] or name in ("pools", "by"), titles  # bar charts: a category axis has no unit
    for trace in fig.data:
        assert trace.hovertemplate, trace.name


def test_the_whale_curve_marks_its_peak_and_the_unprofitable_share():
    from crm_core.metrics import cost

    whale = cost.whale_curve(FACTS["net_profit"])
    assert whale.unprofitable_share and whale.peak_share > 1
    fig = _cost_figures()["whale"]
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert f"peak {whale.peak_share:.1%}" in notes and "unprofitable" in notes
    assert charts.figure_titles(fig)["x"].startswith("Share of customers")


def test_the_whale_curve_without_shares_draws_cumulative_profit():
    from crm_core.metrics import cost

    whale = cost.whale_curve(pl.Series([-5.0, -10.0, 2.0]))
    assert not whale.has_shares
    fig = charts.whale_figure(whale.frame, peak_share=None, peak_at=None,
                              unprofitable_share=whale.unprofitable_share, currency="EUR")
    assert charts.figure_titles(fig)["y"] == "Cumulative profit (EUR)"


def test_a_channel_keeps_its_colour_whatever_its_case():
    # the Differentiate page names channels from share_<channel> columns ("store"), other pages use the
    # stored spelling ("Store"); DESIGN §8: the same colour for a channel on every page
    from crm_core.charts import color_for

    for name in ("Store", "Online", "Phone", "Partner"):
        assert color_for(name) == color_for(name.lower()) == color_for(f" {name.upper()} ")


def test_histogram_bins_by_hand():
    # numpy.histogram's rule: equal widths over [min, max], each bin [lo, hi) but the last closed. 0..4 in two
    # bins: [0, 2) holds 0 and 1, [2, 4] holds 2, 3 and 4. Nulls and NaN are no values; one distinct value gets
    # a bin one unit wide around it; no value, no bins.
    got = charts.histogram_bins(pl.Series([0.0, 1.0, 2.0, 3.0, 4.0, None, float("nan")]), 2)
    assert got.to_dicts() == [{"lo": 0.0, "hi": 2.0, "customers": 2}, {"lo": 2.0, "hi": 4.0, "customers": 3}]
    assert charts.histogram_bins(pl.Series([7.0, 7.0]), 1).to_dicts() == [{"lo": 6.5, "hi": 7.5, "customers": 2}]
    assert charts.histogram_bins(pl.Series([None], dtype=pl.Float64), 5).is_empty()


def test_a_histogram_of_kept_bins_draws_the_bars_of_the_values():
    # The Cost view keeps the profit distribution as bins; drawn from them it is the figure of the values.
    values = pl.Series([float((i * 7919) % 1000) - 300.0 for i in range(5_000)])
    from_values = [t for t in charts.profit_histogram(values, bins=50).data if t.type == "bar"][0]
    from_bins = [t for t in charts.profit_histogram(charts.histogram_bins(values, 50)).data if t.type == "bar"][0]
    for field in ("x", "y", "width", "customdata", "hovertemplate"):
        np.testing.assert_array_equal(from_bins[field], from_values[field], err_msg=field)
    assert sum(from_bins.y) == 5_000


def test_histograms_are_binned_on_the_server():
    # 100,000 customers become 50 bars whose counts add up to the customers with a value (nulls and NaN
    # left out): the browser gets 50 numbers, not 100,000. Hand check: 0..99,999 in 50 equal bins of 2,000.
    values = pl.Series("net_profit", [float(i) for i in range(100_000)] + [None, float("nan")])
    fig = charts.profit_histogram(values, bins=50)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 1 and len(bars[0].y) == 50
    assert sum(bars[0].y) == 100_000 and set(bars[0].y) == {2_000}
    assert not [t for t in fig.data if t.type == "histogram"]
