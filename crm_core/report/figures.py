"""Figures of the executive review (pure plotly, the app's palette from :mod:`crm_core.charts`): the KPI trend
sparklines and the movers bars. Result frame in, figure out."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from crm_core import charts
from crm_core.metrics import catalog
from crm_core.metrics import highlights as hl
from crm_core.metrics.movers import DIMENSIONS

_LAYOUT = {"template": "plotly_white", "font": {"size": 13}, "hoverlabel": {"namelength": -1}}


def sparkline(trend: pl.DataFrame, metric_id: str, *, money_unit: str = "amount") -> go.Figure:
    """One KPI over the trailing periods: a small line with the last point marked (the review page's cards)."""
    rows = trend.filter(pl.col("metric_id") == metric_id).sort("period_start")
    x, y = rows["period"].to_list(), rows["value"].to_list()
    label = catalog.metric(metric_id).label
    fig = go.Figure()
    fig.add_scatter(
        x=x, y=y, mode="lines+markers", line={"color": charts.OKABE_ITO[0], "width": 2},
        marker={"size": [4] * max(len(x) - 1, 0) + [8], "color": charts.OKABE_ITO[0]},
        hovertext=[hl.format_value(metric_id, v, money_unit) for v in y], hoverinfo="x+text", name=label,
    )
    fig.update_layout(
        **_LAYOUT, height=90, margin={"l": 4, "r": 4, "t": 4, "b": 4}, showlegend=False,
        xaxis={"visible": False, "title": {"text": "Period"}}, yaxis={"visible": False, "title": {"text": label}},
        title={"text": ""},
    )
    return fig


def kpi_trend_figure(trend: pl.DataFrame, metrics: tuple[str, ...], *, money_unit: str = "amount",
                     columns: int = 4) -> go.Figure:
    """Small multiples: each review KPI over the trailing periods (one panel per KPI, its own y axis)."""
    rows = math.ceil(len(metrics) / columns) or 1
    titles = []
    for mid in metrics:
        unit = catalog.metric(mid).unit
        suffix = {"currency": f" ({money_unit})", "share": " (%)", "score": " (points)"}.get(unit, "")
        titles.append(catalog.metric(mid).label + suffix)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, vertical_spacing=0.22, horizontal_spacing=0.07)
    for i, mid in enumerate(metrics):
        data = trend.filter(pl.col("metric_id") == mid).sort("period_start")
        unit = catalog.metric(mid).unit
        y = [None if v is None else (v * 100 if unit == "share" else v) for v in data["value"].to_list()]
        fig.add_scatter(
            x=data["period"].to_list(), y=y, mode="lines+markers", row=i // columns + 1, col=i % columns + 1,
            line={"color": charts.OKABE_ITO[0], "width": 2}, marker={"size": 5}, name=catalog.metric(mid).label,
            hovertext=[hl.format_value(mid, v, money_unit) for v in data["value"].to_list()], hoverinfo="x+text",
            connectgaps=False,
        )
    fig.update_layout(
        **_LAYOUT, showlegend=False, height=260 * rows, margin={"l": 50, "r": 20, "t": 90, "b": 50},
        title={"text": "Headline KPIs over time", "subtitle": {"text": "One point per period; the last is the period reviewed"},
               "x": 0.0, "xanchor": "left"},
    )
    fig.update_annotations(font_size=12)
    fig.update_xaxes(tickangle=-45, tickfont={"size": 10}, title_text="Period", title_font_size=10)
    fig.update_yaxes(tickfont={"size": 10})
    return fig


def movers_figure(movers: pl.DataFrame, metric_id: str, *, money_unit: str = "amount", n: int = 10,
                  period: str = "", previous_period: str = "") -> go.Figure:
    """Horizontal bars: the ``n`` groups (segment, region, channel) contributing most to a KPI's change,
    coloured by group (the app-wide colour of each segment, region or channel)."""
    from crm_core.metrics.movers import top_movers

    top = top_movers(movers, metric_id, n=n).reverse()
    unit = catalog.metric(metric_id).unit
    scale = 100 if unit == "share" else 1
    axis = {"share": "Contribution to the change (points)", "currency": f"Contribution to the change ({money_unit})"}.get(
        unit, "Contribution to the change")
    labels = [f"{DIMENSIONS[d].capitalize()}: {g}" for d, g in zip(top["dimension"].to_list(), top["group"].to_list())]
    values = [v * scale for v in top["contribution"].to_list()]
    fig = go.Figure()
    fig.add_bar(
        x=values, y=labels, orientation="h", marker={"color": [charts.color_for(g) for g in top["group"].to_list()]},
        text=[hl.format_contribution(metric_id, v, money_unit) for v in top["contribution"].to_list()],
        textposition="auto", hovertemplate="%{y}: %{text}<extra></extra>",
    )
    label = catalog.metric(metric_id).label
    sub = f"{previous_period} → {period}; bars add up within a dimension" if period else None
    fig.update_layout(
        **_LAYOUT, height=max(300, 60 + 34 * len(labels)), margin={"l": 220, "r": 30, "t": 80, "b": 60},
        title={"text": f"Biggest movers: {label.lower()}", "subtitle": {"text": sub} if sub else None,
               "x": 0.0, "xanchor": "left"},
        xaxis={"title": {"text": axis}, "zeroline": True, "zerolinecolor": "#444"},
        yaxis={"title": {"text": "Group"}, "automargin": True},
        showlegend=False,
    )
    return fig
