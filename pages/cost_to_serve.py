"""Cost to serve — CRM value chain *value proposition*; Gartner *cost to serve* (DESIGN §1).

What serving each customer costs by activity-based costing (editable cost rates per activity pool), cost
per customer by pool, segment and channel, customer profitability and the whale curve (Kaplan & Cooper
1998), and the most costly customers. Thin: filters → ``ui.data`` cached engine calls → charts.
"""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from crm_core import charts
from crm_core.metrics import catalog
from crm_core.metrics.cost import CostRatesError
from crm_core.store import StoreError
from ui import auth, data, figures, state, widgets
from ui.frame import require_app_frame

require_app_frame()

log = logging.getLogger("crm_lens.ui")

EMPTY_WINDOW = "No customers served in the analysis window"
NO_INTERACTIONS = (
    "No interactions in this dataset, so the cost to serve below counts only order handling and returns. "
    "Import an activities export on the Data page — calls, emails, meetings, visits and tickets (e.g. Salesforce "
    "Tasks/Events, HubSpot Calls/Emails/Meetings, helpdesk tickets) — to charge customers for the contacts they cause."
)
CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def money(value: float | None, unit: str, decimals: int = 0) -> str:
    return "–" if value is None else f"{value:,.{decimals}f} {unit}"


# ---------------------------------------------------------------------------- sections
def kpis(scope, span, now: dict, unit: str, before: dict | None, pending: bool) -> None:
    """The KPI cards, with their changes against ``before`` (the previous period's KPIs) when given."""
    previous, incomplete = widgets.previous_period(scope, span)

    def delta(key: str, mode: str = "relative") -> str | None:
        return widgets.delta_text(now.get(key), before.get(key), mode=mode) if before else None

    ratio = now["cost_per_revenue"]
    cards = [
        ("Cost per customer", money(now["cost_per_customer"], unit, 2 if abs(now["cost_per_customer"]) < 100 else 0),
         catalog.metric("cost_to_serve_per_customer").help, delta("cost_per_customer"), "inverse"),
        ("Cost / revenue", "–" if ratio is None else f"{ratio:.3f}",
         catalog.metric("cost_to_serve_ratio").help, delta("cost_per_revenue"), "inverse"),
        (f"Net profit ({unit})", widgets.compact(now["net_profit"]), catalog.metric("net_profit").help,
         delta("net_profit"), "normal"),
        ("Unprofitable", widgets.pct(now["unprofitable_share"]), catalog.metric("unprofitable_share").help,
         delta("unprofitable_share", "points"), "inverse"),
        ("Whale peak", widgets.pct(now["whale_peak"]), catalog.metric("whale_peak").help,
         delta("whale_peak", "points"), "off"),
    ]
    widgets.kpi_row(cards, previous, incomplete, span, pending=pending)


def rates_editor(ds: dict, unit: str) -> None:
    st.subheader("Cost rates")
    st.caption(
        f"What one activity costs, in {unit}: per contact and per minute of each interaction kind, per order handled "
        "and per return. Edit the rate column and save; every figure on the page is recomputed with the new rates."
    )
    rates = data.cost_rates(ds["dataset_id"])
    st.data_editor(
        rates,
        key=state.COST_RATES_EDITOR,
        hide_index=True,
        width="stretch",
        num_rows="fixed",
        disabled=["pool", "unit", "default_rate"] if auth.allowed("edit_cost_rates") else True,
        column_config={
            "pool": st.column_config.TextColumn("Pool", help="Activity pool: an interaction kind, orders or returns"),
            "unit": st.column_config.TextColumn("Unit", help="What the rate is charged per"),
            "rate": st.column_config.NumberColumn(f"Rate ({unit})", format="%.2f", help="0 or more"),
            "default_rate": st.column_config.NumberColumn(f"Default ({unit})", format="%.2f"),
        },
    )
    if not auth.allowed("edit_cost_rates"):  # the save itself checks too (ui.data.save_cost_rates)
        st.caption("Your role can read the rates; an analyst or admin can change them.")
        return
    with st.container(horizontal=True, gap="small"):
        st.button("Save rates", key=state.COST_RATES_SAVE, type="primary", icon=":material/save:",
                  on_click=save_rates, args=(ds["dataset_id"], False))
        st.button("Reset to defaults", key=state.COST_RATES_RESET, icon=":material/restart_alt:",
                  on_click=save_rates, args=(ds["dataset_id"], True))
    error = st.session_state.pop(state.COST_RATES_ERROR, None)
    if error is not None:
        st.error(f"{error} Nothing was saved; correct the rate and save again.", icon=":material/error:")


