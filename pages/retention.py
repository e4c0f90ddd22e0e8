"""Retention & CLV — QCI *customer management: retention* and Gartner's *Metrics* (DESIGN §1).

Do customers come back, how long do they stay, when do they lapse, how much revenue is kept, and what are they
worth from here on: repeat rate, churn (with the rule stated), cohorts, Kaplan-Meier survival, net revenue
retention, predicted CLV and P(alive) (BG/NBD + Gamma-Gamma), the valuable customers at risk and a holdout check
of the models. Thin: filters → ``ui.data`` cached engine calls → ``retention_view`` summaries → charts.
"""

from __future__ import annotations

import math

import polars as pl
import streamlit as st

from crm_core import charts
from crm_core.metrics import catalog
from crm_core.metrics import retention_view as rv
from ui import data, figures, state, widgets
from ui.frame import require_app_frame

require_app_frame()

EMPTY_WINDOW = "No purchases in the analysis window"
NO_CLV = "CLV cannot be fitted for this data"
TOO_SHORT = "The data are too short for a holdout check"
HOLDOUT_MONTHS = [3, 6, 9]
DEFAULT_HOLDOUT = 6  # months
CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
MEASURES = {"customers": "Customers", "revenue": "Revenue"}
PERIODS = {"month": "Month", "quarter": "Quarter"}


