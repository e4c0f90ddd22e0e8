"""Executive review — Payne & Frow *performance assessment* (DESIGN §1).

One page for review meetings: the headline KPIs against the previous period and the targets, their trend,
the biggest movers by segment, region and channel, the high-value customers at risk, 3–6 highlights written
from the numbers (each citing its figures), and the report files to hand round. Thin: filters → ``ui.review``
cached engine calls → render.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import charts
from crm_core.metrics import catalog
from crm_core.metrics import highlights as hl
from crm_core.metrics.movers import DIMENSIONS
from crm_core.report import figures as rfig
from crm_core.report import periods
from crm_core.report.review import movers_table
from ui import data, figures, review, state, widgets
from ui.frame import require_app_frame

require_app_frame()

CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
SPARK_CONFIG = {"displayModeBar": False, "staticPlot": False}
STATUS = {"met": ":green[target met]", "missed": ":red[target missed]"}


def delta_color(better: str) -> str:
    return {"up": "normal", "down": "inverse"}.get(better, "off")


# ---------------------------------------------------------------------------- sections
def kpi_section(rv) -> None:
    unit = rv.money_unit
    rows = rv.kpis.to_dicts()
    p = rv.period
    for start in range(0, len(rows), 4):
        for col, r in zip(st.columns(4), rows[start:start + 4]):
            mid = r["metric_id"]
            with col:
                widgets.kpi_card(
                    r["label"], hl.format_value(mid, r["current"], unit), catalog.metric(mid).help,
                    # ASCII minus: Streamlit reads the sign of the delta text to pick the arrow and colour
                    delta=r["change"].replace("−", "-") if p.comparable and r["change"] else None,
                    delta_color=delta_color(r["better"]),
                    previous_incomplete=p.previous is not None and not p.previous_complete,
                )
                figures.plot(rfig.sparkline, rv.trend, mid, money_unit=unit, config=SPARK_CONFIG,
                             key=f"review_spark_{mid}", height=90)
                if r["target"] is not None:
                    st.caption(f"Target {hl.format_value(mid, r['target'], unit)} · {STATUS.get(r['status'], '')}")
    if p.comparable:
        st.caption(
            f"Changes against {p.previous_label} ({p.previous.start:%Y-%m-%d} to {p.previous.end:%Y-%m-%d}), same "
            f"filters; active customers, churn and retention of both periods under the same churn window "
            f"({rv.churn_days} days). Sparklines: the last periods of the same kind."
        )
    elif p.previous is not None:
        st.caption(f"The previous period ({p.previous_label}) starts before the data's first purchase, so it is not "
                   "compared. Pick a later or shorter period to compare with a whole previous one.")


def highlights_section(rv) -> None:
    st.subheader("Highlights")
    if not rv.highlights:
        st.info("No highlights: the period has too little data to say anything about.", icon=":material/info:")
        return
    for h in rv.highlights:
        with st.container(border=True):
            st.markdown(h.text)
            st.caption("Cites: " + "; ".join(f"{c.what} = {cite_value(c.value)} ({c.source})" for c in h.cites))


def cite_value(value) -> str:
    """A cited figure as computed (not rounded for the sentence), so the sentence can be checked against it."""
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def movers_section(rv, name: str) -> None:
    st.subheader("Biggest movers")
    p = rv.period
    if not p.comparable or rv.movers.is_empty():
        st.info("No movers: there is no whole previous period to compare with. Choose a whole month, quarter or year "
                "above.", icon=":material/info:")
        return
    st.caption(f"Which segments, regions and channels moved each figure from {p.previous_label} to {p.label}. A "
               "group's contributions add up to the total change within a dimension.")
    tabs = st.tabs(["Revenue", "Retention rate", "Customers"])
    for tab, mid in zip(tabs, ("revenue", "retention_rate", "customers")):
        with tab:
            figures.plot(rfig.movers_figure, rv.movers, mid, money_unit=rv.money_unit, period=p.label,
                         previous_period=p.previous_label or "", config=CHART_CONFIG, key=f"review_movers_{mid}")
            table = movers_table(rv, mid, n=10)
            widgets.show_table(table, f"{name}_movers_{mid}", f"review_movers_{mid}_table",
                               what=f"{catalog.metric(mid).label.lower()} movers")
    with st.expander("Every group, including region × segment", icon=":material/table:"):
        full = rv.movers.with_columns(pl.col("dimension").replace(DIMENSIONS))
        widgets.show_table(full, f"{name}_movers_all", "review_movers_all", what="all movers")


def at_risk_section(rv, name: str) -> None:
    unit = rv.money_unit
    st.subheader("High-value customers at risk")
    s = rv.at_risk_summary
    if not s["count"]:
        note = f" ({rv.clv_note})" if rv.clv_note else ""
        st.info(f"No high-value customer has a P(alive) below 50%{note}.", icon=":material/info:")
        return
    st.caption(
        f"{s['count']:,} customers in the top 20% by predicted CLV or value to date whose P(alive) is below 50% — "
        f"{hl.compact(s['value'])} {unit} of value to date. Worth a call before they are gone; most valuable first."
    )
    table = rv.at_risk.select(
        pl.col("customer_id").alias("Customer"), pl.col("name").alias("Name"), pl.col("region").alias("Region"),
        pl.col("segment").alias("Segment"), pl.col("last_purchase").alias("Last purchase"),
        pl.col("historical_value").alias(f"Value to date ({unit})"), pl.col("clv").alias(f"CLV 12 months ({unit})"),
        pl.col("p_alive").alias("P(alive)"),
    )
    widgets.show_table(table, f"{name}_at_risk_high_value", "review_at_risk", what="at-risk customers", column_config={
        **widgets.money_columns(unit, f"Value to date ({unit})", f"CLV 12 months ({unit})"),
        "P(alive)": st.column_config.NumberColumn("P(alive)", format="percent"),
        "Last purchase": st.column_config.DateColumn("Last purchase", format="YYYY-MM-DD"),
    })


# ---------------------------------------------------------------------------- page
def main() -> None:
    st.title("Executive review")
    st.markdown(
        "**Payne & Frow · performance assessment** — how did the period go against the one before and against "
        "the targets, where did it move, and who needs a call?"
    )
    widgets.show_flashes()
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    if data.purchase_span(ds["dataset_id"]) is None:
        st.info("This dataset has no purchases yet: import transactions (orders, invoices) on the Data page to "
                "review its performance.", icon=":material/info:")
        return
    kinds = list(periods.KINDS)
    if st.session_state.get(review.PERIOD) not in kinds:
        st.session_state[review.PERIOD] = "quarter"
    kind = st.selectbox("Period reviewed", kinds, format_func=periods.KINDS.get, key=review.PERIOD,
                        help="The latest whole month, quarter or year of the data (compared with the one before), or "
                             "the analysis window from the sidebar (compared with the window of equal length before).")
    scope = state.current_scope(ds["dataset_id"])
    if kind != "window":
        scope = scope.with_window(None, None)  # the period picks its own dates; the sidebar's filters still apply
    with st.spinner("Reviewing the period…"):
        rv = review.review(scope, kind)
    p = rv.period
    filters = "; ".join(part for part in p.scope.describe().split("; ") if ":" in part) or "no filters"
    st.caption(f"Reviewing **{p.label}** ({p.scope.start:%Y-%m-%d} to {p.scope.end:%Y-%m-%d})"
               + (f" against **{p.previous_label}**" if p.comparable else "") + f" · {filters} · money in "
               f"{charts.money_unit(ds.get('currency'))}.")
    kpi_section(rv)
    st.divider()
    highlights_section(rv)
    st.divider()
    movers_section(rv, ds["name"])
    st.divider()
    at_risk_section(rv, ds["name"])
    st.divider()
    with st.expander(f"Targets ({periods.KINDS[kind].lower()})", icon=":material/flag:"):
        review.targets_editor(ds, kind)
    st.subheader("Reports")
    review.reports_panel(ds, scope, kind, p.label)


main()
