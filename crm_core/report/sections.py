"""The report's content, built once: the executive review headline and one section per page of the walk
(Portfolio, Differentiate, Retention & CLV, Cost to serve), each with its title, the CRM model stage it serves,
its key numbers, plotly figures and Polars tables. Every format (``html``, ``pdf``, ``pptx``, ``xlsx``) writes
the same :class:`Report`, so a number in a file is the number on screen.

Everything reuses the engine's metric functions and the app's figure builders (:mod:`crm_core.charts`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl

from crm_core import charts
from crm_core.metrics import catalog, clv, cost, facts, portfolio, retention
from crm_core.metrics import highlights as hl
from crm_core.metrics.ranking import top_rows
from crm_core.metrics.scope import Scope
from crm_core.metrics.targets import REVIEW_METRICS
from crm_core.report import figures as rfig
from crm_core.report.periods import ReviewPeriod
from crm_core.report.review import Review, build_review, kpi_table, movers_table

log = logging.getLogger(__name__)

TOP_CUSTOMERS = 15

# Column kinds for formatting tables in PDF / PowerPoint / HTML (Excel keeps the raw numbers).
MONEY, SHARE, COUNT, NUMBER, TEXT, DATE, RATIO = "money", "share", "count", "number", "text", "date", "ratio"


@dataclass
class ReportFigure:
    key: str
    figure: go.Figure
    caption: str = ""

    @property
    def title(self) -> str:
        t = self.figure.layout.title
        return (t.text or self.key) if t is not None else self.key


@dataclass
class ReportTable:
    key: str
    title: str
    frame: pl.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)  # column -> MONEY / SHARE / ...; default by dtype
    note: str = ""

    def kind(self, column: str) -> str:
        if column in self.kinds:
            return self.kinds[column]
        dtype = self.frame.schema[column]
        if dtype.is_integer():
            return COUNT
        if dtype.is_float():
            return NUMBER
        if dtype in (pl.Date, pl.Datetime):
            return DATE
        return TEXT


@dataclass
class Section:
    key: str
    title: str
    stage: str  # the CRM model stage the page serves
    question: str  # what the section answers
    numbers: list[tuple[str, str]] = field(default_factory=list)  # (label, formatted value) key numbers
    figures: list[ReportFigure] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. why a figure is missing


@dataclass
class Report:
    dataset: str
    currency: str | None
    period: ReviewPeriod
    review: Review
    sections: list[Section]
    generated_at: datetime

    @property
    def money_unit(self) -> str:
        return charts.money_unit(self.currency)

    @property
    def title(self) -> str:
        return f"CRM Lens executive review — {self.period.label}"

    @property
    def filters(self) -> list[tuple[str, str]]:
        """The filters applied, as (label, values); "all" where a filter narrows nothing."""
        s = self.period.scope
        return [
            ("Region", ", ".join(s.regions) or "all"),
            ("Segment", ", ".join(s.segments) or "all"),
            ("Channel", ", ".join(s.channels) or "all"),
            ("Owner", ", ".join(s.owners) or "all"),
        ]

    @property
    def period_text(self) -> str:
        s, window = self.period.scope, self.period.kind == "window"
        text = self.period.label
        if s.start and s.end and not window:
            text += f" ({s.start:%Y-%m-%d} to {s.end:%Y-%m-%d})"
        if self.period.comparable:
            p = self.period.previous
            text += f", compared with {self.period.previous_label}"
            if not window:
                text += f" ({p.start:%Y-%m-%d} to {p.end:%Y-%m-%d})"
        elif self.period.previous is not None:
            text += "; the previous period starts before the data, so no change is shown"
        return text

    def all_figures(self) -> list[ReportFigure]:
        return [f for s in self.sections for f in s.figures]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def cell_text(value: Any, kind: str, money_unit: str = "") -> str:
    """A table cell as people read it."""
    if _missing(value):
        return "–"
    if kind == SHARE:
        return f"{value:.1%}"
    if kind == MONEY:
        return f"{value:,.0f}"
    if kind == COUNT:
        return f"{value:,.0f}"
    if kind == RATIO:
        return f"{value:.3f}"
    if kind == NUMBER:
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if kind == DATE:
        return f"{value:%Y-%m-%d}" if hasattr(value, "strftime") else str(value)
    return str(value)


def _pct(v) -> str:
    return "–" if _missing(v) else f"{v:.1%}"


def _money(v, unit: str) -> str:
    return "–" if _missing(v) else f"{hl.compact(v)} {unit}" if abs(v) >= 1000 else f"{v:,.2f} {unit}"


# ---------------------------------------------------------------------------------------------------- sections
def review_section(review: Review) -> Section:
    unit = review.money_unit
    numbers = []
    for r in review.kpis.to_dicts():
        value = hl.format_value(r["metric_id"], r["current"], unit)
        if r["change"]:
            value += f" ({r['change']})"
        numbers.append((r["label"], value))
    figs = [ReportFigure("kpi_trends", rfig.kpi_trend_figure(review.trend, REVIEW_METRICS, money_unit=unit))]
    tables = [
        ReportTable("kpis", "Headline KPIs", kpi_table(review),
                    note="Change: points for shares and scores, % for counts and money. Status against the "
                         f"targets set for the {review.period.kind}."),
        ReportTable("highlights", "Highlights and the figures they cite", hl.highlights_frame(review.highlights)),
    ]
    notes = []
    if review.period.comparable:
        for mid in ("revenue", "retention_rate"):
            if not review.movers.filter(pl.col("metric_id") == mid).is_empty():
                figs.append(ReportFigure(f"movers_{mid}", rfig.movers_figure(
                    review.movers, mid, money_unit=unit, period=review.period.label,
                    previous_period=review.period.previous_label or "")))
                tables.append(ReportTable(f"movers_{mid}", f"Biggest movers: {catalog.metric(mid).label.lower()}",
                                          movers_table(review, mid)))
    else:
        notes.append("No movers: there is no whole previous period to compare with.")
    risk = review.at_risk.select(
        pl.col("customer_id").alias("Customer"), pl.col("name").alias("Name"), pl.col("region").alias("Region"),
        pl.col("segment").alias("Segment"), pl.col("last_purchase").alias("Last purchase"),
        pl.col("historical_value").alias(f"Value to date ({unit})"), pl.col("clv").alias(f"CLV 12 months ({unit})"),
        pl.col("p_alive").alias("P(alive)"),
    )
    n, value = review.at_risk_summary["count"], review.at_risk_summary["value"]
    tables.append(ReportTable(
        "at_risk", "High-value customers at risk", risk,
        {f"Value to date ({unit})": MONEY, f"CLV 12 months ({unit})": MONEY, "P(alive)": SHARE},
        note=f"{n:,} customers in the top 20% by predicted CLV or value to date with P(alive) below 50% "
             f"({_money(value, unit)} of value to date); the {min(n, risk.height)} most valuable shown.",
    ))
    if review.clv_note:
        notes.append(f"No CLV model for this period: {review.clv_note}")
    return Section("review", "Executive review", "Payne & Frow · performance assessment",
                   "How did the period go against the one before and against the targets, and where did it move?",
                   numbers, figs, tables, notes)


def portfolio_section(store, scope: Scope, unit: str, currency: str | None) -> Section:
    buyers = facts.customer_facts(store, scope).filter(pl.col("purchases").fill_null(0) > 0)
    sec = Section("portfolio", "Portfolio", "CRM value chain · customer portfolio analysis",
                  "Who brings the value: how concentrated is revenue, and which customers matter most?")
    if buyers.is_empty():
        sec.notes.append("Nobody bought in the period.")
        return sec
    s = portfolio.portfolio_summary(buyers)
    sec.numbers = [
        ("Customers", f"{s['customers']:,}"), ("Revenue", _money(s["revenue"], unit)),
        ("Top-10% revenue share", _pct(s["top10_share_revenue"])),
        ("Top-20% revenue share", _pct(s["top20_share_revenue"])),
        ("Gini", "–" if s["gini_revenue"] is None else f"{s['gini_revenue']:.2f}"),
        ("Class A customers", _pct(s["abc_a_share"])),
    ]
    curve = portfolio.pareto(buyers, "revenue")
    segmented = portfolio.rfm_segments(portfolio.rfm_scores(buyers))
    rfm = portfolio.rfm_summary(segmented)
    sec.figures = [
        ReportFigure("pareto", charts.pareto_figure(curve.curve.select("customer_share", "value_share"),
                                                    curve.pareto_point, value_label="revenue")),
        ReportFigure("rfm", charts.rfm_treemap(rfm, currency=currency)),
    ]
    abc = portfolio.abc_summary(portfolio.abc_classes(buyers, "revenue"))
    sec.tables = [
        ReportTable("abc", "ABC classes (revenue)", abc.select(
            pl.col("abc").cast(pl.String).alias("Class"), pl.col("customers").alias("Customers"),
            pl.col("customer_share").alias("% of customers"), pl.col("value").alias(f"Revenue ({unit})"),
            pl.col("value_share").alias("% of revenue")),
            {"% of customers": SHARE, f"Revenue ({unit})": MONEY, "% of revenue": SHARE}),
        ReportTable("rfm", "RFM segments", rfm.select(
            pl.col("segment").cast(pl.String).alias("Segment"), pl.col("customers").alias("Customers"),
            pl.col("customer_share").alias("% of customers"), pl.col("revenue").alias(f"Revenue ({unit})"),
            pl.col("revenue_share").alias("% of revenue")),
            {"% of customers": SHARE, f"Revenue ({unit})": MONEY, "% of revenue": SHARE}),
        ReportTable("top_customers", f"Top {TOP_CUSTOMERS} customers by revenue",
                    top_rows(buyers, TOP_CUSTOMERS, "revenue").select(
                        pl.col("customer_id").alias("Customer"), pl.col("name").alias("Name"),
                        pl.col("region").alias("Region"), pl.col("segment").alias("Segment"),
                        pl.col("revenue").alias(f"Revenue ({unit})"), pl.col("purchases").alias("Purchase days"),
                        pl.col("net_profit").alias(f"Net profit ({unit})")),
                    {f"Revenue ({unit})": MONEY, f"Net profit ({unit})": MONEY}),
    ]
    return sec


_FEATURE_LABELS = {
    "mean_recency_days": "Recency (days)",
    "mean_frequency": "Frequency (purchase days)",
    "mean_monetary": "Revenue per customer ({unit})",
    "mean_tenure_days": "Tenure (days)",
    "mean_clv": "CLV 12 m per customer ({unit})",
    "mean_cost_to_serve": "Cost to serve per customer ({unit})",
}


def differentiate_section(store, scope: Scope, unit: str, currency: str | None) -> Section:
    sec = Section("differentiate", "Differentiate", "IDIC · differentiate, interact, customize",
                  "Which groups of customers differ in value and needs, and what should each get?")
    from crm_core import views

    # the page's segmentation (kept for an unfiltered scope; a region's customers in the segments of all customers)
    seg = views.compute(store, "segmentation", scope, k="auto")
    if not seg.get("customers"):
        sec.notes.append("Nobody bought in the period.")
        return sec
    if seg.get("error"):
        sec.notes.append(f"No segments: {seg['error']}")
        return sec
    profile = seg["profile"]
    labels = {c: v.format(unit=unit) for c, v in _FEATURE_LABELS.items() if c in profile.columns}
    for c in profile.columns:
        if c.startswith("mean_share_"):
            labels[c] = c.removeprefix("mean_share_").replace("_", " ").title() + " (% of purchases)"
    sec.numbers = [
        ("Segments", f"{seg['k']}"),
        ("Silhouette", "–" if _missing(seg["silhouette"]) else f"{seg['silhouette']:.2f}"),
        ("Customers segmented", f"{seg['customers'] - seg['skipped']:,}"),
        ("Largest segment", f"{profile.sort('customers', descending=True)['segment'][0]}"),
    ]
    sec.figures = [
        ReportFigure("segment_sizes", charts.segment_size_figure(profile)),
        ReportFigure("segment_profile", charts.profile_heatmap(profile, labels)),
        ReportFigure("channel_mix", charts.channel_mix_figure(profile)),
    ]
    cols = [pl.col("segment").cast(pl.String).alias("Segment"), pl.col("customers").alias("Customers"),
            pl.col("customer_share").alias("% of customers")]
    kinds = {"% of customers": SHARE}
    if "mean_monetary" in profile.columns:
        cols.append(pl.col("mean_monetary").alias(f"Revenue per customer ({unit})"))
        kinds[f"Revenue per customer ({unit})"] = MONEY
    if "action" in profile.columns:
        cols.append(pl.col("action").alias("Suggested action"))
    sec.tables = [ReportTable("segments", "Segments and suggested actions", profile.select(cols), kinds)]
    return sec


def retention_section(store, scope: Scope, review: Review, unit: str, currency: str | None) -> Section:
    sec = Section("retention", "Retention & CLV", "QCI · customer management (retention); Gartner · metrics",
                  "Are customers staying, how long do they last, and what are they worth?")
    summary = retention.retention_summary(store, scope)
    km, median = retention.survival_curve(store, scope, review.churn_days)
    trend_scope = scope.with_window(None, scope.end)
    trend = retention.churn_trend(store, trend_scope, "month", review.churn_days).tail(24)
    ret = review.kpi("retention_rate")
    sec.numbers = [
        ("Retention rate", _pct(ret.get("current"))),
        ("Churn rate", _pct(review.kpi("churn_rate").get("current"))),
        ("Repeat purchase rate", _pct(summary["repeat_rate"])),
        ("Median lifetime", "–" if _missing(median) else
         ("> observed" if median == float("inf") else f"{median:,.0f} days")),
        ("Net revenue retention", _pct(summary["nrr"])),
        ("Average CLV", _money(review.kpi("avg_clv").get("current"), unit)),
    ]
    if trend.height:
        sec.figures.append(ReportFigure("churn_trend", charts.churn_trend_figure(trend, period="month")))
    if km is not None:
        sec.figures.append(ReportFigure("survival", charts.survival_figure(
            km.to_frame(), None if _missing(median) or median == float("inf") else median)))
    try:
        fit = clv.fit_clv(store, scope, scope.end) if scope.end else None
    except clv.ClvError as exc:
        fit = None
        sec.notes.append(f"No CLV model: {exc}")
    if fit is not None and fit.frame.height:
        sec.figures.append(ReportFigure("clv_histogram", charts.clv_histogram(fit.frame, currency=currency)))
    sec.notes.append(f"Churn rule: a customer has lapsed after {review.churn_days} days without a purchase.")
    if trend.height:
        sec.tables.append(ReportTable("churn_trend", "Monthly churn (last 24 months)", trend.select(
            pl.col("period_start").alias("Month"), pl.col("active_at_start").alias("Active at start"),
            pl.col("churned").alias("Churned"), pl.col("churn_rate").alias("Churn rate"),
            pl.col("partial").alias("Partial")), {"Churn rate": SHARE}))
    return sec


def cost_section(store, scope: Scope, unit: str, currency: str | None) -> Section:
    sec = Section("cost", "Cost to serve", "CRM value chain · value proposition; Gartner · cost to serve",
                  "What does serving each customer cost, and who earns less than they cost?")
    served = cost.cost_to_serve(store, scope)
    if served.is_empty():
        sec.notes.append("Nobody was served in the period.")
        return sec
    whale = cost.whale_curve(served["net_profit"])
    total_cost, revenue = float(served["cost_to_serve"].sum()), float(served["revenue"].sum())
    sec.numbers = [
        ("Cost per customer", _money(total_cost / served.height, unit)),
        ("Cost / revenue", "–" if not revenue else f"{total_cost / revenue:.3f}"),
        ("Net profit", _money(float(served["net_profit"].sum()), unit)),
        ("Unprofitable customers", _pct(whale.unprofitable_share)),
        ("Whale peak", _pct(whale.peak_share)),
    ]
    pools = cost.cost_by(store, scope, "pool", served=served)
    segments = cost.cost_by(store, scope, "segment", served=served)
    channels = cost.cost_by(store, scope, "channel", served=served)
    sec.figures = [
        ReportFigure("cost_pools", charts.cost_pool_figure(pools, currency=currency)),
        ReportFigure("cost_by_segment", charts.cost_by_figure(segments, "segment", label="Segment", currency=currency)),
        ReportFigure("whale", charts.whale_figure(whale.frame, peak_share=whale.peak_share, peak_at=whale.peak_at,
                                                  unprofitable_share=whale.unprofitable_share, currency=currency)),
    ]
    money_kinds = {f"Cost ({unit})": MONEY, f"Per customer ({unit})": NUMBER, "Share of cost": SHARE,
                   f"Revenue ({unit})": MONEY, f"Net profit ({unit})": MONEY, "Per unit of revenue": RATIO}
    sec.tables = [
        ReportTable("cost_pools", "Cost by activity pool", pools.select(
            pl.col("pool").alias("Pool"), pl.col("customers").alias("Customers"), pl.col("cost").alias(f"Cost ({unit})"),
            pl.col("cost_per_customer").alias(f"Per customer ({unit})"), pl.col("share").alias("Share of cost")),
            money_kinds),
    ]
    for by, frame in (("segment", segments), ("channel", channels)):
        sec.tables.append(ReportTable(f"cost_by_{by}", f"Cost by {by}", frame.select(
            pl.col(by).alias(by.capitalize()), pl.col("customers").alias("Customers"),
            pl.col("cost_to_serve").alias(f"Cost ({unit})"), pl.col("cost_per_customer").alias(f"Per customer ({unit})"),
            pl.col("revenue").alias(f"Revenue ({unit})"), pl.col("net_profit").alias(f"Net profit ({unit})"),
            pl.col("share").alias("Share of cost")), money_kinds))
    return sec


STEPS = ("Executive review", "Portfolio", "Differentiate", "Retention & CLV", "Cost to serve")


def build_report(store, period: ReviewPeriod, *, review: Review | None = None,
                 progress: Callable[[str, float], None] | None = None) -> Report:
    """Compute every section of the report for ``period`` (its scope carries the filters). ``progress(step,
    fraction)`` is told what is being computed."""
    say = progress or (lambda *_: None)
    scope = period.scope
    info = store.dataset_info(scope.dataset_id) or {}
    currency = info.get("currency")
    unit = charts.money_unit(currency)
    n = len(STEPS)
    say(STEPS[0], 0 / n)
    review = review or build_review(store, period, dataset=info.get("name"), currency=currency)
    sections = [review_section(review)]
    builders = (
        lambda: portfolio_section(store, scope, unit, currency),
        lambda: differentiate_section(store, scope, unit, currency),
        lambda: retention_section(store, scope, review, unit, currency),
        lambda: cost_section(store, scope, unit, currency),
    )
    for i, build in enumerate(builders, start=1):
        say(STEPS[i], i / n)
        sections.append(build())
    say("Done", 1.0)
    return Report(review.dataset, currency, period, review, sections, datetime.now().replace(microsecond=0))