def num(value: float | None) -> float | None:
    """None for unknown / NaN / infinite figures (no delta is computed from them)."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return None
    return float(value)


def days_text(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "> observed"
    return f"{value:,.0f} days"


def money(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:,.0f} {unit}"


def calibration_end(scope, span):
    return scope.end or span[1]


def kpi_figures(scope, span, inactivity_days: int | None = None) -> dict:
    """The KPI figures of a scope: retention headline and the average predicted CLV; churn under the rule of
    ``inactivity_days`` days when given — the previous period, which takes the window's rule and needs the
    CLV fit's average only — else the scope's own."""
    overview = data.retention_overview(scope, inactivity_days)
    cal = calibration_end(scope, span)
    # the average alone where it costs less than the whole fit the Lifetime value tab draws: the previous period's
    # (a fit without the holdout), a region's, segment's or owner's (the kept CLV sums of its groups, where the fit's
    # rows needed the fit of all customers, 46 MB at 1M customers, and every customer's value to date, 35 MB, for
    # the at-risk list), a window whose fit nobody kept yet (its end moved: at 10M transactions 4-5 s instead of
    # 6-9 s; the tab fits the whole when opened, unless the background kept it by then). A kept fit, the default
    # scope's, is read here, as the page opens, rather than when the tab is.
    lean = inactivity_days is not None or scope.picks_customers or not data.is_kept("clv_fit", scope,
                                                                                      calibration_end=cal)
    fit = data.average_clv(scope, cal) if lean else data.clv_fit(scope, cal)
    s = overview["summary"]
    return {
        "repeat_rate": num(s["repeat_rate"]),
        "churn_rate": num(s["churn_rate"]),
        "median_lifetime_days": num(s["median_lifetime_days"]),
        "nrr": num(s["nrr"]),
        "avg_clv": None if fit["error"] else fit["avg_clv"],
    }


# ---------------------------------------------------------------------------- sections
def kpis(scope, span, overview: dict, now: dict, unit: str, before: dict | None, pending: bool) -> None:
    """The KPI cards, with their changes against ``before`` (the previous period's :func:`kpi_figures`) when given."""
    previous, incomplete = widgets.previous_period(scope, span)

    def delta(key: str, mode: str = "relative") -> str | None:
        return widgets.delta_text(now.get(key), before.get(key), mode=mode) if before else None

    s = overview["summary"]
    nrr_when = f" (quarter from {s['nrr_period']:%Y-%m-%d})" if s.get("nrr_period") else ""
    cards = [
        ("Repeat purchase rate", widgets.pct(now["repeat_rate"]), catalog.metric("repeat_rate").help,
         delta("repeat_rate", "points"), "normal"),
        ("Churn rate", widgets.pct(now["churn_rate"]), catalog.metric("churn_rate").help, delta("churn_rate", "points"),
         "inverse"),
        ("Median lifetime", days_text(s["median_lifetime_days"]), catalog.metric("median_lifetime_days").help,
         delta("median_lifetime_days"), "normal"),
        ("Net revenue retention", widgets.pct(now["nrr"]), catalog.metric("net_revenue_retention").help + nrr_when,
         delta("nrr", "points"), "normal"),
        (f"Average CLV ({unit})", "–" if now["avg_clv"] is None else f"{now['avg_clv']:,.0f}", catalog.metric("avg_clv").help, delta("avg_clv"),
         "normal"),
    ]
    widgets.kpi_row(cards, previous, incomplete, span, pending=pending)
    if now["churn_rate"] is None:
        st.caption("Churn rate –: nobody bought in the churn window before the analysis window starts, so there is "
                   "no one to lapse. Start the window later to measure churn (the monthly trend below shows it).")
    st.caption(
        f"Churn rule: a customer has lapsed after {overview['churn_days']} days without a purchase — derived from "
        f"the {overview['churn_rule']}." + (" It is the rule of all customers: region, segment and owner filters "
                                            "do not change it, so every group is judged alike."
                                            if scope.picks_customers else "")
        + (" The previous period's churn is measured under the same rule." if previous is not None and not incomplete
           else "")
    )


@widgets.section("Retention & CLV page, cohorts")
def cohort_section(scope, unit: str, name: str, currency: str | None) -> None:
    """The cohort heatmap; a fragment, so its measure and period rerun this section only."""
    st.subheader("Cohorts")
    left, right = st.columns(2)
    with left:
        measure = st.radio("Cohort measure", list(MEASURES), format_func=MEASURES.get, key=state.RETENTION_MEASURE,
                           horizontal=True, help="Customers: share of the cohort buying in each period. Revenue: "
                           "the cohort's revenue in each period against its first period.")
    with right:
        period = st.radio("Cohort period", list(PERIODS), format_func=PERIODS.get, key=state.RETENTION_PERIOD,
                          horizontal=True, help="Group customers by the month or quarter of their first purchase.")
    cells = data.cohort_cells(scope, period, measure)
    if cells.is_empty():
        st.info("No cohort to show: nobody made a first purchase in the analysis window.", icon=":material/info:")
        return
    figures.plot(charts.cohort_heatmap, cells, measure=measure, period=period, currency=currency,
                 config=CHART_CONFIG, key="retention_cohorts")
    st.caption(
        "Grey cells marked ◔ are periods still running at the end of the data or window (partial): they are not "
        "whole periods and are never coloured or compared as such. "
        + ("Revenue retained can exceed 100% when a cohort spends more than in its first period."
           if measure == "revenue" else "")
    )
    count_label = "Active customers" if measure == "customers" else f"Revenue ({unit})"
    frame = cells.select(
        pl.col("cohort").alias("Cohort"), pl.col("age").alias("Age"), pl.col("period").alias("Period"),
        pl.col("cohort_size").alias("Cohort size"), pl.col("count").alias(count_label),
        pl.col("value").alias("Retention"), pl.col("partial").alias("Partial period"),
    )
    widgets.download_table(frame, f"{name}_cohorts_{measure}_{period}", key="retention_cohorts_data",
                           what="cohort data")


def churn_section(overview: dict, name: str) -> None:
    st.subheader("Churn per month")
    trend = overview["churn_trend"]
    if trend.is_empty():
        st.info("No churn trend: the window does not reach a whole churn window after the data's first purchase.",
                icon=":material/info:")
        return
    figures.plot(charts.churn_trend_figure, trend, period="month", config=CHART_CONFIG, key="retention_churn")
    st.caption(f"Lapsed after {overview['churn_days']} days without a purchase — derived from the "
               f"{overview['churn_rule']}. The hatched grey bar is a month still running (partial).")
    frame = trend.select(
        pl.col("period_start").alias("Period start"), pl.col("period_end").alias("Period end"),
        pl.col("active_at_start").alias("Active at start"), pl.col("churned").alias("Churned"),
        pl.col("churn_rate").alias("Churn rate"), pl.col("partial").alias("Partial period"),
    )
    widgets.show_table(frame, f"{name}_churn_trend", "retention_churn", what="churn table", column_config={
        **widgets.count_columns(["Active at start", "Churned"]),
        "Period start": st.column_config.DateColumn("Period start", format="YYYY-MM-DD"),
        "Period end": st.column_config.DateColumn("Period end", format="YYYY-MM-DD"),
        "Churn rate": st.column_config.NumberColumn("Churn rate", format="percent"),
    })


def survival_section(overview: dict, name: str) -> None:
    st.subheader("Survival")
    km = overview["survival"]
    if km is None or km.is_empty():
        st.info("No survival curve: no customer acquired in the window can be judged yet.", icon=":material/info:")
        return
    median = overview["median_days"]
    figures.plot(charts.survival_figure, km, median, config=CHART_CONFIG, key="retention_survival")
    st.caption(
        "Kaplan-Meier estimate with its 95% band (log-log Greenwood); customers still active are censored. "
        + (f"Median lifetime: {median:,.0f} days." if num(median) is not None
           else "Survival stays above 50% over the data: the median lifetime is longer than observed.")
    )
    widgets.download_table(km, f"{name}_survival", key="retention_survival_data", what="survival curve")


def clv_sections(scope, span, unit: str, name: str, currency: str | None) -> None:
    st.subheader("Customer lifetime value")
    cal = calibration_end(scope, span)
    fit = data.clv_fit(scope, cal)
    if fit["error"]:
        st.warning(f"{NO_CLV}: {fit['error']}", icon=":material/warning:")
        return
    frame = fit["frame"]
    fitted_on = (f"fitted on all customers' purchases and shown for the filters' {fit['customers']:,} customers "
                 "(a customer's CLV does not change with a region, segment or owner filter)" if scope.picks_customers
                 else f"fitted on {fit['customers']:,} customers' purchases")
    st.caption(
        f"BG/NBD + Gamma-Gamma {fitted_on} up to {cal:%Y-%m-%d} (the window's end or the last purchase day); "
        "predicted CLV over the next 12 months, discounted 1% a month."
    )
    left, right = st.columns(2, gap="large")
    with left:
        figures.plot(charts.clv_histogram, frame, currency=currency, config=CHART_CONFIG, key="retention_clv_hist")
    with right:
        grid = fit["grid"]
        figures.plot(charts.p_alive_heatmap, grid, [b[0] for b in rv.RECENCY_BINS], [b[0] for b in rv.FREQUENCY_BINS],
                     config=CHART_CONFIG, key="retention_palive")
    scores = frame.select(
        pl.col("customer_id").alias("Customer"), pl.col("frequency").alias("Repeat purchases"),
        pl.col("p_alive").alias("P(alive)"), pl.col("expected_purchases").alias("Expected purchases (12 months)"),
        pl.col("clv").alias(f"CLV ({unit})"),
    )
    widgets.download_table(scores, f"{name}_clv_scores", key="retention_clv_scores", what="CLV per customer")

    st.subheader("Valuable customers at risk")
    risk = fit["at_risk"]
    st.caption("Customers in the top 20% by predicted CLV or by value to date whose P(alive) is below 50%: "
               "worth a win-back call before they are gone. Most valuable first.")
    if risk.is_empty():
        st.info("No valuable customer has a P(alive) below 50%.", icon=":material/info:")
    else:
        table = risk.select(
            pl.col("customer_id").alias("Customer"), pl.col("last_purchase").alias("Last purchase"),
            pl.col("frequency").alias("Repeat purchases"), pl.col("historical_value").alias(f"Value to date ({unit})"),
            pl.col("clv").alias(f"CLV, 12 months ({unit})"), pl.col("p_alive").alias("P(alive)"),
        )
        widgets.show_table(table, f"{name}_at_risk_customers", "retention_at_risk", what="at-risk customers", column_config={
            f"Value to date ({unit})": st.column_config.NumberColumn(format="%,.0f"),
            f"CLV, 12 months ({unit})": st.column_config.NumberColumn(format="%,.0f"),
            "P(alive)": st.column_config.NumberColumn("P(alive)", format="percent"),
            "Last purchase": st.column_config.DateColumn("Last purchase", format="YYYY-MM-DD"),
        })


@widgets.section("Retention & CLV page, holdout check")
def holdout_section(scope, span, name: str) -> None:
    """The holdout check; a fragment, so its length reruns this section only."""
    st.subheader("Holdout check of the models")
    # six months unless chosen: set, not passed as ``index``, since the page's tabs keep the choice by setting it
    # (for a widget given both, Streamlit logs "created with a default value but also had its value set")
    st.session_state.setdefault(state.RETENTION_HOLDOUT, DEFAULT_HOLDOUT)
    months = st.selectbox("Holdout length (months)", HOLDOUT_MONTHS, key=state.RETENTION_HOLDOUT,
                          help="Fit the models on the data up to this many months before the last purchase, "
                               "then compare their prediction with what customers actually bought.")
    cal = rv.holdout_calibration_end(span[0], span[1], months)
    if cal is None:
        st.info(f"{TOO_SHORT}: fitting {months} months before the last purchase ({span[1]:%Y-%m-%d}) leaves fewer "
                f"than {rv.MIN_CALIBRATION_DAYS} days of history. Pick a shorter holdout or import more history.",
                icon=":material/info:")
        return
    fit = data.holdout(scope, cal)
    if fit["error"]:
        st.warning(f"{NO_CLV} up to {cal:%Y-%m-%d}: {fit['error']}", icon=":material/warning:")
        return
    h = fit["holdout"]
    if h is None or not h["customers"]:
        st.info(f"{TOO_SHORT}: no purchase day follows {cal:%Y-%m-%d}.", icon=":material/info:")
        return
    err = h["relative_error"]
    st.markdown(
        f"Fitted up to **{cal:%Y-%m-%d}**, the models predicted **{h['predicted_total']:,.0f}** purchases by "
        f"{h['customers']:,} customers from {h['start']:%Y-%m-%d} to {h['end']:%Y-%m-%d}; they actually made "
        f"**{h['actual_total']:,}** — "
        + (f"a relative error of **{err:+.1%}**." if num(err) is not None else "no purchase to compare with.")
        + f" Mean absolute error per customer: {h['mae']:.2f} purchases."
    )
    by_bin = h["by_bin"]
    figures.plot(charts.holdout_figure, by_bin, months=months, config=CHART_CONFIG, key="retention_holdout")
    table = by_bin.select(
        pl.col("frequency_bin").alias("Repeat purchases in calibration"), pl.col("customers").alias("Customers"),
        pl.col("predicted_mean").alias("Predicted per customer"), pl.col("actual_mean").alias("Actual per customer"),
        pl.col("predicted_total").alias("Predicted total"), pl.col("actual_total").alias("Actual total"),
    )
    widgets.show_table(table, f"{name}_holdout_{months}m", "retention_holdout", what="holdout table", column_config={
        **widgets.count_columns(["Customers"]),
        **{c: st.column_config.NumberColumn(format="%.2f") for c in ("Predicted per customer", "Actual per customer")},
        **{c: st.column_config.NumberColumn(format="%,.0f") for c in ("Predicted total", "Actual total")},
    })


# ---------------------------------------------------------------------------- page
def main() -> None:
    st.title("Retention & CLV")
    st.markdown(
        "**QCI · customer management: retention · Gartner · metrics** — do customers come back, how long do they "
        "stay, how much revenue do we keep, and what are they worth from here on?"
    )
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    span = data.purchase_span(ds["dataset_id"])
    if span is None:
        st.info("This dataset has no purchases yet: import transactions (orders, invoices) or won deals on the Data "
                "page to analyse retention.", icon=":material/info:")
        return
    scope = state.current_scope(ds["dataset_id"])
    currency = ds.get("currency")
    unit = charts.money_unit(currency)
    name = ds["name"]
    widgets.scope_caption(scope, currency)
    if not data.buyer_count(scope):
        st.info(f"{EMPTY_WINDOW} ({scope.describe()}). Widen the analysis window or clear filters in the sidebar.",
                icon=":material/event_busy:")
        return
    ahead = data.compute_ahead(scope, span, "retention")  # the previous period's figures, beside the page's
    with st.spinner("Fitting the retention and CLV models…"):
        overview = data.retention_overview(scope)
        now = kpi_figures(scope, span)
    changes = widgets.previous_period_later(lambda before, pending: kpis(scope, span, overview, now, unit, before,
                                                                         pending),
                                            scope, span,
                                            lambda previous: kpi_figures(previous, span, overview["churn_days"]),
                                            wait=ahead)
    sections(scope, span, overview, unit, name, currency)
    changes()


@widgets.section("Retention & CLV page")  # a tab opened reruns the tabs alone, not the sidebar and the KPI cards
def sections(scope, span, overview: dict, unit: str, name: str, currency: str | None) -> None:
    def churn_and_survival() -> None:
        left, right = st.columns(2, gap="large")
        with left:
            churn_section(overview, name)
        with right:
            survival_section(overview, name)

    widgets.page_tabs({
        "Cohorts": lambda: cohort_section(scope, unit, name, currency),
        "Churn & survival": churn_and_survival,
        "Lifetime value": lambda: clv_sections(scope, span, unit, name, currency),
        "Holdout check": lambda: holdout_section(scope, span, name),
    }, state.RETENTION_TAB, keep=[state.RETENTION_MEASURE, state.RETENTION_PERIOD, state.RETENTION_HOLDOUT])


main()
