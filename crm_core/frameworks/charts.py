"""Figures of the assessment pages (plotly; pure functions, frames in, figures out): the radar of a QCI or
Gartner scorecard with the external reference lines, and the change of each area since the previous assessment.

Colours from the app's Okabe–Ito palette (``crm_core.charts``); every figure has a title, axis titles and hover
values (DESIGN §8).
"""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go
import polars as pl

from crm_core.charts import GREY, OKABE_ITO
from crm_core.frameworks.rubrics import Rubric

HEADLINE_COLOR = OKABE_ITO[0]  # blue: what is (reality, current level)
OTHER_COLOR = OKABE_ITO[1]  # orange: what is meant (intention, target)
REFERENCE_STYLES = {  # external reference lines: colour, dash
    "best": (OKABE_ITO[2], "dash"),
    "average": ("#000000", "dot"),
    "worst": (OKABE_ITO[3], "dashdot"),
}
UP, DOWN = OKABE_ITO[2], OKABE_ITO[3]

_LAYOUT = {"template": "plotly_white", "font": {"size": 13}, "hoverlabel": {"namelength": -1}}


def _title(text: str, subtitle: str | None = None) -> dict:
    return {"text": text, "subtitle": {"text": subtitle} if subtitle else None, "x": 0.0, "xanchor": "left"}


def wrap(label: str, width: int = 16) -> str:
    """A long axis label over several lines (plotly breaks lines at ``<br>``)."""
    return "<br>".join(textwrap.wrap(label, width)) or label


def _closed(values: list) -> list:
    return [*values, values[0]] if values else values


def radar_figure(rubric: Rubric, sections: pl.DataFrame, *, title: str | None = None,
                 references: bool = True) -> go.Figure:
    """Radar of a scorecard's sections (``scoring.Scorecard.sections``): the other dimension (intention / target)
    and the headline one (reality / current) as two closed shapes; QCI on the share of best practice (0–100 %)
    with the external reference scores as circles, Gartner on the maturity level (1–5)."""
    qci = rubric.framework == "qci"
    names = sections["section"].to_list()
    theta = _closed([wrap(n) for n in names])
    full = _closed(names)
    dims = dict(rubric.dimensions)
    fig = go.Figure()
    for dim, color, fill in ((rubric.other, OTHER_COLOR, 0.12), (rubric.headline, HEADLINE_COLOR, 0.25)):
        column = f"{dim}_pct" if qci else f"{dim}_mean"
        values = _closed(sections[column].to_list())
        label = dims[dim].split(" — ")[0]
        r = [None if v is None else (v * 100 if qci else v) for v in values]
        rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
        fig.add_trace(go.Scatterpolar(
            r=r, theta=theta, name=label, mode="lines+markers", connectgaps=False,
            line={"color": color, "width": 2.5}, marker={"size": 7},
            fill="toself", fillcolor=f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{fill})",
            customdata=full,
            hovertemplate=(f"%{{customdata}}<br>{label}: %{{r:.0f}}% of best practice<extra></extra>" if qci
                           else f"%{{customdata}}<br>{label}: level %{{r:.1f}} of 5<extra></extra>"),
        ))
    if qci and references:
        for ref in rubric.references:
            color, dash = REFERENCE_STYLES.get(ref.id, (GREY, "dot"))
            fig.add_trace(go.Scatterpolar(
                r=[ref.value * 100] * len(theta), theta=theta, mode="lines",
                name=f"External reference: {ref.label.lower()} {ref.value:.0%}",
                line={"color": color, "dash": dash, "width": 1.5},
                hovertemplate=f"External reference (QCI assessment database)<br>{ref.label}: {ref.value:.0%}"
                              "<extra></extra>",
            ))
    radial = (
        {"range": [0, 100], "ticksuffix": "%", "tickvals": [0, 25, 50, 75, 100]}
        if qci else
        {"range": [0, rubric.scale_max], "tickvals": list(range(1, rubric.scale_max + 1))}
    )
    what = ("Intention and reality per area, % of best practice" if qci
            else "Current and target maturity per building block, level 1–5")
    fig.update_layout(
        **_LAYOUT,
        title=_title(title or ("QCI scorecard" if qci else "Gartner building blocks maturity"), what),
        # the radial axis runs between the first two sections, clear of their labels
        polar={"radialaxis": {**radial, "angle": 90 - 180 / max(len(names), 1),
                              "tickangle": 90 - 180 / max(len(names), 1), "gridcolor": "#dddddd",
                              "tickfont": {"size": 11}},
               "angularaxis": {"direction": "clockwise", "rotation": 90, "tickfont": {"size": 12}},
               "domain": {"x": [0.0, 0.72]}},
        legend={"x": 0.76, "y": 0.5, "xanchor": "left", "yanchor": "middle", "font": {"size": 12}},
        margin={"l": 90, "r": 20, "t": 100, "b": 70},
        height=580,
    )
    # the radial axis's title, written under the radar rather than along the axis (where it would cross the shapes)
    fig.add_annotation(
        text=("Radius: % of best practice (centre 0%, rim 100%)" if qci
              else f"Radius: maturity level (1 {rubric.level_label(1)} … 5 {rubric.level_label(5)})"),
        xref="paper", yref="paper", x=0.36, y=-0.1, xanchor="center", yanchor="top", showarrow=False,
        font={"size": 12, "color": "#444444"}, name="radial axis title",
    )
    return fig


def change_figure(rubric: Rubric, comparison: pl.DataFrame, *, before_label: str, now_label: str) -> go.Figure:
    """Horizontal bars: change of each section's headline score (and overall) between two assessments
    (``scoring.compare``), in percentage points (QCI) or maturity levels × 20 pp (Gartner, where 1 level = 20 %)."""
    frame = comparison.reverse()
    names = frame["section"].to_list()
    change = [None if c is None else c * 100 for c in frame["change"].to_list()]
    colors = [GREY if c is None or abs(c) < 1e-9 else (UP if c > 0 else DOWN) for c in change]
    before = ["–" if v is None else f"{v:.0%}" for v in frame["before"].to_list()]
    now = ["–" if v is None else f"{v:.0%}" for v in frame["now"].to_list()]
    fig = go.Figure(go.Bar(
        x=[0 if c is None else c for c in change], y=names, orientation="h", marker={"color": colors},
        customdata=list(zip(before, now, frame["direction"].to_list())),
        text=["" if c is None else f"{c:+.0f} pp" for c in change], textposition="outside",
        hovertemplate="%{y}<br>before %{customdata[0]} → now %{customdata[1]}<br>change %{x:+.1f} pp"
                      " (%{customdata[2]})<extra></extra>",
    ))
    word = "area" if rubric.framework == "qci" else "block"
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Change per {word} since the previous assessment", f"{before_label} → {now_label}"),
        xaxis={"title": {"text": "Change in score (percentage points of best practice)"}, "zeroline": True,
               "zerolinecolor": "#444444"},
        yaxis={"title": {"text": word.capitalize()}, "automargin": True},
        margin={"l": 60, "r": 60, "t": 90, "b": 60},
        height=max(320, 40 * len(names) + 160),
        showlegend=False,
    )
    span = max([abs(c) for c in change if c is not None] + [5.0])
    fig.update_xaxes(range=[-span * 1.35, span * 1.35])
    return fig