def save_rates(dataset_id: int, reset: bool) -> None:
    """Save / Reset: the buttons' callback. Streamlit runs it before the page, so the one run the click starts
    draws every figure at the new rates (saved from inside the page, the figures above the editor needed a
    second run). The rates are the editor's table with the user's edits, or the defaults."""
    rates = data.cost_rates(dataset_id)
    try:
        if reset:
            new = rates.select("pool", "unit", pl.col("default_rate").alias("rate"))
        else:
            new = widgets.edited(rates, state.COST_RATES_EDITOR).select("pool", "unit", "rate")
        data.save_cost_rates(dataset_id, new)
    except (CostRatesError, StoreError, ValueError) as exc:
        log.info("cost rates not saved for dataset %s: %s", dataset_id, exc)
        st.session_state[state.COST_RATES_ERROR] = str(exc)
        return
    # a toast, not a flash: the editor, drawn again with the saved rates, clears its edits and that starts one
    # more run, which a message shown once would not outlive (seen in the browser)
    st.toast("Cost rates reset to the defaults." if reset else "Cost rates saved.", icon=":material/check_circle:")
    st.session_state.pop(state.COST_RATES_EDITOR, None)  # the editor shows the saved rates, no edits


def pools_section(v: dict, unit: str, name: str, currency: str | None) -> None:
    st.subheader("Cost by activity pool")
    figures.plot(charts.cost_pool_figure, v["pools"], currency=currency, config=CHART_CONFIG, key="cost_pools")
    frame = v["pools"].select(
        pl.col("pool").alias("Pool"),
        pl.col("customers").alias("Customers with this cost"),
        pl.col("cost").alias(f"Cost ({unit})"),
        pl.col("cost_per_customer").alias(f"Per customer served ({unit})"),
        pl.col("share").alias("Share of cost"),
        pl.col("cost_per_revenue").alias("Per unit of revenue"),
    )
    widgets.show_table(frame, f"{name}_cost_by_pool", "cost_pool_table", what="pool table", column_config={
        **widgets.count_columns(["Customers with this cost"]), **widgets.share_columns("Share of cost"),
        **widgets.money_columns(unit, f"Cost ({unit})"),
        f"Per customer served ({unit})": st.column_config.NumberColumn(f"Per customer served ({unit})", format="%,.2f"),
        "Per unit of revenue": st.column_config.NumberColumn("Per unit of revenue", format="%.4f"),
    })


def group_section(v: dict, by: str, label: str, unit: str, name: str, currency: str | None) -> None:
    groups = v[f"{by}s"]
    st.subheader(f"Cost by {label.lower()}")
    figures.plot(charts.cost_by_figure, groups, by, label=label, currency=currency, config=CHART_CONFIG,
                 key=f"cost_by_{by}")
    frame = groups.select(
        pl.col(by).alias(label),
        pl.col("customers").alias("Customers"),
        pl.col("cost_to_serve").alias(f"Cost to serve ({unit})"),
        pl.col("cost_per_customer").alias(f"Per customer ({unit})"),
        pl.col("cost_per_revenue").alias("Per unit of revenue"),
        pl.col("revenue").alias(f"Revenue ({unit})"),
        pl.col("net_profit").alias(f"Net profit ({unit})"),
        pl.col("share").alias("Share of cost"),
    )
    widgets.show_table(frame, f"{name}_cost_by_{by}", f"cost_{by}_table", what=f"{label.lower()} table", column_config={
        **widgets.count_columns(["Customers"]), **widgets.share_columns("Share of cost"),
        **widgets.money_columns(unit, f"Cost to serve ({unit})", f"Revenue ({unit})", f"Net profit ({unit})"),
        f"Per customer ({unit})": st.column_config.NumberColumn(f"Per customer ({unit})", format="%,.2f"),
        "Per unit of revenue": st.column_config.NumberColumn("Per unit of revenue", format="%.4f"),
    })
    if by == "channel":
        st.caption("A customer's channel is the sales channel of most of its completed purchases in the window.")


