"""Plotly figure builders (DESIGN.md §2, §8): a result frame in, a figure out — pure functions, no Streamlit,
no store. Every figure has a title, axis titles with units and hover values.

Colours: one colour-blind-safe palette for the whole app (Okabe & Ito 2008, "Color Universal Design"), and the
same colour for a category name on every page and in every report: :func:`color_for` gives known names (ABC
classes, value × cost quadrants, purchase statuses) a fixed colour and any other name a colour picked by a stable
hash of the name (not Python's salted ``hash``), so a region or segment keeps its colour across runs and pages.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

import numpy as np
import plotly.graph_objects as go
import polars as pl

__all__ = [
    "MAX_POINTS",
    "OKABE_ITO",
    "SEQUENTIAL",
    "channel_mix_figure",
    "churn_trend_figure",
    "clv_histogram",
    "clv_tier_figure",
    "cohort_heatmap",
    "color_for",
    "color_map",
    "cost_by_figure",
    "cost_pool_figure",
    "histogram_bins",
    "holdout_figure",
    "money_unit",
    "p_alive_heatmap",
    "pareto_figure",
    "profile_heatmap",
    "profit_histogram",
    "purchases_figure",
    "quadrant_axes",
    "quadrant_figure",
    "rfm_treemap",
    "sample_points",
    "segment_intensity_figure",
    "segment_size_figure",
    "silhouette_figure",
    "survival_figure",
    "whale_figure",
]

#: Okabe–Ito palette (Okabe & Ito 2008), black last; grey for "other / unknown".
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
GREY = "#999999"
#: Sequential colour scale for magnitudes (colour-blind safe, readable in greyscale).
SEQUENTIAL = "Cividis"
#: Scatter plots draw at most this many points (a seeded sample beyond; quadrant_figure says why so few).
MAX_POINTS = 1000
#: A cohort heatmap writes each cell's value in it up to this many age columns (cohort_heatmap says why).
COHORT_LABEL_AGES = 24

# Categories with a fixed colour everywhere (the rest are hashed onto the palette).
FIXED_COLORS: dict[str, str] = {
    # ABC classes: most valuable = strongest
    "A": "#0072B2",
    "B": "#56B4E9",
    "C": GREY,
    # value × cost-to-serve quadrants (Shapiro et al. 1987)
    "Carriage trade": "#0072B2",
    "Passive": "#009E73",
    "Aggressive": "#D55E00",
    "Bargain basement": "#E69F00",
    # purchase statuses
    "completed": "#0072B2",
    "refunded": "#D55E00",
    "cancelled": GREY,
    # the period compared with
    "current": "#0072B2",
    "previous": GREY,
    # cost pools (crm_core.metrics.cost.POOLS), the bars of one chart: hashed, nine names onto eight colours gave
    # call and return one colour, order and visit another. Order and return as the purchase statuses completed and
    # refunded; other grey
    "order": "#0072B2",
    "return": "#D55E00",
    "call": "#E69F00",
    "email": "#56B4E9",
    "meeting": "#009E73",
    "visit": "#CC79A7",
    "chat": "#F0E442",
    "ticket": "#000000",
    "other": GREY,
}

_FIXED_FOLDED = {k.strip().casefold(): v for k, v in FIXED_COLORS.items()}

_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 30, "t": 70, "b": 60},
    "hoverlabel": {"namelength": -1},
    "font": {"size": 13},
}


def color_for(name: object) -> str:
    """The app-wide colour of a category name: fixed for known names, else a stable hash onto the palette."""
    if name is None:
        return GREY
    key = str(name)
    if key in FIXED_COLORS:
        return FIXED_COLORS[key]
    # case and surrounding blanks do not change a category: "store" on one page is "Store" on another (and a sales
    # channel named "Email" is the colour of the email pool)
    folded = key.strip().casefold()
    if folded in _FIXED_FOLDED:
        return _FIXED_FOLDED[folded]
    digest = hashlib.sha1(folded.encode("utf-8")).digest()
    return OKABE_ITO[int.from_bytes(digest[:4], "big") % len(OKABE_ITO)]


def color_map(names: Iterable[object]) -> dict[str, str]:
    """{name: colour} for plotly's ``color_discrete_map``."""
    return {str(n): color_for(n) for n in names}


def money_unit(currency: str | None) -> str:
    """The unit shown in axis titles: the dataset's currency code when known, else "amount"."""
    return currency.strip() if currency and currency.strip() else "amount"


def _title(text: str, subtitle: str | None = None) -> dict:
    return {"text": text, "subtitle": {"text": subtitle} if subtitle else None, "x": 0.0, "xanchor": "left"}


def _values(data: pl.Series | pl.DataFrame | list) -> np.ndarray:
    """Trace data for Plotly as one NumPy array: Plotly checks a Python list element by element but copies an
    array whole (the survival figure of the 10M bench: 0.059 -> 0.037 s to build). A numeric column (or frame)
    without nulls goes to the browser as a typed array (Plotly's base64 ``bdata``, which the plotly.js of
    Streamlit reads, hover data included); anything else (text, dates, nulls) as an object array, written as
    the same JSON list as before."""
    if isinstance(data, pl.Series):
        if data.dtype.is_numeric() and not data.null_count():
            return data.to_numpy()
        return np.array(data.to_list(), dtype=object)
    if isinstance(data, pl.DataFrame):
        if all(t.is_numeric() for t in data.dtypes) and not any(data.null_count().row(0)):
            return data.to_numpy()
        return np.array(data.rows(), dtype=object).reshape(data.height, data.width)
    return np.array(data, dtype=object)


def sample_points(frame: pl.DataFrame, max_points: int = MAX_POINTS, seed: int = 0) -> pl.DataFrame:
    """At most ``max_points`` rows of ``frame``: all of them, or a seeded random sample (same rows every run)."""
    if frame.height <= max_points:
        return frame
    return frame.sample(n=max_points, seed=seed)