def profitability_section(v: dict, unit: str, name: str, currency: str | None) -> None:
    st.subheader("Customer profitability")
    whale = v["whale"]
    left, right = st.columns(2, gap="large")
    with left:
        figures.plot(charts.profit_histogram, v["profit_bins"], currency=currency, config=CHART_CONFIG,
                     key="cost_profit_histogram")
    with right:
        figures.plot(charts.whale_figure, whale.frame, peak_share=whale.peak_share, peak_at=whale.peak_at,
                     unprofitable_share=whale.unprofitable_share, currency=currency, config=CHART_CONFIG,
                     key="cost_whale")
    if whale.has_shares:
        st.caption(
            f"Ranked by net profit, the most profitable {widgets.pct(whale.peak_at)} of customers earn "
            f"{widgets.pct(whale.peak_share)} of total profit; the {widgets.pct(whale.unprofitable_share)} who are "
            "unprofitable give the difference back."
        )
    else:
        st.caption("Total net profit is 0 or less, so the curve shows the cumulative profit itself, not shares of it.")
    download = whale.frame.select(
        pl.col("rank").alias("Rank"),
        pl.col("customer_share").alias("Share of customers"),
        pl.col("profit").alias(f"Net profit ({unit})"),
        pl.col("cumulative_profit").alias(f"Cumulative profit ({unit})"),
        pl.col("cumulative_share").alias("Cumulative share of profit"),
    )
    widgets.download_table(download, f"{name}_whale_curve", key="cost_whale_data", what="whale curve data")
    if whale.customers > download.height:
        st.caption(f"Curve data: {download.height:,} points along the {whale.customers:,} customers.")


def costly_section(v: dict, unit: str, name: str) -> None:
    st.subheader("Most costly customers")
    top = v["most_costly"]
    st.caption(f"The {top.height} customers who cost the most to serve in the window.")
    frame = top.select(
        pl.col("customer_id").alias("Customer"),
        pl.col("region").alias("Region"),
        pl.col("segment").alias("Segment"),
        pl.col("revenue").alias(f"Revenue ({unit})"),
        pl.col("cost_to_serve").alias(f"Cost to serve ({unit})"),
        pl.col("net_profit").alias(f"Net profit ({unit})"),
        pl.col("interactions").alias("Interactions"),
        pl.col("orders").alias("Orders"),
        pl.col("returns").alias("Returns"),
    )
    widgets.show_table(frame, f"{name}_most_costly_customers", "cost_top_table", what="most costly customers",
                       column_config={
                           **widgets.count_columns(["Interactions", "Orders", "Returns"]),
                           **widgets.money_columns(unit, f"Revenue ({unit})", f"Cost to serve ({unit})",
                                                   f"Net profit ({unit})"),
                       })


# ---------------------------------------------------------------------------- page
def main() -> None:
    st.title("Cost to serve")
    st.markdown(
        "**CRM value chain · value proposition; Gartner · cost to serve** — what does it cost to serve each "
        "customer, and which customers, segments and channels earn less than they cost?"
    )
    widgets.show_flashes()
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    span = data.purchase_span(ds["dataset_id"])
    if span is None:
        st.info(
            "This dataset has no purchases yet: import transactions (orders, invoices) on the Data page to cost "
            "serving the customers.",
            icon=":material/info:",
        )
        return
    scope = state.current_scope(ds["dataset_id"])
    currency = ds.get("currency")
    unit = charts.money_unit(currency)
    name = ds["name"]
    widgets.scope_caption(scope, currency)
    if not int(ds.get("interactions") or 0):
        st.info(NO_INTERACTIONS, icon=":material/info:")
    with st.spinner("Costing the customers…"):
        v = data.cost_view(scope)
    changes = None
    if v["customers"]:
        changes = widgets.previous_period_later(
            lambda before, pending: kpis(scope, span, v["kpis"], unit, before, pending),
            scope, span, lambda previous: data.cost_view(previous).get("kpis"))
    else:
        st.info(
            f"{EMPTY_WINDOW} ({scope.describe()}). Widen the analysis window or clear filters in the sidebar.",
            icon=":material/event_busy:",
        )
    with st.expander("Cost rates (activity-based costing)", expanded=False, icon=":material/tune:"):
        rates_editor(ds, unit)
    if not v["customers"]:
        return
    sections(v, unit, name, currency)
    if changes is not None:
        changes()
    if auth.allowed("edit_cost_rates"):  # last: a rate save then prices the usage kept in memory
        data.keep_cost_usage(scope)


@widgets.section("Cost to serve page")  # a tab opened reruns the tabs alone, not the sidebar, KPI cards and rates
def sections(v: dict, unit: str, name: str, currency: str | None) -> None:
    def segments_and_channels() -> None:
        left, right = st.columns(2, gap="large")
        with left:
            group_section(v, "segment", "Segment", unit, name, currency)
        with right:
            group_section(v, "channel", "Channel", unit, name, currency)

    widgets.page_tabs({
        "Cost pools": lambda: pools_section(v, unit, name, currency),
        "Segments & channels": segments_and_channels,
        "Profitability": lambda: profitability_section(v, unit, name, currency),
        "Most costly customers": lambda: costly_section(v, unit, name),
    }, state.COST_TAB)


main()