def thin_curve(curve: pl.DataFrame, max_points: int = 2000) -> pl.DataFrame:
    """Every k-th point of a long curve, last point kept (the line looks the same, the page stays light)."""
    n = curve.height
    if n <= max_points:
        return curve
    step = -(-n // max_points)
    return curve.with_row_index("_i").filter((pl.col("_i") % step == 0) | (pl.col("_i") == n - 1)).drop("_i")


def histogram_bins(values: pl.Series, bins: int = 50) -> pl.DataFrame:
    """``bins`` equal-width bins over the range of ``values`` (nulls and NaNs left out): lo, hi and customers
    (the count in [lo, hi), the last bin closed), as ``numpy.histogram``; no rows without a value. What a
    histogram draws, small enough to keep with a view instead of one value per customer."""
    x = values.cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    if x.size == 0:
        return pl.DataFrame(schema={"lo": pl.Float64, "hi": pl.Float64, "customers": pl.Int64})
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    return pl.DataFrame({"lo": edges[:-1], "hi": edges[1:], "customers": counts.astype(np.int64)})


def _add_binned_histogram(fig: go.Figure, values: pl.Series | pl.DataFrame, bins: int, hover: str) -> None:
    """A histogram binned here (equal-width bins over the data's range), not in the browser: the figure
    carries ``bins`` bars instead of one value per customer (a million values is ~20 MB of JSON). ``values``
    may be binned already (:func:`histogram_bins`)."""
    binned = values if isinstance(values, pl.DataFrame) else histogram_bins(values, bins)
    if binned.is_empty():
        return
    lo, hi = binned["lo"].to_numpy(), binned["hi"].to_numpy()
    fig.add_bar(
        x=(lo + hi) / 2, y=_values(binned["customers"]), width=float(hi[0] - lo[0]),
        customdata=np.column_stack([lo, hi]), marker_color=OKABE_ITO[0],
        name="Customers", hovertemplate=hover,
    )


# ---------------------------------------------------------------------------------------------------- portfolio
def pareto_figure(
    curve: pl.DataFrame,
    pareto_point: float | None,
    *,
    target: float = 0.8,
    value_label: str = "revenue",
) -> go.Figure:
    """Concentration (Pareto / Lorenz) curve: cumulative share of value against the share of customers.

    ``curve`` has ``customer_share`` and ``value_share`` (0..1, customers ranked by value, largest first), as
    :func:`crm_core.metrics.portfolio.pareto` returns; ``pareto_point`` is the share of customers that makes
    ``target`` of the value (marked and annotated when known).
    """
    pts = thin_curve(curve.select("customer_share", "value_share"))
    x = np.concatenate([[0.0], pts["customer_share"].cast(pl.Float64).to_numpy()])
    y = np.concatenate([[0.0], pts["value_share"].cast(pl.Float64).to_numpy()])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="Equal value per customer",
            line={"color": GREY, "dash": "dot"}, hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x, y=y, mode="lines", name=f"Cumulative share of {value_label}",
            line={"color": OKABE_ITO[0], "width": 3},
            hovertemplate=f"Top %{{x:.1%}} of customers make %{{y:.1%}} of {value_label}<extra></extra>",
        )
    )
    if pareto_point is not None:
        fig.add_trace(
            go.Scatter(
                x=[pareto_point], y=[target], mode="markers", name=f"{target:.0%} point",
                marker={"color": OKABE_ITO[3], "size": 12, "symbol": "diamond"},
                hovertemplate=f"%{{x:.1%}} of customers make {target:.0%} of {value_label}<extra></extra>",
            )
        )
        fig.add_shape(type="line", x0=0, x1=pareto_point, y0=target, y1=target,
                      line={"color": OKABE_ITO[3], "dash": "dash", "width": 1})
        fig.add_shape(type="line", x0=pareto_point, x1=pareto_point, y0=0, y1=target,
                      line={"color": OKABE_ITO[3], "dash": "dash", "width": 1})
        fig.add_annotation(
            x=pareto_point, y=target, ax=60, ay=40, showarrow=True, arrowhead=2, xanchor="left",
            text=f"{pareto_point:.0%} of customers make {target:.0%} of {value_label}",
            bgcolor="rgba(255,255,255,0.85)",
        )
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Concentration of {value_label} (Pareto curve)",
                     "Customers ranked by value, largest first; the dotted line is an equal split"),
        xaxis={"title": {"text": "Share of customers (%)"}, "tickformat": ".0%", "range": [0, 1]},
        yaxis={"title": {"text": f"Cumulative share of {value_label} (%)"}, "tickformat": ".0%", "range": [0, 1.02]},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
        height=440,
    )
    return fig


def _text_on(values: list[float]) -> list[str]:
    """Readable text on a Cividis tile: black on the light (high) end, white on the dark (low) end."""
    lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
    span = (hi - lo) or 1.0
    return ["black" if (v - lo) / span > 0.55 else "white" for v in values]


def rfm_treemap(summary: pl.DataFrame, *, currency: str | None = None) -> go.Figure:
    """RFM segments as a treemap: area = customers, colour = revenue.

    ``summary`` has ``segment``, ``customers``, ``customer_share``, ``revenue``, ``revenue_share`` (as
    :func:`crm_core.metrics.portfolio.rfm_summary` returns); empty segments are left out.
    """
    unit = money_unit(currency)
    rows = summary.filter(pl.col("customers") > 0).with_columns(pl.col("segment").cast(pl.String))
    fig = go.Figure(
        go.Treemap(
            labels=rows["segment"].to_list(),
            parents=[""] * rows.height,
            values=rows["customers"].to_list(),
            customdata=rows.select("customer_share", "revenue", "revenue_share").fill_null(0).rows(),
            texttemplate="<b>%{label}</b><br>%{value:,} customers<br>%{customdata[2]:.1%} of revenue",
            hovertemplate=(
                "<b>%{label}</b><br>Customers: %{value:,} (%{customdata[0]:.1%})<br>"
                f"Revenue: %{{customdata[1]:,.0f}} {unit} (%{{customdata[2]:.1%}})<extra></extra>"
            ),
            marker={
                "pad": {"t": 0, "l": 0, "r": 0, "b": 0},
                "colors": rows["revenue"].to_list(), "colorscale": SEQUENTIAL,
                "colorbar": {"title": {"text": f"Revenue ({unit})"}}, "line": {"color": "white", "width": 2},
            },
            branchvalues="total",
            sort=True,
            root={"color": "white"},
            pathbar={"visible": False},
            tiling={"pad": 0},
            textfont={"size": 13, "color": _text_on(rows["revenue"].to_list())},
        )
    )
    fig.update_layout(
        **{**_LAYOUT, "margin": {"l": 10, "r": 10, "t": 70, "b": 10}},
        title=_title("RFM segments", f"Tile area = customers; colour = revenue ({unit})"),
        height=460,
    )
    return fig


def quadrant_axes(quadrants: pl.DataFrame) -> dict:
    """Where :func:`quadrant_figure` draws its split lines and how far it zooms, from every customer of
    :func:`crm_core.metrics.portfolio.cost_quadrants`'s output: ``value_split`` and ``cost_split`` (the medians
    the quadrants are split at), ``x_range`` and ``y_range`` (opened zoomed to the 99th percentiles when a long
    tail would squeeze everyone else into a corner; None: plotly's own) and ``customers``. A page drawing a sample
    of the customers passes these along with it, so the lines are where the quadrants split, not the sample's
    medians."""
    axes = {"value_split": None, "cost_split": None, "x_range": None, "y_range": None, "customers": quadrants.height}
    if not quadrants.height:
        return axes
    axes["value_split"] = quadrants["value_axis"].median()
    axes["cost_split"] = quadrants["cost_axis"].median()
    if quadrants.height >= 200:  # plotly's Autoscale still shows every point
        x_hi = quadrants["cost_axis"].quantile(0.99)
        y_lo, y_hi = quadrants["value_axis"].min(), quadrants["value_axis"].quantile(0.99)
        if x_hi and y_hi and (x_hi < quadrants["cost_axis"].max() or y_hi < quadrants["value_axis"].max()):
            axes["x_range"] = [0, x_hi * 1.05]
            axes["y_range"] = [min(0.0, y_lo * 1.05), y_hi * 1.05]
    return axes


def quadrant_figure(
    quadrants: pl.DataFrame,
    *,
    currency: str | None = None,
    max_points: int = MAX_POINTS,
    axes: dict | None = None,
) -> go.Figure:
    """Value × cost-to-serve scatter (Shapiro et al. 1987), one colour per quadrant, median split lines.

    ``quadrants`` is :func:`crm_core.metrics.portfolio.cost_quadrants`'s output (``customer_id``,
    ``value_axis``, ``cost_axis``, ``value_basis``, ``quadrant``), or a sample of it with ``axes``
    (:func:`quadrant_axes` of every customer). The split lines are the medians of all customers; the points
    are at most ``max_points`` of them (:func:`sample_points`).
    """
    unit = money_unit(currency)
    basis = quadrants["value_basis"][0] if quadrants.height and "value_basis" in quadrants.columns else "margin"
    value_name = "Gross margin" if basis == "margin" else str(basis).replace("_", " ").capitalize()
    axes = quadrant_axes(quadrants) if axes is None else axes
    v_split, c_split = axes["value_split"], axes["cost_split"]
    pts = sample_points(quadrants, max_points).with_columns(pl.col("quadrant").cast(pl.String))
    dtype = quadrants.schema.get("quadrant")
    order = list(dtype.categories) if isinstance(dtype, pl.Enum) else sorted(set(pts["quadrant"].drop_nulls()))
    # SVG of at most MAX_POINTS (1,000), not WebGL: alone, Plotly draws 2,000 SVG points faster than any WebGL
    # scatter in software-rendered Chromium (~0.27 against 0.45-1.0 s; WebGL costs ~0.4 s even at 100 points). While
    # the Portfolio page drew all its sections at once, SVG lost in the page: Streamlit fades the stale page during
    # every run, which paints each circle again. Since the scatter has a tab of its own (ui.widgets.page_tabs) it
    # wins: opening that tab at 1M customers, medians of 5 in three runs each in turn (2026-12-06), 0.88 / 0.89 /
    # 0.67 s against 0.95 / 1.57 / 1.40 s for 5,000 WebGL points; the region filter set and cleared on that tab
    # about the same, ~0.8-1.3 s either way. 1,000 points, not 2,000 (2026-12-07): Plotly's time grows with the
    # points (drawing and styling each circle: a quadrant figure of the 10M bench drawn alone in Chromium, five
    # times, 320-590 ms with 2,000 points, 150-275 ms with 1,000), and the tab opened again at 1M customers
    # (timed as bench/pages.py does, old and new code in turn) took 0.63 / 0.84 s against 1.02 / 1.23 s. A random
    # 1,000 of any number of customers shows the same shape; the quadrant table counts everyone.
    fig = go.Figure()
    for name in order:
        part = pts.filter(pl.col("quadrant") == name)
        if part.is_empty():
            continue
        fig.add_trace(
            go.Scatter(
                x=_values(part["cost_axis"]), y=_values(part["value_axis"]), mode="markers", name=name,
                marker={"color": color_for(name), "size": 6, "opacity": 0.7},
                customdata=_values(part.select("customer_id")),
                hovertemplate=(
                    f"<b>%{{customdata[0]}}</b> — {name}<br>Cost to serve: %{{x:,.0f}} {unit}<br>"
                    f"{value_name}: %{{y:,.0f}} {unit}<extra></extra>"
                ),
            )
        )
    if v_split is not None:
        fig.add_hline(y=v_split, line={"color": GREY, "dash": "dash", "width": 1},
                      annotation_text=f"median {value_name.lower()}", annotation_position="bottom right")
        fig.add_vline(x=c_split, line={"color": GREY, "dash": "dash", "width": 1},
                      annotation_text="median cost to serve", annotation_position="top right")
    sub = "Split at the medians; Shapiro, Rangan, Moriarty & Ross (1987)"
    if axes["x_range"] is not None:
        sub += "; zoomed to the 99th percentiles (Autoscale shows all)"
    if axes["customers"] > pts.height:
        sub += f"; {pts.height:,} of {axes['customers']:,} customers drawn"
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"{value_name} × cost to serve", sub),
        xaxis={"title": {"text": f"Cost to serve ({unit})"}, "tickformat": ",.0f", "rangemode": "tozero",
               "range": axes["x_range"]},
        yaxis={"title": {"text": f"{value_name} ({unit})"}, "tickformat": ",.0f", "range": axes["y_range"]},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0, "title": {"text": "Quadrant"}},
        height=480,
    )
    return fig


# ---------------------------------------------------------------------------------------------------- customer
def purchases_figure(purchases: pl.DataFrame, *, customer: str, currency: str | None = None) -> go.Figure:
    """One customer's purchases over time: one bar per purchase, coloured by status.

    ``purchases`` has ``occurred_at``, ``amount`` and ``status`` (``crm_core.metrics.customer``).
    """
    unit = money_unit(currency)
    fig = go.Figure()
    frame = purchases.with_columns(pl.col("status").fill_null("completed").cast(pl.String))
    for status in dict.fromkeys(frame["status"].to_list()):
        part = frame.filter(pl.col("status") == status)
        fig.add_trace(
            go.Scatter(
                x=_values(part["occurred_at"]), y=_values(part["amount"]), name=status, mode="markers",
                marker={"color": color_for(status), "size": 8, "opacity": 0.8,
                            "symbol": "circle" if status == "completed" else "x"},
                hovertemplate=f"%{{x|%Y-%m-%d}}<br>%{{y:,.2f}} {unit} ({status})<extra></extra>",
            )
        )
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Purchases of {customer} over time", "One point per purchase"),
        xaxis={"title": {"text": "Purchase date (day)"}},
        yaxis={"title": {"text": f"Amount ({unit})"}, "tickformat": ",.0f"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0, "title": {"text": "Status"}},
        height=360,
    )
    return fig


def figure_titles(fig: go.Figure) -> Mapping[str, str | None]:
    """{"title", "x", "y"}: the texts a figure is titled with (for tests and reports)."""
    layout = fig.layout
    return {
        "title": layout.title.text,
        "x": layout.xaxis.title.text if layout.xaxis else None,
        "y": layout.yaxis.title.text if layout.yaxis else None,
    }


# ---------------------------------------------------------------------------------------------------- differentiate
def _channel_label(column: str) -> str:
    return column.removeprefix("mean_share_").replace("_", " ").title()


def silhouette_figure(silhouette_by_k: Mapping[int, float], chosen_k: int | None = None) -> go.Figure:
    """Mean silhouette per candidate k (Rousseeuw 1987); the fitted k highlighted."""
    ks = sorted(int(k) for k in silhouette_by_k)
    values = [float(silhouette_by_k[k]) for k in ks]
    colors = [OKABE_ITO[0] if k == chosen_k else GREY for k in ks]
    fig = go.Figure(
        go.Bar(
            x=ks, y=values, marker_color=colors,
            hovertemplate="k = %{x}<br>Mean silhouette: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        **_LAYOUT,
        title=_title("Silhouette by number of segments", "Higher = better separated segments; blue = fitted k"),
        xaxis={"title": {"text": "Number of segments k"}, "dtick": 1},
        yaxis={"title": {"text": "Mean silhouette (−1 to 1)"}},
        height=380,
        showlegend=False,
    )
    return fig


def profile_heatmap(profile: pl.DataFrame, features: Mapping[str, str]) -> go.Figure:
    """Segments × feature means as a heat table: colour scaled per column (min to max across segments),
    the real mean written in each cell. ``features``: {profile column: display label with unit}."""
    columns = [c for c in features if c in profile.columns]
    segments = profile["segment"].cast(pl.String).to_list()
    z, text = [], []
    for seg_row in profile.select(columns).rows():
        z_row, t_row = [], []
        for column, value in zip(columns, seg_row, strict=True):
            values = [v for v in profile[column].to_list() if v is not None]
            lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
            z_row.append(None if value is None else ((value - lo) / (hi - lo) if hi > lo else 0.5))
            if value is None:
                t_row.append("–")
            elif column.startswith("mean_share_"):
                t_row.append(f"{value:.0%}")
            else:
                t_row.append(f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}")
        z.append(z_row)
        text.append(t_row)
    labels = [features[c] for c in columns]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=labels, y=segments, text=text, texttemplate="%{text}", colorscale=SEQUENTIAL,
            showscale=False, xgap=2, ygap=2,
            hovertemplate="<b>%{y}</b><br>%{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        **{**_LAYOUT, "margin": {"l": 70, "r": 10, "t": 70, "b": 60}},
        title=_title("Segment profiles", "Mean per customer; colour scaled per column (dark = lowest, light = highest)"),
        xaxis={"title": {"text": "Feature (unit)"}, "side": "bottom", "automargin": True, "tickangle": -30},
        yaxis={"title": {"text": "Segment"}, "autorange": "reversed"},
        height=max(300, 70 + 46 * len(segments) + 170),
    )
    return fig


def segment_size_figure(profile: pl.DataFrame) -> go.Figure:
    """Share of customers and share of revenue per segment, side by side."""
    segments = profile["segment"].cast(pl.String).to_list()
    customers = profile["customers"].to_list()
    revenue = profile["revenue"].fill_null(0).to_list()
    fig = go.Figure()
    fig.add_bar(
        y=segments, x=profile["customer_share"].fill_null(0).to_list(), orientation="h", name="Customers",
        marker_color=OKABE_ITO[0], customdata=customers,
        hovertemplate="<b>%{y}</b><br>Customers: %{customdata:,} (%{x:.1%})<extra></extra>",
    )
    fig.add_bar(
        y=segments, x=profile["revenue_share"].fill_null(0).to_list(), orientation="h", name="Revenue",
        marker_color=OKABE_ITO[1], customdata=revenue,
        hovertemplate="<b>%{y}</b><br>Revenue: %{customdata:,.0f} (%{x:.1%})<extra></extra>",
    )
    fig.update_layout(
        **_LAYOUT,
        title=_title("Size and value per segment", "Share of the segmented customers and of their revenue"),
        barmode="group",
        xaxis={"title": {"text": "Share (%)"}, "tickformat": ".0%"},
        yaxis={"title": {"text": "Segment"}, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.18},
        height=max(320, 120 + 44 * len(segments)),
    )
    return fig


def channel_mix_figure(profile: pl.DataFrame) -> go.Figure:
    """Mean share of each sales channel in the segment's customers' completed purchases (stacked to 100 %)."""
    segments = profile["segment"].cast(pl.String).to_list()
    fig = go.Figure()
    for column in [c for c in profile.columns if c.startswith("mean_share_")]:
        channel = _channel_label(column)
        fig.add_bar(
            y=segments, x=profile[column].fill_null(0).to_list(), orientation="h", name=channel,
            marker_color=color_for(column.removeprefix("mean_share_")),
            hovertemplate=f"<b>%{{y}}</b><br>{channel}: %{{x:.1%}} of purchases<extra></extra>",
        )
    fig.update_layout(
        **_LAYOUT,
        title=_title("Channel mix per segment", "Mean share of a customer's purchases per sales channel"),
        barmode="stack",
        xaxis={"title": {"text": "Share of purchases (%)"}, "tickformat": ".0%", "range": [0, 1]},
        yaxis={"title": {"text": "Segment"}, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.18, "title": {"text": "Channel"}},
        height=max(320, 120 + 40 * len(segments)),
    )
    return fig


def segment_intensity_figure(intensity: pl.DataFrame, *, currency: str | None = None) -> go.Figure:
    """Interactions per customer and cost to serve per customer, one bar per segment (two panels).

    ``intensity`` has ``segment``, ``interactions_per_customer`` and ``cost_per_customer``."""
    from plotly.subplots import make_subplots

    unit = money_unit(currency)
    segments = intensity["segment"].cast(pl.String).to_list()
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.08,
                        subplot_titles=("Interactions / customer", "Cost to serve / customer"))
    colors = [color_for(s) for s in segments]
    fig.add_bar(
        y=segments, x=intensity["interactions_per_customer"].fill_null(0).to_list(), orientation="h",
        marker_color=colors, name="Interactions per customer",
        hovertemplate="<b>%{y}</b><br>Interactions per customer: %{x:,.1f}<extra></extra>", row=1, col=1,
    )
    fig.add_bar(
        y=segments, x=intensity["cost_per_customer"].fill_null(0).to_list(), orientation="h",
        marker_color=colors, name="Cost to serve per customer",
        hovertemplate=f"<b>%{{y}}</b><br>Cost to serve per customer: %{{x:,.2f}} {unit}<extra></extra>",
        row=1, col=2,
    )
    fig.update_layout(
        **{**_LAYOUT, "margin": {**_LAYOUT["margin"], "t": 100}},
        title=_title("Interaction intensity per segment", "In the analysis window"),
        showlegend=False,
        height=max(320, 120 + 40 * len(segments)),
    )
    fig.update_annotations(font_size=12)
    fig.update_xaxes(title_text="Interactions (count)", row=1, col=1)
    fig.update_xaxes(title_text=f"Cost per customer ({unit})", row=1, col=2)
    fig.update_yaxes(title_text="Segment", autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    return fig


def clv_tier_figure(tiers: pl.DataFrame, *, currency: str | None = None) -> go.Figure:
    """Share of customers and of predicted CLV per CLV tier (``tier``, ``customer_share``, ``clv_share``,
    ``clv``)."""
    unit = money_unit(currency)
    names = tiers["tier"].cast(pl.String).to_list()
    fig = go.Figure()
    fig.add_bar(x=names, y=tiers["customer_share"].to_list(), name="Customers", marker_color=OKABE_ITO[0],
                hovertemplate="<b>%{x}</b><br>Customers: %{y:.1%}<extra></extra>")
    fig.add_bar(x=names, y=tiers["clv_share"].fill_null(0).to_list(), name="Predicted CLV",
                marker_color=OKABE_ITO[1], customdata=tiers["clv"].fill_null(0).to_list(),
                hovertemplate=f"<b>%{{x}}</b><br>Predicted CLV: %{{customdata:,.0f}} {unit} (%{{y:.1%}})<extra></extra>")
    fig.update_layout(
        **_LAYOUT,
        title=_title("CLV tiers", "Customers ranked by predicted 12-month CLV"),
        barmode="group",
        xaxis={"title": {"text": "CLV tier"}},
        yaxis={"title": {"text": "Share (%)"}, "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
        height=380,
    )
    return fig


# ---------------------------------------------------------------------------------------------------- retention
def cohort_heatmap(cells: pl.DataFrame, *, measure: str = "customers", period: str = "month",
                   currency: str | None = None) -> go.Figure:
    """Cohort × age heatmap of ``Cohorts.cells`` (cohort, age, value, count, cohort_size, partial): share of the
    cohort active (customers) or revenue retained vs the first period (revenue). Cells of a period still running
    (``partial``) are drawn grey with "◔" and never coloured as whole periods."""
    unit = money_unit(currency)
    what = "Customers still buying (% of cohort)" if measure == "customers" else "Revenue vs first period (%)"
    fmt = "%Y-%m" if period == "month" else "%Y-Q"
    cohorts = sorted(set(cells["cohort"].to_list())) if cells.height else []
    ages = sorted(set(cells["age"].to_list())) if cells.height else []

    def label(d):
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}" if period == "quarter" else d.strftime(fmt)

    ylabels = [label(c) for c in cohorts]
    index = {c: i for i, c in enumerate(cohorts)}
    full = [[None] * len(ages) for _ in cohorts]
    part = [[None] * len(ages) for _ in cohorts]
    # each trace carries the labels of its own cells only: the browser lays out every text it is given, and a
    # monthly grid of three years is ~650 cells (hover texts stay on both: the top trace answers every hover).
    # Past COHORT_LABEL_AGES columns the cells are written on no more: Plotly shrinks a label to its cell, ~6 px
    # at 36 columns on a laptop screen (seen in the browser), and those unreadable labels were about half the
    # heatmap's drawing time (0.25-0.3 of 0.5 s at 666 cells, Chromium, 2026-12-06); hover and the table say it.
    labelled = len(ages) <= COHORT_LABEL_AGES
    text = [[""] * len(ages) for _ in cohorts]
    part_text = [[""] * len(ages) for _ in cohorts]
    hover = [[""] * len(ages) for _ in cohorts]
    count_label = "Active customers" if measure == "customers" else f"Revenue ({unit})"
    for row in cells.to_dicts():
        i, j = index[row["cohort"]], row["age"]
        value = row["value"]
        if row["partial"]:
            part[i][j] = 0.0
            part_text[i][j] = "◔"
        else:
            full[i][j] = value
            text[i][j] = "" if value is None or not labelled else f"{value:.0%}"
        hover[i][j] = (
            f"Cohort {ylabels[i]}, age {j} {period}s<br>{what}: "
            + ("–" if value is None else f"{value:.1%}")
            + f"<br>{count_label}: {row['count'] or 0:,.0f} of cohort size {row['cohort_size']:,}"
            + ("<br><b>Partial period</b> (still running)" if row["partial"] else "")
        )
    fig = go.Figure()
    full, part, text, part_text, hover = (_values(grid) for grid in (full, part, text, part_text, hover))
    fig.add_heatmap(z=full, x=ages, y=ylabels, colorscale=SEQUENTIAL, zmin=0,
                    zmax=1 if measure == "customers" else None, text=text, texttemplate="%{text}",
                    customdata=hover, hovertemplate="%{customdata}<extra></extra>",
                    colorbar={"title": {"text": "%"}, "tickformat": ".0%"}, xgap=1, ygap=1, name="Whole periods")
    fig.add_heatmap(z=part, x=ages, y=ylabels, colorscale=[[0, "#DDDDDD"], [1, "#DDDDDD"]], showscale=False,
                    text=part_text, texttemplate="%{text}", customdata=hover,
                    hovertemplate="%{customdata}<extra></extra>",
                    xgap=1, ygap=1, name="Partial periods")
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Cohort retention by {period} — {what.split(' (')[0].lower()}",
                     "Rows: acquisition cohort · grey ◔ cells: period still running (partial)"
                     + ("" if labelled else " · hover a cell for its value")),
        xaxis={"title": {"text": f"Age ({period}s since first purchase)"}, "dtick": 1},
        yaxis={"title": {"text": f"Acquisition cohort ({period})"}, "autorange": "reversed", "type": "category"},
        height=max(380, 22 * len(cohorts) + 160),
    )
    return fig


def churn_trend_figure(trend: pl.DataFrame, *, period: str = "month") -> go.Figure:
    """Churn rate per period (``churn_trend``: period_start, active_at_start, churned, churn_rate, partial);
    a partial last period is hatched grey."""
    colors = [GREY if p else OKABE_ITO[3] for p in trend["partial"].to_list()]
    patterns = ["/" if p else "" for p in trend["partial"].to_list()]
    custom = list(zip(trend["active_at_start"].to_list(), trend["churned"].to_list(),
                      ["partial period (so far)" if p else "whole period" for p in trend["partial"].to_list()]))
    fig = go.Figure()
    fig.add_bar(x=trend["period_start"].to_list(), y=trend["churn_rate"].to_list(), marker_color=colors,
                marker_pattern_shape=patterns, customdata=custom, name="Churn rate",
                hovertemplate="<b>%{x|%Y-%m-%d}</b><br>Churn rate: %{y:.1%}<br>Active at start: %{customdata[0]:,}"
                              "<br>Churned: %{customdata[1]:,}<br>%{customdata[2]}<extra></extra>")
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Churn rate per {period}", "Share of the customers active at the start who lapsed; "
                     "hatched grey: partial period"),
        xaxis={"title": {"text": f"Period ({period} start)"}},
        yaxis={"title": {"text": "Churn rate (%)"}, "tickformat": ".0%", "rangemode": "tozero"},
        height=380,
    )
    return fig


def survival_figure(km: pl.DataFrame, median_days: float | None = None) -> go.Figure:
    """Kaplan-Meier survival (``KaplanMeier.to_frame``: time, at_risk, survival, lower, upper) as a step line
    with its 95 % band; the median lifetime marked when finite."""
    km = thin_curve(km)
    t = _values(km["time"])
    fig = go.Figure()
    fig.add_scatter(x=t, y=_values(km["upper"]), mode="lines", line={"width": 0, "shape": "hv"},
                    hoverinfo="skip", showlegend=False)
    fig.add_scatter(x=t, y=_values(km["lower"]), mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                    fillcolor="rgba(0,114,178,0.2)", name="95% band", hoverinfo="skip")
    fig.add_scatter(x=t, y=_values(km["survival"]), mode="lines", line={"color": OKABE_ITO[0], "shape": "hv"},
                    name="Still a customer", customdata=_values(km.select("lower", "upper", "at_risk")),
                    hovertemplate="Day %{x:,.0f}: %{y:.1%} still customers<br>95% band %{customdata[0]:.1%}–"
                                  "%{customdata[1]:.1%}<br>At risk: %{customdata[2]:,.0f}<extra></extra>")
    if median_days is not None and math.isfinite(median_days):
        fig.add_vline(x=median_days, line={"color": OKABE_ITO[3], "dash": "dash"},
                      annotation_text=f"Median {median_days:,.0f} days", annotation_position="top right")
        fig.add_hline(y=0.5, line={"color": GREY, "dash": "dot"})
    fig.update_layout(
        **_LAYOUT,
        title=_title("Customer survival (Kaplan-Meier)", "Share of customers not yet lapsed by days since first purchase"),
        xaxis={"title": {"text": "Days since first purchase"}},
        yaxis={"title": {"text": "Still a customer (%)"}, "tickformat": ".0%", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.2},
        height=400,
    )
    return fig


def clv_histogram(frame: pl.DataFrame, *, currency: str | None = None, bins: int = 40) -> go.Figure:
    """Histogram of predicted CLV (``clv``) over customers."""
    unit = money_unit(currency)
    fig = go.Figure()
    _add_binned_histogram(fig, frame["clv"], bins,
                          f"CLV %{{customdata[0]:,.0f}} to %{{customdata[1]:,.0f}} {unit}<br>Customers: %{{y:,}}<extra></extra>")
    fig.update_layout(
        **_LAYOUT,
        title=_title("Predicted CLV, next 12 months", "BG/NBD × Gamma-Gamma, discounted"),
        xaxis={"title": {"text": f"Predicted CLV ({unit})"}},
        yaxis={"title": {"text": "Customers (count)"}},
        bargap=0,
        height=380,
    )
    return fig


def p_alive_heatmap(grid: pl.DataFrame, recency_order: list[str], frequency_order: list[str]) -> go.Figure:
    """Mean P(alive) per recency × frequency bin (``retention_view.p_alive_grid``)."""
    rows = [r for r in recency_order if r in set(grid["recency_bin"].to_list())]
    cols = [f for f in frequency_order if f in set(grid["frequency_bin"].to_list())]
    z = [[None] * len(cols) for _ in rows]
    n = [[0] * len(cols) for _ in rows]
    for r in grid.to_dicts():
        i, j = rows.index(r["recency_bin"]), cols.index(r["frequency_bin"])
        z[i][j], n[i][j] = r["mean_p_alive"], r["customers"]
    fig = go.Figure()
    fig.add_heatmap(z=z, x=cols, y=rows, customdata=n, colorscale=SEQUENTIAL, zmin=0, zmax=1,
                    texttemplate="%{z:.0%}", colorbar={"title": {"text": "P(alive)"}, "tickformat": ".0%"},
                    hovertemplate="Last purchase %{y} weeks ago, %{x} repeat purchases<br>Mean P(alive): %{z:.1%}"
                                  "<br>Customers: %{customdata:,}<extra></extra>", xgap=1, ygap=1)
    fig.update_layout(
        **_LAYOUT,
        title=_title("P(alive) by recency and frequency", "Mean probability that the customer is still active"),
        xaxis={"title": {"text": "Frequency (repeat purchase days)"}, "type": "category"},
        yaxis={"title": {"text": "Recency (weeks since last purchase)"}, "type": "category"},
        height=400,
    )
    return fig


def holdout_figure(by_bin: pl.DataFrame, *, months: int | None = None) -> go.Figure:
    """Mean predicted vs actual holdout purchases per customer by calibration-frequency bin
    (``retention_view.holdout_by_frequency``)."""
    x = by_bin["frequency_bin"].to_list()
    n = by_bin["customers"].to_list()
    fig = go.Figure()
    fig.add_bar(x=x, y=by_bin["actual_mean"].to_list(), name="Actual", marker_color=OKABE_ITO[0], customdata=n,
                hovertemplate="Frequency %{x}: actual %{y:.2f} purchases per customer<br>Customers: %{customdata:,}"
                              "<extra></extra>")
    fig.add_bar(x=x, y=by_bin["predicted_mean"].to_list(), name="Predicted", marker_color=OKABE_ITO[1],
                customdata=n, hovertemplate="Frequency %{x}: predicted %{y:.2f} purchases per customer<br>"
                                            "Customers: %{customdata:,}<extra></extra>")
    span = f" ({months} months)" if months else ""
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Holdout check{span}: predicted vs actual purchases",
                     "Mean per customer, by repeat purchases in the calibration period"),
        barmode="group",
        xaxis={"title": {"text": "Frequency in calibration (repeat purchase days)"}, "type": "category"},
        yaxis={"title": {"text": "Purchases per customer in holdout (count)"}},
        legend={"orientation": "h", "y": -0.2},
        height=400,
    )
    return fig


# ---------------------------------------------------------------------------------------------------- cost to serve
def cost_pool_figure(pools: pl.DataFrame, *, currency: str | None = None) -> go.Figure:
    """Cost to serve per customer served, by cost pool (``cost.cost_by(..., "pool")``), largest first."""
    unit = money_unit(currency)
    frame = pools.with_columns(pl.col("cost_per_customer").fill_null(0.0)).sort("cost", descending=True)
    fig = go.Figure()
    fig.add_bar(
        x=frame["cost_per_customer"].to_list(), y=frame["pool"].to_list(), orientation="h", name="Cost",
        marker_color=[color_for(p) for p in frame["pool"].to_list()],
        customdata=list(zip(frame["cost"].fill_null(0).to_list(), frame["share"].fill_null(0).to_list(), strict=True)),
        hovertemplate=(f"<b>%{{y}}</b><br>Per customer served: %{{x:,.2f}} {unit}<br>Total: %{{customdata[0]:,.0f}} "
                       f"{unit} (%{{customdata[1]:.1%}} of cost to serve)<extra></extra>"),
    )
    fig.update_layout(
        **_LAYOUT,
        title=_title("Cost to serve by activity pool", "Per customer served in the window; pools add up to the total"),
        xaxis={"title": {"text": f"Cost per customer served ({unit})"}},
        yaxis={"title": {"text": "Cost pool"}, "autorange": "reversed"},
        showlegend=False,
        height=max(320, 110 + 36 * frame.height),
    )
    return fig


def cost_by_figure(groups: pl.DataFrame, by: str, *, label: str | None = None, currency: str | None = None) -> go.Figure:
    """Cost to serve per customer by group (``cost.cost_by(..., by)``), with the cost per unit of revenue on hover."""
    unit = money_unit(currency)
    label = label or by.capitalize()
    names = groups[by].cast(pl.String).to_list()
    fig = go.Figure()
    fig.add_bar(
        x=groups["cost_per_customer"].fill_null(0).to_list(), y=names, orientation="h", name="Cost per customer",
        marker_color=[color_for(n) for n in names],
        customdata=list(zip(groups["customers"].to_list(), groups["cost_to_serve"].fill_null(0).to_list(),
                            groups["cost_per_revenue"].fill_null(float("nan")).to_list(), strict=True)),
        hovertemplate=(f"<b>%{{y}}</b><br>Cost per customer: %{{x:,.2f}} {unit}<br>Customers: %{{customdata[0]:,}}"
                       f"<br>Cost to serve: %{{customdata[1]:,.0f}} {unit}<br>Per unit of revenue: "
                       "%{customdata[2]:.3f}<extra></extra>"),
    )
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"Cost to serve per customer by {label.lower()}", "Customers served in the window"),
        xaxis={"title": {"text": f"Cost to serve per customer ({unit})"}},
        yaxis={"title": {"text": label}, "autorange": "reversed"},
        showlegend=False,
        height=max(300, 110 + 36 * len(names)),
    )
    return fig


def profit_histogram(profit: pl.Series | pl.DataFrame, *, currency: str | None = None, bins: int = 50) -> go.Figure:
    """Histogram of net profit per customer, with a line at zero (left of it: unprofitable customers).
    ``profit``: one value per customer, or those values binned already (:func:`histogram_bins`)."""
    unit = money_unit(currency)
    fig = go.Figure()
    _add_binned_histogram(fig, profit, bins,
                          f"Net profit %{{customdata[0]:,.0f}} to %{{customdata[1]:,.0f}} {unit}<br>Customers: %{{y:,}}"
                          "<extra></extra>")
    fig.add_vline(x=0, line_color=OKABE_ITO[3], line_dash="dash", annotation_text="break-even",
                  annotation_position="top right")
    fig.update_layout(
        **_LAYOUT,
        title=_title("Profitability distribution", "Net profit per customer: revenue − cost of goods − cost to serve"),
        xaxis={"title": {"text": f"Net profit per customer ({unit})"}},
        yaxis={"title": {"text": "Customers (count)"}},
        bargap=0,
        showlegend=False,
        height=380,
    )
    return fig


def whale_figure(curve: pl.DataFrame, *, peak_share: float | None, peak_at: float | None,
                 unprofitable_share: float | None, currency: str | None = None) -> go.Figure:
    """Whale curve (Kaplan & Cooper 1998): cumulative share of total profit against the share of customers
    ranked from most to least profitable, with the peak and the unprofitable share marked. ``curve`` is
    ``WhaleCurve.frame``; without shares (total profit 0 or less) the cumulative profit itself is drawn."""
    unit = money_unit(currency)
    thin = thin_curve(curve)
    shares = thin["cumulative_share"].null_count() < thin.height if thin.height else False
    y = thin["cumulative_share"] if shares else thin["cumulative_profit"]
    fig = go.Figure()
    fig.add_scatter(
        x=_values(thin["customer_share"]), y=_values(y), mode="lines", name="Whale curve",
        line={"color": OKABE_ITO[0], "width": 3}, customdata=_values(thin["rank"]),
        hovertemplate=("Top %{x:.1%} of customers (rank %{customdata:,})<br>"
                       + ("Cumulative profit: %{y:.1%} of total" if shares else f"Cumulative profit: %{{y:,.0f}} {unit}")
                       + "<extra></extra>"),
    )
    if shares:
        fig.add_hline(y=1.0, line_color=GREY, line_dash="dot", annotation_text="100% of total profit",
                      annotation_position="top left")
    if shares and peak_share is not None and peak_at is not None:
        fig.add_scatter(x=[peak_at], y=[peak_share], mode="markers", name="Peak",
                        marker={"color": OKABE_ITO[3], "size": 11},
                        hovertemplate="Peak: %{y:.0%} of total profit<br>at the top %{x:.1%} of customers<extra></extra>")
        fig.add_annotation(x=peak_at, y=peak_share,
                           text=f"peak {peak_share:.1%} of profit<br>at the top {peak_at:.1%} of customers",
                           showarrow=True, arrowhead=2, ax=-110, ay=80, bgcolor="rgba(255,255,255,0.8)")
    if unprofitable_share:
        fig.add_vrect(x0=1 - unprofitable_share, x1=1, fillcolor=OKABE_ITO[3], opacity=0.12, line_width=0)
        fig.add_annotation(x=1 - unprofitable_share, y=0.08, yref="paper", xanchor="right", showarrow=False,
                           align="right", font={"color": OKABE_ITO[3]},
                           text=f"unprofitable: {unprofitable_share:.1%}<br>of customers →")
    fig.update_layout(
        **_LAYOUT,
        title=_title("Whale curve of customer profitability",
                     "Customers ranked from most to least profitable (Kaplan & Cooper 1998)"),
        xaxis={"title": {"text": "Share of customers, most profitable first (%)"}, "tickformat": ".0%", "range": [0, 1]},
        yaxis={"title": {"text": "Cumulative share of total profit (%)" if shares else f"Cumulative profit ({unit})"},
               **({"tickformat": ".0%"} if shares else {})},
        legend={"orientation": "h", "y": -0.2},
        height=430,
    )
    return fig
